/*
 * north_telemetry.c: telemetry on change (docs/mqtt.md, "Telemetry"). Loop
 * thread only.
 *
 * A device's message goes out when a point's quality changed, or its value
 * moved past the point's deadband since the last message, or the device's
 * heartbeat period passed (with mqtt.telemetry.on_change; else after every
 * poll). Each message carries every point. What cannot be published now is
 * buffered and replayed by north_buffer.c.
 *
 * The message is written straight into a buffer kept from one poll to the
 * next (base/gw_jwrite.h): no tree, no allocation once the buffer has the
 * size of the largest message, the poll's time formatted once, and the
 * same bytes cJSON printed before (tests/unit/test_tel_json.c).
 *
 * Telemetry is handed to the MQTT client only while its queue (what paho
 * holds, protocols/mqtt/mq.h) is below mqtt.queue_max_bytes. Above it a
 * device's message waits as a mark (nothing is copied): when the queue
 * falls to half the bound (MQ_EV_ROOM), waiting devices are written from
 * the point table, in turn, with their last poll's time: in normal
 * running, slices of a bus cycle. A device's next poll replaces the point
 * table's values, so a mark that waited half its device's interval
 * (tel__patience) means the broker is not reading: every waiting message
 * then goes into the store-and-forward buffer (north_buffer.c), and so
 * does further telemetry until the queue falls to half (as if
 * disconnected); the spool's replay sends it. A poll that still finds its
 * device waiting (the loop a poll interval late) loses the older
 * message: skipped, counted. Either raises the alarm
 * mqtt.not_reading until nothing has waited for TEL_CALM_MS (docs/mqtt.md,
 * "The client's queue").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEL_ALARM_KEY "mqtt.not_reading"
#define TEL_CALM_MS   5000 /* nothing waiting this long: the broker reads again */
#define TEL_WAIT_MIN  20   /* ms a message may wait for room, at least */
#define TEL_WAIT_MAX  1000 /* and at most */

struct north_tel {
    north_session_t *s;
    gw_core_t *core;
    north_buf_t *buf;
    /* on change, per point / per device of rt (rebuilt when rt changes) */
    const gw_runtime_t *rt; /* with its sizes: a freed runtime's address may be reused */
    size_t rt_npoints, rt_ndevices;
    double *pub_value, *deadband;
    unsigned char *pub_quality; /* 0xff: never published */
    uint64_t *pub_text;         /* hash of a text point's last published text */
    int64_t *dev_pub_ms;
    int *heartbeat_ms;
    uint64_t suppressed;
    gw_jw_t w;       /* the message, written here (kept: no allocation per poll) */
    gw_jw_time_t tc; /* the last time formatted */
    /* devices waiting for room in the client's queue (of wait_rt) */
    const gw_runtime_t *wait_rt;
    size_t wait_ndev, nwaiting, wait_next;
    unsigned char *waiting;
    int64_t *wait_ts, *wait_due; /* the poll's time; when the wait is too long (mono) */
    uv_timer_t stall_timer;      /* at the earliest wait_due */
    int64_t timer_due;
    int buffering; /* the broker does not read: telemetry goes to the buffer */
    uint64_t deferred, skipped, buffered;
    uint64_t episode_skipped, episode_buffered;
    int stalled;     /* the alarm is raised */
    int64_t calm_ms; /* stalled: since when nothing waits (0: something does) */
};

/* ---- per-point state ---------------------------------------------------- */

static void tel__free_points(north_tel_t *n)
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

static void tel__apply_overrides(north_tel_t *n, const gw_runtime_t *rt)
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

