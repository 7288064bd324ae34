/*
 * north_buffer.c: telemetry publishing and its store-and-forward while the
 * broker is away (docs/mqtt.md, "Store-and-forward"). Loop thread only.
 *
 * A message that cannot be published goes into a memory ring
 * (mqtt.buffer.memory_messages). The ring is spilled into the spool
 * (store/spool.h, its own SQLite file) when it is full and every
 * mqtt.buffer.flush_ms, so a crash loses at most that much; the spool keeps
 * at most mqtt.buffer.max_messages and counts what it drops, oldest first.
 * On connect the ring is spilled and the spool replayed oldest first at QoS
 * 1, throttled to mqtt.buffer.replay_per_s with a bounded number in flight,
 * while live telemetry goes out directly. A row leaves the spool when the
 * broker acknowledged it (PUBACKs arrive in order, so "up to the highest
 * acknowledged id"); a connection lost mid-replay replays the rest again.
 */
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"
#include "store/spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEL_REPLAY_TICK_MS  10
#define TEL_REPLAY_INFLIGHT 4000
#define TEL_LIVE_MAX        8192 /* live QoS 1 messages awaiting their PUBACK */

struct north_buf {
    north_session_t *s;
    const gw_core_t *core;
    /* memory ring */
    spool_msg_t *ring;
    size_t ring_cap, ring_head, ring_n;
    spool_t *spool;
    /* live QoS 1 messages sent, not yet acknowledged; seq live_first_seq
     * is at live_head, the next one sent gets live_seq */
    spool_msg_t *live;
    size_t live_head, live_n;
    uint64_t live_seq, live_first_seq;
    uv_timer_t flush_timer, replay_timer;
    /* replay */
    int replaying;
    int64_t sent_id, acked_id, deleted_id;
    size_t inflight;
    void (*replay_done)(void *arg);
    void *replay_done_arg;
    /* counters since start */
    uint64_t published, buffered, replayed, dropped_ring;
    uint64_t replay_run;     /* replayed in the current replay, for the log */
    uint64_t outage_dropped; /* since the connection was lost, for the log */
};

static const gw_mqtt_cfg_t *buf__q(const north_buf_t *n)
{
    return &gw_core_config(n->core)->mqtt;
}

/* ---- memory ring and spool -------------------------------------------- */

static void buf__ring_pop(north_buf_t *n, spool_msg_t *out)
{
    *out = n->ring[n->ring_head];
    n->ring_head = (n->ring_head + 1) % n->ring_cap;
    n->ring_n--;
}

static void buf__note_dropped(north_buf_t *n, uint64_t k, const char *where)
{
    if (!k)
        return;
    if (n->outage_dropped == 0)
        gw_log_warn("mqtt",
                    "telemetry buffer full (%s): dropping the oldest messages; "
                    "the count is published in %s/%s/metrics",
                    where, buf__q(n)->prefix, gw_core_config(n->core)->site_id);
    n->outage_dropped += k;
}

/* Move the whole ring into the spool, oldest first, in one transaction. */
static void buf__spill(north_buf_t *n)
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
        buf__ring_pop(n, &batch[i]);
    if (spool_append(n->spool, batch, k, buf__q(n)->buf_max, &dropped, err, sizeof(err)) != 0) {
        gw_log_error("mqtt", "%s: %zu telemetry messages lost", err, k);
        n->dropped_ring += k;
    }
    buf__note_dropped(n, (uint64_t)dropped, "spool");
    spool_rows_free(batch, k);
}

/* Put a message (taking its strings) at the end of the ring, spilling or
 * dropping the oldest when the ring is full. */
