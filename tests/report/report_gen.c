/*
 * report_gen.c: plantroom-report-gen, a ledger with a known month for the
 * report tests (tests/integration/test_report_*.py) and the demo's sample
 * report. It writes through the real ledger API on a pinned clock:
 *
 *  - 18 corrective work orders in five areas (building / floor), with SLA
 *    outcomes chosen per order (acknowledged, resolved, closed, cancelled,
 *    left open, resolved late), one of them retriggered twice, two of them
 *    energy anomalies with an anomaly rule's evidence;
 *  - a lift's vibration run through the real trend rule (rules/), every
 *    action written as the daemon writes it (evidence from
 *    gw_rule_evidence), the same readings as 1-hour rollups: a preventive
 *    order with a prediction;
 *  - online/offline events of four devices;
 *  - two years and a month of hourly readings of a kWh counter (one day of
 *    the month missing), and a second meter installed during the month.
 *
 * With --truth FILE it writes the figures the report must show, computed
 * here from the plan (not from the ledger), for a report made at least a
 * month after the month ends.
 *
 * Usage: plantroom-report-gen --ledger PATH --month YYYY-MM [--truth FILE]
 *                             [--site ID] [--site-name NAME]
 * The months and days are local time (TZ).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/config/gw_config.h"
#include "gateway/core/gw_rules.h"
#include "rules/rule.h"
#include "store/ledger.h"
#include "tests/gen/gen.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR (3600 * 1000LL)
#define DAY  (24 * HOUR)

static int64_t gen_now;

static int64_t gen_wall(void *arg)
{
    (void)arg;
    return gen_now;
}

static int64_t gen_mono(void *arg)
{
    (void)arg;
    return gen_now;
}

static ledger_t *lg;
static char site[64] = "test-site";
static int failures;

static void check(int rc, const char *what, const char *err)
{
    if (rc < 0) {
        fprintf(stderr, "report-gen: %s: %s\n", what, err);
        failures++;
    }
}

/* Local midnight of day (1-based, may run past the month) of month y-m. */
static int64_t local_day(int y, int m, int day)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = day, .tm_isdst = -1};

    return (int64_t)mktime(&tm) * 1000;
}

/* ---- the corrective orders ------------------------------------------------ */

typedef struct plan {
    const char *device, *rule, *category, *title;
    gw_priority_t prio;
    int day;          /* opened on this day of the month, at 09:00 + index minutes */
    double ack_h;     /* acknowledged after; < 0: never */
    double resolve_h; /* resolved after; < 0: never */
    int close;        /* closed after resolving */
    int cancel;       /* cancelled after acknowledging */
    int again;        /* retriggered this many times while open */
    int anomaly;      /* evidence of an energy anomaly */
} plan_t;

static const struct {
    const char *device, *building, *floor;
} locs[] = {
    {"lift-1", "Tower A", "R"},      {"lift-2", "Tower A", "R"},    {"pump-1", "Tower A", "B1"},
    {"meter-main", "Tower A", "B1"}, {"pump-2", "Tower B", "B1"},   {"fire-1", "Tower B", "1"},
    {"ahu-1", "Tower B", "R"},       {"meter-ahu", "Tower B", "R"},
};

