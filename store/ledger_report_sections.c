/*
 * ledger_report_sections.c: sections of the monthly report
 * (ledger_report_int.h; what each means: docs/operations.md, "Monthly
 * report"): the areas with far more repairs than the others, the worst
 * late orders, device availability from the online/offline events, and the
 * energy anomalies raised.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER__FLAG_RATIO 2.0 /* an area with this many times the others' median */
#define LEDGER__FLAG_MIN   3   /* and at least this many orders */

void ledger__report_flag_areas(cJSON *kpi)
{
    cJSON *areas = cJSON_GetObjectItemCaseSensitive(kpi, "by_location"), *a;
    size_t n = (size_t)cJSON_GetArraySize(areas), i = 0;
    double *all = calloc(n ? n : 1, sizeof(*all)), *others = calloc(n ? n : 1, sizeof(*others));

    if (!all || !others)
        goto out_free;
    cJSON_ArrayForEach(a, areas) all[i++] =
        cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "opened"));
    i = 0;
    cJSON_ArrayForEach(a, areas)
    {
        double mine = all[i], med;
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i)
                others[k++] = all[j];
        med = ledger__median(others, k);
        if (k > 0 && med > 0)
            cJSON_AddNumberToObject(a, "ratio", mine / med);
        else
            cJSON_AddNullToObject(a, "ratio");
        cJSON_AddBoolToObject(
            a, "flagged", k > 0 && mine >= LEDGER__FLAG_MIN && mine >= LEDGER__FLAG_RATIO * med);
        i++;
    }
    memcpy(others, all, n * sizeof(*all));
    cJSON_AddNumberToObject(kpi, "location_median", ledger__median(others, n));
    cJSON_AddNumberToObject(kpi, "flag_ratio", LEDGER__FLAG_RATIO);
out_free:
    free(all);
    free(others);
}

int ledger__report_late(ledger_t *lg, int64_t from, int64_t to, int64_t now, cJSON *arr, char *err,
                        size_t errlen)
{
    static const char sql[] =
        "SELECT number, id, title, device, COALESCE(category, ''), priority, status,"
        " COALESCE(building, '-') || ' / ' || COALESCE(floor, '-'), opened_at, due_at,"
        " resolved_at, COALESCE(resolved_at, ?3) - due_at"
        " FROM work_orders WHERE opened_at >= ?1 AND opened_at < ?2 AND status <> 'cancelled'"
        "  AND due_at IS NOT NULL AND ((resolved_at IS NOT NULL AND resolved_at > due_at)"
        "  OR (resolved_at IS NULL AND due_at < ?3))"
        " ORDER BY 12 DESC, number LIMIT 10";
    static const char *const names[] = {"number",   "id",       "title",  "device",
                                        "category", "priority", "status", "location"};
    sqlite3_stmt *st = NULL;
    int src;

    if (!arr)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "iii", from, to, now);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, names[0], (double)sqlite3_column_int64(st, 0));
        for (int c = 1; c < 8; c++)
            cJSON_AddStringToObject(o, names[c], (const char *)sqlite3_column_text(st, c));
        ledger__json_iso(o, "opened_at", sqlite3_column_int64(st, 8), 0);
        ledger__json_iso(o, "due_at", sqlite3_column_int64(st, 9), 0);
        ledger__json_iso(o, "resolved_at", sqlite3_column_int64(st, 10), 1);
        cJSON_AddNumberToObject(o, "late_by_s", (double)sqlite3_column_int64(st, 11) / 1000.0);
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "late orders");
    return 0;
}

/* ---- availability -------------------------------------------------------- */

typedef struct ledger__avail {
    int64_t online, offline, unknown; /* ms */
    int64_t outages, longest, cur_start;
    int state; /* 1 online, 0 offline, -1 unknown */
} ledger__avail_t;

/* Time from *t to t_next in state a->state; an offline span starting then. */
static void ledger__avail_span(ledger__avail_t *a, int64_t *t, int64_t t_next)
{
    int64_t d = t_next - *t;

    if (a->state == 1)
        a->online += d;
    else if (a->state == 0)
        a->offline += d;
    else
        a->unknown += d;
    if (a->state == 0 && t_next - a->cur_start > a->longest)
        a->longest = t_next - a->cur_start;
    *t = t_next;
}

