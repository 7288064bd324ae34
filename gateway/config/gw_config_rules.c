/*
 * gw_config_rules.c: the "rules" section of the site config: rule kind,
 * parameters and work-order metadata (gw_config.h; every key in
 * docs/configuration.md, "rules[]"). Each kind has its own list of keys, so
 * a key of another kind is an error; the kind's parameters are checked by
 * rules/ (rule_validate) and its reason reported at the rule's path.
 *
 * Work-order metadata defaults follow the kind and category: category
 * "fire" or "life_safety" means priority critical, work type emergency and
 * no for-duration (a fire alarm fires at once); kind "trend" means work type
 * preventive.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMON_KEYS                                                                                \
    "name", "device", "point", "kind", "priority", "category", "work_type", "title", "update_ms",  \
        "comment"

static const char *const keys_threshold[] = {COMMON_KEYS, "above",        "below", "hysteresis",
                                             "for_ms",    "clear_for_ms", NULL};
static const char *const keys_state[] = {COMMON_KEYS, "equals",       "bit", "invert",
                                         "for_ms",    "clear_for_ms", NULL};
static const char *const keys_stale[] = {COMMON_KEYS, "after_ms", NULL};
static const char *const keys_rate[] = {COMMON_KEYS,  "above",        "below",
                                        "hysteresis", "for_ms",       "window_ms",
                                        "per",        "clear_for_ms", NULL};
static const char *const keys_counter[] = {COMMON_KEYS, "limit", "wrap", NULL};
static const char *const keys_anomaly[] = {
    COMMON_KEYS,      "direction",  "k",      "min_delta",    "alpha", "learn_weeks",
    "utc_offset_min", "hysteresis", "for_ms", "clear_for_ms", NULL};
/* clang-format off */
static const char *const keys_trend[] = {
    COMMON_KEYS,         "limit",    "iso10816",     "zones",      "smooth_n",    "day_ms",
    "window_days",       "min_days", "horizon_days", "confidence", "ewma_lambda", "ewma_L",
    "learn_n",           "model",    "floor",        "hysteresis", "clear_days",  "stuck_n",
    "model_uncertainty", "with",     "central_horizon_days", "line_half_life_days", NULL};
/* clang-format on */

static const char *const *const kind_keys[RULE_KIND_COUNT] = {
    keys_threshold, keys_state, keys_stale, keys_rate, keys_counter, keys_anomaly, keys_trend,
};

#define DAY_MS (86400LL * 1000)
#define MAX_MS (30LL * DAY_MS)

/* "above" / "below": exactly one; sets alarm.above and alarm.limit. */
static void cfg__above_below(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    double above, below;
    int has_above = gw_json_num(obj, "above", path, &above, 0, 0, el) > 0;
    int has_below = gw_json_num(obj, "below", path, &below, 0, 0, el) > 0;

    if (has_above == has_below)
        gw_errlist_add(el, path, "a %s rule needs exactly one of \"above\" or \"below\"",
                       rule_kind_name(r->kind));
    r->rule.alarm.above = has_above;
    r->rule.alarm.limit = has_above ? above : below;
}

static void cfg__ms(const cJSON *obj, const char *key, const char *path, int64_t *dst,
                    long long min, long long max, gw_errlist_t *el)
{
    long long v;
    if (gw_json_int(obj, key, path, &v, *dst, min, max, 0, el) > 0)
        *dst = v;
}

static void cfg__int(const cJSON *obj, const char *key, const char *path, int *dst, long long min,
                     long long max, gw_errlist_t *el)
{
    long long v;
    if (gw_json_int(obj, key, path, &v, *dst, min, max, 0, el) > 0)
        *dst = (int)v;
}

static void cfg__state(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    rule_state_cfg_t *s = &r->rule.u.state;
    int has_eq = gw_json_num(obj, "equals", path, &s->equals, 0, 0, el) > 0;
    int has_bit = cJSON_HasObjectItem(obj, "bit");

    cfg__int(obj, "bit", path, &s->bit, 0, 31, el);
    s->use_bit = has_bit;
    if (has_eq == has_bit)
        gw_errlist_add(el, path, "a state rule needs exactly one of \"equals\" or \"bit\"");
    gw_json_bool(obj, "invert", path, &s->invert, 0, el);
    cfg__ms(obj, "for_ms", path, &r->rule.alarm.for_ms, 0, MAX_MS, el);
}

