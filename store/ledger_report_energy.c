/*
 * ledger_report_energy.c: energy in the monthly report
 * (ledger_report_int.h; docs/operations.md, "Monthly report"): for every
 * kWh point (a meter's counter) with 1-hour rollups in the month, the kWh
 * of each local day, the month's total, and the totals of the previous
 * month and of the same month a year before with the change in percent
 * (null: no data then).
 *
 * A counter's use over a span is the rise of its reading: a day's use is
 * its highest reading minus the last reading before it (the day before,
 * or the last reading within a day before the month), or minus its own
 * lowest reading when there is none; a fall (a meter replaced, a counter
 * reset) counts as the day's own rise. The days therefore add up to the
 * month. A day without readings shows no data; its use is counted on the
 * next day that has readings.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_report_int.h"

#include <stdio.h>
#include <string.h>

/* A month of one counter. */
typedef struct ledger__emonth {
    double use, first, last;
    int days, days_with_data;
} ledger__emonth_t;

static int ledger__days_in(const char *month)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 0, m = 1;

    sscanf(month, "%4d-%2d", &y, &m);
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return m >= 1 && m <= 12 ? dm[m - 1] : 30;
}

/* The last reading within a day before from; 0 when there is none. */
static int ledger__energy_before(ledger_t *lg, const char *dev, const char *point, int64_t from,
                                 double *out)
{
    sqlite3_stmt *st = NULL;
    int found = 0;

    if (sqlite3_prepare_v2(ledger__db(lg),
                           "SELECT MAX(max) FROM rollup_1h_all WHERE device = ?1 AND point = ?2"
                           " AND ts < ?3 AND ts >= ?3 - 86400000 GROUP BY ts ORDER BY ts DESC"
                           " LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        ledger__bind(st, "tti", dev, point, from) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_double(st, 0);
        found = 1;
    }
    sqlite3_finalize(st);
    return found;
}

/* One day's row into the month: its use from the reading before. */
static double ledger__energy_day(ledger__emonth_t *e, int *have_base, double *base, double lo,
                                 double hi)
{
    double use;

    if (!*have_base) {
        *base = lo;
        *have_base = 1;
    }
    if (e->days_with_data == 0)
        e->first = *base;
    use = hi - *base;
    if (use < 0) /* the counter went back: this day's own rise */
        use = hi - lo;
    *base = hi;
    e->last = hi;
    e->use += use;
    e->days_with_data++;
    return use;
}

/* The month of one counter; daily (may be NULL) gets one entry per day. */
static int ledger__energy_month(ledger_t *lg, const char *dev, const char *point, const char *month,
                                cJSON *daily, ledger__emonth_t *e, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int64_t from, to;
    double base = 0;
    int have_base, src, day = 1;

    memset(e, 0, sizeof(*e));
    if (ledger__month_range(month, &from, &to) < 0)
        return ledger__fail(GW_EINVAL, err, errlen, "bad month '%s'", month);
    e->days = ledger__days_in(month);
    have_base = ledger__energy_before(lg, dev, point, from, &base);
    src =
        sqlite3_prepare_v2(ledger__db(lg),
                           "SELECT CAST(strftime('%d', ts / 1000, 'unixepoch', 'localtime') AS"
                           " INTEGER) AS d, MIN(min), MAX(max) FROM rollup_1h_all WHERE device = ?1"
                           " AND point = ?2 AND ts >= ?3 AND ts < ?4 GROUP BY d ORDER BY d",
                           -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "ttii", dev, point, from, to);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        int d = sqlite3_column_int(st, 0);
        double use = ledger__energy_day(e, &have_base, &base, sqlite3_column_double(st, 1),
                                        sqlite3_column_double(st, 2));
        for (; daily && day < d && day <= e->days; day++)
            cJSON_AddItemToArray(daily, cJSON_CreateNull());
        if (daily && day == d && day <= e->days) {
            cJSON_AddItemToArray(daily, cJSON_CreateNumber(use));
            day++;
        }
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    for (; daily && day <= e->days; day++)
        cJSON_AddItemToArray(daily, cJSON_CreateNull());
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "energy per day");
    return 0;
}

/* o[key] = {month, use|null, days, days_with_data, change_pct|null}. */
static int ledger__energy_compare(ledger_t *lg, const char *dev, const char *point,
                                  const char *month, int delta, const ledger__emonth_t *cur,
                                  cJSON *o, const char *key, char *err, size_t errlen)
{
    cJSON *c = cJSON_AddObjectToObject(o, key);
    ledger__emonth_t e;
    char other[8];
    int rc;

    if (!c || ledger__month_shift(month, delta, other) < 0)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    rc = ledger__energy_month(lg, dev, point, other, NULL, &e, err, errlen);
    if (rc < 0)
        return rc;
    cJSON_AddStringToObject(c, "month", other);
    if (e.days_with_data > 0)
        cJSON_AddNumberToObject(c, "use", e.use);
    else
        cJSON_AddNullToObject(c, "use");
    cJSON_AddNumberToObject(c, "days", e.days);
    cJSON_AddNumberToObject(c, "days_with_data", e.days_with_data);
    if (e.days_with_data > 0 && e.use > 0)
        cJSON_AddNumberToObject(c, "change_pct", (cur->use - e.use) / e.use * 100.0);
    else
        cJSON_AddNullToObject(c, "change_pct");
    return 0;
}

/* One meter's entry. */
static int ledger__energy_meter(ledger_t *lg, const char *dev, const char *point, const char *month,
                                cJSON *o, char *err, size_t errlen)
{
    ledger__emonth_t e;
    cJSON *daily;
    int rc;

    cJSON_AddStringToObject(o, "device", dev);
    cJSON_AddStringToObject(o, "point", point);
    cJSON_AddStringToObject(o, "unit", "kWh");
    daily = cJSON_CreateArray();
    rc = ledger__energy_month(lg, dev, point, month, daily, &e, err, errlen);
    cJSON_AddNumberToObject(o, "first", e.first);
    cJSON_AddNumberToObject(o, "last", e.last);
    cJSON_AddNumberToObject(o, "use", e.use);
    cJSON_AddNumberToObject(o, "days", e.days);
    cJSON_AddNumberToObject(o, "days_with_data", e.days_with_data);
    cJSON_AddItemToObject(o, "daily", daily);
    if (rc == 0)
        rc = ledger__energy_compare(lg, dev, point, month, -1, &e, o, "previous", err, errlen);
    if (rc == 0)
        rc = ledger__energy_compare(lg, dev, point, month, -12, &e, o, "last_year", err, errlen);
    return rc;
}

int ledger__report_energy(ledger_t *lg, const char *month, cJSON *arr, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int64_t from, to;
    int src, rc = 0;

    if (!arr)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    if (ledger__month_range(month, &from, &to) < 0)
        return ledger__fail(GW_EINVAL, err, errlen, "bad month '%s'", month);
    src = sqlite3_prepare_v2(ledger__db(lg),
                             "SELECT DISTINCT device, point FROM rollup_1h_all WHERE unit = 'kWh'"
                             " AND ts >= ?1 AND ts < ?2 ORDER BY device, point",
                             -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "ii", from, to);
    while (rc == 0 && src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        rc = ledger__energy_meter(lg, (const char *)sqlite3_column_text(st, 0),
                                  (const char *)sqlite3_column_text(st, 1), month, o, err, errlen);
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == 0 && src != SQLITE_DONE)
        rc = ledger__dberr(lg, src, err, errlen, "energy meters");
    return rc;
}
