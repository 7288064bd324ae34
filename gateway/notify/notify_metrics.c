/*
 * notify_metrics.c: the notifier's figures (for the service's sources,
 * docs/operations.md "Metrics" and "Live status"): hook delivery attempts
 * that succeeded and failed, per hook; the health of notify.db and the depth of its
 * write queue; the rows held in memory and in the file, each against its
 * bound (docs/configuration.md, "notify"); what the bounds dropped; the
 * cost of the tick. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"

#include <stdio.h>
#include <string.h>

#define NM__HELP(o, name, type, text)                                                              \
    fprintf(o, "# HELP " name " " text "\n# TYPE " name " " type "\n")

static void nm__rows(const gw_notify_t *n, FILE *o)
{
    const notify_counts_t *c = &n->p.db;

    NM__HELP(o, "plantroom_notify_memory_rows", "gauge",
             "What the notifier holds in memory, by table (bounded by notify.max_rows, "
             "notify.max_pending).");
    fprintf(o, "plantroom_notify_memory_rows{table=\"seen\"} %zu\n", n->s.nseen);
    fprintf(o, "plantroom_notify_memory_rows{table=\"alerts\"} %zu\n", n->s.nalerts);
    fprintf(o, "plantroom_notify_memory_rows{table=\"batch\"} %zu\n", n->s.nbatch);
    fprintf(o, "plantroom_notify_memory_rows{table=\"notifications\"} %zu\n", n->s.nmsgs);
    NM__HELP(o, "plantroom_notify_pending_messages", "gauge",
             "Messages waiting to be delivered (bounded by notify.max_pending).");
    fprintf(o, "plantroom_notify_pending_messages %zu\n", n->s.npending);
    if (!n->p.counted)
        return;
    NM__HELP(o, "plantroom_notify_db_rows", "gauge",
             "Rows in notify.db at the last daily count (bounded by notify.retention_days and "
             "notify.max_rows).");
    fprintf(o, "plantroom_notify_db_rows{table=\"seen\"} %lld\n", (long long)c->seen);
    fprintf(o, "plantroom_notify_db_rows{table=\"alerts\"} %lld\n", (long long)c->alerts);
    fprintf(o, "plantroom_notify_db_rows{table=\"alert_groups\"} %lld\n",
            (long long)c->alert_groups);
    fprintf(o, "plantroom_notify_db_rows{table=\"batch\"} %lld\n", (long long)c->batch);
    fprintf(o, "plantroom_notify_db_rows{table=\"notifications\"} %lld\n",
            (long long)c->notifications);
    NM__HELP(o, "plantroom_notify_db_bytes", "gauge", "Size of notify.db with its WAL.");
    fprintf(o, "plantroom_notify_db_bytes %lld\n", (long long)c->file_bytes);
}

/* The figures of hook name; NULL when it has had no attempt. */
static const notify__hookfig_t *nm__hookfig(const gw_notify_t *n, const char *name)
{
    for (size_t i = 0; i < n->nhookfig; i++) {
        if (strcmp(n->hookfig[i].name, name) == 0)
            return &n->hookfig[i];
    }
    return NULL;
}

/* metric{hook="name"} v, the name escaped as the text format wants
 * (hook names are free text in the config). */
static void nm__hook_line(FILE *o, const char *metric, const char *name, uint64_t v)
{
    fprintf(o, "%s{hook=\"", metric);
    for (const char *p = name; *p; p++) {
        if (*p == '\\' || *p == '"')
            fputc('\\', o);
        if (*p == '\n')
            fputs("\\n", o);
        else
            fputc(*p, o);
    }
    fprintf(o, "\"} %llu\n", (unsigned long long)v);
}

/* Every hook of the config (0 until its first attempt), then hooks a
 * reload removed that had attempts. */
static void nm__hooks(const gw_notify_t *n, FILE *o, const char *metric, int failed)
{
    const gw_config_t *c = n->cfg;

    for (size_t i = 0; c && i < c->notify.nhooks; i++) {
        const notify__hookfig_t *f = nm__hookfig(n, c->notify.hooks[i].name);
        nm__hook_line(o, metric, c->notify.hooks[i].name, f ? (failed ? f->failed : f->ok) : 0);
    }
    for (size_t i = 0; i < n->nhookfig; i++) {
        int in_cfg = 0;
        for (size_t k = 0; c && k < c->notify.nhooks && !in_cfg; k++)
            in_cfg = strcmp(c->notify.hooks[k].name, n->hookfig[i].name) == 0;
        if (!in_cfg)
            nm__hook_line(o, metric, n->hookfig[i].name,
                          failed ? n->hookfig[i].failed : n->hookfig[i].ok);
    }
}

