/*
 * gw_telemetry.c: telemetry publishing on change, and its store-and-forward
 * while the broker is away (docs/mqtt.md, "Telemetry" and
 * "Store-and-forward"). Loop thread only.
 *
 * On change: a device's message goes out when a point's quality changed,
 * or its value moved past the point's deadband since the last message, or
 * the device's heartbeat period passed. Each message carries every point.
 *
 * Store-and-forward: a message that cannot be published goes into a memory
 * ring (mqtt.buffer.memory_messages). The ring is spilled into the spool
 * (store/spool.h, its own SQLite file) when it is full and every
 * mqtt.buffer.flush_ms, so a crash loses at most that much; the spool keeps
 * at most mqtt.buffer.max_messages and counts what it drops, oldest first.
 * On connect the ring is spilled and the spool replayed oldest first at QoS
 * 1, throttled to mqtt.buffer.replay_per_s with a bounded number in flight,
 * while live telemetry goes out directly. A row leaves the spool when the
 * broker acknowledged it (PUBACKs arrive in order, so "up to the highest
 * acknowledged id"); a connection lost mid-replay replays the rest again.
 */
#include "gateway/base/gw_clock.h"
#include "gateway/gw_daemon_int.h"
#include "gateway/base/gw_log.h"
#include "store/spool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEL_REPLAY_TICK_MS  10
#define TEL_REPLAY_INFLIGHT 4000
#define TEL_LIVE_MAX        8192 /* live QoS 1 messages awaiting their PUBACK */
#define TEL_METRICS_MS      60000

struct gw_north {
    gw_daemon_t *d;
    /* on change, per point / per device of rt (rebuilt when rt changes) */
    const gw_runtime_t *rt; /* with its sizes: a freed runtime's address may be reused */
    size_t rt_npoints, rt_ndevices;
    double *pub_value, *deadband;
    unsigned char *pub_quality; /* 0xff: never published */
    uint64_t *pub_text;         /* hash of a text point's last published text */
    int64_t *dev_pub_ms;
    int *heartbeat_ms;
    /* memory ring */
    spool_msg_t *ring;
    size_t ring_cap, ring_head, ring_n;
    spool_t *spool;
    /* live QoS 1 messages sent, not yet acknowledged; seq live_first_seq
     * is at live_head, the next one sent gets live_seq */
    spool_msg_t *live;
    size_t live_head, live_n;
    uint64_t live_seq, live_first_seq;
    uv_timer_t flush_timer, replay_timer, metrics_timer;
    /* replay */
    int replaying;
    int64_t sent_id, acked_id, deleted_id;
    size_t inflight;
    /* counters since start */
    uint64_t published, suppressed, buffered, replayed, dropped_ring;
    uint64_t replay_run;     /* replayed in the current replay, for the log */
    uint64_t outage_dropped; /* since the connection was lost, for the log */
};

/* ---- per-point state ---------------------------------------------------- */

static void tel__free_points(gw_north_t *n)
{
    free(n->pub_value);
    free(n->deadband);
    free(n->pub_quality);
    free(n->pub_text);
    n->pub_text = NULL;
    free(n->dev_pub_ms);
    free(n->heartbeat_ms);
    n->pub_value = n->deadband = NULL;
    n->pub_quality = NULL;
    n->dev_pub_ms = NULL;
    n->heartbeat_ms = NULL;
    n->rt = NULL;
}

static void tel__apply_overrides(gw_north_t *n, const gw_runtime_t *rt)
{
    const gw_mqtt_cfg_t *q = &rt->cfg->mqtt;

    /* device entries first, then point entries win over them */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < q->ntel; i++) {
            const gw_mqtt_tel_override_t *t = &q->tel[i];
            int di = gw_config_device_index(rt->cfg, t->device);
            if (di < 0 || (pass == 0) != (t->point[0] == '\0'))
                continue;
            const gw_device_rt_t *dev = &rt->devs[di];
            if (t->heartbeat_ms >= 0)
                n->heartbeat_ms[di] = t->heartbeat_ms;
            for (size_t j = 0; j < dev->cfg->npoints && t->deadband >= 0; j++) {
                if (!t->point[0] || strcmp(dev->cfg->points[j].name, t->point) == 0)
                    n->deadband[dev->first_point + j] = t->deadband;
            }
        }
    }
}

