/*
 * core_status.c: what the core shows the operator: each device with its
 * points and each rule with its state, for `plantroomctl status --json`
 * (the control socket's "status" answer, docs/operations.md), and the same
 * as Prometheus lines (plantroom_device_*, plantroom_rule_firing). The only
 * file outside rules/ that reads rule states: the service asks here. Times
 * kept on the monotonic clock are shown as wall-clock times (what people
 * read) and as ages (what survives a clock step). Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_jwrite.h"
#include "gateway/base/gw_log.h"
#include "gateway/core/core_int.h"

#include <stdio.h>

/* The wall-clock time of a monotonic one, as of now. */
static int64_t status__wall_of(int64_t mono_ms)
{
    return gw_wall_ms() - (gw_mono_ms() - mono_ms);
}

static const char *status__dev(gw_dev_status_t s)
{
    return s == GW_DEV_ONLINE ? "online" : s == GW_DEV_OFFLINE ? "offline" : "unknown";
}

/* A time as status__time writes it: its text, or null. */
static void status__jw_time(gw_jw_t *w, gw_jw_time_t *tc, int64_t ms)
{
    if (ms > 0)
        gw_jw_str(w, gw_jw_time(tc, ms));
    else
        gw_jw_lit(w, "null");
}

static void status__jw_points(gw_jw_t *w, gw_jw_time_t *tc, const gw_runtime_t *rt,
                              const gw_device_rt_t *dev)
{
    gw_jw_lit(w, "[");
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        const gw_sample_t *s = &rt->points[dev->first_point + i].last;
        if (i)
            gw_jw_lit(w, ",");
        gw_jw_lit(w, "{\"name\":");
        gw_jw_str(w, dev->cfg->points[i].name);
        gw_jw_lit(w, ",\"value\":");
        if (s->quality == GW_Q_GOOD)
            gw_jw_num(w, s->value);
        else
            gw_jw_lit(w, "null");
        gw_jw_lit(w, ",\"unit\":");
        gw_jw_str(w, dev->cfg->points[i].unit);
        gw_jw_lit(w, ",\"quality\":");
        gw_jw_str(w, gw_quality_name(s->quality));
        gw_jw_lit(w, ",\"ts\":");
        status__jw_time(w, tc, s->ts_ms);
        gw_jw_lit(w, "}");
    }
    gw_jw_lit(w, "]");
}

void core__status_device(gw_jw_t *w, gw_jw_time_t *tc, const gw_runtime_t *rt,
                         const gw_device_rt_t *dev, int64_t now_mono)
{
    int64_t last_poll = 0;

    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        if (rt->points[dev->first_point + i].last.ts_ms > last_poll)
            last_poll = rt->points[dev->first_point + i].last.ts_ms;
    }
    gw_jw_lit(w, "{\"name\":");
    gw_jw_str(w, dev->cfg->name);
    gw_jw_lit(w, ",\"bus\":");
    gw_jw_str(w, dev->cfg->bus);
    gw_jw_lit(w, ",\"unit_id\":");
    gw_jw_num(w, dev->cfg->unit_id);
    gw_jw_lit(w, ",\"status\":");
    gw_jw_str(w, status__dev(dev->status));
    if (dev->status == GW_DEV_ONLINE)
        gw_jw_lit(w, ",\"online\":true,\"last_poll\":");
    else
        gw_jw_lit(w, ",\"online\":false,\"last_poll\":");
    status__jw_time(w, tc, last_poll);
    gw_jw_lit(w, ",\"last_ok\":");
    status__jw_time(w, tc, dev->last_ok_ms);
    gw_jw_lit(w, ",\"last_ok_age_s\":");
    if (dev->last_ok_mono)
        gw_jw_num(w, (double)(now_mono - dev->last_ok_mono) / 1000.0);
    else
        gw_jw_lit(w, "null");
    if (dev->overdue)
        gw_jw_lit(w, ",\"overdue\":true,\"polls\":");
    else
        gw_jw_lit(w, ",\"overdue\":false,\"polls\":");
    gw_jw_num(w, (double)dev->polls);
    gw_jw_lit(w, ",\"errors\":");
    gw_jw_num(w, (double)dev->errors);
    gw_jw_lit(w, ",\"consecutive_failures\":");
    gw_jw_num(w, dev->fails);
    gw_jw_lit(w, ",\"last_error\":");
    if (dev->last_err[0])
        gw_jw_str(w, dev->last_err);
    else
        gw_jw_lit(w, "null");
    gw_jw_lit(w, ",\"points\":");
    status__jw_points(w, tc, rt, dev);
    gw_jw_lit(w, "}");
}

