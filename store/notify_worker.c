/*
 * notify_worker.c: the notifier's store thread (store/notify_worker.h).
 *
 * One pthread owns the notify.db connection. It waits on its queue, takes
 * every unit queued (a unit marked reset drops the ones before it), and
 * applies them in one transaction; after the commit it posts the highest
 * sequence number applied. A failed batch is rolled back and kept, in
 * order, with what arrives meanwhile, and tried again after a pause that
 * doubles from RETRY_MIN_MS to RETRY_MAX_MS; the caller bounds it (a reset
 * unit). A corrupt file is moved aside and replaced by a fresh one, and the
 * caller is asked for its whole state. The design is in docs/hooks.md
 * ("Durability", "When notify.db cannot be written").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/notify_worker.h"
#include "store/store_file.h"

#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NW__OP_STOP      599 /* the sentinel pushed by notify_worker_stop */
#define NW__RETRY_MIN_MS 500
#define NW__RETRY_MAX_MS 5000
#define NW__STOP_TRIES   3  /* failed batches tolerated once stopping */
#define NW__LOG_EVERY    30 /* report one failed retry in this many */

/* Who owns what: the worker owns st, ops (and every unit queued in it), the
 * batch and the stop message; results belongs to the caller. */
struct notify_worker {
    notify_store_t *st; /* NULL: no file open (tries again) */
    char path[4096];
    gw_queue_t ops;
    gw_queue_t *results;
    pthread_t thread;
    pthread_mutex_t mu; /* guards stopping; with cond, the retry pause */
    pthread_cond_t cond;
    int stopping;
    gw_msg_t stop_msg;
    atomic_size_t nops;  /* ops submitted, not yet committed or dropped */
    int check_corrupt;   /* the last house op's quick_check failed */
    char check_err[256]; /* ... and why */
    size_t lost;
};

typedef struct nw__list {
    gw_msg_t *head, *tail;
    size_t n, nops;
    int64_t max_seq;
} nw__list_t;

static void nw__list_add(nw__list_t *l, notify_tx_t *tx)
{
    tx->hdr.next = NULL;
    if (l->tail)
        l->tail->next = &tx->hdr;
    else
        l->head = &tx->hdr;
    l->tail = &tx->hdr;
    l->n++;
    l->nops += tx->n;
    if (tx->seq > l->max_seq)
        l->max_seq = tx->seq;
}

/* Free the batch; its ops no longer count as waiting. */
static void nw__list_free(notify_worker_t *w, nw__list_t *l)
{
    atomic_fetch_sub(&w->nops, l->nops);
    gw_msg_free_list(l->head);
    l->head = l->tail = NULL;
    l->n = l->nops = 0;
}

static void nw__post(notify_worker_t *w, int kind, int64_t seq, notify_fault_t f, const char *msg)
{
    notify_ev_t *ev = calloc(1, sizeof(*ev));

    if (!ev)
        return; /* the next result says more */
    ev->hdr.kind = kind;
    ev->seq = seq;
    ev->fault = f;
    snprintf(ev->msg, sizeof(ev->msg), "%s", msg ? msg : "");
    gw_queue_push(w->results, &ev->hdr);
}

