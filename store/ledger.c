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
 * All SQL is static text in the table below, prepared once per connection,
 * and every value is a bound parameter. Design: docs/architecture.md
 * ("Durability order"); JSON of rows and events: ledger_json.c.
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_clock.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* migrations[i] takes the schema from user_version i to i + 1. Append new
 * versions; never edit one that has shipped. */
static const char *const ledger__migrations[] = {
    /* v1: work orders, their audit trail, the outbox. */
    "CREATE TABLE work_orders ("
    " id TEXT PRIMARY KEY,"
    " number INTEGER NOT NULL,"
    " site TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " device TEXT NOT NULL,"
    " rule TEXT NOT NULL,"
    " title TEXT NOT NULL,"
    " description TEXT,"
    " category TEXT,"
    " work_type TEXT NOT NULL DEFAULT 'corrective',"
    " priority TEXT NOT NULL CHECK (priority IN ('critical','high','medium','low')),"
    " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','acknowledged',"
    "  'in_progress','resolved','closed','cancelled')),"
    " evidence TEXT,"
    " occurrences INTEGER NOT NULL DEFAULT 1,"
    " opened_at INTEGER NOT NULL,"
    " last_seen_at INTEGER NOT NULL,"
    " cleared_at INTEGER,"
    " updated_at INTEGER NOT NULL,"
    " UNIQUE (site, number));"
    /* The rule "one active order per fingerprint", enforced by SQLite. */
    "CREATE UNIQUE INDEX work_orders_active_fingerprint ON work_orders(fingerprint)"
    " WHERE status IN " LEDGER__ACTIVE_SQL ";"
    "CREATE INDEX work_orders_newest ON work_orders(opened_at DESC, number DESC);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " wo_id TEXT NOT NULL REFERENCES work_orders(id),"
    " ts INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " from_status TEXT,"
    " to_status TEXT,"
    " detail TEXT);"
    "CREATE INDEX audit_wo ON audit(wo_id, id);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " channel TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);",

    /* v2: location, assignee, SLA due time and status stamps of a work order;
     * the channel of an audit row; notes; status transitions enforced by a
     * trigger; audit retention through a horizon that only moves forward
     * (rows younger than it stay append-only). */
    "ALTER TABLE work_orders ADD COLUMN building TEXT;"
    "ALTER TABLE work_orders ADD COLUMN floor TEXT;"
    "ALTER TABLE work_orders ADD COLUMN room TEXT;"
    "ALTER TABLE work_orders ADD COLUMN assignee TEXT;"
    "ALTER TABLE work_orders ADD COLUMN due_at INTEGER;"
    "ALTER TABLE work_orders ADD COLUMN acknowledged_at INTEGER;"
    "ALTER TABLE work_orders ADD COLUMN started_at INTEGER;"
    "ALTER TABLE work_orders ADD COLUMN resolved_at INTEGER;"
    "ALTER TABLE work_orders ADD COLUMN closed_at INTEGER;"
    "CREATE INDEX work_orders_status ON work_orders(status, opened_at);"
    "CREATE INDEX work_orders_device ON work_orders(device, opened_at);"
    "CREATE INDEX work_orders_number ON work_orders(number);"
    "ALTER TABLE audit ADD COLUMN channel TEXT NOT NULL DEFAULT 'rule';"
    "CREATE INDEX audit_ts ON audit(ts);"
    "CREATE TABLE notes ("
    " id INTEGER PRIMARY KEY,"
    " wo_id TEXT NOT NULL REFERENCES work_orders(id),"
    " ts INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " text TEXT NOT NULL);"
    "CREATE INDEX notes_wo ON notes(wo_id, id);"
    "CREATE TRIGGER work_orders_transition BEFORE UPDATE OF status ON work_orders"
    " WHEN NEW.status <> OLD.status AND NOT ("
    "  (OLD.status = 'open' AND NEW.status IN ('acknowledged','cancelled')) OR"
    "  (OLD.status = 'acknowledged' AND NEW.status IN ('in_progress','cancelled')) OR"
    "  (OLD.status = 'in_progress' AND NEW.status = 'resolved') OR"
    "  (OLD.status = 'resolved' AND NEW.status = 'closed'))"
    " BEGIN SELECT RAISE(ABORT, 'work-order status transition not allowed'); END;"
    "CREATE TABLE audit_horizon (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " before_ts INTEGER NOT NULL);"
    "INSERT INTO audit_horizon VALUES (1, 0);"
    "CREATE TRIGGER audit_horizon_forward BEFORE UPDATE ON audit_horizon"
    " WHEN NEW.before_ts < OLD.before_ts"
    " BEGIN SELECT RAISE(ABORT, 'the audit horizon only moves forward'); END;"
    "CREATE TRIGGER audit_horizon_keep BEFORE DELETE ON audit_horizon"
    " BEGIN SELECT RAISE(ABORT, 'the audit horizon stays'); END;"
    "DROP TRIGGER audit_no_delete;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " WHEN OLD.ts >= (SELECT before_ts FROM audit_horizon WHERE id = 1)"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;",

    /* v3: telemetry rollups (sum and count kept, mean = sum / count, so that
     * buckets merge), devices and their status changes, reports written. */
    "CREATE TABLE rollup_1m ("
    " device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, unit TEXT,"
    " min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL,"
    " PRIMARY KEY (device, point, ts)) WITHOUT ROWID;"
    "CREATE INDEX rollup_1m_ts ON rollup_1m(ts);"
    "CREATE TABLE rollup_1h ("
    " device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, unit TEXT,"
    " min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL,"
    " PRIMARY KEY (device, point, ts)) WITHOUT ROWID;"
    "CREATE INDEX rollup_1h_ts ON rollup_1h(ts);"
    "CREATE TABLE devices ("
    " name TEXT PRIMARY KEY, status TEXT, status_since INTEGER, last_seen INTEGER,"
    " detail TEXT);"
    "CREATE TABLE device_events ("
    " id INTEGER PRIMARY KEY, device TEXT NOT NULL, ts INTEGER NOT NULL,"
    " status TEXT NOT NULL, detail TEXT);"
    "CREATE INDEX device_events_ts ON device_events(ts);"
    "CREATE TABLE reports ("
    " month TEXT PRIMARY KEY, path TEXT NOT NULL, created_at INTEGER NOT NULL);",
};

