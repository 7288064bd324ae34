/*
 * plantroomctl.c: the operator's command line onto the ledger.
 *
 *   plantroomctl [--config FILE] [--state-dir DIR] [--ledger PATH] NOUN VERB [options]
 *
 * Commands are rows of one table (ctl_commands): a noun, a verb, the
 * function that runs it and its usage line, so that later verbs (show, ack,
 * assign, ...) slot in as one row and one function. Read-only verbs open
 * the ledger with LEDGER_OPEN_READONLY: SQLite's WAL lets them read while
 * plantroomd writes. Every verb has --json, since other systems script this
 * tool (docs/architecture.md, "Integration").
 *
 * Exit status: 0 done, 1 failed (ledger or config missing or unreadable),
 * 2 usage error (unknown command or option, bad value).
 */
#include "store/ledger.h"

#include "gateway/gw_types.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#ifndef PLANTROOM_VERSION
#define PLANTROOM_VERSION "0.1.0"
#endif

#define CTL_DEFAULT_CONFIG    "/etc/plantroom/plantroom.json"
#define CTL_DEFAULT_STATE_DIR "/var/lib/plantroom"
#define CTL_DEFAULT_LEDGER    "ledger.db"
#define CTL_CONFIG_MAX        (4 * 1024 * 1024)

enum { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

/* ---- where the ledger is ------------------------------------------------ */

/* What the ledger path is resolved from. Any member may be NULL; an empty
 * string counts as NULL. */
typedef struct ctl_paths_in {
    const char *ledger;        /* --ledger */
    const char *config;        /* --config */
    const char *state_dir;     /* --state-dir */
    const char *env_config;    /* $PLANTROOM_CONFIG */
    const char *env_state_dir; /* $PLANTROOM_STATE_DIR */
} ctl_paths_in_t;

static const char *ctl_nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* dir + "/" + path, or a copy of path when it is absolute or dir is NULL. */
static char *ctl_join(const char *dir, const char *path)
{
    char *out;
    size_t n;

    if (!dir || path[0] == '/')
        return strdup(path);
    n = strlen(dir) + 1 + strlen(path) + 1;
    out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", path);
    return out;
}

/* Read and parse a JSON config file. *out NULL (and 0 returned) when the
 * file is absent and missing_ok. */
static int ctl_read_config(const char *path, int missing_ok, cJSON **out, char *err, size_t errlen)
{
    FILE *f;
    char *text = NULL;
    size_t len = 0;
    const char *at;
    int rc = 0;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        rc = -errno;
        if (rc == GW_ENOENT && missing_ok)
            return 0;
        snprintf(err, errlen, "cannot read config %s: %s", path, strerror(-rc));
        return rc;
    }
    text = malloc(CTL_CONFIG_MAX + 1);
    if (!text) {
        rc = GW_ENOMEM;
        snprintf(err, errlen, "out of memory reading config %s", path);
        goto out_close;
    }
    len = fread(text, 1, CTL_CONFIG_MAX + 1, f);
    if (ferror(f) || len > CTL_CONFIG_MAX) {
        rc = GW_ECONFIG;
        snprintf(err, errlen, "cannot read config %s: %s", path,
                 ferror(f) ? "read error" : "larger than 4 MiB");
        goto out_free;
    }
    text[len] = '\0';
    *out = cJSON_ParseWithOpts(text, &at, 1);
    if (!*out) {
        int line = 1;
        for (const char *p = text; at && p < at && *p; p++)
            line += *p == '\n';
        rc = GW_ECONFIG;
        snprintf(err, errlen, "config %s: invalid JSON at line %d", path, line);
    }
out_free:
    free(text);
out_close:
    fclose(f);
    return rc;
}

/* A string member of obj, NULL when absent. GW_ECONFIG when of another
 * type or empty. */