void gw_notify_metrics_text(const gw_notify_t *n, FILE *o)
{
    if (!n)
        return;
    NM__HELP(o, "plantroom_hook_deliveries_total", "counter",
             "Alert hook delivery attempts that succeeded (SMS command, webhook), per hook.");
    nm__hooks(n, o, "plantroom_hook_deliveries_total", 0);
    NM__HELP(o, "plantroom_hook_failures_total", "counter",
             "Alert hook delivery attempts that failed (each retry counts), per hook.");
    nm__hooks(n, o, "plantroom_hook_failures_total", 1);
    NM__HELP(o, "plantroom_notify_store_ok", "gauge",
             "1 when the last write to notify.db committed.");
    fprintf(o, "plantroom_notify_store_ok %d\n", n->p.fault == NOTIFY_FAULT_NONE);
    NM__HELP(o, "plantroom_notify_queue_depth", "gauge",
             "Changes waiting to be written to notify.db (bounded by notify.queue_max).");
    fprintf(o, "plantroom_notify_queue_depth %zu\n", notify__p_depth(n));
    NM__HELP(o, "plantroom_notify_write_failures_total", "counter",
             "Writes to notify.db that failed (each retry counts).");
    fprintf(o, "plantroom_notify_write_failures_total %llu\n",
            (unsigned long long)n->p.write_failures);
    NM__HELP(o, "plantroom_notify_state_images_total", "counter",
             "Times the whole state replaced the changes waiting for notify.db.");
    fprintf(o, "plantroom_notify_state_images_total %llu\n", (unsigned long long)n->p.images);
    NM__HELP(o, "plantroom_notify_dropped_total", "counter",
             "What a bound made the notifier drop.");
    fprintf(o, "plantroom_notify_dropped_total{what=\"messages\"} %llu\n",
            (unsigned long long)n->msgs_dropped);
    fprintf(o, "plantroom_notify_dropped_total{what=\"event_ids\"} %llu\n",
            (unsigned long long)n->seen_dropped);
    fprintf(o, "plantroom_notify_dropped_total{what=\"acks\"} %llu\n",
            (unsigned long long)n->p.acks_dropped);
    nm__rows(n, o);
    NM__HELP(o, "plantroom_notify_ticks_total", "counter", "Notifier ticks run.");
    fprintf(o, "plantroom_notify_ticks_total %llu\n", (unsigned long long)n->ticks);
    NM__HELP(o, "plantroom_notify_tick_seconds_total", "counter",
             "Time the notifier's ticks took on the loop.");
    fprintf(o, "plantroom_notify_tick_seconds_total %.6f\n", (double)n->tick_us_total / 1e6);
}

static void nm__status_file(const gw_notify_t *n, cJSON *o)
{
    const notify_counts_t *c = &n->p.db;
    cJSON *f;

    if (!n->p.counted || !(f = cJSON_AddObjectToObject(o, "file")))
        return;
    cJSON_AddNumberToObject(f, "seen", (double)c->seen);
    cJSON_AddNumberToObject(f, "alerts", (double)c->alerts);
    cJSON_AddNumberToObject(f, "alert_groups", (double)c->alert_groups);
    cJSON_AddNumberToObject(f, "batch", (double)c->batch);
    cJSON_AddNumberToObject(f, "notifications", (double)c->notifications);
    cJSON_AddNumberToObject(f, "pending", (double)c->pending);
    cJSON_AddNumberToObject(f, "bytes", (double)c->file_bytes);
    cJSON_AddNumberToObject(f, "purged", (double)n->p.purged);
}

void gw_notify_status_json(const gw_notify_t *n, cJSON *res)
{
    cJSON *o, *m, *d;

    if (!n || !(o = cJSON_AddObjectToObject(res, "notify")))
        return;
    cJSON_AddStringToObject(o, "store", notify_fault_name(n->p.fault));
    if (n->p.fault != NOTIFY_FAULT_NONE)
        cJSON_AddStringToObject(o, "store_error", n->p.fault_msg);
    cJSON_AddNumberToObject(o, "queue", (double)notify__p_depth(n));
    cJSON_AddNumberToObject(o, "queue_max", (double)notify__queue_max(n));
    cJSON_AddNumberToObject(o, "delivered", (double)n->delivered);
    cJSON_AddNumberToObject(o, "failures", (double)n->failures);
    cJSON_AddNumberToObject(o, "write_failures", (double)n->p.write_failures);
    cJSON_AddNumberToObject(o, "images", (double)n->p.images);
    cJSON_AddNumberToObject(o, "ticks", (double)n->ticks);
    cJSON_AddNumberToObject(o, "tick_ms_avg",
                            n->ticks ? (double)n->tick_us_total / (double)n->ticks / 1e3 : 0);
    cJSON_AddNumberToObject(o, "tick_ms_max", (double)n->tick_us_max / 1e3);
    if ((m = cJSON_AddObjectToObject(o, "memory")) != NULL) {
        cJSON_AddNumberToObject(m, "seen", (double)n->s.nseen);
        cJSON_AddNumberToObject(m, "alerts", (double)n->s.nalerts);
        cJSON_AddNumberToObject(m, "batch", (double)n->s.nbatch);
        cJSON_AddNumberToObject(m, "notifications", (double)n->s.nmsgs);
        cJSON_AddNumberToObject(m, "pending", (double)n->s.npending);
        cJSON_AddNumberToObject(m, "max_rows", (double)notify__max_rows(n));
        cJSON_AddNumberToObject(m, "max_pending", (double)notify__max_pending(n));
    }
    if ((d = cJSON_AddObjectToObject(o, "dropped")) != NULL) {
        cJSON_AddNumberToObject(d, "messages", (double)n->msgs_dropped);
        cJSON_AddNumberToObject(d, "event_ids", (double)n->seen_dropped);
        cJSON_AddNumberToObject(d, "acks", (double)n->p.acks_dropped);
    }
    nm__status_file(n, o);
}
