/*
 * ledger_report.c: the questions a property manager asks (store/ledger.h):
 * KPIs over a period and the monthly report as one JSON object (for other
 * systems, plantroomctl --json, and as the only source of the text and the
 * HTML page), and writing the report once a month with its outbox event.
 * The other files of the report are listed in ledger_report_int.h.
 *
 * Definitions (docs/operations.md, "KPIs"): the population is the work
 * orders opened in [from, to). On time: resolved by its due time (SLA per
 * priority at opening). Late: resolved after it, or still unresolved past
 * it. Orders not yet due and not resolved, cancelled orders and orders
 * without a due time count neither way. The on-time rate is on time /
 * (on time + late), against the 98 % timeliness target of property
 * management. Mean time to acknowledge and to resolve are from opening.
 * Still open: open, acknowledged or in progress now. Months are local time.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_report_int.h"

#include "gateway/base/gw_clock.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One KPI group from a row: cols 1.. as in ledger__kpi_group. */
static cJSON *ledger__kpi_row(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    int64_t on_time = sqlite3_column_int64(st, 5), late = sqlite3_column_int64(st, 6);

    cJSON_AddNumberToObject(o, "opened", (double)sqlite3_column_int64(st, 1));
    cJSON_AddNumberToObject(o, "closed", (double)sqlite3_column_int64(st, 2));
    cJSON_AddNumberToObject(o, "cancelled", (double)sqlite3_column_int64(st, 3));
    cJSON_AddNumberToObject(o, "resolved", (double)sqlite3_column_int64(st, 4));
    cJSON_AddNumberToObject(o, "still_open", (double)sqlite3_column_int64(st, 9));
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
    char sql[1200];
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
             " AVG(acknowledged_at - opened_at), AVG(resolved_at - opened_at),"
             " COALESCE(SUM(status IN " LEDGER__ACTIVE_SQL "), 0)"
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
    ledger__json_iso(o, "from", from, 0);
    ledger__json_iso(o, "to", to, 0);
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

/* ---- the monthly report ------------------------------------------------- */

/* "site": the policy's id and name, else the site most orders belong to. */
static void ledger__report_site(ledger_t *lg, cJSON *o)
{
    const ledger_policy_t *p = ledger__policy(lg);
    cJSON *s = cJSON_AddObjectToObject(o, "site");
    sqlite3_stmt *st = NULL;
    char id[64] = "";

    snprintf(id, sizeof(id), "%s", p->site_id);
    if (!id[0] &&
        sqlite3_prepare_v2(ledger__db(lg),
                           "SELECT site FROM work_orders GROUP BY site ORDER BY COUNT(*) DESC"
                           " LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(id, sizeof(id), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    cJSON_AddStringToObject(s, "id", id);
    cJSON_AddStringToObject(s, "name", p->site_name[0] ? p->site_name : id);
}

/* The sections after the KPIs, in the order of the page. */
static int ledger__report_sections(ledger_t *lg, cJSON *o, const char *month, int64_t from,
                                   int64_t to, int64_t now, char *err, size_t errlen)
{
    static const char *const status_cols[] = {"status", "#count"};
    static const char *const dev_cols[] = {"device", "#work_orders", "#occurrences"};
    int rc;

    rc = ledger__query_array(lg,
                             "SELECT status, COUNT(*) FROM work_orders WHERE opened_at >= ?1"
                             " AND opened_at < ?2 GROUP BY status ORDER BY status",
                             from, to, status_cols, 2, cJSON_AddArrayToObject(o, "by_status"), err,
                             errlen);
    if (rc == 0)
        rc = ledger__report_late(lg, from, to, now, cJSON_AddArrayToObject(o, "late_orders"), err,
                                 errlen);
    if (rc == 0)
        rc = ledger__query_array(lg,
                                 "SELECT device, COUNT(*), SUM(occurrences) FROM work_orders"
                                 " WHERE opened_at >= ?1 AND opened_at < ?2 GROUP BY device"
                                 " ORDER BY 2 DESC, 3 DESC, 1 LIMIT 10",
                                 from, to, dev_cols, 3, cJSON_AddArrayToObject(o, "top_devices"),
                                 err, errlen);
    if (rc == 0)
        rc = ledger__report_availability(lg, from, to, now,
                                         cJSON_AddArrayToObject(o, "availability"), err, errlen);
    if (rc == 0)
        rc = ledger__report_energy(lg, month, cJSON_AddArrayToObject(o, "energy"), err, errlen);
    if (rc == 0)
        rc = ledger__report_anomalies(lg, from, to, cJSON_AddArrayToObject(o, "energy_anomalies"),
                                      err, errlen);
    if (rc == 0)
        rc = ledger__report_predictive(lg, from, to, now, cJSON_AddArrayToObject(o, "predictive"),
                                       err, errlen);
    return rc;
}

/* "summary": the figures a message and the page's tiles name: the overall
 * KPIs, the energy of all meters together against a year before (null when
 * a meter lacks that month), the predictive orders. */
static void ledger__report_summary(cJSON *r)
{
    const cJSON *overall =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "kpi"), "overall");
    static const char *const keys[] = {"opened", "closed",       "still_open",
                                       "late",   "on_time_rate", "target_met"};
    cJSON *s = cJSON_AddObjectToObject(r, "summary");
    const cJSON *it;
    double kwh = 0, ly = 0;
    int meters = 0, ly_ok = 1;

    for (size_t i = 0; i < GW_ARRAY_SIZE(keys); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(overall, keys[i]);
        cJSON_AddItemToObject(s, keys[i], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
    }
    cJSON_AddNumberToObject(s, "target", LEDGER__TARGET);
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "energy"))
    {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(it, "last_year"), "use");
        kwh += cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "use"));
        ly_ok = ly_ok && cJSON_IsNumber(u);
        ly += cJSON_IsNumber(u) ? u->valuedouble : 0;
        meters++;
    }
    cJSON_AddNumberToObject(s, "energy_meters", meters);
    if (meters)
        cJSON_AddNumberToObject(s, "energy_kwh", kwh);
    else
        cJSON_AddNullToObject(s, "energy_kwh");
    if (meters && ly_ok && ly > 0)
        cJSON_AddNumberToObject(s, "energy_change_pct", (kwh - ly) / ly * 100.0);
    else
        cJSON_AddNullToObject(s, "energy_change_pct");
    cJSON_AddNumberToObject(s, "predictive",
                            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "predictive")));
}

