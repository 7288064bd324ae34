/*
 * ledger_rollup.c: telemetry rollups, device status and retention
 * (store/ledger.h).
 *
 * The daemon's loop (gateway/core/core_rollup.c) accumulates good samples per point
 * into 1-minute buckets and hands closed buckets to the ledger thread, which
 * merges each into rollup_1m and into its hour in rollup_1h. Buckets keep
 * min, max, sum and count (mean = sum / count), so merging is exact and a
 * bucket that arrives in two parts (a restart mid-minute) is still right.
 * Retention (ledger_purge) runs on the ledger thread once a day; audit rows
 * can only be deleted below a horizon that moves forward (schema v2).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_clock.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER__DAY_MS (24LL * 3600 * 1000)

/* One bucket, wherever its fields are (a row or a packed row). */
typedef struct ledger__bucket {
    const char *device, *point, *unit;
    int64_t ts_ms;
    double min, max, sum;
    int64_t count, last_ts;
} ledger__bucket_t;

/* Bind bucket b as row i of st (parameters 9 * i + 1 to 9 * i + 9); hour:
 * the start of its hour for its time, as ST_ROLLUP_1H computes it. A
 * SQLite code. */
static int ledger__bind_bucket(sqlite3_stmt *st, int i, const ledger__bucket_t *b, int hour)
{
    int p = 9 * i, src;

    src = sqlite3_bind_text(st, p + 1, b->device, -1, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_bind_text(st, p + 2, b->point, -1, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_bind_int64(st, p + 3, hour ? b->ts_ms - b->ts_ms % 3600000 : b->ts_ms);
    if (src == SQLITE_OK)
        src = b->unit ? sqlite3_bind_text(st, p + 4, b->unit, -1, SQLITE_STATIC)
                      : sqlite3_bind_null(st, p + 4);
    if (src == SQLITE_OK)
        src = sqlite3_bind_double(st, p + 5, b->min);
    if (src == SQLITE_OK)
        src = sqlite3_bind_double(st, p + 6, b->max);
    if (src == SQLITE_OK)
        src = sqlite3_bind_double(st, p + 7, b->sum);
    if (src == SQLITE_OK)
        src = sqlite3_bind_int64(st, p + 8, b->count);
    if (src == SQLITE_OK)
        src = sqlite3_bind_int64(st, p + 9, b->last_ts);
    return src;
}

/* Merge n buckets (at most LEDGER__ROLLUP_ROWS) into rollup_1m and
 * rollup_1h, in order: a full set in one statement per table, fewer one
 * statement a row. */
static int ledger__rollup_rows(ledger_t *lg, const ledger__bucket_t *b, size_t n, char *err,
                               size_t errlen)
{
    static const int one[] = {ST_ROLLUP_1M, ST_ROLLUP_1H},
                     many[] = {ST_ROLLUP_1M_N, ST_ROLLUP_1H_N};
    sqlite3_stmt *st = NULL;
    int rc = 0, src = SQLITE_OK;

    for (size_t t = 0; t < 2 && rc == 0; t++) {
        if (n == LEDGER__ROLLUP_ROWS) {
            rc = ledger__stmt(lg, many[t], &st, err, errlen);
            for (size_t i = 0; i < n && rc == 0 && src == SQLITE_OK; i++)
                src = ledger__bind_bucket(st, (int)i, &b[i], (int)t);
            if (rc == 0)
                rc = src == SQLITE_OK ? ledger__exec(lg, st, "write rollups", err, errlen)
                                      : ledger__dberr(lg, src, err, errlen, "bind rollups");
            continue;
        }
        for (size_t i = 0; i < n && rc == 0; i++) {
            rc = ledger__stmt(lg, one[t], &st, err, errlen);
            src = rc == 0 ? ledger__bind_bucket(st, 0, &b[i], 0) : SQLITE_OK;
            if (rc == 0)
                rc = src == SQLITE_OK ? ledger__exec(lg, st, "write rollup", err, errlen)
                                      : ledger__dberr(lg, src, err, errlen, "bind rollup");
        }
    }
    return rc;
}

/* The device's last seen time: once for a run of rows of one device (a
 * device's closed buckets come together), not once per row. */
static int ledger__device_seen(ledger_t *lg, const char *device, int64_t last_ts, char *err,
                               size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ledger__stmt(lg, ST_DEVICE_SEEN, &st, err, errlen), src;

    if (rc < 0)
        return rc;
    src = ledger__bind(st, "ti", device, last_ts);
    return src == SQLITE_OK ? ledger__exec(lg, st, "device last seen", err, errlen)
                            : ledger__dberr(lg, src, err, errlen, "bind last seen");
}

/* Bucket i of rows (ledger_rollup_row_t) or of packed rows with names. */
typedef ledger__bucket_t (*ledger__bucket_fn)(const void *rows, size_t i, const char *names);

static ledger__bucket_t ledger__of_row(const void *rows, size_t i, const char *names)
{
    const ledger_rollup_row_t *r = (const ledger_rollup_row_t *)rows + i;

    (void)names;
    return (ledger__bucket_t){r->device, r->point, r->unit,  r->ts_ms,  r->min,
                              r->max,    r->sum,   r->count, r->last_ts};
}

static ledger__bucket_t ledger__of_packed(const void *rows, size_t i, const char *names)
{
    const ledger_rollup_packed_t *p = (const ledger_rollup_packed_t *)rows + i;
    const char *point = names + p->pt;

    return (ledger__bucket_t){names + p->dev, point,    point + strlen(point) + 1,
                              p->ts_ms,       p->min,   p->max,
                              p->sum,         p->count, p->last_ts};
}

/* Every bucket is checked before any is written: a bad one (no device,
 * point or count; a NaN, which would bind as NULL) fails the whole merge
 * with nothing written. */
static int ledger__rollup_check(const void *rows, size_t n, const char *names, ledger__bucket_fn at,
                                char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        ledger__bucket_t b = at(rows, i, names);
        if (!b.device[0] || !b.point[0] || b.count <= 0)
            return ledger__fail(GW_EINVAL, err, errlen,
                                "rollup row without device, point or count");
        if (isnan(b.min) || isnan(b.max) || isnan(b.sum))
            return ledger__fail(GW_EINVAL, err, errlen, "rollup row of %s/%s is not a number",
                                b.device, b.point);
    }
    return 0;
}

/* Inside the caller's transaction (the ledger thread's batch) the merge
 * takes no savepoint of its own: its rows were checked first, each
 * statement is undone whole by SQLite if it fails, and what can still fail
 * then is the storage, which rolls the whole batch back. Under a savepoint
 * SQLite would keep a copy of every page each 32-row statement touches
 * until the merge ends, past 64 KiB in a temporary file: some 4,000 page
 * writes to it at a minute's close of 10,000 points (docs/performance.md,
 * "Polling only: the ledger's minute close"). An error that is not the
 * storage's (none is expected once the rows are checked) would leave the
 * statements before it in the batch: part of a minute's rollups, never a
 * work order's rows. */
static int ledger__rollup_merge(ledger_t *lg, const void *rows, size_t n, const char *names,
                                ledger__bucket_fn at, char *err, size_t errlen)
{
    ledger__bucket_t buf[LEDGER__ROLLUP_ROWS];
    const char *prev = NULL;
    int64_t seen = 0;
    size_t k = 0;
    int own_tx = 0;
    int rc;

    rc = ledger__rollup_check(rows, n, names, at, err, errlen);
    if (rc == 0 && !ledger__in_tx(lg))
        rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        ledger__bucket_t b = at(rows, i, names);
        int same = prev && strcmp(b.device, prev) == 0;
        buf[k++] = b;
        if (k == LEDGER__ROLLUP_ROWS || i + 1 == n) {
            rc = ledger__rollup_rows(lg, buf, k, err, errlen);
            k = 0;
        }
        seen = same && seen > b.last_ts ? seen : b.last_ts;
        prev = b.device;
        if (rc == 0 && (i + 1 == n || strcmp(at(rows, i + 1, names).device, b.device) != 0))
            rc = ledger__device_seen(lg, b.device, seen, err, errlen);
    }
    return own_tx ? ledger__op_end(lg, own_tx, rc, err, errlen) : rc;
}

