/*
 * test_ledger_report.c: the monthly report's sections on real SQLite files
 * with a pinned clock (store/ledger_report*.c; docs/operations.md, "Monthly
 * report"): which areas are flagged, availability from device events at the
 * edges of the month, energy per day across a counter reset and a missing
 * day, the predictive entry from a fit and without one, and the report
 * written once with its outbox event in the same transaction (not at all
 * when its files cannot be written). The months are UTC here (TZ=UTC).
 * Missing data (a section without its device or meter) fails a check with
 * the item named (NUM), never a crash on a NULL item.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_report_int.h"

#include "gateway/base/gw_clock.h"
#include "ledger_testutil.h"
#include "t.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#define MAY  1777593600000LL /* 2026-05-01T00:00:00Z */
#define JUNE 1780272000000LL /* 2026-06-01T00:00:00Z */
#define HOUR (3600LL * 1000)
#define DAY  (24 * HOUR)

static int64_t fake_wall = MAY;

static int64_t fake_ms(void *arg)
{
    (void)arg;
    return fake_wall;
}

/* The number of a cJSON item. A missing item (the report left it out: its
 * rollup rows or events missing) or one that is not a number fails here,
 * named, and reads as NAN, instead of a crash on a NULL item. */
#define NUM(item) num_((item), #item, __LINE__)
static double num_(const cJSON *it, const char *what, int line)
{
    t_checks++;
    if (cJSON_IsNumber(it))
        return it->valuedouble;
    t_failures++;
    fprintf(stderr, "%s:%d: %s is missing or not a number\n", __FILE__, line, what);
    return NAN;
}

static ledger_t *open_new(const char *name)
{
    ledger_t *lg = NULL;
    char err[256] = "";

    unlink(lt_path(name));
    if (ledger_open(&lg, lt_path(name), LEDGER_OPEN_CREATE, err, sizeof(err)) < 0)
        fprintf(stderr, "ledger_open: %s\n", err);
    return lg;
}

/* Flag areas of these order counts; returns a bit per flagged area. */
static unsigned flags_of(const int *opened, int n)
{
    cJSON *kpi = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(kpi, "by_location"), *a;
    unsigned bits = 0;
    int i = 0;

    for (int k = 0; k < n; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "opened", opened[k]);
        cJSON_AddItemToArray(arr, o);
    }
    ledger__report_flag_areas(kpi);
    cJSON_ArrayForEach(a, arr) bits |= cJSON_IsTrue(cJSON_GetObjectItem(a, "flagged")) << i++;
    cJSON_Delete(kpi);
    return bits;
}

T_TEST(test_flag_areas)
{
    static const int site[] = {3, 9, 2, 2, 3}, two[] = {6, 3}, close2[] = {5, 3}, few[] = {2, 1};
    static const int one[] = {12};

    T_CHECK_EQ_INT(flags_of(site, 5), 1u << 1); /* 9 against the others' median 2.5 */
    T_CHECK_EQ_INT(flags_of(two, 2), 1u);       /* twice the other */
    T_CHECK_EQ_INT(flags_of(close2, 2), 0);     /* less than twice */
    T_CHECK_EQ_INT(flags_of(few, 2), 0);        /* twice, but fewer than 3 orders */
    T_CHECK_EQ_INT(flags_of(one, 1), 0);        /* nothing to compare with */
}

static cJSON *availability(ledger_t *lg, int64_t now)
{
    cJSON *arr = cJSON_CreateArray();
    char err[256];

    T_CHECK_EQ_INT(ledger__report_availability(lg, MAY, JUNE, now, arr, err, sizeof(err)), 0);
    return arr;
}

static const cJSON *dev(const cJSON *arr, const char *name)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, arr)
    {
        const char *d = cJSON_GetStringValue(cJSON_GetObjectItem(it, "device"));
        if (d && strcmp(d, name) == 0)
            return it;
    }
    return NULL;
}

