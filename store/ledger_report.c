/*
 * ledger_report.c: the questions a property manager asks (store/ledger.h):
 * KPIs over a period and the monthly report, as JSON (for other systems and
 * plantroomctl --json) and as text (for people).
 *
 * Definitions (docs/operations.md, "KPIs"): the population is the work
 * orders opened in [from, to). On time: resolved by its due time (SLA per
 * priority at opening). Late: resolved after it, or still unresolved past
 * it. Orders not yet due and not resolved, cancelled orders and orders
 * without a due time count neither way. The on-time rate is on time /
 * (on time + late), against the 98 % timeliness target of property
 * management. Mean time to acknowledge and to resolve are from opening.
 * Months are local time. Energy use per meter is the rise of each kWh point
 * (a counter) over the month's 1-hour rollups: max - min.
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_clock.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LEDGER__TARGET 0.98

int ledger__month_range(const char *month, int64_t *from_ms, int64_t *to_ms)
{
    struct tm tm;
    int y, m;
    char tail;
    time_t a, b;

    if (!month || strlen(month) != 7 || sscanf(month, "%4d-%2d%c", &y, &m, &tail) != 2 ||
        month[4] != '-' || y < 1970 || y > 9999 || m < 1 || m > 12)
        return GW_EINVAL;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = 1;
    tm.tm_isdst = -1;
    a = mktime(&tm);
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (m == 12 ? y + 1 : y) - 1900;
    tm.tm_mon = m == 12 ? 0 : m;
    tm.tm_mday = 1;
    tm.tm_isdst = -1;
    b = mktime(&tm);
    if (a == (time_t)-1 || b == (time_t)-1)
        return GW_EINVAL;
    *from_ms = (int64_t)a * 1000;
    *to_ms = (int64_t)b * 1000;
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

static void ledger__time(cJSON *o, const char *key, int64_t ms)
{
    char buf[32];

    cJSON_AddStringToObject(o, key, gw_format_iso8601(ms, buf, sizeof(buf)));
}

/* One KPI group from a row: cols 1.. as in ledger__kpi_sql. */
static cJSON *ledger__kpi_row(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    int64_t on_time = sqlite3_column_int64(st, 5), late = sqlite3_column_int64(st, 6);

    cJSON_AddNumberToObject(o, "opened", (double)sqlite3_column_int64(st, 1));
    cJSON_AddNumberToObject(o, "closed", (double)sqlite3_column_int64(st, 2));
    cJSON_AddNumberToObject(o, "cancelled", (double)sqlite3_column_int64(st, 3));
    cJSON_AddNumberToObject(o, "resolved", (double)sqlite3_column_int64(st, 4));
    cJSON_AddNumberToObject(o, "on_time", (double)on_time);
    cJSON_AddNumberToObject(o, "late", (double)late);
    if (on_time + late > 0) {
        double rate = (double)on_time / (double)(on_time + late);
        cJSON_AddNumberToObject(o, "on_time_rate", rate);
        cJSON_AddBoolToObject(o, "target_met", rate >= LEDGER__TARGET);
    } else {
        cJSON_AddNullToObject(o, "on_time_rate");
        cJSON_AddNullToObject(o, "target_met");
    }
    for (int c = 7; c <= 8; c++) {
        const char *key = c == 7 ? "mean_time_to_acknowledge_s" : "mean_time_to_resolve_s";
        if (sqlite3_column_type(st, c) == SQLITE_NULL)
            cJSON_AddNullToObject(o, key);
        else
            cJSON_AddNumberToObject(o, key, sqlite3_column_double(st, c) / 1000.0);
    }
    return o;
}

/* The KPIs grouped by expr (a constant for overall). When arr is NULL the
 * single row goes into *single. */
