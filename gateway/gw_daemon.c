/*
 * gw_daemon.c: the loop thread (gw_daemon.h).
 *
 * Everything here runs on the loop thread. Other threads only push onto
 * d->inq; wake() drains it whole (uv_async sends coalesce) and dispatches by
 * message kind: Modbus readings (100s), MQTT events (200s), ledger results
 * (300s).
 *
 * Work-order events follow the durability order of docs/architecture.md: a
 * rule's action goes to the ledger thread; the change and its outbox row are
 * committed together; only then does the ledger thread hand the row back and
 * we publish it at QoS 1; the broker's PUBACK deletes the row. Rows in
 * flight are remembered so a row is not published twice on one connection;
 * on every (re)connect all rows still in the outbox are loaded and sent,
 * oldest first.
 */
#include "gateway/gw_daemon.h"
#include "gateway/gw_clock.h"
#include "gateway/gw_log.h"
#include "gateway/gw_runtime.h"
#include "protocols/mqtt/mq.h"
#include "store/ledger_worker.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <uv.h>

struct gw_daemon {
    uv_loop_t loop;
    uv_async_t wake;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t mq_timer;
    gw_queue_t inq;
    gw_config_overrides_t ov;
    char state_dir_ov[PATH_MAX];

    gw_runtime_t *rt;
    ledger_worker_t *ledger;
    mq_client_t *mq;
    int mq_backoff_ms;
    int mq_failures;   /* consecutive failed connects, for log throttling */
    int stopping;

    int64_t *inflight; /* outbox ids published, not yet acknowledged */
    size_t ninflight, capinflight;
    uint64_t telemetry_sent, telemetry_dropped;
};

static void daemon__dispatch(gw_daemon_t *d, gw_msg_t *m);

/* ---- topics ------------------------------------------------------------ */

static void daemon__topic(const gw_daemon_t *d, char *buf, size_t len, const char *suffix)
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
    if (d->ninflight == d->capinflight) {
        size_t cap = d->capinflight ? d->capinflight * 2 : 64;
        int64_t *n = realloc(d->inflight, cap * sizeof(*n));
        if (!n)
            return; /* not tracked: at worst published twice, ids dedupe */
        d->inflight = n;
        d->capinflight = cap;
    }
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

/* ---- MQTT session ------------------------------------------------------ */

static void daemon__publish_json(gw_daemon_t *d, const char *suffix, cJSON *obj, int qos,
                                 int retain)
{
    char topic[384], err[160];
    char *text;

    if (!d->mq || !mq_is_connected(d->mq))
        return;
    daemon__topic(d, topic, sizeof(topic), suffix);
    text = cJSON_PrintUnformatted(obj);
    if (!text)
        return;
    if (mq_publish(d->mq, topic, text, strlen(text), qos, retain, 0, err, sizeof(err)) != 0)
        gw_log_debug("gw", "%s", err);
    free(text);
}

static void daemon__publish_gateway_status(gw_daemon_t *d, const char *status)
{
    char ts[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "site", d->rt->cfg->site_id);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(gw_wall_ms(), ts, sizeof(ts)));
    daemon__publish_json(d, "status", o, 1, 1);
    cJSON_Delete(o);
}

static void daemon__publish_device_status(gw_daemon_t *d, const gw_device_rt_t *dev)
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
    daemon__publish_json(d, suffix, o, 1, 1);
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
        gw_log_warn("mqtt", "%s", err);
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

static int daemon__mq_start(gw_daemon_t *d, char *err, size_t errlen)
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
    daemon__topic(d, will_topic, sizeof(will_topic), "status");
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
    };
    rc = mq_create(&d->mq, &mc, &d->inq, err, errlen);
    memset(password, 0, sizeof(password));
    if (rc != 0)
        return rc;
    d->mq_backoff_ms = 0;
    gw_log_info("mqtt", "connecting to %s as %s", c->mqtt.uri, c->mqtt.client_id);
    daemon__mq_connect(d);
    return 0;
}