static void buf__ring_push(north_buf_t *n, spool_msg_t *msg)
{
    if (buf__q(n)->buf_max == 0) {
        free(msg->topic);
        free(msg->payload);
        n->dropped_ring++;
        buf__note_dropped(n, 1, "mqtt.buffer.max_messages is 0");
        return;
    }
    if (n->ring_n == n->ring_cap) {
        if (n->spool) {
            buf__spill(n);
        } else {
            spool_msg_t old;
            buf__ring_pop(n, &old);
            free(old.topic);
            free(old.payload);
            n->dropped_ring++;
            buf__note_dropped(n, 1, "memory, no spool");
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
static void buf__requeue_live(north_buf_t *n)
{
    if (n->live_n)
        gw_log_info("mqtt", "%zu unacknowledged telemetry messages buffered again", n->live_n);
    while (n->live_n) {
        spool_msg_t m = n->live[n->live_head];
        n->live_head = (n->live_head + 1) % TEL_LIVE_MAX;
        n->live_n--;
        buf__ring_push(n, &m);
    }
    n->live_first_seq = n->live_seq;
}

static void buf__buffer(north_buf_t *n, const char *topic, const char *payload, int64_t ts_ms)
{
    spool_msg_t m = {.ts_ms = ts_ms, .topic = strdup(topic), .payload = strdup(payload)};

    buf__requeue_live(n); /* older than this one */
    if (!m.topic || !m.payload) {
        free(m.topic);
        free(m.payload);
        n->dropped_ring++;
        return;
    }
    buf__ring_push(n, &m);
}

/* Publish at QoS 1 and remember it until the broker acknowledges it.
 * Returns 0, or -1 when it was not sent (the caller buffers it). */
static int buf__publish_live(north_buf_t *n, const char *topic, const char *text, int64_t ts_ms)
{
    spool_msg_t *m;
    char err[160];

    if (n->live_n == TEL_LIVE_MAX)
        return -1; /* too many unacknowledged: buffer, replay later */
    if (north__publish(n->s, topic, text, strlen(text), 1, 0, NORTH_TAG_LIVE | n->live_seq, err,
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

static void buf__delete_acked(north_buf_t *n);

static void buf__replay_stop(north_buf_t *n)
{
    if (n->replaying)
        buf__delete_acked(n); /* what the broker has is not sent again */
    n->replaying = 0;
    n->inflight = 0;
    uv_timer_stop(&n->replay_timer);
}

static void buf__delete_acked(north_buf_t *n)
{
    char err[256];

    if (n->acked_id <= n->deleted_id)
        return;
    if (spool_delete_upto(n->spool, n->acked_id, err, sizeof(err)) != 0)
        gw_log_error("mqtt", "%s", err);
    else
        n->deleted_id = n->acked_id;
}

static void buf__replay_cb(uv_timer_t *t)
{
    north_buf_t *n = t->data;
    size_t budget = (size_t)buf__q(n)->replay_per_s * TEL_REPLAY_TICK_MS / 1000;
    spool_msg_t *rows = NULL;
    size_t nrows = 0;
    char err[256];

    if (!north__session_connected(n->s)) {
        buf__replay_stop(n);
        return;
    }
    buf__delete_acked(n);
    if (budget < 1)
        budget = 1;
    if (budget > TEL_REPLAY_INFLIGHT - n->inflight)
        budget = TEL_REPLAY_INFLIGHT - n->inflight;
    if (budget && spool_read(n->spool, n->sent_id, budget, &rows, &nrows, err, sizeof(err)) != 0)
        gw_log_error("mqtt", "%s", err);
    for (size_t i = 0; i < nrows; i++) {
        if (north__publish(n->s, rows[i].topic, rows[i].payload, strlen(rows[i].payload), 1, 0,
                           NORTH_TAG_SPOOL | (uint64_t)rows[i].id, err, sizeof(err)) != 0)
            break; /* resumes from sent_id on the next tick or connect */
        n->sent_id = rows[i].id;
        n->inflight++;
    }
    spool_rows_free(rows, nrows);
    if (nrows == 0 && n->inflight == 0 && budget) {
        buf__delete_acked(n);
        buf__replay_stop(n);
        gw_log_notice("mqtt", "replay done: %llu buffered telemetry messages sent",
                      (unsigned long long)n->replay_run);
        if (n->replay_done)
            n->replay_done(n->replay_done_arg);
    }
}

/* Start replaying if connected and the spool holds anything. */
static void buf__maybe_replay(north_buf_t *n)
{
    if (n->replaying || !n->spool || spool_count(n->spool) == 0 || !north__session_connected(n->s))
        return;
    gw_log_notice("mqtt", "replaying %lld buffered telemetry messages, oldest first",
                  (long long)spool_count(n->spool));
    n->replaying = 1;
    n->sent_id = n->acked_id = n->deleted_id = 0;
    n->inflight = 0;
    n->replay_run = 0;
    uv_timer_start(&n->replay_timer, buf__replay_cb, 0, TEL_REPLAY_TICK_MS);
}

static void buf__flush_cb(uv_timer_t *t)
{
    north_buf_t *n = t->data;
    buf__spill(n);
    buf__maybe_replay(n); /* rows a failed live publish left behind */
}

/* ---- session handlers --------------------------------------------------- */

static void buf__connected(void *arg)
{
    north_buf_t *n = arg;

    if (n->outage_dropped)
        gw_log_warn("mqtt", "%llu telemetry messages were dropped during the outage",
                    (unsigned long long)n->outage_dropped);
    n->outage_dropped = 0;
    buf__spill(n);
    buf__maybe_replay(n);
}

static void buf__disconnected(void *arg)
{
    north_buf_t *n = arg;

    buf__requeue_live(n);
    buf__replay_stop(n);
}

static void buf__live_ack(north_buf_t *n, uint64_t tag, int ok)
{
    uint64_t seq = tag & ~NORTH_TAG_LIVE;

    /* PUBACKs come in order: everything up to seq was delivered. A failed
     * publish stays until the connection is lost, then is requeued. */
    while (ok && n->live_n && n->live_first_seq <= seq) {
        spool_msg_t *m = &n->live[n->live_head];
        free(m->topic);
        free(m->payload);
        n->live_head = (n->live_head + 1) % TEL_LIVE_MAX;
        n->live_n--;
        n->live_first_seq++;
    }
}

static void buf__spool_ack(north_buf_t *n, uint64_t tag, int ok)
{
    int64_t id = (int64_t)(tag & ~NORTH_TAG_SPOOL);

    if (!n->replaying)
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

static void buf__delivered(void *arg, uint64_t tag, int ok, const char *err)
{
    (void)err;
    if (tag & NORTH_TAG_SPOOL)
        buf__spool_ack(arg, tag, ok);
    else
        buf__live_ack(arg, tag, ok);
}

/* ---- API (north_int.h) -------------------------------------------------- */

static void buf__open_spool(north_buf_t *n)
{
    const gw_mqtt_cfg_t *q = buf__q(n);
    char err[256];

    if (spool_open(&n->spool, q->spool_path, err, sizeof(err)) != 0) {
        /* telemetry still buffers in memory; work orders do not depend on it */
        gw_log_error("mqtt", "%s: telemetry is buffered in memory only", err);
        n->spool = NULL;
    } else if (spool_count(n->spool) > 0) {
        gw_log_notice("mqtt", "spool %s holds %lld telemetry messages from before", q->spool_path,
                      (long long)spool_count(n->spool));
    }
}

int north__buf_create(north_buf_t **out, uv_loop_t *loop, north_session_t *s, const gw_core_t *core,
                      char *err, size_t errlen)
{
    north_buf_t *n = calloc(1, sizeof(*n));
    north_handler_t h = {
        .connected = buf__connected,
        .disconnected = buf__disconnected,
        .delivered = buf__delivered,
        .tags = NORTH_TAG_SPOOL | NORTH_TAG_LIVE,
    };

    *out = NULL;
    if (!n)
        goto out_nomem;
    n->s = s;
    n->core = core;
    n->ring_cap = (size_t)buf__q(n)->buf_memory;
    n->ring = calloc(n->ring_cap, sizeof(*n->ring));
    n->live = calloc(TEL_LIVE_MAX, sizeof(*n->live));
    if (!n->ring || !n->live)
        goto out_nomem;
    uv_timer_init(loop, &n->flush_timer);
    uv_timer_init(loop, &n->replay_timer);
    n->flush_timer.data = n->replay_timer.data = n;
    buf__open_spool(n);
    if (buf__q(n)->buf_flush_ms > 0)
        uv_timer_start(&n->flush_timer, buf__flush_cb, (uint64_t)buf__q(n)->buf_flush_ms,
                       (uint64_t)buf__q(n)->buf_flush_ms);
    h.arg = n;
    north__session_on(s, &h);
    *out = n;
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

void north__buf_on_replay_done(north_buf_t *b, void (*fn)(void *arg), void *arg)
{
    b->replay_done = fn;
    b->replay_done_arg = arg;
}

void north__buf_publish(north_buf_t *n, const char *topic, const char *text, int64_t ts_ms)
{
    char err[160];

    if (!n)
        return;
    if (north__session_connected(n->s) &&
        (buf__q(n)->tel_qos == 1
             ? buf__publish_live(n, topic, text, ts_ms) == 0
             : north__publish(n->s, topic, text, strlen(text), 0, 0, 0, err, sizeof(err)) == 0))
        n->published++;
    else
        buf__buffer(n, topic, text, ts_ms);
}

void north__buf_flush(north_buf_t *n)
{
    if (n)
        buf__spill(n);
}

void north__buf_disconnected(north_buf_t *n)
{
    if (n)
        buf__disconnected(n);
}

void north__buf_stats(const north_buf_t *n, north_buf_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    if (!n)
        return;
    st->published = n->published;
    st->buffered = n->buffered;
    st->replayed = n->replayed;
    st->dropped = n->dropped_ring + (n->spool ? (uint64_t)spool_dropped(n->spool) : 0);
    st->in_memory = n->ring_n;
    st->in_spool = n->spool ? (uint64_t)spool_count(n->spool) : 0;
}

void north__buf_free(north_buf_t *n)
{
    if (!n)
        return;
    buf__requeue_live(n);
    buf__spill(n);
    while (n->ring_n) {
        spool_msg_t m;
        buf__ring_pop(n, &m);
        free(m.topic);
        free(m.payload);
    }
    free(n->ring);
    free(n->live);
    spool_close(n->spool);
    free(n);
}