/* SLA: critical 4 h, high 24 h, medium 72 h, low 168 h (the defaults). */
static const plan_t plans[] = {
    /* device, rule, category, title, priority, day, ack_h, resolve_h, close, cancel, again,
     * anomaly */
    {"lift-1", "door-fault", "mechanical", "Lift 1 door fault", GW_PRIO_HIGH, 2, 0.5, 6, 1, 0, 0,
     0},
    {"lift-1", "door-fault", "mechanical", "Lift 1 door fault", GW_PRIO_HIGH, 9, 1, 30, 1, 0, 0, 0},
    {"lift-2", "levelling", "mechanical", "Lift 2 levelling error", GW_PRIO_MEDIUM, 3, 2, 20, 1, 0,
     0, 0},
    {"lift-2", "brake", "mechanical", "Lift 2 brake fault", GW_PRIO_CRITICAL, 4, 0.25, 3, 1, 0, 0,
     0},
    {"lift-1", "overspeed", "mechanical", "Lift 1 overspeed", GW_PRIO_CRITICAL, 5, 0.5, 2, 0, 0, 0,
     0},
    {"lift-1", "alarm-line", "mechanical", "Lift 1 alarm line not tested", GW_PRIO_LOW, 6, 4, 48, 1,
     0, 0, 0},
    {"lift-2", "door-reversals", "mechanical", "Lift 2 door reversals", GW_PRIO_MEDIUM, 7, 1, 10, 1,
     0, 2, 0},
    {"lift-2", "trapped", "mechanical", "Lift 2 passenger trapped", GW_PRIO_CRITICAL, 8, 0.1, 1, 1,
     0, 0, 0},
    {"pump-1", "pressure-low", "plumbing", "Pump 1 pressure low", GW_PRIO_HIGH, 10, 1, 12, 1, 0, 0,
     0},
    {"meter-main", "energy-night", "electrical", "Night-time energy use above usual",
     GW_PRIO_MEDIUM, 11, 3, 24, 1, 0, 0, 1},
    {"pump-1", "leak", "plumbing", "Pump 1 leak", GW_PRIO_HIGH, 3, -1, -1, 0, 0, 0, 0},
    {"pump-2", "pressure-low", "plumbing", "Pump 2 pressure low", GW_PRIO_HIGH, 12, 1, -1, 0, 1, 0,
     0},
    {"pump-2", "motor-temp", "mechanical", "Pump 2 motor temperature high", GW_PRIO_MEDIUM, 13, 2,
     40, 1, 0, 0, 0},
    {"fire-1", "panel-fault", "fire", "Fire panel fault", GW_PRIO_CRITICAL, 14, 0.2, 2, 1, 0, 0, 0},
    {"fire-1", "zone-3", "fire", "Fire alarm zone 3", GW_PRIO_CRITICAL, 15, 0.1, 3, 1, 0, 0, 0},
    {"ahu-1", "filter", "mechanical", "AHU 1 filter clogged", GW_PRIO_LOW, 16, 10, 100, 1, 0, 0, 0},
    {"ahu-1", "fan-current", "electrical", "AHU 1 fan current high", GW_PRIO_MEDIUM, 18, 1, 5, 1, 0,
     0, 0},
    {"ahu-1", "energy-night", "electrical", "Night-time energy use above usual", GW_PRIO_MEDIUM, 4,
     -1, -1, 0, 0, 0, 1},
};

static ledger_trigger_t trigger_of(const char *device, const char *rule, const char *category,
                                   const char *title, const char *work_type, gw_priority_t prio,
                                   int64_t ts)
{
    ledger_trigger_t t = {.site = site,
                          .device = device,
                          .rule = rule,
                          .title = title,
                          .category = category,
                          .work_type = work_type,
                          .priority = prio,
                          .ts_ms = ts};

    for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++) {
        if (strcmp(locs[i].device, device) == 0) {
            t.building = locs[i].building;
            t.floor = locs[i].floor;
        }
    }
    return t;
}

/* The evidence of an energy anomaly rule, written by the daemon's code. */
static char *anomaly_evidence(const char *device, int64_t ts)
{
    gw_rule_cfg_t rc;
    rule_action_t a = {.kind = RULE_ACT_OPEN,
                       .ts_ms = ts,
                       .value = 38.5,
                       .peak = 38.5,
                       .since_ms = ts - HOUR,
                       .held_ms = HOUR,
                       .kind_of = RULE_ANOMALY,
                       .derived = 9.1,
                       .baseline = 21.0,
                       .sigma = 2.1};

    memset(&rc, 0, sizeof(rc));
    snprintf(rc.device, sizeof(rc.device), "%s", device);
    rule_cfg_defaults(&rc.rule, RULE_ANOMALY);
    rc.priority = GW_PRIO_MEDIUM;
    return gw_rule_evidence(&rc, "energy_rate", "kWh/h", &a);
}

static void change(const char *ref, const char *status, int64_t at)
{
    static const ledger_actor_t by = {"report-gen", "cli"};
    char err[256];

    gen_now = at;
    check(ledger_wo_set_status(lg, ref, status, &by, NULL, err, sizeof(err)), status, err);
}