/* Wait ms, or less if stop is requested meanwhile. */
static void nw__pause(notify_worker_t *w, int ms)
{
    struct timespec deadline = gw_mono_deadline(ms);
    int was_stopping;

    pthread_mutex_lock(&w->mu);
    was_stopping = w->stopping;
    while (w->stopping == was_stopping) {
        if (pthread_cond_timedwait(&w->cond, &w->mu, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->mu);
}

/* The pause after the failures-th failed try: doubling from the minimum to
 * the maximum; the minimum once stopping. */
static int nw__delay(int failures, int stopping)
{
    int ms = NW__RETRY_MIN_MS;

    for (int i = 1; i < failures && !stopping && ms < NW__RETRY_MAX_MS; i++)
        ms *= 2;
    return ms < NW__RETRY_MAX_MS ? ms : NW__RETRY_MAX_MS;
}

/* ---- a file to write to ---------------------------------------------------- */

/* Move the file at the path aside (if there is one with content) and open
 * a fresh one. 0, or a negative code (st stays NULL). moved: where the old
 * file went ("" when there was none). */
static int nw__fresh(notify_worker_t *w, char *moved, size_t len)
{
    char err[512];
    int rc;

    moved[0] = '\0';
    rc = store_db_check(w->path, err, sizeof(err));
    if (rc != GW_ENOENT && store_file_quarantine(w->path, moved, len, err, sizeof(err)) < 0) {
        gw_log_error("notify", "notify.db: %s", err);
        return GW_EIO;
    }
    rc = notify_store_open(&w->st, w->path, NULL, err, sizeof(err));
    if (rc < 0)
        gw_log_error("notify", "notify.db: cannot open a fresh file: %s", err);
    return rc;
}

/* The file is corrupt: close it, move it aside, start a fresh one, and ask
 * the caller for its whole state. The batch is dropped (the state holds
 * it). */
static void nw__replace(notify_worker_t *w, nw__list_t *batch, const char *why)
{
    char moved[4200];

    notify_store_close(w->st);
    w->st = NULL;
    nw__list_free(w, batch);
    if (nw__fresh(w, moved, sizeof(moved)) < 0)
        return; /* tried again before the next batch */
    gw_log_error("notify", "notify.db corrupt (%s): moved aside to %s; a fresh file is in use", why,
                 moved[0] ? moved : "(nothing)");
    nw__post(w, NOTIFY_EV_REOPENED, 0, NOTIFY_FAULT_CORRUPT, moved);
}

/* No file open: try to get one. 0 when there is one now. */
static int nw__reopen(notify_worker_t *w, nw__list_t *batch)
{
    char moved[4200];

    if (w->st)
        return 0;
    if (nw__fresh(w, moved, sizeof(moved)) < 0)
        return GW_EIO;
    nw__list_free(w, batch); /* the caller sends its whole state */
    gw_log_notice("notify", "notify.db open again%s%s", moved[0] ? "; the old file moved to " : "",
                  moved);
    nw__post(w, NOTIFY_EV_REOPENED, 0, NOTIFY_FAULT_NONE, moved);
    return 0;
}

/* ---- one batch ------------------------------------------------------------- */

static int nw__house(notify_worker_t *w, const notify_op_house_t *op, int64_t *deleted)
{
    int rc;

    if (op->check) {
        rc = store_db_check(w->path, w->check_err, sizeof(w->check_err));
        if (rc == GW_ECORRUPT) {
            w->check_corrupt = 1;
            return rc;
        }
    }
    return notify_store_purge(w->st, op->cutoff_ms, op->max_rows, deleted);
}

static int nw__apply_op(notify_worker_t *w, const gw_msg_t *op, int *house, int64_t *deleted)
{
    switch (op->kind) {
    case NOTIFY_OP_SEEN:
        return notify_store_put_seen(w->st, &((const notify_op_seen_t *)op)->row);
    case NOTIFY_OP_ALERT:
        return notify_store_put_alert(w->st, &((const notify_op_alert_t *)op)->row);
    case NOTIFY_OP_BATCH_PUT:
        return notify_store_put_batch(w->st, &((const notify_op_batch_t *)op)->row);
    case NOTIFY_OP_BATCH_DEL:
        return notify_store_del_batch(w->st, ((const notify_op_batch_t *)op)->row.id);
    case NOTIFY_OP_AG:
        return notify_store_put_ag(w->st, &((const notify_op_ag_t *)op)->row);
    case NOTIFY_OP_MSG:
        return notify_store_put_msg(w->st, &((const notify_op_msg_t *)op)->row);
    case NOTIFY_OP_IMAGE:
        return notify_store_write_image(w->st, &((const notify_op_image_t *)op)->img);
    case NOTIFY_OP_HOUSE:
        *house = 1;
        return nw__house(w, (const notify_op_house_t *)op, deleted);
    }
    return 0;
}

/* Apply the batch in one transaction; 0 when committed. */
static int nw__apply(notify_worker_t *w, nw__list_t *batch, int *house, int64_t *deleted)
{
    int rc = notify_store_begin(w->st);

    *house = 0;
    *deleted = 0;
    w->check_corrupt = 0;
    for (gw_msg_t *t = batch->head; t && rc == 0; t = t->next) {
        for (gw_msg_t *op = ((notify_tx_t *)t)->head; op && rc == 0; op = op->next)
            rc = nw__apply_op(w, op, house, deleted);
    }
    if (rc == 0)
        rc = notify_store_commit(w->st);
    if (rc < 0)
        notify_store_rollback(w->st);
    return rc;
}

static void nw__post_counts(notify_worker_t *w, int64_t deleted)
{
    notify_ev_t *ev = calloc(1, sizeof(*ev));

    if (!ev)
        return;
    ev->hdr.kind = NOTIFY_EV_COUNTS;
    ev->deleted = deleted;
    if (notify_store_counts(w->st, &ev->counts) < 0) {
        free(ev);
        return;
    }
    gw_queue_push(w->results, &ev->hdr);
}

/* ---- the thread ------------------------------------------------------------ */

/* Move the taken units into the batch; returns 1 if the stop message was
 * among them. A reset unit drops what came before it. */
static int nw__take(notify_worker_t *w, gw_msg_t *in, nw__list_t *batch)
{
    int stop = 0;

    while (in) {
        gw_msg_t *next = in->next;
        if (in == &w->stop_msg) {
            stop = 1;
        } else if (in->kind != NOTIFY_TX) {
            gw_msg_free(in);
        } else {
            notify_tx_t *tx = (notify_tx_t *)in;
            if (tx->reset)
                nw__list_free(w, batch);
            nw__list_add(batch, tx);
        }
        in = next;
    }
    return stop;
}

/* A failed batch: post it; log it on the first failure, on a new kind, then
 * one in NW__LOG_EVERY. */
static void nw__failed(notify_worker_t *w, const nw__list_t *batch, int failures, notify_fault_t f,
                       notify_fault_t *last)
{
    char msg[320];

    snprintf(msg, sizeof(msg), "%s", notify_store_errmsg(w->st));
    if (failures == 1 || f != *last || failures % NW__LOG_EVERY == 0)
        gw_log_error("notify", "notify.db: %zu changes not written (%s, try %d): %s; retrying",
                     batch->nops, notify_fault_name(f), failures, msg);
    nw__post(w, NOTIFY_EV_FAILED, 0, f, msg);
    *last = f;
}

static void *nw__thread(void *arg)
{
    notify_worker_t *w = arg;
    nw__list_t batch = {0};
    notify_fault_t last = NOTIFY_FAULT_NONE;
    int failures = 0, open_failures = 0, tries_stopping = 0, stop = 0, house;
    int64_t deleted;

    while (!stop || batch.n) {
        if (!stop)
            stop = nw__take(
                w, batch.n || !w->st ? gw_queue_take_all(&w->ops) : gw_queue_wait_all(&w->ops, -1),
                &batch);
        if (nw__reopen(w, &batch) < 0) {
            if (stop)
                break;
            nw__pause(w, nw__delay(++open_failures, 0));
            continue;
        }
        open_failures = 0;
        if (!batch.n)
            continue;
        if (nw__apply(w, &batch, &house, &deleted) == 0) {
            if (failures)
                gw_log_notice("notify", "notify.db written again after %d failed tries", failures);
            failures = 0;
            last = NOTIFY_FAULT_NONE;
            int64_t seq = batch.max_seq;
            nw__list_free(w, &batch); /* no longer waiting before anyone hears */
            nw__post(w, NOTIFY_EV_COMMITTED, seq, NOTIFY_FAULT_NONE, NULL);
            if (house)
                nw__post_counts(w, deleted);
            continue;
        }
        if (w->check_corrupt || notify_store_fault(w->st) == NOTIFY_FAULT_CORRUPT) {
            nw__replace(w, &batch, w->check_corrupt ? w->check_err : notify_store_errmsg(w->st));
            continue;
        }
        nw__failed(w, &batch, ++failures, notify_store_fault(w->st), &last);
        if (stop && ++tries_stopping >= NW__STOP_TRIES)
            break;
        nw__pause(w, nw__delay(failures, stop));
    }
    if (batch.n) {
        gw_log_error("notify", "stopping: %zu changes to notify.db lost, never written",
                     batch.nops);
        w->lost = batch.nops;
        nw__list_free(w, &batch);
    }
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------ */

int notify_worker_start(notify_worker_t **out, const char *path, notify_store_t *st,
                        gw_queue_t *results, char *err, size_t errlen)
{
    notify_worker_t *w = calloc(1, sizeof(*w));
    pthread_condattr_t ca;
    int rc;

    *out = NULL;
    if (!w) {
        snprintf(err, errlen, "notify store thread: out of memory");
        return GW_ENOMEM;
    }
    snprintf(w->path, sizeof(w->path), "%s", path);
    w->results = results;
    w->stop_msg.kind = NW__OP_STOP;
    atomic_init(&w->nops, 0);
    rc = gw_queue_init(&w->ops, NULL, NULL);
    if (rc < 0)
        goto out_free;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    w->st = st;
    rc = pthread_create(&w->thread, NULL, nw__thread, w);
    if (rc != 0) {
        snprintf(err, errlen, "notify store thread: cannot start: %s", strerror(rc));
        rc = -rc;
        w->st = NULL;
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->mu);
        gw_queue_destroy(&w->ops);
        goto out_free;
    }
    pthread_setname_np(w->thread, "notify-store"); /* top -H, strace -p */
    *out = w;
    return 0;

out_free:
    if (rc == GW_ENOMEM)
        snprintf(err, errlen, "notify store thread: out of memory");
    free(w);
    return rc;
}

void notify_worker_submit(notify_worker_t *w, notify_tx_t *tx)
{
    if (!tx)
        return;
    atomic_fetch_add(&w->nops, tx->n);
    gw_queue_push(&w->ops, &tx->hdr);
}

int notify_worker_stop(notify_worker_t *w)
{
    size_t lost;

    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cond); /* cut a retry pause short */
    pthread_mutex_unlock(&w->mu);
    gw_queue_push(&w->ops, &w->stop_msg); /* behind every unit submitted */
    pthread_join(w->thread, NULL);
    lost = w->lost;
    notify_store_close(w->st);
    gw_queue_destroy(&w->ops);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return lost ? GW_EIO : 0;
}

size_t notify_worker_depth(notify_worker_t *w)
{
    return w ? atomic_load(&w->nops) : 0;
}
