/*
 * gw_north.c: the north side's facade (gw_north.h): creates the MQTT
 * session and the parts (north_int.h), registers them in the order their
 * work must happen on each connect, publishes the gateway's and devices'
 * status and the metrics topic, and answers the service's questions.
 * Loop thread only.
 *
 * On each connect, in order: the gateway's status "online" and every
 * device's status (retained); every event still in the ledger's outbox;
 * buffered telemetry (spilled, then replayed); the commands and NB-IoT
 * subscriptions; Home Assistant discovery; the audit chain's head
 * (retained); the metrics topic.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/north/gw_north.h"
#include "gateway/north/north_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_north {
    gw_north_env_t env;
    north_session_t *sess; /* NULL until the first start */
    north_outbox_t *outbox;
    north_buf_t *buf;
    north_tel_t *tel;
    north_cmd_t *cmd;
    north_nbiot_t *nbiot;
    north_hass_t *hass;
    north_audit_t *audit;
    uv_timer_t metrics_timer;
    int restart; /* a reload stopped the session: start it again */
};

static const gw_config_t *north__cfg(const gw_north_t *n)
{
    return gw_core_config(n->env.core);
}

/* ---- what the north side publishes itself ------------------------------- */

/* "health" and the gateway alarms raised now (gw_core_alarm_raise). */
static void north__alarms_json(gw_north_t *n, cJSON *o)
{
    const gw_alarm_t *al;
    size_t na = gw_core_alarms(n->env.core, &al);
    cJSON *arr;
    char ts[32];

    cJSON_AddStringToObject(o, "health", na ? "degraded" : "ok");
    arr = cJSON_AddArrayToObject(o, "alarms");
    for (size_t i = 0; i < na; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "key", al[i].key);
        cJSON_AddStringToObject(a, "priority", gw_priority_name(al[i].priority));
        cJSON_AddStringToObject(a, "detail", al[i].detail);
        cJSON_AddStringToObject(a, "since", gw_format_iso8601(al[i].since_ms, ts, sizeof(ts)));
        cJSON_AddItemToArray(arr, a);
    }
}

static void north__gateway_status(gw_north_t *n, const char *status)
{
    north_buf_stats_t st;
    char ts[32];
    cJSON *o = cJSON_CreateObject();

    north__buf_stats(n->buf, &st);
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "site", north__cfg(n)->site_id);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(gw_wall_ms(), ts, sizeof(ts)));
    cJSON_AddNumberToObject(o, "telemetry_dropped", (double)st.dropped);
    north__alarms_json(n, o);
    north__publish_json(n->sess, "status", o, 1, 1);
    cJSON_Delete(o);
}

void gw_north_alarm(void *arg, const gw_alarm_t *a, int raised)
{
    gw_north_t *n = arg;

    (void)a;
    (void)raised;
    if (north__session_connected(n->sess))
        north__gateway_status(n, "online");
}

static void north__publish_metrics(void *arg)
{
    gw_north_t *n = arg;
    north_buf_stats_t st;
    char ts[32];
    cJSON *o = cJSON_CreateObject(), *t;

    north__buf_stats(n->buf, &st);
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", north__cfg(n)->site_id);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(gw_wall_ms(), ts, sizeof(ts)));
    t = cJSON_AddObjectToObject(o, "telemetry");
    cJSON_AddNumberToObject(t, "published", (double)st.published);
    cJSON_AddNumberToObject(t, "suppressed", (double)north__tel_suppressed(n->tel));
    cJSON_AddNumberToObject(t, "buffered", (double)st.buffered);
    cJSON_AddNumberToObject(t, "in_memory", (double)st.in_memory);
    cJSON_AddNumberToObject(t, "in_spool", (double)st.in_spool);
    cJSON_AddNumberToObject(t, "replayed", (double)st.replayed);
    cJSON_AddNumberToObject(t, "dropped", (double)st.dropped);
    {
        north_tel_queue_t tq;
        north__tel_queue_stats(n->tel, &tq);
        cJSON_AddNumberToObject(t, "skipped", (double)tq.skipped);
        cJSON_AddNumberToObject(t, "stall_buffered", (double)tq.buffered);
    }
    cJSON_AddItemToObject(o, "nbiot", north__nbiot_metrics(n->nbiot));
    cJSON_AddNumberToObject(o, "outbox_in_flight", (double)north__outbox_inflight(n->outbox));
    north__publish_json(n->sess, "metrics", o, 1, 1);
    cJSON_Delete(o);
}

