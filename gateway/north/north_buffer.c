/*
 * north_buffer.c: telemetry publishing and its store-and-forward while the
 * broker is away (docs/mqtt.md, "Store-and-forward"). Loop thread only.
 *
 * A message that cannot be published goes into a memory ring
 * (mqtt.buffer.memory_messages), and so does telemetry while the broker is
 * connected but does not read (north__buf_store_n, north_telemetry.c). The
 * ring is spilled into the spool (its own SQLite file, written by its own
 * thread: north_spool.c) when it is full, when it holds
 * mqtt.queue_max_bytes (so that its memory stays within the bound of the
 * client's queue) and every mqtt.buffer.flush_ms, so a crash loses at most
 * that much;
 * the spool keeps at most mqtt.buffer.max_messages and counts what it
 * drops, oldest first. On connect the ring is spilled and the spool
 * replayed (north_spool.c), while live telemetry goes out directly. Live
 * QoS 1 messages are kept until their PUBACK, at most TEL_LIVE_MAX. Every
 * buffer here is bounded: the ring, the live window, and what waits for
 * the spool thread (docs/configuration.md, "mqtt"). The ring and the live
 * window keep their messages in one byte buffer each (north_fifo.c), so a
 * message costs a copy, not an allocation; a spill is one allocation.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEL_LIVE_MAX 8192 /* live QoS 1 messages awaiting their PUBACK */

#define TEL_LIVE_KEEP 262144 /* bytes of live buffer kept while nothing is in flight */

struct north_buf {
    north_session_t *s;
    const gw_core_t *core;
    /* memory ring: at most ring_cap messages */
    north_fifo_t ring;
    size_t ring_cap;
    north_spool_t *spool; /* the disk side; NULL only when out of memory */
    /* live QoS 1 messages sent, not yet acknowledged; seq live_first_seq
     * is at the front, the next one sent gets live_seq */
    north_fifo_t live;
    uint64_t live_seq, live_first_seq;
    uv_timer_t flush_timer;
    /* counters since start */
    uint64_t published, buffered, dropped_ring;
    uint64_t spool_dropped;  /* the spool's own count, last seen (for the log) */
    uint64_t outage_dropped; /* since the connection was lost, for the log */
};

static const gw_mqtt_cfg_t *buf__q(const north_buf_t *n)
{
    return &gw_core_config(n->core)->mqtt;
}

/* ---- memory ring and spool -------------------------------------------- */

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

/* The ring's messages, oldest first, as one append op whose strings lie in
 * its own allocation; the ring is emptied. NULL when out of memory (the
 * ring is kept). */
static spool_op_append_t *buf__ring_op(north_buf_t *n)
{
    const north_fifo_msg_t *m;
    spool_op_append_t *op;
    size_t bytes = 0, i = 0;
    char *at;

    for (m = north__fifo_front(&n->ring); m; m = north__fifo_next(&n->ring, m))
        bytes += m->topic_len + m->payload_len + 2;
    op = spool_op_append_new_packed(n->ring.n, bytes);
    if (!op)
        return NULL;
    at = op->blob;
    while ((m = north__fifo_front(&n->ring)) != NULL) {
        size_t len = m->topic_len + m->payload_len + 2;
        memcpy(at, m->text, len);
        op->msgs[i].ts_ms = m->ts_ms;
        op->msgs[i].topic = at;
        op->msgs[i].payload = at + m->topic_len + 1;
        at += len;
        i++;
        north__fifo_pop(&n->ring);
    }
    return op;
}

/* Hand the whole ring to the spool thread, oldest first (one transaction
 * there); what it cannot take is dropped and counted. */
