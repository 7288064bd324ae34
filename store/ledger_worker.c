/*
 * ledger_worker.c: the ledger thread (store/ledger_worker.h).
 *
 * One pthread owns one ledger connection. It waits on its op queue, takes
 * every op queued into its backlog (ledger_worker_queue.c: reads answered
 * at once, writes kept in order within a bound), and commits the backlog in
 * order, up to LEDGER__BATCH_MAX ops per transaction: BEGIN IMMEDIATE, each
 * op in a SAVEPOINT of its own (so a failing op undoes only its own writes
 * and the rest of the batch stays), COMMIT (ledger_worker_batch.c). Only
 * after the commit does it post results: errors of single ops, the work
 * orders opened, and the outbox rows written, in id order, so nobody hears
 * of a change that a crash could still take back (docs/architecture.md,
 * "Durability order").
 *
 * When a batch fails as a whole (disk full, read-only, I/O error, out of
 * memory, lock busy, the file not open) it is rolled back and put back at
 * the front of the backlog; the thread posts the new state of the storage
 * (LEDGER_EV_HEALTH, which the daemon turns into a gateway alarm),
 * announces every waiting op's event as provisional (ledger_worker_prov.c)
 * and tries again every LEDGER__RETRY_MS with a small probe batch, so that
 * a dead disk costs little CPU. Ops that arrive meanwhile join the backlog
 * and are announced at once. When a probe commits, the rest follows in
 * full batches, in order, and once nothing waits the state is ok again.
 * A damaged file met at run time is moved aside and a fresh one opened
 * (ledger_worker_file.c). Nothing is dropped but what the bound drops
 * (counted), except at stop: after LEDGER__STOP_TRIES more failed tries the
 * thread gives up and logs how many ops it lost, so that a dead disk cannot
 * hang the daemon's shutdown.
 *
 * Between batches, while the storage is sound, the thread keeps house.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_worker.h"
#include "store/ledger_worker_int.h"
#include "store/store_file.h"

#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER__OP_STOP    399   /* the sentinel pushed by ledger_worker_stop */
#define LEDGER__RETRY_MS   1000  /* pause after a failed batch */
#define LEDGER__STOP_TRIES 3     /* failed batches tolerated once stopping */
#define LEDGER__LOG_EVERY  30    /* log (and report) one failed retry in this many */
#define LEDGER__HOUSE_MS   60000 /* how often to check for housekeeping */
#define LEDGER__ALIVE_MS   1000  /* longest wait without a progress stamp */
#define LEDGER__BATCH_MAX  1000  /* ops in one transaction */
#define LEDGER__PROBE      16    /* ops in one transaction while the storage fails */
#define LEDGER__DAY_MS     (24LL * 3600 * 1000)
#define LEDGER__MOVE_ROWS  2000 /* rollup rows moved to the v6 tables per transaction */

/* ---- housekeeping ------------------------------------------------------- */

/* Outbox rows past their age: nobody takes them any more. */
static int ledger__purge_outbox(ledger_worker_t *w, int64_t now, char *err, size_t errlen)
{
    int64_t purged = 0;
    int rc =
        ledger_outbox_purge(w->lg, now - (int64_t)w->policy.outbox_retention_days * LEDGER__DAY_MS,
                            &purged, err, errlen);

    if (rc == 0 && purged > 0) {
        gw_log_warn("ledger",
                    "%lld outbox events older than %d days purged (not taken by every "
                    "consumer: MQTT disabled or away?)",
                    (long long)purged, w->policy.outbox_retention_days);
        pthread_mutex_lock(&w->mu);
        w->fig.outbox_purged += (uint64_t)purged;
        pthread_mutex_unlock(&w->mu);
    }
    return rc;
}

/* Purge once a day; write last month's report once it has ended (and the
 * ledger holds data from before its end, so that a new install does not
 * write an empty report of a month it never saw), and post its outbox
 * event (the notifier mails it). Failures are logged and tried again at
 * the next check; nothing else depends on them. */
