/*
 * ledger_rollup_move.c: the online part of schema v6 (store/ledger.h,
 * ledger_rollup_move).
 *
 * Migration v6 (ledger_schema.c) only renames the series-first rollup
 * tables to rollup_1m_v5 / rollup_1h_v5 and creates the time-first ones
 * empty, so that a ledger of any size opens at once. The ledger thread then
 * moves the old rows over while it has nothing else to do: each batch takes
 * the first rows of an old table in key order, merges them into the new
 * table (as the minute upserts merge: min, max, sum, count, last_ts) and
 * deletes them from the old one, in one transaction. A kill between batches
 * leaves every row in exactly one table; the old tables are the progress.
 * When both are empty they are dropped and rollup_1h_all becomes the new
 * table alone. Until then readers read both through rollup_1h_all. The
 * design is in docs/architecture.md ("Ledger schema", "Rollups").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include <sqlite3.h>
#include <stdio.h>

#define LEDGER__COLS "device, point, ts, unit, min, max, sum, count, last_ts"

/* Once both old tables are empty: the view reads the new table alone. */
static const char ledger__move_finish[] =
    "DROP VIEW rollup_1h_all;"
    "CREATE VIEW rollup_1h_all AS SELECT " LEDGER__COLS " FROM rollup_1h;"
    "DROP TABLE rollup_1m_v5;"
    "DROP TABLE rollup_1h_v5;";

/* One integer from a query with optional int64 parameter ?1. */
static int ledger__move_int(ledger_t *lg, const char *sql, int64_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);

    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        int rc = ledger__dberr(lg, src, err, errlen, "rollup migration");
        sqlite3_finalize(st);
        return rc;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int ledger__rollup_old(ledger_t *lg, char *err, size_t errlen)
{
    int64_t n = 0;
    int rc = ledger__move_int(lg,
                              "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
                              " AND name IN ('rollup_1m_v5', 'rollup_1h_v5')",
                              &n, err, errlen);

    return rc < 0 ? rc : n > 0;
}

/* Move the first n rows of table t ("1m" or "1h") in its key order; *moved
 * gets how many. Inside the caller's transaction. */
static int ledger__move_table(ledger_t *lg, const char *t, int n, int *moved, char *err,
                              size_t errlen)
{
    char sql[640];
    sqlite3_stmt *st = NULL;
    int src;

    *moved = 0;
    /* the key of the n-th row: everything up to it moves */
    snprintf(sql, sizeof(sql),
             "SELECT device, point, ts FROM rollup_%s_v5 ORDER BY device, point, ts"
             " LIMIT 1 OFFSET %d",
             t, n - 1);
    src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        goto out_err;
    /* fewer than n rows: all of them (the key bound is then unbound: NULL,
     * and the condition below is "?1 IS NULL") */
    {
        sqlite3_stmt *mv = NULL;
        const char *bound = "(?1 IS NULL OR (device, point, ts) <= (?1, ?2, ?3))";
        const char *steps[2];
        char ins[900], del[300];

        snprintf(ins, sizeof(ins),
                 "INSERT INTO rollup_%s (" LEDGER__COLS ") SELECT " LEDGER__COLS
                 " FROM rollup_%s_v5 WHERE %s ORDER BY device, point, ts"
                 " ON CONFLICT (ts, device, point) DO UPDATE SET"
                 " min = MIN(min, excluded.min), max = MAX(max, excluded.max),"
                 " sum = sum + excluded.sum, count = count + excluded.count,"
                 " last_ts = MAX(last_ts, excluded.last_ts), unit = COALESCE(unit, excluded.unit)",
                 t, t, bound);
        snprintf(del, sizeof(del), "DELETE FROM rollup_%s_v5 WHERE %s", t, bound);
        steps[0] = ins;
        steps[1] = del;
        for (int i = 0; i < 2; i++) {
            int s2 = sqlite3_prepare_v2(ledger__db(lg), steps[i], -1, &mv, NULL);
            for (int c = 0; s2 == SQLITE_OK && src == SQLITE_ROW && c < 3; c++)
                s2 = sqlite3_bind_value(mv, c + 1, sqlite3_column_value(st, c));
            if (s2 == SQLITE_OK)
                s2 = sqlite3_step(mv);
            if (i == 1 && s2 == SQLITE_DONE)
                *moved = sqlite3_changes(ledger__db(lg));
            if (s2 != SQLITE_DONE) { /* the message before finalize clears it */
                int rc = ledger__dberr(lg, s2, err, errlen, "rollup migration");
                sqlite3_finalize(mv);
                sqlite3_finalize(st);
                return rc;
            }
            sqlite3_finalize(mv);
        }
    }
    sqlite3_finalize(st);
    return 0;

out_err:
    src = ledger__dberr(lg, src, err, errlen, "rollup migration");
    sqlite3_finalize(st);
    return src;
}

/* Rows left in the old tables. */
static int ledger__move_count(ledger_t *lg, int64_t *left, char *err, size_t errlen)
{
    return ledger__move_int(lg,
                            "SELECT (SELECT COUNT(*) FROM rollup_1m_v5)"
                            " + (SELECT COUNT(*) FROM rollup_1h_v5)",
                            left, err, errlen);
}

int ledger_rollup_move(ledger_t *lg, int max_rows, int64_t *left, char *err, size_t errlen)
{
    int own_tx = 0, m1h = 0, m1m = 0;
    int rc;

    if (max_rows < 1)
        return ledger__fail(GW_EINVAL, err, errlen, "rollup migration: no rows to move");
    rc = ledger__rollup_old(lg, err, errlen);
    if (rc <= 0) {
        *left = 0;
        return rc;
    }
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        return rc;
    if (*left < 0)
        rc = ledger__move_count(lg, left, err, errlen);
    if (rc == 0)
        rc = ledger__move_table(lg, "1h", max_rows, &m1h, err, errlen);
    if (rc == 0 && m1h < max_rows)
        rc = ledger__move_table(lg, "1m", max_rows - m1h, &m1m, err, errlen);
    if (rc == 0 && m1h + m1m < max_rows) { /* both empty now */
        int src = sqlite3_exec(ledger__db(lg), ledger__move_finish, NULL, NULL, NULL);
        if (src != SQLITE_OK)
            rc = ledger__dberr(lg, src, err, errlen, "rollup migration: drop the old tables");
    }
    rc = ledger__op_end(lg, own_tx, rc, err, errlen);
    if (rc < 0)
        return rc;
    *left = m1h + m1m < max_rows ? 0 : *left - m1h - m1m;
    if (*left < 1 && m1h + m1m == max_rows)
        *left = 1; /* the count was stale (rows purged since): the next batch counts */
    return 0;
}

int ledger__rollup_move_open(ledger_t *lg, char *err, size_t errlen)
{
    int64_t rows = 0;
    int rc;

    if (ledger__readonly(lg))
        return 0;
    rc = ledger__rollup_old(lg, err, errlen);
    if (rc <= 0)
        return rc;
    rc = ledger__move_int(lg,
                          "SELECT EXISTS (SELECT 1 FROM rollup_1m_v5)"
                          " OR EXISTS (SELECT 1 FROM rollup_1h_v5)",
                          &rows, err, errlen);
    if (rc < 0 || rows)
        return rc;
    /* a new file, or nothing to move: done at once */
    return ledger_rollup_move(lg, 1, &rows, err, errlen);
}