T_TEST(test_availability)
{
    ledger_t *lg = open_new("avail.db");
    static const struct {
        const char *dev, *status;
        int64_t ts;
    } ev[] = {
        {"a", "offline", MAY - DAY},      /* offline since before the month */
        {"a", "online", MAY + 2 * DAY},   /* two days into it */
        {"b", "online", MAY},             /* at the first instant */
        {"b", "offline", MAY + 10 * DAY}, /* ten days, then offline ... */
        {"b", "online", MAY + 11 * DAY},  /* ... one day */
        {"c", "online", MAY + 20 * DAY},  /* unknown before */
        {"d", "online", JUNE + HOUR},     /* after the month: not in it */
    };
    char err[256];
    cJSON *arr;

    if (!lg)
        return;
    for (size_t i = 0; i < GW_ARRAY_SIZE(ev); i++)
        T_CHECK_EQ_INT(
            ledger_device_status(lg, ev[i].dev, ev[i].status, ev[i].ts, NULL, err, sizeof(err)), 0);
    arr = availability(lg, JUNE + DAY);
    T_CHECK_EQ_INT(cJSON_GetArraySize(arr), 3);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(dev(arr, "a"), "online_pct")), 100.0 * 29 / 31, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(dev(arr, "a"), "outages")), 1, 0);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(dev(arr, "a"), "longest_outage_s")), 2 * 86400, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(dev(arr, "b"), "online_pct")), 100.0 * 30 / 31, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(dev(arr, "c"), "unknown_s")), 20 * 86400, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(dev(arr, "c"), "online_pct")), 100, 1e-9);
    cJSON_Delete(arr);
    /* the month so far: up to now */
    arr = availability(lg, MAY + 11 * DAY);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(dev(arr, "b"), "online_pct")), 100.0 * 10 / 11, 1e-9);
    T_CHECK(dev(arr, "c") == NULL);
    cJSON_Delete(arr);
    ledger_close(lg);
}

static void reading(ledger_t *lg, const char *dev, int64_t ts, double v)
{
    ledger_rollup_row_t r = {.ts_ms = ts, .min = v, .max = v, .sum = v, .count = 1, .last_ts = ts};
    char err[256];

    snprintf(r.device, sizeof(r.device), "%s", dev);
    snprintf(r.point, sizeof(r.point), "energy");
    snprintf(r.unit, sizeof(r.unit), "kWh");
    T_CHECK_EQ_INT(ledger_rollup_add(lg, &r, 1, err, sizeof(err)), 0);
}

T_TEST(test_energy_days)
{
    ledger_t *lg = open_new("energy.db");
    cJSON *arr = cJSON_CreateArray(), *m, *d;
    char err[256];

    if (!lg)
        return;
    reading(lg, "m", MAY - HOUR, 1000);             /* the last reading before the month */
    reading(lg, "m", MAY + 10 * HOUR, 1010);        /* day 1: +10 over the one before */
    reading(lg, "m", MAY + 23 * HOUR, 1030);        /* day 1: +30 in all */
    reading(lg, "m", MAY + 2 * DAY + HOUR, 1050);   /* day 2 missing; day 3: +20 */
    reading(lg, "m", MAY + 3 * DAY + HOUR, 5);      /* day 4: the meter was replaced */
    reading(lg, "m", MAY + 3 * DAY + 5 * HOUR, 12); /* day 4: its own rise, 7 */
    reading(lg, "m", MAY + 4 * DAY, 20);            /* day 5: +8 */
    reading(lg, "m", MAY - 20 * DAY, 900);          /* April: two days of data */
    T_CHECK_EQ_INT(ledger__report_energy(lg, "2026-05", arr, err, sizeof(err)), 0);
    m = cJSON_GetArrayItem(arr, 0);
    if (!m)
        fprintf(stderr, "  energy: no meter in the section (its rollup rows missing)\n");
    T_CHECK(m != NULL);
    d = cJSON_GetObjectItem(m, "daily");
    T_CHECK_EQ_INT(cJSON_GetArraySize(d), 31);
    T_CHECK_NEAR(NUM(cJSON_GetArrayItem(d, 0)), 30, 1e-9);
    T_CHECK(cJSON_IsNull(cJSON_GetArrayItem(d, 1)));
    T_CHECK_NEAR(NUM(cJSON_GetArrayItem(d, 2)), 20, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetArrayItem(d, 3)), 7, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetArrayItem(d, 4)), 8, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(m, "use")), 65, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(m, "first")), 1000, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(m, "days_with_data")), 4, 0);
    /* April: 900 on the 11th, 1000 on the 30th: a rise of 100 */
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "previous"), "days_with_data")), 2,
                 0);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "previous"), "use")), 100, 1e-9);
    T_CHECK_NEAR(NUM(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "previous"), "change_pct")), -35,
                 1e-9);
    T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "last_year"), "use")));
    cJSON_Delete(arr);
    ledger_close(lg);
}

