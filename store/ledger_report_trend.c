/*
 * ledger_report_trend.c: the predictive orders of the monthly report and
 * `plantroomctl workorders show N --svg` (ledger_report_int.h, store/ledger.h
 * ledger_trend_json): for a work order of a trend rule, what its chart
 * shows, from the evidence the rule wrote (the prediction: crossing of the
 * limit and its interval, the fitted model; docs/architecture.md, "Rules:
 * prediction") and from the 1-hour rollups of its point (the daily levels,
 * averaged per rule day as the rule averages them).
 *
 * The fitted curve is sampled here, so that the page only draws: with t in
 * days since the fit's origin, y = a + b t (linear), floor + exp(a + b t)
 * (exponential), or a + b t + k (t - knee_t) past knee_t (knee). The
 * interval is the crossing date's (a bootstrap of the rule), drawn where
 * the curve meets the limit. Evidence without a fit gives the straight line
 * through the predicted crossing with the fitted slope.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TREND__SAMPLES 64

/* The parts of the evidence a chart needs. */
typedef struct ledger__tev {
    const cJSON *ev, *pred, *fit;
    int64_t at, crossing, earliest, latest, change, origin, day_ms;
    double limit, slope;
} ledger__tev_t;

static int64_t ledger__ev_time(const cJSON *o, const char *key)
{
    return ledger__parse_iso(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key)));
}

static double ledger__ev_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* 0 when ev is a trend's evidence with a prediction. */
static int ledger__tev_read(const cJSON *ev, ledger__tev_t *t, int64_t fallback_at)
{
    const cJSON *iv;

    memset(t, 0, sizeof(*t));
    t->ev = ev;
    t->pred = cJSON_GetObjectItemCaseSensitive(ev, "prediction");
    if (!cJSON_IsObject(t->pred))
        return -1;
    iv = cJSON_GetObjectItemCaseSensitive(t->pred, "interval");
    t->fit = cJSON_GetObjectItemCaseSensitive(t->pred, "fit");
    t->at = ledger__ev_time(ev, "at");
    if (!t->at)
        t->at = fallback_at;
    t->crossing = ledger__ev_time(t->pred, "crossing");
    t->earliest = ledger__ev_time(iv, "earliest");
    t->latest = ledger__ev_time(iv, "latest");
    t->change = ledger__ev_time(ev, "change_since");
    t->origin = ledger__ev_time(t->fit, "origin");
    t->day_ms = ledger__to_i64(ledger__ev_num(t->fit, "day_ms"), LEDGER__DAY);
    if (t->day_ms < 60000 || t->day_ms > 30 * LEDGER__DAY)
        t->day_ms = LEDGER__DAY;
    t->limit = ledger__ev_num(cJSON_GetObjectItemCaseSensitive(ev, "rule"), "limit");
    t->slope = ledger__ev_num(t->pred, "slope_per_day");
    return isfinite(t->limit) ? 0 : -1;
}

/* The chart's span: some days before the change up to past the latest
 * date, within bounds. */
static void ledger__tev_span(const ledger__tev_t *t, int64_t *from, int64_t *to)
{
    int64_t dates[] = {t->crossing, t->earliest, t->latest};

    *from = t->at - 30 * LEDGER__DAY;
    if (t->change && t->change - 7 * LEDGER__DAY < *from)
        *from = t->change - 7 * LEDGER__DAY;
    if (t->origin && t->origin < *from)
        *from = t->origin;
    if (*from < t->at - 75 * LEDGER__DAY)
        *from = t->at - 75 * LEDGER__DAY;
    *from -= *from % t->day_ms;
    *to = t->at + 3 * LEDGER__DAY;
    for (size_t i = 0; i < GW_ARRAY_SIZE(dates); i++)
        if (dates[i] && dates[i] + 3 * LEDGER__DAY > *to)
            *to = dates[i] + 3 * LEDGER__DAY;
    if (*to > t->at + 90 * LEDGER__DAY)
        *to = t->at + 90 * LEDGER__DAY;
}

