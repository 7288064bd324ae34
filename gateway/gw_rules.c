/*
 * gw_rules.c: run the rules of a device on its latest samples and turn
 * their actions into ledger operations (open, touch, clear a work order)
 * with evidence. The rules themselves are pure (rules/). Loop thread only.
 */
#include "gateway/gw_daemon_int.h"
#include "gateway/gw_clock.h"
#include "gateway/gw_log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rules ------------------------------------------------------------- */

static char *daemon__evidence(const gw_rule_rt_t *r, const drv_point_t *pt, const rule_action_t *a)
{
    char ts[32];
    cJSON *o = cJSON_CreateObject(), *p;
    char *text;

    cJSON_AddStringToObject(o, "point", pt->name);
    cJSON_AddNumberToObject(o, "value", a->value);
    cJSON_AddStringToObject(o, "unit", pt->unit);
    cJSON_AddNumberToObject(o, "peak", a->peak);
    cJSON_AddStringToObject(o, "since", gw_format_iso8601(a->since_ms, ts, sizeof(ts)));
    cJSON_AddNumberToObject(o, "held_s", (double)a->held_ms / 1000.0);
    cJSON_AddStringToObject(o, "at", gw_format_iso8601(a->ts_ms, ts, sizeof(ts)));
    p = cJSON_AddObjectToObject(o, "rule");
    cJSON_AddStringToObject(p, "kind", "threshold");
    cJSON_AddNumberToObject(p, r->cfg->threshold.above ? "above" : "below",
                            r->cfg->threshold.limit);
    cJSON_AddNumberToObject(p, "hysteresis", r->cfg->threshold.hysteresis);
    cJSON_AddNumberToObject(p, "for_ms", (double)r->cfg->threshold.for_ms);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void daemon__rule_action(gw_daemon_t *d, const gw_rule_rt_t *r, const rule_action_t *a)
{
    const gw_config_t *c = d->rt->cfg;
    const gw_device_cfg_t *dev = &c->devices[r->cfg->device_idx];
    const drv_point_t *pt = &dev->points[r->cfg->point_idx];
    char *evidence = daemon__evidence(r, pt, a);
    static const int kinds[] = {0, LEDGER_OP_TRIGGER, LEDGER_OP_TOUCH, LEDGER_OP_CLEAR};
    ledger_trigger_t t = {
        .site = c->site_id,
        .device = dev->name,
        .rule = r->cfg->name,
        .title = r->cfg->title,
        .description = NULL,
        .category = r->cfg->category,
        .work_type = r->cfg->work_type,
        .priority = r->cfg->priority,
        .evidence_json = evidence,
        .ts_ms = a->ts_ms,
        .building = dev->building,
        .floor = dev->floor,
        .room = dev->room,
    };
    ledger_op_trigger_t *op = ledger_op_trigger_new(kinds[a->kind], &t);

    if (a->kind == RULE_ACT_OPEN)
        gw_log_notice("rules", "%s/%s fired: %s = %g %s (limit %g, held %.1f s)", dev->name,
                      r->cfg->name, pt->name, a->value, pt->unit, a->limit,
                      (double)a->held_ms / 1000.0);
    else if (a->kind == RULE_ACT_RESOLVE)
        gw_log_notice("rules", "%s/%s cleared: %s = %g %s", dev->name, r->cfg->name, pt->name,
                      a->value, pt->unit);
    if (op)
        ledger_worker_submit(d->ledger, &op->hdr);
    else
        gw_log_error("rules", "out of memory: %s/%s action lost", dev->name, r->cfg->name);
    free(evidence);
}

void gw__run_rules(gw_daemon_t *d, uint32_t device_idx)
{
    gw_runtime_t *rt = d->rt;
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        gw_rule_rt_t *r = &rt->rules[i];
        rule_action_t a;
        if ((uint32_t)r->cfg->device_idx != device_idx)
            continue;
        if (rule_threshold_eval(&r->cfg->threshold, &r->st, &rt->points[r->point_id].last, &a) !=
            RULE_ACT_NONE)
            daemon__rule_action(d, r, &a);
    }
}