static int tel__build_points(gw_north_t *n, const gw_runtime_t *rt)
{
    size_t np = rt->npoints + 1, nd = rt->cfg->ndevices + 1;

    tel__free_points(n);
    n->pub_value = calloc(np, sizeof(double));
    n->deadband = calloc(np, sizeof(double));
    n->pub_quality = malloc(np);
    n->pub_text = calloc(np, sizeof(uint64_t));
    n->dev_pub_ms = calloc(nd, sizeof(int64_t));
    n->heartbeat_ms = calloc(nd, sizeof(int));
    if (!n->pub_value || !n->deadband || !n->pub_quality || !n->pub_text || !n->dev_pub_ms ||
        !n->heartbeat_ms) {
        tel__free_points(n);
        return GW_ENOMEM;
    }
    memset(n->pub_quality, 0xff, np);
    for (size_t i = 0; i < rt->npoints; i++)
        n->deadband[i] = rt->cfg->mqtt.deadband;
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        n->heartbeat_ms[i] = rt->cfg->mqtt.heartbeat_ms;
    tel__apply_overrides(n, rt);
    n->rt = rt;
    n->rt_npoints = rt->npoints;
    n->rt_ndevices = rt->cfg->ndevices;
    return 0;
}

static uint64_t tel__hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h | 1; /* never 0, the "no text" mark */
}

/* 1 when dev's telemetry is due now (and remembers it as published). */
static int tel__due(gw_north_t *n, const gw_device_rt_t *dev, int64_t now)
{
    const gw_runtime_t *rt = n->d->rt;
    size_t di = (size_t)(dev - rt->devs);
    /* an NB-IoT report (no bus) is rare and always worth a message */
    int due = !rt->cfg->mqtt.on_change || dev->cfg->bus_idx < 0;

    if ((n->rt != rt || n->rt_npoints != rt->npoints || n->rt_ndevices != rt->cfg->ndevices) &&
        tel__build_points(n, rt) != 0)
        return 1;
    if (n->heartbeat_ms[di] > 0 && now - n->dev_pub_ms[di] >= n->heartbeat_ms[di])
        due = 1;
    for (size_t i = 0; i < dev->cfg->npoints && !due; i++) {
        uint32_t pid = dev->first_point + (uint32_t)i;
        const gw_sample_t *s = &rt->points[pid].last;
        if (n->pub_quality[pid] != (unsigned char)s->quality)
            due = 1;
        else if (rt->points[pid].text && tel__hash(rt->points[pid].text) != n->pub_text[pid])
            due = 1;
        else if (s->quality == GW_Q_GOOD && fabs(s->value - n->pub_value[pid]) > n->deadband[pid])
            due = 1;
    }
    if (!due)
        return 0;
    n->dev_pub_ms[di] = now;
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        uint32_t pid = dev->first_point + (uint32_t)i;
        n->pub_quality[pid] = (unsigned char)rt->points[pid].last.quality;
        n->pub_value[pid] = rt->points[pid].last.value;
        n->pub_text[pid] = rt->points[pid].text ? tel__hash(rt->points[pid].text) : 0;
    }
    return 1;
}

/* ---- memory ring and spool -------------------------------------------- */

static void tel__ring_pop(gw_north_t *n, spool_msg_t *out)
{
    *out = n->ring[n->ring_head];
    n->ring_head = (n->ring_head + 1) % n->ring_cap;
    n->ring_n--;
}

static void tel__note_dropped(gw_north_t *n, uint64_t k, const char *where)
{
    /* the daemon's counter (control socket, Prometheus metrics) */
    n->d->telemetry_dropped = (uint64_t)gw__north_dropped(n->d);
    if (!k)
        return;
    if (n->outage_dropped == 0)
        gw_log_warn("mqtt",
                    "telemetry buffer full (%s): dropping the oldest messages; "
                    "the count is published in %s/%s/metrics",
                    where, n->d->rt->cfg->mqtt.prefix, n->d->rt->cfg->site_id);
    n->outage_dropped += k;
}

