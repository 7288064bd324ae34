/*
 * ledger_worker_queue.c: the ledger thread's backlog (ledger_worker_int.h;
 * design at the top of ledger_worker.c and in docs/architecture.md, "When
 * the ledger cannot write").
 *
 * Everything the loop submits passes through here in order. Reads are
 * answered at once, outside any transaction, so that they work on a full
 * or read-only disk too: LEDGER_OP_STATS (counts for status and metrics)
 * and LEDGER_OP_OUTBOX_LOAD (rows to publish); LEDGER_OP_POLICY is kept
 * for every open. Writes join the backlog, which the thread commits in
 * order, and which stays within a bound (ledger_worker_set_max_ops; a
 * rollup op weighs its rows):
 *
 *  - a refresh of a condition that still holds (TOUCH) replaces the one
 *    before it on the same fingerprint, unless that one announced an event
 *    or asked for another priority: the ledger would only have kept the
 *    newer evidence;
 *  - past the bound the oldest repeatable op goes first: telemetry rollups,
 *    then device status changes, then outbox acknowledgements (a row not
 *    acknowledged is published again and deduplicated by its event id);
 *  - work-order ops (trigger, touch, clear, a person's change) are never
 *    dropped for those: when the backlog holds nothing else, the newest one
 *    is refused, logged at error and counted, its event announced first.
 *
 * Every drop is counted in the figures (status and metrics).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_worker_int.h"

#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER__LOG_EVERY 100 /* log one refusal in this many */

int ledger__droppable(int kind)
{
    return kind == LEDGER_OP_ROLLUP || kind == LEDGER_OP_DEVICE || kind == LEDGER_OP_OUTBOX_ACK;
}

void ledger_worker_set_max_ops(ledger_worker_t *w, size_t max_ops)
{
    if (!w)
        return;
    if (max_ops < LEDGER__MAX_OPS_MIN)
        max_ops = LEDGER__MAX_OPS_MIN;
    atomic_store(&w->max_ops, max_ops);
}

void ledger__fig_depth(ledger_worker_t *w)
{
    size_t depth = w->weight + gw_queue_depth(&w->ops);

    atomic_store(&w->pending, w->weight);
    pthread_mutex_lock(&w->mu);
    w->fig.depth = depth;
    if (depth > w->fig.peak)
        w->fig.peak = depth;
    pthread_mutex_unlock(&w->mu);
}

/* ---- reads, answered at once -------------------------------------------- */

/* The counts are asked for every 5 s (the service's tick). They change
 * only with a write, this thread's or another process's: with none since
 * the last answer the loop keeps the figures it has, and neither the two
 * counts nor the loop's wake-up are spent. */
static void ledger__stats(ledger_worker_t *w)
{
    ledger_ev_stats_t *st;
    int64_t marks[2];
    char err[256];
    int marked;

    if (!w->lg)
        return;
    /* marks taken before counting: a write between the two counts again */
    marked = ledger__write_marks(w->lg, marks) == 0;
    if (marked && w->stats_posted && marks[0] == w->stats_marks[0] && marks[1] == w->stats_marks[1])
        return;
    st = calloc(1, sizeof(*st));
    if (!st)
        return;
    st->hdr.kind = LEDGER_EV_STATS;
    if (ledger_stats(w->lg, &st->stats, err, sizeof(err)) < 0) {
        gw_log_debug("ledger", "counts: %s", err);
        free(st);
        return;
    }
    ledger__post(w, &st->hdr);
    w->stats_posted = marked;
    memcpy(w->stats_marks, marks, sizeof(marks));
}

/* LOAD after_id: the rows before those this thread posted after its
 * commits; at or above them (INT64_MAX): only rows nobody posted yet
 * (written by plantroomctl). */
static void ledger__load(ledger_worker_t *w, int64_t after)
{
    if (!w->lg) { /* answered once the file opens */
        if (w->load_after < 0 || after < w->load_after)
            w->load_after = after;
        return;
    }
    if (after < w->last_outbox_id)
        ledger__post_outbox(w, after, w->last_outbox_id);
    ledger__post_new_outbox(w);
}

