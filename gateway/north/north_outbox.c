/*
 * north_outbox.c: delivery of work-order events from the ledger's outbox
 * (docs/architecture.md, "Durability order"): a rule's action goes to the
 * ledger thread; the change and its outbox row are committed together; only
 * then does the ledger thread hand the row back and it is published here at
 * QoS 1 with the row id as its tag; the broker's PUBACK acknowledges the
 * row for MQTT (the ledger deletes it once the notifier has it too). Rows
 * in flight are remembered so a row is not published twice on one
 * connection.
 *
 * At most mqtt.outbox_window rows are in flight (published, no PUBACK
 * yet): on every (re)connect the rows still in the outbox that MQTT has not
 * acknowledged are loaded a window at a time (LEDGER_OP_OUTBOX_LOAD with a
 * limit, its rows tagged, ended by LEDGER_EV_OUTBOX_LOADED), oldest first,
 * the next window once half the last one is acknowledged; so after a long
 * outage paho holds a window of events, not every one. Rows are published
 * in id order only (each above the last one published on this connection);
 * while rows wait in the outbox ("behind"), rows posted after a commit are
 * left to the next window load; once a load reaches the end of the outbox,
 * they are published as they come again. A row not delivered stays in the
 * outbox for the next connect, as before.
 *
 * While the ledger cannot commit, it announces each waiting event as
 * provisional ("durable":false, docs/mqtt.md "Provisional events"): those
 * are published once, at QoS 1, when connected, and not kept: their
 * committed copy, under the same event id, follows through the outbox.
 * Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* plantroomctl writes work-order changes and their outbox rows straight
 * into the ledger. Every 500 ms, while connected, ask the ledger thread for
 * outbox rows it has not posted yet (LOAD after INT64_MAX: only those), so
 * that such a change is published within a second. Rows in flight are not
 * published twice (north__outbox_row). */
#define OUTBOX_POLL_MS 500

/* A window load not answered in this long is asked again (its answer, if
 * it comes later, is ignored by its tag). */
#define OUTBOX_LOAD_STALE_MS 10000

struct north_outbox {
    north_session_t *s;
    ledger_worker_t *lw;
    gw_core_t *core; /* the config: mqtt.outbox_window */
    uv_timer_t timer;
    int64_t *inflight; /* outbox ids published, not yet acknowledged */
    size_t ninflight, capinflight;
    size_t peak;          /* the most in flight at once */
    int64_t sent_upto;    /* the newest row published (or done) on this connection */
    int behind;           /* rows wait in the outbox: published by window loads only */
    int failed;           /* a publish of the current window failed: the timer loads again */
    uint64_t load_tag;    /* the window load asked and not answered (0: none) */
    uint64_t next_tag;    /* tags of window loads */
    uint64_t load_at;     /* uv_now when it was asked */
    uint64_t loads;       /* window loads asked */
    uint64_t provisional; /* provisional events published */
};

static int outbox__has(const north_outbox_t *o, int64_t id)
{
    for (size_t i = 0; i < o->ninflight; i++) {
        if (o->inflight[i] == id)
            return 1;
    }
    return 0;
}

static void outbox__add(north_outbox_t *o, int64_t id)
{
    if (gw_array_grow((void **)&o->inflight, o->ninflight, &o->capinflight, sizeof(*o->inflight)) !=
        0)
        return; /* not tracked: at worst published twice, ids dedupe */
    o->inflight[o->ninflight++] = id;
}

static void outbox__del(north_outbox_t *o, int64_t id)
{
    for (size_t i = 0; i < o->ninflight; i++) {
        if (o->inflight[i] == id) {
            o->inflight[i] = o->inflight[--o->ninflight];
            return;
        }
    }
}

static void outbox__load(north_outbox_t *o, int64_t after)
{
    ledger_op_outbox_t *op;

    if (!o->lw)
        return;
    op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_LOAD, after);
    if (op)
        ledger_worker_submit(o->lw, &op->hdr);
}

static size_t outbox__window(const north_outbox_t *o)
{
    int w = gw_core_config(o->core)->mqtt.outbox_window;

    return w > 0 ? (size_t)w : 1;
}

/* Ask for the next window: the rows after the last one published, as many
 * as fit. */
static void outbox__load_window(north_outbox_t *o)
{
    size_t window = outbox__window(o);
    ledger_op_outbox_t *op;

    if (!o->lw || o->load_tag || !north__session_connected(o->s) || o->ninflight >= window)
        return;
    op = ledger_op_outbox_load_new(o->sent_upto, (int)(window - o->ninflight), ++o->next_tag);
    if (!op)
        return; /* asked again by the timer */
    o->load_tag = op->tag;
    o->failed = 0;
    o->load_at = uv_now(o->timer.loop);
    o->loads++;
    ledger_worker_submit(o->lw, &op->hdr);
}

static void outbox__timer_cb(uv_timer_t *t)
{
    north_outbox_t *o = t->data;

    if (!north__session_connected(o->s))
        return;
    outbox__load(o, INT64_MAX);
    if (o->load_tag && uv_now(t->loop) - o->load_at > OUTBOX_LOAD_STALE_MS)
        o->load_tag = 0;
    if (o->behind)
        outbox__load_window(o); /* nothing in flight to wait for, or a load lost */
}

/* ---- session handlers --------------------------------------------------- */

static void outbox__connected(void *arg)
{
    north_outbox_t *o = arg;

    o->ninflight = 0;
    o->sent_upto = 0;
    o->behind = 1;
    o->load_tag = 0;
    outbox__load_window(o);
}