/* Move the whole ring into the spool, oldest first, in one transaction. */
static void tel__spill(gw_north_t *n)
{
    spool_msg_t *batch;
    size_t k = n->ring_n;
    int64_t dropped = 0;
    char err[256];

    if (!k || !n->spool)
        return;
    batch = malloc(k * sizeof(*batch));
    if (!batch)
        return;
    for (size_t i = 0; i < k; i++)
        tel__ring_pop(n, &batch[i]);
    if (spool_append(n->spool, batch, k, n->d->rt->cfg->mqtt.buf_max, &dropped, err, sizeof(err)) !=
        0) {
        gw_log_error("mqtt", "%s: %zu telemetry messages lost", err, k);
        n->dropped_ring += k;
    }
    tel__note_dropped(n, (uint64_t)dropped, "spool");
    spool_rows_free(batch, k);
}

/* Put a message (taking its strings) at the end of the ring, spilling or
 * dropping the oldest when the ring is full. */
static void tel__ring_push(gw_north_t *n, spool_msg_t *msg)
{
    if (n->d->rt->cfg->mqtt.buf_max == 0) {
        free(msg->topic);
        free(msg->payload);
        n->dropped_ring++;
        tel__note_dropped(n, 1, "mqtt.buffer.max_messages is 0");
        return;
    }
    if (n->ring_n == n->ring_cap) {
        if (n->spool) {
            tel__spill(n);
        } else {
            spool_msg_t old;
            tel__ring_pop(n, &old);
            free(old.topic);
            free(old.payload);
            n->dropped_ring++;
            tel__note_dropped(n, 1, "memory, no spool");
        }
    }
    if (!msg->topic || !msg->payload) {
        free(msg->topic);
        free(msg->payload);
        n->dropped_ring++;
        return;
    }
    msg->id = 0;
    n->ring[(n->ring_head + n->ring_n) % n->ring_cap] = *msg;
    n->ring_n++;
    n->buffered++;
}

/* Live messages the broker has not acknowledged go back to the buffer,
 * oldest first, ahead of anything buffered after them: a connection that
 * died silently loses nothing that was "sent" into it. */
static void tel__requeue_live(gw_north_t *n)
{
    if (n->live_n)
        gw_log_info("mqtt", "%zu unacknowledged telemetry messages buffered again", n->live_n);
    while (n->live_n) {
        spool_msg_t m = n->live[n->live_head];
        n->live_head = (n->live_head + 1) % TEL_LIVE_MAX;
        n->live_n--;
        tel__ring_push(n, &m);
    }
    n->live_first_seq = n->live_seq;
}

static void tel__buffer(gw_north_t *n, const char *topic, const char *payload, int64_t ts_ms)
{
    spool_msg_t m = {.ts_ms = ts_ms, .topic = strdup(topic), .payload = strdup(payload)};

    tel__requeue_live(n); /* older than this one */
    if (!m.topic || !m.payload) {
        free(m.topic);
        free(m.payload);
        n->dropped_ring++;
        return;
    }
    tel__ring_push(n, &m);
}

/* Publish at QoS 1 and remember it until the broker acknowledges it.
 * Returns 0, or -1 when it was not sent (the caller buffers it). */
static int tel__publish_live(gw_north_t *n, const char *topic, const char *text, int64_t ts_ms)
{
    gw_daemon_t *d = n->d;
    spool_msg_t *m;
    char err[160];

    if (n->live_n == TEL_LIVE_MAX)
        return -1; /* too many unacknowledged: buffer, replay later */
    if (mq_publish(d->mq, topic, text, strlen(text), 1, 0, GW_TAG_LIVE | n->live_seq, err,
                   sizeof(err)) != 0)
        return -1;
    m = &n->live[(n->live_head + n->live_n) % TEL_LIVE_MAX];
    m->ts_ms = ts_ms;
    m->topic = strdup(topic);
    m->payload = strdup(text);
    if (!m->topic || !m->payload) { /* sent, but cannot be requeued */
        free(m->topic);
        free(m->payload);
        m->topic = m->payload = NULL;
    }
    n->live_n++;
    n->live_seq++;
    return 0;
}

