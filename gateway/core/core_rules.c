/*
 * core_rules.c: run the rules of a device on its latest samples and turn
 * their actions into ledger operations (open, touch, clear a work order)
 * with evidence (core_evidence.c); re-arm a counter or trend rule when its
 * work order is closed; reconcile the rules with the ledger's active work
 * orders at start and after a reload (a rule whose state is older than the
 * ledger learns of its order, so that it clears it when the condition is
 * gone and retriggers it when it returns). Every transition into or out of
 * firing asks for the rule state to be saved soon (core_rulesave.c). The
 * rules themselves are pure (rules/). Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/core/core_int.h"
#include "gateway/core/gw_rules.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rules__action(gw_core_t *core, const gw_rule_rt_t *r, const rule_action_t *a)
{
    const gw_config_t *c = core->rt->cfg;
    const gw_device_cfg_t *dev = &c->devices[r->cfg->device_idx];
    const drv_point_t *pt = &dev->points[r->cfg->point_idx];
    char *evidence =
        core__evidence_context(core->rt, r, gw_rule_evidence(r->cfg, pt->name, pt->unit, a));
    static const int kinds[] = {0, LEDGER_OP_TRIGGER, LEDGER_OP_TOUCH, LEDGER_OP_CLEAR};
    ledger_trigger_t t = {
        .site = c->site_id,
        .device = dev->name,
        .rule = r->cfg->name,
        .title = r->cfg->title,
        .description = NULL,
        .category = r->cfg->category,
        .work_type = r->cfg->work_type,
        .priority = a->has_priority ? a->priority : r->cfg->priority,
        .evidence_json = evidence,
        .ts_ms = a->ts_ms,
        .building = dev->building,
        .floor = dev->floor,
        .room = dev->room,
    };
    ledger_op_trigger_t *op = ledger_op_trigger_new(kinds[a->kind], &t);

    if (a->kind == RULE_ACT_OPEN)
        gw_log_notice("rules", "%s/%s fired (%s): %s = %g %s (limit %g)", dev->name, r->cfg->name,
                      rule_kind_name(r->cfg->kind), pt->name, a->value, pt->unit, a->limit);
    else if (a->kind == RULE_ACT_RESOLVE)
        gw_log_notice("rules", "%s/%s cleared: %s = %g %s", dev->name, r->cfg->name, pt->name,
                      a->value, pt->unit);
    if (op && core->ledger)
        ledger_worker_submit(core->ledger, &op->hdr);
    else if (op)
        gw_msg_free(&op->hdr);
    else
        gw_log_error("rules", "out of memory: %s/%s action lost", dev->name, r->cfg->name);
    free(evidence);
}

void core__run_rules(gw_core_t *c, uint32_t device_idx)
{
    gw_runtime_t *rt = c->rt;
    const gw_device_rt_t *dev;

    if (device_idx >= rt->cfg->ndevices)
        return;
    dev = &rt->devs[device_idx];
    for (uint32_t k = 0; k < dev->rules_n; k++) {
        gw_rule_rt_t *r = &rt->rules[rt->dev_rules[dev->rules_first + k]];
        rule_action_t a;
        /* Every sample goes in, whatever its quality: the rule decides (a
         * stale rule needs the comm errors; the others ignore them). */
        if (rule_eval(&r->cfg->rule, &r->st, &rt->points[r->point_id].last, &a) == RULE_ACT_NONE)
            continue;
        rules__action(c, r, &a);
        if (a.kind == RULE_ACT_OPEN || a.kind == RULE_ACT_RESOLVE)
            core__rules_state_soon(c);
    }
}

void gw_core_reconcile(gw_core_t *c)
{
    ledger_op_active_t *op;

    if (!c->ledger)
        return;
    op = ledger_op_active_new(++c->active_tag);
    if (op)
        ledger_worker_submit(c->ledger, &op->hdr);
    else
        gw_log_error("rules", "out of memory: rules not reconciled with the ledger");
}

