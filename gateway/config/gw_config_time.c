/*
 * gw_config_time.c: the "time" and "liveness" sections of the site config
 * (docs/configuration.md): how the daemon treats its clocks and the
 * timestamps it is given, and when a device or a thread counts as stuck.
 * The design is in docs/architecture.md, "Time" and "Threads".
 *
 *   "time": {"step_threshold_ms": 1000, "max_future_s": 300, "max_age_s": 604800}
 *   "liveness": {"missed_polls": 3, "thread_stall_ms": 10000}
 *
 * Both sections are optional; every key has a default.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/config/gw_config_int.h"

/* An optional object section: NULL (defaults) when absent or not an object. */
static const cJSON *cfg__time_section(const cJSON *root, const char *key, const char *const *keys,
                                      gw_errlist_t *el)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, key);

    if (o && !cJSON_IsObject(o)) {
        gw_errlist_add(el, key, "must be an object");
        return NULL;
    }
    if (o)
        gw_json_check_keys(o, key, keys, el);
    return o;
}

void gw__cfg_time(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    static const char *const keys[] = {"step_threshold_ms", "max_future_s", "max_age_s", NULL};
    const cJSON *o = cfg__time_section(root, "time", keys, el);
    long long v;

    gw_json_int(o, "step_threshold_ms", "time", &v, 1000, 100, 3600000, 0, el);
    cfg->time.step_threshold_ms = v;
    gw_json_int(o, "max_future_s", "time", &v, 300, 0, 86400, 0, el);
    cfg->time.max_future_ms = v * 1000;
    gw_json_int(o, "max_age_s", "time", &v, 7 * 86400, 60, 3650LL * 86400, 0, el);
    cfg->time.max_age_ms = v * 1000;
}

void gw__cfg_liveness(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    static const char *const keys[] = {"missed_polls", "thread_stall_ms", NULL};
    const cJSON *o = cfg__time_section(root, "liveness", keys, el);
    long long v;

    gw_json_int_to(o, "missed_polls", "liveness", &cfg->liveness.missed_polls, 3, 1, 100, 0, el);
    gw_json_int(o, "thread_stall_ms", "liveness", &v, 10000, 500, 3600000, 0, el);
    cfg->liveness.thread_stall_ms = v;
}