int ledger__schema_version(void)
{
    return (int)GW_ARRAY_SIZE(ledger__migrations);
}

const char *ledger__migration_sql(int v)
{
    return v >= 0 && v < ledger__schema_version() ? ledger__migrations[v] : NULL;
}

#define LEDGER__SCHEMA_VERSION ((int)GW_ARRAY_SIZE(ledger__migrations))

#define WO_COLS                                                                                    \
    "id, number, site, device, rule, title, description, category, work_type, priority, status, "  \
    "evidence, occurrences, opened_at, last_seen_at, cleared_at, updated_at, building, floor, "    \
    "room, assignee, due_at, acknowledged_at, started_at, resolved_at, closed_at"

/* The statement ids (enum ledger__stmt_id) are in ledger_int.h. */

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
    [ST_AUDIT] = "INSERT INTO audit (wo_id, ts, actor, action, from_status, to_status, detail,"
                 " channel) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_OUTBOX_INSERT] = "INSERT INTO outbox (channel, key, payload, created_at)"
                         " VALUES (?1, ?2, ?3, ?4)",
    [ST_GET_WO] = "SELECT " WO_COLS " FROM work_orders WHERE id = ?1",
    [ST_LIST_WO] = "SELECT " WO_COLS " FROM work_orders"
                   " WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR device = ?2)"
                   " AND (?3 = 0 OR status IN " LEDGER__ACTIVE_SQL ")"
                   " AND (?5 IS NULL OR priority = ?5) AND (?6 IS NULL OR category = ?6)"
                   " AND opened_at >= ?7"
                   " ORDER BY opened_at DESC, number DESC LIMIT ?4",
    [ST_OUTBOX_LIST] = "SELECT id, channel, key, payload, created_at FROM outbox"
                       " WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_OUTBOX_DELETE] = "DELETE FROM outbox WHERE id = ?1",
    [ST_OUTBOX_MAX] = "SELECT COALESCE(MAX(id), 0) FROM outbox",
    [ST_GET_WO_NUMBER] = "SELECT " WO_COLS " FROM work_orders WHERE number = ?1 LIMIT 2",
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
    [ST_DEVICE_SEEN] = "INSERT INTO devices (name, last_seen) VALUES (?1, ?2)"
                       " ON CONFLICT (name) DO UPDATE SET"
                       " last_seen = MAX(COALESCE(last_seen, 0), excluded.last_seen)",
    [ST_DEVICE_STATUS] = "INSERT INTO devices (name, status, status_since, detail)"
                         " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET"
                         " status = excluded.status, status_since = excluded.status_since,"
                         " detail = excluded.detail",
    [ST_DEVICE_EVENT] = "INSERT INTO device_events (device, ts, status, detail)"
                        " VALUES (?1, ?2, ?3, ?4)",
};

/* A connection. Who owns what: lg owns db and every prepared statement. */
struct ledger {
    sqlite3 *db;
    int readonly;
    sqlite3_stmt *st[ST__COUNT]; /* prepared on first use, finalized on close */
    ledger_policy_t policy;      /* SLA, routing, retention (ledger_set_policy) */
    int64_t ulid_ms;             /* time part of the last ULID made here */
    uint8_t ulid_rand[10];       /* its random part, incremented within one ms */
    char path[];                 /* for messages */
};