/* Open, retrigger and move one planned order through its life. */
static void run_plan(const plan_t *p, int idx, int y, int m, int64_t *number)
{
    int64_t opened = local_day(y, m, p->day) + 9 * HOUR + idx * 60000LL;
    ledger_trigger_t t =
        trigger_of(p->device, p->rule, p->category, p->title, "corrective", p->prio, opened);
    ledger_trigger_result_t r;
    char err[256], ref[32];
    char *ev = p->anomaly ? anomaly_evidence(p->device, opened) : NULL;

    t.evidence_json = ev;
    gen_now = opened;
    check(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), "trigger", err);
    for (int k = 0; k < p->again; k++) {
        gen_now = t.ts_ms = opened + (2 * k + 1) * 600000LL;
        check(ledger_wo_clear(lg, site, p->device, p->rule, t.ts_ms, NULL, err, sizeof(err)),
              "clear", err);
        gen_now = t.ts_ms = opened + (2 * k + 2) * 600000LL;
        check(ledger_wo_trigger(lg, &t, NULL, err, sizeof(err)), "retrigger", err);
    }
    free(ev);
    *number = r.number;
    snprintf(ref, sizeof(ref), "%lld", (long long)r.number);
    if (p->ack_h >= 0)
        change(ref, "acknowledged", opened + (int64_t)(p->ack_h * HOUR));
    if (p->cancel)
        change(ref, "cancelled", opened + (int64_t)(p->ack_h * HOUR) + 60000);
    if (p->resolve_h >= 0) {
        change(ref, "in_progress", opened + (int64_t)(p->ack_h * HOUR) + 60000);
        change(ref, "resolved", opened + (int64_t)(p->resolve_h * HOUR));
    }
    if (p->close)
        change(ref, "closed", opened + (int64_t)(p->resolve_h * HOUR) + HOUR);
}

/* ---- the predictive order: the trend rule on a lift's vibration ----------- */

typedef struct bucket {
    int64_t hour;
    double min, max, sum;
    int64_t count;
} bucket_t;

static void rollup_flush(const char *dev, const char *point, const char *unit, bucket_t *b)
{
    ledger_rollup_row_t r = {.ts_ms = b->hour,
                             .min = b->min,
                             .max = b->max,
                             .sum = b->sum,
                             .count = b->count,
                             .last_ts = b->hour + HOUR - 1};
    char err[256];

    if (b->count == 0)
        return;
    snprintf(r.device, sizeof(r.device), "%s", dev);
    snprintf(r.point, sizeof(r.point), "%s", point);
    snprintf(r.unit, sizeof(r.unit), "%s", unit);
    check(ledger_rollup_add(lg, &r, 1, err, sizeof(err)), "rollup", err);
    b->count = 0;
}

static void rollup_add(const char *dev, const char *point, const char *unit, bucket_t *b,
                       int64_t ts, double v)
{
    int64_t hour = ts - ts % HOUR;

    if (b->count && hour != b->hour)
        rollup_flush(dev, point, unit, b);
    if (b->count == 0) {
        b->hour = hour;
        b->min = b->max = v;
        b->sum = 0;
    }
    b->min = fmin(b->min, v);
    b->max = fmax(b->max, v);
    b->sum += v;
    b->count++;
}

static void trend_truth(int64_t number, int64_t opened, gw_priority_t prio);

/* One action of the rule into the ledger, as core_rules.c does it. */
static void trend_action(const gw_rule_cfg_t *rc, const rule_action_t *a, int64_t *number)
{
    ledger_trigger_t t = trigger_of(
        rc->device, rc->name, "mechanical", "Lift 1 machine vibration rising: failure predicted",
        "preventive", a->has_priority ? a->priority : rc->priority, a->ts_ms);
    ledger_trigger_result_t r;
    char err[256], ref[32];
    char *ev = gw_rule_evidence(rc, "vibration_machine", "mm/s", a);

    t.evidence_json = ev;
    gen_now = a->ts_ms;
    if (a->kind == RULE_ACT_OPEN) {
        check(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), "trend open", err);
        *number = r.number;
        trend_truth(r.number, a->ts_ms, t.priority);
        snprintf(ref, sizeof(ref), "%lld", (long long)r.number);
        change(ref, "acknowledged", a->ts_ms + 2 * HOUR);
        change(ref, "in_progress", a->ts_ms + 26 * HOUR);
    } else if (a->kind == RULE_ACT_UPDATE) {
        check(ledger_wo_touch(lg, &t, err, sizeof(err)), "trend touch", err);
    } else if (a->kind == RULE_ACT_RESOLVE) {
        check(ledger_wo_clear(lg, site, rc->device, rc->name, a->ts_ms, ev, err, sizeof(err)),
              "trend clear", err);
    }
    free(ev);
}