/* ---- replay ------------------------------------------------------------ */

static void tel__delete_acked(gw_north_t *n);

static void tel__replay_stop(gw_north_t *n)
{
    if (n->replaying)
        tel__delete_acked(n); /* what the broker has is not sent again */
    n->replaying = 0;
    n->inflight = 0;
    uv_timer_stop(&n->replay_timer);
}

static void tel__delete_acked(gw_north_t *n)
{
    char err[256];

    if (n->acked_id <= n->deleted_id)
        return;
    if (spool_delete_upto(n->spool, n->acked_id, err, sizeof(err)) != 0)
        gw_log_error("mqtt", "%s", err);
    else
        n->deleted_id = n->acked_id;
}

static void tel__replay_cb(uv_timer_t *t)
{
    gw_north_t *n = t->data;
    gw_daemon_t *d = n->d;
    size_t budget = (size_t)d->rt->cfg->mqtt.replay_per_s * TEL_REPLAY_TICK_MS / 1000;
    spool_msg_t *rows = NULL;
    size_t nrows = 0;
    char err[256];

    if (!d->mq || !mq_is_connected(d->mq)) {
        tel__replay_stop(n);
        return;
    }
    tel__delete_acked(n);
    if (budget < 1)
        budget = 1;
    if (budget > TEL_REPLAY_INFLIGHT - n->inflight)
        budget = TEL_REPLAY_INFLIGHT - n->inflight;
    if (budget && spool_read(n->spool, n->sent_id, budget, &rows, &nrows, err, sizeof(err)) != 0)
        gw_log_error("mqtt", "%s", err);
    for (size_t i = 0; i < nrows; i++) {
        if (mq_publish(d->mq, rows[i].topic, rows[i].payload, strlen(rows[i].payload), 1, 0,
                       GW_TAG_SPOOL | (uint64_t)rows[i].id, err, sizeof(err)) != 0)
            break; /* resumes from sent_id on the next tick or connect */
        n->sent_id = rows[i].id;
        n->inflight++;
    }
    spool_rows_free(rows, nrows);
    if (nrows == 0 && n->inflight == 0 && budget) {
        tel__delete_acked(n);
        tel__replay_stop(n);
        gw_log_notice("mqtt", "replay done: %llu buffered telemetry messages sent",
                      (unsigned long long)n->replay_run);
        gw__publish_metrics(d);
    }
}

/* Start replaying if connected and the spool holds anything. */
static void tel__maybe_replay(gw_north_t *n)
{
    gw_daemon_t *d = n->d;

    if (n->replaying || !n->spool || spool_count(n->spool) == 0 || !d->mq ||
        !mq_is_connected(d->mq))
        return;
    gw_log_notice("mqtt", "replaying %lld buffered telemetry messages, oldest first",
                  (long long)spool_count(n->spool));
    n->replaying = 1;
    n->sent_id = n->acked_id = n->deleted_id = 0;
    n->inflight = 0;
    n->replay_run = 0;
    uv_timer_start(&n->replay_timer, tel__replay_cb, 0, TEL_REPLAY_TICK_MS);
}

static void tel__flush_cb(uv_timer_t *t)
{
    gw_north_t *n = t->data;
    tel__spill(n);
    tel__maybe_replay(n); /* rows a failed live publish left behind */
}

static void tel__metrics_cb(uv_timer_t *t)
{
    gw_north_t *n = t->data;
    gw__publish_metrics(n->d);
}

/* ---- public (gw_daemon_int.h) ------------------------------------------ */