/* [[t_ms, mean], ...]: the point's level per rule day from the rollups. */
static int ledger__tev_daily(ledger_t *lg, const char *dev, const char *point, int64_t day_ms,
                             int64_t from, int64_t to, cJSON *arr, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;

    src = sqlite3_prepare_v2(ledger__db(lg),
                             "SELECT ts / ?3 AS d, SUM(sum) / SUM(count) FROM rollup_1h_all"
                             " WHERE device = ?1 AND point = ?2 AND ts >= ?4 AND ts < ?5"
                             " GROUP BY d ORDER BY d",
                             -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "ttiii", dev, point, day_ms, from, to);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *p = cJSON_CreateArray();
        cJSON_AddItemToArray(
            p, cJSON_CreateNumber((double)(sqlite3_column_int64(st, 0) * day_ms + day_ms / 2)));
        cJSON_AddItemToArray(p, cJSON_CreateNumber(sqlite3_column_double(st, 1)));
        cJSON_AddItemToArray(arr, p);
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "daily levels");
    return 0;
}

static void ledger__push4(cJSON *arr, double t, double y, double lo, double hi)
{
    cJSON *p = cJSON_CreateArray();
    double v[] = {t, y, lo, hi};

    for (size_t i = 0; i < GW_ARRAY_SIZE(v); i++)
        cJSON_AddItemToArray(p, isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull());
    cJSON_AddItemToArray(arr, p);
}

/* [[t_ms, y, lo, hi], ...]: the fitted curve over [from, to]. The
 * interval is the crossing date's (a bootstrap), drawn at the limit, so
 * lo and hi are null here. */
static void ledger__tev_curve(const ledger__tev_t *t, int64_t from, int64_t to, cJSON *arr)
{
    double a = ledger__ev_num(t->fit, "a"), b = ledger__ev_num(t->fit, "b");
    double fl = ledger__ev_num(t->fit, "floor"), k = ledger__ev_num(t->fit, "k");
    double kt = ledger__ev_num(t->fit, "knee_t");
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->fit, "model"));
    int ex = model && strcmp(model, "exponential") == 0;
    int knee = model && strcmp(model, "knee") == 0 && isfinite(k) && isfinite(kt);
    int64_t start = t->origin > from ? t->origin : from;

    if (t->change > start)
        start = t->change;
    if (ex && !isfinite(fl))
        a = NAN; /* an exponential without its floor cannot be drawn */
    for (int i = 0; i <= TREND__SAMPLES && isfinite(a) && isfinite(b) && t->origin; i++) {
        double ms = (double)start + (double)(to - start) * i / TREND__SAMPLES;
        double d = (ms - (double)t->origin) / (double)t->day_ms, m = a + b * d;
        if (knee && d > kt)
            m += k * (d - kt);
        ledger__push4(arr, ms, ex ? fl + exp(m) : m, NAN, NAN);
    }
    if (cJSON_GetArraySize(arr) > 0 || !t->crossing || !isfinite(t->slope))
        return;
    /* No fit recorded: the line through the crossing with the slope. */
    start = t->change ? t->change : t->at - 14 * LEDGER__DAY;
    for (int i = 0; i <= 1; i++) {
        double ms = i ? (double)t->crossing + 2.0 * LEDGER__DAY : (double)start;
        ledger__push4(arr, ms, t->limit + t->slope * (ms - (double)t->crossing) / LEDGER__DAY, NAN,
                      NAN);
    }
}

/* Copy ev[key] (or null) into o[as]. */
static void ledger__copy(cJSON *o, const char *as, const cJSON *from, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);

    cJSON_AddItemToObject(o, as, v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
}

static void ledger__tev_fields(cJSON *o, const ledger_wo_t *wo, const ledger__tev_t *t)
{
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(t->pred, "interval");

    cJSON_AddNumberToObject(o, "number", (double)wo->number);
    cJSON_AddStringToObject(o, "id", wo->id);
    cJSON_AddStringToObject(o, "title", wo->title);
    cJSON_AddStringToObject(o, "device", wo->device);
    cJSON_AddStringToObject(o, "status", wo->status);
    cJSON_AddStringToObject(o, "priority", wo->priority);
    ledger__json_iso(o, "opened_at", wo->opened_at, 0);
    ledger__copy(o, "point", t->ev, "point");
    ledger__copy(o, "unit", t->ev, "unit");
    ledger__json_iso(o, "at", t->at, 1);
    cJSON_AddNumberToObject(o, "limit", t->limit);
    ledger__copy(o, "crossing", t->pred, "crossing");
    ledger__copy(o, "earliest", iv, "earliest");
    ledger__copy(o, "latest", iv, "latest");
    ledger__copy(o, "confidence", iv, "confidence");
    ledger__copy(o, "days_left", t->pred, "days_left");
    ledger__copy(o, "slope_per_day", t->pred, "slope_per_day");
    ledger__copy(o, "days_fitted", t->pred, "days_fitted");
    ledger__copy(o, "model", t->fit, "model");
    ledger__copy(o, "daily_level", t->ev, "daily_level");
    ledger__copy(o, "zone", t->ev, "zone");
    ledger__copy(o, "change_since", t->ev, "change_since");
}

