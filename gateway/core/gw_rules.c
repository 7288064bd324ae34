/*
 * gw_rules.c: run the rules of a device on its latest samples and turn
 * their actions into ledger operations (open, touch, clear a work order)
 * with evidence. The rules themselves are pure (rules/). Loop thread only.
 */
#include "gateway/gw_daemon_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/core/gw_rules.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- evidence --------------------------------------------------------- */

static void rules__iso(cJSON *o, const char *key, int64_t ms)
{
    char ts[32];
    if (ms)
        cJSON_AddStringToObject(o, key, gw_format_iso8601(ms, ts, sizeof(ts)));
    else
        cJSON_AddNullToObject(o, key);
}

/* The rule's parameters, as configured, for the evidence. */
static void rules__params(cJSON *p, const gw_rule_cfg_t *rc)
{
    const rule_cfg_t *c = &rc->rule;

    cJSON_AddStringToObject(p, "kind", rule_kind_name(c->kind));
    switch (c->kind) {
    case RULE_THRESHOLD:
    case RULE_RATE:
        cJSON_AddNumberToObject(p, c->alarm.above ? "above" : "below", c->alarm.limit);
        cJSON_AddNumberToObject(p, "hysteresis", c->alarm.hysteresis);
        if (c->kind == RULE_RATE) {
            cJSON_AddNumberToObject(p, "window_ms", (double)c->u.rate.window_ms);
            cJSON_AddNumberToObject(p, "per_ms", (double)c->u.rate.per_ms);
        }
        break;
    case RULE_STATE:
        if (c->u.state.use_bit)
            cJSON_AddNumberToObject(p, "bit", c->u.state.bit);
        else
            cJSON_AddNumberToObject(p, "equals", c->u.state.equals);
        cJSON_AddBoolToObject(p, "invert", c->u.state.invert);
        break;
    case RULE_STALE:
        cJSON_AddNumberToObject(p, "after_ms", (double)c->u.stale.after_ms);
        break;
    case RULE_COUNTER:
        cJSON_AddNumberToObject(p, "limit", c->alarm.limit);
        cJSON_AddNumberToObject(p, "wrap", c->u.counter.wrap);
        break;
    case RULE_ANOMALY:
        cJSON_AddStringToObject(p, "direction", c->u.anomaly.above ? "above" : "below");
        cJSON_AddNumberToObject(p, "k", c->u.anomaly.k);
        cJSON_AddNumberToObject(p, "min_delta", c->u.anomaly.min_delta);
        break;
    case RULE_TREND:
        cJSON_AddNumberToObject(p, "limit", c->u.trend.limit);
        if (rc->iso10816[0])
            cJSON_AddStringToObject(p, "iso10816", rc->iso10816);
        cJSON_AddNumberToObject(p, "horizon_days", (double)c->u.trend.horizon_ms / 86400000.0);
        cJSON_AddNumberToObject(p, "confidence", c->u.trend.confidence);
        cJSON_AddNumberToObject(p, "window_days", c->u.trend.window_days);
        cJSON_AddNumberToObject(p, "smooth_n", c->u.trend.smooth_n);
        return;
    default:
        break;
    }
    cJSON_AddNumberToObject(p, "for_ms", (double)c->alarm.for_ms);
}

