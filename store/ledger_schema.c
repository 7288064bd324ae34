/*
 * ledger_schema.c: the ledger's schema as a list of migrations, PRAGMA
 * user_version counting how many a file has had, and applying the ones it
 * lacks when it is opened (store/ledger_int.h). At most one active work
 * order per fingerprint is a property of the schema (a partial unique
 * index), not only of the code. Design: docs/architecture.md (the schema
 * and its versions).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>

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

    /* v4: the id of each change's event kept with its audit row (unique: an
     * event announced before its commit is committed once, under that id);
     * per-consumer acknowledgement of outbox rows (bits: 1 MQTT, 2 the
     * notifier), a row being deleted once both have it. */
    "ALTER TABLE audit ADD COLUMN event_id TEXT;"
    "CREATE UNIQUE INDEX audit_event_id ON audit(event_id) WHERE event_id IS NOT NULL;"
    "ALTER TABLE outbox ADD COLUMN acked INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX outbox_created ON outbox(created_at);",

    /* v5: the audit trail as a hash chain (ledger_audit.c). The table is
     * rebuilt so that a row may be about no work order (a write to a
     * device, a refused command) and carry its hash; rows written before
     * are hashed right after this migration, in the same transaction
     * (ledger__audit_chain_existing). The horizon gains the cut's first id
     * and the hash the first kept row chains from; rows are deleted by id
     * below it. The horizon moves only forward and only with its first id
     * (every cut moves it), so that moving the time alone, to make rows
     * deletable, is refused. */
    "CREATE TABLE audit_v5 ("
    " id INTEGER PRIMARY KEY,"
    " wo_id TEXT REFERENCES work_orders(id),"
    " ts INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " from_status TEXT,"
    " to_status TEXT,"
    " detail TEXT,"
    " channel TEXT NOT NULL DEFAULT 'rule',"
    " event_id TEXT,"
    " hash TEXT);"
    "INSERT INTO audit_v5 (id, wo_id, ts, actor, action, from_status, to_status, detail, channel,"
    " event_id)"
    " SELECT id, wo_id, ts, actor, action, from_status, to_status, detail, channel, event_id"
    " FROM audit;"
    "DROP TABLE audit;"
    "ALTER TABLE audit_v5 RENAME TO audit;"
    "CREATE INDEX audit_wo ON audit(wo_id, id);"
    "CREATE INDEX audit_ts ON audit(ts);"
    "CREATE UNIQUE INDEX audit_event_id ON audit(event_id) WHERE event_id IS NOT NULL;"
    "ALTER TABLE audit_horizon ADD COLUMN before_id INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE audit_horizon ADD COLUMN anchor TEXT;"
    "DROP TRIGGER audit_horizon_forward;"
    "CREATE TRIGGER audit_horizon_forward BEFORE UPDATE ON audit_horizon"
    " WHEN NEW.before_ts < OLD.before_ts OR NEW.before_id <= OLD.before_id"
    " BEGIN SELECT RAISE(ABORT, 'the audit horizon moves only forward, with a purge'); END;"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit WHEN OLD.hash IS NOT NULL"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " WHEN OLD.id >= (SELECT before_id FROM audit_horizon WHERE id = 1)"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;",

    /* v6: the rollups keyed by time first, (ts, device, point): a minute's
     * buckets of every point are appended together at the end of the tree
     * instead of one row into every series' own page. Instant: the old
     * tables are renamed (kept as they are, with their ts indexes), the new
     * ones created empty and written at once; the ledger thread moves the
     * old rows over in small batches while idle (ledger_rollup_move.c) and
     * drops the old tables when they are empty. Readers of hours read
     * rollup_1h_all, both tables until then (every reader aggregates, so a
     * bucket split between them merges); rollup_1h_series serves reads by
     * series. */
    "ALTER TABLE rollup_1m RENAME TO rollup_1m_v5;"
    "ALTER TABLE rollup_1h RENAME TO rollup_1h_v5;"
    "CREATE TABLE rollup_1m ("
    " device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, unit TEXT,"
    " min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL,"
    " PRIMARY KEY (ts, device, point)) WITHOUT ROWID;"
    "CREATE TABLE rollup_1h ("
    " device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, unit TEXT,"
    " min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL,"
    " PRIMARY KEY (ts, device, point)) WITHOUT ROWID;"
    "CREATE INDEX rollup_1h_series ON rollup_1h(device, point, ts);"
    "CREATE VIEW rollup_1h_all AS"
    " SELECT device, point, ts, unit, min, max, sum, count, last_ts FROM rollup_1h"
    " UNION ALL"
    " SELECT device, point, ts, unit, min, max, sum, count, last_ts FROM rollup_1h_v5;",
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

static int ledger__pragma_int(ledger_t *lg, const char *sql, int *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);

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

/* Apply the migrations the file lacks, all in one transaction. A read-only
 * connection only checks that the schema is the one this program knows. */
int ledger__migrate(ledger_t *lg, char *err, size_t errlen)
{
    char sql[64];
    int version = 0, unchained = 0;
    int src;
    int rc;

    rc = ledger__pragma_int(lg, "PRAGMA user_version", &version, err, errlen);
    if (rc == -EROFS && ledger__readonly(lg))
        return ledger__fail(rc, err, errlen,
                            "ledger %s: cannot read it: a WAL ledger needs its -shm file or a "
                            "directory this user may write (run as plantroomd's user)",
                            ledger_path(lg));
    if (rc < 0)
        return rc;
    if (version > LEDGER__SCHEMA_VERSION)
        return ledger__fail(GW_ESTATE, err, errlen,
                            "ledger %s has schema version %d, newer than this program's %d",
                            ledger_path(lg), version, LEDGER__SCHEMA_VERSION);
    if (ledger__readonly(lg)) {
        if (version < LEDGER__SCHEMA_VERSION)
            return ledger__fail(GW_ESTATE, err, errlen,
                                "ledger %s has schema version %d, expected %d (not a ledger, or "
                                "not yet migrated by plantroomd)",
                                ledger_path(lg), version, LEDGER__SCHEMA_VERSION);
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
        src = sqlite3_exec(ledger__db(lg), ledger__migrations[v], NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            snprintf(sql, sizeof(sql), "migrate to schema version %d", v + 1);
            rc = ledger__dberr(lg, src, err, errlen, sql);
            goto out_rollback;
        }
    }
    /* Rows from before the audit chain (any version before it) are hashed
     * in this same transaction, whatever number its migration has. */
    rc = ledger__audit_unchained(lg, &unchained, err, errlen);
    if (rc == 0 && unchained)
        rc = ledger__audit_chain_existing(lg, err, errlen);
    if (rc < 0)
        goto out_rollback;
    /* PRAGMA takes no parameter; the value is our own constant. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", LEDGER__SCHEMA_VERSION);
    src = sqlite3_exec(ledger__db(lg), sql, NULL, NULL, NULL);
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