/* What ledger__find_active reads of the active order of a fingerprint. */
typedef struct ledger__active {
    int found;
    char id[96];
    int64_t number;
    int64_t occurrences;
    int cleared; /* cleared_at is set */
    char status[16];
    char priority[16];
} ledger__active_t;

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

/* Map a SQLite result code onto the project's codes. Transient conditions
 * get their own codes so that the ledger thread can retry them. */
static int ledger__code(int src)
{
    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_NOMEM:
        return GW_ENOMEM;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
        return GW_EIO;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return GW_ETIMEDOUT;
    case SQLITE_READONLY:
        return GW_ESTATE;
    default:
        return GW_EDB;
    }
}

int ledger__transient(int rc)
{
    return rc == GW_EIO || rc == GW_ENOMEM || rc == GW_ETIMEDOUT;
}

int ledger__dberr(ledger_t *lg, int src, char *err, size_t errlen, const char *what)
{
    return ledger__fail(ledger__code(src), err, errlen, "ledger %s: %s: %s", lg->path, what,
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
static int ledger__run(ledger_t *lg, int id, char *err, size_t errlen)
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

void ledger_wo_free_fields(ledger_wo_t *wo)
{
    ledger__wo_clear_fields(wo);
}

void ledger__wo_clear_fields(ledger_wo_t *wo)
{
    free(wo->id);
    free(wo->site);
    free(wo->device);
    free(wo->rule);
    free(wo->title);
    free(wo->description);
    free(wo->category);
    free(wo->work_type);
    free(wo->priority);
    free(wo->status);
    free(wo->evidence_json);
    free(wo->building);
    free(wo->floor);
    free(wo->room);
    free(wo->assignee);
    memset(wo, 0, sizeof(*wo));
}

/* Fill wo from a row of WO_COLS. Returns 0 or GW_ENOMEM (wo then empty). */
int ledger__wo_from_row(sqlite3_stmt *st, ledger_wo_t *wo)
{
    int oom = 0;

    memset(wo, 0, sizeof(*wo));
    wo->id = ledger__col_dup(st, 0, &oom);
    wo->number = sqlite3_column_int64(st, 1);
    wo->site = ledger__col_dup(st, 2, &oom);
    wo->device = ledger__col_dup(st, 3, &oom);
    wo->rule = ledger__col_dup(st, 4, &oom);
    wo->title = ledger__col_dup(st, 5, &oom);
    wo->description = ledger__col_dup(st, 6, &oom);
    wo->category = ledger__col_dup(st, 7, &oom);
    wo->work_type = ledger__col_dup(st, 8, &oom);
    wo->priority = ledger__col_dup(st, 9, &oom);
    wo->status = ledger__col_dup(st, 10, &oom);
    wo->evidence_json = ledger__col_dup(st, 11, &oom);
    wo->occurrences = sqlite3_column_int64(st, 12);
    wo->opened_at = sqlite3_column_int64(st, 13);
    wo->last_seen_at = sqlite3_column_int64(st, 14);
    wo->cleared_at = sqlite3_column_int64(st, 15); /* NULL reads as 0 */
    wo->updated_at = sqlite3_column_int64(st, 16);
    wo->building = ledger__col_dup(st, 17, &oom);
    wo->floor = ledger__col_dup(st, 18, &oom);
    wo->room = ledger__col_dup(st, 19, &oom);
    wo->assignee = ledger__col_dup(st, 20, &oom);
    wo->due_at = sqlite3_column_int64(st, 21);
    wo->acknowledged_at = sqlite3_column_int64(st, 22);
    wo->started_at = sqlite3_column_int64(st, 23);
    wo->resolved_at = sqlite3_column_int64(st, 24);
    wo->closed_at = sqlite3_column_int64(st, 25);
    if (oom) {
        ledger__wo_clear_fields(wo);
        return GW_ENOMEM;
    }
    return 0;
}

/* ---- opening, schema ---------------------------------------------------- */

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

static int ledger__pragma_int(ledger_t *lg, const char *sql, int *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(lg->db, sql, -1, &st, NULL);

    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        int rc = ledger__dberr(lg, src, err, errlen, sql);
        sqlite3_finalize(st);
        return rc;
    }
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
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
    src = sqlite3_exec(lg->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    if (src != SQLITE_OK)
        rc = ledger__dberr(lg, src, err, errlen, "configure");
out_finalize:
    sqlite3_finalize(st);
    return rc;
}

/* Apply the migrations the file lacks, all in one transaction. A read-only
 * connection only checks that the schema is the one this program knows. */
static int ledger__migrate(ledger_t *lg, char *err, size_t errlen)
{
    char sql[64];
    int version = 0;
    int src;
    int rc;

    rc = ledger__pragma_int(lg, "PRAGMA user_version", &version, err, errlen);
    if (rc == GW_ESTATE && lg->readonly)
        return ledger__fail(rc, err, errlen,
                            "ledger %s: cannot read it: a WAL ledger needs its -shm file or a "
                            "directory this user may write (run as plantroomd's user)",
                            lg->path);
    if (rc < 0)
        return rc;
    if (version > LEDGER__SCHEMA_VERSION)
        return ledger__fail(GW_ESTATE, err, errlen,
                            "ledger %s has schema version %d, newer than this program's %d",
                            lg->path, version, LEDGER__SCHEMA_VERSION);
    if (lg->readonly) {
        if (version < LEDGER__SCHEMA_VERSION)
            return ledger__fail(GW_ESTATE, err, errlen,
                                "ledger %s has schema version %d, expected %d (not a ledger, or "
                                "not yet migrated by plantroomd)",
                                lg->path, version, LEDGER__SCHEMA_VERSION);
        return 0;
    }
    if (version == LEDGER__SCHEMA_VERSION)
        return 0;

    rc = ledger__run(lg, ST_BEGIN, err, errlen);
    if (rc < 0)
        return rc;
    /* Read again under the write lock: another process may have migrated. */
    rc = ledger__pragma_int(lg, "PRAGMA user_version", &version, err, errlen);
    if (rc < 0)
        goto out_rollback;
    for (int v = version; v < LEDGER__SCHEMA_VERSION; v++) {
        src = sqlite3_exec(lg->db, ledger__migrations[v], NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            snprintf(sql, sizeof(sql), "migrate to schema version %d", v + 1);
            rc = ledger__dberr(lg, src, err, errlen, sql);
            goto out_rollback;
        }
    }
    /* PRAGMA takes no parameter; the value is our own constant. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", LEDGER__SCHEMA_VERSION);
    src = sqlite3_exec(lg->db, sql, NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = ledger__dberr(lg, src, err, errlen, "set schema version");
        goto out_rollback;
    }
    rc = ledger__run(lg, ST_COMMIT, err, errlen);
    if (rc < 0)
        goto out_rollback;
    return 0;

out_rollback:
    ledger_rollback(lg);
    return rc;
}

static void ledger__close_db(ledger_t *lg)
{
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(lg->st[i]);
    sqlite3_close_v2(lg->db);
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

sqlite3 *ledger__db(ledger_t *lg)
{
    return lg->db;
}

void ledger_close(ledger_t *lg)
{
    if (!lg)
        return;
    ledger_rollback(lg);
    ledger__close_db(lg);
    free(lg);
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

/* ---- work orders -------------------------------------------------------- */

static int ledger__nonempty(const char *s)
{
    return s && *s;
}

/* "site/device/rule", with '%' and '/' inside a part written %25 and %2F so
 * that two different triples never share a fingerprint. Malloc'd or NULL. */
static char *ledger__fingerprint(const char *site, const char *device, const char *rule)
{
    const char *parts[3] = {site, device, rule};
    size_t n = 0;
    char *fp, *p;

    for (int i = 0; i < 3; i++)
        n += strlen(parts[i]) * 3 + 1;
    fp = malloc(n);
    if (!fp)
        return NULL;
    p = fp;
    for (int i = 0; i < 3; i++) {
        if (i)
            *p++ = '/';
        for (const char *s = parts[i]; *s; s++) {
            if (*s == '/' || *s == '%') {
                p += sprintf(p, "%%%02X", (unsigned char)*s);
            } else {
                *p++ = *s;
            }
        }
    }
    *p = '\0';
    return fp;
}

/* A ULID (26 Crockford base32 characters: 48-bit ms time, 80 random bits)
 * into out[27]. Within one connection ids strictly increase: in the same
 * millisecond (or if the clock stepped back) the random part is
 * incremented instead of drawn again. */
static int ledger__ulid(ledger_t *lg, char out[27], char *err, size_t errlen)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    int64_t ms = gw_wall_ms();
    uint8_t b[16];

    if (ms < 0)
        ms = 0;
    ms &= ((int64_t)1 << 48) - 1;
    if (lg->ulid_ms != 0 && ms <= lg->ulid_ms) {
        int i = 9;
        while (i >= 0 && ++lg->ulid_rand[i] == 0)
            i--;
        if (i < 0) /* 2^80 ids in one ms: borrow the next millisecond */
            lg->ulid_ms++;
    } else {
        size_t got = 0;
        while (got < sizeof(lg->ulid_rand)) {
            ssize_t r = getrandom(lg->ulid_rand + got, sizeof(lg->ulid_rand) - got, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return ledger__fail(-errno, err, errlen, "getrandom: %s", strerror(errno));
            got += (size_t)r;
        }
        lg->ulid_ms = ms;
    }
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(lg->ulid_ms >> (8 * (5 - i)));
    memcpy(b + 6, lg->ulid_rand, 10);
    /* 26 x 5 = 130 bits: two leading zero bits, then the 128 of b. */
    for (int i = 0; i < 26; i++) {
        int v = 0;
        for (int k = 0; k < 5; k++) {
            int bit = i * 5 + k - 2;
            v <<= 1;
            if (bit >= 0)
                v |= (b[bit / 8] >> (7 - bit % 8)) & 1;
        }
        out[i] = alphabet[v];
    }
    out[26] = '\0';
    return 0;
}

static int ledger__find_active(ledger_t *lg, const char *fp, ledger__active_t *a, char *err,
                               size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    memset(a, 0, sizeof(*a));
    rc = ledger__stmt(lg, ST_FIND_ACTIVE, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "t", fp);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        const unsigned char *status = sqlite3_column_text(st, 4);
        a->found = 1;
        snprintf(a->id, sizeof(a->id), "%s", id ? (const char *)id : "");
        a->number = sqlite3_column_int64(st, 1);
        a->occurrences = sqlite3_column_int64(st, 2);
        a->cleared = sqlite3_column_type(st, 3) != SQLITE_NULL;
        snprintf(a->status, sizeof(a->status), "%s", status ? (const char *)status : "");
        status = sqlite3_column_text(st, 5);
        snprintf(a->priority, sizeof(a->priority), "%s", status ? (const char *)status : "");
    } else if (src != SQLITE_DONE) {
        rc = ledger__dberr(lg, src, err, errlen, "find active work order");
    }
    sqlite3_reset(st);
    return rc;
}

int ledger__wo_get(ledger_t *lg, const char *id, ledger_wo_t *wo, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    rc = ledger__stmt(lg, ST_GET_WO, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "t", id);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        rc = ledger__wo_from_row(st, wo);
        if (rc < 0)
            ledger__fail(rc, err, errlen, "ledger %s: out of memory", lg->path);
    } else if (src == SQLITE_DONE) {
        rc = ledger__fail(GW_ENOENT, err, errlen, "ledger %s: no work order %s", lg->path, id);
    } else {
        rc = ledger__dberr(lg, src, err, errlen, "read work order");
    }
    sqlite3_reset(st);
    return rc;
}

/* A change by a rule: the audit row and outbox event of ledger__announce_by. */
int ledger__announce(ledger_t *lg, const char *wo_id, const char *action, const char *from_status,
                     const char *to_status, const char *detail, int64_t now, char *err,
                     size_t errlen)
{
    static const ledger_actor_t rule = {"rule", "rule"};

    return ledger__announce_by(lg, wo_id, action, from_status, to_status, detail, &rule, now, err,
                               errlen);
}

int ledger__announce_by(ledger_t *lg, const char *wo_id, const char *action,
                        const char *from_status, const char *to_status, const char *detail,
                        const ledger_actor_t *by, int64_t now, char *err, size_t errlen)
{
    ledger_wo_t wo;
    sqlite3_stmt *st = NULL;
    char *payload;
    int64_t audit_id;
    int src;
    int rc;

    rc = ledger__stmt(lg, ST_AUDIT, &st, err, errlen);
    if (rc < 0)
        return rc;
    /* wo_id, ts, actor, action, from_status, to_status, detail */
    src = ledger__bind(st, "titttttt", wo_id, now, by->who, action, from_status, to_status, detail,
                       by->channel);
    if (src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "bind audit row");
    rc = ledger__exec(lg, st, "write audit row", err, errlen);
    if (rc < 0)
        return rc;
    audit_id = sqlite3_last_insert_rowid(lg->db);

    rc = ledger__wo_get(lg, wo_id, &wo, err, errlen);
    if (rc < 0)
        return rc;
    {
        ledger__change_t c = {action, from_status, to_status, by->who, by->channel, detail};
        payload = ledger__event_json(&wo, &c, audit_id, now);
    }
    ledger__wo_clear_fields(&wo);
    if (!payload)
        return ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", lg->path);

    rc = ledger__stmt(lg, ST_OUTBOX_INSERT, &st, err, errlen);
    if (rc < 0)
        goto out_free_payload;
    src = ledger__bind(st, "ttti", "workorder", wo_id, payload, now);
    if (src != SQLITE_OK) {
        rc = ledger__dberr(lg, src, err, errlen, "bind outbox row");
        goto out_free_payload;
    }
    rc = ledger__exec(lg, st, "write outbox row", err, errlen);
out_free_payload:
    free(payload);
    return rc;
}

static const char *ledger__nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* The assignee of the first route matching t's location and category, or
 * NULL. An empty route field matches anything. */
static const char *ledger__route(const ledger_policy_t *p, const ledger_trigger_t *t)
{
    for (size_t i = 0; i < p->nroutes; i++) {
        const ledger_route_t *r = &p->routes[i];
        if (r->building[0] && (!t->building || strcmp(r->building, t->building) != 0))
            continue;
        if (r->floor[0] && (!t->floor || strcmp(r->floor, t->floor) != 0))
            continue;
        if (r->category[0] && (!t->category || strcmp(r->category, t->category) != 0))
            continue;
        return r->assignee[0] ? r->assignee : NULL;
    }
    return NULL;
}

static int ledger__open_new(ledger_t *lg, const ledger_trigger_t *t, const char *fp,
                            const char *evidence, ledger_trigger_result_t *r, char *err,
                            size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char ulid[27];
    int64_t number;
    int64_t now = gw_wall_ms();
    int src;
    int rc;

    rc = ledger__stmt(lg, ST_NEXT_NUMBER, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "t", t->site);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = ledger__dberr(lg, src, err, errlen, "next work-order number");
        sqlite3_reset(st);
        return rc;
    }
    number = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);

    rc = ledger__ulid(lg, ulid, err, errlen);
    if (rc < 0)
        return rc;
    snprintf(r->id, sizeof(r->id), "%s:%s", t->site, ulid);

    rc = ledger__stmt(lg, ST_INSERT_WO, &st, err, errlen);
    if (rc < 0)
        return rc;
    /* ?1 id, ?2 number, ?3..?12 texts, ?13 ts, ?14 now, ?15..?18 texts, ?19 due */
    src = ledger__bind(st, "tittttttttttiitttti", r->id, number, t->site, fp, t->device, t->rule,
                       t->title ? t->title : t->rule, t->description, t->category,
                       t->work_type ? t->work_type : "corrective", gw_priority_name(t->priority),
                       evidence, t->ts_ms, now, ledger__nz(t->building), ledger__nz(t->floor),
                       ledger__nz(t->room), ledger__route(&lg->policy, t),
                       lg->policy.sla_ms[t->priority] ? t->ts_ms + lg->policy.sla_ms[t->priority]
                                                      : (int64_t)0);
    if (src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "bind work order");
    rc = ledger__exec(lg, st, "insert work order", err, errlen);
    if (rc < 0)
        return rc;
    rc = ledger__announce(lg, r->id, "opened", NULL, "open", evidence, now, err, errlen);
    if (rc < 0)
        return rc;
    r->opened = 1;
    r->number = number;
    r->occurrences = 1;
    return 0;
}