/* The active order of this site's device/rule in ev, or NULL. */
static const ledger_active_order_t *rules__order(const ledger_ev_active_t *ev, const char *site,
                                                 const char *device, const char *rule)
{
    for (size_t i = 0; i < ev->n; i++) {
        const ledger_active_order_t *o = &ev->orders[i];
        if (strcmp(o->site, site) == 0 && strcmp(o->device, device) == 0 &&
            strcmp(o->rule, rule) == 0)
            return o;
    }
    return NULL;
}

void gw_core_on_active(gw_core_t *c, const ledger_ev_active_t *ev)
{
    const gw_runtime_t *rt = c->rt;
    int64_t now = gw_mono_ms(), wall = gw_wall_ms();
    size_t changed = 0;

    if (ev->tag != c->active_tag)
        return; /* a newer question is on its way */
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        gw_rule_rt_t *r = &rt->rules[i];
        const ledger_active_order_t *o =
            rules__order(ev, rt->cfg->site_id, r->cfg->device, r->cfg->name);
        int active = o && !o->cleared;
        int64_t since = active ? o->opened_at : wall;
        int64_t held = wall - since > 0 ? wall - since : 0;
        if (!rule_reconcile(&r->cfg->rule, &r->st, active, now - held, since))
            continue;
        changed++;
        if (active)
            gw_log_notice("rules",
                          "%s/%s: its work order is active in the ledger: the rule resumes "
                          "firing and clears it when the condition is gone",
                          r->cfg->device, r->cfg->name);
        else
            gw_log_notice("rules",
                          "%s/%s: was firing with no active work order in the ledger: back to "
                          "normal; a lasting condition opens a new order",
                          r->cfg->device, r->cfg->name);
    }
    for (size_t i = 0; i < ev->n; i++) {
        const ledger_active_order_t *o = &ev->orders[i];
        if (!o->cleared && strcmp(o->site, rt->cfg->site_id) == 0 &&
            strcmp(o->device, GW_ALARM_DEVICE) == 0)
            core__alarm_orphan(c, o->rule);
    }
    gw_log_info("rules", "reconciled with the ledger: %zu active work orders, %zu rules changed",
                ev->n, changed);
    if (changed)
        core__rules_state_soon(c);
}

int gw_core_rules_rearm(gw_core_t *c, const char *device, const char *rule)
{
    gw_runtime_t *rt = c->rt;
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        gw_rule_rt_t *r = &rt->rules[i];
        if (strcmp(r->cfg->device, device) == 0 && strcmp(r->cfg->name, rule) == 0) {
            /* Service resets what counts since the last service (a counter)
             * or what a worn machine's history predicted (a trend). A
             * condition alarm (threshold, state, ...) follows the condition,
             * not the paperwork: it must clear before it fires again. */
            if (r->cfg->kind != RULE_COUNTER && r->cfg->kind != RULE_TREND)
                return 0;
            rule_rearm(&r->cfg->rule, &r->st);
            gw_log_info("rules", "%s/%s re-armed (work order closed)", device, rule);
            core__rules_state_soon(c);
            return 0;
        }
    }
    return GW_ENOENT;
}

void gw_core_on_wo_event(gw_core_t *c, const ledger_outbox_row_t *row)
{
    const cJSON *ev, *wo, *dev, *rule;
    cJSON *o;

    /* Rows come again after each reconnect: act once per row in this run. */
    if (row->id <= c->rearm_seen_id || strcmp(row->channel, "workorder") != 0)
        return;
    c->rearm_seen_id = row->id;
    o = cJSON_Parse(row->payload);
    ev = cJSON_GetObjectItemCaseSensitive(o, "event");
    wo = cJSON_GetObjectItemCaseSensitive(o, "work_order");
    dev = cJSON_GetObjectItemCaseSensitive(wo, "device");
    rule = cJSON_GetObjectItemCaseSensitive(wo, "rule");
    if (cJSON_IsString(ev) && strcmp(ev->valuestring, "closed") == 0 && cJSON_IsString(dev) &&
        cJSON_IsString(rule))
        gw_core_rules_rearm(c, dev->valuestring, rule->valuestring);
    cJSON_Delete(o);
}
