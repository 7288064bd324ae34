/*
 * ledger_worker.c: the ledger thread (store/ledger_worker.h).
 *
 * One pthread owns one ledger connection. It waits on its op queue, takes
 * every op queued, and applies them as one batch: BEGIN IMMEDIATE, each op
 * (each runs in a SAVEPOINT of its own, ledger__op_begin in ledger_db.c, so
 * a failing op undoes only its own writes and the rest of the batch stays),
 * COMMIT. Only after the commit does it post results: errors of single
 * ops, the work orders opened, and the outbox rows written (read back by id
 * above the last one it posted, in id order), so nobody hears of a change
 * that a crash could still take back (docs/architecture.md, "Durability
 * order").
 *
 * When the batch as a whole fails (BEGIN or COMMIT fails, or an op fails
 * with a condition that may pass: disk full, I/O error, out of memory, lock
 * busy) everything is rolled back, an error is posted and logged, and the
 * same ops, plus any that arrived meanwhile, are tried again after about a
 * second. Nothing is dropped, except at stop: after LEDGER__STOP_TRIES more
 * failed tries the thread gives up and logs how many ops it lost, so that a
 * dead disk cannot hang the daemon's shutdown.
 *
 * This file is the thread and its life cycle, with housekeeping between
 * batches; one batch is ledger_worker_batch.c, the op constructors are
 * ledger_worker_ops.c (ledger_worker_int.h).
 */
#include "store/ledger_worker.h"
#include "store/ledger_int.h"
#include "store/ledger_worker_int.h"

#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEDGER__OP_STOP    399   /* the sentinel pushed by ledger_worker_stop */
#define LEDGER__RETRY_MS   1000  /* pause after a failed batch */
#define LEDGER__STOP_TRIES 3     /* failed batches tolerated once stopping */
#define LEDGER__LOG_EVERY  30    /* log (and report) one failed retry in this many */
#define LEDGER__HOUSE_MS   60000 /* how often to check for housekeeping */
#define LEDGER__DAY_MS     (24LL * 3600 * 1000)

/* ---- the thread --------------------------------------------------------- */