static int ledger__kpi_group(ledger_t *lg, const char *expr, const char *key, int64_t from,
                             int64_t to, int64_t now, cJSON *arr, cJSON **single, char *err,
                             size_t errlen)
{
    char sql[1024];
    sqlite3_stmt *st = NULL;
    int src;

    if (!arr && !single) /* cJSON_AddArrayToObject ran out of memory */
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    snprintf(sql, sizeof(sql),
             "SELECT %s, COUNT(*), COALESCE(SUM(status = 'closed'), 0),"
             " COALESCE(SUM(status = 'cancelled'), 0),"
             " COALESCE(SUM(resolved_at IS NOT NULL), 0),"
             " COALESCE(SUM(status <> 'cancelled' AND due_at IS NOT NULL AND resolved_at IS NOT"
             "  NULL AND resolved_at <= due_at), 0),"
             " COALESCE(SUM(status <> 'cancelled' AND due_at IS NOT NULL AND ((resolved_at IS NOT"
             "  NULL AND resolved_at > due_at) OR (resolved_at IS NULL AND due_at < ?3))), 0),"
             " AVG(acknowledged_at - opened_at), AVG(resolved_at - opened_at)"
             " FROM work_orders WHERE opened_at >= ?1 AND opened_at < ?2%s",
             expr, arr ? " GROUP BY 1 ORDER BY 1" : ""); /* no GROUP BY: always one row */
    src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "iii", from, to, now);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = ledger__kpi_row(st);
        if (arr) {
            const unsigned char *g = sqlite3_column_text(st, 0);
            cJSON_AddStringToObject(o, key, g ? (const char *)g : "");
            cJSON_AddItemToArray(arr, o);
        } else {
            *single = o;
        }
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "compute KPIs");
    return 0;
}

/* The KPI object: period, target, overall, by_category, by_location. */
static int ledger__kpi(ledger_t *lg, int64_t from, int64_t to, int64_t now, cJSON **out, char *err,
                       size_t errlen)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *overall = NULL;
    int rc;

    *out = NULL;
    if (!o)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    ledger__time(o, "from", from);
    ledger__time(o, "to", to);
    cJSON_AddNumberToObject(o, "target_on_time_rate", LEDGER__TARGET);
    rc = ledger__kpi_group(lg, "''", NULL, from, to, now, NULL, &overall, err, errlen);
    if (rc == 0 && !overall)
        rc = ledger__fail(GW_EDB, err, errlen, "compute KPIs: no result row");
    if (rc == 0)
        cJSON_AddItemToObject(o, "overall", overall);
    if (rc == 0)
        rc = ledger__kpi_group(lg, "COALESCE(category, '')", "category", from, to, now,
                               cJSON_AddArrayToObject(o, "by_category"), NULL, err, errlen);
    if (rc == 0)
        rc = ledger__kpi_group(lg, "COALESCE(building, '-') || ' / ' || COALESCE(floor, '-')",
                               "location", from, to, now, cJSON_AddArrayToObject(o, "by_location"),
                               NULL, err, errlen);
    if (rc < 0) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return 0;
}

static int ledger__print(cJSON *o, char **out, char *err, size_t errlen)
{
    *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return *out ? 0 : ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
}

int ledger_kpi_json(ledger_t *lg, int64_t from_ms, int64_t to_ms, int64_t now_ms, char **out,
                    char *err, size_t errlen)
{
    cJSON *o;
    int rc;

    *out = NULL;
    if (to_ms <= from_ms)
        return ledger__fail(GW_EINVAL, err, errlen,
                            "the period is empty: --to must be after --from");
    rc = ledger__kpi(lg, from_ms, to_ms, now_ms, &o, err, errlen);
    if (rc < 0)
        return rc;
    return ledger__print(o, out, err, errlen);
}

/* Rows of sql (?1 from, ?2 to) as objects with names[i] for column i
 * ('#' prefix: a number). */
static int ledger__query_array(ledger_t *lg, const char *sql, int64_t from, int64_t to,
                               const char *const *names, int ncols, cJSON *arr, char *err,
                               size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);

    if (src == SQLITE_OK)
        src = ledger__bind(st, "ii", from, to);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        for (int c = 0; c < ncols; c++) {
            if (names[c][0] == '#') {
                cJSON_AddNumberToObject(o, names[c] + 1, sqlite3_column_double(st, c));
            } else {
                const unsigned char *s = sqlite3_column_text(st, c);
                cJSON_AddStringToObject(o, names[c], s ? (const char *)s : "");
            }
        }
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "report query");
    return 0;
}