int ledger_rollup_add(ledger_t *lg, const ledger_rollup_row_t *rows, size_t n, char *err,
                      size_t errlen)
{
    return ledger__rollup_merge(lg, rows, n, NULL, ledger__of_row, err, errlen);
}

int ledger_rollup_add_packed(ledger_t *lg, const ledger_rollup_packed_t *rows, size_t n,
                             const char *names, char *err, size_t errlen)
{
    return ledger__rollup_merge(lg, rows, n, names, ledger__of_packed, err, errlen);
}

int ledger_device_status(ledger_t *lg, const char *device, const char *status, int64_t ts_ms,
                         const char *detail, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int own_tx = 0;
    int src;
    int rc;

    if (!device || !*device || !status || !*status)
        return ledger__fail(GW_EINVAL, err, errlen, "device status needs a device and a status");
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        return rc;
    /* The same status again (the daemon restarted): nothing changed. */
    {
        sqlite3_stmt *q = NULL;
        src = sqlite3_prepare_v2(ledger__db(lg), "SELECT status FROM devices WHERE name = ?1", -1,
                                 &q, NULL);
        if (src == SQLITE_OK)
            src = ledger__bind(q, "t", device);
        if (src == SQLITE_OK)
            src = sqlite3_step(q);
        if (src == SQLITE_ROW) {
            const unsigned char *cur = sqlite3_column_text(q, 0);
            int same = cur && strcmp((const char *)cur, status) == 0;
            sqlite3_finalize(q);
            if (same)
                return ledger__op_end(lg, own_tx, 0, err, errlen);
        } else {
            sqlite3_finalize(q);
            if (src != SQLITE_DONE)
                return ledger__op_end(
                    lg, own_tx, ledger__dberr(lg, src, err, errlen, "read device"), err, errlen);
        }
    }
    rc = ledger__stmt(lg, ST_DEVICE_STATUS, &st, err, errlen);
    if (rc == 0) {
        src = ledger__bind(st, "ttit", device, status, ts_ms, detail);
        rc = src == SQLITE_OK ? ledger__exec(lg, st, "device status", err, errlen)
                              : ledger__dberr(lg, src, err, errlen, "bind device status");
    }
    if (rc == 0)
        rc = ledger__stmt(lg, ST_DEVICE_EVENT, &st, err, errlen);
    if (rc == 0) {
        src = ledger__bind(st, "titt", device, ts_ms, status, detail);
        rc = src == SQLITE_OK ? ledger__exec(lg, st, "device event", err, errlen)
                              : ledger__dberr(lg, src, err, errlen, "bind device event");
    }
    return ledger__op_end(lg, own_tx, rc, err, errlen);
}