static void daemon__mq_stop(gw_daemon_t *d)
{
    if (!d->mq)
        return;
    uv_timer_stop(&d->mq_timer);
    if (mq_is_connected(d->mq)) {
        daemon__publish_gateway_status(d, "offline");
        mq_disconnect(d->mq, 2000);
        gw_log_info("mqtt", "disconnected");
    }
    mq_destroy(d->mq);
    d->mq = NULL;
    d->ninflight = 0;
}

static void daemon__on_mq_event(gw_daemon_t *d, gw_msg_t *m)
{
    mq_event_t *ev = (mq_event_t *)m;

    switch (m->kind) {
    case MQ_EV_CONNECTED: {
        ledger_op_outbox_t *op;
        gw_log_notice("mqtt", "connected to %s", d->rt->cfg->mqtt.uri);
        d->mq_backoff_ms = 0;
        d->mq_failures = 0;
        d->ninflight = 0;
        daemon__publish_gateway_status(d, "online");
        for (size_t i = 0; i < d->rt->cfg->ndevices; i++)
            daemon__publish_device_status(d, &d->rt->devs[i]);
        op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_LOAD, 0);
        if (op)
            ledger_worker_submit(d->ledger, &op->hdr);
        break;
    }
    case MQ_EV_CONNECT_FAILED:
    case MQ_EV_CONNECTION_LOST:
        /* First failure at warn, the rest at debug until it recovers. */
        gw_log(d->mq_failures++ == 0 ? GW_LOG_WARN : GW_LOG_DEBUG, "mqtt", "%s: %s",
               m->kind == MQ_EV_CONNECT_FAILED ? "connect failed" : "connection lost", ev->err);
        d->ninflight = 0;
        daemon__mq_schedule_retry(d);
        break;
    case MQ_EV_DELIVERED: {
        ledger_op_outbox_t *op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_ACK, (int64_t)ev->tag);
        daemon__inflight_del(d, (int64_t)ev->tag);
        if (op)
            ledger_worker_submit(d->ledger, &op->hdr);
        break;
    }
    case MQ_EV_PUBLISH_FAILED:
        /* The row stays in the outbox; the next connect sends it again. */
        gw_log_warn("mqtt", "event %llu not delivered: %s", (unsigned long long)ev->tag, ev->err);
        daemon__inflight_del(d, (int64_t)ev->tag);
        break;
    case MQ_EV_MESSAGE:
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
    daemon__topic(d, topic, sizeof(topic), suffix);
    if (mq_publish(d->mq, topic, row->payload, strlen(row->payload), 1, 0, (uint64_t)row->id, err,
                   sizeof(err)) != 0) {
        gw_log_debug("mqtt", "%s", err);
        return;
    }
    daemon__inflight_add(d, row->id);
}

static void daemon__on_ledger_event(gw_daemon_t *d, gw_msg_t *m)
{
    switch (m->kind) {
    case LEDGER_EV_OUTBOX:
        daemon__on_outbox_row(d, &((ledger_ev_outbox_t *)m)->row);
        break;
    case LEDGER_EV_OPENED: {
        ledger_ev_opened_t *ev = (ledger_ev_opened_t *)m;
        gw_log_notice("ledger", "work order #%lld opened: %s (device %s, rule %s)",
                      (long long)ev->res.number, ev->res.id, ev->device, ev->rule);
        break;
    }
    case LEDGER_EV_ERROR:
        gw_log_error("ledger", "%s", ((ledger_ev_error_t *)m)->msg);
        break;
    }
}

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
    cJSON_AddNumberToObject(p, r->cfg->threshold.above ? "above" : "below", r->cfg->threshold.limit);
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

static void daemon__run_rules(gw_daemon_t *d, uint32_t device_idx)
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

/* ---- readings ---------------------------------------------------------- */