static void cfg__rate(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    char per[16], p[256];

    cfg__above_below(r, obj, path, el);
    gw_json_num(obj, "hysteresis", path, &r->rule.alarm.hysteresis, 0, 0, el);
    cfg__ms(obj, "for_ms", path, &r->rule.alarm.for_ms, 0, MAX_MS, el);
    cfg__ms(obj, "window_ms", path, &r->rule.u.rate.window_ms, 1000, MAX_MS, el);
    if (gw_json_str(obj, "per", path, per, sizeof(per), "minute", 0, el) < 0)
        return;
    if (strcmp(per, "second") == 0)
        r->rule.u.rate.per_ms = 1000;
    else if (strcmp(per, "minute") == 0)
        r->rule.u.rate.per_ms = 60000;
    else if (strcmp(per, "hour") == 0)
        r->rule.u.rate.per_ms = 3600000;
    else
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "per"),
                       "must be one of second, minute, hour, got \"%s\"", per);
}

static void cfg__anomaly(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    rule_anomaly_cfg_t *a = &r->rule.u.anomaly;
    char dir[16], p[256];

    if (gw_json_str(obj, "direction", path, dir, sizeof(dir), "above", 0, el) >= 0) {
        if (strcmp(dir, "above") == 0 || strcmp(dir, "below") == 0)
            a->above = dir[0] == 'a';
        else
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "direction"),
                           "must be \"above\" or \"below\", got \"%s\"", dir);
    }
    gw_json_num(obj, "k", path, &a->k, a->k, 0, el);
    gw_json_num(obj, "min_delta", path, &a->min_delta, 0, 0, el);
    gw_json_num(obj, "alpha", path, &a->alpha, a->alpha, 0, el);
    cfg__int(obj, "learn_weeks", path, &a->learn_weeks, 1, 1000, el);
    cfg__int(obj, "utc_offset_min", path, &a->utc_offset_min, -840, 840, el);
    gw_json_num(obj, "hysteresis", path, &r->rule.alarm.hysteresis, 0, 0, el);
    cfg__ms(obj, "for_ms", path, &r->rule.alarm.for_ms, 0, MAX_MS, el);
}

