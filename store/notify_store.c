/*
 * notify_store.c: the notifier's SQLite file (notify_store.h): open and
 * migrate, row images written by the store thread, the start's load, the
 * retention purge, and what kind of failure a write met.
 *
 * The file is created mode 0600 before SQLite opens it (it holds message
 * texts and names of recipients); SQLite gives its -wal and -shm files the
 * same mode, and store_file_private sets all three again after open.
 * Schema version 1 (PRAGMA user_version) added alerts.updated_ms and an
 * index on seen.at; a version-0 file gets them at open.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/notify_store_int.h"
#include "store/store_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const char *const ns__sql[NS__N] = {
    [NS_SEEN] = "INSERT OR IGNORE INTO seen (event_id, at) VALUES (?1, ?2)",
    [NS_ALERT] = "INSERT OR REPLACE INTO alerts (wo_id, number, priority, category, device, rule,"
                 " title, status, cleared, opened_ms, updated_ms)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [NS_BATCH_PUT] = "INSERT OR REPLACE INTO batch (id, grp, wo_id, kind, created_ms)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)",
    [NS_BATCH_DEL] = "DELETE FROM batch WHERE id = ?1",
    [NS_AG] = "INSERT OR REPLACE INTO alert_groups (wo_id, grp, first_sent_ms, last_sent_ms,"
              " escalated) VALUES (?1, ?2, ?3, ?4, ?5)",
    [NS_MSG] = "INSERT OR REPLACE INTO notifications (id, grp, recipient, message, alert_json,"
               " state, attempts, next_ms, created_ms, sent_ms, last_error)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
};

static const char ns__schema[] =
    "CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alerts (wo_id TEXT PRIMARY KEY, number INTEGER, priority TEXT,"
    " category TEXT, device TEXT, rule TEXT, title TEXT, status TEXT, cleared INTEGER,"
    " opened_ms INTEGER, updated_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS batch (id INTEGER PRIMARY KEY, grp TEXT NOT NULL,"
    " wo_id TEXT NOT NULL, kind TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " UNIQUE (grp, wo_id, kind));"
    "CREATE TABLE IF NOT EXISTS alert_groups (wo_id TEXT NOT NULL, grp TEXT NOT NULL,"
    " first_sent_ms INTEGER NOT NULL, last_sent_ms INTEGER NOT NULL,"
    " escalated INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (wo_id, grp));"
    "CREATE TABLE IF NOT EXISTS notifications (id INTEGER PRIMARY KEY, grp TEXT NOT NULL,"
    " recipient TEXT NOT NULL, message TEXT NOT NULL, alert_json TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"
    " next_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, sent_ms INTEGER,"
    " last_error TEXT);"
    "CREATE INDEX IF NOT EXISTS notifications_due ON notifications (state, next_ms);";

static const char *const ns__fault_names[] = {"ok",        "locked",  "full",       "read-only",
                                              "I/O error", "corrupt", "unavailable"};

const char *notify_fault_name(notify_fault_t f)
{
    return (unsigned)f < GW_ARRAY_SIZE(ns__fault_names) ? ns__fault_names[f] : "?";
}

/* Can a file next to path be written? The errno when not (EROFS, ENOSPC,
 * EACCES...), else 0. SQLite does not keep the errno of a failed commit,
 * so an I/O error is asked again this way. */
static int ns__probe(const char *path)
{
    char probe[4200];
    int fd, e = 0;

    snprintf(probe, sizeof(probe), "%s-probe", path);
    fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    if (write(fd, "x", 1) != 1 || fsync(fd) != 0)
        e = errno ? errno : EIO;
    close(fd);
    unlink(probe);
    return e;
}

/* What a failure was: SQLite's code, the errno it saw (when it kept one),
 * and for an I/O error without one, the filesystem of path (read-only, or
 * no space left) and a probe write next to the file. */