static int ctl_config_str(const cJSON *obj, const char *key, const char *where, const char **out,
                          char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    *out = NULL;
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        snprintf(err, errlen, "%s: \"%s\" must be a non-empty string", where, key);
        return GW_ECONFIG;
    }
    *out = v->valuestring;
    return 0;
}

/* Resolve the path of the ledger file by the rule plantroomd applies:
 *  1. in->ledger (--ledger), as given;
 *  2. else "ledger"."path" of the config file (default "ledger.db"). The
 *     config file is in->config, else in->env_config, else
 *     /etc/plantroom/plantroom.json; a named config must exist, the default
 *     one may be absent (then every key has its default);
 *  3. a relative ledger path from the config is taken relative to the state
 *     directory: in->state_dir, else in->env_state_dir, else the config's
 *     top-level "state_dir" (itself relative to the config file's
 *     directory), else /var/lib/plantroom.
 * On success returns 0 and *out is a malloc'd path the caller frees. On
 * error returns a negative code (GW_ECONFIG, GW_ENOMEM, -errno) with a
 * one-line reason naming the file in err, and *out is NULL. */
static int ctl_resolve_ledger_path(const ctl_paths_in_t *in, char **out, char *err, size_t errlen)
{
    const char *config = ctl_nz(in->config) ? in->config : ctl_nz(in->env_config);
    const char *ledger = CTL_DEFAULT_LEDGER;
    const char *state_dir = ctl_nz(in->state_dir) ? in->state_dir : ctl_nz(in->env_state_dir);
    const char *cfg_state_dir = NULL;
    const cJSON *section;
    char *config_dir = NULL;
    char *dir = NULL;
    cJSON *root = NULL;
    int rc;

    *out = NULL;
    if (ctl_nz(in->ledger)) {
        *out = strdup(in->ledger);
        goto out_check;
    }
    rc = ctl_read_config(config ? config : CTL_DEFAULT_CONFIG, config == NULL, &root, err, errlen);
    if (rc < 0)
        return rc;
    if (!config)
        config = CTL_DEFAULT_CONFIG;
    if (root && !cJSON_IsObject(root)) {
        snprintf(err, errlen, "config %s: the top level must be an object", config);
        rc = GW_ECONFIG;
        goto out_free;
    }
    section = root ? cJSON_GetObjectItemCaseSensitive(root, "ledger") : NULL;
    if (section && !cJSON_IsObject(section)) {
        snprintf(err, errlen, "config %s: \"ledger\" must be an object", config);
        rc = GW_ECONFIG;
        goto out_free;
    }
    if (section) {
        const char *p;
        rc = ctl_config_str(section, "path", config, &p, err, errlen);
        if (rc < 0)
            goto out_free;
        if (p)
            ledger = p;
    }
    if (root) {
        rc = ctl_config_str(root, "state_dir", config, &cfg_state_dir, err, errlen);
        if (rc < 0)
            goto out_free;
    }
    if (!state_dir && cfg_state_dir) {
        const char *slash = strrchr(config, '/');
        config_dir =
            slash ? strndup(config, slash == config ? 1 : (size_t)(slash - config)) : strdup(".");
        if (!config_dir)
            goto out_oom;
        dir = ctl_join(config_dir, cfg_state_dir);
        if (!dir)
            goto out_oom;
        state_dir = dir;
    }
    if (!state_dir)
        state_dir = CTL_DEFAULT_STATE_DIR;
    *out = ctl_join(state_dir, ledger);
    rc = 0;
out_check:
    if (!*out)
        goto out_oom;
out_free:
    free(dir);
    free(config_dir);
    cJSON_Delete(root);
    return rc;
out_oom:
    snprintf(err, errlen, "out of memory");
    rc = GW_ENOMEM;
    goto out_free;
}

/* ---- command line ------------------------------------------------------- */

typedef struct ctl_global {
    const char *config;
    const char *state_dir;
    const char *ledger;
} ctl_global_t;