static void outbox__disconnected(void *arg)
{
    north_outbox_t *o = arg;

    o->ninflight = 0;
    o->load_tag = 0;
    o->behind = 1;
}

static void outbox__delivered(void *arg, uint64_t tag, int ok, const char *err)
{
    north_outbox_t *o = arg;
    ledger_op_outbox_t *op;

    if (tag == 0 || (tag & NORTH_TAG_PROV))
        return; /* not an outbox row, or a provisional event: nothing to acknowledge */
    outbox__del(o, (int64_t)tag);
    if (o->behind && o->ninflight <= outbox__window(o) / 2)
        outbox__load_window(o);
    if (!ok) {
        /* The row stays in the outbox; the next connect sends it again. */
        gw_log_warn("mqtt", "event %llu not delivered: %s", (unsigned long long)tag, err);
        return;
    }
    op = ledger_op_outbox_ack_new((int64_t)tag, LEDGER_CONSUMER_MQTT);
    if (op && o->lw)
        ledger_worker_submit(o->lw, &op->hdr);
    else if (op)
        gw_msg_free(&op->hdr);
}

/* ---- API (north_int.h) -------------------------------------------------- */

int north__outbox_create(north_outbox_t **out, uv_loop_t *loop, north_session_t *s,
                         ledger_worker_t *lw, gw_core_t *core)
{
    north_outbox_t *o = calloc(1, sizeof(*o));
    north_handler_t h = {
        .connected = outbox__connected,
        .disconnected = outbox__disconnected,
        .delivered = outbox__delivered,
        .tags = 0, /* every delivery not claimed by telemetry */
    };

    *out = NULL;
    if (!o)
        return GW_ENOMEM;
    o->s = s;
    o->lw = lw;
    o->core = core;
    o->behind = 1;
    uv_timer_init(loop, &o->timer);
    o->timer.data = o;
    uv_timer_start(&o->timer, outbox__timer_cb, OUTBOX_POLL_MS, OUTBOX_POLL_MS);
    h.arg = o;
    north__session_on(s, &h);
    *out = o;
    return 0;
}

void north__outbox_row(north_outbox_t *o, const ledger_outbox_row_t *row, uint64_t load_tag)
{
    char topic[384], suffix[96], err[160];

    if (!o || !north__session_connected(o->s) || (load_tag && load_tag != o->load_tag))
        return; /* stays in the outbox until the next connect; or a stale load's */
    if (row->acked & LEDGER_CONSUMER_MQTT) {
        if (load_tag && row->id > o->sent_upto)
            o->sent_upto = row->id; /* the broker has it: the next window starts after */
        return;                     /* the row waits for the notifier */
    }
    if (row->id <= o->sent_upto || outbox__has(o, row->id))
        return; /* published on this connection already: in id order only */
    if (o->behind && !load_tag)
        return; /* older rows wait in the outbox: it comes with a window load */
    if (o->ninflight >= outbox__window(o)) {
        o->behind = 1; /* the window is full: it waits in the outbox */
        return;
    }
    snprintf(suffix, sizeof(suffix), "events/%s", row->channel);
    north__topic(o->s, topic, sizeof(topic), suffix);
    if (north__publish(o->s, topic, row->payload, strlen(row->payload), 1, 0, (uint64_t)row->id,
                       err, sizeof(err)) != 0) {
        gw_log_debug("mqtt", "%s", err);
        o->behind = 1; /* loaded again, in order */
        o->failed = 1;
        return;
    }
    outbox__add(o, row->id);
    o->sent_upto = row->id;
    if (o->ninflight > o->peak)
        o->peak = o->ninflight;
}

void north__outbox_loaded(north_outbox_t *o, const ledger_ev_outbox_loaded_t *ev)
{
    if (!o || !ev->tag || ev->tag != o->load_tag)
        return;
    o->load_tag = 0;
    if (!ev->more && o->sent_upto >= ev->last_id) {
        o->behind = 0; /* the end of the outbox: rows come after commits again */
        return;
    }
    if (ev->n == 0 || o->failed)
        return; /* nothing read (the file not open) or a publish failed: the timer asks */
    if (o->ninflight <= outbox__window(o) / 2)
        outbox__load_window(o);
}

void north__outbox_provisional(north_outbox_t *o, const char *channel, const char *payload)
{
    char topic[384], suffix[96], err[160];

    if (!o || !north__session_connected(o->s))
        return; /* the committed copy follows through the outbox */
    snprintf(suffix, sizeof(suffix), "events/%s", channel);
    north__topic(o->s, topic, sizeof(topic), suffix);
    if (north__publish(o->s, topic, payload, strlen(payload), 1, 0, NORTH_TAG_PROV, err,
                       sizeof(err)) != 0)
        gw_log_debug("mqtt", "provisional event: %s", err);
    else
        o->provisional++;
}

uint64_t north__outbox_provisional_count(const north_outbox_t *o)
{
    return o ? o->provisional : 0;
}

size_t north__outbox_inflight(const north_outbox_t *o)
{
    return o ? o->ninflight : 0;
}

void north__outbox_figures(const north_outbox_t *o, north_outbox_figures_t *f)
{
    memset(f, 0, sizeof(*f));
    if (!o)
        return;
    f->in_flight = o->ninflight;
    f->peak = o->peak;
    f->window = outbox__window(o);
    f->behind = o->behind;
    f->loads = o->loads;
}

void north__outbox_free(north_outbox_t *o)
{
    if (!o)
        return;
    free(o->inflight);
    free(o);
}
