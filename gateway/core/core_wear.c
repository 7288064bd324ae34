/*
 * core_wear.c: trend rules that share one preventive order (gw_rules.h,
 * gw_wear_action): a trend's "with" names other trend rules of the same
 * device (a lift's motor temperature beside its machine vibration). Each is
 * judged by its own trend rule as if alone; their actions go to one order,
 * the one of the rule that has "with" (rules/rule_wear.c decides open,
 * update or resolve, and which member drives it). The evidence is the
 * acting trend's own, plus "wear": which member drives the order, every
 * member's latest level, predicted crossing, earliest and latest dates and
 * model, and the device's wear counters (a door operator's cycles since its
 * service) beside them. Used by the daemon (core_rules.c) and plantroomctl
 * replay, so both raise the same order. Design in docs/prediction.md,
 * "Lifts: the other signs of wear". Pure: no I/O.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/base/gw_clock.h"
#include "gateway/core/gw_rules.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#define WEAR_HOW                                                                                   \
    "one order for the machine: it opens when the first of these trends would open its own "       \
    "order (its earliest date within its own horizon), stays open while any of them would, and "   \
    "resolves when the last has recovered; driven_by is the open trend whose earliest date "       \
    "comes first (one at its limit before any)"

static const char *wear__unit(const gw_config_t *cfg, const gw_rule_cfg_t *r)
{
    if (r->device_idx < 0 || r->point_idx < 0)
        return "";
    return cfg->devices[r->device_idx].points[r->point_idx].unit;
}

/* One member trend, as it stands, into arr. */
static void wear__member(cJSON *arr, const gw_config_t *cfg, const gw_rule_cfg_t *r,
                         const rule_state_t *st)
{
    cJSON *e = cJSON_CreateObject();
    rule_trend_outlook_t o;

    if (!e)
        return;
    rule_trend_outlook(&r->rule, st, &o);
    cJSON_AddStringToObject(e, "rule", r->name);
    cJSON_AddStringToObject(e, "point", r->point);
    cJSON_AddStringToObject(e, "unit", wear__unit(cfg, r));
    cJSON_AddNumberToObject(e, "limit", o.limit);
    cJSON_AddNumberToObject(e, "horizon_days", (double)r->rule.u.trend.horizon_ms / 86400000.0);
    if (isfinite(o.level))
        cJSON_AddNumberToObject(e, "daily_level", o.level);
    else
        cJSON_AddNullToObject(e, "daily_level");
    cJSON_AddBoolToObject(e, "at_limit", o.at_limit);
    cJSON_AddBoolToObject(e, "open", o.firing);
    gw_json_add_time(e, "predicted_crossing", o.crossing_ms);
    gw_json_add_time(e, "earliest", o.earliest_ms);
    gw_json_add_time(e, "latest", o.latest_ms);
    if (o.model >= 0)
        cJSON_AddStringToObject(e, "model", rule_model_name((rule_trend_model_t)o.model));
    else
        cJSON_AddNullToObject(e, "model");
    gw_json_add_time(e, "as_of", o.as_of_ms);
    cJSON_AddItemToArray(arr, e);
}

/* The "wear" object of the lead's order into root. */
static void wear__evidence(cJSON *root, const gw_config_t *cfg, const gw_rule_cfg_t *lead,
                           size_t acting, int driver, gw_rule_state_fn st, const void *arg)
{
    const gw_rule_cfg_t *d = &cfg->rules[lead->wear[driver]];
    cJSON *w = cJSON_AddObjectToObject(root, "wear"), *arr, *cnt;

    if (!w)
        return;
    cJSON_AddStringToObject(w, "order_rule", lead->name);
    cJSON_AddStringToObject(w, "driven_by", d->name);
    cJSON_AddStringToObject(w, "driven_by_point", d->point);
    cJSON_AddStringToObject(w, "updated_by", cfg->rules[acting].name);
    cJSON_AddStringToObject(w, "how", WEAR_HOW);
    arr = cJSON_AddArrayToObject(w, "trends");
    for (int k = 0; arr && k < lead->nwear; k++)
        wear__member(arr, cfg, &cfg->rules[lead->wear[k]], st(arg, (size_t)lead->wear[k]));
    cnt = cJSON_AddArrayToObject(w, "wear_counters");
    for (size_t j = 0; cnt && j < cfg->nrules; j++) {
        const gw_rule_cfg_t *c = &cfg->rules[j];
        cJSON *e;
        if (c->kind != RULE_COUNTER || c->device_idx != lead->device_idx ||
            !(e = cJSON_CreateObject()))
            continue;
        cJSON_AddStringToObject(e, "rule", c->name);
        cJSON_AddStringToObject(e, "point", c->point);
        cJSON_AddNumberToObject(e, "since_service", st(arg, j)->u.counter.acc);
        cJSON_AddNumberToObject(e, "service_limit", c->rule.alarm.limit);
        cJSON_AddItemToArray(cnt, e);
    }
}

rule_action_kind_t gw_wear_action(const gw_config_t *cfg, size_t i, const rule_action_t *a,
                                  gw_rule_state_fn st, const void *arg, rule_action_t *out,
                                  char **evidence, size_t *driver_rule)
{
    const gw_rule_cfg_t *r = &cfg->rules[i], *lead = &cfg->rules[r->wear_lead];
    rule_wear_member_t m[RULE_WEAR_MAX];
    int acting = 0, driver;
    cJSON *root;

    for (int k = 0; k < lead->nwear; k++) {
        m[k].cfg = &cfg->rules[lead->wear[k]].rule;
        m[k].st = st(arg, (size_t)lead->wear[k]);
        if ((size_t)lead->wear[k] == i)
            acting = k;
    }
    rule_wear_combine(m, lead->nwear, acting, a, out, &driver);
    *driver_rule = (size_t)lead->wear[driver];
    root = gw_rule_evidence_tree(r, r->point, wear__unit(cfg, r), out);
    if (root)
        wear__evidence(root, cfg, lead, i, driver, st, arg);
    *evidence = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return out->kind;
}