typedef struct ctl_command {
    const char *noun;
    const char *verb;
    int (*run)(ctl_global_t *g, int argc, char **argv);
    const char *options; /* usage after "NOUN VERB" */
    const char *summary;
} ctl_command_t;

static int ctl_wo_list(ctl_global_t *g, int argc, char **argv);

static const ctl_command_t ctl_commands[] = {
    {"workorders", "list", ctl_wo_list, "[--json] [--status S] [--device D] [--active] [--limit N]",
     "list work orders, newest first"},
};

static void ctl_usage(FILE *out)
{
    fprintf(out, "usage: plantroomctl [--config FILE] [--state-dir DIR] [--ledger PATH] "
                 "COMMAND ...\n"
                 "       plantroomctl --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < GW_ARRAY_SIZE(ctl_commands); i++)
        fprintf(out, "  %s %s %s\n      %s\n", ctl_commands[i].noun, ctl_commands[i].verb,
                ctl_commands[i].options, ctl_commands[i].summary);
    fprintf(out, "\nThe ledger is --ledger PATH, else \"ledger\".\"path\" of the config (default "
                 "ledger.db)\nunder the state directory: --state-dir, $PLANTROOM_STATE_DIR, the "
                 "config's \"state_dir\",\nor " CTL_DEFAULT_STATE_DIR ". The config is --config, "
                 "$PLANTROOM_CONFIG or\n" CTL_DEFAULT_CONFIG ".\n"
                 "Exit status: 0 done, 1 failed, 2 usage error.\n");
}

/* Report a usage error and return the exit status for it. */
static int ctl_usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "plantroomctl: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    ctl_usage(stderr);
    return CTL_EXIT_USAGE;
}

/* Match argv[*i] against option name ("--name", and "--name=value" when it
 * takes a value). Returns 1 and advances *i past it (and its value) when it
 * matches, 0 when not, -1 when its value is missing (reported). */
static int ctl_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return 0;
    if (!val)
        return a[n] == '\0' ? ((*i)++, 1) : 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        (*i)++;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        ctl_usage_error("option %s needs a value", name);
        return -1;
    }
    *val = argv[*i + 1];
    *i += 2;
    return 1;
}

/* The options every command accepts, before or after NOUN VERB. */
static int ctl_global_opt(ctl_global_t *g, int argc, char **argv, int *i)
{
    int m;

    if ((m = ctl_opt(argc, argv, i, "--config", &g->config)) != 0)
        return m;
    if ((m = ctl_opt(argc, argv, i, "--state-dir", &g->state_dir)) != 0)
        return m;
    return ctl_opt(argc, argv, i, "--ledger", &g->ledger);
}

/* Resolve and open the ledger read-only; prints the reason on failure. */
static int ctl_open_ledger(const ctl_global_t *g, ledger_t **lg)
{
    ctl_paths_in_t in = {g->ledger, g->config, g->state_dir, getenv("PLANTROOM_CONFIG"),
                         getenv("PLANTROOM_STATE_DIR")};
    char err[512];
    char *path;
    int rc;

    rc = ctl_resolve_ledger_path(&in, &path, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "plantroomctl: %s\n", err);
        return rc;
    }
    rc = ledger_open(lg, path, LEDGER_OPEN_READONLY, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "plantroomctl: %s\n", err);
    free(path);
    return rc;
}

/* ---- table output ------------------------------------------------------- */

/* Decode one UTF-8 sequence at s; returns its length (1 for a bad byte) and
 * its display width in *w (East Asian wide: 2, combining: 0, else 1). */
