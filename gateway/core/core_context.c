/*
 * core_context.c: what else the device says, for a preventive order's
 * evidence. A lift's wear shows in more than its vibration: the traction
 * motor's temperature and the door operator's cycles (a wear counter) are
 * read by the same device. When a trend rule opens or updates its order,
 * the evidence gains "device_context": for every other point of the device
 * that a rule watches, its latest good value and unit, the rule, and what
 * that rule knows (a counter's count since the last service against its
 * limit; a trend's own predicted crossing and earliest date, so the earlier
 * of two predictions is in front of the engineer). Plain values, no score.
 * Design in docs/prediction.md, "Lifts: the other signs of wear". Loop
 * thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/core/core_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ms since the epoch as an ISO-8601 UTC string into o[key]. */
static void context__iso(cJSON *o, const char *key, int64_t ms)
{
    char buf[32];
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || !gmtime_r(&s, &tm))
        return;
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(o, key, buf);
}

/* One other rule's point and what the rule knows, into ctx. */
static void context__rule(cJSON *ctx, const gw_runtime_t *rt, const gw_rule_rt_t *o)
{
    const gw_device_cfg_t *dev = &rt->cfg->devices[o->cfg->device_idx];
    const drv_point_t *pt = &dev->points[o->cfg->point_idx];
    const gw_sample_t *s = &rt->points[o->point_id].last;
    const rule_cfg_t *rc = &o->cfg->rule;
    cJSON *e = cJSON_GetObjectItemCaseSensitive(ctx, pt->name);

    if (!e) {
        e = cJSON_AddObjectToObject(ctx, pt->name);
        if (!e)
            return;
        if (s->quality == GW_Q_GOOD && isfinite(s->value))
            cJSON_AddNumberToObject(e, "value", s->value);
        else
            cJSON_AddNullToObject(e, "value");
        cJSON_AddStringToObject(e, "unit", pt->unit);
    }
    if (rc->kind == RULE_COUNTER) {
        cJSON_AddNumberToObject(e, "since_service", o->st.u.counter.acc);
        cJSON_AddNumberToObject(e, "service_limit", rc->alarm.limit);
    } else if (rc->kind == RULE_TREND) {
        cJSON_AddStringToObject(e, "trend_rule", o->cfg->name);
        context__iso(e, "predicted_crossing", o->st.u.trend.pred_c);
        context__iso(e, "predicted_earliest", o->st.u.trend.pred_lo);
        cJSON_AddBoolToObject(e, "trend_order_open", o->st.u.trend.firing);
    } else {
        cJSON_AddStringToObject(e, "rule", o->cfg->name);
        cJSON_AddBoolToObject(e, "firing", o->st.alarm.st == RULE_ST_FIRING);
    }
}

char *core__evidence_context(const gw_runtime_t *rt, const gw_rule_rt_t *r, char *evidence)
{
    cJSON *root, *ctx;
    char *out;

    if (!evidence || r->cfg->rule.kind != RULE_TREND)
        return evidence;
    root = cJSON_Parse(evidence);
    ctx = root ? cJSON_AddObjectToObject(root, "device_context") : NULL;
    if (!ctx) {
        cJSON_Delete(root);
        return evidence; /* the order goes out without the context */
    }
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        const gw_rule_rt_t *o = &rt->rules[i];
        if (o->cfg->device_idx == r->cfg->device_idx && o->cfg->point_idx != r->cfg->point_idx)
            context__rule(ctx, rt, o);
    }
    out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!out)
        return evidence;
    free(evidence);
    return out;
}
