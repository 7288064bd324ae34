/*
 * gw_north.c: northbound: the MQTT session (connect, backoff with jitter,
 * last will), telemetry and status publishing, and delivery of work-order
 * events from the ledger's outbox (publish after commit at QoS 1, delete on
 * PUBACK, reload everything pending on each connect). Loop thread only.
 */
#include "gateway/gw_daemon_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- topics ------------------------------------------------------------ */

void gw__topic(const gw_daemon_t *d, char *buf, size_t len, const char *suffix)
{
    const gw_config_t *c = d->rt->cfg;
    snprintf(buf, len, "%s/%s/%s", c->mqtt.prefix, c->site_id, suffix);
}

/* ---- outbox in flight -------------------------------------------------- */

static int daemon__inflight_has(const gw_daemon_t *d, int64_t id)
{
    for (size_t i = 0; i < d->ninflight; i++) {
        if (d->inflight[i] == id)
            return 1;
    }
    return 0;
}

static void daemon__inflight_add(gw_daemon_t *d, int64_t id)
{
    if (gw_array_grow((void **)&d->inflight, d->ninflight, &d->capinflight, sizeof(*d->inflight)) !=
        0)
        return; /* not tracked: at worst published twice, ids dedupe */
    d->inflight[d->ninflight++] = id;
}

static void daemon__inflight_del(gw_daemon_t *d, int64_t id)
{
    for (size_t i = 0; i < d->ninflight; i++) {
        if (d->inflight[i] == id) {
            d->inflight[i] = d->inflight[--d->ninflight];
            return;
        }
    }
}

/* ---- outbox rows written by others ------------------------------------- */

/* plantroomctl writes work-order changes and their outbox rows straight
 * into the ledger. Every 500 ms, while connected, ask the ledger thread for
 * outbox rows it has not posted yet (LOAD after INT64_MAX: only those), so
 * that such a change is published within a second. Rows in flight are not
 * published twice (daemon__on_outbox_row). */
#define GW__OUTBOX_POLL_MS 500

static void daemon__outbox_timer_cb(uv_timer_t *t)
{
    gw_daemon_t *d = t->data;
    ledger_op_outbox_t *op;

    if (d->stopping || !d->ledger || !d->mq || !mq_is_connected(d->mq))
        return;
    op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_LOAD, INT64_MAX);
    if (op)
        ledger_worker_submit(d->ledger, &op->hdr);
}

static void daemon__outbox_timer_start(gw_daemon_t *d)
{
    if (d->outbox_timer_on)
        return;
    uv_timer_init(&d->loop, &d->outbox_timer);
    d->outbox_timer.data = d;
    uv_timer_start(&d->outbox_timer, daemon__outbox_timer_cb, GW__OUTBOX_POLL_MS,
                   GW__OUTBOX_POLL_MS);
    d->outbox_timer_on = 1;
}

/* ---- MQTT session ------------------------------------------------------ */

void gw__publish_json(gw_daemon_t *d, const char *suffix, cJSON *obj, int qos, int retain)
{
    char topic[384], err[160];
    char *text;

    if (!d->mq || !mq_is_connected(d->mq))
        return;
    gw__topic(d, topic, sizeof(topic), suffix);
    text = cJSON_PrintUnformatted(obj);
    if (!text)
        return;
    if (mq_publish(d->mq, topic, text, strlen(text), qos, retain, 0, err, sizeof(err)) != 0)
        gw_log_debug("gw", "%s", err);
    free(text);
}

void gw__publish_gateway_status(gw_daemon_t *d, const char *status)
{
    char ts[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "site", d->rt->cfg->site_id);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(gw_wall_ms(), ts, sizeof(ts)));
    cJSON_AddNumberToObject(o, "telemetry_dropped", gw__north_dropped(d));
    gw__publish_json(d, "status", o, 1, 1);
    cJSON_Delete(o);
}

void gw__publish_metrics(gw_daemon_t *d)
{
    char ts[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", d->rt->cfg->site_id);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(gw_wall_ms(), ts, sizeof(ts)));
    cJSON_AddItemToObject(o, "telemetry", gw__north_metrics(d));
    cJSON_AddItemToObject(o, "nbiot", gw__nbiot_metrics(d));
    cJSON_AddNumberToObject(o, "outbox_in_flight", (double)d->ninflight);
    gw__publish_json(d, "metrics", o, 1, 1);
    cJSON_Delete(o);
}

void gw__publish_device_status(gw_daemon_t *d, const gw_device_rt_t *dev)
{
    char suffix[160], ts[32];
    cJSON *o;

    if (dev->status == GW_DEV_UNKNOWN)
        return;
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "device", dev->cfg->name);
    cJSON_AddStringToObject(o, "status", dev->status == GW_DEV_ONLINE ? "online" : "offline");
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(gw_wall_ms(), ts, sizeof(ts)));
    if (dev->status == GW_DEV_OFFLINE)
        cJSON_AddStringToObject(o, "error", dev->last_err);
    snprintf(suffix, sizeof(suffix), "devices/%s/status", dev->cfg->name);
    gw__publish_json(d, suffix, o, 1, 1);
    cJSON_Delete(o);
}

