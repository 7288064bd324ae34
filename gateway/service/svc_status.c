/*
 * svc_status.c: the answer to the control socket's "status" (what
 * `plantroomctl status [--json]` shows, docs/operations.md): version, site,
 * uptime, the loop, each bus with its figures, the core's devices and rules,
 * the ledger's queue and counts, and what each source adds (the MQTT
 * session); and the one-line summary systemd shows as STATUS=. Loop thread
 * only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/service/svc_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef PLANTROOM_VERSION
#define PLANTROOM_VERSION "0.1.0"
#endif

static void status__bus(gw_svc_t *s, size_t i, cJSON *arr)
{
    const gw_runtime_t *rt = gw_core_runtime(s->env.core);
    const gw_bus_cfg_t *bc = &rt->cfg->buses[i];
    const svc_bus_fig_t *f = svc__figures_bus(&s->fig, bc->name);
    cJSON *o = cJSON_CreateObject();
    size_t ndev = 0, online = 0;

    for (size_t j = 0; j < rt->cfg->ndevices; j++) {
        if (rt->cfg->devices[j].bus_idx != (int)i)
            continue;
        ndev++;
        online += rt->devs[j].status == GW_DEV_ONLINE;
    }
    cJSON_AddStringToObject(o, "name", bc->name);
    cJSON_AddStringToObject(o, "type", bc->type);
    cJSON_AddStringToObject(o, "host", bc->host);
    cJSON_AddNumberToObject(o, "port", bc->port);
    if (!f || f->connected < 0)
        cJSON_AddNullToObject(o, "connected");
    else
        cJSON_AddBoolToObject(o, "connected", f->connected);
    cJSON_AddNumberToObject(o, "devices", (double)ndev);
    cJSON_AddNumberToObject(o, "devices_online", (double)online);
    cJSON_AddNumberToObject(o, "polls", f ? (double)f->polls : 0);
    cJSON_AddNumberToObject(o, "errors", f ? (double)f->errors : 0);
    cJSON_AddNumberToObject(o, "latency_last_ms", f ? f->latency_last_s * 1000.0 : 0);
    cJSON_AddNumberToObject(o, "latency_avg_ms",
                            f && f->polls ? f->latency_sum_s * 1000.0 / (double)f->polls : 0);
    gw_json_add_time(o, "last_ok", f ? f->last_ok_ms : 0);
    if (f && f->last_ok_mono)
        cJSON_AddNumberToObject(o, "last_ok_age_s",
                                (double)(gw_mono_ms() - f->last_ok_mono) / 1000.0);
    else
        cJSON_AddNullToObject(o, "last_ok_age_s");
    cJSON_AddItemToArray(arr, o);
}

static void status__ledger(gw_svc_t *s, cJSON *res)
{
    cJSON *o = cJSON_AddObjectToObject(res, "ledger");
    cJSON *wo;

    cJSON_AddStringToObject(o, "path", gw_core_config(s->env.core)->ledger_path);
    cJSON_AddNumberToObject(o, "queue_depth",
                            s->env.ledger ? (double)ledger_worker_depth(s->env.ledger) : 0);
    if (!s->fig.ledger_stats_valid) {
        cJSON_AddNullToObject(o, "outbox_depth");
        cJSON_AddNullToObject(o, "work_orders");
        return;
    }
    cJSON_AddNumberToObject(o, "outbox_depth", (double)s->fig.ledger.outbox_rows);
    wo = cJSON_AddObjectToObject(o, "work_orders");
    for (int i = 0; i < LEDGER_NSTATUS; i++)
        cJSON_AddNumberToObject(wo, ledger_status_names[i], (double)s->fig.ledger.by_status[i]);
}

void svc__status_json(gw_svc_t *s, cJSON *res)
{
    const gw_config_t *c = gw_core_config(s->env.core);
    cJSON *loop, *buses;

    cJSON_AddStringToObject(res, "version", PLANTROOM_VERSION);
    cJSON_AddStringToObject(res, "site", c->site_id);
    cJSON_AddStringToObject(res, "config", c->path);
    cJSON_AddNumberToObject(res, "pid", (double)getpid());
    gw_json_add_time(res, "started", s->started_ms);
    cJSON_AddNumberToObject(res, "uptime_s", (double)(gw_mono_ms() - s->started_mono) / 1000.0);
    cJSON_AddStringToObject(res, "log_level",
                            (const char *[]){"error", "warn", "notice", "info",
                                             "debug"}[gw_log_get_level() - GW_LOG_ERROR]);
    loop = cJSON_AddObjectToObject(res, "loop");
    cJSON_AddNumberToObject(loop, "lag_ms", s->fig.loop_lag_s * 1000.0);
    cJSON_AddNumberToObject(loop, "lag_max_ms", s->fig.loop_lag_max_s * 1000.0);
    cJSON_AddNumberToObject(loop, "queue_depth", (double)gw_queue_depth(s->env.inq));
    cJSON_AddNumberToObject(loop, "points_per_s", s->fig.points_per_s);
    buses = cJSON_AddArrayToObject(res, "buses");
    for (size_t i = 0; i < c->nbuses; i++)
        status__bus(s, i, buses);
    gw_core_status_json(s->env.core, res);
    for (size_t i = 0; i < s->nsources; i++) {
        if (s->sources[i].status)
            s->sources[i].status(s->sources[i].arg, res);
    }
    status__ledger(s, res);
}

/* "3/3 devices online, broker connected, outbox 0, 1 work order active" */
void svc__status_line(gw_svc_t *s, char *buf, size_t len)
{
    const gw_runtime_t *rt = gw_core_runtime(s->env.core);
    char words[128] = "", part[64];
    size_t online = 0;
    int64_t active = 0;

    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        online += rt->devs[i].status == GW_DEV_ONLINE;
    for (size_t i = 0; i < s->nsources; i++) {
        if (!s->sources[i].brief)
            continue;
        part[0] = '\0';
        s->sources[i].brief(s->sources[i].arg, part, sizeof(part));
        if (part[0])
            snprintf(words + strlen(words), sizeof(words) - strlen(words), "%s%s",
                     words[0] ? ", " : "", part);
    }
    if (!s->fig.ledger_stats_valid) {
        snprintf(buf, len, "%zu/%zu devices online%s%s", online, rt->cfg->ndevices,
                 words[0] ? ", " : "", words);
        return;
    }
    for (int i = 0; i < 3; i++) /* open, acknowledged, in_progress */
        active += s->fig.ledger.by_status[i];
    snprintf(buf, len, "%zu/%zu devices online%s%s, outbox %lld, %lld work order%s active", online,
             rt->cfg->ndevices, words[0] ? ", " : "", words, (long long)s->fig.ledger.outbox_rows,
             (long long)active, active == 1 ? "" : "s");
}