/* Readings every 5 minutes from 20 days before the month to its end: a
 * healthy level, then linear wear from day 10 towards 4.5 mm/s. */
static void run_trend(int64_t from, int64_t to, int64_t *number)
{
    gen_t g = {.shape = GEN_LINEAR,
               .base = 1.4,
               .rate = 0.12,
               .onset_ms = from + 9 * DAY,
               .noise_sd = 0.12,
               .rng = 42,
               .daily_amp = 0.08};
    gw_rule_cfg_t rc;
    rule_state_t st;
    bucket_t b = {0};
    char err[128];

    memset(&rc, 0, sizeof(rc));
    snprintf(rc.name, sizeof(rc.name), "vibration-trend");
    snprintf(rc.device, sizeof(rc.device), "lift-1");
    snprintf(rc.iso10816, sizeof(rc.iso10816), "10816-1:I");
    rc.priority = GW_PRIO_LOW;
    rule_cfg_defaults(&rc.rule, RULE_TREND);
    rule_iso10816_zones("10816-1:I", rc.rule.u.trend.zones);
    rc.rule.u.trend.limit = rc.rule.u.trend.zones[2];
    if (rule_validate(&rc.rule, err, sizeof(err)) != 0)
        check(-1, "trend rule", err);
    rule_init(&rc.rule, &st);
    for (int64_t ts = from - 20 * DAY; ts < to; ts += 300000) {
        /* the load differs from day to day: daily levels scatter a little */
        double jitter = 0.06 * sin(1.7 * (double)(ts / DAY)) * cos(0.9 * (double)(ts / DAY));
        gw_sample_t s = {
            .point_id = 1, .ts_ms = ts, .value = gen_value(&g, ts) + jitter, .quality = GW_Q_GOOD};
        rule_action_t a;
        if (rule_eval(&rc.rule, &st, &s, &a) != RULE_ACT_NONE)
            trend_action(&rc, &a, number);
        rollup_add("lift-1", "vibration_machine", "mm/s", &b, ts, s.value);
    }
    rollup_flush("lift-1", "vibration_machine", "mm/s", &b);
}

/* ---- devices and meters --------------------------------------------------- */

static void device_events(int y, int m)
{
    static const struct {
        const char *device, *status;
        int day;
        double hour;
    } evs[] = {
        {"lift-1", "online", -3, 0},  {"lift-1", "offline", 10, 12},
        {"lift-1", "online", 10, 18}, {"pump-2", "online", 1, 0},
        {"pump-2", "offline", 20, 0}, {"pump-2", "online", 21, 0},
        {"pump-2", "offline", 25, 0}, {"pump-2", "online", 25, 12},
        {"fire-1", "online", 5, 0},   {"meter-main", "online", -40, 0},
    };
    char err[256];

    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        int64_t ts = local_day(y, m, evs[i].day) + (int64_t)(evs[i].hour * HOUR);
        gen_now = ts;
        check(ledger_device_status(lg, evs[i].device, evs[i].status, ts, "report-gen", err,
                                   sizeof(err)),
              "device status", err);
    }
}