static void daemon__mq_timer_cb(uv_timer_t *t);

static void daemon__mq_schedule_retry(gw_daemon_t *d)
{
    const gw_mqtt_cfg_t *q = &d->rt->cfg->mqtt;
    unsigned r = 0;
    int ms;

    if (d->stopping || !d->mq)
        return;
    d->mq_backoff_ms = d->mq_backoff_ms ? d->mq_backoff_ms * 2 : q->reconnect_min_ms;
    if (d->mq_backoff_ms > q->reconnect_max_ms)
        d->mq_backoff_ms = q->reconnect_max_ms;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r))
        r = (unsigned)rand();
    /* jitter +-25 %: a fleet of gateways does not storm a restarted broker */
    ms = d->mq_backoff_ms - d->mq_backoff_ms / 4 + (int)(r % (unsigned)(d->mq_backoff_ms / 2 + 1));
    uv_timer_start(&d->mq_timer, daemon__mq_timer_cb, (uint64_t)ms, 0);
}

static void daemon__mq_connect(gw_daemon_t *d)
{
    char err[256];
    if (mq_connect(d->mq, err, sizeof(err)) != 0) {
        /* like a failed connect: warn once, then debug until it recovers */
        gw_log(d->mq_failures++ == 0 ? GW_LOG_WARN : GW_LOG_DEBUG, "mqtt", "%s", err);
        daemon__mq_schedule_retry(d);
    }
}

static void daemon__mq_timer_cb(uv_timer_t *t)
{
    gw_daemon_t *d = t->data;
    if (d->mq && !mq_is_connected(d->mq))
        daemon__mq_connect(d);
}

static int daemon__read_password(const gw_mqtt_cfg_t *q, char *buf, size_t len, char *err,
                                 size_t errlen)
{
    const char *env = getenv("PLANTROOM_MQTT_PASSWORD");
    FILE *f;

    buf[0] = '\0';
    if (env) {
        snprintf(buf, len, "%s", env);
        return 0;
    }
    if (!q->password_file[0])
        return 0;
    f = fopen(q->password_file, "r");
    if (!f) {
        snprintf(err, errlen, "mqtt.password_file %s: %s", q->password_file, strerror(errno));
        return GW_EIO;
    }
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int gw__mq_start(gw_daemon_t *d, char *err, size_t errlen)
{
    const gw_config_t *c = d->rt->cfg;
    char will_topic[384], will[256], password[256];
    int rc;

    if (!c->mqtt.enabled) {
        gw_log_notice("mqtt", "disabled by config (mqtt.enabled = false)");
        return 0;
    }
    rc = daemon__read_password(&c->mqtt, password, sizeof(password), err, errlen);
    if (rc != 0)
        return rc;
    rc = gw__north_init(d, err, errlen);
    if (rc != 0)
        return rc;
    gw__topic(d, will_topic, sizeof(will_topic), "status");
    snprintf(will, sizeof(will), "{\"v\":1,\"status\":\"offline\",\"site\":\"%s\",\"ts\":null}",
             c->site_id);
    mq_cfg_t mc = {
        .uri = c->mqtt.uri,
        .client_id = c->mqtt.client_id,
        .username = c->mqtt.username[0] ? c->mqtt.username : NULL,
        .password = password[0] ? password : NULL,
        .keepalive_s = c->mqtt.keepalive_s,
        .connect_timeout_s = 10,
        .will_topic = will_topic,
        .will_payload = will,
        .will_retain = 1,
        .version = c->mqtt.version,
        .ca_file = c->mqtt.ca_file[0] ? c->mqtt.ca_file : NULL,
        .cert_file = c->mqtt.cert_file[0] ? c->mqtt.cert_file : NULL,
        .key_file = c->mqtt.key_file[0] ? c->mqtt.key_file : NULL,
        .tls_verify = c->mqtt.tls_verify,
    };
    rc = mq_create(&d->mq, &mc, &d->inq, err, errlen);
    memset(password, 0, sizeof(password));
    if (rc != 0)
        return rc;
    d->mq_backoff_ms = 0;
    daemon__outbox_timer_start(d);
    gw_log_info("mqtt", "connecting to %s as %s (MQTT %s%s)", c->mqtt.uri, c->mqtt.client_id,
                c->mqtt.version == 5 ? "5" : "3.1.1", c->mqtt.tls ? ", TLS" : "");
    daemon__mq_connect(d);
    return 0;
}

void gw__mq_stop(gw_daemon_t *d)
{
    if (!d->mq)
        return;
    uv_timer_stop(&d->mq_timer);
    gw__north_on_disconnected(d);
    gw__north_flush(d);
    if (mq_is_connected(d->mq)) {
        gw__publish_gateway_status(d, "offline");
        mq_disconnect(d->mq, 2000);
        gw_log_info("mqtt", "disconnected");
    }
    mq_destroy(d->mq);
    d->mq = NULL;
    d->ninflight = 0;
}

void gw__on_mq_event(gw_daemon_t *d, gw_msg_t *m)
{
    mq_event_t *ev = (mq_event_t *)m;

    switch (m->kind) {
    case MQ_EV_CONNECTED: {
        ledger_op_outbox_t *op;
        gw_log_notice("mqtt", "connected to %s", d->rt->cfg->mqtt.uri);
        d->mq_backoff_ms = 0;
        d->mq_failures = 0;
        d->ninflight = 0;
        gw__publish_gateway_status(d, "online");
        for (size_t i = 0; i < d->rt->cfg->ndevices; i++)
            gw__publish_device_status(d, &d->rt->devs[i]);
        op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_LOAD, 0);
        if (op)
            ledger_worker_submit(d->ledger, &op->hdr);
        gw__north_on_connected(d);
        gw__nbiot_on_connected(d);
        gw__hass_announce(d);
        gw__cmd_on_connected(d);
        gw__publish_metrics(d);
        break;
    }
    case MQ_EV_CONNECT_FAILED:
    case MQ_EV_CONNECTION_LOST:
        /* First failure at warn, the rest at debug until it recovers. */
        gw_log(d->mq_failures++ == 0 ? GW_LOG_WARN : GW_LOG_DEBUG, "mqtt", "%s: %s",
               m->kind == MQ_EV_CONNECT_FAILED ? "connect failed" : "connection lost", ev->err);
        d->ninflight = 0;
        gw__north_on_disconnected(d);
        daemon__mq_schedule_retry(d);
        break;
    case MQ_EV_DELIVERED: {
        if (ev->tag & GW_TAG_SPOOL) {
            gw__north_on_spool_ack(d, ev->tag, 1);
            break;
        }
        if (ev->tag & GW_TAG_LIVE) {
            gw__north_on_live_ack(d, ev->tag, 1);
            break;
        }
        ledger_op_outbox_t *op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_ACK, (int64_t)ev->tag);
        daemon__inflight_del(d, (int64_t)ev->tag);
        if (op)
            ledger_worker_submit(d->ledger, &op->hdr);
        break;
    }
    case MQ_EV_PUBLISH_FAILED:
        if (ev->tag & GW_TAG_SPOOL) {
            gw__north_on_spool_ack(d, ev->tag, 0);
            break;
        }
        if (ev->tag & GW_TAG_LIVE) {
            gw__north_on_live_ack(d, ev->tag, 0);
            break;
        }
        /* The row stays in the outbox; the next connect sends it again. */
        gw_log_warn("mqtt", "event %llu not delivered: %s", (unsigned long long)ev->tag, ev->err);
        daemon__inflight_del(d, (int64_t)ev->tag);
        break;
    case MQ_EV_MESSAGE:
        if (gw__cmd_is_command(d, ((mq_message_t *)m)->topic))
            gw__cmd_on_message(d, (mq_message_t *)m);
        else
            gw__nbiot_on_message(d, (mq_message_t *)m);
        break;
    }
}