/* "devices": every device with its points, written as text (the bytes a
 * cJSON tree of them printed) and added as one raw item: a site of 20,000
 * points is about 2.6 MB of text, where the tree took about 15 MB. */
static void status__devices(const gw_runtime_t *rt, cJSON *res)
{
    gw_jw_t w;
    gw_jw_time_t tc;
    int64_t now = gw_mono_ms();
    cJSON *raw;

    gw_jw_init(&w);
    gw_jw_time_init(&tc);
    gw_jw_lit(&w, "[");
    for (size_t i = 0; i < rt->cfg->ndevices; i++) {
        if (i)
            gw_jw_lit(&w, ",");
        core__status_device(&w, &tc, rt, &rt->devs[i], now);
    }
    gw_jw_lit(&w, "]");
    raw = w.oom ? NULL : cJSON_CreateRaw("");
    if (!raw) {
        gw_log_error("status", "out of memory: the devices left out of the status");
        gw_jw_free(&w);
        cJSON_AddArrayToObject(res, "devices");
        return;
    }
    cJSON_free(raw->valuestring);
    raw->valuestring = w.buf; /* the item takes the text */
    cJSON_AddItemToObject(res, "devices", raw);
}

static void status__trend(const gw_runtime_t *rt, const gw_rule_rt_t *r, cJSON *o)
{
    const rule_trend_state_t *t = &r->st.u.trend;

    cJSON_AddStringToObject(o, "state", t->firing ? "firing" : "normal");
    /* A trend sharing another's order (core_wear.c): firing is its own
     * judgement; the order is that rule's. */
    if (r->cfg->wear_lead >= 0 && r->cfg != &rt->cfg->rules[r->cfg->wear_lead])
        cJSON_AddStringToObject(o, "order_rule", rt->cfg->rules[r->cfg->wear_lead].name);
    if (t->firing && t->pred_c > 0) {
        cJSON *p = cJSON_AddObjectToObject(o, "predicted_crossing");
        gw_json_add_time(p, "date", t->pred_c);
        gw_json_add_time(p, "earliest", t->pred_lo);
        gw_json_add_time(p, "latest", t->pred_hi);
    } else {
        cJSON_AddNullToObject(o, "predicted_crossing");
    }
}

static void status__alarm(const gw_rule_rt_t *r, cJSON *o)
{
    const rule_threshold_state_t *a = &r->st.alarm;

    cJSON_AddStringToObject(o, "state", rule_state_name(a->st));
    if (a->st != RULE_ST_NORMAL) {
        gw_json_add_time(o, "since", status__wall_of(a->since_ms));
        cJSON_AddNumberToObject(o, "peak", a->peak);
    } else {
        cJSON_AddNullToObject(o, "since");
    }
    cJSON_AddNumberToObject(o, r->cfg->rule.alarm.above ? "above" : "below",
                            r->cfg->rule.alarm.limit);
    cJSON_AddNullToObject(o, "predicted_crossing");
}