/* kWh in the hour starting at ts of a meter whose month scale is k. */
static double meter_inc(int64_t ts, double k)
{
    time_t t = (time_t)(ts / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    return k * (tm.tm_hour >= 8 && tm.tm_hour < 20 ? 36.0 : 14.0) * (tm.tm_wday % 6 ? 1.0 : 0.7);
}

/* The month scale of meter-main: this month uses less than the previous
 * one and than a year before. */
static double main_scale(int64_t ts, int64_t month_from, int64_t month_to)
{
    if (ts >= month_from && ts < month_to)
        return 1.0;
    if (ts >= month_to - 400 * DAY && ts < month_to - 335 * DAY)
        return 1.12;
    return 1.08;
}

typedef struct reading {
    int64_t ts;
    double v;
} reading_t;

static reading_t *main_r, *ahu_r;
static size_t main_n, ahu_n;

/* Hourly readings of a counter from..to, skipping the local day skip_day
 * of the month starting at month_from (0: none). Written as rollups and
 * kept in *out for the truth. */
static void run_meter(const char *dev, const char *point, int64_t from, int64_t to,
                      int64_t month_from, int64_t month_to, int skip_day, double scale,
                      reading_t **out, size_t *n)
{
    size_t cap = (size_t)((to - from) / HOUR) + 2;
    bucket_t b = {0};
    double c = 120000;

    *out = calloc(cap, sizeof(**out));
    *n = 0;
    for (int64_t ts = from; ts < to && *out && *n < cap; ts += HOUR) {
        time_t t = (time_t)(ts / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        if (!(skip_day && ts >= month_from && ts < month_to && tm.tm_mday == skip_day)) {
            (*out)[(*n)++] = (reading_t){ts, c};
            rollup_add(dev, point, "kWh", &b, ts, c);
            rollup_flush(dev, point, "kWh", &b);
        }
        c += meter_inc(ts, scale > 0 ? scale : main_scale(ts, month_from, month_to));
    }
}

/* ---- the truth -------------------------------------------------------------- */

static int mday_of(int64_t ts)
{
    time_t t = (time_t)(ts / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    return tm.tm_mday;
}

/* The report's use of a counter over [from, to) from its readings (a day:
 * its last reading minus the last one before it), with the kWh of each
 * local day into daily[] when not NULL. */
static double truth_use(const reading_t *r, size_t n, int64_t from, int64_t to, double *daily,
                        int *days_with_data)
{
    double base = NAN, use = 0;

    *days_with_data = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].ts < from && r[i].ts >= from - DAY)
            base = r[i].v;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int day;
        if (r[i].ts < from || r[i].ts >= to) {
            i++;
            continue;
        }
        day = mday_of(r[i].ts);
        while (j + 1 < n && r[j + 1].ts < to && mday_of(r[j + 1].ts) == day)
            j++;
        if (isnan(base))
            base = r[i].v;
        if (daily)
            daily[day - 1] = r[j].v - base;
        use += r[j].v - base;
        base = r[j].v;
        (*days_with_data)++;
        i = j + 1;
    }
    return use;
}

static cJSON *truth_meter(const reading_t *r, size_t n, const char *month)
{
    cJSON *o = cJSON_CreateObject(), *d = cJSON_AddArrayToObject(o, "daily");
    static const int shifts[] = {0, -1, -12};
    static const char *const keys[] = {"use", "previous", "last_year"};
    double daily[31];

    for (int i = 0; i < 31; i++)
        daily[i] = NAN;
    for (int k = 0; k < 3; k++) {
        int y, m, days = 0;
        int64_t from, to;
        double use;
        sscanf(month, "%4d-%2d", &y, &m);
        m += shifts[k];
        while (m < 1) {
            m += 12;
            y--;
        }
        from = local_day(y, m, 1);
        to = local_day(y, m + 1, 1);
        use = truth_use(r, n, from, to, k == 0 ? daily : NULL, &days);
        cJSON_AddItemToObject(o, keys[k], days ? cJSON_CreateNumber(use) : cJSON_CreateNull());
        if (k == 0) {
            int ndays = (int)((to - from + HOUR) / DAY);
            for (int i = 0; i < ndays; i++)
                cJSON_AddItemToArray(d, isnan(daily[i]) ? cJSON_CreateNull()
                                                        : cJSON_CreateNumber(daily[i]));
        }
    }
    return o;
}

/* One order as the truth sees it. */
typedef struct tord {
    int64_t number, opened, due, ack, resolved, occurrences;
    const char *device, *category, *status;
    char location[48];
} tord_t;

static tord_t tords[32];
static size_t ntords;

static const int64_t sla_ms[4] = {4 * HOUR, 24 * HOUR, 72 * HOUR, 168 * HOUR};

static void truth_kpi(cJSON *o, const tord_t *const *v, size_t n)
{
    double ack = 0, res = 0;
    int nack = 0, nres = 0, on_time = 0, late = 0, closed = 0, cancelled = 0, open = 0;

    for (size_t i = 0; i < n; i++) {
        const tord_t *t = v[i];
        int is_cancel = strcmp(t->status, "cancelled") == 0;
        closed += strcmp(t->status, "closed") == 0;
        cancelled += is_cancel;
        open += !t->resolved && !is_cancel;
        if (t->ack) {
            ack += (double)(t->ack - t->opened) / 1000.0;
            nack++;
        }
        if (t->resolved) {
            res += (double)(t->resolved - t->opened) / 1000.0;
            nres++;
        }
        if (!is_cancel && t->resolved && t->resolved <= t->due)
            on_time++;
        else if (!is_cancel)
            late++; /* resolved late, or unresolved: the report is made after every due */
    }
    cJSON_AddNumberToObject(o, "opened", (double)n);
    cJSON_AddNumberToObject(o, "closed", closed);
    cJSON_AddNumberToObject(o, "cancelled", cancelled);
    cJSON_AddNumberToObject(o, "resolved", nres);
    cJSON_AddNumberToObject(o, "still_open", open);
    cJSON_AddNumberToObject(o, "on_time", on_time);
    cJSON_AddNumberToObject(o, "late", late);
    cJSON_AddNumberToObject(o, "on_time_rate", (double)on_time / (on_time + late));
    cJSON_AddNumberToObject(o, "mean_time_to_acknowledge_s", ack / nack);
    cJSON_AddNumberToObject(o, "mean_time_to_resolve_s", res / nres);
}