static int tel__build_points(north_tel_t *n, const gw_runtime_t *rt)
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
static int tel__due(north_tel_t *n, const gw_device_rt_t *dev, int64_t now)
{
    const gw_runtime_t *rt = gw_core_runtime(n->core);
    size_t di = (size_t)(dev - rt->devs);
    /* an NB-IoT report (no bus) is rare and always worth a message */
    int due = dev->cfg->bus_idx < 0;

    if (!rt->cfg->mqtt.on_change)
        return 1; /* every poll goes out: nothing to compare, no per-point state (0.5 MB) */
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

/* ---- the message ------------------------------------------------------ */

/* One point's member: "name":{"value":..,"unit":..,"quality":..[,"error":..],"ts":..},
 * written into room reserved once for all of it. */
static void tel__point(gw_jw_t *w, gw_jw_time_t *tc, const drv_point_t *pc, const gw_point_rt_t *pr)
{
    const gw_sample_t *s = &pr->last;
    const char *q = gw_quality_name(s->quality), *ts = gw_jw_time(tc, s->ts_ms);
    const char *err = pr->exception ? mb_exception_name(pr->exception) : NULL;
    int text = s->quality == GW_Q_GOOD && pr->text;
    size_t nl = strlen(pc->name), ul = strlen(pc->unit), tl = text ? strlen(pr->text) : 0;
    size_t el = err ? strlen(err) : 0, ql = strlen(q);
    char *o = gw_jw_room(w, 6 * (nl + ul + tl + el) + ql + tc->len + GW_JW_NUM_MAX + 80);

    if (!o)
        return;
    o = gw_jw_put_str(o, pc->name, nl);
    o = gw_jw_put_lit(o, ":{\"value\":");
    if (text)
        o = gw_jw_put_str(o, pr->text, tl);
    else if (s->quality == GW_Q_GOOD)
        o += gw_jw_number(o, s->value);
    else
        o = gw_jw_put_lit(o, "null");
    o = gw_jw_put_lit(o, ",\"unit\":");
    o = gw_jw_put_str(o, pc->unit, ul);
    o = gw_jw_put_lit(o, ",\"quality\":\"");
    o = gw_jw_put(o, q, ql);
    if (err) { /* the Modbus exception, by name */
        o = gw_jw_put_lit(o, "\",\"error\":");
        o = gw_jw_put_str(o, err, el);
        o = gw_jw_put_lit(o, ",\"ts\":\"");
    } else {
        o = gw_jw_put_lit(o, "\",\"ts\":\"");
    }
    o = gw_jw_put(o, ts, tc->len);
    o = gw_jw_put_lit(o, "\"}");
    gw_jw_commit(w, o);
}

int north__tel_payload(gw_jw_t *w, gw_jw_time_t *tc, const char *site, const gw_device_rt_t *dev,
                       const gw_point_rt_t *points, int64_t ts_ms)
{
    const char *ts;

    gw_jw_reset(w);
    gw_jw_lit(w, "{\"v\":1,\"site\":");
    gw_jw_str(w, site);
    gw_jw_lit(w, ",\"device\":");
    gw_jw_str(w, dev->cfg->name);
    gw_jw_lit(w, ",\"ts\":\"");
    ts = gw_jw_time(tc, ts_ms);
    gw_jw_raw(w, ts, tc->len);
    gw_jw_lit(w, "\",\"points\":{");
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        if (i)
            gw_jw_lit(w, ",");
        tel__point(w, tc, &dev->cfg->points[i], &points[dev->first_point + i]);
    }
    gw_jw_lit(w, "}}");
    return w->oom ? GW_ENOMEM : 0;
}

/* Write dev's message from the point table and hand it on (published, or
 * buffered while disconnected); store: into the buffer in any case. */
static void tel__send(north_tel_t *t, const gw_device_rt_t *dev, int64_t ts_ms, int store)
{
    const gw_runtime_t *rt = gw_core_runtime(t->core);
    char topic[384], suffix[160];

    if (north__tel_payload(&t->w, &t->tc, rt->cfg->site_id, dev, rt->points, ts_ms) != 0) {
        gw_log_error("mqtt", "telemetry of %s: out of memory", dev->cfg->name);
        gw_jw_free(&t->w);
        return;
    }
    snprintf(suffix, sizeof(suffix), "devices/%s/telemetry", dev->cfg->name);
    north__topic(t->s, topic, sizeof(topic), suffix);
    if (store)
        north__buf_store_n(t->buf, topic, t->w.buf, t->w.len, ts_ms);
    else
        north__buf_publish_n(t->buf, topic, t->w.buf, t->w.len, ts_ms);
}