/* The trend's prediction: dates, interval, slope, zone, change. */
static void rules__prediction(cJSON *o, const gw_rule_cfg_t *rc, const rule_action_t *a)
{
    static const char zone[] = "ABCD";
    cJSON *pr = cJSON_AddObjectToObject(o, "prediction"), *iv;

    rules__iso(pr, "crossing", a->predicted_ms);
    iv = cJSON_AddObjectToObject(pr, "interval");
    rules__iso(iv, "earliest", a->predicted_lo_ms);
    rules__iso(iv, "latest", a->predicted_hi_ms);
    cJSON_AddNumberToObject(iv, "confidence", rc->rule.u.trend.confidence);
    if (a->predicted_lo_ms)
        cJSON_AddNumberToObject(pr, "days_left",
                                (double)(a->predicted_lo_ms - a->ts_ms) / 86400000.0);
    cJSON_AddNumberToObject(pr, "slope_per_day", a->slope_per_day);
    cJSON_AddNumberToObject(pr, "days_fitted", a->ndays);
    cJSON_AddNumberToObject(o, "daily_level", a->derived);
    cJSON_AddNumberToObject(o, "smoothed", a->smoothed);
    if (a->zone >= 0 && a->zone < 4) {
        char z[2] = {zone[a->zone], 0};
        cJSON_AddStringToObject(o, "zone", z);
    }
    cJSON_AddBoolToObject(o, "change_detected", a->change);
    rules__iso(o, "change_since", a->change_since_ms);
    cJSON_AddNumberToObject(o, "baseline", a->baseline);
    cJSON_AddNumberToObject(o, "baseline_sigma", a->sigma);
}

char *gw_rule_evidence(const gw_rule_cfg_t *rc, const char *point, const char *unit,
                       const rule_action_t *a)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "point", point);
    cJSON_AddNumberToObject(o, "value", a->value);
    cJSON_AddStringToObject(o, "unit", unit);
    if (a->kind_of == RULE_TREND) {
        rules__prediction(o, rc, a);
    } else {
        cJSON_AddNumberToObject(o, "peak", a->peak);
        if (a->kind_of != RULE_THRESHOLD)
            cJSON_AddNumberToObject(o,
                                    a->kind_of == RULE_STALE     ? "age_ms"
                                    : a->kind_of == RULE_RATE    ? "rate"
                                    : a->kind_of == RULE_COUNTER ? "count"
                                    : a->kind_of == RULE_ANOMALY ? "excess"
                                                                 : "state",
                                    a->derived);
        if (a->kind_of == RULE_ANOMALY) {
            cJSON_AddNumberToObject(o, "baseline", a->baseline);
            cJSON_AddNumberToObject(o, "baseline_sigma", a->sigma);
        }
        rules__iso(o, "since", a->since_ms);
        cJSON_AddNumberToObject(o, "held_s", (double)a->held_ms / 1000.0);
    }
    rules__iso(o, "at", a->ts_ms);
    cJSON_AddStringToObject(o, "priority",
                            gw_priority_name(a->has_priority ? a->priority : rc->priority));
    rules__params(cJSON_AddObjectToObject(o, "rule"), rc);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* ---- actions into the ledger ------------------------------------------- */

static void rules__action(gw_daemon_t *d, const gw_rule_rt_t *r, const rule_action_t *a)
{
    const gw_config_t *c = d->rt->cfg;
    const gw_device_cfg_t *dev = &c->devices[r->cfg->device_idx];
    const drv_point_t *pt = &dev->points[r->cfg->point_idx];
    char *evidence = gw_rule_evidence(r->cfg, pt->name, pt->unit, a);
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
        /* Every sample goes in, whatever its quality: the rule decides (a
         * stale rule needs the comm errors; the others ignore them). */
        if (rule_eval(&r->cfg->rule, &r->st, &rt->points[r->point_id].last, &a) != RULE_ACT_NONE)
            rules__action(d, r, &a);
    }
}

int gw__rules_rearm(gw_daemon_t *d, const char *device, const char *rule)
{
    gw_runtime_t *rt = d->rt;
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
            return 0;
        }
    }
    return GW_ENOENT;
}

void gw__rules_on_wo_event(gw_daemon_t *d, const ledger_outbox_row_t *row)
{
    const cJSON *ev, *wo, *dev, *rule;
    cJSON *o;

    /* Rows come again after each reconnect: act once per row in this run. */
    if (row->id <= d->rearm_seen_id || strcmp(row->channel, "workorder") != 0)
        return;
    d->rearm_seen_id = row->id;
    o = cJSON_Parse(row->payload);
    ev = cJSON_GetObjectItemCaseSensitive(o, "event");
    wo = cJSON_GetObjectItemCaseSensitive(o, "work_order");
    dev = cJSON_GetObjectItemCaseSensitive(wo, "device");
    rule = cJSON_GetObjectItemCaseSensitive(wo, "rule");
    if (cJSON_IsString(ev) && strcmp(ev->valuestring, "closed") == 0 && cJSON_IsString(dev) &&
        cJSON_IsString(rule))
        gw__rules_rearm(d, dev->valuestring, rule->valuestring);
    cJSON_Delete(o);
}