/* Orders grouped by category or location into o[name]. */
static void truth_groups(cJSON *o, int by_location)
{
    for (size_t i = 0; i < ntords; i++) {
        const char *key = by_location ? tords[i].location : tords[i].category;
        const tord_t *v[32];
        size_t n = 0;
        if (cJSON_GetObjectItemCaseSensitive(o, key))
            continue;
        for (size_t j = 0; j < ntords; j++)
            if (strcmp(by_location ? tords[j].location : tords[j].category, key) == 0)
                v[n++] = &tords[j];
        truth_kpi(cJSON_AddObjectToObject(o, key), v, n);
    }
}

/* Online share of the month per device from device_events(). */
static void truth_availability(cJSON *o, int64_t from, int64_t to)
{
    static const char *const devs[] = {"fire-1", "lift-1", "meter-main", "pump-2"};
    /* offline hours in the month and outages, known from device_events() */
    static const double off_h[] = {0, 6, 0, 36}, unknown_h[] = {96, 0, 0, 0};
    static const int outages[] = {0, 1, 0, 2};
    double hours = (double)(to - from) / HOUR;

    for (size_t i = 0; i < 4; i++) {
        cJSON *d = cJSON_AddObjectToObject(o, devs[i]);
        double known = hours - unknown_h[i];
        cJSON_AddNumberToObject(d, "online_pct", 100.0 * (known - off_h[i]) / known);
        cJSON_AddNumberToObject(d, "outages", outages[i]);
        cJSON_AddNumberToObject(d, "unknown_s", unknown_h[i] * 3600);
    }
}

static void write_truth(const char *path, const char *month, int64_t from, int64_t to,
                        int64_t predictive, const int64_t *anomalies)
{
    cJSON *o = cJSON_CreateObject(), *late = cJSON_AddArrayToObject(o, "late");
    const tord_t *all[32];
    FILE *f = fopen(path, "w");
    char *text;

    for (size_t i = 0; i < ntords; i++)
        all[i] = &tords[i];
    cJSON_AddStringToObject(o, "month", month);
    truth_kpi(cJSON_AddObjectToObject(o, "overall"), all, ntords);
    truth_groups(cJSON_AddObjectToObject(o, "by_category"), 0);
    truth_groups(cJSON_AddObjectToObject(o, "by_location"), 1);
    cJSON_AddStringToObject(o, "flagged", "Tower A / R");
    for (size_t i = 0; i < ntords; i++)
        if (strcmp(tords[i].status, "cancelled") != 0 &&
            (!tords[i].resolved || tords[i].resolved > tords[i].due))
            cJSON_AddItemToArray(late, cJSON_CreateNumber((double)tords[i].number));
    truth_availability(cJSON_AddObjectToObject(o, "availability"), from, to);
    cJSON_AddItemToObject(o, "meter-main/energy_total", truth_meter(main_r, main_n, month));
    cJSON_AddItemToObject(o, "meter-ahu/energy_import", truth_meter(ahu_r, ahu_n, month));
    cJSON_AddNumberToObject(o, "predictive", (double)predictive);
    cJSON_AddItemToObject(o, "anomalies", cJSON_CreateArray());
    for (int i = 0; i < 2; i++)
        cJSON_AddItemToArray(cJSON_GetObjectItem(o, "anomalies"),
                             cJSON_CreateNumber((double)anomalies[i]));
    text = cJSON_Print(o);
    if (!f || !text || fputs(text, f) < 0 || fclose(f) != 0)
        check(-1, "truth", path);
    free(text);
    cJSON_Delete(o);
}