/* The entry of wo as of now into o; GW_EINVAL when it has no prediction. */
static int ledger__trend_entry(ledger_t *lg, const ledger_wo_t *wo, int64_t now, cJSON *o,
                               char *err, size_t errlen)
{
    cJSON *ev = cJSON_Parse(wo->evidence_json ? wo->evidence_json : "");
    const char *point = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "point"));
    ledger__tev_t t;
    int64_t from, to;
    cJSON *chart;
    int rc;

    if (!ev || !point || ledger__tev_read(ev, &t, wo->last_seen_at) < 0) {
        cJSON_Delete(ev);
        return ledger__fail(GW_EINVAL, err, errlen,
                            "work order %lld is not a predictive (trend) order: no prediction",
                            (long long)wo->number);
    }
    ledger__tev_fields(o, wo, &t);
    ledger__tev_span(&t, &from, &to);
    chart = cJSON_AddObjectToObject(o, "chart");
    cJSON_AddNumberToObject(chart, "from_ms", (double)from);
    cJSON_AddNumberToObject(chart, "to_ms", (double)to);
    cJSON_AddNumberToObject(chart, "day_ms", (double)t.day_ms);
    rc = ledger__tev_daily(lg, wo->device, point, t.day_ms, from, now < to ? now : to,
                           cJSON_AddArrayToObject(o, "daily"), err, errlen);
    ledger__tev_curve(&t, from, to, cJSON_AddArrayToObject(o, "trend"));
    cJSON_Delete(ev);
    return rc;
}

int ledger__report_predictive(ledger_t *lg, int64_t from, int64_t to, int64_t now, cJSON *arr,
                              char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src, rc = 0;

    if (!arr)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    src = sqlite3_prepare_v2(ledger__db(lg),
                             "SELECT " LEDGER__WO_COLS " FROM work_orders WHERE opened_at < ?2"
                             " AND (status IN " LEDGER__ACTIVE_SQL
                             " OR COALESCE(resolved_at, closed_at, updated_at) >= ?1)"
                             " AND json_valid(evidence)"
                             " AND json_extract(evidence, '$.rule.kind') = 'trend'"
                             " ORDER BY opened_at, number",
                             -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "ii", from, to);
    while (rc == 0 && src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        ledger_wo_t wo;
        cJSON *o = cJSON_CreateObject();
        rc = ledger__wo_from_row(st, &wo);
        if (rc == 0) {
            cJSON_AddItemToArray(arr, o);
            rc = ledger__trend_entry(lg, &wo, now, o, err, errlen);
            if (rc == GW_EINVAL) /* a trend order without a prediction: not charted */
                cJSON_Delete(cJSON_DetachItemViaPointer(arr, o));
            rc = rc == GW_EINVAL ? 0 : rc;
        } else {
            cJSON_Delete(o);
            ledger__fail(rc, err, errlen, "out of memory");
        }
        ledger__wo_clear_fields(&wo);
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == 0 && src != SQLITE_DONE)
        rc = ledger__dberr(lg, src, err, errlen, "predictive orders");
    return rc;
}

int ledger_trend_json(ledger_t *lg, const char *ref, int64_t now_ms, char **out, char *err,
                      size_t errlen)
{
    ledger_wo_t wo;
    cJSON *o;
    int rc;

    *out = NULL;
    rc = ledger_wo_get(lg, ref, &wo, err, errlen);
    if (rc < 0)
        return rc;
    o = cJSON_CreateObject();
    rc = o ? ledger__trend_entry(lg, &wo, now_ms, o, err, errlen)
           : ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    ledger_wo_free_fields(&wo);
    if (rc == 0) {
        *out = cJSON_PrintUnformatted(o);
        if (!*out)
            rc = ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    }
    cJSON_Delete(o);
    return rc;
}