#define FIT                                                                                        \
    "\"fit\":{\"model\":\"knee\",\"origin\":\"2026-05-01T00:00:00.000Z\",\"day_ms\":86400000,"     \
    "\"a\":1,\"b\":0.5,\"k\":0.25,\"knee_t\":9,\"n\":6},"
#define EVIDENCE(fit)                                                                              \
    "{\"point\":\"vib\",\"value\":3,\"unit\":\"mm/s\",\"prediction\":{\"crossing\":"               \
    "\"2026-05-11T00:00:00.000Z\",\"interval\":{\"earliest\":\"2026-05-10T00:00:00.000Z\","        \
    "\"latest\":\"2026-05-13T00:00:00.000Z\",\"confidence\":0.9}," fit "\"slope_per_day\":0.5,"    \
    "\"days_fitted\":6},\"daily_level\":3.5,\"change_since\":\"2026-05-08T00:00:00.000Z\","        \
    "\"at\":\"2026-05-09T00:00:00.000Z\",\"rule\":{\"kind\":\"trend\",\"limit\":6}}"

static int64_t trend_order(ledger_t *lg, const char *device, const char *evidence)
{
    ledger_trigger_t t = lt_trigger("hq", device, "vib-trend", MAY + 8 * DAY);
    ledger_trigger_result_t r = {0};
    char err[256];

    t.work_type = "preventive";
    t.evidence_json = evidence;
    fake_wall = t.ts_ms;
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), 0);
    return r.number;
}

/* The trend entry of order number via ledger_trend_json; NULL on error. */
static cJSON *trend_of(ledger_t *lg, int64_t number, int expect_rc)
{
    char ref[16], err[256], *json = NULL;
    cJSON *o;

    snprintf(ref, sizeof(ref), "%lld", (long long)number);
    T_CHECK_EQ_INT(ledger_trend_json(lg, ref, JUNE, &json, err, sizeof(err)), expect_rc);
    o = json ? cJSON_Parse(json) : NULL;
    free(json);
    return o;
}