/* ---- the backlog -------------------------------------------------------- */

/* 1 when a and b are ops of the same fingerprint. */
static int ledger__same_fp(const gw_msg_t *a, const gw_msg_t *b)
{
    const ledger_trigger_t *x = &((const ledger_op_trigger_t *)a)->t;
    const ledger_trigger_t *y = &((const ledger_op_trigger_t *)b)->t;

    if (a->kind < LEDGER_OP_TRIGGER || a->kind > LEDGER_OP_CLEAR)
        return 0;
    return x->site && y->site && x->device && y->device && x->rule && y->rule &&
           strcmp(x->site, y->site) == 0 && strcmp(x->device, y->device) == 0 &&
           strcmp(x->rule, y->rule) == 0;
}

/* Unlink m (its predecessor prev, NULL at the head) from the backlog. */
static void ledger__unlink(ledger_worker_t *w, gw_msg_t *prev, gw_msg_t *m)
{
    if (prev)
        prev->next = m->next;
    else
        w->backlog.head = m->next;
    if (w->backlog.tail == m)
        w->backlog.tail = prev;
    w->backlog.n--;
    w->weight -= ledger__weight(m);
    m->next = NULL;
}

/* A TOUCH replaces the last op of its fingerprint when that is a TOUCH of
 * the same priority that announced nothing. */
static void ledger__coalesce_touch(ledger_worker_t *w, const gw_msg_t *touch)
{
    gw_msg_t *prev = NULL, *last = NULL, *last_prev = NULL;
    const ledger_op_trigger_t *old, *nw = (const ledger_op_trigger_t *)touch;

    for (gw_msg_t *m = w->backlog.head; m; prev = m, m = m->next) {
        if (ledger__same_fp(m, touch)) {
            last = m;
            last_prev = prev;
        }
    }
    if (!last || last->kind != LEDGER_OP_TOUCH)
        return;
    old = (const ledger_op_trigger_t *)last;
    if (old->t.priority != nw->t.priority || old->event_id[0])
        return;
    ledger__unlink(w, last_prev, last);
    gw_msg_free(last);
    pthread_mutex_lock(&w->mu);
    w->fig.coalesced++;
    pthread_mutex_unlock(&w->mu);
}

/* Drop the oldest op of kind; returns 1 when there was one. */
static int ledger__drop_oldest(ledger_worker_t *w, int kind)
{
    gw_msg_t *prev = NULL;

    for (gw_msg_t *m = w->backlog.head; m; prev = m, m = m->next) {
        if (m->kind != kind)
            continue;
        ledger__unlink(w, prev, m);
        pthread_mutex_lock(&w->mu);
        w->fig.dropped++;
        if (kind == LEDGER_OP_ROLLUP)
            w->fig.rows_dropped += ((ledger_op_rollup_t *)m)->n;
        pthread_mutex_unlock(&w->mu);
        gw_msg_free(m);
        return 1;
    }
    return 0;
}

/* Bring the backlog back within the bound, the repeatable ops first.
 * Returns 1 when it is within the bound. */
static int ledger__make_room(ledger_worker_t *w)
{
    static const int order[] = {LEDGER_OP_ROLLUP, LEDGER_OP_DEVICE, LEDGER_OP_OUTBOX_ACK};
    size_t max = atomic_load(&w->max_ops);
    size_t k = 0;

    while (w->weight > max && k < GW_ARRAY_SIZE(order)) {
        if (!ledger__drop_oldest(w, order[k]))
            k++;
    }
    return w->weight <= max;
}

/* The backlog holds nothing but work-order ops up to the bound: refuse the
 * newest (the tail), counted and logged; its event went out already. */