static void ledger__json_time(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
    char buf[32];

    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key,
                                gw_format_iso8601(sqlite3_column_int64(st, col), buf, sizeof(buf)));
}

int ledger_devices_json(ledger_t *lg, char **out, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT d.name, d.status, d.status_since, d.last_seen, d.detail,"
        " (SELECT COUNT(DISTINCT point) FROM rollup_1h_all r WHERE r.device = d.name)"
        " FROM devices d ORDER BY d.name";
    sqlite3_stmt *st = NULL;
    cJSON *arr = cJSON_CreateArray();
    int src;
    int rc = 0;

    *out = NULL;
    if (!arr)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        const unsigned char *status = sqlite3_column_text(st, 1);
        const unsigned char *detail = sqlite3_column_text(st, 4);
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(st, 0));
        cJSON_AddStringToObject(o, "status", status ? (const char *)status : "unknown");
        ledger__json_time(o, "status_since", st, 2);
        ledger__json_time(o, "last_seen", st, 3);
        if (detail)
            cJSON_AddStringToObject(o, "detail", (const char *)detail);
        else
            cJSON_AddNullToObject(o, "detail");
        cJSON_AddNumberToObject(o, "points", (double)sqlite3_column_int64(st, 5));
        src = SQLITE_OK;
    }
    if (src != SQLITE_DONE)
        rc = ledger__dberr(lg, src, err, errlen, "list devices");
    sqlite3_finalize(st);
    if (rc == 0) {
        *out = cJSON_PrintUnformatted(arr);
        if (!*out)
            rc = ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    }
    cJSON_Delete(arr);
    return rc;
}