/* The checks every rule-driven call makes on its fingerprint parts. */
static int ledger__check_fp(const char *site, const char *device, const char *rule, char *err,
                            size_t errlen)
{
    if (!ledger__nonempty(site) || !ledger__nonempty(device) || !ledger__nonempty(rule))
        return ledger__fail(GW_EINVAL, err, errlen, "work order needs a site, device and rule");
    /* "<site>:<26-char ULID>" must fit ledger_trigger_result_t.id. */
    if (strlen(site) + 1 + 26 >= sizeof(((ledger_trigger_result_t *)0)->id))
        return ledger__fail(GW_EINVAL, err, errlen, "site name \"%.20s...\" is too long", site);
    return 0;
}

int ledger_wo_trigger(ledger_t *lg, const ledger_trigger_t *t, ledger_trigger_result_t *res,
                      char *err, size_t errlen)
{
    ledger_trigger_result_t r;
    ledger__active_t a;
    sqlite3_stmt *st = NULL;
    char *fp = NULL;
    char *evidence = NULL;
    int own_tx = 0;
    int src;
    int rc;

    memset(&r, 0, sizeof(r));
    if (!t)
        return ledger__fail(GW_EINVAL, err, errlen, "no trigger given");
    rc = ledger__check_fp(t->site, t->device, t->rule, err, errlen);
    if (rc < 0)
        return rc;
    if ((unsigned)t->priority > GW_PRIO_LOW)
        return ledger__fail(GW_EINVAL, err, errlen, "invalid priority %d", (int)t->priority);
    fp = ledger__fingerprint(t->site, t->device, t->rule);
    if (!fp || ledger__evidence_normalize(t->evidence_json, &evidence) < 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", lg->path);
        goto out_free;
    }
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        goto out_free;

    rc = ledger__find_active(lg, fp, &a, err, errlen);
    if (rc < 0)
        goto out_end;
    if (!a.found) {
        rc = ledger__open_new(lg, t, fp, evidence, &r, err, errlen);
        goto out_end;
    }
    memcpy(r.id, a.id, sizeof(r.id));
    r.number = a.number;
    r.occurrences = a.occurrences;
    if (a.cleared) {
        int64_t now = gw_wall_ms();
        rc = ledger__stmt(lg, ST_RETRIGGER, &st, err, errlen);
        if (rc < 0)
            goto out_end;
        src = ledger__bind(st, "titi", a.id, t->ts_ms, evidence, now);
        rc = src == SQLITE_OK ? ledger__exec(lg, st, "retrigger work order", err, errlen)
                              : ledger__dberr(lg, src, err, errlen, "bind retrigger");
        if (rc < 0)
            goto out_end;
        rc = ledger__announce(lg, a.id, "retriggered", a.status, a.status, evidence, now, err,
                              errlen);
        r.occurrences++;
    } else {
        rc = ledger__stmt(lg, ST_REFRESH, &st, err, errlen);
        if (rc < 0)
            goto out_end;
        src = ledger__bind(st, "tit", fp, t->ts_ms, evidence);
        rc = src == SQLITE_OK ? ledger__exec(lg, st, "refresh work order", err, errlen)
                              : ledger__dberr(lg, src, err, errlen, "bind refresh");
    }
out_end:
    rc = ledger__op_end(lg, own_tx, rc, err, errlen);
    if (rc == 0 && res)
        *res = r;
out_free:
    free(evidence);
    free(fp);
    return rc;
}