int gw__north_init(gw_daemon_t *d, char *err, size_t errlen)
{
    const gw_mqtt_cfg_t *q = &d->rt->cfg->mqtt;
    gw_north_t *n;

    if (d->north)
        return 0;
    n = calloc(1, sizeof(*n));
    if (!n)
        goto out_nomem;
    n->d = d;
    n->ring_cap = (size_t)q->buf_memory;
    n->ring = calloc(n->ring_cap, sizeof(*n->ring));
    n->live = calloc(TEL_LIVE_MAX, sizeof(*n->live));
    if (!n->ring || !n->live)
        goto out_nomem;
    uv_timer_init(&d->loop, &n->flush_timer);
    uv_timer_init(&d->loop, &n->replay_timer);
    uv_timer_init(&d->loop, &n->metrics_timer);
    n->flush_timer.data = n->replay_timer.data = n->metrics_timer.data = n;
    d->north = n;
    if (gw__nbiot_init(d, err, errlen) != 0)
        return GW_ENOMEM; /* d->north is freed by gw__north_free */
    if (spool_open(&n->spool, q->spool_path, err, errlen) != 0) {
        /* telemetry still buffers in memory; work orders do not depend on it */
        gw_log_error("mqtt", "%s: telemetry is buffered in memory only", err);
        n->spool = NULL;
    } else if (spool_count(n->spool) > 0) {
        gw_log_notice("mqtt", "spool %s holds %lld telemetry messages from before", q->spool_path,
                      (long long)spool_count(n->spool));
    }
    tel__note_dropped(n, 0, NULL);
    if (q->buf_flush_ms > 0)
        uv_timer_start(&n->flush_timer, tel__flush_cb, (uint64_t)q->buf_flush_ms,
                       (uint64_t)q->buf_flush_ms);
    return 0;

out_nomem:
    if (n) {
        free(n->ring);
        free(n->live);
    }
    free(n);
    snprintf(err, errlen, "out of memory");
    return GW_ENOMEM;
}

void gw__north_flush(gw_daemon_t *d)
{
    if (d->north)
        tel__spill(d->north);
}

void gw__north_free(gw_daemon_t *d)
{
    gw_north_t *n = d->north;

    gw__cmd_free(d);
    if (!n)
        return;
    gw__nbiot_free(d);
    tel__requeue_live(n);
    tel__spill(n);
    while (n->ring_n) {
        spool_msg_t m;
        tel__ring_pop(n, &m);
        free(m.topic);
        free(m.payload);
    }
    free(n->ring);
    free(n->live);
    spool_close(n->spool);
    tel__free_points(n);
    free(n);
    d->north = NULL;
}

void gw__north_on_connected(gw_daemon_t *d)
{
    gw_north_t *n = d->north;

    if (!n)
        return;
    if (n->outage_dropped)
        gw_log_warn("mqtt", "%llu telemetry messages were dropped during the outage",
                    (unsigned long long)n->outage_dropped);
    n->outage_dropped = 0;
    tel__spill(n);
    tel__maybe_replay(n);
    uv_timer_start(&n->metrics_timer, tel__metrics_cb, (uint64_t)d->rt->cfg->mqtt.metrics_ms,
                   (uint64_t)d->rt->cfg->mqtt.metrics_ms);
}

void gw__north_on_disconnected(gw_daemon_t *d)
{
    if (d->north) {
        tel__requeue_live(d->north);
        tel__replay_stop(d->north);
        uv_timer_stop(&d->north->metrics_timer);
    }
}

void gw__north_on_live_ack(gw_daemon_t *d, uint64_t tag, int ok)
{
    gw_north_t *n = d->north;
    uint64_t seq = tag & ~GW_TAG_LIVE;

    /* PUBACKs come in order: everything up to seq was delivered. A failed
     * publish stays until the connection is lost, then is requeued. */
    while (n && ok && n->live_n && n->live_first_seq <= seq) {
        spool_msg_t *m = &n->live[n->live_head];
        free(m->topic);
        free(m->payload);
        n->live_head = (n->live_head + 1) % TEL_LIVE_MAX;
        n->live_n--;
        n->live_first_seq++;
    }
}