/* Run one DELETE/UPDATE with a time bound; adds the rows changed to *n. */
static int ledger__purge_one(ledger_t *lg, const char *sql, int64_t bound, int64_t *n, char *err,
                             size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);

    if (src == SQLITE_OK)
        src = ledger__bind(st, "i", bound);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "purge");
    *n += sqlite3_changes(ledger__db(lg));
    return 0;
}

int ledger_purge(ledger_t *lg, int64_t now_ms, int64_t *deleted, char *err, size_t errlen)
{
    const ledger_policy_t *p = ledger__policy(lg);
    int64_t audit_before = now_ms - (int64_t)p->audit_retention_days * LEDGER__DAY_MS;
    int64_t n = 0, moved = 0;
    int own_tx = 0, old;
    int rc;

    if (p->audit_retention_days < 1 || p->rollup_1m_retention_days < 1 ||
        p->rollup_1h_retention_days < 1)
        return ledger__fail(GW_EINVAL, err, errlen, "retention must be at least one day");
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        return rc;
    /* The audit chain is cut from its old end, and the cut recorded in it
     * (ledger_audit.c). */
    rc = ledger__audit_purge(lg, audit_before, now_ms, &moved, err, errlen);
    n += moved;
    if (rc == 0)
        rc = ledger__purge_one(lg, "DELETE FROM rollup_1m WHERE ts < ?1",
                               now_ms - (int64_t)p->rollup_1m_retention_days * LEDGER__DAY_MS, &n,
                               err, errlen);
    if (rc == 0)
        rc = ledger__purge_one(lg, "DELETE FROM rollup_1h WHERE ts < ?1",
                               now_ms - (int64_t)p->rollup_1h_retention_days * LEDGER__DAY_MS, &n,
                               err, errlen);
    /* rows not yet moved to the v6 tables (ledger_rollup_move.c) */
    old = rc == 0 ? ledger__rollup_old(lg, err, errlen) : 0;
    rc = old < 0 ? old : rc;
    if (rc == 0 && old)
        rc = ledger__purge_one(lg, "DELETE FROM rollup_1m_v5 WHERE ts < ?1",
                               now_ms - (int64_t)p->rollup_1m_retention_days * LEDGER__DAY_MS, &n,
                               err, errlen);
    if (rc == 0 && old)
        rc = ledger__purge_one(lg, "DELETE FROM rollup_1h_v5 WHERE ts < ?1",
                               now_ms - (int64_t)p->rollup_1h_retention_days * LEDGER__DAY_MS, &n,
                               err, errlen);
    if (rc == 0)
        rc = ledger__purge_one(lg, "DELETE FROM device_events WHERE ts < ?1",
                               now_ms - (int64_t)p->rollup_1h_retention_days * LEDGER__DAY_MS, &n,
                               err, errlen);
    rc = ledger__op_end(lg, own_tx, rc, err, errlen);
    if (rc == 0 && deleted)
        *deleted = n;
    return rc;
}