static void daemon__publish_telemetry(gw_daemon_t *d, const gw_device_rt_t *dev, int64_t ts_ms)
{
    char ts[32], suffix[160];
    cJSON *o, *pts;

    if (!d->mq || !mq_is_connected(d->mq)) {
        d->telemetry_dropped++;
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", d->rt->cfg->site_id);
    cJSON_AddStringToObject(o, "device", dev->cfg->name);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(ts_ms, ts, sizeof(ts)));
    pts = cJSON_AddObjectToObject(o, "points");
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        const gw_sample_t *s = &d->rt->points[dev->first_point + i].last;
        cJSON *p = cJSON_AddObjectToObject(pts, dev->cfg->points[i].name);
        if (s->quality == GW_Q_GOOD)
            cJSON_AddNumberToObject(p, "value", s->value);
        else
            cJSON_AddNullToObject(p, "value");
        cJSON_AddStringToObject(p, "unit", dev->cfg->points[i].unit);
        cJSON_AddStringToObject(p, "quality", gw_quality_name(s->quality));
        cJSON_AddStringToObject(p, "ts", gw_format_iso8601(s->ts_ms, ts, sizeof(ts)));
    }
    snprintf(suffix, sizeof(suffix), "devices/%s/telemetry", dev->cfg->name);
    daemon__publish_json(d, suffix, o, 0, 0);
    d->telemetry_sent++;
    cJSON_Delete(o);
}

static void daemon__device_status(gw_daemon_t *d, gw_device_rt_t *dev, int ok, const char *err)
{
    gw_dev_status_t before = dev->status;

    dev->polls++;
    if (ok) {
        dev->fails = 0;
        dev->status = GW_DEV_ONLINE;
    } else {
        dev->errors++;
        dev->fails++;
        snprintf(dev->last_err, sizeof(dev->last_err), "%s", err);
        if (dev->fails >= dev->cfg->offline_after)
            dev->status = GW_DEV_OFFLINE;
        if (dev->fails == 1)
            gw_log_warn("modbus", "device %s: poll failed: %s", dev->cfg->name, err);
    }
    if (dev->status != before && dev->status != GW_DEV_UNKNOWN) {
        if (dev->status == GW_DEV_ONLINE)
            gw_log_notice("gw", "device %s online", dev->cfg->name);
        else
            gw_log_warn("gw", "device %s offline after %d failed polls: %s", dev->cfg->name,
                        dev->fails, dev->last_err);
        daemon__publish_device_status(d, dev);
    }
}

static void daemon__on_reading(gw_daemon_t *d, const mb_reading_t *r)
{
    gw_runtime_t *rt = d->rt;
    gw_device_rt_t *dev;

    if (r->device_id < 0 || (size_t)r->device_id >= rt->cfg->ndevices)
        return;
    dev = &rt->devs[r->device_id];
    if (r->rc == 0 && r->nwords != dev->nwords)
        return; /* a reading planned for another config: ignore */
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        gw_point_rt_t *p = &rt->points[dev->first_point + i];
        p->last.ts_ms = r->ts_ms;
        if (r->rc != 0) {
            p->last.quality = GW_Q_COMM_ERROR;
            continue;
        }
        if (drv_decode(&dev->cfg->points[i], r->words + p->word_offset, &p->last.value) == 0)
            p->last.quality = GW_Q_GOOD;
        else
            p->last.quality = GW_Q_BAD_CONFIG;
    }
    if (r->rc == 0)
        dev->last_ok_ms = r->ts_ms;
    daemon__device_status(d, dev, r->rc == 0, r->err);
    daemon__run_rules(d, (uint32_t)r->device_id);
    daemon__publish_telemetry(d, dev, r->ts_ms);
}

static void daemon__on_bus_state(gw_daemon_t *d, const mb_bus_state_t *s)
{
    (void)d;
    (void)s; /* logged by the bus thread; device states follow from readings */
}

/* ---- dispatch ---------------------------------------------------------- */

static void daemon__dispatch(gw_daemon_t *d, gw_msg_t *m)
{
    if (m->kind == MB_EV_READING)
        daemon__on_reading(d, (mb_reading_t *)m);
    else if (m->kind == MB_EV_BUS_STATE)
        daemon__on_bus_state(d, (mb_bus_state_t *)m);
    else if (m->kind >= 200 && m->kind < 300)
        daemon__on_mq_event(d, m);
    else if (m->kind >= 300 && m->kind < 400)
        daemon__on_ledger_event(d, m);
}