static int ctl_utf8_char(const unsigned char *s, int *w)
{
    unsigned cp;
    int len;

    if (s[0] < 0x80) {
        *w = 1;
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        *w = 1;
        return 1;
    }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *w = 1;
            return 1;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((cp >= 0x300 && cp <= 0x36f) || cp == 0x200b)
        *w = 0;
    else if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
             (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
             (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
             (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
             (cp >= 0x20000 && cp <= 0x3fffd))
        *w = 2;
    else
        *w = 1;
    return len;
}

static int ctl_width(const char *s)
{
    int total = 0, w;

    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        p += ctl_utf8_char(p, &w);
        total += w;
    }
    return total;
}

/* Blanks between table columns: 2, or 1 on a narrow terminal. */
static int ctl_gap = 2;

/* Print s in a cell of width columns (0: as wide as s), cut to at most max
 * columns (0: no limit) with "..." and padded unless last. Control
 * characters print as '?', so that data cannot drive the terminal. */
static void ctl_cell(const char *s, int width, int max, int right, int last)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "-");
    int total = ctl_width((const char *)p);
    int room = max && total > max ? (max > 3 ? max - 3 : 0) : INT_MAX;
    int shown = 0, w, len;

    if (right && width > total)
        printf("%*s", width - total, "");
    for (; *p; p += len) {
        len = ctl_utf8_char(p, &w);
        if (shown + w > room)
            break;
        if (*p < 0x20 || *p == 0x7f)
            putchar('?');
        else
            fwrite(p, 1, (size_t)len, stdout);
        shown += w;
    }
    if (room != INT_MAX) {
        fputs(max > 3 ? "..." : "", stdout);
        shown += max > 3 ? 3 : 0;
    }
    if (!right && !last && width > shown)
        printf("%*s", width - shown, "");
    if (!last)
        printf("%*s", ctl_gap, "");
}

/* Terminal width: the tty's, else $COLUMNS, else 0 (unknown: no cutting). */
static int ctl_term_width(void)
{
    struct winsize ws;
    const char *c = getenv("COLUMNS");
    char *end;
    long v;

    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (c && *c) {
        errno = 0;
        v = strtol(c, &end, 10);
        if (!errno && !*end && v >= 20 && v <= 10000)
            return (int)v;
    }
    return 0;
}

static void ctl_local_time(int64_t ms, int short_form, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (!localtime_r(&t, &tm) ||
        !strftime(buf, len, short_form ? "%m-%d %H:%M" : "%Y-%m-%d %H:%M", &tm))
        snprintf(buf, len, "?");
}

enum { COL_NUMBER, COL_STATUS, COL_PRIO, COL_DEVICE, COL_RULE, COL_OPENED, COL_OCC, COL__N };

static const char *const ctl_heads[COL__N] = {"NUMBER", "STATUS", "PRIO", "DEVICE",
                                              "RULE",   "OPENED", "OCC"};

/* The table. Wide terminals get one row per order: NUMBER STATUS PRIO
 * DEVICE RULE OPENED OCC TITLE, the title cut to fit. Narrow ones (a phone)
 * get NUMBER STATUS PRIO OPENED OCC (about 40 columns), then device / rule
 * and the title on indented lines of their own. */
