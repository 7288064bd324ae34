/*
 * ctl_main.c: plantroomctl's entry point: global options, where the ledger
 * is, and dispatch to the areas' command tables (ctl.h).
 *
 *   plantroomctl [--config FILE] [--state-dir DIR] [--ledger PATH] NOUN VERB [options]
 *
 * Read-only verbs open the ledger with LEDGER_OPEN_READONLY: SQLite's WAL
 * lets them read while plantroomd writes. Every verb has --json, since other
 * systems script this tool (docs/architecture.md, "Integration").
 *
 * Exit status: 0 done, 1 failed (ledger or config missing or unreadable),
 * 2 usage error (unknown command or option, bad value).
 */
#include "gateway/ctl/ctl.h"

#include "gateway/base/gw_types.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define CTL_DEFAULT_CONFIG    "/etc/plantroom/plantroom.json"
#define CTL_DEFAULT_STATE_DIR "/var/lib/plantroom"
#define CTL_DEFAULT_LEDGER    "ledger.db"
#define CTL_CONFIG_MAX        (4 * 1024 * 1024)

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

/* Every area's commands; an area adds its table here and in ctl.h. */
static const ctl_command_t *const ctl_tables[] = {
    ctl_cmds_workorders,
    ctl_cmds_replay,
    ctl_cmds_status,
    ctl_cmds_reports,
    NULL,
};

#define CTL_FOR_EACH_COMMAND(c)                                                                    \
    for (const ctl_command_t *const *t_ = ctl_tables; *t_; t_++)                                   \
        for (const ctl_command_t *c = *t_; c->noun; c++)

static void ctl_usage(FILE *out)
{
    fprintf(out, "usage: plantroomctl [--config FILE] [--state-dir DIR] [--ledger PATH] "
                 "COMMAND ...\n"
                 "       plantroomctl --help | --version\n\ncommands:\n");
    CTL_FOR_EACH_COMMAND(c)
    fprintf(out, "  %s%s%s %s\n      %s\n", c->noun, c->verb && c->verb[0] ? " " : "",
            c->verb ? c->verb : "", c->options, c->summary);
    fprintf(out, "\nThe ledger is --ledger PATH, else \"ledger\".\"path\" of the config (default "
                 "ledger.db)\nunder the state directory: --state-dir, $PLANTROOM_STATE_DIR, the "
                 "config's \"state_dir\",\nor " CTL_DEFAULT_STATE_DIR ". The config is --config, "
                 "$PLANTROOM_CONFIG or\n" CTL_DEFAULT_CONFIG ".\n"
                 "Exit status: 0 done, 1 failed, 2 usage error.\n");
}

/* Report a usage error and return the exit status for it. */
int ctl_usage_error(const char *fmt, const char *what)
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
int ctl_opt(int argc, char **argv, int *i, const char *name, const char **val)
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
int ctl_global_opt(ctl_global_t *g, int argc, char **argv, int *i)
{
    int m;

    if ((m = ctl_opt(argc, argv, i, "--config", &g->config)) != 0)
        return m;
    if ((m = ctl_opt(argc, argv, i, "--state-dir", &g->state_dir)) != 0)
        return m;
    return ctl_opt(argc, argv, i, "--ledger", &g->ledger);
}

/* Resolve and open the ledger read-only; prints the reason on failure. */
int ctl_open_ledger(const ctl_global_t *g, ledger_t **lg)
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
    CTL_FOR_EACH_COMMAND(c)
    {
        if (strcmp(noun, c->noun) != 0)
            continue;
        noun_known = 1;
        if (!c->verb || !c->verb[0]) /* no verb: "replay", "status", "kpi", "backup FILE" */
            return c->run(&g, argc - i - 1, argv + i + 1);
        if (verb && strcmp(verb, c->verb) == 0)
            return c->run(&g, argc - i - 2, argv + i + 2);
    }
    if (!noun_known)
        return ctl_usage_error("unknown command '%s'", noun);
    if (!verb)
        return ctl_usage_error("%s needs a verb", noun);
    return ctl_usage_error("unknown verb '%s'", verb);
}