/* ---- rule state across restarts ---------------------------------------- */

static void rules__save(gw_daemon_t *d, const char *why)
{
    char err[256];
    const char *path = d->rt->cfg->rules_state_path;

    if (gw_rulestate_save(d->rt, path, err, sizeof(err)) != 0)
        gw_log_error("rules", "saving rule state (%s): %s", why, err);
    else
        gw_log_debug("rules", "rule state saved to %s (%s)", path, why);
}

/* The periodic save: the image is taken on the loop (it reads rule state),
 * the write and its fsyncs run on libuv's pool, so that a slow flash card
 * never stalls the loop. One write at a time. */
typedef struct rules__job {
    uv_work_t req;
    gw_daemon_t *d;
    void *buf;
    size_t len;
    char path[PATH_MAX];
    int rc;
    char err[256];
} rules__job_t;

static void rules__write_work(uv_work_t *req)
{
    rules__job_t *j = req->data;
    j->rc = gw_rulestate_write(j->path, j->buf, j->len, j->err, sizeof(j->err));
}

static void rules__write_done(uv_work_t *req, int status)
{
    rules__job_t *j = req->data;

    if (status != 0 || j->rc != 0)
        gw_log_error("rules", "saving rule state (timer): %s",
                     status != 0 ? uv_strerror(status) : j->err);
    else
        gw_log_debug("rules", "rule state saved to %s (timer)", j->path);
    j->d->rs_writing = 0;
    free(j->buf);
    free(j);
}

static void rules__save_cb(uv_timer_t *t)
{
    gw_daemon_t *d = t->data;
    rules__job_t *j;

    if (d->rs_writing)
        return; /* the last one is still being written: next tick */
    j = calloc(1, sizeof(*j));
    if (!j || gw_rulestate_encode(d->rt, &j->buf, &j->len) != 0) {
        free(j);
        gw_log_error("rules", "saving rule state (timer): out of memory");
        return;
    }
    j->d = d;
    j->req.data = j;
    snprintf(j->path, sizeof(j->path), "%s", d->rt->cfg->rules_state_path);
    if (uv_queue_work(&d->loop, &j->req, rules__write_work, rules__write_done) != 0) {
        free(j->buf);
        free(j);
        rules__save(d, "timer");
        return;
    }
    d->rs_writing = 1;
}

void gw__rules_state_start(gw_daemon_t *d)
{
    char err[256];
    size_t loaded, skipped;
    uint64_t every = (uint64_t)d->rt->cfg->rules_state_save_s * 1000;
    int rc =
        gw_rulestate_load(d->rt, d->rt->cfg->rules_state_path, &loaded, &skipped, err, sizeof(err));

    if (rc != 0)
        gw_log_warn("rules", "rule state not loaded: %s: rules start fresh", err);
    else if (loaded + skipped > 0)
        gw_log_notice("rules",
                      "rule state loaded from %s: %zu rules restored, %zu records unmatched",
                      d->rt->cfg->rules_state_path, loaded, skipped);
    uv_timer_init(&d->loop, &d->rs_timer);
    d->rs_timer.data = d;
    uv_timer_start(&d->rs_timer, rules__save_cb, every, every);
}

void gw__rules_state_stop(gw_daemon_t *d)
{
    uv_timer_stop(&d->rs_timer);
    /* A periodic write in flight uses the same .new file: let it finish. */
    while (d->rs_writing)
        uv_run(&d->loop, UV_RUN_ONCE);
    rules__save(d, "shutdown");
}