static void ctl_print_table(const ledger_wo_t *wo, size_t n)
{
    static const int caps[COL__N] = {0, 0, 0, 20, 24, 0, 0};
    int width = ctl_term_width();
    int w[COL__N];
    int fixed = 0, narrow;
    char cell[COL__N][64];

    for (int c = 0; c < COL__N; c++)
        w[c] = ctl_width(ctl_heads[c]);
    for (size_t i = 0; i < n; i++) {
        int dw = ctl_width(wo[i].device), rw = ctl_width(wo[i].rule);
        snprintf(cell[0], sizeof(cell[0]), "%lld", (long long)wo[i].number);
        snprintf(cell[1], sizeof(cell[1]), "%lld", (long long)wo[i].occurrences);
        w[COL_NUMBER] = (int)strlen(cell[0]) > w[COL_NUMBER] ? (int)strlen(cell[0]) : w[COL_NUMBER];
        w[COL_OCC] = (int)strlen(cell[1]) > w[COL_OCC] ? (int)strlen(cell[1]) : w[COL_OCC];
        w[COL_STATUS] =
            ctl_width(wo[i].status) > w[COL_STATUS] ? ctl_width(wo[i].status) : w[COL_STATUS];
        w[COL_PRIO] =
            ctl_width(wo[i].priority) > w[COL_PRIO] ? ctl_width(wo[i].priority) : w[COL_PRIO];
        w[COL_DEVICE] = dw > w[COL_DEVICE] ? dw : w[COL_DEVICE];
        w[COL_RULE] = rw > w[COL_RULE] ? rw : w[COL_RULE];
    }
    for (int c = 0; c < COL__N; c++) {
        if (caps[c] && w[c] > caps[c])
            w[c] = caps[c];
    }
    w[COL_OPENED] = 16; /* "YYYY-MM-DD HH:MM" */
    for (int c = 0; c < COL__N; c++)
        fixed += w[c] + 2;
    narrow = width && width - fixed < 12;
    if (narrow) {
        w[COL_OPENED] = 11; /* "MM-DD HH:MM" */
        ctl_gap = 1;
    }

    for (int c = 0; c < COL__N; c++) {
        if (narrow && (c == COL_DEVICE || c == COL_RULE))
            continue;
        ctl_cell(ctl_heads[c], w[c], 0, c == COL_NUMBER || c == COL_OCC, narrow && c == COL_OCC);
    }
    if (!narrow)
        ctl_cell("TITLE", 0, 0, 0, 1);
    putchar('\n');

    for (size_t i = 0; i < n; i++) {
        snprintf(cell[COL_NUMBER], sizeof(cell[0]), "%lld", (long long)wo[i].number);
        snprintf(cell[COL_OCC], sizeof(cell[0]), "%lld", (long long)wo[i].occurrences);
        ctl_local_time(wo[i].opened_at, narrow, cell[COL_OPENED], sizeof(cell[0]));
        ctl_cell(cell[COL_NUMBER], w[COL_NUMBER], 0, 1, 0);
        ctl_cell(wo[i].status, w[COL_STATUS], 0, 0, 0);
        ctl_cell(wo[i].priority, w[COL_PRIO], 0, 0, 0);
        if (!narrow) {
            ctl_cell(wo[i].device, w[COL_DEVICE], w[COL_DEVICE], 0, 0);
            ctl_cell(wo[i].rule, w[COL_RULE], w[COL_RULE], 0, 0);
        }
        ctl_cell(cell[COL_OPENED], w[COL_OPENED], 0, 0, 0);
        ctl_cell(cell[COL_OCC], w[COL_OCC], 0, 1, narrow);
        if (!narrow) {
            ctl_cell(wo[i].title, 0, width ? width - fixed : 0, 0, 1);
            putchar('\n');
            continue;
        }
        /* narrow: two more lines, indented under STATUS */
        int indent = w[COL_NUMBER] + ctl_gap;
        int room = width - indent > 8 ? width - indent : 8;
        printf("\n%*s", indent, "");
        ctl_cell(wo[i].device, 0, room / 2 - 1, 0, 1);
        fputs(" / ", stdout);
        ctl_cell(wo[i].rule, 0, room - room / 2 - 2, 0, 1);
        printf("\n%*s", indent, "");
        ctl_cell(wo[i].title, 0, room, 0, 1);
        putchar('\n');
    }
}

/* One JSON array of ledger_wo_to_json objects, one object per line: valid
 * for any JSON parser, and still greppable. */
static int ctl_print_json(const ledger_wo_t *wo, size_t n)
{
    fputs(n ? "[\n" : "[", stdout);
    for (size_t i = 0; i < n; i++) {
        char *one = ledger_wo_to_json(&wo[i]);
        if (!one) {
            fprintf(stderr, "plantroomctl: out of memory\n");
            return GW_ENOMEM;
        }
        printf("  %s%s\n", one, i + 1 < n ? "," : "");
        free(one);
    }
    fputs("]\n", stdout);
    return 0;
}