/* A rule asks for a more urgent priority than the active order of fp has (a
 * predicted failure drawing near): raise it, with an audit row and an event
 * "priority_raised". Never lowers: people may have raised it themselves. */
static int ledger__raise_priority(ledger_t *lg, const char *fp, gw_priority_t want, char *err,
                                  size_t errlen)
{
    ledger__active_t a;
    gw_priority_t cur;
    sqlite3_stmt *st = NULL;
    char detail[64];
    int64_t now;
    int src, rc;

    rc = ledger__find_active(lg, fp, &a, err, errlen);
    if (rc < 0 || !a.found || gw_priority_parse(a.priority, &cur) != 0 || want >= cur)
        return rc;
    now = gw_wall_ms();
    src = sqlite3_prepare_v2(lg->db,
                             "UPDATE work_orders SET priority = ?2, updated_at = ?3"
                             " WHERE id = ?1",
                             -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "tti", a.id, gw_priority_name(want), now);
    if (src == SQLITE_OK)
        src = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(lg->db);
    sqlite3_finalize(st);
    if (src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "raise priority");
    snprintf(detail, sizeof(detail), "{\"from\":\"%s\",\"to\":\"%s\"}", a.priority,
             gw_priority_name(want));
    return ledger__announce(lg, a.id, "priority_raised", a.status, a.status, detail, now, err,
                            errlen);
}