/* Wait ms, or less if stop is requested while waiting. */
static void ledger__pause(ledger_worker_t *w, int ms)
{
    struct timespec deadline;
    int was_stopping;

    deadline = gw_mono_deadline(ms);
    pthread_mutex_lock(&w->mu);
    was_stopping = w->stopping;
    while (w->stopping == was_stopping) {
        if (pthread_cond_timedwait(&w->cond, &w->mu, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->mu);
}

/* Purge once a day; write last month's report once it has ended (and the
 * ledger holds data from before its end, so that a new install does not
 * write an empty report of a month it never saw), and post its outbox
 * event (the notifier mails it). Failures are logged and tried again at
 * the next check; nothing else depends on them. */
static void ledger__housekeeping(ledger_worker_t *w)
{
    const ledger_policy_t *p = ledger__policy(w->lg);
    int64_t now = gw_wall_ms();
    int64_t deleted = 0, from, to;
    char month[8];
    char err[256];
    int rc = 0;

    if (!w->has_policy || (now < w->next_purge_ms && now < w->next_report_ms))
        return;
    if (now >= w->next_purge_ms) {
        rc = ledger_purge(w->lg, now, &deleted, err, sizeof(err));
        if (rc == 0) {
            w->next_purge_ms = now + LEDGER__DAY_MS;
            if (deleted)
                gw_log_info("ledger", "retention: %lld old rows purged", (long long)deleted);
        }
    }
    if (rc == 0 && now >= w->next_report_ms) {
        w->next_report_ms = now + LEDGER__HOUSE_MS;
        ledger_prev_month(now, month);
        if (p->report_dir[0] && ledger__month_range(month, &from, &to) == 0 &&
            ledger__has_data_before(w->lg, to)) {
            rc = ledger_report_write(w->lg, p->report_dir, month, now, err, sizeof(err));
            if (rc == 0) {
                gw_log_notice("ledger", "monthly report %s written to %s", month, p->report_dir);
                ledger__post_new_outbox(w); /* its "report" event, committed with it */
            }
            rc = rc > 0 ? 0 : rc;
        }
    }
    if (rc < 0) {
        if (w->house_failures++ % LEDGER__LOG_EVERY == 0)
            gw_log_error("ledger", "housekeeping: %s", err);
        if (w->house_failures == 1)
            ledger__post_error(w, rc, err);
        w->next_report_ms = now + LEDGER__HOUSE_MS;
        return;
    }
    w->house_failures = 0;
}

/* Move the taken messages into the batch; returns 1 if the stop message
 * was among them (ops queued after it are a caller's bug, and dropped). */
static int ledger__take(ledger_worker_t *w, gw_msg_t *in, ledger__list_t *batch)
{
    int stop = 0;

    while (in) {
        gw_msg_t *next = in->next;
        if (in == &w->stop_msg)
            stop = 1;
        else if (stop)
            gw_msg_free(in);
        else
            ledger__list_add(batch, in);
        in = next;
    }
    atomic_store(&w->pending_n, batch->n);
    return stop;
}

static void *ledger__thread(void *arg)
{
    ledger_worker_t *w = arg;
    ledger__list_t batch = {0};
    char err[256];
    int failures = 0, failures_stopping = 0;
    int stop = 0;
    int rc;

    while (!stop || batch.n) {
        if (!stop) {
            /* Block only when there is nothing left to retry. */
            gw_msg_t *in =
                batch.n ? gw_queue_take_all(&w->ops) : gw_queue_wait_all(&w->ops, LEDGER__HOUSE_MS);
            stop = ledger__take(w, in, &batch);
        }
        if (!batch.n) {
            if (!stop)
                ledger__housekeeping(w);
            continue;
        }
        rc = ledger__apply_batch(w, &batch, err, sizeof(err));
        if (rc == 0) {
            if (failures)
                gw_log_notice("ledger", "committed again after %d failed tries", failures);
            failures = 0;
            ledger__list_free(&batch);
            atomic_store(&w->pending_n, 0);
            if (!stop)
                ledger__housekeeping(w);
            continue;
        }
        failures++;
        /* The log and the loop hear of the first failure and then of one in
         * LEDGER__LOG_EVERY: a dead disk does not flood either. */
        if (failures == 1 || failures % LEDGER__LOG_EVERY == 0) {
            gw_log_error("ledger", "batch of %zu ops not committed (try %d): %s; retrying", batch.n,
                         failures, err);
            ledger__post_error(w, rc, err);
        }
        if (stop && ++failures_stopping >= LEDGER__STOP_TRIES) {
            gw_log_error("ledger", "stopping: %zu ops lost, never committed: %s", batch.n, err);
            w->lost = batch.n;
            ledger__list_free(&batch);
            atomic_store(&w->pending_n, 0);
            break;
        }
        ledger__pause(w, LEDGER__RETRY_MS);
    }
    return NULL;
}

/* ---- life cycle --------------------------------------------------------- */

int ledger_worker_start(ledger_worker_t **out, const char *path, gw_queue_t *results, char *err,
                        size_t errlen)
{
    ledger_worker_t *w;
    pthread_condattr_t ca;
    int rc;

    *out = NULL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return ledger__fail(GW_ENOMEM, err, errlen, "ledger worker: out of memory");
    w->results = results;
    w->stop_msg.kind = LEDGER__OP_STOP;
    atomic_init(&w->pending_n, 0);
    rc = gw_queue_init(&w->ops, NULL, NULL);
    if (rc < 0) {
        ledger__fail(rc, err, errlen, "ledger worker: cannot create its queue");
        goto out_free;
    }
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger worker: cannot create a mutex");
        goto out_destroy_queue;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger worker: cannot create a condvar");
        goto out_destroy_mutex;
    }
    rc = ledger_open(&w->lg, path, LEDGER_OPEN_CREATE, err, errlen);
    if (rc < 0)
        goto out_destroy_cond;
    rc = ledger__outbox_max_id(w->lg, &w->last_outbox_id, err, errlen);
    if (rc < 0)
        goto out_close_ledger;
    rc = pthread_create(&w->thread, NULL, ledger__thread, w);
    if (rc != 0) {
        rc = ledger__fail(-rc, err, errlen, "ledger worker: cannot start thread: %s", strerror(rc));
        goto out_close_ledger;
    }
    *out = w;
    return 0;

out_close_ledger:
    ledger_close(w->lg);
out_destroy_cond:
    pthread_cond_destroy(&w->cond);
out_destroy_mutex:
    pthread_mutex_destroy(&w->mu);
out_destroy_queue:
    gw_queue_destroy(&w->ops);
out_free:
    free(w);
    return rc;
}

void ledger_worker_submit(ledger_worker_t *w, gw_msg_t *op)
{
    if (op)
        gw_queue_push(&w->ops, op);
}

int ledger_worker_stop(ledger_worker_t *w)
{
    size_t lost;

    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cond); /* cut a retry pause short */
    pthread_mutex_unlock(&w->mu);
    /* Behind every op submitted so far: the thread applies them all first. */
    gw_queue_push(&w->ops, &w->stop_msg);
    pthread_join(w->thread, NULL);
    lost = w->lost;
    ledger_close(w->lg);
    gw_queue_destroy(&w->ops); /* ops submitted after stop, if any */
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return lost ? GW_EIO : 0;
}

size_t ledger_worker_depth(ledger_worker_t *w)
{
    return gw_queue_depth(&w->ops) + atomic_load(&w->pending_n);
}