static void trend_truth(int64_t number, int64_t opened, gw_priority_t prio)
{
    tord_t *t = &tords[ntords++];

    *t = (tord_t){.number = number,
                  .opened = opened,
                  .due = opened + sla_ms[prio],
                  .ack = opened + 2 * HOUR,
                  .occurrences = 1,
                  .device = "lift-1",
                  .category = "mechanical",
                  .status = "in_progress"};
    snprintf(t->location, sizeof(t->location), "Tower A / R");
}

static void plan_truth(const plan_t *p, int64_t number, int idx, int y, int m)
{
    tord_t *t = &tords[ntords++];
    int64_t opened = local_day(y, m, p->day) + 9 * HOUR + idx * 60000LL;

    *t = (tord_t){.number = number,
                  .opened = opened,
                  .due = opened + sla_ms[p->prio],
                  .ack = p->ack_h >= 0 ? opened + (int64_t)(p->ack_h * HOUR) : 0,
                  .resolved = p->resolve_h >= 0 ? opened + (int64_t)(p->resolve_h * HOUR) : 0,
                  .occurrences = 1 + p->again,
                  .device = p->device,
                  .category = p->category,
                  .status = p->cancel           ? "cancelled"
                            : p->close          ? "closed"
                            : p->resolve_h >= 0 ? "resolved"
                            : p->ack_h >= 0     ? "acknowledged"
                                                : "open"};
    for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++)
        if (strcmp(locs[i].device, p->device) == 0)
            snprintf(t->location, sizeof(t->location), "%s / %s", locs[i].building, locs[i].floor);
}

static int usage(void)
{
    fprintf(stderr, "usage: plantroom-report-gen --ledger PATH --month YYYY-MM [--truth FILE]"
                    " [--site ID] [--site-name NAME]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *month = NULL, *truth = NULL, *name = "Test Site";
    gw_clock_t clk = {gen_mono, gen_wall, NULL};
    ledger_policy_t pol;
    int64_t from, to, number = 0, predictive = 0, anomalies[2] = {0, 0};
    char err[256];
    int y, m;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--ledger") == 0)
            path = argv[i + 1];
        else if (strcmp(argv[i], "--month") == 0)
            month = argv[i + 1];
        else if (strcmp(argv[i], "--truth") == 0)
            truth = argv[i + 1];
        else if (strcmp(argv[i], "--site") == 0)
            snprintf(site, sizeof(site), "%s", argv[i + 1]);
        else if (strcmp(argv[i], "--site-name") == 0)
            name = argv[i + 1];
        else
            return usage();
    }
    if (!path || !month || sscanf(month, "%4d-%2d", &y, &m) != 2 || m < 1 || m > 12)
        return usage();
    from = local_day(y, m, 1);
    to = local_day(y, m + 1, 1);
    gen_now = from;
    gw_clock_set(&clk);
    if (ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)) < 0) {
        fprintf(stderr, "report-gen: %s\n", err);
        return 1;
    }
    ledger_policy_default(&pol);
    snprintf(pol.site_id, sizeof(pol.site_id), "%s", site);
    snprintf(pol.site_name, sizeof(pol.site_name), "%s", name);
    ledger_set_policy(lg, &pol);
    check(ledger_begin(lg, err, sizeof(err)), "begin", err);
    for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
        run_plan(&plans[i], (int)i, y, m, &number);
        plan_truth(&plans[i], number, (int)i, y, m);
        if (plans[i].anomaly)
            anomalies[anomalies[0] ? 1 : 0] = number;
    }
    run_trend(from, to, &predictive);
    device_events(y, m);
    run_meter("meter-main", "energy_total", local_day(y, m - 24, 1), to, from, to, 17, 0, &main_r,
              &main_n);
    run_meter("meter-ahu", "energy_import", local_day(y, m, 8), to, from, to, 0, 0.25, &ahu_r,
              &ahu_n);
    check(ledger_commit(lg, err, sizeof(err)), "commit", err);
    ledger_close(lg);
    if (truth && !failures)
        write_truth(truth, month, from, to, predictive, anomalies);
    free(main_r);
    free(ahu_r);
    printf("report-gen: %s: %zu work orders (predictive #%lld), %zu + %zu meter readings\n", path,
           ntords, (long long)predictive, main_n, ahu_n);
    return failures ? 1 : 0;
}