/* The report object of month (see ledger_report_json). */
static int ledger__report(ledger_t *lg, const char *month, int64_t now, cJSON **out, char *err,
                          size_t errlen)
{
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
    ledger__json_iso(o, "generated_at", now, 0);
    ledger__report_site(lg, o);
    rc = ledger__kpi(lg, from, to, now, &kpi, err, errlen);
    if (rc == 0) {
        ledger__report_flag_areas(kpi);
        cJSON_AddItemToObject(o, "kpi", kpi);
        rc = ledger__report_sections(lg, o, month, from, to, now, err, errlen);
    }
    if (rc == 0)
        ledger__report_summary(o);
    if (rc < 0) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return 0;
}

int ledger_report_json(ledger_t *lg, const char *month, int64_t now_ms, char **out, char *err,
                       size_t errlen)
{
    cJSON *o;
    int rc;

    *out = NULL;
    rc = ledger__report(lg, month, now_ms, &o, err, errlen);
    if (rc < 0)
        return rc;
    return ledger__print(o, out, err, errlen);
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

/* The outbox payload of a report written (channel "report"). NULL on out
 * of memory. */
static char *ledger__report_event(const cJSON *r, const char *dir, const char *month,
                                  const char *text, const char *html)
{
    const cJSON *site = cJSON_GetObjectItemCaseSensitive(r, "site");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(site, "name"));
    cJSON *ev = cJSON_CreateObject(), *files;
    char buf[4200], when[32] = "";
    int64_t from, to;
    char *out;

    if (!ev)
        return NULL;
    if (ledger__month_range(month, &from, &to) == 0) {
        time_t t = (time_t)(from / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%B %Y", &tm);
    }
    snprintf(buf, sizeof(buf), "report:%s", month);
    cJSON_AddNumberToObject(ev, "v", 1);
    cJSON_AddStringToObject(ev, "event_id", buf);
    cJSON_AddStringToObject(ev, "event", "report");
    cJSON_AddItemToObject(ev, "ts",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r, "generated_at"), 1));
    cJSON_AddStringToObject(ev, "month", month);
    cJSON_AddStringToObject(ev, "site", cJSON_GetStringValue(cJSON_GetObjectItem(site, "id")));
    cJSON_AddStringToObject(ev, "site_name", name ? name : "");
    snprintf(buf, sizeof(buf), "Monthly maintenance report %s%s%s", when, name ? " - " : "",
             name ? name : "");
    cJSON_AddStringToObject(ev, "subject", buf);
    files = cJSON_AddObjectToObject(ev, "files");
    for (int i = 0; i < 3; i++) {
        static const char *const ext[] = {"html", "json", "txt"};
        snprintf(buf, sizeof(buf), "%s/report-%s.%s", dir, month, ext[i]);
        cJSON_AddStringToObject(files, ext[i], buf);
    }
    cJSON_AddItemToObject(ev, "summary",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r, "summary"), 1));
    cJSON_AddStringToObject(ev, "text", text);
    cJSON_AddStringToObject(ev, "html", html);
    out = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    return out;
}

