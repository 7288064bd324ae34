/*
 * spool.c: the telemetry spool in its own SQLite file (spool.h).
 *
 * Schema: msgs(id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms, topic, payload)
 * and meta(key, value) with the "dropped" counter. AUTOINCREMENT so that ids
 * never go back, even after the table empties: replay order is id order.
 * The row count is cached (counted once at open) so that a bound check does
 * not scan the table. The file is created mode 0600 before SQLite opens it
 * (telemetry is site data; SQLite gives -wal and -shm the same mode).
 * Errors say what the storage did: -ENOSPC (full), -EROFS (read-only),
 * GW_ECORRUPT (damaged), GW_EIO, else GW_EDB.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/spool.h"
#include "gateway/base/gw_types.h"
#include "store/store_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct spool {
    sqlite3 *db;
    sqlite3_stmt *ins, *sel, *del;
    int64_t count;
    int64_t dropped;
};

/* A page cache of 128 KiB, not SQLite's 2,000 KiB: rows are appended at
 * the end and read back in id order, which a cache does not speed up, and
 * the cache that an outage's spooling filled stayed with the daemon for
 * good (2 MiB more anonymous memory after a slow first connect;
 * docs/performance.md, "Memory at 200 devices"). */
static const char spool__schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA cache_size=-128;"
    "CREATE TABLE IF NOT EXISTS msgs(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts_ms INTEGER NOT NULL, topic TEXT NOT NULL, payload TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('dropped', 0);";

/* The project's code for the connection's last error. */
static int spool__code(sqlite3 *db)
{
    int src = db ? sqlite3_errcode(db) & 0xff : SQLITE_CANTOPEN;
    int sys = db ? store_db_errno(db) : 0;

    if (src == SQLITE_FULL || sys == ENOSPC)
        return -ENOSPC;
    if (src == SQLITE_READONLY || sys == EROFS)
        return -EROFS;
    if (src == SQLITE_CORRUPT || src == SQLITE_NOTADB)
        return GW_ECORRUPT;
    if (src == SQLITE_IOERR || src == SQLITE_CANTOPEN)
        return GW_EIO;
    if (src == SQLITE_NOMEM)
        return GW_ENOMEM;
    return GW_EDB;
}

static int spool__fail(spool_t *s, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "spool: %s: %s", what, sqlite3_errmsg(s->db));
    return spool__code(s->db);
}

static int64_t spool__int(spool_t *s, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = 0;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int spool_open(spool_t **out, const char *path, char *err, size_t errlen)
{
    spool_t *s = calloc(1, sizeof(*s));

    int fd, rc;

    *out = NULL;
    if (!s) {
        snprintf(err, errlen, "spool: out of memory");
        return GW_ENOMEM;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "spool: open %s: %s", path, strerror(errno));
        free(s);
        return rc;
    }
    close(fd);
    store_file_private(path, NULL, 0); /* a file of an older version may be 0644 */
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "spool: open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out_close;
    }
    sqlite3_busy_timeout(s->db, 2000);
    if (sqlite3_exec(s->db, spool__schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "INSERT INTO msgs(ts_ms, topic, payload) VALUES(?, ?, ?)", -1,
                           &s->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "SELECT id, ts_ms, topic, payload FROM msgs WHERE id > ? "
                           "ORDER BY id LIMIT ?",
                           -1, &s->sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM msgs WHERE id <= ?", -1, &s->del, NULL) !=
            SQLITE_OK) {
        snprintf(err, errlen, "spool: %s: %s", path, sqlite3_errmsg(s->db));
        goto out_close;
    }
    s->count = spool__int(s, "SELECT count(*) FROM msgs");
    s->dropped = spool__int(s, "SELECT value FROM meta WHERE key = 'dropped'");
    store_file_private(path, NULL, 0);
    *out = s;
    return 0;

out_close:
    rc = spool__code(s->db);
    spool_close(s);
    return rc;
}