static void cfg__trend(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    rule_trend_cfg_t *t = &r->rule.u.trend;
    const cJSON *z = cJSON_GetObjectItemCaseSensitive(obj, "zones");
    char p[256], model[16];
    long long days;

    if (gw_json_str(obj, "iso10816", path, r->iso10816, sizeof(r->iso10816), "", 0, el) > 0 &&
        rule_iso10816_zones(r->iso10816, t->zones) != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "iso10816"),
                       "must be one of 10816-1:I, 10816-1:II, 10816-1:III, 10816-1:IV, "
                       "10816-3:1:rigid, 10816-3:1:flexible, 10816-3:2:rigid, "
                       "10816-3:2:flexible, got \"%s\"",
                       r->iso10816);
    if (z) {
        gw_json_path_key(p, sizeof(p), path, "zones");
        if (r->iso10816[0])
            gw_errlist_add(el, p, "give either \"zones\" or \"iso10816\", not both");
        else if (!cJSON_IsArray(z) || cJSON_GetArraySize(z) != 3)
            gw_errlist_add(el, p, "must be an array of 3 numbers (A/B, B/C, C/D)");
        else
            for (int i = 0; i < 3; i++) {
                const cJSON *e = cJSON_GetArrayItem(z, i);
                if (!cJSON_IsNumber(e) || !(e->valuedouble > 0))
                    gw_errlist_add(el, p, "must be an array of 3 numbers > 0");
                else
                    t->zones[i] = e->valuedouble;
            }
    }
    t->limit = t->zones[2]; /* the C/D boundary unless told otherwise */
    if (gw_json_num(obj, "limit", path, &t->limit, t->limit, 0, el) == 0 && t->zones[2] == 0)
        gw_errlist_add(el, path, "a trend rule needs \"limit\" (or zones to take C/D from)");
    cfg__int(obj, "smooth_n", path, &t->smooth_n, 1, RULE_SMOOTH_MAX, el);
    cfg__ms(obj, "day_ms", path, &t->day_ms, 1000, MAX_MS, el);
    cfg__int(obj, "window_days", path, &t->window_days, 3, RULE_TREND_MAX_DAYS, el);
    cfg__int(obj, "min_days", path, &t->min_days, 3, RULE_TREND_MAX_DAYS, el);
    days = t->horizon_ms / DAY_MS;
    if (gw_json_int(obj, "horizon_days", path, &days, days, 1, 365, 0, el) > 0)
        t->horizon_ms = days * DAY_MS;
    gw_json_num(obj, "confidence", path, &t->confidence, t->confidence, 0, el);
    gw_json_num(obj, "ewma_lambda", path, &t->ewma_lambda, t->ewma_lambda, 0, el);
    gw_json_num(obj, "ewma_L", path, &t->ewma_L, t->ewma_L, 0, el);
    cfg__int(obj, "learn_n", path, &t->learn_n, 2, 10000000, el);
    if (gw_json_str(obj, "model", path, model, sizeof(model), "auto", 0, el) >= 0) {
        if (strcmp(model, "linear") == 0)
            t->model = RULE_MODEL_LINEAR;
        else if (strcmp(model, "exponential") == 0)
            t->model = RULE_MODEL_EXP;
        else if (strcmp(model, "knee") == 0)
            t->model = RULE_MODEL_KNEE;
        else if (strcmp(model, "auto") == 0)
            t->model = RULE_MODEL_AUTO;
        else
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "model"),
                           "must be one of linear, exponential, knee, auto, got \"%s\"", model);
    }
    t->floor_set = gw_json_num(obj, "floor", path, &t->floor, 0, 0, el) > 0;
    gw_json_num(obj, "hysteresis", path, &t->hysteresis, t->hysteresis, 0, el);
    cfg__int(obj, "clear_days", path, &t->clear_days, 1, RULE_TREND_MAX_DAYS, el);
    cfg__int(obj, "stuck_n", path, &t->stuck_n, 0, 100000, el);
    gw_json_bool(obj, "model_uncertainty", path, &t->model_uncertainty, 0, el);
    gw_json_num(obj, "line_half_life_days", path, &t->line_half_life, 0, 0, el);
    r->nwith =
        gw__cfg_strs(obj, "with", path, &r->with[0][0], sizeof(r->with[0]), RULE_WEAR_MAX - 1, el);
    days = t->central_ms / DAY_MS;
    if (gw_json_int(obj, "central_horizon_days", path, &days, days, 0, 365, 0, el) > 0)
        t->central_ms = days * DAY_MS;
}

/* The kind's own keys into r->rule (defaults already there). */
static void cfg__kind_params(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    rule_threshold_cfg_t *al = &r->rule.alarm;

    switch (r->kind) {
    case RULE_THRESHOLD:
        cfg__above_below(r, obj, path, el);
        gw_json_num(obj, "hysteresis", path, &al->hysteresis, 0, 0, el);
        cfg__ms(obj, "for_ms", path, &al->for_ms, 0, MAX_MS, el);
        break;
    case RULE_STATE:
        cfg__state(r, obj, path, el);
        break;
    case RULE_STALE:
        cfg__ms(obj, "after_ms", path, &r->rule.u.stale.after_ms, 1, MAX_MS, el);
        break;
    case RULE_RATE:
        cfg__rate(r, obj, path, el);
        break;
    case RULE_COUNTER:
        if (gw_json_num(obj, "limit", path, &al->limit, 0, 1, el) >= 0 && !(al->limit > 0))
            gw_errlist_add(el, path, "limit: must be > 0");
        gw_json_num(obj, "wrap", path, &r->rule.u.counter.wrap, r->rule.u.counter.wrap, 0, el);
        break;
    case RULE_ANOMALY:
        cfg__anomaly(r, obj, path, el);
        break;
    case RULE_TREND:
        cfg__trend(r, obj, path, el);
        break;
    case RULE_KIND_COUNT:
        break;
    }
    /* The kinds judged by the threshold state machine with a value that can
     * fall back (not stale: a good sample is the end; not counter: only a
     * re-arm lowers it) take a clear delay. */
    if (r->kind == RULE_THRESHOLD || r->kind == RULE_STATE || r->kind == RULE_RATE ||
        r->kind == RULE_ANOMALY)
        cfg__ms(obj, "clear_for_ms", path, &al->clear_for_ms, 0, MAX_MS, el);
}