int ledger_wo_touch(ledger_t *lg, const ledger_trigger_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char *fp = NULL;
    char *evidence = NULL;
    int own_tx = 0;
    int src;
    int rc;

    if (!t)
        return ledger__fail(GW_EINVAL, err, errlen, "no trigger given");
    rc = ledger__check_fp(t->site, t->device, t->rule, err, errlen);
    if (rc < 0)
        return rc;
    if (lg->readonly)
        return ledger__fail(GW_ESTATE, err, errlen, "ledger %s is open read-only", lg->path);
    fp = ledger__fingerprint(t->site, t->device, t->rule);
    if (!fp || ledger__evidence_normalize(t->evidence_json, &evidence) < 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", lg->path);
        goto out_free;
    }
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        goto out_free;
    rc = ledger__stmt(lg, ST_REFRESH, &st, err, errlen);
    if (rc < 0)
        goto out_end;
    src = ledger__bind(st, "tit", fp, t->ts_ms, evidence);
    rc = src == SQLITE_OK ? ledger__exec(lg, st, "touch work order", err, errlen)
                          : ledger__dberr(lg, src, err, errlen, "bind touch");
    if (rc < 0)
        goto out_end;
    rc = ledger__raise_priority(lg, fp, t->priority, err, errlen);
out_end:
    rc = ledger__op_end(lg, own_tx, rc, err, errlen);
out_free:
    free(evidence);
    free(fp);
    return rc;
}

