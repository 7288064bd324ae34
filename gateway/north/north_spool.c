/*
 * north_spool.c: the disk side of telemetry store-and-forward (north_int.h;
 * docs/mqtt.md, "Store-and-forward"): the spool on its own thread
 * (store/spool_worker.h), so that no spool I/O runs on the loop.
 *
 * A spill hands the memory ring's messages to the spool thread as one
 * append op (one allocation, the strings packed in it); if the thread is behind
 * by more than SPOOL_BEHIND_RINGS rings (a slow or dead flash card), the
 * spill is dropped and counted instead, so memory stays bounded. Replay
 * after a connect asks the thread for the next rows every tick (one read
 * outstanding, at most TEL_REPLAY_INFLIGHT published and unacknowledged,
 * mqtt.buffer.replay_per_s), publishes them at QoS 1 as they come back
 * while the client's queue holds less than half mqtt.queue_max_bytes (the
 * other half is live telemetry's, which then never waits for a replay),
 * and has the rows up to the highest acknowledged one deleted (PUBACKs
 * arrive in order); a connection lost mid-replay replays the rest again.
 *
 * The spool thread says when its file fails (full, read-only, damaged and
 * moved aside): that is the gateway alarm storage.spool. A damaged spool
 * moved aside stays an alarm until the daemon restarts. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"
#include "store/spool_worker.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEL_REPLAY_TICK_MS  10
#define TEL_REPLAY_INFLIGHT 4000
#define SPOOL_BEHIND_RINGS  4 /* appends waiting for the thread, in memory rings */
#define SPOOL_ALARM_KEY     "storage.spool"

struct north_spool {
    north_session_t *s;
    gw_core_t *core;
    spool_worker_t *sw; /* NULL: no spool (memory only) */
    size_t ring_cap;
    uv_timer_t replay_timer;
    int replaying;
    uint64_t gen; /* of the replay: a read answered for an older one is ignored */
    int read_pending;
    int64_t sent_id, acked_id, deleted_id;
    size_t inflight;
    size_t row_bytes; /* of the rows of the last read, on average (0: none yet) */
    uint64_t replayed, replay_run;
    int failing; /* the spool thread says its file fails */
    void (*replay_done)(void *arg);
    void *replay_done_arg;
    char corrupt[GW_ALARM_DETAIL_MAX]; /* a damaged spool moved aside this run */
};

static const gw_mqtt_cfg_t *spool__q(const north_spool_t *sp)
{
    return &gw_core_config(sp->core)->mqtt;
}

/* ---- spills ---------------------------------------------------------------- */

size_t north__spool_spill(north_spool_t *sp, spool_op_append_t *op)
{
    size_t behind = sp->ring_cap * SPOOL_BEHIND_RINGS, k = op->n;

    if (!k || !sp->sw || spool_worker_pending(sp->sw) + k > (behind < 1000 ? 1000 : behind)) {
        gw_msg_free(&op->hdr);
        return k;
    }
    op->max_rows = spool__q(sp)->buf_max;
    spool_worker_submit(sp->sw, &op->hdr);
    return 0;
}

int north__spool_running(const north_spool_t *sp)
{
    return sp && sp->sw;
}

/* ---- replay ---------------------------------------------------------------- */

static void spool__delete_acked(north_spool_t *sp)
{
    spool_op_delete_t *op;

    if (sp->acked_id <= sp->deleted_id || !(op = spool_op_delete_new(sp->acked_id)))
        return;
    spool_worker_submit(sp->sw, &op->hdr);
    sp->deleted_id = sp->acked_id;
}

void north__spool_replay_stop(north_spool_t *sp)
{
    if (!sp)
        return;
    if (sp->replaying)
        spool__delete_acked(sp); /* what the broker has is not sent again */
    sp->replaying = 0;
    sp->read_pending = 0;
    sp->inflight = 0;
    sp->gen++;
    uv_timer_stop(&sp->replay_timer);
}