static void daemon__drain(gw_daemon_t *d)
{
    gw_msg_t *list = gw_queue_take_all(&d->inq);
    while (list) {
        gw_msg_t *next = list->next;
        daemon__dispatch(d, list);
        gw_msg_free(list);
        list = next;
    }
}

static void daemon__wake_cb(uv_async_t *h)
{
    daemon__drain(h->data);
}

static void daemon__notify(void *arg)
{
    uv_async_send(arg);
}

/* ---- reload ------------------------------------------------------------ */

static int daemon__mqtt_cfg_same(const gw_config_t *a, const gw_config_t *b)
{
    return memcmp(&a->mqtt, &b->mqtt, sizeof(a->mqtt)) == 0 && strcmp(a->site_id, b->site_id) == 0;
}

static void daemon__reload(gw_daemon_t *d)
{
    gw_runtime_t *old = d->rt, *rt = NULL;
    gw_config_t *cfg = NULL;
    gw_errlist_t el;
    char err[256];
    int mq_same;

    gw_log_notice("gw", "SIGHUP: reloading %s", old->cfg->path);
    gw_errlist_init(&el);
    if (gw_config_load(old->cfg->path, &d->ov, &cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            gw_log_error("config", "%s", el.msgs[i]);
        gw_log_error("gw", "reload failed (%zu errors): keeping the running configuration", el.n);
        gw_errlist_free(&el);
        return;
    }
    gw_errlist_free(&el);
    if (strcmp(cfg->ledger_path, old->cfg->ledger_path) != 0 ||
        strcmp(cfg->site_id, old->cfg->site_id) != 0) {
        gw_log_error("gw",
                     "reload refused: site.id or ledger.path changed (ledger %s -> %s); restart "
                     "plantroomd to apply; keeping the running configuration",
                     old->cfg->ledger_path, cfg->ledger_path);
        gw_config_free(cfg);
        return;
    }
    mq_same = daemon__mqtt_cfg_same(cfg, old->cfg);
    if (gw_runtime_build(&rt, cfg, err, sizeof(err)) != 0) {
        gw_log_error("gw", "reload failed: %s: keeping the running configuration", err);
        return;
    }
    /* Stop the old buses and handle what they already sent, then swap. */
    gw_runtime_stop_buses(old);
    daemon__drain(d);
    gw_runtime_carry(rt, old);
    if (!mq_same)
        daemon__mq_stop(d);
    d->rt = rt;
    gw_log_set_level(rt->cfg->log_level);
    if (gw_runtime_start_buses(rt, &d->inq, err, sizeof(err)) != 0)
        gw_log_error("gw", "reload: %s", err);
    if (!mq_same && daemon__mq_start(d, err, sizeof(err)) != 0)
        gw_log_error("mqtt", "reload: %s", err);
    gw_runtime_free(old);
    gw_log_notice("gw", "configuration reloaded: %zu buses, %zu devices, %zu points, %zu rules",
                  rt->cfg->nbuses, rt->cfg->ndevices, rt->npoints, rt->cfg->nrules);
}

/* ---- signals and lifecycle --------------------------------------------- */

static void daemon__signal_cb(uv_signal_t *h, int signum)
{
    gw_daemon_t *d = h->data;

    if (signum == SIGHUP) {
        daemon__reload(d);
        return;
    }
    if (d->stopping)
        return;
    gw_log_notice("gw", "%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    d->stopping = 1;
    uv_stop(&d->loop);
}

/* Create the state directory (and parents) if missing, mode 0750: the
 * ledger holds site data that other users have no business reading. */
static int daemon__make_state_dir(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "state_dir: cannot create %s: %s", path, strerror(errno));
            return GW_EIO;
        }
        *p = '/';
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "state_dir: cannot create %s: %s", path, strerror(errno));
        return GW_EIO;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "state_dir: %s is not a directory", path);
        return GW_EIO;
    }
    return 0;
}