static void ledger__avail_set(ledger__avail_t *a, const char *status, int64_t t)
{
    int s = status && strcmp(status, "online") == 0    ? 1
            : status && strcmp(status, "offline") == 0 ? 0
                                                       : -1;

    if (s == 0 && a->state != 0) {
        a->outages++;
        a->cur_start = t;
    }
    a->state = s;
}

/* The availability of one device over [from, end). */
static int ledger__avail_device(ledger_t *lg, const char *dev, int64_t from, int64_t end, cJSON *o,
                                char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    ledger__avail_t a = {.state = -1, .cur_start = from};
    int64_t t = from;
    int src;

    src = sqlite3_prepare_v2(ledger__db(lg),
                             "SELECT ts, status FROM (SELECT ts, status, id FROM device_events"
                             " WHERE device = ?1 AND ts < ?2 ORDER BY ts DESC, id DESC LIMIT 1)"
                             " UNION ALL SELECT ts, status FROM (SELECT ts, status, id FROM"
                             " device_events WHERE device = ?1 AND ts >= ?2 AND ts < ?3"
                             " ORDER BY ts, id)",
                             -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "tii", dev, from, end);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(st, 0);
        const char *status = (const char *)sqlite3_column_text(st, 1);
        if (ts > t)
            ledger__avail_span(&a, &t, ts);
        ledger__avail_set(&a, status, ts > from ? ts : from);
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "device events");
    ledger__avail_span(&a, &t, end);
    cJSON_AddStringToObject(o, "device", dev);
    if (a.online + a.offline > 0)
        cJSON_AddNumberToObject(o, "online_pct",
                                100.0 * (double)a.online / (double)(a.online + a.offline));
    else
        cJSON_AddNullToObject(o, "online_pct");
    cJSON_AddNumberToObject(o, "online_s", (double)a.online / 1000.0);
    cJSON_AddNumberToObject(o, "offline_s", (double)a.offline / 1000.0);
    cJSON_AddNumberToObject(o, "unknown_s", (double)a.unknown / 1000.0);
    cJSON_AddNumberToObject(o, "outages", (double)a.outages);
    cJSON_AddNumberToObject(o, "longest_outage_s", (double)a.longest / 1000.0);
    return 0;
}

int ledger__report_availability(ledger_t *lg, int64_t from, int64_t to, int64_t now, cJSON *arr,
                                char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int64_t end = now < to ? now : to;
    int src, rc = 0;

    if (!arr)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    if (end <= from)
        return 0; /* a month that has not begun */
    src = sqlite3_prepare_v2(ledger__db(lg),
                             "SELECT DISTINCT device FROM device_events WHERE ts < ?1"
                             " ORDER BY device",
                             -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "i", end);
    while (rc == 0 && src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        rc = ledger__avail_device(lg, (const char *)sqlite3_column_text(st, 0), from, end, o, err,
                                  errlen);
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == 0 && src != SQLITE_DONE)
        rc = ledger__dberr(lg, src, err, errlen, "devices");
    return rc;
}

int ledger__report_anomalies(ledger_t *lg, int64_t from, int64_t to, cJSON *arr, char *err,
                             size_t errlen)
{
    static const char *const names[] = {"#number", "id",      "device",   "title",
                                        "status",  "#opened", "point",    "unit",
                                        "?value",  "?excess", "?baseline"};
    cJSON *it;
    int rc;

    rc = ledger__query_array(
        lg,
        "SELECT number, id, device, title, status, opened_at, json_extract(evidence, '$.point'),"
        " json_extract(evidence, '$.unit'), json_extract(evidence, '$.value'),"
        " json_extract(evidence, '$.excess'), json_extract(evidence, '$.baseline')"
        " FROM work_orders WHERE opened_at >= ?1 AND opened_at < ?2 AND json_valid(evidence)"
        " AND json_extract(evidence, '$.rule.kind') = 'anomaly' ORDER BY opened_at, number",
        from, to, names, 11, arr, err, errlen);
    /* opened as a time, not the number the query gave */
    cJSON_ArrayForEach(it, arr)
    {
        cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(it, "opened");
        ledger__json_iso(it, "opened_at", ledger__to_i64(cJSON_GetNumberValue(t), 0), 0);
        cJSON_Delete(t);
    }
    return rc;
}
