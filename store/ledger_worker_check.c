/*
 * ledger_worker_check.c: the check of the ledger's file, in the background
 * (ledger_worker_int.h; docs/architecture.md, "Damaged files";
 * docs/performance.md, "The ledger's start").
 *
 * `PRAGMA quick_check` reads every page of the file: about 4 s a GB with
 * a warm cache, far longer from an SD card. It never runs in the daemon's
 * start or on the ledger thread. It runs when it can find something:
 *
 *  - after an unclean stop: the open marker (ledger.db.open, store_file.h)
 *    is still there at start, because the last run was killed, crashed or
 *    lost power before it closed the file;
 *  - when a batch met a damaged page (SQLite said SQLITE_CORRUPT), to tell
 *    a damaged file from a fault of the op (at most once a minute).
 *
 * After a clean stop the file is only opened: a page damaged at rest is
 * found when it is read (a batch meets it and starts the check).
 *
 * The check runs on a thread of its own, on its own read-only connection:
 * the file is open meanwhile, and the ledger thread commits as always (WAL:
 * the checker reads a snapshot; the writer goes on). When the checker ends
 * it wakes the ledger thread with a LEDGER__OP_CHECKED message, and the
 * ledger thread takes the result between batches: a damaged file is moved
 * aside and a fresh one started (ledger__file_recover), as when the check
 * ran at open. A stop interrupts the check at once (sqlite3_interrupt on
 * the checker's connection: quick_check's page-by-page part never calls
 * the progress handler); the marker then stays, so the next start checks
 * again.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_worker_int.h"
#include "store/store_file.h"

#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEDGER__RECHECK_MS 60000 /* a batch's damaged page: at most one check a minute */

/* SQLite's progress handler on the checker's connection: non-zero stops
 * the check. The test-only hold file keeps the check running while it
 * exists (a barrier for tests: docs/configuration.md, "Test-only
 * settings"). */
static int ledger__check_progress(void *arg)
{
    ledger_worker_t *w = arg;
    struct stat sb;

    while (w->check_hold[0] && !atomic_load(&w->check_cancel) && stat(w->check_hold, &sb) == 0)
        usleep(10000);
    return atomic_load(&w->check_cancel);
}

/* The checker's connection, for ledger__check_stop's sqlite3_interrupt
 * (the page-by-page part of quick_check never calls the progress
 * handler). */
static void ledger__check_connection(void *arg, sqlite3 *db)
{
    ledger_worker_t *w = arg;

    pthread_mutex_lock(&w->check_mu);
    w->check_db = db;
    pthread_mutex_unlock(&w->check_mu);
}

static void *ledger__check_thread(void *arg)
{
    ledger_worker_t *w = arg;
    store_check_hooks_t hooks = {
        .progress = ledger__check_progress, .connection = ledger__check_connection, .arg = w};
    gw_msg_t *wake;

    w->check_rc = store_db_check_ex(w->path, 0, &hooks, w->check_err, sizeof(w->check_err));
    atomic_store(&w->check_done, 1);
    /* wake the ledger thread; without memory it wakes within a second */
    wake = calloc(1, sizeof(*wake));
    if (wake) {
        wake->kind = LEDGER__OP_CHECKED;
        gw_queue_push(&w->ops, wake);
    }
    return NULL;
}

void ledger__check_start(ledger_worker_t *w, const char *why)
{
    int rc;

    if (w->check_running || !w->lg)
        return;
    atomic_store(&w->check_done, 0);
    atomic_store(&w->check_cancel, 0);
    w->check_err[0] = '\0';
    w->check_rc = 0;
    w->check_started = gw_mono_ms();
    rc = pthread_create(&w->check_thread, NULL, ledger__check_thread, w);
    if (rc != 0) {
        gw_log_error("ledger", "cannot start the check of %s (%s): %s; tried again later", w->path,
                     why, strerror(rc));
        w->check_next_ms = gw_mono_ms() + LEDGER__RECHECK_MS;
        return;
    }
    pthread_setname_np(w->check_thread, "ledger-check");
    w->check_running = 1;
    gw_log_notice("ledger",
                  "checking %s in the background (PRAGMA quick_check): %s; monitoring and "
                  "commits go on meanwhile",
                  w->path, why);
    pthread_mutex_lock(&w->mu);
    w->fig.checking = 1;
    w->fig.checks_started++;
    snprintf(w->fig.check_result, sizeof(w->fig.check_result), "running");
    pthread_mutex_unlock(&w->mu);
}

void ledger__check_damaged(ledger_worker_t *w)
{
    if (w->check_running || gw_mono_ms() < w->check_next_ms)
        return;
    w->check_next_ms = gw_mono_ms() + LEDGER__RECHECK_MS;
    ledger__check_start(w, "a batch met a damaged page");
}

/* The checker ended (joined): its result into the figures and the log. */
static const char *ledger__check_note(ledger_worker_t *w, int64_t ms)
{
    const char *res = w->check_rc == 0                ? "ok"
                      : w->check_rc == GW_ECORRUPT    ? "damaged"
                      : atomic_load(&w->check_cancel) ? "interrupted"
                                                      : "failed";

    pthread_mutex_lock(&w->mu);
    w->fig.checking = 0;
    w->fig.checks_done += w->check_rc == 0 || w->check_rc == GW_ECORRUPT;
    w->fig.check_ms = ms;
    snprintf(w->fig.check_result, sizeof(w->fig.check_result), "%s", res);
    pthread_mutex_unlock(&w->mu);
    if (w->check_rc == 0)
        gw_log_notice("ledger", "%s checked: sound (%lld ms)", w->path, (long long)ms);
    else if (w->check_rc != GW_ECORRUPT)
        gw_log_warn("ledger", "check of %s %s after %lld ms: %s; checked again at the next start",
                    w->path, res, (long long)ms, w->check_err);
    return res;
}

void ledger__check_poll(ledger_worker_t *w)
{
    char err[512];
    int64_t ms;

    if (!w->check_running || !atomic_load(&w->check_done))
        return;
    pthread_join(w->check_thread, NULL);
    w->check_running = 0;
    ms = gw_mono_ms() - w->check_started;
    ledger__check_note(w, ms);
    if (w->check_rc == 0)
        w->check_due = 0; /* the file is sound: the marker may go at a clean stop */
    if (w->check_rc != GW_ECORRUPT)
        return;
    gw_log_error("ledger", "%s (check of %lld ms)", w->check_err, (long long)ms);
    w->check_due = 1; /* until a fresh file replaces it (ledger__file_recover) */
    if (ledger__file_recover(w, w->check_err, err, sizeof(err)) == 0)
        w->retry_at = gw_mono_ms(); /* a fresh file: what waits, at once */
    else
        gw_log_error("ledger", "after the check: %s", err);
}

void ledger__check_stop(ledger_worker_t *w)
{
    if (!w->check_running)
        return;
    atomic_store(&w->check_cancel, 1);
    pthread_mutex_lock(&w->check_mu);
    if (w->check_db)
        sqlite3_interrupt(w->check_db);
    pthread_mutex_unlock(&w->check_mu);
    pthread_join(w->check_thread, NULL);
    w->check_running = 0;
    ledger__check_note(w, gw_mono_ms() - w->check_started);
    if (w->check_rc == 0)
        w->check_due = 0;
}
