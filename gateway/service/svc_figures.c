/*
 * svc_figures.c: the figures the loop keeps (polls, errors and latency per
 * bus, points read, loop lag, the ledger's counts), fed by every message
 * the loop dispatches, and their Prometheus text together with the core's
 * and the sources' lines and the process_* ones (svc_process.c). Metric
 * names follow Prometheus conventions:
 * counters end in _total, durations are seconds; docs/operations.md
 * explains each. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/service/svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PLANTROOM_VERSION
#define PLANTROOM_VERSION "0.1.0"
#endif

/* ---- figures (loop thread) --------------------------------------------- */

/* From a fast Modbus TCP answer (a few ms) to a serial bus timing out
 * (the default timeout is 1 s, a device may take several requests). */
const double svc__lat_bounds[SVC_LAT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                                 0.5,   1.0,  2.5,   5.0,  10.0, 30.0};

svc_bus_fig_t *svc__figures_bus(svc_figures_t *f, const char *name)
{
    for (size_t i = 0; i < f->nbuses; i++) {
        if (strcmp(f->buses[i].name, name) == 0)
            return &f->buses[i];
    }
    if (f->nbuses == f->capbuses) {
        size_t cap = f->capbuses ? f->capbuses * 2 : 8;
        svc_bus_fig_t *n = realloc(f->buses, cap * sizeof(*n));
        if (!n)
            return NULL;
        f->buses = n;
        f->capbuses = cap;
    }
    memset(&f->buses[f->nbuses], 0, sizeof(f->buses[0]));
    snprintf(f->buses[f->nbuses].name, sizeof(f->buses[0].name), "%s", name);
    f->buses[f->nbuses].connected = -1;
    return &f->buses[f->nbuses++];
}

static void fig__reading(svc_figures_t *f, const gw_config_t *cfg, const mb_reading_t *r)
{
    svc_bus_fig_t *b;

    if (r->bus_id < 0 || (size_t)r->bus_id >= cfg->nbuses)
        return;
    b = svc__figures_bus(f, cfg->buses[r->bus_id].name);
    if (!b)
        return;
    b->polls++;
    if (r->rc != 0)
        b->errors++;
    b->latency_last_s = (double)r->latency_us / 1e6;
    b->latency_sum_s += b->latency_last_s;
    for (size_t i = 0; i < SVC_LAT_BUCKETS; i++) {
        if (b->latency_last_s <= svc__lat_bounds[i])
            b->latency_le[i]++;
    }
    if (r->rc == 0 && r->mono_ms >= b->last_ok_mono) {
        b->last_ok_ms = r->ts_ms;
        b->last_ok_mono = r->mono_ms;
    }
    if (r->rc == 0 && r->device_id >= 0 && (size_t)r->device_id < cfg->ndevices)
        f->points_read += cfg->devices[r->device_id].npoints;
}

void svc__figures_observe(svc_figures_t *f, const gw_config_t *cfg, const gw_msg_t *m)
{
    switch (m->kind) {
    case MB_EV_READING:
        fig__reading(f, cfg, (const mb_reading_t *)m);
        break;
    case MB_EV_BUS_STATE: {
        const mb_bus_state_t *s = (const mb_bus_state_t *)m;
        svc_bus_fig_t *b;
        if (s->bus_id >= 0 && (size_t)s->bus_id < cfg->nbuses &&
            (b = svc__figures_bus(f, cfg->buses[s->bus_id].name)))
            b->connected = s->connected != 0;
        break;
    }
    case LEDGER_EV_STATS:
        f->ledger = ((const ledger_ev_stats_t *)m)->stats;
        f->ledger_stats_valid = 1;
        break;
    default:
        break;
    }
}

void svc__figures_free(svc_figures_t *f)
{
    free(f->buses);
    memset(f, 0, sizeof(*f));
}

/* ---- Prometheus text (loop thread) ------------------------------------- */