static void spool__replay_cb(uv_timer_t *t)
{
    north_spool_t *sp = t->data;
    size_t budget = (size_t)spool__q(sp)->replay_per_s * TEL_REPLAY_TICK_MS / 1000;
    spool_op_read_t *op;

    if (!north__session_connected(sp->s)) {
        north__spool_replay_stop(sp);
        return;
    }
    spool__delete_acked(sp);
    if (sp->read_pending || !north__session_replay_room(sp->s))
        return; /* a read outstanding, or the client's queue half full: next tick */
    if (budget < 1)
        budget = 1;
    if (budget > TEL_REPLAY_INFLIGHT - sp->inflight)
        budget = TEL_REPLAY_INFLIGHT - sp->inflight;
    if (sp->row_bytes) { /* no more rows than the half-bound takes: the rest would be read again */
        mq_queue_t q;
        size_t half = (size_t)spool__q(sp)->queue_max_bytes / 2, fit;
        north__session_queue(sp->s, &q);
        fit = (half > q.bytes ? half - q.bytes : 0) / sp->row_bytes + 1;
        if (budget > fit)
            budget = fit;
    }
    if (!budget || !(op = spool_op_read_new(sp->sent_id, budget, sp->gen)))
        return;
    spool_worker_submit(sp->sw, &op->hdr);
    sp->read_pending = 1;
}

void north__spool_maybe_replay(north_spool_t *sp)
{
    int64_t n;

    if (!sp || sp->replaying || !sp->sw || !north__session_connected(sp->s))
        return;
    n = spool_worker_count(sp->sw) + (int64_t)spool_worker_pending(sp->sw);
    if (n == 0)
        return;
    gw_log_notice("mqtt", "replaying about %lld buffered telemetry messages, oldest first",
                  (long long)n);
    sp->replaying = 1;
    sp->gen++;
    sp->read_pending = 0;
    sp->sent_id = sp->acked_id = sp->deleted_id = 0;
    sp->inflight = 0;
    sp->replay_run = 0;
    uv_timer_start(&sp->replay_timer, spool__replay_cb, 0, TEL_REPLAY_TICK_MS);
}

/* The message as replayed: the buffered JSON object with "replayed": true
 * first (docs/mqtt.md, "Store-and-forward"), so that a consumer showing the
 * current state (Home Assistant's templates) can skip what is not current.
 * NULL when the payload is not an object or memory is short: sent as is. */
static char *spool__flag_replayed(const char *payload)
{
    static const char flag[] = "{\"replayed\":true,";
    size_t n = strlen(payload);
    char *out;

    if (n < 3 || payload[0] != '{' || payload[1] == '}')
        return NULL;
    out = malloc(n + sizeof(flag) - 1);
    if (!out)
        return NULL;
    memcpy(out, flag, sizeof(flag) - 1);
    memcpy(out + sizeof(flag) - 1, payload + 1, n); /* with the NUL */
    return out;
}

static void spool__rows(north_spool_t *sp, const spool_ev_rows_t *ev)
{
    char err[160];

    if (!sp->replaying || ev->tag != sp->gen)
        return; /* an answer to a replay that ended */
    sp->read_pending = 0;
    if (ev->rc < 0)
        return; /* the next tick asks again */
    if (ev->n) {
        size_t bytes = 0;
        for (size_t i = 0; i < ev->n; i++)
            bytes += strlen(ev->rows[i].topic) + strlen(ev->rows[i].payload);
        sp->row_bytes = bytes / ev->n + 1;
    }
    for (size_t i = 0; i < ev->n; i++) {
        const spool_msg_t *r = &ev->rows[i];
        char *flagged;
        const char *text;
        int rc;

        if (!north__session_replay_room(sp->s))
            break; /* the rest is read again on a later tick */
        flagged = spool__flag_replayed(r->payload);
        text = flagged ? flagged : r->payload;
        rc = north__publish(sp->s, r->topic, text, strlen(text), 1, 0,
                            NORTH_TAG_SPOOL | (uint64_t)r->id, err, sizeof(err));
        free(flagged);
        if (rc != 0)
            break; /* resumes from sent_id on the next tick or connect */
        sp->sent_id = r->id;
        sp->inflight++;
    }
    if (ev->n == 0 && sp->inflight == 0) {
        north__spool_replay_stop(sp);
        gw_log_notice("mqtt", "replay done: %llu buffered telemetry messages sent",
                      (unsigned long long)sp->replay_run);
        if (sp->replay_done)
            sp->replay_done(sp->replay_done_arg);
    }
}