static void ledger__housekeeping(ledger_worker_t *w)
{
    int64_t now = gw_wall_ms();
    int64_t deleted = 0, from, to;
    char month[8];
    char err[256];
    int rc = 0;

    if (!w->has_policy || !w->lg || w->failing ||
        (now < w->next_purge_ms && now < w->next_report_ms))
        return;
    if (now >= w->next_purge_ms) {
        rc = ledger_purge(w->lg, now, &deleted, err, sizeof(err));
        if (rc == 0)
            rc = ledger__purge_outbox(w, now, err, sizeof(err));
        if (rc == 0) {
            w->next_purge_ms = now + LEDGER__DAY_MS;
            w->move_left = w->move_left ? -1 : 0; /* purged rows: count again */
            ledger__audit_break_note(w);          /* its "purged" row went on past one */
            if (deleted)
                gw_log_info("ledger", "retention: %lld old rows purged", (long long)deleted);
        }
    }
    if (rc == 0 && now >= w->next_report_ms) {
        w->next_report_ms = now + LEDGER__HOUSE_MS;
        ledger_prev_month(now, month);
        if (w->policy.report_dir[0] && ledger__month_range(month, &from, &to) == 0 &&
            ledger__has_data_before(w->lg, to)) {
            rc = ledger_report_write(w->lg, w->policy.report_dir, month, now, err, sizeof(err));
            if (rc == 0) {
                gw_log_notice("ledger", "monthly report %s written to %s", month,
                              w->policy.report_dir);
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

/* Rollup rows still in the old tables of schema v6 move over, one batch
 * per call, while nothing else waits (ledger_rollup_move). A failure (disk
 * full, ...) is logged, counted in the figures and tried again after
 * LEDGER__RETRY_MS; reads see every row meanwhile. */
static void ledger__move_some(ledger_worker_t *w)
{
    char err[256];
    int rc;

    if (!w->lg || w->failing || w->move_left == 0 || gw_mono_ms() < w->move_retry_at)
        return;
    ledger__file_test_pages(w);
    rc = ledger_rollup_move(w->lg, LEDGER__MOVE_ROWS, &w->move_left, err, sizeof(err));
    pthread_mutex_lock(&w->mu);
    w->fig.move_left = w->move_left;
    w->fig.move_batches += rc == 0;
    w->fig.move_failed += rc < 0;
    pthread_mutex_unlock(&w->mu);
    if (rc < 0) {
        w->move_retry_at = gw_mono_ms() + LEDGER__RETRY_MS;
        if (w->move_failures++ % LEDGER__LOG_EVERY == 0)
            gw_log_error("ledger", "moving rollups to schema v6: %s; retrying", err);
        if (w->move_failures == 1)
            ledger__post_error(w, rc, err);
        return;
    }
    if (w->move_failures)
        gw_log_notice("ledger", "moving rollups to schema v6 again after %d failed tries",
                      w->move_failures);
    w->move_failures = 0;
    if (w->move_left == 0)
        gw_log_notice("ledger", "rollups moved to schema v6; old tables dropped");
}

/* ---- the thread --------------------------------------------------------- */

/* A batch failed (or the file would not open): note it, tell the loop the
 * state, announce what waits, and try again later. */
static void ledger__failed(ledger_worker_t *w, int rc, const char *err)
{
    w->failing = 1;
    w->failures++;
    w->retry_at = gw_mono_ms() + LEDGER__RETRY_MS;
    pthread_mutex_lock(&w->mu);
    w->fig.failed_batches++;
    pthread_mutex_unlock(&w->mu);
    /* The log and the loop hear of the first failure and then of one in
     * LEDGER__LOG_EVERY: a dead disk does not flood either. */
    if (w->failures == 1 || w->failures % LEDGER__LOG_EVERY == 0) {
        gw_log_error("ledger", "%zu ops wait, not committed (try %d): %s; retrying", w->backlog.n,
                     w->failures, err);
        ledger__post_error(w, rc, err);
    }
    ledger__set_state(w, w->lg ? ledger__state_of(rc) : LEDGER_STORAGE_UNAVAILABLE, err, NULL);
    ledger__announce_backlog(w);
    if (rc == GW_ECORRUPT) /* the check tells; its end wakes the thread */
        ledger__check_damaged(w);
}

/* Commit the next batch of the backlog. 0, or the batch's failure. */
static int ledger__commit_some(ledger_worker_t *w, char *err, size_t errlen)
{
    ledger__list_t chunk;
    int rc;

    ledger__file_test_pages(w);
    ledger__take_chunk(w, w->failing ? LEDGER__PROBE : LEDGER__BATCH_MAX, &chunk);
    rc = ledger__apply_batch(w, &chunk, err, errlen);
    if (rc < 0) {
        ledger__put_back(w, &chunk);
        return rc;
    }
    ledger__done_chunk(w, &chunk);
    if (w->failures)
        gw_log_notice("ledger", "committed again after %d failed tries; %zu ops still wait",
                      w->failures, w->backlog.n);
    w->failures = 0;
    w->failing = 0;
    if (!w->backlog.n && w->nprov + (w->state != LEDGER_STORAGE_OK) > 0) {
        gw_log_notice("ledger", "every op that waited is committed");
        ledger__prov_reset(w);
        ledger__set_state(w, LEDGER_STORAGE_OK, NULL, NULL);
    }
    return 0;
}

/* How long to wait for new ops: until a retry is due, or for
 * housekeeping when there is nothing to do. */
static int ledger__timeout(ledger_worker_t *w, int stop)
{
    int64_t left;

    if (w->failing || !w->lg) {
        left = w->retry_at - gw_mono_ms();
        return left > 0 ? (int)(left < LEDGER__ALIVE_MS ? left : LEDGER__ALIVE_MS) : 0;
    }
    /* rollups to move: look for ops between batches, without waiting */
    if (!stop && w->move_left != 0) {
        left = w->move_retry_at - gw_mono_ms();
        if (left < LEDGER__ALIVE_MS)
            return left > 0 ? (int)left : 0;
    }
    /* wake at least once a second to show that the thread lives */
    return w->backlog.n || stop ? 0 : LEDGER__ALIVE_MS;
}

/* Give up at stop: the backlog is lost (logged). */
static void ledger__give_up(ledger_worker_t *w, const char *err)
{
    gw_log_error("ledger", "stopping: %zu ops lost, never committed: %s", w->backlog.n, err);
    w->lost = w->backlog.n;
    ledger__list_free(&w->backlog);
    w->weight = 0;
    ledger__fig_depth(w);
}

static void *ledger__thread(void *arg)
{
    ledger_worker_t *w = arg;
    char err[512];
    int stop = 0, stop_tries = 0, timeout;
    int rc;

    for (;;) {
        ledger__alive(w);
        if (stop && !w->backlog.n)
            break;
        timeout = ledger__timeout(w, stop);
        stop |= ledger__merge(w, timeout > 0 ? gw_queue_wait_all(&w->ops, timeout)
                                             : gw_queue_take_all(&w->ops));
        ledger__check_poll(w);
        if (w->check_due && !w->check_running && !w->check_tried && w->lg && !stop) {
            w->check_tried = 1;
            ledger__check_start(w, "the last run did not close it (an unclean stop)");
        }
        if ((w->failing || !w->lg) && gw_mono_ms() < w->retry_at)
            continue; /* a retry is not due yet */
        rc = w->lg ? 0 : ledger__file_open(w, err, sizeof(err));
        if (rc == 0 && !w->backlog.n) {
            w->failing = 0;
            if (w->state != LEDGER_STORAGE_OK) { /* opened again, nothing waited */
                ledger__prov_reset(w);
                ledger__set_state(w, LEDGER_STORAGE_OK, NULL, NULL);
            }
            if (!stop)
                ledger__housekeeping(w);
            if (!stop && !gw_queue_depth(&w->ops))
                ledger__move_some(w);
            continue;
        }
        if (rc == 0)
            rc = ledger__commit_some(w, err, sizeof(err));
        if (rc == 0) {
            if (!w->backlog.n && !stop)
                ledger__housekeeping(w);
            continue;
        }
        ledger__failed(w, rc, err);
        if (stop && ++stop_tries >= LEDGER__STOP_TRIES) {
            ledger__give_up(w, err);
            break;
        }
    }
    return NULL;
}

/* ---- life cycle --------------------------------------------------------- */

static int ledger__init(ledger_worker_t *w, const char *path, gw_queue_t *results)
{
    const char *pages = getenv("PLANTROOM_TEST_LEDGER_PAGES_FILE");
    const char *hold = getenv("PLANTROOM_TEST_LEDGER_CHECK_HOLD");

    snprintf(w->path, sizeof(w->path), "%s", path);
    w->results = results;
    w->stop_msg.kind = LEDGER__OP_STOP;
    w->load_after = -1;
    w->fig.move_left = -1; /* not counted yet */
    w->pages_applied = -1;
    atomic_init(&w->pending, 0);
    atomic_init(&w->progress_ms, (long long)gw_mono_ms());
    atomic_init(&w->max_ops, LEDGER__MAX_OPS_DEFAULT);
    atomic_init(&w->dropped, 0);
    atomic_init(&w->rows_dropped, 0);
    w->fig.max_ops = LEDGER__MAX_OPS_DEFAULT;
    if (pages && *pages)
        snprintf(w->pages_file, sizeof(w->pages_file), "%s", pages);
    if (hold && *hold)
        snprintf(w->check_hold, sizeof(w->check_hold), "%s", hold);
    /* left by a run that did not close the file: check it (in the background) */
    w->check_due = store_marker_present(path);
    atomic_init(&w->check_done, 0);
    atomic_init(&w->check_cancel, 0);
    if (gw_queue_init(&w->ops, NULL, NULL) < 0)
        return GW_ENOMEM;
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        gw_queue_destroy(&w->ops);
        return GW_ENOMEM;
    }
    if (pthread_mutex_init(&w->check_mu, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        gw_queue_destroy(&w->ops);
        return GW_ENOMEM;
    }
    return 0;
}

int ledger_worker_start(ledger_worker_t **out, const char *path, gw_queue_t *results, char *err,
                        size_t errlen)
{
    ledger_worker_t *w;
    char why[512] = "";
    int rc;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!path || !*path || strlen(path) >= PATH_MAX)
        return ledger__fail(GW_EINVAL, err, errlen, "ledger worker: no usable path given");
    w = calloc(1, sizeof(*w));
    if (!w || ledger__init(w, path, results) < 0) {
        free(w);
        return ledger__fail(GW_ENOMEM, err, errlen, "ledger worker: out of memory");
    }
    if (ledger__file_open(w, why, sizeof(why)) < 0) {
        gw_log_error("ledger", "%s: trying again every %d ms; work orders wait in memory", why,
                     LEDGER__RETRY_MS);
        ledger__fail(0, err, errlen, "%s", why);
        w->failing = 1;
        w->retry_at = gw_mono_ms() + LEDGER__RETRY_MS;
    } else if (w->fig.quarantined) {
        ledger__fail(0, err, errlen, "ledger %s was damaged: moved aside, a fresh one started",
                     path);
    }
    rc = pthread_create(&w->thread, NULL, ledger__thread, w);
    if (rc != 0) {
        ledger_close(w->lg);
        pthread_mutex_destroy(&w->check_mu);
        pthread_mutex_destroy(&w->mu);
        gw_queue_destroy(&w->ops);
        free(w);
        return ledger__fail(-rc, err, errlen, "ledger worker: cannot start thread: %s",
                            strerror(rc));
    }
    pthread_setname_np(w->thread, "ledger");
    *out = w;
    return 0;
}

void ledger_worker_submit(ledger_worker_t *w, gw_msg_t *op)
{
    if (!op)
        return;
    /* A repeatable op past the bound goes at once: the backlog is full of
     * waiting work and this one would be dropped first anyway. */
    if (ledger__droppable(op->kind) &&
        atomic_load(&w->pending) + gw_queue_depth(&w->ops) >= atomic_load(&w->max_ops)) {
        atomic_fetch_add(&w->dropped, 1);
        if (op->kind == LEDGER_OP_ROLLUP)
            atomic_fetch_add(&w->rows_dropped, ((ledger_op_rollup_t *)op)->n);
        gw_msg_free(op);
        return;
    }
    gw_queue_push(&w->ops, op);
}

void ledger_worker_figures(ledger_worker_t *w, ledger_worker_figures_t *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->fig;
    pthread_mutex_unlock(&w->mu);
    out->depth = ledger_worker_depth(w);
    if (out->depth > out->peak)
        out->peak = out->depth;
    out->max_ops = atomic_load(&w->max_ops);
    out->dropped += atomic_load(&w->dropped);
    out->rows_dropped += atomic_load(&w->rows_dropped);
}

int ledger_worker_stop(ledger_worker_t *w)
{
    size_t lost;
    int clean;

    if (!w)
        return 0;
    /* Behind every op submitted so far: the thread applies them all first. */
    gw_queue_push(&w->ops, &w->stop_msg);
    pthread_join(w->thread, NULL);
    ledger__check_stop(w);
    lost = w->lost;
    /* a clean close: the next start need not check the file */
    clean = w->lg && w->marked && !lost && !w->check_due;
    ledger_close(w->lg);
    if (clean)
        store_marker_clear(w->path);
    ledger__prov_reset(w);
    ledger__list_free(&w->backlog);
    gw_queue_destroy(&w->ops); /* ops submitted after stop, if any */
    pthread_mutex_destroy(&w->check_mu);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return lost ? GW_EIO : 0;
}

size_t ledger_worker_depth(ledger_worker_t *w)
{
    return gw_queue_depth(&w->ops) + atomic_load(&w->pending);
}

int64_t ledger_worker_progress_ms(ledger_worker_t *w)
{
    return (int64_t)atomic_load(&w->progress_ms);
}
