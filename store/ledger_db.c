/*
 * ledger_db.c: the ledger's connection at work (store/ledger_int.h): every
 * SQL statement the ledger prepares, as static text in the table below,
 * prepared once per connection and cached, every value a bound parameter;
 * SQLite errors as the project's codes; transactions, and the one-unit
 * rule of every mutating operation (its own BEGIN IMMEDIATE ... COMMIT, or
 * a SAVEPOINT inside the caller's transaction, so that a failing operation
 * undoes only its own writes and the ledger thread can batch many into one
 * commit); and the accessors the other files of store/ use. Opening and
 * closing are ledger.c's. Design: docs/architecture.md ("Durability
 * order").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_db_int.h"
#include "store/store_file.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The statement ids (enum ledger__stmt_id) are in ledger_int.h. */

/* LEDGER__ROLLUP_ROWS rows of 9 parameters, for ST_ROLLUP_1M_N/1H_N. */
#define LEDGER__ROLLUP_V1     "(?,?,?,?,?,?,?,?,?)"
#define LEDGER__ROLLUP_V2     LEDGER__ROLLUP_V1 "," LEDGER__ROLLUP_V1
#define LEDGER__ROLLUP_V4     LEDGER__ROLLUP_V2 "," LEDGER__ROLLUP_V2
#define LEDGER__ROLLUP_V8     LEDGER__ROLLUP_V4 "," LEDGER__ROLLUP_V4
#define LEDGER__ROLLUP_V16    LEDGER__ROLLUP_V8 "," LEDGER__ROLLUP_V8
#define LEDGER__ROLLUP_VALUES LEDGER__ROLLUP_V16 "," LEDGER__ROLLUP_V16
_Static_assert(LEDGER__ROLLUP_ROWS == 32, "LEDGER__ROLLUP_VALUES holds 32 rows");