void north__spool_ack(north_spool_t *sp, uint64_t tag, int ok)
{
    int64_t id = (int64_t)(tag & ~NORTH_TAG_SPOOL);

    if (!sp || !sp->replaying)
        return;
    if (sp->inflight)
        sp->inflight--;
    if (ok) {
        sp->replayed++;
        sp->replay_run++;
        if (id > sp->acked_id)
            sp->acked_id = id;
    }
}

/* ---- the spool thread's state: the gateway alarm ------------------------- */

static const char *spool__state(int rc)
{
    return rc == -ENOSPC ? "full" : rc == -EROFS ? "read-only" : "failing";
}

static void spool__health(north_spool_t *sp, const spool_ev_health_t *ev)
{
    char name[256], moved[512];

    snprintf(name, sizeof(name), "%s", spool__q(sp)->spool_path);
    if (ev->moved_to[0]) {
        snprintf(moved, sizeof(moved), "%s", ev->moved_to);
        snprintf(sp->corrupt, sizeof(sp->corrupt),
                 "%s was corrupt: moved aside to %s; a fresh spool started", basename(name),
                 basename(moved));
    }
    sp->failing = ev->rc != 0;
    if (ev->rc == 0 && sp->corrupt[0])
        gw_core_alarm_raise(sp->core, SPOOL_ALARM_KEY, GW_PRIO_CRITICAL, "%s", sp->corrupt);
    else if (ev->rc == 0)
        gw_core_alarm_clear(sp->core, SPOOL_ALARM_KEY);
    else
        gw_core_alarm_raise(sp->core, SPOOL_ALARM_KEY, GW_PRIO_CRITICAL,
                            "%s %s: buffered telemetry is dropped and counted: %.80s",
                            basename(name), spool__state(ev->rc), ev->detail);
}

void north__spool_on_message(north_spool_t *sp, const gw_msg_t *m)
{
    if (!sp)
        return;
    if (m->kind == SPOOL_EV_ROWS)
        spool__rows(sp, (const spool_ev_rows_t *)m);
    else if (m->kind == SPOOL_EV_HEALTH)
        spool__health(sp, (const spool_ev_health_t *)m);
}

/* ---- life cycle ------------------------------------------------------------ */

int north__spool_create(north_spool_t **out, uv_loop_t *loop, north_session_t *s, gw_core_t *core,
                        gw_queue_t *inq, size_t ring_cap)
{
    north_spool_t *sp = calloc(1, sizeof(*sp));

    *out = NULL;
    if (!sp)
        return GW_ENOMEM;
    sp->s = s;
    sp->core = core;
    sp->ring_cap = ring_cap;
    uv_timer_init(loop, &sp->replay_timer);
    sp->replay_timer.data = sp;
    if (spool_worker_start(&sp->sw, spool__q(sp)->spool_path, inq) != 0)
        gw_log_error("mqtt",
                     "spool %s: cannot start its thread: telemetry is buffered in memory "
                     "only",
                     spool__q(sp)->spool_path);
    else if (spool_worker_count(sp->sw) > 0)
        gw_log_notice("mqtt", "spool %s holds %lld telemetry messages from before",
                      spool__q(sp)->spool_path, (long long)spool_worker_count(sp->sw));
    *out = sp;
    return 0;
}

void north__spool_on_replay_done(north_spool_t *sp, void (*fn)(void *arg), void *arg)
{
    sp->replay_done = fn;
    sp->replay_done_arg = arg;
}

void north__spool_stats(const north_spool_t *sp, north_buf_stats_t *st)
{
    if (!sp)
        return;
    st->replayed = sp->replayed;
    st->in_spool = sp->sw ? (uint64_t)spool_worker_count(sp->sw) : 0;
    st->spool_queue = sp->sw ? spool_worker_pending(sp->sw) : 0;
    st->dropped += sp->sw ? (uint64_t)spool_worker_dropped(sp->sw) : 0;
    st->spool_ok = sp->sw && !sp->failing;
}

void north__spool_free(north_spool_t *sp)
{
    if (!sp)
        return;
    spool_worker_stop(sp->sw); /* applies the last spill */
    free(sp);
}