/* In one unit: the report noted as written, and its outbox row. */
static int ledger__report_note(ledger_t *lg, const char *month, const char *path,
                               const char *payload, int64_t now, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char key[32];
    int own_tx = 0;
    int src, rc;

    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        return rc;
    src = sqlite3_prepare_v2(ledger__db(lg),
                             "INSERT OR IGNORE INTO reports (month, path, created_at)"
                             " VALUES (?1, ?2, ?3)",
                             -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "tti", month, path, now);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        rc = ledger__dberr(lg, src, err, errlen, "note report");
    if (rc == 0)
        rc = ledger__stmt(lg, ST_OUTBOX_INSERT, &st, err, errlen);
    if (rc == 0) {
        snprintf(key, sizeof(key), "report:%s", month);
        src = ledger__bind(st, "ttti", "report", key, payload, now);
        rc = src == SQLITE_OK ? ledger__exec(lg, st, "write report event", err, errlen)
                              : ledger__dberr(lg, src, err, errlen, "bind report event");
    }
    return ledger__op_end(lg, own_tx, rc, err, errlen);
}

/* 1 when month's report is noted as written, 0 when not, or a code. */
static int ledger__report_done(ledger_t *lg, const char *month, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src =
        sqlite3_prepare_v2(ledger__db(lg), "SELECT 1 FROM reports WHERE month = ?1", -1, &st, NULL);

    if (src == SQLITE_OK)
        src = ledger__bind(st, "t", month);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src == SQLITE_ROW)
        return 1;
    return src == SQLITE_DONE ? 0 : ledger__dberr(lg, src, err, errlen, "read reports");
}

int ledger_report_write(ledger_t *lg, const char *dir, const char *month, int64_t now_ms, char *err,
                        size_t errlen)
{
    const char *const ext[] = {"txt", "html", "json"};
    char name[64], path[4200];
    char *text[3] = {NULL, NULL, NULL}, *event = NULL;
    cJSON *r = NULL;
    int rc;

    rc = ledger__report_done(lg, month, err, errlen);
    if (rc != 0)
        return rc;
    rc = ledger__report(lg, month, now_ms, &r, err, errlen);
    if (rc < 0)
        return rc;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        rc = ledger__fail(-errno, err, errlen, "cannot create %s: %s", dir, strerror(errno));
        goto out_free;
    }
    text[2] = cJSON_PrintUnformatted(r);
    text[0] = text[2] ? ledger_report_text(text[2]) : NULL;
    text[1] = text[2] ? ledger_report_html(text[2]) : NULL;
    event = text[1] && text[0] ? ledger__report_event(r, dir, month, text[0], text[1]) : NULL;
    if (!event) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
        goto out_free;
    }
    for (int i = 0; i < 3 && rc == 0; i++) {
        snprintf(name, sizeof(name), "report-%s.%s", month, ext[i]);
        rc = ledger__write_file(dir, name, text[i], err, errlen);
    }
    snprintf(path, sizeof(path), "%s/report-%s.json", dir, month);
    if (rc == 0)
        rc = ledger__report_note(lg, month, path, event, now_ms, err, errlen);
out_free:
    for (int i = 0; i < 3; i++)
        free(text[i]);
    free(event);
    cJSON_Delete(r);
    return rc;
}

int ledger__has_data_before(ledger_t *lg, int64_t ts_ms)
{
    sqlite3_stmt *st = NULL;
    int found = 0;

    if (sqlite3_prepare_v2(ledger__db(lg),
                           "SELECT EXISTS (SELECT 1 FROM work_orders WHERE opened_at < ?1)"
                           " OR EXISTS (SELECT 1 FROM rollup_1h_all WHERE ts < ?1)",
                           -1, &st, NULL) == SQLITE_OK &&
        ledger__bind(st, "i", ts_ms) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        found = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return found;
}