static void fig__head(FILE *o, const char *name, const char *type, const char *help)
{
    fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void fig__latency(FILE *o, const svc_figures_t *f)
{
    fig__head(o, "plantroom_bus_poll_latency_seconds", "histogram",
              "Time one device poll took on the bus (all its requests), good or failed.");
    for (size_t i = 0; i < f->nbuses; i++) {
        const svc_bus_fig_t *b = &f->buses[i];
        for (size_t k = 0; k < SVC_LAT_BUCKETS; k++)
            fprintf(o, "plantroom_bus_poll_latency_seconds_bucket{bus=\"%s\",le=\"%g\"} %llu\n",
                    b->name, svc__lat_bounds[k], (unsigned long long)b->latency_le[k]);
        fprintf(o,
                "plantroom_bus_poll_latency_seconds_bucket{bus=\"%s\",le=\"+Inf\"} %llu\n"
                "plantroom_bus_poll_latency_seconds_sum{bus=\"%s\"} %.6f\n"
                "plantroom_bus_poll_latency_seconds_count{bus=\"%s\"} %llu\n",
                b->name, (unsigned long long)b->polls, b->name, b->latency_sum_s, b->name,
                (unsigned long long)b->polls);
    }
}

static void fig__buses(FILE *o, const svc_figures_t *f)
{
    fig__head(o, "plantroom_bus_polls_total", "counter", "Device polls done on the bus.");
    for (size_t i = 0; i < f->nbuses; i++)
        fprintf(o, "plantroom_bus_polls_total{bus=\"%s\"} %llu\n", f->buses[i].name,
                (unsigned long long)f->buses[i].polls);
    fig__head(o, "plantroom_bus_poll_errors_total", "counter",
              "Device polls that failed (timeout, exception, no connection).");
    for (size_t i = 0; i < f->nbuses; i++)
        fprintf(o, "plantroom_bus_poll_errors_total{bus=\"%s\"} %llu\n", f->buses[i].name,
                (unsigned long long)f->buses[i].errors);
    fig__latency(o, f);
    fig__head(o, "plantroom_bus_poll_latency_last_seconds", "gauge",
              "Time the last device poll took on the bus.");
    for (size_t i = 0; i < f->nbuses; i++)
        fprintf(o, "plantroom_bus_poll_latency_last_seconds{bus=\"%s\"} %.6f\n", f->buses[i].name,
                f->buses[i].latency_last_s);
    fig__head(o, "plantroom_bus_last_ok_timestamp_seconds", "gauge",
              "When a device on the bus last answered a poll (Unix time, wall clock).");
    for (size_t i = 0; i < f->nbuses; i++) {
        if (f->buses[i].last_ok_ms > 0)
            fprintf(o, "plantroom_bus_last_ok_timestamp_seconds{bus=\"%s\"} %.3f\n",
                    f->buses[i].name, (double)f->buses[i].last_ok_ms / 1000.0);
    }
    fig__head(o, "plantroom_bus_last_ok_age_seconds", "gauge",
              "Seconds since a device on the bus last answered a poll (monotonic).");
    for (size_t i = 0; i < f->nbuses; i++) {
        if (f->buses[i].last_ok_mono > 0)
            fprintf(o, "plantroom_bus_last_ok_age_seconds{bus=\"%s\"} %.3f\n", f->buses[i].name,
                    (double)(gw_mono_ms() - f->buses[i].last_ok_mono) / 1000.0);
    }
    fig__head(o, "plantroom_bus_connected", "gauge",
              "1 while the bus's connection is up, 0 when down (absent until known).");
    for (size_t i = 0; i < f->nbuses; i++) {
        if (f->buses[i].connected >= 0)
            fprintf(o, "plantroom_bus_connected{bus=\"%s\"} %d\n", f->buses[i].name,
                    f->buses[i].connected);
    }
}

static void fig__points(FILE *o, const svc_figures_t *f)
{
    fig__head(o, "plantroom_points_read_total", "counter", "Point values read with good quality.");
    fprintf(o, "plantroom_points_read_total %llu\n", (unsigned long long)f->points_read);
}

static void fig__ledger(FILE *o, gw_svc_t *s)
{
    const svc_figures_t *f = &s->fig;

    fig__head(o, "plantroom_queue_depth", "gauge",
              "Messages waiting: loop = for the loop thread, ledger = ops for the ledger thread.");
    fprintf(o, "plantroom_queue_depth{queue=\"loop\"} %zu\n", gw_queue_depth(s->env.inq));
    fprintf(o, "plantroom_queue_depth{queue=\"ledger\"} %zu\n",
            s->env.ledger ? ledger_worker_depth(s->env.ledger) : 0);
    if (!f->ledger_stats_valid)
        return;
    fig__head(o, "plantroom_outbox_depth", "gauge",
              "Events in the ledger's outbox, not yet delivered (refreshed every 5 s).");
    fprintf(o, "plantroom_outbox_depth %lld\n", (long long)f->ledger.outbox_rows);
    fig__head(o, "plantroom_workorders", "gauge",
              "Work orders in the ledger by status (refreshed every 5 s).");
    for (int i = 0; i < LEDGER_NSTATUS; i++)
        fprintf(o, "plantroom_workorders{status=\"%s\"} %lld\n", ledger_status_names[i],
                (long long)f->ledger.by_status[i]);
}

static void fig__process(FILE *o, gw_svc_t *s)
{
    fig__head(o, "plantroom_build_info", "gauge",
              "Always 1; the labels say which build runs (version, libuv).");
    fprintf(o, "plantroom_build_info{version=\"%s\",libuv=\"%s\"} 1\n", PLANTROOM_VERSION,
            uv_version_string());
    fig__head(o, "plantroom_info", "gauge", "Always 1; the labels say what runs and where.");
    fprintf(o, "plantroom_info{version=\"%s\",site=\"%s\"} 1\n", PLANTROOM_VERSION,
            gw_core_config(s->env.core)->site_id);
    fig__head(o, "plantroom_start_time_seconds", "gauge", "When plantroomd started (Unix time).");
    fprintf(o, "plantroom_start_time_seconds %.3f\n", (double)s->started_ms / 1000.0);
    fig__head(o, "plantroom_loop_lag_seconds", "gauge",
              "How late the loop's 1 s timer fired last time: a busy or stalled loop shows here.");
    fprintf(o, "plantroom_loop_lag_seconds %.6f\n", s->fig.loop_lag_s);
    fig__head(o, "plantroom_loop_lag_max_seconds", "gauge", "Largest loop lag since start.");
    fprintf(o, "plantroom_loop_lag_max_seconds %.6f\n", s->fig.loop_lag_max_s);
}

char *svc__metrics_render(gw_svc_t *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&text, &len);

    if (!o)
        return NULL;
    fig__process(o, s);
    svc__process_metrics(o);
    fig__buses(o, &s->fig);
    gw_core_metrics_text(s->env.core, o);
    fig__points(o, &s->fig);
    fig__ledger(o, s);
    for (size_t i = 0; i < s->nsources; i++) {
        if (s->sources[i].metrics)
            s->sources[i].metrics(s->sources[i].arg, o);
    }
    if (fclose(o) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
