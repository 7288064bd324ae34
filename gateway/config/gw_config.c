/*
 * gw_config.c: load and validate the site configuration (gw_config.h): the
 * root parser. It reads the top level, "site", "log" and the paths itself,
 * calls the section parsers (gw_config_<section>.c) in order, and checks the
 * references between sections at the end. The helpers the sections share
 * are in gw_config_util.c, below both (gw_config_int.h).
 *
 * One function per section; each reads its keys through gw_json (typed,
 * bounded, path-naming errors) and rejects unknown keys, so a typo such as
 * "intervall_ms" is an error, not a silently ignored default. Cross
 * references (a device's bus, a rule's device and point) are checked after
 * all sections are read. Relative paths are resolved: state_dir and
 * profiles_dir against the config file's directory, ledger.path against the
 * state directory.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_json.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const site_keys[] = {"id", "name", NULL};

static void cfg__site(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    const cJSON *site = cJSON_GetObjectItemCaseSensitive(root, "site");
    if (!cJSON_IsObject(site)) {
        gw_errlist_add(el, "site", site ? "must be an object" : "is required");
        return;
    }
    gw_json_check_keys(site, "site", site_keys, el);
    gw_json_str(site, "id", "site", cfg->site_id, sizeof(cfg->site_id), NULL, 1, el);
    gw__cfg_check_name(cfg->site_id, "site.id", el);
    gw_json_str(site, "name", "site", cfg->site_name, sizeof(cfg->site_name), cfg->site_id, 0, el);
}

static void cfg__log(gw_config_t *cfg, const cJSON *root, const gw_config_overrides_t *ov,
                     gw_errlist_t *el)
{
    static const char *const keys[] = {"level", NULL};
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(root, "log");
    char level[16];

    cfg->log_level = GW_LOG_INFO;
    if (log && !cJSON_IsObject(log)) {
        gw_errlist_add(el, "log", "must be an object");
        log = NULL;
    }
    if (log) {
        gw_json_check_keys(log, "log", keys, el);
        if (gw_json_str(log, "level", "log", level, sizeof(level), "info", 0, el) > 0 &&
            gw_log_level_parse(level, &cfg->log_level) != 0)
            gw_errlist_add(el, "log.level",
                           "must be one of error, warn, notice, info, debug, got \"%s\"", level);
    }
    /* --log-level wins, at start and on every reload */
    if (ov && ov->log_level && gw_log_level_parse(ov->log_level, &cfg->log_level) != 0)
        gw_errlist_add(el, "--log-level",
                       "must be one of error, warn, notice, info, debug, got \"%s\"",
                       ov->log_level);
}

/* Read an array section, calling fn per element with its path. */
typedef void (*cfg__elem_fn)(gw_config_t *cfg, void *elem, const cJSON *obj, const char *path,
                             gw_errlist_t *el);

static void *cfg__array(gw_config_t *cfg, const cJSON *root, const char *key, size_t elem_size,
                        size_t *count, cfg__elem_fn fn, gw_errlist_t *el)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
    const cJSON *it;
    char *out;
    int i = 0;
    char p[64];

    *count = 0;
    if (!arr)
        return NULL;
    if (!cJSON_IsArray(arr)) {
        gw_errlist_add(el, key, "must be an array");
        return NULL;
    }
    out = calloc((size_t)cJSON_GetArraySize(arr) + 1, elem_size);
    if (!out) {
        gw_errlist_add(el, key, "out of memory");
        return NULL;
    }
    cJSON_ArrayForEach(it, arr)
    {
        gw_json_path_idx(p, sizeof(p), key, i++);
        if (!cJSON_IsObject(it)) {
            gw_errlist_add(el, p, "must be an object");
            continue;
        }
        fn(cfg, out + *count * elem_size, it, p, el);
        (*count)++;
    }
    return out;
}

static void cfg__bus_fn(gw_config_t *cfg, void *e, const cJSON *o, const char *p, gw_errlist_t *el)
{
    (void)cfg;
    gw__cfg_bus(e, o, p, el);
}

static void cfg__device_fn(gw_config_t *cfg, void *e, const cJSON *o, const char *p,
                           gw_errlist_t *el)
{
    gw__cfg_device(cfg, e, o, p, el);
}

static void cfg__rule_fn(gw_config_t *cfg, void *e, const cJSON *o, const char *p, gw_errlist_t *el)
{
    (void)cfg;
    gw__cfg_rule(e, o, p, el);
}