/* Default title: what fires, in a few words. */
static void cfg__title(gw_rule_cfg_t *r)
{
    const rule_cfg_t *c = &r->rule;

    switch (r->kind) {
    case RULE_THRESHOLD:
        snprintf(r->title, sizeof(r->title), "%s: %s %s %g", r->device, r->point,
                 c->alarm.above ? "above" : "below", c->alarm.limit);
        break;
    case RULE_TREND:
        snprintf(r->title, sizeof(r->title), "%s: %s predicted to reach %g", r->device, r->point,
                 c->u.trend.limit);
        break;
    case RULE_STALE:
        snprintf(r->title, sizeof(r->title), "%s: offline (no good %s reading)", r->device,
                 r->point);
        break;
    default:
        snprintf(r->title, sizeof(r->title), "%s: %s %s (%s)", r->device, r->point,
                 rule_kind_name(r->kind), r->name);
        break;
    }
}

/* priority, category, work_type, title, with the defaults of the header
 * (the default title comes later, once the limits are known). */
static void cfg__metadata(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    char p[256], prio[16];
    int life;

    gw_json_str(obj, "category", path, r->category, sizeof(r->category), "mechanical", 0, el);
    life = strcmp(r->category, "fire") == 0 || strcmp(r->category, "life_safety") == 0;
    if (gw_json_str(obj, "priority", path, prio, sizeof(prio), life ? "critical" : "medium", 0,
                    el) >= 0 &&
        gw_priority_parse(prio, &r->priority) != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "priority"),
                       "must be one of critical, high, medium, low, got \"%s\"", prio);
    gw_json_str(obj, "work_type", path, r->work_type, sizeof(r->work_type),
                life                      ? "emergency"
                : r->kind == RULE_TREND   ? "preventive"
                : r->kind == RULE_COUNTER ? "preventive"
                                          : "corrective",
                0, el);
    if (strcmp(r->work_type, "corrective") && strcmp(r->work_type, "preventive") &&
        strcmp(r->work_type, "emergency"))
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "work_type"),
                       "must be one of corrective, preventive, emergency, got \"%s\"",
                       r->work_type);
    gw_json_str_chars(obj, "title", path, r->title, sizeof(r->title), GW_TITLE_MAX, "", 0, el);
}

void gw__cfg_rule(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    char p[256], kind[32], err[200];
    size_t before = el->n;

    gw_json_str(obj, "name", path, r->name, sizeof(r->name), NULL, 1, el);
    gw__cfg_check_name(r->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    gw_json_str(obj, "device", path, r->device, sizeof(r->device), NULL, 1, el);
    gw_json_str(obj, "point", path, r->point, sizeof(r->point), NULL, 1, el);
    gw_json_str(obj, "kind", path, kind, sizeof(kind), "threshold", 0, el);
    if (rule_kind_parse(kind, &r->kind) != 0) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "kind"),
                       "must be one of threshold, state, stale, rate, counter, anomaly, trend, "
                       "got \"%s\"",
                       kind);
        return;
    }
    gw_json_check_keys(obj, path, kind_keys[r->kind], el);
    rule_cfg_defaults(&r->rule, r->kind);
    cfg__metadata(r, obj, path, el);
    if (strcmp(r->category, "fire") == 0 || strcmp(r->category, "life_safety") == 0)
        r->rule.alarm.for_ms = 0; /* a default: an explicit for_ms below still applies */
    {
        long long v;
        if (gw_json_int(obj, "update_ms", path, &v, r->rule.alarm.update_ms, 0, MAX_MS, 0, el) > 0)
            r->rule.alarm.update_ms = v;
    }
    cfg__kind_params(r, obj, path, el);
    if (el->n == before && rule_validate(&r->rule, err, sizeof(err)) != 0)
        gw_errlist_add(el, path, "%s", err);
    if (!r->title[0])
        cfg__title(r);
}