/* A replay has sent everything: the figures, and the current values live. */
static void north__replay_done(void *arg)
{
    gw_north_t *n = arg;

    north__tel_refresh(n->tel);
    north__publish_metrics(n);
}

static void north__metrics_cb(uv_timer_t *t)
{
    north__publish_metrics(t->data);
}

void gw_north_device_status(void *arg, const gw_device_rt_t *dev)
{
    gw_north_t *n = arg;
    char suffix[160], ts[32];
    cJSON *o;

    if (dev->status == GW_DEV_UNKNOWN || !north__session_connected(n->sess))
        return;
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "device", dev->cfg->name);
    cJSON_AddStringToObject(o, "status", dev->status == GW_DEV_ONLINE ? "online" : "offline");
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(gw_wall_ms(), ts, sizeof(ts)));
    if (dev->status == GW_DEV_OFFLINE)
        cJSON_AddStringToObject(o, "error", dev->last_err);
    snprintf(suffix, sizeof(suffix), "devices/%s/status", dev->cfg->name);
    north__publish_json(n->sess, suffix, o, 1, 1);
    cJSON_Delete(o);
}

void gw_north_device_updated(void *arg, const gw_device_rt_t *dev, int64_t ts_ms)
{
    gw_north_t *n = arg;
    north__tel_device(n->tel, dev, ts_ms);
}

/* ---- session handlers of the facade ------------------------------------- */

static void north__first_connected(void *arg)
{
    gw_north_t *n = arg;
    const gw_runtime_t *rt = gw_core_runtime(n->env.core);

    north__gateway_status(n, "online");
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        gw_north_device_status(n, &rt->devs[i]);
}

static void north__last_connected(void *arg)
{
    gw_north_t *n = arg;
    uint64_t every = (uint64_t)north__cfg(n)->mqtt.metrics_ms;

    uv_timer_start(&n->metrics_timer, north__metrics_cb, every, every);
    north__publish_metrics(n);
}

static void north__disconnected(void *arg)
{
    uv_timer_stop(&((gw_north_t *)arg)->metrics_timer);
}

/* ---- lifecycle ---------------------------------------------------------- */

int gw_north_create(gw_north_t **out, const gw_north_env_t *env)
{
    gw_north_t *n = calloc(1, sizeof(*n));

    *out = NULL;
    if (!n)
        return GW_ENOMEM;
    n->env = *env;
    uv_timer_init(env->loop, &n->metrics_timer);
    n->metrics_timer.data = n;
    *out = n;
    return 0;
}

/* The session and its parts, in the order of their work on a connect. */
static int north__create_parts(gw_north_t *n, char *err, size_t errlen)
{
    const gw_north_env_t *e = &n->env;
    north_handler_t first = {.connected = north__first_connected,
                             .disconnected = north__disconnected};
    north_handler_t last = {.connected = north__last_connected};
    int rc;

    first.arg = last.arg = n;
    if (north__session_create(&n->sess, e->loop, e->inq, e->core) != 0)
        goto out_nomem;
    north__session_on(n->sess, &first);
    if (north__outbox_create(&n->outbox, e->loop, n->sess, e->ledger, e->core) != 0)
        goto out_nomem;
    rc = north__buf_create(&n->buf, e->loop, n->sess, e->core, e->inq, err, errlen);
    if (rc != 0)
        return rc;
    north__buf_on_replay_done(n->buf, north__replay_done, n);
    if (north__tel_create(&n->tel, e->loop, n->sess, e->core, n->buf) != 0 ||
        north__cmd_create(&n->cmd, n->sess, e->core, e->ledger) != 0 ||
        north__nbiot_create(&n->nbiot, e->loop, n->sess, e->core, n->buf) != 0 ||
        north__hass_create(&n->hass, n->sess, e->core) != 0 ||
        north__audit_create(&n->audit, e->loop, n->sess, e->core, e->ledger) != 0)
        goto out_nomem;
    north__session_on(n->sess, &last);
    return 0;

out_nomem:
    snprintf(err, errlen, "out of memory");
    return GW_ENOMEM; /* what was made is freed by gw_north_free */
}

