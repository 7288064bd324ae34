/*
 * notify_store.c: the notifier's SQLite file (notify_store.h).
 *
 * The file is created mode 0600 before SQLite opens it (it holds message
 * texts and names of recipients; SQLite's -wal and -shm files copy the
 * mode). Schema: CREATE TABLE IF NOT EXISTS at every open; this module owns
 * the file, so there is nothing to migrate yet (a future change adds a
 * user_version step here).
 */
#include "store/notify_store.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct notify_store {
    sqlite3 *db;
};

static const char ns__schema[] =
    "CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alerts (wo_id TEXT PRIMARY KEY, number INTEGER, priority TEXT,"
    " category TEXT, device TEXT, rule TEXT, title TEXT, status TEXT, cleared INTEGER, opened_ms "
    "INTEGER);"
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

static int ns__err(notify_store_t *s, char *err, size_t errlen, const char *what)
{
    if (err)
        snprintf(err, errlen, "%s: %s", what, s && s->db ? sqlite3_errmsg(s->db) : "?");
    return GW_EDB;
}

int notify_store_open(notify_store_t **out, const char *path, char *err, size_t errlen)
{
    notify_store_t *s = calloc(1, sizeof(*s));
    int fd;

    *out = NULL;
    if (!s) {
        snprintf(err, errlen, "notify store: out of memory");
        return GW_ENOMEM;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(s);
        return GW_EIO;
    }
    close(fd);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        goto out_db;
    /* Short: the loop thread waits this long at most when another process
     * (sqlite3 by hand) holds the lock; the notifier tries again next tick. */
    sqlite3_busy_timeout(s->db, 250);
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, ns__schema, NULL, NULL, NULL) != SQLITE_OK)
        goto out_db;
    *out = s;
    return 0;

out_db:
    ns__err(s, err, errlen, path);
    sqlite3_close(s->db);
    free(s);
    return GW_EDB;
}

void notify_store_close(notify_store_t *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    free(s);
}

const char *notify_store_errmsg(notify_store_t *s)
{
    return sqlite3_errmsg(s->db);
}

int notify_store_begin(notify_store_t *s)
{
    return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : GW_EDB;
}

int notify_store_commit(notify_store_t *s)
{
    return sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : GW_EDB;
}

void notify_store_rollback(notify_store_t *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Prepare sql and bind args by a format: 's' text, 'i' int64, 'n' null. */
static sqlite3_stmt *ns__prep(notify_store_t *s, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    va_list ap;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 's') {
            const char *v = va_arg(ap, const char *);
            sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT);
        } else if (fmt[i] == 'i') {
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else {
            sqlite3_bind_null(st, i + 1);
        }
    }
    va_end(ap);
    return st;
}

/* Run a statement that returns no rows. */
static int ns__run(sqlite3_stmt *st)
{
    int rc;

    if (!st)
        return GW_EDB;
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : GW_EDB;
}