static const char *const ledger__sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT ledger_op",
    [ST_RELEASE] = "RELEASE ledger_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO ledger_op",
    [ST_FIND_ACTIVE] =
        "SELECT id, number, occurrences, cleared_at, status, priority FROM work_orders"
        " WHERE fingerprint = ?1 AND status IN " LEDGER__ACTIVE_SQL,
    [ST_NEXT_NUMBER] = "SELECT COALESCE(MAX(number), 0) + 1 FROM work_orders WHERE site = ?1",
    [ST_INSERT_WO] = "INSERT INTO work_orders (id, number, site, fingerprint, device, rule, title,"
                     " description, category, work_type, priority, status, evidence, occurrences,"
                     " opened_at, last_seen_at, cleared_at, updated_at, building, floor, room,"
                     " assignee, due_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'open', ?12, 1,"
                     " ?13, ?13, NULL, ?14, ?15, ?16, ?17, ?18, NULLIF(?19, 0))",
    [ST_RETRIGGER] = "UPDATE work_orders SET occurrences = occurrences + 1, cleared_at = NULL,"
                     " last_seen_at = MAX(last_seen_at, ?2), evidence = COALESCE(?3, evidence),"
                     " updated_at = ?4 WHERE id = ?1",
    [ST_REFRESH] = "UPDATE work_orders SET last_seen_at = MAX(last_seen_at, ?2),"
                   " evidence = COALESCE(?3, evidence)"
                   " WHERE fingerprint = ?1 AND status IN " LEDGER__ACTIVE_SQL,
    [ST_CLEAR] = "UPDATE work_orders SET cleared_at = ?2, evidence = COALESCE(?3, evidence),"
                 " updated_at = ?4 WHERE id = ?1",
    [ST_OUTBOX_INSERT] = "INSERT INTO outbox (channel, key, payload, created_at)"
                         " VALUES (?1, ?2, ?3, ?4)",
    [ST_AUDIT_TAIL] = "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
    [ST_AUDIT_APPEND] = "INSERT INTO audit (id, wo_id, ts, actor, channel, action, from_status,"
                        " to_status, detail, hash, event_id)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_GET_WO] = "SELECT " LEDGER__WO_COLS " FROM work_orders WHERE id = ?1",
    [ST_LIST_WO] = "SELECT " LEDGER__WO_COLS " FROM work_orders"
                   " WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR device = ?2)"
                   " AND (?3 = 0 OR status IN " LEDGER__ACTIVE_SQL ")"
                   " AND (?5 IS NULL OR priority = ?5) AND (?6 IS NULL OR category = ?6)"
                   " AND opened_at >= ?7"
                   " ORDER BY opened_at DESC, number DESC LIMIT ?4",
    [ST_OUTBOX_LIST] = "SELECT id, channel, key, payload, created_at, acked FROM outbox"
                       " WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_OUTBOX_DELETE] = "DELETE FROM outbox WHERE id = ?1",
    /* the highest id ever given (AUTOINCREMENT's), not only of the rows left */
    [ST_OUTBOX_MAX] = "SELECT MAX(COALESCE((SELECT MAX(id) FROM outbox), 0),"
                      " COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0))",
    [ST_OUTBOX_ACK] = "UPDATE outbox SET acked = acked | ?2 WHERE id = ?1",
    [ST_OUTBOX_DONE] = "DELETE FROM outbox WHERE id = ?1 AND acked & ?2 = ?2",
    [ST_GET_WO_NUMBER] = "SELECT " LEDGER__WO_COLS " FROM work_orders WHERE number = ?1 LIMIT 2",
    /* ?2 status, ?3 now; the stamp of the new status is set once */
    [ST_SET_STATUS] =
        "UPDATE work_orders SET status = ?2, updated_at = ?3,"
        " acknowledged_at = CASE WHEN ?2 = 'acknowledged' THEN ?3 ELSE acknowledged_at END,"
        " started_at = CASE WHEN ?2 = 'in_progress' THEN ?3 ELSE started_at END,"
        " resolved_at = CASE WHEN ?2 = 'resolved' THEN ?3 ELSE resolved_at END,"
        " closed_at = CASE WHEN ?2 IN ('closed','cancelled') THEN ?3 ELSE closed_at END"
        " WHERE id = ?1",
    [ST_ASSIGN] = "UPDATE work_orders SET assignee = ?2, updated_at = ?3 WHERE id = ?1",
    [ST_NOTE] = "INSERT INTO notes (wo_id, ts, actor, channel, text) VALUES (?1, ?2, ?3, ?4, ?5)",
    /* ?1 device ?2 point ?3 bucket ts ?4 unit ?5 min ?6 max ?7 sum ?8 count ?9 last_ts */
    [ST_ROLLUP_1M] =
        "INSERT INTO rollup_1m (device, point, ts, unit, min, max, sum, count, last_ts)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT (device, point, ts) DO UPDATE SET"
        " min = MIN(min, excluded.min), max = MAX(max, excluded.max),"
        " sum = sum + excluded.sum, count = count + excluded.count,"
        " last_ts = MAX(last_ts, excluded.last_ts), unit = excluded.unit",
    [ST_ROLLUP_1H] =
        "INSERT INTO rollup_1h (device, point, ts, unit, min, max, sum, count, last_ts)"
        " VALUES (?1, ?2, ?3 - ?3 % 3600000, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT (device, point, ts) DO UPDATE SET"
        " min = MIN(min, excluded.min), max = MAX(max, excluded.max),"
        " sum = sum + excluded.sum, count = count + excluded.count,"
        " last_ts = MAX(last_ts, excluded.last_ts), unit = excluded.unit",
    /* The same upserts for LEDGER__ROLLUP_ROWS rows at once (rows of one
     * statement are merged in order, as one statement each would): the
     * per-statement cost (cursors, the program's start) is paid once per
     * 32 rows of a minute's close, not twice per row. */
    [ST_ROLLUP_1M_N] =
        "INSERT INTO rollup_1m (device, point, ts, unit, min, max, sum, count, last_ts)"
        " VALUES " LEDGER__ROLLUP_VALUES " ON CONFLICT (device, point, ts) DO UPDATE SET"
        " min = MIN(min, excluded.min), max = MAX(max, excluded.max),"
        " sum = sum + excluded.sum, count = count + excluded.count,"
        " last_ts = MAX(last_ts, excluded.last_ts), unit = excluded.unit",
    [ST_ROLLUP_1H_N] =
        "INSERT INTO rollup_1h (device, point, ts, unit, min, max, sum, count, last_ts)"
        " VALUES " LEDGER__ROLLUP_VALUES " ON CONFLICT (device, point, ts) DO UPDATE SET"
        " min = MIN(min, excluded.min), max = MAX(max, excluded.max),"
        " sum = sum + excluded.sum, count = count + excluded.count,"
        " last_ts = MAX(last_ts, excluded.last_ts), unit = excluded.unit",
    [ST_DEVICE_SEEN] = "INSERT INTO devices (name, last_seen) VALUES (?1, ?2)"
                       " ON CONFLICT (name) DO UPDATE SET"
                       " last_seen = MAX(COALESCE(last_seen, 0), excluded.last_seen)",
    [ST_DEVICE_STATUS] = "INSERT INTO devices (name, status, status_since, detail)"
                         " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET"
                         " status = excluded.status, status_since = excluded.status_since,"
                         " detail = excluded.detail",
    [ST_DEVICE_EVENT] = "INSERT INTO device_events (device, ts, status, detail)"
                        " VALUES (?1, ?2, ?3, ?4)",
    [ST_DATA_VERSION] = "PRAGMA data_version",
};