int ledger_report_json(ledger_t *lg, const char *month, int64_t now_ms, char **out, char *err,
                       size_t errlen)
{
    static const char *const status_cols[] = {"status", "#count"};
    static const char *const dev_cols[] = {"device", "#work_orders", "#occurrences"};
    static const char *const energy_cols[] = {"device", "point", "unit", "#first", "#last", "#use"};
    int64_t from, to;
    cJSON *o, *kpi = NULL;
    int rc;

    *out = NULL;
    if (ledger__month_range(month, &from, &to) < 0)
        return ledger__fail(GW_EINVAL, err, errlen, "bad month '%s' (YYYY-MM)", month ? month : "");
    o = cJSON_CreateObject();
    if (!o)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "month", month);
    ledger__time(o, "generated_at", now_ms);
    rc = ledger__kpi(lg, from, to, now_ms, &kpi, err, errlen);
    if (rc == 0) {
        cJSON_AddItemToObject(o, "kpi", kpi);
        rc = ledger__query_array(lg,
                                 "SELECT status, COUNT(*) FROM work_orders WHERE opened_at >= ?1"
                                 " AND opened_at < ?2 GROUP BY status ORDER BY status",
                                 from, to, status_cols, 2, cJSON_AddArrayToObject(o, "by_status"),
                                 err, errlen);
    }
    if (rc == 0)
        rc = ledger__query_array(lg,
                                 "SELECT device, COUNT(*), SUM(occurrences) FROM work_orders"
                                 " WHERE opened_at >= ?1 AND opened_at < ?2 GROUP BY device"
                                 " ORDER BY 2 DESC, 3 DESC, 1 LIMIT 10",
                                 from, to, dev_cols, 3, cJSON_AddArrayToObject(o, "top_devices"),
                                 err, errlen);
    if (rc == 0)
        rc = ledger__query_array(lg,
                                 "SELECT device, point, unit, MIN(min), MAX(max),"
                                 " MAX(max) - MIN(min) FROM rollup_1h"
                                 " WHERE unit = 'kWh' AND ts >= ?1 AND ts < ?2"
                                 " GROUP BY device, point ORDER BY device, point",
                                 from, to, energy_cols, 6, cJSON_AddArrayToObject(o, "energy"), err,
                                 errlen);
    if (rc < 0) {
        cJSON_Delete(o);
        return rc;
    }
    return ledger__print(o, out, err, errlen);
}

/* ---- text --------------------------------------------------------------- */

typedef struct ledger__buf {
    char *s;
    size_t len, cap;
    int oom;
} ledger__buf_t;

static void ledger__bprintf(ledger__buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ledger__bprintf(ledger__buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *g = realloc(b->s, cap);
        if (!g) {
            b->oom = 1;
            return;
        }
        b->s = g;
        b->cap = cap;
    }
}

static double ledger__num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* "12.5 h" or "-" for a duration in seconds (negative: none). */
static const char *ledger__dur(const cJSON *o, const char *key, char *buf, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsNumber(v))
        return "-";
    if (v->valuedouble < 3600)
        snprintf(buf, len, "%.1f min", v->valuedouble / 60.0);
    else
        snprintf(buf, len, "%.1f h", v->valuedouble / 3600.0);
    return buf;
}

static const char *ledger__rate(const cJSON *o, char *buf, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "on_time_rate");

    if (!cJSON_IsNumber(v))
        return "-";
    snprintf(buf, len, "%.1f %%", v->valuedouble * 100.0);
    return buf;
}

static void ledger__kpi_line(ledger__buf_t *b, const char *label, const cJSON *g)
{
    char r[16], a[24], m[24];

    ledger__bprintf(b, "  %-28.28s %6.0f %6.0f %6.0f %8s %10s %10s\n", label,
                    ledger__num(g, "opened"), ledger__num(g, "resolved"), ledger__num(g, "closed"),
                    ledger__rate(g, r, sizeof(r)),
                    ledger__dur(g, "mean_time_to_acknowledge_s", a, sizeof(a)),
                    ledger__dur(g, "mean_time_to_resolve_s", m, sizeof(m)));
}

static void ledger__kpi_text(ledger__buf_t *b, const cJSON *kpi)
{
    const cJSON *overall = cJSON_GetObjectItemCaseSensitive(kpi, "overall");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(overall, "on_time_rate");
    const cJSON *g;
    const char *groups[][2] = {{"by_category", "category"}, {"by_location", "location"}};

    ledger__bprintf(b, "Period %s .. %s\n",
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(kpi, "from")),
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(kpi, "to")));
    if (cJSON_IsNumber(rate))
        ledger__bprintf(b, "On-time rate %.1f %% (target 98 %%: %s); %.0f on time, %.0f late\n\n",
                        rate->valuedouble * 100.0,
                        rate->valuedouble >= LEDGER__TARGET ? "met" : "NOT met",
                        ledger__num(overall, "on_time"), ledger__num(overall, "late"));
    else
        ledger__bprintf(b, "On-time rate - (target 98 %%): no order due or resolved yet\n\n");
    ledger__bprintf(b, "  %-28s %6s %6s %6s %8s %10s %10s\n", "", "OPENED", "RESOLV", "CLOSED",
                    "ON-TIME", "MTTA", "MTTR");
    ledger__kpi_line(b, "all", overall);
    for (size_t k = 0; k < GW_ARRAY_SIZE(groups); k++) {
        ledger__bprintf(b, " by %s\n", groups[k][1]);
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(kpi, groups[k][0]))
        {
            const char *name =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, groups[k][1]));
            ledger__kpi_line(b, name && *name ? name : "(none)", g);
        }
    }
}