int gw_north_start(gw_north_t *n, char *err, size_t errlen)
{
    int rc;

    if (!north__cfg(n)->mqtt.enabled) {
        gw_log_notice("mqtt", "disabled by config (mqtt.enabled = false)");
        return 0;
    }
    if (!n->sess) {
        rc = north__create_parts(n, err, errlen);
        if (rc != 0)
            return rc;
    }
    return north__session_start(n->sess, err, errlen);
}

/* Stop MQTT: halt, spill buffered telemetry, say offline, close (async:
 * without holding the loop). */
static void north__stop(gw_north_t *n, int async)
{
    if (!n || !north__session_active(n->sess))
        return;
    north__session_halt(n->sess);
    north__buf_flush(n->buf);
    if (north__session_connected(n->sess))
        north__gateway_status(n, "offline");
    if (async)
        north__session_close_async(n->sess);
    else
        north__session_close(n->sess);
}

void gw_north_stop(gw_north_t *n)
{
    north__stop(n, 0);
}

void gw_north_free(gw_north_t *n)
{
    if (!n)
        return;
    north__session_close(n->sess);
    north__cmd_free(n->cmd);
    north__nbiot_free(n->nbiot);
    north__hass_free(n->hass);
    north__audit_free(n->audit);
    north__tel_free(n->tel);
    north__buf_free(n->buf);
    north__outbox_free(n->outbox);
    north__session_free(n->sess);
    free(n);
}

static int north__mqtt_same(const gw_config_t *a, const gw_config_t *b)
{
    return memcmp(&a->mqtt, &b->mqtt, sizeof(a->mqtt)) == 0 && strcmp(a->site_id, b->site_id) == 0;
}

void gw_north_reload_begin(gw_north_t *n, const gw_config_t *cfg)
{
    n->restart = !north__mqtt_same(north__cfg(n), cfg);
    if (n->restart)
        north__stop(n, 1);
}

void gw_north_reload_end(gw_north_t *n)
{
    char err[256];

    if (!n->restart)
        return;
    n->restart = 0;
    if (gw_north_start(n, err, sizeof(err)) != 0)
        gw_log_error("mqtt", "reload: %s", err);
}

/* ---- messages ----------------------------------------------------------- */

void gw_north_on_message(gw_north_t *n, const gw_msg_t *m)
{
    if (m->kind >= 200 && m->kind < 300) {
        if (n->sess)
            north__session_event(n->sess, m);
    } else if (m->kind == LEDGER_EV_OUTBOX) {
        const ledger_ev_outbox_t *ev = (const ledger_ev_outbox_t *)m;
        north__outbox_row(n->outbox, &ev->row, ev->load_tag);
    } else if (m->kind == LEDGER_EV_OUTBOX_LOADED) {
        north__outbox_loaded(n->outbox, (const ledger_ev_outbox_loaded_t *)m);
    } else if (m->kind == LEDGER_EV_PROVISIONAL) {
        const ledger_ev_provisional_t *ev = (const ledger_ev_provisional_t *)m;
        north__outbox_provisional(n->outbox, ev->channel, ev->payload);
    } else if (m->kind == LEDGER_EV_CHANGED) {
        north__cmd_on_changed(n->cmd, (const ledger_ev_changed_t *)m);
    } else if (m->kind >= 600 && m->kind < 700) {
        north__buf_on_message(n->buf, m); /* the spool thread's results */
    } else if (m->kind == LEDGER_EV_AUDIT_HEAD) {
        north__audit_head(n->audit, (const ledger_ev_audit_head_t *)m);
    }
}

/* ---- for the service ---------------------------------------------------- */

