/*
 * ledger_admin.c: ledger counts and online backup (store/ledger_admin.h).
 *
 * ledger_stats runs on whichever thread owns the connection (the daemon's
 * ledger thread, through LEDGER_OP_STATS). ledger_backup reads through the
 * caller's connection (plantroomctl opens it read-only): in WAL mode a
 * reader never blocks the daemon's writer, and the backup API restarts a step when the writer
 * changed a page it had already copied, so the copy is one consistent
 * snapshot.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_admin.h"
#include "store/ledger_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEDGER__BACKUP_STEP  64  /* pages per step: short read locks */
#define LEDGER__BACKUP_TRIES 500 /* busy steps before giving up (~5 s) */

const char *const ledger_status_names[LEDGER_NSTATUS] = {
    "open", "acknowledged", "in_progress", "resolved", "closed", "cancelled",
};

static int ledger__count(sqlite3 *db, const char *sql, ledger_stats_t *out, char *err,
                         size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    while (src == SQLITE_OK || src == SQLITE_ROW) {
        src = sqlite3_step(st);
        if (src != SQLITE_ROW)
            break;
        const char *status = (const char *)sqlite3_column_text(st, 0);
        int64_t n = sqlite3_column_int64(st, 1);
        if (!status) {
            out->outbox_rows = n;
            continue;
        }
        for (int i = 0; i < LEDGER_NSTATUS; i++) {
            if (strcmp(status, ledger_status_names[i]) == 0)
                out->by_status[i] = n;
        }
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return ledger__fail(GW_EDB, err, errlen, "ledger stats: %s", sqlite3_errmsg(db));
    return 0;
}

int ledger_stats(ledger_t *lg, ledger_stats_t *out, char *err, size_t errlen)
{
    sqlite3 *db = ledger__db(lg);
    int rc;

    memset(out, 0, sizeof(*out));
    rc = ledger__count(db, "SELECT status, COUNT(*) FROM work_orders GROUP BY status", out, err,
                       errlen);
    if (rc < 0)
        return rc;
    return ledger__count(db, "SELECT NULL, COUNT(*) FROM outbox", out, err, errlen);
}

/* ---- backup ------------------------------------------------------------- */

/* Copy every page of src into dst in short steps. */
static int ledger__backup_copy(sqlite3 *src, sqlite3 *dst, int *pages, char *err, size_t errlen)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    int busy = 0, s;

    if (!b)
        return ledger__fail(GW_EDB, err, errlen, "backup: %s", sqlite3_errmsg(dst));
    do {
        s = sqlite3_backup_step(b, LEDGER__BACKUP_STEP);
        if (s == SQLITE_BUSY || s == SQLITE_LOCKED) {
            if (++busy > LEDGER__BACKUP_TRIES)
                break;
            sqlite3_sleep(10);
        }
    } while (s == SQLITE_OK || s == SQLITE_BUSY || s == SQLITE_LOCKED);
    if (pages)
        *pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    if (s != SQLITE_DONE)
        return ledger__fail(s == SQLITE_BUSY || s == SQLITE_LOCKED ? GW_ETIMEDOUT : GW_EIO, err,
                            errlen, "backup: %s", sqlite3_errstr(s));
    return 0;
}

/* PRAGMA quick_check on the copy: "ok" or the first problem. */
static int ledger__backup_check(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
        return ledger__fail(GW_EDB, err, errlen, "backup check: %s", sqlite3_errmsg(db));
    if (sqlite3_step(st) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
        rc = ledger__fail(GW_EDB, err, errlen, "backup check failed: %s",
                          sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
                                                     : sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static int ledger__fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

int ledger_backup(ledger_t *lg, const char *dest, int *pages, char *err, size_t errlen)
{
    sqlite3 *src = ledger__db(lg), *dst = NULL;
    char tmp[4096];
    int fd, rc;

    if (access(dest, F_OK) == 0)
        return ledger__fail(GW_EEXIST, err, errlen, "%s already exists: not overwritten", dest);
    snprintf(tmp, sizeof(tmp), "%s.new", dest);
    unlink(tmp); /* a stale one from an interrupted backup */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return ledger__fail(-errno, err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    close(fd);
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        rc = ledger__fail(GW_EIO, err, errlen, "cannot open %s: %s", tmp,
                          dst ? sqlite3_errmsg(dst) : "out of memory");
        goto out_close;
    }
    rc = ledger__backup_copy(src, dst, pages, err, errlen);
    if (rc == 0)
        rc = ledger__backup_check(dst, err, errlen);
    /* One self-contained file: fold the copy's WAL back in. */
    if (rc == 0 && sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK)
        rc = ledger__fail(GW_EIO, err, errlen, "backup: %s", sqlite3_errmsg(dst));
out_close:
    sqlite3_close_v2(dst);
    if (rc == 0 && (rc = ledger__fsync_path(tmp)) < 0)
        ledger__fail(rc, err, errlen, "cannot sync %s: %s", tmp, strerror(-rc));
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = ledger__fail(-errno, err, errlen, "cannot rename %s to %s: %s", tmp, dest,
                          strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}
