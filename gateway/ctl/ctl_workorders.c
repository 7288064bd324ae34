/*
 * ctl_workorders.c: plantroomctl's work-order commands: list (a table that
 * fits a phone-width terminal, or --json), show, export (CSV, JSON), and the
 * changes people make: ack, assign, start, resolve, close, cancel, note.
 *
 * A change opens the ledger read-write (WAL and a busy timeout, so it works
 * while plantroomd runs) and goes through ledger_wo_set_status and friends:
 * the change, its audit row (actor from --by, else the login name; channel
 * "cli") and its outbox event in one transaction. The daemon notices outbox
 * rows it did not write and publishes them within a second (gw_north.c).
 * Bad input (unknown status or work order, a transition that is not
 * allowed) exits 2 with a message naming it.
 */
#include "gateway/ctl/ctl.h"
#include "gateway/ctl/ctl_ledger.h"
#include "gateway/base/gw_types.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

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

/* ---- list and export ---------------------------------------------------- */

/* Options of list and export. */
typedef struct ctl_list_opts {
    ledger_wo_filter_t f;
    int json;
    const char *format; /* export: csv or json */
    const char *out;    /* export: --out FILE */
} ctl_list_opts_t;

/* Parse list/export options. Returns -1 to go on, else an exit status. */
static int ctl_list_parse(ctl_global_t *g, int argc, char **argv, const char *verb,
                          ctl_list_opts_t *o)
{
    const char *limit = NULL, *since = NULL;
    int i = 0, m;

    while (i < argc) {
        if (ctl_opt(argc, argv, &i, "--json", NULL) > 0) {
            o->json = 1;
            continue;
        }
        if (ctl_opt(argc, argv, &i, "--active", NULL) > 0) {
            o->f.active_only = 1;
            continue;
        }
        if ((m = ctl_opt(argc, argv, &i, "--status", &o->f.status)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--device", &o->f.device)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--priority", &o->f.priority)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--category", &o->f.category)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--since", &since)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--limit", &limit)) == 0 &&
            (m = strcmp(verb, "export") == 0 ? ctl_opt(argc, argv, &i, "--format", &o->format)
                                             : 0) == 0 &&
            (m = strcmp(verb, "export") == 0 ? ctl_opt(argc, argv, &i, "--out", &o->out) : 0) ==
                0 &&
            (m = ctl_global_opt(g, argc, argv, &i)) == 0) {
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                return ctl_help("workorders", verb);
            return ctl_usage_error(argv[i][0] == '-' ? "unknown option %s" : "unexpected '%s'",
                                   argv[i]);
        }
        if (m < 0)
            return CTL_EXIT_USAGE;
    }
    if (o->f.status && !ledger_status_valid(o->f.status))
        return ctl_usage_error("unknown status '%s' (open, acknowledged, in_progress, "
                               "resolved, closed, cancelled)",
                               o->f.status);
    if (o->f.priority) {
        gw_priority_t p;
        if (gw_priority_parse(o->f.priority, &p) != 0)
            return ctl_usage_error("unknown priority '%s' (critical, high, medium, low)",
                                   o->f.priority);
    }
    if (since && ctl_parse_time(since, &o->f.since_ms) != 0)
        return ctl_usage_error("bad --since '%s' (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z], Nd or Nh)",
                               since);
    if (limit) {
        char *end;
        long v;
        errno = 0;
        v = strtol(limit, &end, 10);
        if (errno || end == limit || *end || v < 1 || v > INT_MAX)
            return ctl_usage_error("bad --limit '%s' (a whole number, 1 or more)", limit);
        o->f.limit = (int)v;
    }
    if (o->format && strcmp(o->format, "csv") != 0 && strcmp(o->format, "json") != 0)
        return ctl_usage_error("unknown --format '%s' (csv or json)", o->format);
    return -1;
}

/* Read the work orders the options select. Returns 0 or an exit status. */
static int ctl_list_read(ctl_global_t *g, const ctl_list_opts_t *o, ledger_wo_t **wo, size_t *n)
{
    ledger_t *lg = NULL;
    char err[512];
    int rc;

    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    rc = ledger_wo_list(lg, &o->f, wo, n, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        fprintf(stderr, "plantroomctl: %s\n", err);
        return CTL_EXIT_FAIL;
    }
    return 0;
}