int ledger_wo_clear(ledger_t *lg, const char *site, const char *device, const char *rule,
                    int64_t ts_ms, const char *evidence_json, char *err, size_t errlen)
{
    ledger__active_t a;
    sqlite3_stmt *st = NULL;
    char *fp = NULL;
    char *evidence = NULL;
    int64_t now;
    int own_tx = 0;
    int src;
    int rc;

    rc = ledger__check_fp(site, device, rule, err, errlen);
    if (rc < 0)
        return rc;
    fp = ledger__fingerprint(site, device, rule);
    if (!fp || ledger__evidence_normalize(evidence_json, &evidence) < 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", lg->path);
        goto out_free;
    }
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        goto out_free;
    rc = ledger__find_active(lg, fp, &a, err, errlen);
    /* No active order, or its condition already cleared: nothing to say. */
    if (rc < 0 || !a.found || a.cleared)
        goto out_end;
    now = gw_wall_ms();
    rc = ledger__stmt(lg, ST_CLEAR, &st, err, errlen);
    if (rc < 0)
        goto out_end;
    src = ledger__bind(st, "titi", a.id, ts_ms, evidence, now);
    rc = src == SQLITE_OK ? ledger__exec(lg, st, "clear work order", err, errlen)
                          : ledger__dberr(lg, src, err, errlen, "bind clear");
    if (rc < 0)
        goto out_end;
    rc = ledger__announce(lg, a.id, "cleared", a.status, a.status, evidence, now, err, errlen);
out_end:
    rc = ledger__op_end(lg, own_tx, rc, err, errlen);
out_free:
    free(evidence);
    free(fp);
    return rc;
}