static void buf__spill(north_buf_t *n)
{
    north_buf_stats_t st = {0};
    spool_op_append_t *op;
    size_t lost;

    if (!n->ring.n || !n->spool || !(op = buf__ring_op(n)))
        return;
    lost = north__spool_spill(n->spool, op);
    if (lost) {
        n->dropped_ring += lost;
        buf__note_dropped(n, lost, "the spool thread is behind");
    }
    north__spool_stats(n->spool, &st);
    if (st.dropped > n->spool_dropped)
        buf__note_dropped(n, st.dropped - n->spool_dropped, "spool");
    n->spool_dropped = st.dropped;
}

/* Copy a message to the end of the ring, spilling or dropping the oldest
 * when the ring is full. */
static void buf__ring_push(north_buf_t *n, int64_t ts_ms, const char *topic, size_t topic_len,
                           const char *payload, size_t payload_len)
{
    if (buf__q(n)->buf_max == 0) {
        n->dropped_ring++;
        buf__note_dropped(n, 1, "mqtt.buffer.max_messages is 0");
        return;
    }
    if (n->ring.n >= n->ring_cap) {
        if (n->spool) {
            buf__spill(n);
        }
        if (n->ring.n >= n->ring_cap) { /* no spool, or no memory for the op */
            north__fifo_pop(&n->ring);
            n->dropped_ring++;
            buf__note_dropped(n, 1, "memory, no spool");
        }
    }
    if (north__fifo_push(&n->ring, ts_ms, topic, topic_len, payload, payload_len) != 0) {
        n->dropped_ring++;
        return;
    }
    n->buffered++;
    if (n->ring.bytes >= (size_t)buf__q(n)->queue_max_bytes && north__spool_running(n->spool))
        buf__spill(n);
}

/* Live messages the broker has not acknowledged go back to the buffer,
 * oldest first, ahead of anything buffered after them: a connection that
 * died silently loses nothing that was "sent" into it. */
static void buf__requeue_live(north_buf_t *n)
{
    const north_fifo_msg_t *m;

    if (n->live.n)
        gw_log_info("mqtt", "%zu unacknowledged telemetry messages buffered again", n->live.n);
    while ((m = north__fifo_front(&n->live)) != NULL) {
        buf__ring_push(n, m->ts_ms, m->text, m->topic_len, NORTH_FIFO_PAYLOAD(m), m->payload_len);
        north__fifo_pop(&n->live);
    }
    north__fifo_trim(&n->live, TEL_LIVE_KEEP);
    n->live_first_seq = n->live_seq;
}

static void buf__buffer(north_buf_t *n, const char *topic, const char *payload, size_t len,
                        int64_t ts_ms)
{
    buf__requeue_live(n); /* older than this one */
    buf__ring_push(n, ts_ms, topic, strlen(topic), payload, len);
}

/* Publish at QoS 1 and keep a copy until the broker acknowledges it.
 * Returns 0, or -1 when it was not sent (the caller buffers it). */
static int buf__publish_live(north_buf_t *n, const char *topic, const char *text, size_t len,
                             int64_t ts_ms)
{
    char err[160];

    if (n->live.n == TEL_LIVE_MAX ||
        north__fifo_push(&n->live, ts_ms, topic, strlen(topic), text, len) != 0)
        return -1; /* too many unacknowledged, or no memory: buffer, replay later */
    if (north__publish(n->s, topic, text, len, 1, 0, NORTH_TAG_LIVE | n->live_seq, err,
                       sizeof(err)) != 0) {
        north__fifo_drop_last(&n->live);
        return -1;
    }
    n->live_seq++;
    return 0;
}

static void buf__flush_cb(uv_timer_t *t)
{
    north_buf_t *n = t->data;
    buf__spill(n);
    north__spool_maybe_replay(n->spool); /* rows a failed live publish left behind */
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
    north__fifo_trim(&n->ring, 0); /* an outage's buffer is not kept */
    north__spool_maybe_replay(n->spool);
}

static void buf__disconnected(void *arg)
{
    north_buf_t *n = arg;

    buf__requeue_live(n);
    north__spool_replay_stop(n->spool);
}