/* Names unique, references resolved. */
static void cfg__cross_check(gw_config_t *cfg, gw_errlist_t *el)
{
    char p[128];

    for (size_t i = 0; i < cfg->nbuses; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->buses[i].name, cfg->buses[j].name) == 0)
                gw_errlist_add(el, gw_json_path_idx(p, sizeof(p), "buses", (int)i),
                               "duplicate bus name \"%s\" (also buses[%zu])", cfg->buses[i].name,
                               j);
        }
    }
    for (size_t i = 0; i < cfg->ndevices; i++) {
        gw_device_cfg_t *d = &cfg->devices[i];
        d->bus_idx = -1;
        for (size_t j = 0; j < cfg->nbuses; j++) {
            if (strcmp(cfg->buses[j].name, d->bus) == 0)
                d->bus_idx = (int)j;
        }
        snprintf(p, sizeof(p), "devices[%zu].bus", i);
        if (d->bus_idx < 0 && d->bus[0])
            gw_errlist_add(el, p, "no bus named \"%s\" in buses", d->bus);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->devices[j].name, d->name) == 0)
                gw_errlist_add(el, gw_json_path_idx(p, sizeof(p), "devices", (int)i),
                               "duplicate device name \"%s\" (also devices[%zu])", d->name, j);
        }
    }
    for (size_t i = 0; i < cfg->nrules; i++) {
        gw_rule_cfg_t *r = &cfg->rules[i];
        r->device_idx = gw_config_device_index(cfg, r->device);
        r->point_idx = -1;
        if (r->device_idx < 0) {
            snprintf(p, sizeof(p), "rules[%zu].device", i);
            if (r->device[0])
                gw_errlist_add(el, p, "no device named \"%s\" in devices", r->device);
            continue;
        }
        r->point_idx = gw_device_point_index(&cfg->devices[r->device_idx], r->point);
        snprintf(p, sizeof(p), "rules[%zu].point", i);
        if (r->point_idx < 0 && r->point[0])
            gw_errlist_add(el, p, "device \"%s\" has no point \"%s\"", r->device, r->point);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->rules[j].name, r->name) == 0 &&
                strcmp(cfg->rules[j].device, r->device) == 0)
                gw_errlist_add(el, gw_json_path_idx(p, sizeof(p), "rules", (int)i),
                               "duplicate rule \"%s\" for device \"%s\" (also rules[%zu])", r->name,
                               r->device, j);
        }
    }
    gw__cfg_rules_wear(cfg, el);
}

static const char *const root_keys[] = {
    "site", "log", "state_dir", "profiles_dir", "ledger", "mqtt", "buses", "devices", "rules",
    "$schema", "comment", "rules_state", "control", "metrics", "report",
    /* notifications: gw_config_hooks.c */
    "hooks", "recipients", "groups", "routes", "quiet_hours", "inhibit_rules",
    /* NB-IoT uplinks: gw_config_nbiot.c */
    "nbiot",
    /* the notifier's bounds: gw_config_notify.c; clocks and liveness:
     * gw_config_time.c */
    "notify", "time", "liveness", NULL};

static void cfg__paths(gw_config_t *cfg, const cJSON *root, const gw_config_overrides_t *ov,
                       gw_errlist_t *el)
{
    static const char *const ledger_keys[] = {"path", "sla_minutes", "routing",
                                              "audit_retention_days", "rollup_1m_retention_days",
                                              "rollup_1h_retention_days",
                                              /* storage faults: gw_config_ledger.c */
                                              "queue_max_ops", "outbox_retention_days", NULL};
    const cJSON *lg = cJSON_GetObjectItemCaseSensitive(root, "ledger");
    char tmp[PATH_MAX], dir[PATH_MAX], cfgdir[PATH_MAX];
    const char *env = getenv("PLANTROOM_STATE_DIR");
    const char *sd_env = getenv("STATE_DIRECTORY"); /* systemd's StateDirectory= */

    char cwd[PATH_MAX];

    snprintf(tmp, sizeof(tmp), "%s", cfg->path);
    if (!realpath(dirname(tmp), cfgdir))
        snprintf(cfgdir, sizeof(cfgdir), "%s", dirname(tmp));
    snprintf(cfg->config_dir, sizeof(cfg->config_dir), "%s", cfgdir);
    if (!getcwd(cwd, sizeof(cwd)))
        cwd[0] = '\0';
    if (ov && ov->state_dir) {
        /* a relative --state-dir or $PLANTROOM_STATE_DIR is relative to the cwd */
        gw__cfg_resolve(dir, sizeof(dir), cwd, ov->state_dir);
    } else if (env && *env) {
        gw__cfg_resolve(dir, sizeof(dir), cwd, env);
    } else if (sd_env && *sd_env) {
        /* a colon-separated list when the unit names several: take the first */
        snprintf(tmp, sizeof(tmp), "%.*s", (int)strcspn(sd_env, ":"), sd_env);
        gw__cfg_resolve(dir, sizeof(dir), cwd, tmp);
    } else {
        gw_json_str(root, "state_dir", "", tmp, sizeof(tmp), "/var/lib/plantroom", 0, el);
        gw__cfg_resolve(dir, sizeof(dir), cfgdir, tmp);
    }
    snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", dir);
    gw_json_str(root, "profiles_dir", "", tmp, sizeof(tmp), PLANTROOM_PROFILES_DIR, 0, el);
    gw__cfg_resolve(cfg->profiles_dir, sizeof(cfg->profiles_dir), cfgdir, tmp);
    if (lg && !cJSON_IsObject(lg)) {
        gw_errlist_add(el, "ledger", "must be an object");
        lg = NULL;
    }
    if (lg)
        gw_json_check_keys(lg, "ledger", ledger_keys, el);
    gw_json_str(lg, "path", "ledger", tmp, sizeof(tmp), "ledger.db", 0, el);
    gw__cfg_resolve(cfg->ledger_path, sizeof(cfg->ledger_path), cfg->state_dir, tmp);
}