/* ---- waiting for room in the client's queue ----------------------------- */

static void tel__wait_free(north_tel_t *t)
{
    free(t->waiting);
    free(t->wait_ts);
    free(t->wait_due);
    t->waiting = NULL;
    t->wait_ts = t->wait_due = NULL;
    t->wait_rt = NULL;
    t->wait_ndev = t->nwaiting = t->wait_next = 0;
}

/* The marks sized for the runtime now; those of an older one (a reload)
 * are skipped. 0 or GW_ENOMEM. */
static int tel__wait_fit(north_tel_t *t, const gw_runtime_t *rt)
{
    if (t->wait_rt == rt && t->wait_ndev == rt->cfg->ndevices && t->waiting)
        return 0;
    t->skipped += t->nwaiting;
    tel__wait_free(t);
    t->waiting = calloc(rt->cfg->ndevices + 1, 1);
    t->wait_ts = calloc(rt->cfg->ndevices + 1, sizeof(*t->wait_ts));
    t->wait_due = calloc(rt->cfg->ndevices + 1, sizeof(*t->wait_due));
    if (!t->waiting || !t->wait_ts || !t->wait_due) {
        tel__wait_free(t);
        return GW_ENOMEM;
    }
    t->wait_rt = rt;
    t->wait_ndev = rt->cfg->ndevices;
    return 0;
}

/* The broker is not reading: k more messages buffered or skipped. */
static void tel__not_reading(north_tel_t *t, uint64_t buffered, uint64_t skipped)
{
    north_tel_queue_t tq;
    char state[128];
    mq_queue_t q;

    t->buffered += buffered;
    t->episode_buffered += buffered;
    t->skipped += skipped;
    t->episode_skipped += skipped;
    t->calm_ms = 0;
    if (!t->stalled) {
        north__session_queue(t->s, &q);
        gw_log_warn("mqtt",
                    "the broker is not reading: %zu bytes (%zu messages) wait in the MQTT "
                    "client; telemetry is buffered until it reads again",
                    q.bytes, q.messages);
    }
    t->stalled = 1;
    north__tel_queue_stats(t, &tq);
    north__tel_state(&tq, state, sizeof(state));
    gw_core_alarm_raise(t->core, TEL_ALARM_KEY, GW_PRIO_HIGH, "%s", state);
}

static void tel__recovered(north_tel_t *t, const char *why)
{
    if (!t->stalled)
        return;
    gw_log_notice("mqtt", "%s: %llu telemetry messages were buffered, %llu skipped", why,
                  (unsigned long long)t->episode_buffered, (unsigned long long)t->episode_skipped);
    gw_core_alarm_clear(t->core, TEL_ALARM_KEY);
    t->stalled = 0;
    t->calm_ms = 0;
    t->episode_skipped = t->episode_buffered = 0;
}

/* How long dev's message may wait for room, from its poll: half its poll
 * interval (its next poll replaces the point table's values), within
 * [TEL_WAIT_MIN, TEL_WAIT_MAX]. */
static int64_t tel__patience(const gw_device_rt_t *dev)
{
    int64_t ms = dev->cfg->interval_ms / 2;

    return ms < TEL_WAIT_MIN ? TEL_WAIT_MIN : ms > TEL_WAIT_MAX ? TEL_WAIT_MAX : ms;
}

static void tel__stall_cb(uv_timer_t *h);

static void tel__timer_at(north_tel_t *t, int64_t due, int64_t now)
{
    if (uv_is_active((uv_handle_t *)&t->stall_timer) && t->timer_due <= due)
        return;
    t->timer_due = due;
    uv_timer_start(&t->stall_timer, tel__stall_cb, (uint64_t)(due > now ? due - now : 0), 0);
}

/* The queue has room again (or the connection changed): telemetry goes to
 * the client again; what was buffered is replayed from the spool. */
