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

static const rule_state_t *rules__st(const void *arg, size_t i)
{
    return &((const gw_runtime_t *)arg)->rules[i].st;
}

/* Rule r acted with *a: the ledger operation of its order, or, for a trend
 * that shares an order (core_wear.c), of the combination's order. */
static void rules__action(gw_core_t *core, const gw_rule_rt_t *r, const rule_action_t *a)
{
    const gw_config_t *c = core->rt->cfg;
    const gw_device_cfg_t *dev = &c->devices[r->cfg->device_idx];
    const drv_point_t *pt = &dev->points[r->cfg->point_idx];
    const gw_rule_cfg_t *rc = r->cfg;
    const char *title = rc->title;
    rule_action_t w;
    size_t driver;
    char *evidence;

    if (rc->wear_lead >= 0) {
        gw_wear_action(c, (size_t)(r - core->rt->rules), a, rules__st, core->rt, &w, &evidence,
                       &driver);
        a = &w;
        rc = &c->rules[rc->wear_lead]; /* the order is the combination's */
        title = c->rules[driver].title;
    } else {
        evidence = gw_rule_evidence(rc, pt->name, pt->unit, a);
    }
    evidence = core__evidence_context(core->rt, r, evidence);
    static const int kinds[] = {0, LEDGER_OP_TRIGGER, LEDGER_OP_TOUCH, LEDGER_OP_CLEAR};
    ledger_trigger_t t = {
        .site = c->site_id,
        .device = dev->name,
        .rule = rc->name,
        .title = title,
        .description = NULL,
        .category = rc->category,
        .work_type = rc->work_type,
        .priority = a->has_priority ? a->priority : rc->priority,
        .evidence_json = evidence,
        .ts_ms = a->ts_ms,
        .building = dev->building,
        .floor = dev->floor,
        .room = dev->room,
    };
    ledger_op_trigger_t *op = ledger_op_trigger_new(kinds[a->kind], &t);

    if (a->kind == RULE_ACT_OPEN)
        gw_log_notice("rules", "%s/%s fired (%s): %s = %g %s (limit %g)", dev->name, rc->name,
                      rule_kind_name(rc->kind), pt->name, a->value, pt->unit, a->limit);
    else if (a->kind == RULE_ACT_RESOLVE)
        gw_log_notice("rules", "%s/%s cleared: %s = %g %s", dev->name, rc->name, pt->name, a->value,
                      pt->unit);
    if (op && core->ledger)
        ledger_worker_submit(core->ledger, &op->hdr);
    else if (op)
        gw_msg_free(&op->hdr);
    else
        gw_log_error("rules", "out of memory: %s/%s action lost", dev->name, rc->name);
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

/* 1 when a rule of the combination led by lead is firing. */
static int rules__wear_firing(const gw_runtime_t *rt, const gw_rule_cfg_t *lead)
{
    for (int k = 0; k < lead->nwear; k++) {
        if (rt->rules[lead->wear[k]].st.u.trend.firing)
            return 1;
    }
    return 0;
}

/* Whether rule r's order is active in ev (*o: the order, or NULL), or -1:
 * leave r as it is. A trend that shares an order (core_wear.c) follows the
 * combination's order: with it active, the members keep what they judged,
 * unless none fires (the state was lost), when the lead fires again so that
 * the order clears once the wear is gone; with it gone, every member
 * returns to normal. */
static int rules__active(const gw_runtime_t *rt, const ledger_ev_active_t *ev,
                         const gw_rule_rt_t *r, const ledger_active_order_t **o)
{
    const gw_rule_cfg_t *id = r->cfg->wear_lead >= 0 ? &rt->cfg->rules[r->cfg->wear_lead] : r->cfg;
    int active;

    *o = rules__order(ev, rt->cfg->site_id, r->cfg->device, id->name);
    active = *o && !(*o)->cleared;
    if (active && id != r->cfg)
        return -1;
    if (active && r->cfg->nwear > 0 && rules__wear_firing(rt, r->cfg))
        return -1;
    return active;
}

/* A trend now named in another's "with" whose own order is still active and
 * not cleared (it had one before the config changed): its condition is the
 * shared order's now, so its own order is cleared (the team closes it). */
static void rules__clear_own(gw_core_t *c, const ledger_ev_active_t *ev, const gw_rule_rt_t *r)
{
    const gw_config_t *cfg = c->rt->cfg;
    const gw_rule_cfg_t *lead = &cfg->rules[r->cfg->wear_lead];
    const ledger_active_order_t *o = rules__order(ev, cfg->site_id, r->cfg->device, r->cfg->name);
    char evidence[2 * GW_NAME_MAX + 128];
    ledger_op_trigger_t *op;

    if (lead == r->cfg || !o || o->cleared || !c->ledger)
        return;
    snprintf(evidence, sizeof(evidence),
             "{\"shared_order_rule\":\"%s\",\"reason\":\"this trend now shares the order of "
             "rule %s (its with)\"}",
             lead->name, lead->name);
    ledger_trigger_t t = {
        .site = cfg->site_id,
        .device = r->cfg->device,
        .rule = r->cfg->name,
        .title = r->cfg->title,
        .category = r->cfg->category,
        .work_type = r->cfg->work_type,
        .priority = r->cfg->priority,
        .evidence_json = evidence,
        .ts_ms = gw_wall_ms(),
    };
    op = ledger_op_trigger_new(LEDGER_OP_CLEAR, &t);
    if (!op) {
        gw_log_error("rules", "out of memory: %s/%s's own order not cleared", r->cfg->device,
                     r->cfg->name);
        return;
    }
    gw_log_notice("rules", "%s/%s shares the order of %s now: its own order is cleared",
                  r->cfg->device, r->cfg->name, lead->name);
    ledger_worker_submit(c->ledger, &op->hdr);
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
        const ledger_active_order_t *o;
        int active = rules__active(rt, ev, r, &o);
        if (r->cfg->wear_lead >= 0)
            rules__clear_own(c, ev, r);
        if (active < 0)
            continue;
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
            /* A trend sharing another's order: an order of its own closed
             * is one from before it shared (rules__clear_own); the shared
             * order's closing re-arms it. */
            if (r->cfg->wear_lead >= 0 && (size_t)r->cfg->wear_lead != i)
                return 0;
            rule_rearm(&r->cfg->rule, &r->st);
            /* A shared order closed: the machine was serviced, every trend
             * of the combination starts again. */
            for (int k = 1; k < r->cfg->nwear; k++)
                rule_rearm(&rt->rules[r->cfg->wear[k]].cfg->rule, &rt->rules[r->cfg->wear[k]].st);
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