int gw_daemon_create(gw_daemon_t **out, gw_config_t *cfg, const gw_config_overrides_t *ov,
                     char *err, size_t errlen)
{
    gw_daemon_t *d = calloc(1, sizeof(*d));
    int rc;

    *out = NULL;
    if (!d) {
        gw_config_free(cfg);
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    if (ov && ov->state_dir) {
        snprintf(d->state_dir_ov, sizeof(d->state_dir_ov), "%s", ov->state_dir);
        d->ov.state_dir = d->state_dir_ov;
    }
    rc = gw_runtime_build(&d->rt, cfg, err, errlen);
    if (rc != 0)
        goto out_free;
    gw_log_set_level(d->rt->cfg->log_level);
    rc = uv_loop_init(&d->loop);
    if (rc != 0) {
        snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(rc));
        goto out_runtime;
    }
    uv_async_init(&d->loop, &d->wake, daemon__wake_cb);
    d->wake.data = d;
    uv_timer_init(&d->loop, &d->mq_timer);
    d->mq_timer.data = d;
    uv_signal_init(&d->loop, &d->sig_term);
    uv_signal_init(&d->loop, &d->sig_int);
    uv_signal_init(&d->loop, &d->sig_hup);
    d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
    uv_signal_start(&d->sig_term, daemon__signal_cb, SIGTERM);
    uv_signal_start(&d->sig_int, daemon__signal_cb, SIGINT);
    uv_signal_start(&d->sig_hup, daemon__signal_cb, SIGHUP);
    gw_queue_init(&d->inq, daemon__notify, &d->wake);

    rc = daemon__make_state_dir(d->rt->cfg->state_dir, err, errlen);
    if (rc != 0)
        goto out_loop;
    rc = ledger_worker_start(&d->ledger, d->rt->cfg->ledger_path, &d->inq, err, errlen);
    if (rc != 0)
        goto out_loop;
    gw_log_info("ledger", "opened %s", d->rt->cfg->ledger_path);
    rc = daemon__mq_start(d, err, errlen);
    if (rc != 0)
        goto out_ledger;
    rc = gw_runtime_start_buses(d->rt, &d->inq, err, errlen);
    if (rc != 0)
        goto out_mq;
    *out = d;
    return 0;

out_mq:
    daemon__mq_stop(d);
out_ledger:
    ledger_worker_stop(d->ledger);
    d->ledger = NULL;
out_loop:
    d->stopping = 1;
    gw_daemon_destroy(d);
    return rc;
out_runtime:
    gw_runtime_free(d->rt);
out_free:
    free(d);
    return rc;
}

int gw_daemon_run(gw_daemon_t *d)
{
    gw_log_notice("gw", "plantroomd running: site %s, %zu buses, %zu devices, %zu points, %zu rules",
                  d->rt->cfg->site_id, d->rt->cfg->nbuses, d->rt->cfg->ndevices, d->rt->npoints,
                  d->rt->cfg->nrules);
    uv_run(&d->loop, UV_RUN_DEFAULT);

    /* Shut down in order: no new readings; the last readings judged; every
     * ledger write committed; then MQTT says offline and disconnects. */
    gw_runtime_stop_buses(d->rt);
    daemon__drain(d);
    ledger_worker_stop(d->ledger);
    d->ledger = NULL;
    gw_log_info("ledger", "closed: pending writes committed");
    daemon__mq_stop(d);
    gw_log_notice("gw", "stopped");
    return 0;
}

static void daemon__close_cb(uv_handle_t *h)
{
    (void)h;
}

static void daemon__close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, daemon__close_cb);
}

void gw_daemon_destroy(gw_daemon_t *d)
{
    if (!d)
        return;
    if (d->rt)
        gw_runtime_stop_buses(d->rt);
    if (d->ledger)
        ledger_worker_stop(d->ledger);
    if (d->mq) {
        mq_destroy(d->mq);
        d->mq = NULL;
    }
    uv_walk(&d->loop, daemon__close_walk, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_loop_close(&d->loop);
    gw_queue_destroy(&d->inq);
    gw_runtime_free(d->rt);
    free(d->inflight);
    free(d);
}
