/*
 * ctl_ledger.c: where plantroomctl finds the ledger and how it opens it
 * (ctl.h, ctl_ledger.h): the ledger path resolved by the rule plantroomd
 * applies (--ledger, else the config's "ledger"."path" under the state
 * directory), opened read-only or read-write; and what the ledger verbs
 * share: parsing times, the exit status of a ledger error, writing output
 * to stdout or a file.
 *
 * Read-only verbs open the ledger with LEDGER_OPEN_READONLY: SQLite's WAL
 * lets them read while plantroomd writes. Nothing here calls the areas or
 * the command line (ctl.h, the layers).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/ctl/ctl.h"
#include "gateway/ctl/ctl_ledger.h"

#include "gateway/base/gw_types.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CTL_CONFIG_MAX (4 * 1024 * 1024)

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

/* The site's id and name from the config the ledger path comes from; ""
 * when there is no config or it names none. */
static void ctl_site_from_config(const ctl_paths_in_t *in, ledger_t *lg)
{
    const char *config = ctl_nz(in->config) ? in->config : ctl_nz(in->env_config);
    const cJSON *site;
    ledger_policy_t p;
    cJSON *root = NULL;
    char err[256];

    if (ctl_nz(in->ledger) && !config)
        return;
    if (ctl_read_config(config ? config : CTL_DEFAULT_CONFIG, 1, &root, err, sizeof(err)) < 0)
        return;
    site = cJSON_GetObjectItemCaseSensitive(root, "site");
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(site, "id"))) {
        const char *id = cJSON_GetObjectItemCaseSensitive(site, "id")->valuestring;
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(site, "name"));
        ledger_policy_default(&p);
        snprintf(p.site_id, sizeof(p.site_id), "%s", id);
        snprintf(p.site_name, sizeof(p.site_name), "%s", name && *name ? name : id);
        ledger_set_policy(lg, &p);
    }
    cJSON_Delete(root);
}

int ctl_ledger_path(const ctl_global_t *g, char **path)
{
    ctl_paths_in_t in = {g->ledger, g->config, g->state_dir, getenv("PLANTROOM_CONFIG"),
                         getenv("PLANTROOM_STATE_DIR")};
    char err[512];
    int rc = ctl_resolve_ledger_path(&in, path, err, sizeof(err));

    if (rc < 0)
        ctl_error("ledger", "%s", err);
    return rc;
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
        ctl_error("ledger", "%s", err);
        return rc;
    }
    rc = ledger_open(lg, path, LEDGER_OPEN_READONLY, err, sizeof(err));
    if (rc < 0)
        ctl_error("ledger", "%s", err);
    else
        ctl_site_from_config(&in, *lg); /* the report's title names the site */
    free(path);
    return rc;
}

/* ---- shared by the ledger verbs (ctl_ledger.h) ---------------------------- */

int ctl_open_ledger_rw(const ctl_global_t *g, ledger_t **lg)
{
    char err[512];
    char *path;
    int rc;

    /* Resolve the path as every verb does, by opening read-only first. */
    rc = ctl_open_ledger(g, lg);
    if (rc < 0)
        return rc;
    path = strdup(ledger_path(*lg));
    ledger_close(*lg);
    *lg = NULL;
    if (!path) {
        ctl_error("no_memory", "out of memory");
        return GW_ENOMEM;
    }
    rc = ledger_open(lg, path, 0, err, sizeof(err));
    if (rc < 0)
        ctl_error("ledger", "%s", err);
    free(path);
    return rc;
}

int ctl_parse_time(const char *s, int64_t *ms)
{
    struct tm tm;
    char *end;
    long long n;
    int utc = 0;
    size_t len;
    time_t t;

    if (!s || !*s)
        return -1;
    len = strlen(s);
    if (len >= 2 && (s[len - 1] == 'd' || s[len - 1] == 'h') && s[0] >= '0' && s[0] <= '9') {
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno || end != s + len - 1 || n < 0 || n > 100000)
            return -1;
        *ms = ctl_now_ms() - n * (s[len - 1] == 'd' ? 86400000LL : 3600000LL);
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (!end)
        return -1;
    if (*end == 'T' || *end == ' ') {
        char *e2 = strptime(end + 1, "%H:%M:%S", &tm);
        if (!e2)
            e2 = strptime(end + 1, "%H:%M", &tm);
        if (!e2)
            return -1;
        end = e2;
    }
    if (*end == 'Z') {
        utc = 1;
        end++;
    }
    if (*end)
        return -1;
    tm.tm_isdst = -1;
    t = utc ? timegm(&tm) : mktime(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}

int64_t ctl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_exit_for(int rc)
{
    return rc == GW_EINVAL || rc == GW_ENOENT || rc == GW_ESTATE ? CTL_EXIT_USAGE : CTL_EXIT_FAIL;
}

FILE *ctl_open_out(const char *path)
{
    FILE *f;

    if (!path)
        return stdout;
    f = fopen(path, "w");
    if (!f)
        ctl_error("io", "cannot write %s: %s", path, strerror(errno));
    return f;
}

int ctl_close_out(FILE *f, const char *path)
{
    int bad = ferror(f) != 0;

    if (f == stdout)
        bad |= fflush(f) != 0;
    else
        bad |= fclose(f) != 0;
    if (bad)
        ctl_error("io", "writing %s failed", path ? path : "the output");
    return bad ? -1 : 0;
}

int ctl_write_file(const char *path, const char *text)
{
    char tmp[4200];
    FILE *f;
    int bad;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "plantroomctl: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (!bad && rename(tmp, path) != 0)
        bad = 1;
    if (bad) {
        fprintf(stderr, "plantroomctl: writing %s failed: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