static void ledger__refuse_tail(ledger_worker_t *w)
{
    gw_msg_t *prev = NULL, *m = w->backlog.head;
    uint64_t refused;

    while (m && m->next) {
        prev = m;
        m = m->next;
    }
    if (!m)
        return;
    ledger__unlink(w, prev, m);
    pthread_mutex_lock(&w->mu);
    refused = ++w->fig.refused;
    pthread_mutex_unlock(&w->mu);
    if (refused % LEDGER__LOG_EVERY == 1)
        gw_log_error("ledger",
                     "backlog full (%zu work-order ops wait for the disk): op %d refused, "
                     "%llu refused so far",
                     w->backlog.n, m->kind, (unsigned long long)refused);
    gw_msg_free(m);
}

static void ledger__append(ledger_worker_t *w, gw_msg_t *m)
{
    int kind = m->kind;

    if (kind == LEDGER_OP_TOUCH)
        ledger__coalesce_touch(w, m);
    ledger__list_add(&w->backlog, m);
    w->weight += ledger__weight(m);
    if (w->failing)
        ledger__prov_announce(w, m);
    /* m may be gone after this (a repeatable op dropped as the oldest) */
    if (!ledger__make_room(w) && !ledger__droppable(kind))
        ledger__refuse_tail(w);
}

int ledger__merge(ledger_worker_t *w, gw_msg_t *in)
{
    int stop = 0;

    while (in) {
        gw_msg_t *next = in->next;
        in->next = NULL;
        if (in == &w->stop_msg) {
            stop = 1;
        } else if (stop) {
            gw_msg_free(in); /* after stop: a caller's bug */
        } else if (in->kind == LEDGER__OP_CHECKED) {
            gw_msg_free(in); /* a wake-up: ledger__check_poll takes the result */
        } else if (in->kind == LEDGER_OP_STATS) {
            ledger__stats(w);
            gw_msg_free(in);
        } else if (in->kind == LEDGER_OP_OUTBOX_LOAD) {
            const ledger_op_outbox_t *op = (const ledger_op_outbox_t *)in;
            if (op->limit > 0)
                ledger__post_window(w, op);
            else
                ledger__load(w, op->id);
            gw_msg_free(in);
        } else if (in->kind == LEDGER_OP_POLICY) {
            w->policy = ((ledger_op_policy_t *)in)->policy;
            w->has_policy = 1;
            if (w->policy.queue_max_ops > 0)
                ledger_worker_set_max_ops(w, (size_t)w->policy.queue_max_ops);
            if (w->lg)
                ledger_set_policy(w->lg, &w->policy);
            gw_msg_free(in);
        } else {
            ledger__append(w, in);
        }
        in = next;
    }
    ledger__fig_depth(w);
    return stop;
}

void ledger__announce_backlog(ledger_worker_t *w)
{
    for (gw_msg_t *m = w->backlog.head; m; m = m->next)
        ledger__prov_announce(w, m);
}

/* ---- chunks ------------------------------------------------------------- */

void ledger__take_chunk(ledger_worker_t *w, size_t n, ledger__list_t *chunk)
{
    memset(chunk, 0, sizeof(*chunk));
    while (chunk->n < n && w->backlog.head) {
        gw_msg_t *m = w->backlog.head;
        w->backlog.head = m->next;
        if (!w->backlog.head)
            w->backlog.tail = NULL;
        w->backlog.n--;
        ledger__list_add(chunk, m);
    }
}

void ledger__put_back(ledger_worker_t *w, ledger__list_t *chunk)
{
    if (!chunk->head)
        return;
    chunk->tail->next = w->backlog.head;
    if (!w->backlog.tail)
        w->backlog.tail = chunk->tail;
    w->backlog.head = chunk->head;
    w->backlog.n += chunk->n;
    memset(chunk, 0, sizeof(*chunk));
}

void ledger__done_chunk(ledger_worker_t *w, ledger__list_t *chunk)
{
    ledger__list_free(chunk); /* counted off at the commit (ledger__apply_batch) */
    ledger__fig_depth(w);
}
