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

/* A read's rows and their strings in one block: the rows first, then the
 * strings, found by offset until the block stops growing (realloc moves
 * it). One block, not two strings a row, so that a replay's batch (up to
 * a few MB of telemetry) is one mmap'd block the loop frees whole, not
 * hundreds of chunks of this thread's malloc arena that stay resident
 * (docs/performance.md, "Anonymous memory with MQTT"). */
typedef struct spool__block {
    char *p;
    size_t len, cap;
} spool__block_t;

/* Append the column's text with its NUL; its offset in *off. */
static int spool__put_col(spool__block_t *b, sqlite3_stmt *st, int col, size_t *off)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;

    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap * 2 > b->len + n + 1 ? b->cap * 2 : b->len + n + 1;
        char *p = realloc(b->p, cap);
        if (!p)
            return GW_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, t, n);
    b->p[b->len + n] = '\0';
    *off = b->len;
    b->len += n + 1;
    return 0;
}

/* Fill the block's rows from the statement; the strings' offsets in the
 * rows' pointers (fixed by the caller). Returns SQLite's last code, or
 * GW_ENOMEM. */
static int spool__read_rows(sqlite3_stmt *st, spool__block_t *b, size_t max, size_t *n)
{
    int rc = SQLITE_DONE;

    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t topic, payload;
        spool_msg_t *r;

        if (spool__put_col(b, st, 2, &topic) != 0 || spool__put_col(b, st, 3, &payload) != 0)
            return GW_ENOMEM;
        r = (spool_msg_t *)b->p + *n;
        r->id = sqlite3_column_int64(st, 0);
        r->ts_ms = sqlite3_column_int64(st, 1);
        r->topic = (char *)(uintptr_t)topic;
        r->payload = (char *)(uintptr_t)payload;
        (*n)++;
    }
    return rc;
}

int spool_read(spool_t *s, int64_t after_id, size_t max, spool_msg_t **rows, size_t *n, char *err,
               size_t errlen)
{
    spool__block_t b = {0};
    size_t k = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (max > SIZE_MAX / sizeof(spool_msg_t) / 2)
        max = SIZE_MAX / sizeof(spool_msg_t) / 2;
    b.len = (max ? max : 1) * sizeof(spool_msg_t);
    b.cap = b.len + 4096;
    b.p = malloc(b.cap);
    if (!b.p) {
        snprintf(err, errlen, "spool: out of memory");
        return GW_ENOMEM;
    }
    sqlite3_bind_int64(s->sel, 1, after_id);
    sqlite3_bind_int64(s->sel, 2, (int64_t)max);
    rc = spool__read_rows(s->sel, &b, max, &k);
    if (rc == GW_ENOMEM) {
        snprintf(err, errlen, "spool: out of memory");
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = spool__fail(s, "read", err, errlen);
    } else {
        rc = 0;
    }
    sqlite3_reset(s->sel);
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    for (size_t i = 0; i < k; i++) { /* offsets to pointers, the block in place */
        spool_msg_t *r = (spool_msg_t *)b.p + i;
        r->topic = b.p + (uintptr_t)r->topic;
        r->payload = b.p + (uintptr_t)r->payload;
    }
    *rows = (spool_msg_t *)b.p;
    *n = k;
    return 0;
}

void spool_rows_free(spool_msg_t *rows, size_t n)
{
    (void)n;
    free(rows); /* the rows and their strings: one block */
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