static void ns__col(sqlite3_stmt *st, int i, char *dst, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

int notify_seen(notify_store_t *s, const char *event_id, int64_t now_ms)
{
    int rc = ns__run(ns__prep(s, "INSERT OR IGNORE INTO seen (event_id, at) VALUES (?1, ?2)", "si",
                              event_id, now_ms));
    if (rc < 0)
        return rc;
    return sqlite3_changes(s->db) > 0;
}

int notify_alert_put(notify_store_t *s, const notify_alert_t *a)
{
    return ns__run(ns__prep(s,
                            "INSERT OR REPLACE INTO alerts (wo_id, number, priority, category,"
                            " device, rule, title, status, cleared, opened_ms)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                            "sissssssii", a->wo_id, a->number, a->priority, a->category, a->device,
                            a->rule, a->title, a->status, (int64_t)a->cleared, a->opened_ms));
}

#define NS__ALERT_COLS                                                                             \
    "wo_id, number, priority, category, device, rule, title, status, cleared, opened_ms"

static void ns__alert_row(sqlite3_stmt *st, notify_alert_t *a)
{
    ns__col(st, 0, a->wo_id, sizeof(a->wo_id));
    a->number = sqlite3_column_int64(st, 1);
    ns__col(st, 2, a->priority, sizeof(a->priority));
    ns__col(st, 3, a->category, sizeof(a->category));
    ns__col(st, 4, a->device, sizeof(a->device));
    ns__col(st, 5, a->rule, sizeof(a->rule));
    ns__col(st, 6, a->title, sizeof(a->title));
    ns__col(st, 7, a->status, sizeof(a->status));
    a->cleared = sqlite3_column_int(st, 8);
    a->opened_ms = sqlite3_column_int64(st, 9);
}

int notify_alert_get(notify_store_t *s, const char *wo_id, notify_alert_t *a)
{
    sqlite3_stmt *st =
        ns__prep(s, "SELECT " NS__ALERT_COLS " FROM alerts WHERE wo_id = ?1", "s", wo_id);
    int rc;

    if (!st)
        return GW_EDB;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        ns__alert_row(st, a);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? GW_ENOENT : GW_EDB;
}

int notify_batch_add(notify_store_t *s, const char *group, const char *wo_id, const char *kind,
                     int64_t now_ms)
{
    return ns__run(ns__prep(s,
                            "INSERT OR IGNORE INTO batch (grp, wo_id, kind, created_ms)"
                            " VALUES (?1, ?2, ?3, ?4)",
                            "sssi", group, wo_id, kind, now_ms));
}

int notify_alert_list_active(notify_store_t *s, notify_alert_t **rows, size_t *n)
{
    sqlite3_stmt *st = ns__prep(s,
                                "SELECT " NS__ALERT_COLS " FROM alerts WHERE cleared = 0 AND"
                                " status IN ('open', 'acknowledged', 'in_progress')",
                                "");
    notify_alert_t *arr = NULL;
    size_t cap = 0, k = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (!st)
        return GW_EDB;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (gw_array_grow((void **)&arr, k, &cap, sizeof(*arr)) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        ns__alert_row(st, &arr[k++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(arr);
        return GW_EDB;
    }
    *rows = arr;
    *n = k;
    return 0;
}

int notify_batch_list(notify_store_t *s, notify_batch_row_t **rows, size_t *n)
{
    sqlite3_stmt *st =
        ns__prep(s, "SELECT id, grp, wo_id, kind, created_ms FROM batch ORDER BY grp, id", "");
    notify_batch_row_t *arr = NULL;
    size_t cap = 0, k = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (!st)
        return GW_EDB;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (gw_array_grow((void **)&arr, k, &cap, sizeof(*arr)) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        arr[k].id = sqlite3_column_int64(st, 0);
        ns__col(st, 1, arr[k].group, sizeof(arr[k].group));
        ns__col(st, 2, arr[k].wo_id, sizeof(arr[k].wo_id));
        ns__col(st, 3, arr[k].kind, sizeof(arr[k].kind));
        arr[k].created_ms = sqlite3_column_int64(st, 4);
        k++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(arr);
        return GW_EDB;
    }
    *rows = arr;
    *n = k;
    return 0;
}

int notify_batch_del(notify_store_t *s, int64_t id)
{
    return ns__run(ns__prep(s, "DELETE FROM batch WHERE id = ?1", "i", id));
}

int notify_ag_sent(notify_store_t *s, const char *wo_id, const char *group, int64_t now_ms)
{
    return ns__run(ns__prep(s,
                            "INSERT INTO alert_groups (wo_id, grp, first_sent_ms, last_sent_ms)"
                            " VALUES (?1, ?2, ?3, ?3) ON CONFLICT (wo_id, grp) DO UPDATE SET"
                            " last_sent_ms = excluded.last_sent_ms",
                            "ssi", wo_id, group, now_ms));
}

int notify_ag_escalated(notify_store_t *s, const char *wo_id, const char *group)
{
    return ns__run(ns__prep(s,
                            "UPDATE alert_groups SET escalated = 1 WHERE wo_id = ?1 AND grp = ?2",
                            "ss", wo_id, group));
}

int notify_ag_list(notify_store_t *s, const char *wo_id, notify_ag_row_t **rows, size_t *n)
{
    sqlite3_stmt *st =
        wo_id ? ns__prep(s,
                         "SELECT wo_id, grp, first_sent_ms, last_sent_ms, escalated"
                         " FROM alert_groups WHERE wo_id = ?1",
                         "s", wo_id)
              : ns__prep(s,
                         "SELECT g.wo_id, g.grp, g.first_sent_ms, g.last_sent_ms, g.escalated"
                         " FROM alert_groups g JOIN alerts a ON a.wo_id = g.wo_id"
                         " WHERE a.cleared = 0 AND a.status IN ('open', 'acknowledged',"
                         " 'in_progress')",
                         "");
    notify_ag_row_t *arr = NULL;
    size_t cap = 0, k = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (!st)
        return GW_EDB;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (gw_array_grow((void **)&arr, k, &cap, sizeof(*arr)) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        ns__col(st, 0, arr[k].wo_id, sizeof(arr[k].wo_id));
        ns__col(st, 1, arr[k].group, sizeof(arr[k].group));
        arr[k].first_sent_ms = sqlite3_column_int64(st, 2);
        arr[k].last_sent_ms = sqlite3_column_int64(st, 3);
        arr[k].escalated = sqlite3_column_int(st, 4);
        k++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(arr);
        return GW_EDB;
    }
    *rows = arr;
    *n = k;
    return 0;
}

int notify_msg_add(notify_store_t *s, const char *group, const char *recipient, const char *message,
                   const char *alert_json, int64_t now_ms, int64_t *id)
{
    int rc = ns__run(ns__prep(s,
                              "INSERT INTO notifications (grp, recipient, message, alert_json,"
                              " next_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                              "ssssi", group, recipient, message, alert_json, now_ms));
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int notify_msg_due(notify_store_t *s, int64_t now_ms, int limit, notify_msg_t **rows, size_t *n)
{
    sqlite3_stmt *st = ns__prep(s,
                                "SELECT id, grp, recipient, message, alert_json, attempts, next_ms"
                                " FROM notifications WHERE state = 'pending' AND next_ms <= ?1"
                                " ORDER BY id LIMIT ?2",
                                "ii", now_ms, (int64_t)limit);
    notify_msg_t *arr = NULL;
    size_t cap = 0, k = 0;
    int rc;

    *rows = NULL;
    *n = 0;
    if (!st)
        return GW_EDB;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *j;
        if (gw_array_grow((void **)&arr, k, &cap, sizeof(*arr)) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        memset(&arr[k], 0, sizeof(arr[k]));
        arr[k].id = sqlite3_column_int64(st, 0);
        ns__col(st, 1, arr[k].group, sizeof(arr[k].group));
        ns__col(st, 2, arr[k].recipient, sizeof(arr[k].recipient));
        ns__col(st, 3, arr[k].message, sizeof(arr[k].message));
        j = sqlite3_column_text(st, 4);
        arr[k].alert_json = strdup(j ? (const char *)j : "{}");
        arr[k].attempts = sqlite3_column_int(st, 5);
        arr[k].next_ms = sqlite3_column_int64(st, 6);
        k++;
        if (!arr[k - 1].alert_json) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        notify_msg_free_array(arr, k);
        return GW_EDB;
    }
    *rows = arr;
    *n = k;
    return 0;
}

void notify_msg_free_array(notify_msg_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i].alert_json);
    free(rows);
}

int notify_msg_sent(notify_store_t *s, int64_t id, int attempts, int64_t now_ms)
{
    return ns__run(ns__prep(s,
                            "UPDATE notifications SET state = 'sent', attempts = ?2, sent_ms = ?3"
                            " WHERE id = ?1",
                            "iii", id, (int64_t)attempts, now_ms));
}

int notify_msg_retry(notify_store_t *s, int64_t id, int attempts, int64_t next_ms,
                     const char *error)
{
    return ns__run(ns__prep(s,
                            "UPDATE notifications SET attempts = ?2, next_ms = ?3, last_error = ?4"
                            " WHERE id = ?1",
                            "iiis", id, (int64_t)attempts, next_ms, error));
}

int notify_msg_failed(notify_store_t *s, int64_t id, int attempts, const char *error)
{
    return ns__run(ns__prep(s,
                            "UPDATE notifications SET state = 'failed', attempts = ?2,"
                            " last_error = ?3 WHERE id = ?1",
                            "iis", id, (int64_t)attempts, error));
}