void gw__cfg_rules_state(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    static const char *const keys[] = {"path", "save_interval_s", NULL};
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "rules_state");
    char tmp[PATH_MAX];

    if (o && !cJSON_IsObject(o)) {
        gw_errlist_add(el, "rules_state", "must be an object");
        o = NULL;
    }
    if (o)
        gw_json_check_keys(o, "rules_state", keys, el);
    gw_json_str(o, "path", "rules_state", tmp, sizeof(tmp), "rules.state", 0, el);
    gw__cfg_resolve(cfg->rules_state_path, sizeof(cfg->rules_state_path), cfg->state_dir, tmp);
    gw_json_int_to(o, "save_interval_s", "rules_state", &cfg->rules_state_save_s, 300, 1, 86400, 0,
                   el);
}

/* The rule named name on device dev (index), or -1; *other: the index of a
 * rule of that name on another device, -1 none. */
static int cfg__rule_named(const gw_config_t *cfg, const char *dev, const char *name, int *other)
{
    *other = -1;
    for (size_t j = 0; j < cfg->nrules; j++) {
        if (strcmp(cfg->rules[j].name, name) != 0)
            continue;
        if (strcmp(cfg->rules[j].device, dev) == 0)
            return (int)j;
        *other = (int)j;
    }
    return -1;
}

/* rules[i].with[k] = name: the member's index, or -1 with the error added. */
static int cfg__wear_member(gw_config_t *cfg, size_t i, int k, gw_errlist_t *el)
{
    const gw_rule_cfg_t *r = &cfg->rules[i], *m;
    const char *name = r->with[k];
    char p[128];
    int j, other;

    snprintf(p, sizeof(p), "rules[%zu].with[%d]", i, k);
    j = cfg__rule_named(cfg, r->device, name, &other);
    if (j < 0 && other >= 0) {
        gw_errlist_add(el, p,
                       "rule \"%s\" (rules[%d]) is on device \"%s\", not \"%s\": only the trends "
                       "of one device share an order",
                       name, other, cfg->rules[other].device, r->device);
        return -1;
    }
    if (j < 0) {
        gw_errlist_add(el, p, "no rule \"%s\" on device \"%s\"", name, r->device);
        return -1;
    }
    m = &cfg->rules[j];
    if ((size_t)j == i) {
        gw_errlist_add(el, p, "\"%s\" is this rule itself", name);
        return -1;
    }
    if (m->kind != RULE_TREND) {
        gw_errlist_add(el, p, "rule \"%s\" (rules[%d]) is a %s rule: only trend rules combine",
                       name, j, rule_kind_name(m->kind));
        return -1;
    }
    for (int q = 0; q < m->nwith; q++) {
        if (strcmp(m->with[q], r->name) == 0) {
            gw_errlist_add(el, p,
                           "rules \"%s\" and \"%s\" name each other in \"with\": a cycle; "
                           "give \"with\" to one of them only",
                           r->name, name);
            return -1;
        }
    }
    if (m->nwith > 0) {
        gw_errlist_add(el, p,
                       "rule \"%s\" (rules[%d]) has its own \"with\": combinations do not nest; "
                       "list all the trends in one rule's \"with\"",
                       name, j);
        return -1;
    }
    if (m->wear_lead >= 0 && (size_t)m->wear_lead != i) {
        gw_errlist_add(el, p,
                       "rule \"%s\" is already in the \"with\" of rule \"%s\" (rules[%d]): a "
                       "trend shares one order",
                       name, cfg->rules[m->wear_lead].name, m->wear_lead);
        return -1;
    }
    if (m->wear_lead >= 0) {
        gw_errlist_add(el, p, "\"%s\" is listed twice", name);
        return -1;
    }
    return j;
}

void gw__cfg_rules_wear(gw_config_t *cfg, gw_errlist_t *el)
{
    for (size_t i = 0; i < cfg->nrules; i++) {
        cfg->rules[i].wear_lead = -1;
        cfg->rules[i].nwear = 0;
    }
    for (size_t i = 0; i < cfg->nrules; i++) {
        gw_rule_cfg_t *r = &cfg->rules[i];
        if (r->nwith == 0 || r->device_idx < 0)
            continue;
        r->wear_lead = (int)i;
        r->wear[r->nwear++] = (int)i;
        for (int k = 0; k < r->nwith; k++) {
            int j = cfg__wear_member(cfg, i, k, el);
            if (j < 0)
                continue;
            cfg->rules[j].wear_lead = (int)i;
            r->wear[r->nwear++] = j;
        }
    }
}