int ledger_wo_list(ledger_t *lg, const ledger_wo_filter_t *f, ledger_wo_t **out, size_t *n,
                   char *err, size_t errlen)
{
    ledger_wo_filter_t none = {0};
    ledger_wo_t *arr = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    *out = NULL;
    *n = 0;
    if (!f)
        f = &none;
    if (f->limit < 0)
        return ledger__fail(GW_EINVAL, err, errlen, "negative limit %d", f->limit);
    rc = ledger__stmt(lg, ST_LIST_WO, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "ttiitti", f->status, f->device, (int64_t)(f->active_only != 0),
                       (int64_t)(f->limit ? f->limit : -1), f->priority, f->category, f->since_ms);
    if (src != SQLITE_OK) {
        rc = ledger__dberr(lg, src, err, errlen, "bind list filter");
        goto out_reset;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (gw_array_grow((void **)&arr, count, &cap, sizeof(*arr)) != 0) {
            rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", lg->path);
            goto out_free;
        }
        rc = ledger__wo_from_row(st, &arr[count]);
        if (rc < 0) {
            ledger__fail(rc, err, errlen, "ledger %s: out of memory", lg->path);
            goto out_free;
        }
        count++;
    }
    if (src != SQLITE_DONE) {
        rc = ledger__dberr(lg, src, err, errlen, "list work orders");
        goto out_free;
    }
    sqlite3_reset(st);
    *out = arr;
    *n = count;
    return 0;

out_free:
    ledger_wo_free_array(arr, count);
out_reset:
    sqlite3_reset(st);
    return rc;
}

void ledger_wo_free_array(ledger_wo_t *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++)
        ledger__wo_clear_fields(&arr[i]);
    free(arr);
}

/* ---- outbox ------------------------------------------------------------- */

int ledger_outbox_list(ledger_t *lg, int64_t after_id, int limit, ledger_outbox_row_t **out,
                       size_t *n, char *err, size_t errlen)
{
    ledger_outbox_row_t *arr = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    *out = NULL;
    *n = 0;
    if (limit < 0)
        return ledger__fail(GW_EINVAL, err, errlen, "negative limit %d", limit);
    rc = ledger__stmt(lg, ST_OUTBOX_LIST, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "ii", after_id, (int64_t)(limit ? limit : -1));
    if (src != SQLITE_OK) {
        rc = ledger__dberr(lg, src, err, errlen, "bind outbox list");
        goto out_reset;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        ledger_outbox_row_t *row;
        int oom = 0;
        if (gw_array_grow((void **)&arr, count, &cap, sizeof(*arr)) != 0) {
            rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", lg->path);
            goto out_free;
        }
        row = &arr[count++];
        row->id = sqlite3_column_int64(st, 0);
        row->channel = ledger__col_dup(st, 1, &oom);
        row->key = ledger__col_dup(st, 2, &oom);
        row->payload = ledger__col_dup(st, 3, &oom);
        row->created_at = sqlite3_column_int64(st, 4);
        if (oom) {
            rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", lg->path);
            goto out_free;
        }
    }
    if (src != SQLITE_DONE) {
        rc = ledger__dberr(lg, src, err, errlen, "list outbox");
        goto out_free;
    }
    sqlite3_reset(st);
    *out = arr;
    *n = count;
    return 0;

out_free:
    ledger_outbox_free_array(arr, count);
out_reset:
    sqlite3_reset(st);
    return rc;
}

void ledger_outbox_free_array(ledger_outbox_row_t *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++) {
        free(arr[i].channel);
        free(arr[i].key);
        free(arr[i].payload);
    }
    free(arr);
}

int ledger_outbox_delete(ledger_t *lg, int64_t id, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    if (lg->readonly)
        return ledger__fail(GW_ESTATE, err, errlen, "ledger %s is open read-only", lg->path);
    rc = ledger__stmt(lg, ST_OUTBOX_DELETE, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "i", id);
    if (src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "bind outbox delete");
    return ledger__exec(lg, st, "delete outbox row", err, errlen);
}

int ledger__outbox_max_id(ledger_t *lg, int64_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    rc = ledger__stmt(lg, ST_OUTBOX_MAX, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = ledger__dberr(lg, src, err, errlen, "read outbox position");
    sqlite3_reset(st);
    return rc;
}
