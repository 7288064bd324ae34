/*
 * ledger_worker_file.c: the ledger thread's file (ledger_worker_int.h;
 * docs/operations.md, "When storage fails").
 *
 * Opening does not check the file (that runs in the background:
 * ledger_worker_check.c). A file that SQLite cannot open as a ledger (not a
 * database, a damaged schema) is moved aside as NAME.corrupt-<UTC> with its
 * -wal and -shm (never deleted: it is the evidence), and a fresh ledger is
 * created, so that the daemon keeps watching with an empty ledger instead of
 * exiting. The same happens when the check finds a damaged file; a fresh
 * file's outbox ids then start above those already posted, so that an
 * acknowledgement still in flight never deletes a new row. A file that
 * cannot be opened at all (a read-only or missing directory) is tried again
 * by the thread. Once open, the open marker (ledger.db.open) is written; a
 * clean stop removes it (ledger_worker_stop).
 *
 * The state of the storage (ok, full, read-only, ...) is posted to the
 * loop as LEDGER_EV_HEALTH whenever it changes, and kept in the figures.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_worker_int.h"
#include "store/store_file.h"

#include "gateway/base/gw_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ledger_storage_state_name(ledger_storage_state_t st)
{
    static const char *const names[] = {"ok",       "full", "read-only",
                                        "io-error", "busy", "unavailable"};

    return (unsigned)st < GW_ARRAY_SIZE(names) ? names[st] : "unknown";
}

ledger_storage_state_t ledger__state_of(int rc)
{
    switch (rc) {
    case 0:
        return LEDGER_STORAGE_OK;
    case -ENOSPC:
        return LEDGER_STORAGE_FULL;
    case -EROFS:
        return LEDGER_STORAGE_READONLY;
    case GW_ETIMEDOUT:
        return LEDGER_STORAGE_BUSY;
    default:
        return LEDGER_STORAGE_IOERR;
    }
}

void ledger__set_state(ledger_worker_t *w, ledger_storage_state_t st, const char *detail,
                       const char *moved_to)
{
    ledger_ev_health_t *ev;

    pthread_mutex_lock(&w->mu);
    w->fig.state = st;
    snprintf(w->fig.detail, sizeof(w->fig.detail), "%s", detail ? detail : "");
    pthread_mutex_unlock(&w->mu);
    if (st == w->state && !(moved_to && *moved_to))
        return;
    w->state = st;
    ev = calloc(1, sizeof(*ev));
    if (!ev)
        return;
    ev->hdr.kind = LEDGER_EV_HEALTH;
    ev->state = st;
    snprintf(ev->detail, sizeof(ev->detail), "%s", detail ? detail : "");
    snprintf(ev->moved_to, sizeof(ev->moved_to), "%s", moved_to ? moved_to : "");
    ledger__post(w, &ev->hdr);
}

/* Move the damaged file aside; 0 or GW_EIO (logged). */
static int ledger__quarantine(ledger_worker_t *w, const char *why, char *moved, size_t len)
{
    char err[512];

    if (store_file_quarantine(w->path, moved, len, err, sizeof(err)) != 0) {
        gw_log_error("ledger", "%s: %s", why, err);
        return GW_EIO;
    }
    gw_log_error("ledger", "%s: moved aside to %s; a fresh ledger starts", why, moved);
    pthread_mutex_lock(&w->mu);
    w->fig.quarantined++;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* A fresh file's outbox ids start above seq_floor (see the top). */
static void ledger__seq_floor(ledger_worker_t *w)
{
    char sql[160];

    if (w->seq_floor <= 0)
        return;
    snprintf(sql, sizeof(sql),
             "INSERT INTO sqlite_sequence(name, seq) SELECT 'outbox', %lld WHERE NOT EXISTS"
             " (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox')",
             (long long)w->seq_floor);
    if (sqlite3_exec(ledger__db(w->lg), sql, NULL, NULL, NULL) != SQLITE_OK)
        gw_log_warn("ledger", "cannot set the outbox sequence of the fresh file: %s",
                    sqlite3_errmsg(ledger__db(w->lg)));
}

/* Open; a file SQLite cannot read as a ledger at all (not a database, a
 * damaged schema) is moved aside and a fresh one created. No check here:
 * it runs in the background (ledger_worker_check.c). */
static int ledger__open_once(ledger_worker_t *w, char *moved, size_t len, char *err, size_t errlen)
{
    char why[600];
    int rc;

    w->move_left = -1;   /* counted by the first move batch */
    w->stats_posted = 0; /* another file: counted again */
    rc = ledger_open(&w->lg, w->path, LEDGER_OPEN_CREATE, err, errlen);
    if (rc == GW_ECORRUPT && !moved[0]) {
        snprintf(why, sizeof(why), "%s", err);
        if (ledger__quarantine(w, why, moved, len) == 0)
            rc = ledger_open(&w->lg, w->path, LEDGER_OPEN_CREATE, err, errlen);
    }
    return rc;
}

/* The marker says "open" from now on, until a clean stop. */
static void ledger__mark_open(ledger_worker_t *w)
{
    char err[512];

    if (w->marked)
        return;
    if (store_marker_set(w->path, err, sizeof(err)) == 0)
        w->marked = 1;
    else
        gw_log_warn("ledger", "%s: an unclean stop will not be noticed at the next start", err);
}

/* Open, after the file was moved aside as moved ("" when not). */
static int ledger__file_open_moved(ledger_worker_t *w, const char *moved_in, char *err,
                                   size_t errlen)
{
    char moved[512], detail[300];
    int64_t max_id = 0;
    int rc;

    snprintf(moved, sizeof(moved), "%s", moved_in);
    rc = ledger__open_once(w, moved, sizeof(moved), err, errlen);
    if (rc < 0) {
        w->lg = NULL;
        ledger__set_state(w, LEDGER_STORAGE_UNAVAILABLE, err, moved);
        return rc;
    }
    store_file_private(w->path, NULL, 0);
    ledger__mark_open(w);
    if (moved[0]) {
        w->check_due = 0; /* a fresh file */
        ledger__seq_floor(w);
    }
    if (w->has_policy)
        ledger_set_policy(w->lg, &w->policy);
    if (ledger__outbox_max_id(w->lg, &max_id, NULL, 0) == 0 && max_id > w->last_outbox_id &&
        !moved[0])
        w->last_outbox_id = max_id;
    w->pages_applied = -1;
    if (w->load_after >= 0) { /* asked while the file was not open */
        ledger__post_outbox(w, w->load_after, w->last_outbox_id);
        w->load_after = -1;
    }
    if (moved[0]) {
        snprintf(detail, sizeof(detail), "ledger %s was damaged", w->path);
        ledger__set_state(w, LEDGER_STORAGE_OK, detail, moved);
    }
    return 0;
}

int ledger__file_open(ledger_worker_t *w, char *err, size_t errlen)
{
    return ledger__file_open_moved(w, "", err, errlen);
}

int ledger__file_recover(ledger_worker_t *w, const char *why, char *err, size_t errlen)
{
    char moved[512] = "";

    if (w->lg) {
        ledger_close(w->lg);
        w->lg = NULL;
    }
    /* outbox ids already posted stay unique in a fresh file */
    w->seq_floor = w->last_outbox_id;
    if (ledger__quarantine(w, why, moved, sizeof(moved)) < 0)
        return ledger__file_open(w, err, errlen); /* the same file: better than none */
    return ledger__file_open_moved(w, moved, err, errlen);
}

void ledger__file_test_pages(ledger_worker_t *w)
{
    char buf[32] = "", sql[64];
    long long pages;
    FILE *f;

    if (!w->pages_file[0] || !w->lg)
        return;
    f = fopen(w->pages_file, "r");
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = '\0';
        fclose(f);
    }
    pages = strtoll(buf, NULL, 10);
    if (pages <= 0)
        pages = 2147483646; /* no limit of ours: SQLite's own */
    if (pages == w->pages_applied)
        return;
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", pages);
    if (sqlite3_exec(ledger__db(w->lg), sql, NULL, NULL, NULL) == SQLITE_OK)
        w->pages_applied = pages;
    gw_log_info("ledger", "test: %s", sql);
}