static notify_fault_t ns__classify(int rc, int sys, const char *path)
{
    int p = rc & 0xff;
    struct statvfs vfs;
    char dir[4096];

    if (p == SQLITE_CORRUPT || p == SQLITE_NOTADB)
        return NOTIFY_FAULT_CORRUPT;
    if (p == SQLITE_BUSY || p == SQLITE_LOCKED)
        return NOTIFY_FAULT_LOCKED;
    if (p == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT)
        return NOTIFY_FAULT_FULL;
    if (p == SQLITE_READONLY || sys == EROFS || sys == EACCES || sys == EPERM)
        return NOTIFY_FAULT_READONLY;
    if (p != SQLITE_IOERR || !path)
        return NOTIFY_FAULT_IO;
    snprintf(dir, sizeof(dir), "%s", path);
    if (statvfs(dirname(dir), &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
        return NOTIFY_FAULT_READONLY;
    if (sys == 0)
        sys = ns__probe(path);
    if (sys == ENOSPC || sys == EDQUOT)
        return NOTIFY_FAULT_FULL;
    if (sys == EROFS || sys == EACCES || sys == EPERM)
        return NOTIFY_FAULT_READONLY;
    return NOTIFY_FAULT_IO;
}

int notify_store__fail(notify_store_t *s, int rc)
{
    s->last_rc = s->db ? sqlite3_extended_errcode(s->db) : rc;
    if (s->last_rc == SQLITE_OK)
        s->last_rc = rc;
    s->last_sys = s->db ? sqlite3_system_errno(s->db) : 0;
    snprintf(s->last_msg, sizeof(s->last_msg), "%s",
             s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    s->last_fault = ns__classify(s->last_rc, s->last_sys, s->path);
    return (rc & 0xff) == SQLITE_NOMEM ? GW_ENOMEM : GW_EDB;
}

notify_fault_t notify_store_fault(notify_store_t *s)
{
    return s->last_fault;
}

const char *notify_store_errmsg(notify_store_t *s)
{
    return !s ? "not open" : s->last_msg[0] ? s->last_msg : "no error";
}

/* ---- rows ---------------------------------------------------------------- */

int notify_msg_copy(notify_msg_t *dst, const notify_msg_t *src)
{
    *dst = *src;
    dst->message = strdup(src->message ? src->message : "");
    dst->alert_json = src->alert_json ? strdup(src->alert_json) : NULL;
    if (!dst->message || (src->alert_json && !dst->alert_json)) {
        notify_msg_clear(dst);
        return GW_ENOMEM;
    }
    return 0;
}

void notify_msg_clear(notify_msg_t *m)
{
    free(m->message);
    free(m->alert_json);
    m->message = m->alert_json = NULL;
}

void notify_image_free(notify_image_t *img)
{
    for (size_t i = 0; i < img->nmsgs; i++)
        notify_msg_clear(&img->msgs[i]);
    free(img->seen);
    free(img->alerts);
    free(img->batch);
    free(img->ag);
    free(img->msgs);
    memset(img, 0, sizeof(*img));
}

/* ---- open ---------------------------------------------------------------- */

static int ns__migrate(notify_store_t *s)
{
    sqlite3_stmt *st = NULL;
    int has_updated;

    if (sqlite3_exec(s->db, ns__schema, NULL, NULL, NULL) != SQLITE_OK)
        return notify_store__fail(s, SQLITE_ERROR);
    /* version 0 had no alerts.updated_ms */
    has_updated = sqlite3_prepare_v2(s->db, "SELECT updated_ms FROM alerts LIMIT 0", -1, &st,
                                     NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    if (!has_updated && sqlite3_exec(s->db,
                                     "ALTER TABLE alerts ADD COLUMN updated_ms INTEGER NOT NULL"
                                     " DEFAULT 0",
                                     NULL, NULL, NULL) != SQLITE_OK)
        return notify_store__fail(s, SQLITE_ERROR);
    if (sqlite3_exec(s->db,
                     "CREATE INDEX IF NOT EXISTS seen_at ON seen (at);"
                     " PRAGMA user_version = 1;",
                     NULL, NULL, NULL) != SQLITE_OK)
        return notify_store__fail(s, SQLITE_ERROR);
    return 0;
}

int notify_store_open(notify_store_t **out, const char *path, notify_fault_t *fault, char *err,
                      size_t errlen)
{
    notify_store_t *s = calloc(1, sizeof(*s));
    int fd, rc;

    *out = NULL;
    if (fault)
        *fault = NOTIFY_FAULT_UNAVAILABLE;
    if (!s) {
        snprintf(err, errlen, "notify store: out of memory");
        return GW_ENOMEM;
    }
    snprintf(s->path, sizeof(s->path), "%s", path);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        if (fault)
            *fault = ns__classify(SQLITE_IOERR, e, path);
        free(s);
        return GW_EIO;
    }
    close(fd);
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        notify_store__fail(s, rc);
        goto out_db;
    }
    sqlite3_extended_result_codes(s->db, 1);
    /* Short: the store thread waits this long at most when another process
     * (sqlite3 by hand) holds the lock, then tries the batch again later. */
    sqlite3_busy_timeout(s->db, 250);
    /* The WAL is checkpointed every 256 pages and cut back to 1 MiB: the
     * file stays near the size of its rows on a small card. */
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     " PRAGMA wal_autocheckpoint=256; PRAGMA journal_size_limit=1048576;"
                     " PRAGMA cache_size=-256;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        notify_store__fail(s, SQLITE_ERROR);
        goto out_db;
    }
    if (ns__migrate(s) < 0)
        goto out_db;
    if (store_file_private(path, err, errlen) < 0) {
        sqlite3_close(s->db);
        free(s);
        return GW_EIO;
    }
    *out = s;
    if (fault)
        *fault = NOTIFY_FAULT_NONE;
    return 0;

out_db:
    snprintf(err, errlen, "%s: %s", path, notify_store_errmsg(s));
    if (fault)
        *fault = notify_store_fault(s);
    sqlite3_close(s->db);
    free(s);
    return GW_EDB;
}

void notify_store_close(notify_store_t *s)
{
    if (!s)
        return;
    for (int i = 0; i < NS__N; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}

int notify_store_begin(notify_store_t *s)
{
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : notify_store__fail(s, rc);
}

int notify_store_commit(notify_store_t *s)
{
    int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : notify_store__fail(s, rc);
}

void notify_store_rollback(notify_store_t *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- writes -------------------------------------------------------------- */

/* The cached statement k, reset, bound by a format: 's' text, 'i' int64,
 * 'n' null. NULL when it cannot be prepared. */
static sqlite3_stmt *ns__stmt(notify_store_t *s, int k, const char *fmt, ...)
{
    sqlite3_stmt *st = s->st[k];
    va_list ap;

    if (!st && sqlite3_prepare_v3(s->db, ns__sql[k], -1, SQLITE_PREPARE_PERSISTENT, &s->st[k],
                                  NULL) != SQLITE_OK)
        return NULL;
    st = s->st[k];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 's') {
            const char *v = va_arg(ap, const char *);
            if (v)
                sqlite3_bind_text(st, i + 1, v, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, i + 1);
        } else if (fmt[i] == 'i') {
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else {
            sqlite3_bind_null(st, i + 1);
        }
    }
    va_end(ap);
    return st;
}

/* Run a statement that returns no rows (cached: reset, not finalized). */
static int ns__run(notify_store_t *s, sqlite3_stmt *st)
{
    int rc;

    if (!st)
        return notify_store__fail(s, sqlite3_errcode(s->db));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : notify_store__fail(s, rc);
}

int notify_store_put_seen(notify_store_t *s, const notify_seen_row_t *r)
{
    return ns__run(s, ns__stmt(s, NS_SEEN, "si", r->event_id, r->at_ms));
}

int notify_store_put_alert(notify_store_t *s, const notify_alert_t *a)
{
    return ns__run(s, ns__stmt(s, NS_ALERT, "sissssssiii", a->wo_id, a->number, a->priority,
                               a->category, a->device, a->rule, a->title, a->status,
                               (int64_t)a->cleared, a->opened_ms, a->updated_ms));
}

int notify_store_put_batch(notify_store_t *s, const notify_batch_row_t *b)
{
    return ns__run(
        s, ns__stmt(s, NS_BATCH_PUT, "isssi", b->id, b->group, b->wo_id, b->kind, b->created_ms));
}

int notify_store_del_batch(notify_store_t *s, int64_t id)
{
    return ns__run(s, ns__stmt(s, NS_BATCH_DEL, "i", id));
}

int notify_store_put_ag(notify_store_t *s, const notify_ag_row_t *g)
{
    return ns__run(s, ns__stmt(s, NS_AG, "ssiii", g->wo_id, g->group, g->first_sent_ms,
                               g->last_sent_ms, (int64_t)g->escalated));
}

int notify_store_put_msg(notify_store_t *s, const notify_msg_t *m)
{
    sqlite3_stmt *st = ns__stmt(s, NS_MSG, "isssssiiiis", m->id, m->group, m->recipient,
                                m->message ? m->message : "", m->alert_json ? m->alert_json : "",
                                m->state, (int64_t)m->attempts, m->next_ms, m->created_ms,
                                m->sent_ms, m->last_error[0] ? m->last_error : NULL);

    if (st && !m->sent_ms)
        sqlite3_bind_null(st, 10);
    return ns__run(s, st);
}

static int ns__exec(notify_store_t *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : notify_store__fail(s, rc);
}

int notify_store_write_image(notify_store_t *s, const notify_image_t *img)
{
    int rc = ns__exec(s, "DELETE FROM batch; DELETE FROM alert_groups;");

    for (size_t i = 0; rc == 0 && i < img->nseen; i++)
        rc = notify_store_put_seen(s, &img->seen[i]);
    for (size_t i = 0; rc == 0 && i < img->nalerts; i++)
        rc = notify_store_put_alert(s, &img->alerts[i]);
    for (size_t i = 0; rc == 0 && i < img->nbatch; i++)
        rc = notify_store_put_batch(s, &img->batch[i]);
    for (size_t i = 0; rc == 0 && i < img->nag; i++)
        rc = notify_store_put_ag(s, &img->ag[i]);
    for (size_t i = 0; rc == 0 && i < img->nmsgs; i++)
        rc = notify_store_put_msg(s, &img->msgs[i]);
    return rc;
}

/* ---- retention and counts -------------------------------------------------- */

#define NS__FINISHED                                                                               \
    "(cleared = 1 OR status IN ('resolved', 'closed', 'cancelled'))"                               \
    " AND wo_id NOT IN (SELECT wo_id FROM batch)"

int notify_store_purge(notify_store_t *s, int64_t cutoff_ms, int64_t max_rows, int64_t *deleted)
{
    static const char *const sql[] = {
        "DELETE FROM seen WHERE at < ?1",
        "DELETE FROM seen WHERE event_id IN (SELECT event_id FROM seen ORDER BY at DESC"
        " LIMIT -1 OFFSET ?2)",
        "DELETE FROM alerts WHERE " NS__FINISHED " AND updated_ms < ?1",
        "DELETE FROM alerts WHERE wo_id IN (SELECT wo_id FROM alerts WHERE " NS__FINISHED
        " ORDER BY updated_ms DESC LIMIT -1 OFFSET ?2)",
        "DELETE FROM alert_groups WHERE wo_id NOT IN (SELECT wo_id FROM alerts)",
        "DELETE FROM notifications WHERE state != 'pending' AND created_ms < ?1",
        "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications"
        " WHERE state != 'pending' ORDER BY id DESC LIMIT -1 OFFSET ?2)",
    };
    int64_t n = 0;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < GW_ARRAY_SIZE(sql); i++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL);
        if (rc == SQLITE_OK) {
            if (sqlite3_bind_parameter_index(st, "?1"))
                sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "?1"), cutoff_ms);
            if (sqlite3_bind_parameter_index(st, "?2"))
                sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "?2"), max_rows);
            rc = sqlite3_step(st);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_OK)
            return notify_store__fail(s, rc);
        n += sqlite3_changes(s->db);
    }
    if (deleted)
        *deleted = n;
    return 0;
}

static int ns__count(notify_store_t *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : notify_store__fail(s, rc);
}

int notify_store_counts(notify_store_t *s, notify_counts_t *c)
{
    char wal[4200];
    struct stat sb;
    int rc;

    memset(c, 0, sizeof(*c));
    rc = ns__count(s, "SELECT count(*) FROM seen", &c->seen);
    if (rc == 0)
        rc = ns__count(s, "SELECT count(*) FROM alerts", &c->alerts);
    if (rc == 0)
        rc = ns__count(s, "SELECT count(*) FROM batch", &c->batch);
    if (rc == 0)
        rc = ns__count(s, "SELECT count(*) FROM alert_groups", &c->alert_groups);
    if (rc == 0)
        rc = ns__count(s, "SELECT count(*) FROM notifications", &c->notifications);
    if (rc == 0)
        rc =
            ns__count(s, "SELECT count(*) FROM notifications WHERE state = 'pending'", &c->pending);
    if (stat(s->path, &sb) == 0)
        c->file_bytes = sb.st_size;
    snprintf(wal, sizeof(wal), "%s-wal", s->path);
    if (stat(wal, &sb) == 0)
        c->file_bytes += sb.st_size;
    return rc;
}
