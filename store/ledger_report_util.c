/*
 * ledger_report_util.c: what the report's files share (ledger_report_int.h):
 * months in local time, ISO-8601 times, a query turned into an array of
 * objects, medians. Months are local time: a property manager's May is
 * May where the building is (the process's TZ).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_report_int.h"

#include "gateway/base/gw_clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int ledger__parse_month(const char *month, int *y, int *m)
{
    char tail;

    if (!month || strlen(month) != 7 || sscanf(month, "%4d-%2d%c", y, m, &tail) != 2 ||
        month[4] != '-' || *y < 1970 || *y > 9999 || *m < 1 || *m > 12)
        return GW_EINVAL;
    return 0;
}

/* Local midnight starting month m (1-12, may run past 12) of year y. */
static time_t ledger__month_start(int y, int m)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y + (m - 1) / 12 - 1900;
    tm.tm_mon = (m - 1) % 12;
    tm.tm_mday = 1;
    tm.tm_isdst = -1;
    return mktime(&tm);
}

int ledger__month_range(const char *month, int64_t *from_ms, int64_t *to_ms)
{
    int y, m;
    time_t a, b;

    if (ledger__parse_month(month, &y, &m) < 0)
        return GW_EINVAL;
    a = ledger__month_start(y, m);
    b = ledger__month_start(y, m + 1);
    if (a == (time_t)-1 || b == (time_t)-1)
        return GW_EINVAL;
    *from_ms = (int64_t)a * 1000;
    *to_ms = (int64_t)b * 1000;
    return 0;
}

int ledger__month_shift(const char *month, int delta, char out[8])
{
    int y, m, k;

    if (ledger__parse_month(month, &y, &m) < 0)
        return GW_EINVAL;
    k = y * 12 + (m - 1) + delta;
    if (k < 1970 * 12 || k > 9999 * 12 + 11)
        return GW_EINVAL;
    snprintf(out, 8, "%04d-%02d", (k / 12) % 10000, k % 12 + 1);
    return 0;
}

void ledger_prev_month(int64_t now_ms, char out[8])
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    if (tm.tm_mon == 0) {
        tm.tm_mon = 11;
        tm.tm_year--;
    } else {
        tm.tm_mon--;
    }
    snprintf(out, 8, "%04d-%02d", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1);
}

void ledger__json_iso(cJSON *o, const char *key, int64_t ms, int null0)
{
    char buf[32];

    if (ms == 0 && null0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, gw_format_iso8601(ms, buf, sizeof(buf)));
}

int64_t ledger__parse_iso(const char *s)
{
    struct tm tm;
    int ms = 0, n = 0;

    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return 0;
    if (s[n] == '.')
        sscanf(s + n + 1, "%3d", &ms);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

int ledger__query_array(ledger_t *lg, const char *sql, int64_t from, int64_t to,
                        const char *const *names, int ncols, cJSON *arr, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;

    if (!arr) /* cJSON_AddArrayToObject ran out of memory */
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "ii", from, to);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        for (int c = 0; c < ncols; c++) {
            const char *name = names[c] + (names[c][0] == '#' || names[c][0] == '?');
            if (names[c][0] == '?' && sqlite3_column_type(st, c) == SQLITE_NULL) {
                cJSON_AddNullToObject(o, name);
            } else if (names[c][0] == '#' || names[c][0] == '?') {
                cJSON_AddNumberToObject(o, name, sqlite3_column_double(st, c));
            } else {
                const unsigned char *s = sqlite3_column_text(st, c);
                cJSON_AddStringToObject(o, name, s ? (const char *)s : "");
            }
        }
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "report query");
    return 0;
}

static int ledger__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double ledger__median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), ledger__cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int64_t ledger__to_i64(double v, int64_t dflt)
{
    return isfinite(v) && v > -9e15 && v < 9e15 ? (int64_t)v : dflt;
}