static void tel__unstall(north_tel_t *t)
{
    if (!t->buffering)
        return;
    t->buffering = 0;
    if (t->stalled && !t->nwaiting)
        t->calm_ms = gw_mono_ms();
    north__buf_kick(t->buf);
}

/* Every waiting device's message into the buffer, and further telemetry
 * too until the queue falls to half its bound (MQ_EV_ROOM). */
static void tel__stall(north_tel_t *t)
{
    const gw_runtime_t *rt = gw_core_runtime(t->core);
    uint64_t k = 0;

    t->buffering = 1;
    uv_timer_stop(&t->stall_timer);
    for (size_t i = 0; i < t->wait_ndev && t->nwaiting; i++) {
        if (!t->waiting[i])
            continue;
        t->waiting[i] = 0;
        t->nwaiting--;
        tel__send(t, &rt->devs[i], t->wait_ts[i], 1);
        k++;
    }
    tel__not_reading(t, k, 0);
    if (north__session_room_arm(t->s))
        tel__unstall(t); /* it fell to half meanwhile */
}

static void tel__stall_cb(uv_timer_t *h)
{
    north_tel_t *t = h->data;
    int64_t now = gw_mono_ms(), next = INT64_MAX;

    if (!t->nwaiting || t->buffering || !north__session_connected(t->s) ||
        t->wait_rt != gw_core_runtime(t->core))
        return;
    for (size_t i = 0; i < t->wait_ndev; i++) {
        if (!t->waiting[i])
            continue;
        if (t->wait_due[i] <= now) {
            tel__stall(t);
            return;
        }
        if (t->wait_due[i] < next)
            next = t->wait_due[i];
    }
    if (next != INT64_MAX)
        tel__timer_at(t, next, now);
}

/* dev's message waits for room (the latest per device). */
static void tel__defer(north_tel_t *t, const gw_device_rt_t *dev, int64_t ts_ms)
{
    const gw_runtime_t *rt = gw_core_runtime(t->core);
    size_t di = (size_t)(dev - rt->devs);
    int64_t now = gw_mono_ms(), patience = tel__patience(dev);
    /* from a bus poll's monotonic time (a wall clock step must not make it
     * look long; an NB-IoT report carries the device's time) */
    int64_t age = dev->cfg->bus_idx >= 0 && dev->cfg->npoints
                      ? now - rt->points[dev->first_point].last.mono_ms
                      : 0;

    if (tel__wait_fit(t, rt) != 0 || di >= t->wait_ndev) {
        tel__send(t, dev, ts_ms, 1); /* no marks: buffered */
        tel__not_reading(t, 1, 0);
        return;
    }
    t->calm_ms = 0;
    t->wait_ts[di] = ts_ms;
    if (t->waiting[di]) {
        /* its older message left the point table: lost. The broker is not
         * reading: this one and the others go to the buffer. */
        tel__not_reading(t, 0, 1);
        tel__stall(t);
        return;
    }
    t->waiting[di] = 1;
    t->nwaiting++;
    t->deferred++;
    t->wait_due[di] = now + patience - (age < 0 ? 0 : age > patience ? patience : age);
    tel__timer_at(t, t->wait_due[di], now);
}

/* Send waiting devices while the queue has room, from where the last
 * round stopped; ask for MQ_EV_ROOM for the rest. all: send every one
 * (buffered while disconnected). */
static void tel__drain(north_tel_t *t, int all)
{
    const gw_runtime_t *rt = gw_core_runtime(t->core);

    if (t->nwaiting && tel__wait_fit(t, rt) != 0)
        return;
    for (;;) {
        while (t->nwaiting && (all || north__session_room(t->s))) {
            size_t i = t->wait_next % t->wait_ndev;
            while (!t->waiting[i])
                i = (i + 1) % t->wait_ndev;
            t->waiting[i] = 0;
            t->nwaiting--;
            t->wait_next = i + 1;
            tel__send(t, &rt->devs[i], t->wait_ts[i], 0);
        }
        if (!t->nwaiting || !north__session_connected(t->s) || !north__session_room_arm(t->s))
            break;
    }
    if (!t->nwaiting)
        uv_timer_stop(&t->stall_timer);
    if (!t->nwaiting && !t->buffering && t->stalled && !t->calm_ms)
        t->calm_ms = gw_mono_ms(); /* cleared after TEL_CALM_MS of that: no flapping */
}