int ledger__fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Map a SQLite result code onto the project's codes. Conditions of the
 * storage get their own codes so that the ledger thread can retry them and
 * say which it is: a full disk (-ENOSPC), a read-only one (-EROFS), an I/O
 * error, a damaged file (GW_ECORRUPT). */
int ledger__code(int src)
{
    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_NOMEM:
        return GW_ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
        return GW_EIO;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return GW_ETIMEDOUT;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return GW_ECORRUPT;
    default:
        return GW_EDB;
    }
}

int ledger__transient(int rc)
{
    return rc == GW_EIO || rc == GW_ENOMEM || rc == GW_ETIMEDOUT || rc == -ENOSPC || rc == -EROFS;
}

int ledger__dberr(ledger_t *lg, int src, char *err, size_t errlen, const char *what)
{
    int rc = ledger__code(src);
    int sys = rc == GW_EIO || rc == -ENOSPC || rc == -EROFS ? store_db_errno(lg->db) : 0;

    /* An I/O error says more in the system's errno: a write refused by a
     * full or read-only file system. */
    if (rc == GW_EIO && (sys == ENOSPC || sys == EROFS))
        rc = -sys;
    if (rc == GW_EIO || rc == -ENOSPC || rc == -EROFS)
        return ledger__fail(rc, err, errlen, "ledger %s: %s: %s (%s, SQLite code %d)", lg->path,
                            what, sqlite3_errmsg(lg->db), sys ? strerror(sys) : "no errno",
                            sqlite3_extended_errcode(lg->db));
    return ledger__fail(rc, err, errlen, "ledger %s: %s: %s", lg->path, what,
                        sqlite3_errmsg(lg->db));
}

int ledger__in_tx(ledger_t *lg)
{
    return lg && lg->db && !sqlite3_get_autocommit(lg->db);
}

/* The cached statement id, reset and unbound, ready for new bindings. */
int ledger__stmt(ledger_t *lg, int id, sqlite3_stmt **out, char *err, size_t errlen)
{
    int src;

    if (!lg->st[id]) {
        src = sqlite3_prepare_v3(lg->db, ledger__sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                 &lg->st[id], NULL);
        if (src != SQLITE_OK)
            return ledger__dberr(lg, src, err, errlen, "prepare statement");
    }
    sqlite3_reset(lg->st[id]);
    sqlite3_clear_bindings(lg->st[id]);
    *out = lg->st[id];
    return 0;
}

/* Bind parameters 1..n from fmt: 't' a string (NULL binds NULL), 'i' an
 * int64_t (pass int64_t, not int: it goes through varargs). fmt must name
 * every parameter of st. Strings must outlive the statement's execution.
 * Returns a SQLite code. */
int ledger__bind(sqlite3_stmt *st, const char *fmt, ...)
{
    va_list ap;
    int src = SQLITE_OK;
    int idx = 1;

    if ((int)strlen(fmt) != sqlite3_bind_parameter_count(st))
        return SQLITE_RANGE; /* a mismatch is this file's bug: fail loudly */
    va_start(ap, fmt);
    for (const char *f = fmt; *f && src == SQLITE_OK; f++, idx++) {
        if (*f == 't') {
            const char *s = va_arg(ap, const char *);
            src = s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, idx);
        } else if (*f == 'i') {
            src = sqlite3_bind_int64(st, idx, va_arg(ap, int64_t));
        } else if (*f == 'd') {
            src = sqlite3_bind_double(st, idx, va_arg(ap, double));
        } else {
            src = SQLITE_MISUSE;
        }
    }
    va_end(ap);
    return src;
}

/* Step a bound statement that returns no row, then reset it. */
int ledger__exec(ledger_t *lg, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
    int src = sqlite3_step(st);
    int rc = 0;

    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = ledger__dberr(lg, src, err, errlen, what);
    sqlite3_reset(st);
    return rc;
}