static void north__head(FILE *o, const char *name, const char *type, const char *help)
{
    fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Each telemetry buffer with its depth and bound (docs/configuration.md,
 * "mqtt"): memory ring, live messages awaiting their PUBACK, the spool and
 * what waits for its thread. */
static void north__buffer_json(gw_north_t *n, const north_buf_stats_t *st, cJSON *b)
{
    if (!b)
        return;
    cJSON_AddNumberToObject(b, "memory", (double)st->in_memory);
    cJSON_AddNumberToObject(b, "memory_max", (double)st->memory_max);
    cJSON_AddNumberToObject(b, "unacked", (double)st->unacked);
    cJSON_AddNumberToObject(b, "unacked_max", (double)st->unacked_max);
    cJSON_AddNumberToObject(b, "spool", (double)st->in_spool);
    cJSON_AddNumberToObject(b, "spool_max", (double)north__cfg(n)->mqtt.buf_max);
    cJSON_AddNumberToObject(b, "spool_queue", (double)st->spool_queue);
    cJSON_AddBoolToObject(b, "spool_ok", st->spool_ok);
}

static void north__buffer_metrics(FILE *o, gw_north_t *n, const north_buf_stats_t *st)
{
    static const char *const names[] = {"memory", "unacked", "spool", "spool_queue"};
    uint64_t depth[] = {st->in_memory, st->unacked, st->in_spool, st->spool_queue};
    uint64_t max[] = {st->memory_max, st->unacked_max, (uint64_t)north__cfg(n)->mqtt.buf_max,
                      st->memory_max * 4};

    north__head(o, "plantroom_mqtt_buffer_messages", "gauge",
                "Telemetry messages held now, per buffer (memory ring, live awaiting PUBACK, "
                "spool, handed to the spool thread).");
    for (size_t i = 0; i < GW_ARRAY_SIZE(names); i++)
        fprintf(o, "plantroom_mqtt_buffer_messages{buffer=\"%s\"} %llu\n", names[i],
                (unsigned long long)depth[i]);
    north__head(o, "plantroom_mqtt_buffer_limit", "gauge", "The bound of each telemetry buffer.");
    for (size_t i = 0; i < GW_ARRAY_SIZE(names); i++)
        fprintf(o, "plantroom_mqtt_buffer_limit{buffer=\"%s\"} %llu\n", names[i],
                (unsigned long long)max[i]);
}

/* The client's queue (what paho holds) and the telemetry that waits for
 * room in it (docs/mqtt.md, "The client's queue"). */
static void north__queue_json(gw_north_t *n, cJSON *o)
{
    north_tel_queue_t tq;
    mq_queue_t q;
    char state[128];

    if (!o)
        return;
    north__session_queue(n->sess, &q);
    north__tel_queue_stats(n->tel, &tq);
    north__tel_state(&tq, state, sizeof(state));
    cJSON_AddStringToObject(o, "state", state);
    cJSON_AddNumberToObject(o, "messages", (double)q.messages);
    cJSON_AddNumberToObject(o, "bytes", (double)q.bytes);
    cJSON_AddNumberToObject(o, "max_bytes", (double)north__cfg(n)->mqtt.queue_max_bytes);
    cJSON_AddNumberToObject(o, "telemetry_waiting", (double)tq.waiting);
    cJSON_AddNumberToObject(o, "telemetry_deferred", (double)tq.deferred);
    cJSON_AddNumberToObject(o, "telemetry_buffered", (double)tq.buffered);
    cJSON_AddNumberToObject(o, "telemetry_skipped", (double)tq.skipped);
}

static void north__queue_metrics(FILE *o, gw_north_t *n)
{
    north_tel_queue_t tq;
    mq_queue_t q;

    north__session_queue(n->sess, &q);
    north__tel_queue_stats(n->tel, &tq);
    north__head(o, "plantroom_mqtt_client_queue_bytes", "gauge",
                "Bytes of publishes (payload and topic) the MQTT client holds, not yet written "
                "(QoS 0) or acknowledged (QoS 1), of this connection.");
    fprintf(o, "plantroom_mqtt_client_queue_bytes %zu\n", q.bytes);
    north__head(o, "plantroom_mqtt_client_queue_messages", "gauge",
                "Publishes the MQTT client holds, of this connection.");
    fprintf(o, "plantroom_mqtt_client_queue_messages %zu\n", q.messages);
    north__head(o, "plantroom_mqtt_client_queue_limit_bytes", "gauge",
                "mqtt.queue_max_bytes: above it telemetry waits (the latest per device), "
                "then is buffered.");
    fprintf(o, "plantroom_mqtt_client_queue_limit_bytes %d\n", north__cfg(n)->mqtt.queue_max_bytes);
    north__head(o, "plantroom_mqtt_telemetry_waiting", "gauge",
                "Devices whose telemetry waits for room in the MQTT client's queue.");
    fprintf(o, "plantroom_mqtt_telemetry_waiting %llu\n", (unsigned long long)tq.waiting);
    north__head(o, "plantroom_mqtt_telemetry_stall_buffered_total", "counter",
                "Telemetry messages put in the store-and-forward buffer while connected, "
                "because the broker did not read (replayed when it reads again).");
    fprintf(o, "plantroom_mqtt_telemetry_stall_buffered_total %llu\n",
            (unsigned long long)tq.buffered);
    north__head(o, "plantroom_mqtt_telemetry_skipped_total", "counter",
                "Telemetry messages lost: replaced by a newer poll while waiting for room "
                "(the broker not reading), or waiting at a reload.");
    fprintf(o, "plantroom_mqtt_telemetry_skipped_total %llu\n", (unsigned long long)tq.skipped);
    north__head(o, "plantroom_mqtt_broker_not_reading", "gauge",
                "1 while telemetry is buffered (or skipped) because the broker does not read.");
    fprintf(o, "plantroom_mqtt_broker_not_reading %d\n", tq.stalled);
}

void gw_north_status_json(void *arg, cJSON *res)
{
    gw_north_t *n = arg;
    const gw_mqtt_cfg_t *q = &north__cfg(n)->mqtt;
    cJSON *o = cJSON_AddObjectToObject(res, "mqtt"), *f;
    north_counts_t k;
    north_buf_stats_t st;

    north__buf_stats(n->buf, &st);
    north__session_counts(n->sess, &k);
    cJSON_AddBoolToObject(o, "enabled", q->enabled);
    cJSON_AddStringToObject(o, "uri", q->uri);
    cJSON_AddStringToObject(o, "client_id", q->client_id);
    cJSON_AddBoolToObject(o, "connected", north__session_connected(n->sess));
    cJSON_AddNumberToObject(o, "connects", (double)k.connects);
    cJSON_AddNumberToObject(o, "connect_failures", (double)k.connect_failures);
    north__session_subs_json(n->sess, cJSON_AddArrayToObject(o, "subscriptions"));
    cJSON_AddNumberToObject(o, "telemetry_published", (double)st.published);
    cJSON_AddNumberToObject(o, "telemetry_dropped", (double)st.dropped);
    cJSON_AddNumberToObject(o, "events_delivered", (double)k.acked[NORTH_KIND_EVENT]);
    cJSON_AddNumberToObject(o, "events_inflight", (double)north__outbox_inflight(n->outbox));
    {
        north_outbox_figures_t of;
        north__outbox_figures(n->outbox, &of);
        cJSON_AddNumberToObject(o, "events_inflight_peak", (double)of.peak);
        cJSON_AddNumberToObject(o, "events_window", (double)of.window);
        cJSON_AddBoolToObject(o, "events_behind", of.behind);
    }
    cJSON_AddNumberToObject(o, "events_provisional",
                            (double)north__outbox_provisional_count(n->outbox));
    f = cJSON_AddObjectToObject(o, "publish_failures");
    for (int i = 0; i < NORTH_NKINDS; i++)
        cJSON_AddNumberToObject(f, north_kind_names[i], (double)k.failed[i]);
    north__buffer_json(n, &st, cJSON_AddObjectToObject(o, "telemetry_buffer"));
    north__queue_json(n, cJSON_AddObjectToObject(o, "client_queue"));
}

/* The session's counts by kind of publish. */
static void north__session_metrics(FILE *o, const north_counts_t *k)
{
    north__head(o, "plantroom_mqtt_connects_total", "counter", "Successful MQTT connections.");
    fprintf(o, "plantroom_mqtt_connects_total %llu\n", (unsigned long long)k->connects);
    north__head(o, "plantroom_mqtt_connect_failures_total", "counter",
                "MQTT connection attempts that failed (refused, unreachable, TLS).");
    fprintf(o, "plantroom_mqtt_connect_failures_total %llu\n",
            (unsigned long long)k->connect_failures);
    north__head(o, "plantroom_mqtt_events_delivered_total", "counter",
                "Work-order events from the outbox acknowledged by the broker (QoS 1 PUBACK); "
                "provisional copies and other publishes are not counted.");
    fprintf(o, "plantroom_mqtt_events_delivered_total %llu\n",
            (unsigned long long)k->acked[NORTH_KIND_EVENT]);
    north__head(o, "plantroom_mqtt_acknowledged_total", "counter",
                "Publishes the broker acknowledged (QoS 1 PUBACK), by kind (event: committed "
                "work-order events; telemetry: live and replayed).");
    for (int i = 0; i < NORTH_NKINDS; i++)
        fprintf(o, "plantroom_mqtt_acknowledged_total{kind=\"%s\"} %llu\n", north_kind_names[i],
                (unsigned long long)k->acked[i]);
    north__head(o, "plantroom_mqtt_publish_failures_total", "counter",
                "Publishes the MQTT client reported failed, by kind (event: work-order events, "
                "which stay in the outbox; telemetry: live and replayed, kept in the buffer).");
    for (int i = 0; i < NORTH_NKINDS; i++)
        fprintf(o, "plantroom_mqtt_publish_failures_total{kind=\"%s\"} %llu\n", north_kind_names[i],
                (unsigned long long)k->failed[i]);
}

void gw_north_metrics_text(void *arg, FILE *o)
{
    gw_north_t *n = arg;
    north_counts_t k;
    north_buf_stats_t st;

    north__buf_stats(n->buf, &st);
    north__session_counts(n->sess, &k);
    north__head(o, "plantroom_outbox_inflight", "gauge",
                "Outbox events published and not yet acknowledged by the broker.");
    fprintf(o, "plantroom_outbox_inflight %zu\n", north__outbox_inflight(n->outbox));
    north__head(o, "plantroom_mqtt_connected", "gauge", "1 while connected to the MQTT broker.");
    fprintf(o, "plantroom_mqtt_connected %d\n", north__session_connected(n->sess));
    north__session_metrics(o, &k);
    north__head(o, "plantroom_mqtt_telemetry_published_total", "counter",
                "Telemetry messages handed to the MQTT client (live and replayed).");
    fprintf(o, "plantroom_mqtt_telemetry_published_total %llu\n", (unsigned long long)st.published);
    north__head(o, "plantroom_mqtt_telemetry_dropped_total", "counter",
                "Telemetry messages dropped past the buffer bound while the broker was away.");
    fprintf(o, "plantroom_mqtt_telemetry_dropped_total %llu\n", (unsigned long long)st.dropped);
    north__head(o, "plantroom_mqtt_events_provisional_total", "counter",
                "Work-order events published before the ledger could commit them "
                "(\"durable\":false).");
    fprintf(o, "plantroom_mqtt_events_provisional_total %llu\n",
            (unsigned long long)north__outbox_provisional_count(n->outbox));
    north__buffer_metrics(o, n, &st);
    north__queue_metrics(o, n);
    north__nbiot_metrics_text(n->nbiot, o);
    north__cmd_metrics_text(n->cmd, o);
}

void gw_north_brief(void *arg, char *buf, size_t len)
{
    gw_north_t *n = arg;
    north_tel_queue_t tq;

    north__tel_queue_stats(n->tel, &tq);
    if (!north__session_active(n->sess))
        snprintf(buf, len, "%s", north__cfg(n)->mqtt.enabled ? "broker stopped" : "mqtt disabled");
    else if (tq.stalled)
        north__tel_state(&tq, buf, len);
    else
        snprintf(buf, len, "broker %s",
                 north__session_connected(n->sess) ? "connected" : "disconnected");
}