char *ledger_kpi_text(const char *kpi_json)
{
    ledger__buf_t b = {0};
    cJSON *kpi = cJSON_Parse(kpi_json ? kpi_json : "");

    if (!kpi)
        return NULL;
    ledger__kpi_text(&b, kpi);
    cJSON_Delete(kpi);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

char *ledger_report_text(const char *report_json)
{
    ledger__buf_t b = {0};
    cJSON *r = cJSON_Parse(report_json ? report_json : "");
    const cJSON *it;

    if (!r)
        return NULL;
    ledger__bprintf(&b, "Monthly maintenance report %s (generated %s)\n\n",
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "month")),
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "generated_at")));
    ledger__kpi_text(&b, cJSON_GetObjectItemCaseSensitive(r, "kpi"));
    ledger__bprintf(&b, "\nWork orders by status\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "by_status")) ledger__bprintf(
        &b, "  %-14s %6.0f\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "status")),
        ledger__num(it, "count"));
    ledger__bprintf(&b, "\nTop devices by faults\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "top_devices"))
        ledger__bprintf(&b, "  %-28s %4.0f work orders, %5.0f occurrences\n",
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "device")),
                        ledger__num(it, "work_orders"), ledger__num(it, "occurrences"));
    ledger__bprintf(&b, "\nEnergy use per meter\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "energy"))
        ledger__bprintf(&b, "  %-20s %-20s %12.1f kWh (%.1f -> %.1f)\n",
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "device")),
                        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "point")),
                        ledger__num(it, "use"), ledger__num(it, "first"), ledger__num(it, "last"));
    cJSON_Delete(r);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- writing the report ------------------------------------------------- */

/* Write text to dir/name through name.new, fsync, rename. */
static int ledger__write_file(const char *dir, const char *name, const char *text, char *err,
                              size_t errlen)
{
    char path[4200], tmp[4210];
    size_t len = strlen(text), off = 0;
    int fd;
    int rc = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return ledger__fail(-errno, err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ledger__fail(-errno, err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = ledger__fail(-errno, err, errlen, "cannot sync %s: %s", tmp, strerror(errno));
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = ledger__fail(-errno, err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int ledger_report_write(ledger_t *lg, const char *dir, const char *month, int64_t now_ms, char *err,
                        size_t errlen)
{
    char name[64], path[4200];
    char *json = NULL, *text = NULL;
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    src =
        sqlite3_prepare_v2(ledger__db(lg), "SELECT 1 FROM reports WHERE month = ?1", -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "t", month);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src == SQLITE_ROW)
        return 1;
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "read reports");
    rc = ledger_report_json(lg, month, now_ms, &json, err, errlen);
    if (rc < 0)
        return rc;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        rc = ledger__fail(-errno, err, errlen, "cannot create %s: %s", dir, strerror(errno));
        goto out_free;
    }
    text = ledger_report_text(json);
    if (!text) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
        goto out_free;
    }
    snprintf(name, sizeof(name), "report-%s.txt", month);
    rc = ledger__write_file(dir, name, text, err, errlen);
    if (rc < 0)
        goto out_free;
    snprintf(name, sizeof(name), "report-%s.json", month);
    rc = ledger__write_file(dir, name, json, err, errlen);
    if (rc < 0)
        goto out_free;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    src = sqlite3_prepare_v2(ledger__db(lg),
                             "INSERT OR IGNORE INTO reports (month, path, created_at)"
                             " VALUES (?1, ?2, ?3)",
                             -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "tti", month, path, now_ms);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        rc = ledger__dberr(lg, src, err, errlen, "note report");
out_free:
    free(text);
    free(json);
    return rc;
}

int ledger__has_data_before(ledger_t *lg, int64_t ts_ms)
{
    sqlite3_stmt *st = NULL;
    int found = 0;

    if (sqlite3_prepare_v2(ledger__db(lg),
                           "SELECT EXISTS (SELECT 1 FROM work_orders WHERE opened_at < ?1)"
                           " OR EXISTS (SELECT 1 FROM rollup_1h WHERE ts < ?1)",
                           -1, &st, NULL) == SQLITE_OK &&
        ledger__bind(st, "i", ts_ms) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        found = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return found;
}