/* ---- verbs -------------------------------------------------------------- */

static const char *const ctl_statuses[] = {"open",     "acknowledged", "in_progress",
                                           "resolved", "closed",       "cancelled"};

static int ctl_wo_list(ctl_global_t *g, int argc, char **argv)
{
    ledger_wo_filter_t f = {0};
    ledger_wo_t *wo = NULL;
    ledger_t *lg = NULL;
    const char *limit = NULL;
    char err[512];
    size_t n = 0;
    int json = 0;
    int i = 0, m;
    int rc;

    while (i < argc) {
        if (ctl_opt(argc, argv, &i, "--json", NULL) > 0) {
            json = 1;
            continue;
        }
        if (ctl_opt(argc, argv, &i, "--active", NULL) > 0) {
            f.active_only = 1;
            continue;
        }
        if ((m = ctl_opt(argc, argv, &i, "--status", &f.status)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--device", &f.device)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--limit", &limit)) == 0 &&
            (m = ctl_global_opt(g, argc, argv, &i)) == 0) {
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                printf("usage: plantroomctl workorders list %s\n", ctl_commands[0].options);
                return CTL_EXIT_OK;
            }
            return ctl_usage_error(argv[i][0] == '-' ? "unknown option %s" : "unexpected '%s'",
                                   argv[i]);
        }
        if (m < 0)
            return CTL_EXIT_USAGE;
    }
    if (f.status) {
        size_t k = 0;
        while (k < GW_ARRAY_SIZE(ctl_statuses) && strcmp(f.status, ctl_statuses[k]) != 0)
            k++;
        if (k == GW_ARRAY_SIZE(ctl_statuses))
            return ctl_usage_error("bad --status '%s' (open, acknowledged, in_progress, "
                                   "resolved, closed, cancelled)",
                                   f.status);
    }
    if (limit) {
        char *end;
        long v;
        errno = 0;
        v = strtol(limit, &end, 10);
        if (errno || end == limit || *end || v < 1 || v > INT_MAX)
            return ctl_usage_error("bad --limit '%s' (a whole number, 1 or more)", limit);
        f.limit = (int)v;
    }

    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    rc = ledger_wo_list(lg, &f, &wo, &n, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        fprintf(stderr, "plantroomctl: %s\n", err);
        return CTL_EXIT_FAIL;
    }
    if (json)
        rc = ctl_print_json(wo, n);
    else if (n == 0)
        printf("no work orders\n");
    else
        ctl_print_table(wo, n);
    ledger_wo_free_array(wo, n);
    if (fflush(stdout) != 0 || rc < 0)
        return CTL_EXIT_FAIL;
    return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
    ctl_global_t g = {0};
    const char *noun, *verb;
    int noun_known = 0;
    int i = 1, m;

    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ctl_usage(stdout);
            return CTL_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("plantroomctl %s\n", PLANTROOM_VERSION);
            return CTL_EXIT_OK;
        }
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        m = ctl_global_opt(&g, argc, argv, &i);
        if (m < 0)
            return CTL_EXIT_USAGE;
        if (m == 0)
            return ctl_usage_error("unknown option %s", argv[i]);
    }
    if (i >= argc)
        return ctl_usage_error("%s", "no command given");
    noun = argv[i];
    verb = i + 1 < argc ? argv[i + 1] : NULL;
    for (size_t k = 0; k < GW_ARRAY_SIZE(ctl_commands); k++) {
        if (strcmp(noun, ctl_commands[k].noun) != 0)
            continue;
        noun_known = 1;
        if (verb && strcmp(verb, ctl_commands[k].verb) == 0)
            return ctl_commands[k].run(&g, argc - i - 2, argv + i + 2);
    }
    if (!noun_known)
        return ctl_usage_error("unknown command '%s'", noun);
    if (!verb)
        return ctl_usage_error("%s needs a verb", noun);
    return ctl_usage_error("unknown verb '%s'", verb);
}