static void status__alarms(const gw_core_t *c, cJSON *res)
{
    cJSON *arr = cJSON_AddArrayToObject(res, "alarms");

    for (size_t i = 0; i < c->nalarms; i++) {
        const gw_alarm_t *a = &c->alarms[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", a->key);
        cJSON_AddStringToObject(o, "priority", gw_priority_name(a->priority));
        cJSON_AddStringToObject(o, "detail", a->detail);
        gw_json_add_time(o, "since", a->since_ms);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddStringToObject(res, "health", c->nalarms ? "degraded" : "ok");
}

void gw_core_status_json(const gw_core_t *c, cJSON *res)
{
    const gw_runtime_t *rt = c->rt;
    cJSON *rules;

    status__devices(rt, res);
    rules = cJSON_AddArrayToObject(res, "rules");
    status__alarms(c, res);
    core__live_status(c, res);
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        const gw_rule_rt_t *r = &rt->rules[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "device", r->cfg->device);
        cJSON_AddStringToObject(o, "name", r->cfg->name);
        cJSON_AddStringToObject(o, "point", r->cfg->point);
        cJSON_AddStringToObject(o, "kind", rule_kind_name(r->cfg->kind));
        if (r->cfg->kind == RULE_TREND)
            status__trend(rt, r, o);
        else
            status__alarm(r, o);
        cJSON_AddItemToArray(rules, o);
    }
}

static void status__head(FILE *o, const char *name, const char *type, const char *help)
{
    fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void gw_core_metrics_text(const gw_core_t *c, FILE *o)
{
    const gw_runtime_t *rt = c->rt;

    status__head(o, "plantroom_device_online", "gauge",
                 "1 when the device answers its polls, 0 when offline or not polled yet.");
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        fprintf(o, "plantroom_device_online{device=\"%s\",bus=\"%s\"} %d\n", rt->devs[i].cfg->name,
                rt->devs[i].cfg->bus, rt->devs[i].status == GW_DEV_ONLINE);
    status__head(o, "plantroom_device_polls_total", "counter", "Polls of the device.");
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        fprintf(o, "plantroom_device_polls_total{device=\"%s\"} %llu\n", rt->devs[i].cfg->name,
                (unsigned long long)rt->devs[i].polls);
    status__head(o, "plantroom_device_poll_errors_total", "counter", "Failed polls of the device.");
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        fprintf(o, "plantroom_device_poll_errors_total{device=\"%s\"} %llu\n",
                rt->devs[i].cfg->name, (unsigned long long)rt->devs[i].errors);
    status__head(o, "plantroom_device_last_ok_timestamp_seconds", "gauge",
                 "When the device last answered a poll (Unix time, wall clock); absent: never.");
    for (size_t i = 0; i < rt->cfg->ndevices; i++) {
        if (rt->devs[i].last_ok_ms > 0)
            fprintf(o, "plantroom_device_last_ok_timestamp_seconds{device=\"%s\"} %.3f\n",
                    rt->devs[i].cfg->name, (double)rt->devs[i].last_ok_ms / 1000.0);
    }
    status__head(o, "plantroom_device_last_ok_age_seconds", "gauge",
                 "Seconds since the device last answered a poll (monotonic); absent: never.");
    for (size_t i = 0; i < rt->cfg->ndevices; i++) {
        if (rt->devs[i].last_ok_mono)
            fprintf(o, "plantroom_device_last_ok_age_seconds{device=\"%s\"} %.3f\n",
                    rt->devs[i].cfg->name,
                    (double)(gw_mono_ms() - rt->devs[i].last_ok_mono) / 1000.0);
    }
    status__head(o, "plantroom_device_overdue", "gauge",
                 "1 while the device's bus thread has reported no poll past its deadline.");
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        fprintf(o, "plantroom_device_overdue{device=\"%s\"} %d\n", rt->devs[i].cfg->name,
                rt->devs[i].overdue);
    core__live_metrics(c, o);
    status__head(o, "plantroom_gateway_alarms", "gauge",
                 "Gateway alarms raised now (storage faults, stalled threads): 0 when healthy.");
    fprintf(o, "plantroom_gateway_alarms %zu\n", c->nalarms);
    status__head(o, "plantroom_gateway_alarm", "gauge",
                 "1 for each gateway alarm raised now, by key (docs/operations.md).");
    for (size_t i = 0; i < c->nalarms; i++)
        fprintf(o, "plantroom_gateway_alarm{alarm=\"%s\"} 1\n", c->alarms[i].key);
    status__head(o, "plantroom_rule_firing", "gauge",
                 "1 while the rule's condition holds past its duration (a work order is active).");
    for (size_t i = 0; i < rt->cfg->nrules; i++)
        fprintf(o, "plantroom_rule_firing{device=\"%s\",rule=\"%s\"} %d\n",
                rt->rules[i].cfg->device, rt->rules[i].cfg->name,
                rt->rules[i].cfg->kind == RULE_TREND ? rt->rules[i].st.u.trend.firing != 0
                                                     : rt->rules[i].st.alarm.st == RULE_ST_FIRING);
}