static int ctl_wo_list(ctl_global_t *g, int argc, char **argv)
{
    ctl_list_opts_t o = {0};
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    int rc;

    rc = ctl_list_parse(g, argc, argv, "list", &o);
    if (rc >= 0)
        return rc;
    rc = ctl_list_read(g, &o, &wo, &n);
    if (rc)
        return rc;
    if (o.json)
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

/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break; a leading = + - @ gets a ' so that spreadsheets do not run it. */
static void ctl_csv_field(FILE *f, const char *s, int last)
{
    int formula;

    if (!s)
        s = "";
    formula = s[0] && strchr("=+-@", s[0]) != NULL;
    if (strpbrk(s, ",\"\r\n") || formula) {
        fputc('"', f);
        if (formula)
            fputc('\'', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

static void ctl_csv_time(FILE *f, int64_t ms, int last)
{
    char buf[32] = "";
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms && gmtime_r(&t, &tm))
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    ctl_csv_field(f, buf, last);
}

static void ctl_export_csv(FILE *f, const ledger_wo_t *wo, size_t n)
{
    fputs("id,number,site,status,priority,category,work_type,device,rule,title,building,floor,"
          "room,assignee,occurrences,opened_at,due_at,acknowledged_at,started_at,resolved_at,"
          "closed_at,last_seen_at,on_time\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const ledger_wo_t *w = &wo[i];
        char num[32], occ[32];
        const char *on_time = "";
        snprintf(num, sizeof(num), "%lld", (long long)w->number);
        snprintf(occ, sizeof(occ), "%lld", (long long)w->occurrences);
        if (w->due_at && w->resolved_at)
            on_time = w->resolved_at <= w->due_at ? "yes" : "no";
        ctl_csv_field(f, w->id, 0);
        ctl_csv_field(f, num, 0);
        ctl_csv_field(f, w->site, 0);
        ctl_csv_field(f, w->status, 0);
        ctl_csv_field(f, w->priority, 0);
        ctl_csv_field(f, w->category, 0);
        ctl_csv_field(f, w->work_type, 0);
        ctl_csv_field(f, w->device, 0);
        ctl_csv_field(f, w->rule, 0);
        ctl_csv_field(f, w->title, 0);
        ctl_csv_field(f, w->building, 0);
        ctl_csv_field(f, w->floor, 0);
        ctl_csv_field(f, w->room, 0);
        ctl_csv_field(f, w->assignee, 0);
        ctl_csv_field(f, occ, 0);
        ctl_csv_time(f, w->opened_at, 0);
        ctl_csv_time(f, w->due_at, 0);
        ctl_csv_time(f, w->acknowledged_at, 0);
        ctl_csv_time(f, w->started_at, 0);
        ctl_csv_time(f, w->resolved_at, 0);
        ctl_csv_time(f, w->closed_at, 0);
        ctl_csv_time(f, w->last_seen_at, 0);
        ctl_csv_field(f, on_time, 1);
    }
}

static int ctl_wo_export(ctl_global_t *g, int argc, char **argv)
{
    ctl_list_opts_t o = {0};
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    FILE *f;
    int rc;

    rc = ctl_list_parse(g, argc, argv, "export", &o);
    if (rc >= 0)
        return rc;
    if (!o.format)
        o.format = o.json ? "json" : "csv";
    rc = ctl_list_read(g, &o, &wo, &n);
    if (rc)
        return rc;
    f = ctl_open_out(o.out);
    if (!f) {
        ledger_wo_free_array(wo, n);
        return CTL_EXIT_FAIL;
    }
    if (strcmp(o.format, "csv") == 0) {
        ctl_export_csv(f, wo, n);
    } else {
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
            char *one = ledger_wo_to_json(&wo[i]);
            fprintf(f, "%s\n  %s", i ? "," : "", one ? one : "null");
            free(one);
        }
        fputs(n ? "\n]\n" : "]\n", f);
    }
    ledger_wo_free_array(wo, n);
    return ctl_close_out(f, o.out) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

/* ---- show and changes --------------------------------------------------- */

static void ctl_show_time(const char *label, const cJSON *v)
{
    if (cJSON_IsString(v))
        printf("  %-16s %s\n", label, v->valuestring);
}

static void ctl_show_text(const char *json)
{
    cJSON *o = cJSON_Parse(json);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "work_order");
    const cJSON *it;
    static const char *const fields[] = {"id",        "status", "priority", "category",
                                         "work_type", "device", "rule",     "building",
                                         "floor",     "room",   "assignee", "occurrences"};
    static const char *const times[] = {"opened_at",    "due_at",      "acknowledged_at",
                                        "started_at",   "resolved_at", "closed_at",
                                        "last_seen_at", "cleared_at"};

    if (!o)
        return;
    printf("Work order %.0f: %s\n", cJSON_GetNumberValue(cJSON_GetObjectItem(w, "number")),
           cJSON_GetStringValue(cJSON_GetObjectItem(w, "title")));
    for (size_t i = 0; i < GW_ARRAY_SIZE(fields); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(w, fields[i]);
        if (cJSON_IsString(v))
            printf("  %-16s %s\n", fields[i], v->valuestring);
        else if (cJSON_IsNumber(v))
            printf("  %-16s %.0f\n", fields[i], v->valuedouble);
    }
    for (size_t i = 0; i < GW_ARRAY_SIZE(times); i++)
        ctl_show_time(times[i], cJSON_GetObjectItemCaseSensitive(w, times[i]));
    it = cJSON_GetObjectItemCaseSensitive(w, "evidence");
    if (cJSON_IsObject(it)) {
        char *ev = cJSON_PrintUnformatted(it);
        printf("  %-16s %s\n", "evidence", ev ? ev : "");
        free(ev);
    }
    printf("History\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "audit"))
    {
        const char *from = cJSON_GetStringValue(cJSON_GetObjectItem(it, "from"));
        const char *to = cJSON_GetStringValue(cJSON_GetObjectItem(it, "to"));
        const char *detail = cJSON_GetStringValue(cJSON_GetObjectItem(it, "detail"));
        printf("  %s  %-12s by %s (%s)", cJSON_GetStringValue(cJSON_GetObjectItem(it, "ts")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "action")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "actor")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "channel")));
        if (from && to && strcmp(from, to) != 0)
            printf(" %s -> %s", from, to);
        if (detail && detail[0] != '{')
            printf(": %s", detail);
        putchar('\n');
    }
    printf("Notes\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "notes"))
        printf("  %s  %s: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(it, "ts")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "actor")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "text")));
    cJSON_Delete(o);
}

/* The verbs that change a work order. */
typedef enum ctl_change_kind { CTL_STATUS, CTL_ASSIGN, CTL_NOTE } ctl_change_kind_t;

typedef struct ctl_change {
    const char *verb;
    ctl_change_kind_t kind;
    const char *status; /* CTL_STATUS */
} ctl_change_t;

static const ctl_change_t ctl_changes[] = {
    {"ack", CTL_STATUS, "acknowledged"},
    {"start", CTL_STATUS, "in_progress"},
    {"resolve", CTL_STATUS, "resolved"},
    {"close", CTL_STATUS, "closed"},
    {"cancel", CTL_STATUS, "cancelled"},
    {"assign", CTL_ASSIGN, NULL},
    {"note", CTL_NOTE, NULL},
};

/* Who is making the change: --by, else $SUDO_USER, else the login name. */
static const char *ctl_actor(const char *by)
{
    const char *s = getenv("SUDO_USER");
    struct passwd *pw;

    if (by)
        return by;
    if (s && *s)
        return s;
    pw = getpwuid(getuid());
    return pw && pw->pw_name ? pw->pw_name : "unknown";
}

static int ctl_wo_change(const ctl_change_t *c, ctl_global_t *g, int argc, char **argv)
{
    const char *ref = NULL, *arg = NULL, *by = NULL, *comment = NULL;
    ledger_actor_t actor;
    ledger_t *lg = NULL;
    ledger_wo_t wo;
    char err[512];
    int json = 0, i = 0, m, rc;
    int want_arg = c->kind != CTL_STATUS;

    while (i < argc) {
        if (ctl_opt(argc, argv, &i, "--json", NULL) > 0) {
            json = 1;
            continue;
        }
        if ((m = ctl_opt(argc, argv, &i, "--by", &by)) != 0 ||
            (m = c->kind == CTL_STATUS ? ctl_opt(argc, argv, &i, "--comment", &comment) : 0) != 0 ||
            (m = ctl_global_opt(g, argc, argv, &i)) != 0) {
            if (m < 0)
                return CTL_EXIT_USAGE;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return ctl_help("workorders", c->verb);
        if (argv[i][0] == '-' && argv[i][1])
            return ctl_usage_error("unknown option %s", argv[i]);
        if (!ref)
            ref = argv[i];
        else if (want_arg && !arg)
            arg = argv[i];
        else
            return ctl_usage_error("unexpected '%s'", argv[i]);
        i++;
    }
    if (!ref)
        return ctl_usage_error("%s needs a work order (number or id)", c->verb);
    if (want_arg && (!arg || !*arg))
        return ctl_usage_error(c->kind == CTL_ASSIGN ? "%s needs an assignee"
                                                     : "%s needs the text of the note",
                               c->verb);
    if (by && !*by)
        return ctl_usage_error("%s", "--by needs a name");
    actor.who = ctl_actor(by);
    actor.channel = "cli";

    if (ctl_open_ledger_rw(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    if (c->kind == CTL_STATUS)
        rc = ledger_wo_set_status(lg, ref, c->status, &actor, comment, err, sizeof(err));
    else if (c->kind == CTL_ASSIGN)
        rc = ledger_wo_assign(lg, ref, arg, &actor, err, sizeof(err));
    else
        rc = ledger_wo_add_note(lg, ref, arg, &actor, err, sizeof(err));
    if (rc == 0)
        rc = ledger_wo_get(lg, ref, &wo, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        fprintf(stderr, "plantroomctl: %s\n", err);
        return ctl_exit_for(rc);
    }
    if (json) {
        char *one = ledger_wo_to_json(&wo);
        printf("%s\n", one ? one : "null");
        free(one);
    } else if (c->kind == CTL_STATUS) {
        printf("work order %lld: %s\n", (long long)wo.number, wo.status);
    } else if (c->kind == CTL_ASSIGN) {
        printf("work order %lld: assigned to %s\n", (long long)wo.number, wo.assignee);
    } else {
        printf("work order %lld: note added\n", (long long)wo.number);
    }
    ledger_wo_free_fields(&wo);
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

#define CTL_CHANGE_FN(name, idx)                                                                   \
    static int name(ctl_global_t *g, int argc, char **argv)                                        \
    {                                                                                              \
        return ctl_wo_change(&ctl_changes[idx], g, argc, argv);                                    \
    }
CTL_CHANGE_FN(ctl_wo_ack, 0)
CTL_CHANGE_FN(ctl_wo_start, 1)
CTL_CHANGE_FN(ctl_wo_resolve, 2)
CTL_CHANGE_FN(ctl_wo_close, 3)
CTL_CHANGE_FN(ctl_wo_cancel, 4)
CTL_CHANGE_FN(ctl_wo_assign, 5)
CTL_CHANGE_FN(ctl_wo_note, 6)

static int ctl_wo_show(ctl_global_t *g, int argc, char **argv)
{
    const char *ref = NULL;
    ledger_t *lg = NULL;
    char err[512];
    char *json_text = NULL;
    int json = 0, i = 0, m, rc;

    while (i < argc) {
        if (ctl_opt(argc, argv, &i, "--json", NULL) > 0) {
            json = 1;
            continue;
        }
        if ((m = ctl_global_opt(g, argc, argv, &i)) != 0) {
            if (m < 0)
                return CTL_EXIT_USAGE;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return ctl_help("workorders", "show");
        if (argv[i][0] == '-' || ref)
            return ctl_usage_error(argv[i][0] == '-' ? "unknown option %s" : "unexpected '%s'",
                                   argv[i]);
        ref = argv[i++];
    }
    if (!ref)
        return ctl_usage_error("%s", "show needs a work order (number or id)");
    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    rc = ledger_wo_show_json(lg, ref, &json_text, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        fprintf(stderr, "plantroomctl: %s\n", err);
        return ctl_exit_for(rc);
    }
    if (json)
        printf("%s\n", json_text);
    else
        ctl_show_text(json_text);
    free(json_text);
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

#define CTL_FILTERS                                                                                \
    "[--status S] [--device D] [--priority P] [--category C] [--since T] [--active] [--limit N]"

const ctl_command_t ctl_cmds_workorders[] = {
    {"workorders", "list", ctl_wo_list, "[--json] " CTL_FILTERS,
     "list work orders, newest first (T: YYYY-MM-DD[THH:MM[:SS]][Z], or 7d / 12h ago)"},
    {"workorders", "show", ctl_wo_show, "NUMBER|ID [--json]",
     "one work order with its evidence, history (audit trail) and notes"},
    {"workorders", "export", ctl_wo_export,
     "[--format csv|json] [--json] [--out FILE] " CTL_FILTERS,
     "export work orders as CSV (default) or JSON"},
    {"workorders", "ack", ctl_wo_ack, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "acknowledge an open work order"},
    {"workorders", "assign", ctl_wo_assign, "NUMBER|ID ASSIGNEE [--by WHO] [--json]",
     "set who does the work"},
    {"workorders", "start", ctl_wo_start, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "work started on an acknowledged order (in_progress)"},
    {"workorders", "resolve", ctl_wo_resolve, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "the work is done (resolved)"},
    {"workorders", "close", ctl_wo_close, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "completion confirmed: close a resolved order (final)"},
    {"workorders", "cancel", ctl_wo_cancel, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "cancel an open or acknowledged order (final; not after work started)"},
    {"workorders", "note", ctl_wo_note, "NUMBER|ID TEXT [--by WHO] [--json]",
     "add a note to a work order"},
    {NULL, NULL, NULL, NULL, NULL},
};
