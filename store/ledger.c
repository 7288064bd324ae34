/*
 * ledger.c: the work-order ledger on one SQLite connection (store/ledger.h).
 *
 * The file is created mode 0600 before SQLite opens it; SQLite gives its
 * -wal and -shm files the mode of the database file (findCreateFileMode in
 * its unix VFS, umask-independent), so they are not world readable either.
 * The schema is a list of migrations, PRAGMA user_version counting how many
 * were applied. At most one active work order per fingerprint is a property
 * of the schema (a partial unique index), not only of this code.
 *
 * Every mutating function is one unit: on its own it runs in BEGIN IMMEDIATE
 * ... COMMIT, inside the caller's transaction (ledger_begin) it runs in a
 * SAVEPOINT, so that a failing operation undoes only its own writes and the
 * ledger thread can batch many operations into one commit.
 *
 * All SQL is static text in one table (ledger_db.c), prepared once per
 * connection, and every value is a bound parameter. Design:
 * docs/architecture.md ("Durability order").
 *
 * This file opens and closes the ledger. The rest, each file calling only
 * the ones below it:
 *   ledger_trigger.c  what rules do: trigger, touch, clear
 *   ledger_wo.c       what people do: status, assignment, notes, show
 *   ledger_rollup.c, ledger_report.c, ledger_admin.c  rollups and device
 *                     status, reports, counts and backup
 *   ledger_outbox.c   audit rows and outbox events of a change; the outbox
 *   ledger_rows.c     work orders read into structs
 *   ledger_ids.c      fingerprints, ULIDs, per-site numbers
 *   ledger_schema.c   the migrations, applied at open
 *   ledger_json.c     JSON of work orders and events
 *   ledger_db.c       statements, errors, transactions, accessors
 * The ledger thread (ledger_worker*.c) is above them all.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_db_int.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Create path mode 0600 unless it exists. *created tells whether we did. */
static int ledger__create_file(const char *path, int *created, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    *created = 0;
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        return ledger__fail(-errno, err, errlen, "cannot create ledger %s: %s", path,
                            strerror(errno));
    }
    *created = 1;
    /* The umask may have taken bits away, never added any; be explicit. */
    if (fchmod(fd, 0600) != 0) {
        int rc = -errno;
        close(fd);
        return ledger__fail(rc, err, errlen, "cannot set mode 0600 on ledger %s: %s", path,
                            strerror(-rc));
    }
    close(fd);
    return 0;
}

/* Per-connection settings. Pragmas take no bound parameters; all of these
 * are constants. */
static int ledger__configure(ledger_t *lg, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    const char *mode;
    int src;
    int rc = 0;

    sqlite3_busy_timeout(lg->db, 5000);
    if (lg->readonly) {
        src =
            sqlite3_exec(lg->db, "PRAGMA foreign_keys=ON; PRAGMA query_only=ON", NULL, NULL, NULL);
        return src == SQLITE_OK ? 0 : ledger__dberr(lg, src, err, errlen, "configure");
    }
    src = sqlite3_prepare_v2(lg->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = ledger__dberr(lg, src, err, errlen, "set WAL mode");
        goto out_finalize;
    }
    mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        rc = ledger__fail(GW_EDB, err, errlen, "ledger %s: cannot use WAL mode (got %s)", lg->path,
                          mode ? mode : "nothing");
        goto out_finalize;
    }
    /* A page cache of 256 KiB, not SQLite's 2,000 KiB: a minute's rollup
     * upserts touch a leaf per point all over the file, which no cache of
     * a few MB holds for long; the kernel's page cache serves those reads.
     * A minute's 20,000 upserts on an hour of history took the same CPU
     * with 256, 512 and 1,024 KiB, 15 % more with 128 (docs/performance.md,
     * "Anonymous memory at 200 devices"). */
    src = sqlite3_exec(lg->db,
                       "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                       " PRAGMA cache_size=-256",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK)
        rc = ledger__dberr(lg, src, err, errlen, "configure");
out_finalize:
    sqlite3_finalize(st);
    return rc;
}

int ledger_open(ledger_t **out, const char *path, int flags, char *err, size_t errlen)
{
    ledger_t *lg;
    int created = 0;
    int oflags;
    int src;
    int rc;

    if (out)
        *out = NULL;
    if (!out || !path || !*path)
        return ledger__fail(GW_EINVAL, err, errlen, "ledger_open: no path given");
    if ((flags & LEDGER_OPEN_CREATE) && (flags & LEDGER_OPEN_READONLY))
        return ledger__fail(GW_EINVAL, err, errlen, "ledger %s: CREATE and READONLY together",
                            path);
    lg = calloc(1, sizeof(*lg) + strlen(path) + 1);
    if (!lg)
        return ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", path);
    strcpy(lg->path, path);
    lg->readonly = (flags & LEDGER_OPEN_READONLY) != 0;
    ledger_policy_default(&lg->policy);

    if (flags & LEDGER_OPEN_CREATE) {
        rc = ledger__create_file(path, &created, err, errlen);
        if (rc < 0)
            goto out_free;
    } else if (access(path, lg->readonly ? R_OK : R_OK | W_OK) != 0) {
        rc = -errno;
        if (rc == GW_ENOENT)
            ledger__fail(rc, err, errlen, "ledger %s does not exist", path);
        else
            ledger__fail(rc, err, errlen, "cannot open ledger %s: %s", path, strerror(-rc));
        goto out_free;
    }

    oflags = (lg->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
    src = sqlite3_open_v2(path, &lg->db, oflags, NULL);
    if (src != SQLITE_OK) {
        rc = ledger__fail(ledger__code(src), err, errlen, "cannot open ledger %s: %s", path,
                          lg->db ? sqlite3_errmsg(lg->db) : sqlite3_errstr(src));
        goto out_close;
    }
    rc = ledger__configure(lg, err, errlen);
    if (rc < 0)
        goto out_close;
    rc = ledger__migrate(lg, err, errlen);
    if (rc == 0)
        rc = ledger__rollup_move_open(lg, err, errlen);
    if (rc < 0)
        goto out_close;
    *out = lg;
    return 0;

out_close:
    ledger__close_db(lg);
    if (created) /* leave no empty file behind when we could not set it up */
        unlink(path);
out_free:
    free(lg);
    return rc;
}

void ledger_close(ledger_t *lg)
{
    if (!lg)
        return;
    ledger_rollback(lg);
    ledger__close_db(lg);
    free(lg);
}