int gw_config_load(const char *path, const gw_config_overrides_t *ov, gw_config_t **out,
                   gw_errlist_t *el)
{
    size_t before = el->n;
    gw_config_t *cfg;
    cJSON *root;

    *out = NULL;
    root = gw_json_parse_file(path, el);
    if (!root)
        return GW_ECONFIG;
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        cJSON_Delete(root);
        gw_errlist_add(el, path, "out of memory");
        return GW_ENOMEM;
    }
    snprintf(cfg->path, sizeof(cfg->path), "%s", path);
    if (!cJSON_IsObject(root)) {
        gw_errlist_add(el, path, "the top level must be a JSON object");
        goto out_fail;
    }
    gw_json_check_keys(root, "", root_keys, el);
    cfg__site(cfg, root, el);
    cfg__log(cfg, root, ov, el);
    cfg__paths(cfg, root, ov, el);
    gw__cfg_ledger(cfg, root, el);
    gw__cfg_mqtt(cfg, root, el);
    gw__cfg_service(cfg, root, el);
    cfg->buses =
        cfg__array(cfg, root, "buses", sizeof(gw_bus_cfg_t), &cfg->nbuses, cfg__bus_fn, el);
    cfg->devices = cfg__array(cfg, root, "devices", sizeof(gw_device_cfg_t), &cfg->ndevices,
                              cfg__device_fn, el);
    gw__cfg_nbiot(cfg, root, el);
    cfg->rules =
        cfg__array(cfg, root, "rules", sizeof(gw_rule_cfg_t), &cfg->nrules, cfg__rule_fn, el);
    gw__cfg_rules_state(cfg, root, el);
    cfg__cross_check(cfg, el);
    gw__cfg_mqtt_check(cfg, el);
    gw__cfg_notify(cfg, root, el);
    gw__cfg_notify_limits(cfg, root, el);
    gw__cfg_time(cfg, root, el);
    gw__cfg_liveness(cfg, root, el);
    if (el->n != before)
        goto out_fail;
    cJSON_Delete(root);
    *out = cfg;
    return 0;

out_fail:
    cJSON_Delete(root);
    gw_config_free(cfg);
    return GW_ECONFIG;
}

void gw_config_free(gw_config_t *cfg)
{
    if (!cfg)
        return;
    gw__cfg_nbiot_free(cfg);
    for (size_t i = 0; i < cfg->ndevices; i++) {
        if (!cfg->devices[i].points_shared)
            free(cfg->devices[i].points);
    }
    while (cfg->profiles) {
        gw_profile_cache_t *pc = cfg->profiles;
        cfg->profiles = pc->next;
        drv_profile_free(pc->prof);
        free(pc);
    }
    free(cfg->devices);
    free(cfg->buses);
    free(cfg->rules);
    gw__cfg_notify_free(&cfg->notify);
    free(cfg);
}

int gw_rule_cfg_equal(const gw_rule_cfg_t *a, const gw_rule_cfg_t *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->device, b->device) == 0 &&
           strcmp(a->point, b->point) == 0 && a->kind == b->kind &&
           rule_learn_hash(&a->rule) == rule_learn_hash(&b->rule);
}