void gw__north_on_spool_ack(gw_daemon_t *d, uint64_t tag, int ok)
{
    gw_north_t *n = d->north;
    int64_t id = (int64_t)(tag & ~GW_TAG_SPOOL);

    if (!n || !n->replaying)
        return;
    if (n->inflight)
        n->inflight--;
    if (ok) {
        n->replayed++;
        n->replay_run++;
        if (id > n->acked_id)
            n->acked_id = id;
    }
}

cJSON *gw__north_metrics(gw_daemon_t *d)
{
    gw_north_t *n = d->north;
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "published", n ? (double)n->published : 0);
    cJSON_AddNumberToObject(o, "suppressed", n ? (double)n->suppressed : 0);
    cJSON_AddNumberToObject(o, "buffered", n ? (double)n->buffered : 0);
    cJSON_AddNumberToObject(o, "in_memory", n ? (double)n->ring_n : 0);
    cJSON_AddNumberToObject(o, "in_spool", n && n->spool ? (double)spool_count(n->spool) : 0);
    cJSON_AddNumberToObject(o, "replayed", n ? (double)n->replayed : 0);
    cJSON_AddNumberToObject(o, "dropped", gw__north_dropped(d));
    return o;
}

double gw__north_dropped(gw_daemon_t *d)
{
    gw_north_t *n = d->north;
    if (!n)
        return 0;
    return (double)n->dropped_ring + (n->spool ? (double)spool_dropped(n->spool) : 0);
}

/* ---- telemetry --------------------------------------------------------- */

static char *tel__payload(gw_daemon_t *d, const gw_device_rt_t *dev, int64_t ts_ms)
{
    char ts[32];
    cJSON *o, *pts;
    char *text;

    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", d->rt->cfg->site_id);
    cJSON_AddStringToObject(o, "device", dev->cfg->name);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(ts_ms, ts, sizeof(ts)));
    pts = cJSON_AddObjectToObject(o, "points");
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        const gw_point_rt_t *pr = &d->rt->points[dev->first_point + i];
        const gw_sample_t *s = &pr->last;
        cJSON *p = cJSON_AddObjectToObject(pts, dev->cfg->points[i].name);
        if (s->quality == GW_Q_GOOD && pr->text)
            cJSON_AddStringToObject(p, "value", pr->text);
        else if (s->quality == GW_Q_GOOD)
            cJSON_AddNumberToObject(p, "value", s->value);
        else
            cJSON_AddNullToObject(p, "value");
        cJSON_AddStringToObject(p, "unit", dev->cfg->points[i].unit);
        cJSON_AddStringToObject(p, "quality", gw_quality_name(s->quality));
        if (pr->exception) /* the Modbus exception, by name */
            cJSON_AddStringToObject(p, "error", mb_exception_name(pr->exception));
        cJSON_AddStringToObject(p, "ts", gw_format_iso8601(s->ts_ms, ts, sizeof(ts)));
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

void gw__publish_telemetry_text(gw_daemon_t *d, const char *topic, const char *text, int64_t ts_ms)
{
    gw_north_t *n = d->north;
    char err[160];

    if (!n)
        return;
    if (d->mq && mq_is_connected(d->mq) &&
        (d->rt->cfg->mqtt.tel_qos == 1
             ? tel__publish_live(n, topic, text, ts_ms) == 0
             : mq_publish(d->mq, topic, text, strlen(text), 0, 0, 0, err, sizeof(err)) == 0)) {
        n->published++;
        d->telemetry_sent++;
    } else {
        tel__buffer(n, topic, text, ts_ms);
    }
}

void gw__publish_telemetry(gw_daemon_t *d, const gw_device_rt_t *dev, int64_t ts_ms)
{
    gw_north_t *n = d->north;
    char topic[384], suffix[160];
    char *text;

    if (!n)
        return; /* MQTT disabled */
    if (!tel__due(n, dev, gw_mono_ms())) {
        n->suppressed++;
        return;
    }
    snprintf(suffix, sizeof(suffix), "devices/%s/telemetry", dev->cfg->name);
    gw__topic(d, topic, sizeof(topic), suffix);
    text = tel__payload(d, dev, ts_ms);
    if (!text)
        return;
    gw__publish_telemetry_text(d, topic, text, ts_ms);
    free(text);
}