void spool_close(spool_t *s)
{
    if (!s)
        return;
    sqlite3_finalize(s->ins);
    sqlite3_finalize(s->sel);
    sqlite3_finalize(s->del);
    sqlite3_close(s->db);
    free(s);
}

/* Delete the oldest rows beyond max_rows; returns how many (or < 0). */
static int64_t spool__trim(spool_t *s, int64_t max_rows)
{
    char sql[160];
    int64_t n;

    if (max_rows < 0 || s->count <= max_rows)
        return 0;
    n = s->count - max_rows;
    snprintf(sql, sizeof(sql),
             "DELETE FROM msgs WHERE id IN (SELECT id FROM msgs ORDER BY id LIMIT %lld)",
             (long long)n);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    snprintf(sql, sizeof(sql), "UPDATE meta SET value = value + %lld WHERE key = 'dropped'",
             (long long)n);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    return n;
}

int spool_append(spool_t *s, const spool_msg_t *msgs, size_t n, int64_t max_rows, int64_t *dropped,
                 char *err, size_t errlen)
{
    int64_t trimmed = 0;

    if (dropped)
        *dropped = 0;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return spool__fail(s, "begin", err, errlen);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(s->ins, 1, msgs[i].ts_ms);
        sqlite3_bind_text(s->ins, 2, msgs[i].topic, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->ins, 3, msgs[i].payload, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s->ins);
        sqlite3_reset(s->ins);
        if (rc != SQLITE_DONE)
            goto out_rollback;
    }
    s->count += (int64_t)n;
    trimmed = spool__trim(s, max_rows);
    if (trimmed < 0)
        goto out_rollback;
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto out_rollback;
    s->count -= trimmed;
    s->dropped += trimmed;
    if (dropped)
        *dropped = trimmed;
    return 0;

out_rollback : {
    int rc = spool__fail(s, "append", err, errlen);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->count = spool__int(s, "SELECT count(*) FROM msgs");
    return rc;
}
}

static char *spool__col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

int spool_read(spool_t *s, int64_t after_id, size_t max, spool_msg_t **rows, size_t *n, char *err,
               size_t errlen)
{
    spool_msg_t *out = calloc(max ? max : 1, sizeof(*out));
    size_t k = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (!out) {
        snprintf(err, errlen, "spool: out of memory");
        return GW_ENOMEM;
    }
    sqlite3_bind_int64(s->sel, 1, after_id);
    sqlite3_bind_int64(s->sel, 2, (int64_t)max);
    rc = SQLITE_DONE;
    while (k < max && (rc = sqlite3_step(s->sel)) == SQLITE_ROW) {
        out[k].id = sqlite3_column_int64(s->sel, 0);
        out[k].ts_ms = sqlite3_column_int64(s->sel, 1);
        out[k].topic = spool__col(s->sel, 2);
        out[k].payload = spool__col(s->sel, 3);
        k++;
        if (!out[k - 1].topic || !out[k - 1].payload) {
            sqlite3_reset(s->sel);
            spool_rows_free(out, k);
            snprintf(err, errlen, "spool: out of memory");
            return GW_ENOMEM;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        int code = spool__fail(s, "read", err, errlen);
        sqlite3_reset(s->sel);
        spool_rows_free(out, k);
        return code;
    }
    sqlite3_reset(s->sel);
    *rows = out;
    *n = k;
    return 0;
}

void spool_rows_free(spool_msg_t *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].topic);
        free(rows[i].payload);
    }
    free(rows);
}

int spool_delete_upto(spool_t *s, int64_t id, char *err, size_t errlen)
{
    int rc;

    sqlite3_bind_int64(s->del, 1, id);
    rc = sqlite3_step(s->del);
    sqlite3_reset(s->del);
    if (rc != SQLITE_DONE)
        return spool__fail(s, "delete", err, errlen);
    s->count -= sqlite3_changes(s->db);
    return 0;
}

int64_t spool_count(spool_t *s)
{
    return s->count;
}

int64_t spool_dropped(spool_t *s)
{
    return s->dropped;
}