T_TEST(test_predictive_entries)
{
    ledger_t *lg = open_new("trend.db");
    ledger_rollup_row_t r = {.ts_ms = MAY + 7 * DAY + HOUR,
                             .min = 2,
                             .max = 4,
                             .sum = 6,
                             .count = 2,
                             .last_ts = MAY + 7 * DAY + HOUR};
    int64_t fitted, plain, none;
    cJSON *e, *arr = cJSON_CreateArray();
    char err[256];

    if (!lg)
        return;
    snprintf(r.device, sizeof(r.device), "lift-1");
    snprintf(r.point, sizeof(r.point), "vib");
    T_CHECK_EQ_INT(ledger_rollup_add(lg, &r, 1, err, sizeof(err)), 0);
    fitted = trend_order(lg, "lift-1", EVIDENCE(FIT));
    plain = trend_order(lg, "lift-2", EVIDENCE(""));
    none = trend_order(lg, "lift-3", "{\"point\":\"vib\",\"rule\":{\"kind\":\"trend\"}}");
    e = trend_of(lg, fitted, 0);
    T_CHECK(e != NULL);
    if (e) {
        const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "daily"), 0), *p;
        /* the day of the rollup, its mean (sum / count), at midday */
        T_CHECK_NEAR(NUM(cJSON_GetArrayItem(d, 0)), (double)(MAY + 7 * DAY + DAY / 2), 1e-3);
        T_CHECK_NEAR(NUM(cJSON_GetArrayItem(d, 1)), 3, 1e-12);
        /* the knee model's curve from the change on; no band (the interval
         * is the crossing date's) */
        p = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "trend"), 0);
        T_CHECK_NEAR(NUM(cJSON_GetArrayItem(p, 0)), (double)(MAY + 7 * DAY), 1e-3);
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(e, "trend"))
        {
            double t = (NUM(cJSON_GetArrayItem(p, 0)) - (double)MAY) / DAY;
            double y = 1 + 0.5 * t + (t > 9 ? 0.25 * (t - 9) : 0);
            T_CHECK_NEAR(NUM(cJSON_GetArrayItem(p, 1)), y, 1e-9);
            T_CHECK(cJSON_IsNull(cJSON_GetArrayItem(p, 3)));
        }
        T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "model")), "knee");
        cJSON_Delete(e);
    }
    e = trend_of(lg, plain, 0); /* no fit recorded: the line through the crossing */
    if (e) {
        const cJSON *tr = cJSON_GetObjectItem(e, "trend"), *last;
        T_CHECK_EQ_INT(cJSON_GetArraySize(tr), 2);
        last = cJSON_GetArrayItem(tr, 1);
        T_CHECK_NEAR(NUM(cJSON_GetArrayItem(last, 1)), 6 + 0.5 * 2, 1e-9);
        T_CHECK(cJSON_IsNull(cJSON_GetArrayItem(last, 2)));
        cJSON_Delete(e);
    }
    T_CHECK(trend_of(lg, none, GW_EINVAL) == NULL);
    T_CHECK_EQ_INT(ledger__report_predictive(lg, MAY, JUNE, JUNE, arr, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(cJSON_GetArraySize(arr), 2); /* the one without a prediction is left out */
    cJSON_Delete(arr);
    ledger_close(lg);
}

T_TEST(test_report_written_once_with_its_event)
{
    ledger_t *lg = open_new("write.db");
    char dir[600], path[700], err[256];
    sqlite3 *db;

    if (!lg)
        return;
    trend_order(lg, "lift-1", EVIDENCE(FIT));
    snprintf(dir, sizeof(dir), "%s", lt_path("reports"));
    fake_wall = JUNE + HOUR;
    T_CHECK_EQ_INT(ledger_report_write(lg, dir, "2026-05", fake_wall, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_report_write(lg, dir, "2026-05", fake_wall, err, sizeof(err)), 1);
    for (int i = 0; i < 3; i++) {
        static const char *const ext[] = {"html", "json", "txt"};
        snprintf(path, sizeof(path), "%s/report-2026-05.%s", dir, ext[i]);
        T_CHECK(access(path, R_OK) == 0);
    }
    ledger_close(lg);
    db = lt_raw(lt_path("write.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM reports"), 1);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM outbox WHERE channel = 'report' AND"
                              " key = 'report:2026-05' AND json_extract(payload, '$.event')"
                              " = 'report' AND json_extract(payload, '$.html') LIKE"
                              " '<!DOCTYPE html>%' AND json_extract(payload,"
                              " '$.summary.predictive') = 1"),
                   1);
    sqlite3_close(db);

    /* The files cannot be written (the directory is a file): nothing noted,
     * no event; the next try does it all. */
    lg = open_new("fail.db");
    snprintf(path, sizeof(path), "%s", lt_path("not-a-dir"));
    fclose(fopen(path, "w"));
    T_CHECK(ledger_report_write(lg, path, "2026-05", fake_wall, err, sizeof(err)) < 0);
    ledger_close(lg);
    db = lt_raw(lt_path("fail.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM reports"), 0);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM outbox WHERE channel = 'report'"), 0);
    sqlite3_close(db);
}

T_TEST(test_text_and_page)
{
    ledger_t *lg = open_new("page.db");
    char err[256], *json = NULL, *text, *page;

    if (!lg)
        return;
    trend_order(lg, "lift-1", EVIDENCE(FIT));
    T_CHECK_EQ_INT(ledger_report_json(lg, "2026-05", JUNE, &json, err, sizeof(err)), 0);
    text = ledger_report_text(json);
    page = ledger_report_html(json);
    T_CHECK(text && strstr(text, "Worst late orders") && strstr(text, "Predictive maintenance"));
    T_CHECK(page && strstr(page, "<!DOCTYPE html>") && strstr(page, "data-f=\"opened\""));
    T_CHECK(page && strstr(page, "class=\"target\"") && strstr(page, "class=\"limit\""));
    T_CHECK(ledger_report_html("not json") == NULL && ledger_report_html("{}") == NULL);
    free(text);
    free(page);
    free(json);
    ledger_close(lg);
}

int main(void)
{
    static const gw_clock_t clk = {fake_ms, fake_ms, NULL};

    setenv("TZ", "UTC", 1);
    tzset();
    gw_clock_set(&clk);
    T_RUN(test_flag_areas);
    T_RUN(test_availability);
    T_RUN(test_energy_days);
    T_RUN(test_predictive_entries);
    T_RUN(test_report_written_once_with_its_event);
    T_RUN(test_text_and_page);
    lt_cleanup();
    return t_done();
}