/* Run one of the parameterless statements (transaction control). */
int ledger__run(ledger_t *lg, int id, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ledger__stmt(lg, id, &st, err, errlen);

    if (rc == 0)
        rc = ledger__exec(lg, st, ledger__sql[id], err, errlen);
    return rc;
}

char *ledger__col_dup(sqlite3_stmt *st, int col, int *oom)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    char *d;

    if (!s)
        return NULL;
    d = strdup((const char *)s);
    if (!d)
        *oom = 1;
    return d;
}

void ledger__close_db(ledger_t *lg)
{
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(lg->st[i]);
    sqlite3_close_v2(lg->db);
}

int ledger__write_marks(ledger_t *lg, int64_t marks[2])
{
    sqlite3_stmt *st = NULL;
    int rc = ledger__stmt(lg, ST_DATA_VERSION, &st, NULL, 0);

    if (rc < 0)
        return rc;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return GW_EDB;
    }
    marks[0] = sqlite3_total_changes64(lg->db);
    marks[1] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

sqlite3 *ledger__db(ledger_t *lg)
{
    return lg->db;
}

void ledger_policy_default(ledger_policy_t *p)
{
    static const int64_t hour = 3600 * 1000;

    memset(p, 0, sizeof(*p));
    p->sla_ms[GW_PRIO_CRITICAL] = 4 * hour;
    p->sla_ms[GW_PRIO_HIGH] = 24 * hour;
    p->sla_ms[GW_PRIO_MEDIUM] = 72 * hour;
    p->sla_ms[GW_PRIO_LOW] = 168 * hour;
    p->audit_retention_days = 180;
    p->rollup_1m_retention_days = 8;
    p->rollup_1h_retention_days = 400;
    p->outbox_retention_days = 30;
    p->queue_max_ops = 10000;
}

void ledger_set_policy(ledger_t *lg, const ledger_policy_t *p)
{
    if (lg && p)
        lg->policy = *p;
}

const ledger_policy_t *ledger__policy(const ledger_t *lg)
{
    return &lg->policy;
}

const char *ledger_path(const ledger_t *lg)
{
    return lg->path;
}

int64_t ledger_audit_break(const ledger_t *lg)
{
    return lg ? lg->audit_break : 0;
}

void ledger__set_audit_break(ledger_t *lg, int64_t row)
{
    lg->audit_break = row;
}

int ledger__readonly(const ledger_t *lg)
{
    return lg->readonly;
}

/* ---- transactions ------------------------------------------------------- */

int ledger_begin(ledger_t *lg, char *err, size_t errlen)
{
    if (lg->readonly)
        return ledger__fail(GW_ESTATE, err, errlen, "ledger %s is open read-only", lg->path);
    if (ledger__in_tx(lg))
        return ledger__fail(GW_ESTATE, err, errlen, "ledger %s: transaction already open",
                            lg->path);
    return ledger__run(lg, ST_BEGIN, err, errlen);
}

int ledger_commit(ledger_t *lg, char *err, size_t errlen)
{
    if (!ledger__in_tx(lg))
        return ledger__fail(GW_ESTATE, err, errlen,
                            "ledger %s: no transaction to commit (rolled back after an error?)",
                            lg->path);
    return ledger__run(lg, ST_COMMIT, err, errlen);
}

void ledger_rollback(ledger_t *lg)
{
    if (ledger__in_tx(lg))
        ledger__run(lg, ST_ROLLBACK, NULL, 0);
}

/* Start one mutating operation: its own transaction when the caller has
 * none, else a savepoint inside the caller's. */
int ledger__op_begin(ledger_t *lg, int *own_tx, char *err, size_t errlen)
{
    if (lg->readonly)
        return ledger__fail(GW_ESTATE, err, errlen, "ledger %s is open read-only", lg->path);
    *own_tx = !ledger__in_tx(lg);
    return ledger__run(lg, *own_tx ? ST_BEGIN : ST_SAVEPOINT, err, errlen);
}

/* End it: keep its writes when rc is 0 (and that works), else undo them
 * and only them. Returns the operation's outcome. */
int ledger__op_end(ledger_t *lg, int own_tx, int rc, char *err, size_t errlen)
{
    if (rc == 0) {
        rc = ledger__run(lg, own_tx ? ST_COMMIT : ST_RELEASE, err, errlen);
        if (rc == 0)
            return 0;
    }
    if (own_tx) {
        ledger_rollback(lg);
    } else if (ledger__in_tx(lg)) {
        ledger__run(lg, ST_ROLLBACK_TO, NULL, 0);
        ledger__run(lg, ST_RELEASE, NULL, 0);
    }
    return rc;
}