static void buf__live_ack(north_buf_t *n, uint64_t tag, int ok)
{
    uint64_t seq = tag & ~NORTH_TAG_LIVE;

    /* PUBACKs come in order: everything up to seq was delivered. A failed
     * publish stays until the connection is lost, then is requeued. */
    while (ok && n->live.n && n->live_first_seq <= seq) {
        north__fifo_pop(&n->live);
        n->live_first_seq++;
    }
}

static void buf__delivered(void *arg, uint64_t tag, int ok, const char *err)
{
    (void)err;
    if (tag & NORTH_TAG_SPOOL)
        north__spool_ack(((north_buf_t *)arg)->spool, tag, ok);
    else
        buf__live_ack(arg, tag, ok);
}

/* ---- API (north_int.h) -------------------------------------------------- */

int north__buf_create(north_buf_t **out, uv_loop_t *loop, north_session_t *s, gw_core_t *core,
                      gw_queue_t *inq, char *err, size_t errlen)
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
    north__fifo_init(&n->ring);
    north__fifo_init(&n->live);
    if (north__spool_create(&n->spool, loop, s, core, inq, n->ring_cap) != 0)
        goto out_nomem;
    uv_timer_init(loop, &n->flush_timer);
    n->flush_timer.data = n;
    {
        north_buf_stats_t st = {0};
        north__spool_stats(n->spool, &st);
        n->spool_dropped = st.dropped; /* from before: not this outage's */
    }
    if (buf__q(n)->buf_flush_ms > 0)
        uv_timer_start(&n->flush_timer, buf__flush_cb, (uint64_t)buf__q(n)->buf_flush_ms,
                       (uint64_t)buf__q(n)->buf_flush_ms);
    h.arg = n;
    north__session_on(s, &h);
    *out = n;
    return 0;

out_nomem:
    free(n);
    snprintf(err, errlen, "out of memory");
    return GW_ENOMEM;
}

void north__buf_on_replay_done(north_buf_t *b, void (*fn)(void *arg), void *arg)
{
    north__spool_on_replay_done(b->spool, fn, arg);
}

void north__buf_on_message(north_buf_t *b, const gw_msg_t *m)
{
    if (b)
        north__spool_on_message(b->spool, m);
}

void north__buf_publish_n(north_buf_t *n, const char *topic, const char *text, size_t len,
                          int64_t ts_ms)
{
    char err[160];

    if (!n)
        return;
    if (north__session_connected(n->s) &&
        (buf__q(n)->tel_qos == 1
             ? buf__publish_live(n, topic, text, len, ts_ms) == 0
             : north__publish(n->s, topic, text, len, 0, 0, 0, err, sizeof(err)) == 0))
        n->published++;
    else
        buf__buffer(n, topic, text, len, ts_ms);
}

void north__buf_publish(north_buf_t *n, const char *topic, const char *text, int64_t ts_ms)
{
    north__buf_publish_n(n, topic, text, strlen(text), ts_ms);
}

void north__buf_store_n(north_buf_t *n, const char *topic, const char *text, size_t len,
                        int64_t ts_ms)
{
    if (n)
        buf__ring_push(n, ts_ms, topic, strlen(topic), text, len);
}

void north__buf_kick(north_buf_t *n)
{
    if (!n)
        return;
    buf__spill(n);
    north__fifo_trim(&n->ring, TEL_LIVE_KEEP);
    north__spool_maybe_replay(n->spool);
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
    st->dropped = n->dropped_ring;
    st->in_memory = n->ring.n;
    st->memory_max = n->ring_cap;
    st->unacked = n->live.n;
    st->unacked_max = TEL_LIVE_MAX;
    north__spool_stats(n->spool, st);
}

void north__buf_free(north_buf_t *n)
{
    if (!n)
        return;
    buf__requeue_live(n);
    buf__spill(n);
    north__fifo_free(&n->ring);
    north__fifo_free(&n->live);
    north__spool_free(n->spool);
    free(n);
}
