/*
 * store_file.c: checking, quarantining and protecting the gateway's state
 * files (store_file.h). A damaged file is renamed, never deleted: the
 * operator and the vendor need it to learn what happened.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/store_file.h"
#include "gateway/base/gw_types.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const file__companions[] = {"", "-wal", "-shm", "-journal"};

/* SQLite virtual machine steps between two calls of a check's progress
 * callback: some thousands of calls a second of checking. */
#define FILE__PROGRESS_OPS 10000
#define FILE__BUSY_MS      5000 /* a check waits this long for a lock */

int store_db_check(const char *path, char *err, size_t errlen)
{
    return store_db_check_ex(path, 0, NULL, err, errlen);
}

int store_db_check_ex(const char *path, int full, const store_check_hooks_t *hooks, char *err,
                      size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    struct stat sb;
    int rc, out = 0;

    if (stat(path, &sb) != 0 || sb.st_size == 0)
        return errno == ENOENT || sb.st_size == 0 ? GW_ENOENT : GW_EIO;
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) /* a writer's WAL recovery or checkpoint: wait for it */
        sqlite3_busy_timeout(db, FILE__BUSY_MS);
    if (rc == SQLITE_OK && hooks && hooks->progress)
        sqlite3_progress_handler(db, FILE__PROGRESS_OPS, hooks->progress, hooks->arg);
    if (rc == SQLITE_OK && hooks && hooks->connection)
        hooks->connection(hooks->arg, db);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, full ? "PRAGMA integrity_check" : "PRAGMA quick_check", -1, &st,
                                NULL);
    if (rc == SQLITE_OK && hooks && hooks->progress && hooks->progress(hooks->arg))
        rc = SQLITE_INTERRUPT; /* stopped before it began */
    else if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_INTERRUPT) {
        snprintf(err, errlen, "%s: %s interrupted", path, full ? "integrity_check" : "quick_check");
        out = GW_ESTATE;
    } else if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (!r || strcmp(r, "ok") != 0) {
            snprintf(err, errlen, "%s: %s: %s", path, full ? "integrity_check" : "quick_check",
                     r ? r : "(no answer)");
            out = GW_ECORRUPT;
        }
    } else if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errstr(rc));
        out = GW_ECORRUPT;
    } else if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        out = (rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN ? GW_EIO
              : (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED  ? GW_ETIMEDOUT
              : (rc & 0xff) == SQLITE_NOMEM                                 ? GW_ENOMEM
                                                                            : GW_ECORRUPT;
    }
    sqlite3_finalize(st);
    if (db && hooks && hooks->connection)
        hooks->connection(hooks->arg, NULL);
    sqlite3_close(db);
    return out;
}

int store_file_quarantine(const char *path, char *moved_to, size_t len, char *err, size_t errlen)
{
    char stamp[32], to[4096], from[4096];
    time_t now = time(NULL);
    struct tm tm;
    struct stat sb;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(to, sizeof(to), "%s.corrupt-%s", path, stamp);
    for (int i = 2; lstat(to, &sb) == 0 && i < 100; i++)
        snprintf(to, sizeof(to), "%s.corrupt-%s-%d", path, stamp, i);
    for (size_t i = 0; i < sizeof(file__companions) / sizeof(file__companions[0]); i++) {
        char dst[4200];
        snprintf(from, sizeof(from), "%s%s", path, file__companions[i]);
        snprintf(dst, sizeof(dst), "%s%s", to, file__companions[i]);
        if (lstat(from, &sb) != 0)
            continue;
        if (rename(from, dst) != 0) {
            snprintf(err, errlen, "cannot move %s aside to %s: %s", from, dst, strerror(errno));
            return GW_EIO;
        }
    }
    if (moved_to)
        snprintf(moved_to, len, "%s", to);
    return 0;
}

int store_db_errno(sqlite3 *db)
{
    sqlite3_file *jf = NULL;
    int e = 0, je = 0;

    if (!db)
        return 0;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &e) != SQLITE_OK)
        e = 0;
    if (e == ENOSPC || e == EROFS)
        return e;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &jf) == SQLITE_OK && jf &&
        jf->pMethods && jf->pMethods->xFileControl &&
        jf->pMethods->xFileControl(jf, SQLITE_FCNTL_LAST_ERRNO, &je) == SQLITE_OK && je)
        return je;
    return e ? e : sqlite3_system_errno(db);
}

int store_file_private(const char *path, char *err, size_t errlen)
{
    char p[4200];

    for (size_t i = 0; i < sizeof(file__companions) / sizeof(file__companions[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", path, file__companions[i]);
        if (chmod(p, 0600) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "chmod 0600 %s: %s", p, strerror(errno));
            return GW_EIO;
        }
    }
    return 0;
}

/* path + ".open" into buf. */
static void file__marker_name(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s.open", path);
}

int store_marker_present(const char *path)
{
    char m[4200];
    struct stat sb;

    file__marker_name(path, m, sizeof(m));
    return lstat(m, &sb) == 0;
}

int store_marker_set(const char *path, char *err, size_t errlen)
{
    char m[4200], dir[4200], line[64];
    char *slash;
    int fd, n, rc = 0;

    file__marker_name(path, m, sizeof(m));
    fd = open(m, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", m, strerror(errno));
        return GW_EIO;
    }
    n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", m, strerror(errno));
        rc = GW_EIO;
    }
    close(fd);
    /* the name itself must outlive a power loss: the directory too */
    snprintf(dir, sizeof(dir), "%s", m);
    slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return rc;
}

void store_marker_clear(const char *path)
{
    char m[4200];

    file__marker_name(path, m, sizeof(m));
    unlink(m);
}