/* ---- ledger results ---------------------------------------------------- */

static void daemon__on_outbox_row(gw_daemon_t *d, const ledger_outbox_row_t *row)
{
    char topic[384], suffix[96], err[160];

    if (!d->mq || !mq_is_connected(d->mq) || daemon__inflight_has(d, row->id))
        return; /* stays in the outbox until the next connect */
    snprintf(suffix, sizeof(suffix), "events/%s", row->channel);
    gw__topic(d, topic, sizeof(topic), suffix);
    if (mq_publish(d->mq, topic, row->payload, strlen(row->payload), 1, 0, (uint64_t)row->id, err,
                   sizeof(err)) != 0) {
        gw_log_debug("mqtt", "%s", err);
        return;
    }
    daemon__inflight_add(d, row->id);
}

void gw__on_ledger_event(gw_daemon_t *d, gw_msg_t *m)
{
    switch (m->kind) {
    case LEDGER_EV_OUTBOX:
        /* notifications first: the notifier commits it before MQTT may
         * acknowledge (and so delete) the row */
        gw_notify_on_event(d->notify, ((ledger_ev_outbox_t *)m)->row.channel,
                           ((ledger_ev_outbox_t *)m)->row.payload);
        gw__rules_on_wo_event(d, &((ledger_ev_outbox_t *)m)->row);
        daemon__on_outbox_row(d, &((ledger_ev_outbox_t *)m)->row);
        break;
    case LEDGER_EV_OPENED: {
        ledger_ev_opened_t *ev = (ledger_ev_opened_t *)m;
        gw_log_notice("ledger", "work order #%lld opened: %s (device %s, rule %s)",
                      (long long)ev->res.number, ev->res.id, ev->device, ev->rule);
        break;
    }
    case LEDGER_EV_CHANGED:
        gw__cmd_on_changed(d, (ledger_ev_changed_t *)m);
        break;
    case LEDGER_EV_ERROR:
        gw_log_error("ledger", "%s", ((ledger_ev_error_t *)m)->msg);
        break;
    }
}