static void tel__connected(void *arg)
{
    north_tel_t *t = arg;

    t->buffering = 0; /* a new connection, an empty queue */
    tel__drain(t, 0);
}

static void tel__room(void *arg)
{
    north_tel_t *t = arg;

    tel__unstall(t);
    tel__drain(t, 0);
}

static void tel__disconnected(void *arg)
{
    north_tel_t *t = arg;

    t->buffering = 0;
    tel__drain(t, 1); /* into the buffer, ahead of the outage's */
    tel__recovered(t, "connection lost");
}

void north__tel_device(north_tel_t *t, const gw_device_rt_t *dev, int64_t ts_ms)
{
    if (!t)
        return; /* MQTT disabled */
    if (t->calm_ms && gw_mono_ms() - t->calm_ms >= TEL_CALM_MS)
        tel__recovered(t, "the broker reads again");
    if (!tel__due(t, dev, gw_mono_ms())) {
        t->suppressed++;
        return;
    }
    if (t->buffering && north__session_connected(t->s)) {
        tel__send(t, dev, ts_ms, 1); /* the broker does not read: buffered */
        tel__not_reading(t, 1, 0);
        return;
    }
    if (north__session_connected(t->s) && (t->nwaiting || !north__session_room(t->s))) {
        tel__defer(t, dev, ts_ms);
        if (north__session_room_arm(t->s))
            tel__drain(t, 0);
        return;
    }
    tel__send(t, dev, ts_ms, 0);
}

int north__tel_create(north_tel_t **out, uv_loop_t *loop, north_session_t *s, gw_core_t *core,
                      north_buf_t *buf)
{
    north_tel_t *t = calloc(1, sizeof(*t));
    north_handler_t h = {
        .connected = tel__connected,
        .disconnected = tel__disconnected,
        .room = tel__room,
    };

    *out = NULL;
    if (!t)
        return GW_ENOMEM;
    t->s = s;
    t->core = core;
    t->buf = buf;
    gw_jw_init(&t->w);
    gw_jw_time_init(&t->tc);
    uv_timer_init(loop, &t->stall_timer); /* closed with the loop's handles */
    t->stall_timer.data = t;
    h.arg = t;
    north__session_on(s, &h);
    *out = t;
    return 0;
}

void north__tel_refresh(north_tel_t *t)
{
    if (t && t->pub_quality)
        memset(t->pub_quality, 0xff, t->rt_npoints); /* as never published */
}

uint64_t north__tel_suppressed(const north_tel_t *t)
{
    return t ? t->suppressed : 0;
}

void north__tel_queue_stats(const north_tel_t *t, north_tel_queue_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!t)
        return;
    out->waiting = t->nwaiting;
    out->deferred = t->deferred;
    out->skipped = t->skipped;
    out->buffered = t->buffered;
    out->episode_skipped = t->episode_skipped;
    out->episode_buffered = t->episode_buffered;
    out->stalled = t->stalled;
}

void north__tel_state(const north_tel_queue_t *q, char *buf, size_t len)
{
    if (!q->stalled)
        snprintf(buf, len, "ok");
    else if (q->episode_skipped)
        snprintf(buf, len, "broker not reading: %llu telemetry messages buffered, %llu skipped",
                 (unsigned long long)q->episode_buffered, (unsigned long long)q->episode_skipped);
    else
        snprintf(buf, len, "broker not reading: %llu telemetry messages buffered",
                 (unsigned long long)q->episode_buffered);
}

void north__tel_free(north_tel_t *t)
{
    if (!t)
        return;
    tel__free_points(t);
    tel__wait_free(t);
    gw_jw_free(&t->w);
    free(t);
}
