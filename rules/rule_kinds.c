/*
 * rule_kinds.c: the rule kinds behind one interface (rules/rule.h, "Many
 * kinds behind one interface"; design in docs/architecture.md, "Rules").
 *
 * Every kind but TREND turns a sample into a derived quantity and judges it
 * with the threshold state machine (rule_threshold.c), so for-duration,
 * hysteresis and UPDATE throttling are the same everywhere:
 *
 *   THRESHOLD  the value itself against the limit
 *   STATE      1 when the value equals `equals` (or bit `bit` is set), else 0;
 *              judged "above 0.5"
 *   STALE      the age of the last good sample at each sample's timestamp
 *              (samples of any quality age it; a good one resets it to 0);
 *              judged "age >= after_ms"
 *   RATE       (v - v_ref) / (t - t_ref) * per_ms, with the reference the
 *              oldest kept reading within window_ms; judged against the limit
 *   COUNTER    the count since the last service: deltas of a cumulative
 *              counter, a wrap (uint32: a decrease whose wrapped step is
 *              under half the range) or a reset handled; judged against
 *              the limit; rule_rearm zeroes it
 *   ANOMALY    the excess over the hour-of-week baseline: x - mean -
 *              max(k * sigma, min_delta) (mirrored for below), judged "> 0";
 *              the baseline is an EWMA mean/variance per local hour of the
 *              week, learned only from samples that are not alarmed
 *
 * TREND, and the ISO 10816 zones it classifies readings into, live in
 * rule_trend.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"
#include "rules/rule_int.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[RULE_KIND_COUNT] = {
    "threshold", "state", "stale", "rate", "counter", "anomaly", "trend",
};

const char *rule_kind_name(rule_kind_t k)
{
    return (unsigned)k < RULE_KIND_COUNT ? kind_names[k] : "unknown";
}

int rule_kind_parse(const char *name, rule_kind_t *out)
{
    for (int i = 0; i < RULE_KIND_COUNT; i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (rule_kind_t)i;
            return 0;
        }
    }
    return GW_EINVAL;
}

void rule_cfg_defaults(rule_cfg_t *cfg, rule_kind_t kind)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->kind = kind;
    cfg->alarm.above = 1;
    cfg->alarm.update_ms = 60000;
    /* A clear of a measured value needs a minute on the good side: never a
     * single noisy sample. A state (a bit, an enum) is not noisy: it clears
     * at once unless configured. */
    cfg->alarm.clear_for_ms = kind == RULE_STATE ? 0 : 60000;
    switch (kind) {
    case RULE_THRESHOLD:
    case RULE_STATE:
        break;
    case RULE_STALE:
        cfg->u.stale.after_ms = 60000;
        break;
    case RULE_RATE:
        cfg->u.rate.window_ms = 600000;
        cfg->u.rate.per_ms = 60000;
        break;
    case RULE_COUNTER:
        cfg->u.counter.wrap = 4294967296.0;
        break;
    case RULE_ANOMALY:
        cfg->u.anomaly.above = 1;
        cfg->u.anomaly.k = 4;
        cfg->u.anomaly.alpha = 0.02;
        cfg->u.anomaly.learn_weeks = 2;
        cfg->alarm.for_ms = 15 * 60000;
        break;
    case RULE_TREND:
        cfg->u.trend.smooth_n = 10;
        cfg->u.trend.day_ms = 86400000;
        cfg->u.trend.window_days = 40;
        cfg->u.trend.min_days = 10;
        cfg->u.trend.horizon_ms = 15LL * 86400000;
        cfg->u.trend.confidence = 0.8;
        cfg->u.trend.ewma_lambda = 0.1;
        cfg->u.trend.ewma_L = 4;
        cfg->u.trend.learn_n = 1440;
        cfg->u.trend.model = RULE_MODEL_AUTO;
        cfg->u.trend.hysteresis = -1; /* 10 % of the limit */
        cfg->u.trend.clear_days = 3;
        cfg->u.trend.stuck_n = 0;
        break;
    case RULE_KIND_COUNT:
        break;
    }
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return GW_EINVAL;                                                                          \
    } while (0)

static int validate_kind(rule_cfg_t *c, char *err, size_t errlen)
{
    switch (c->kind) {
    case RULE_THRESHOLD:
        return 0;
    case RULE_STATE:
        if (c->u.state.use_bit && (c->u.state.bit < 0 || c->u.state.bit > 31))
            FAIL("bit: must be 0..31, got %d", c->u.state.bit);
        if (!isfinite(c->u.state.equals))
            FAIL("equals: must be a finite number");
        c->alarm.above = 1;
        c->alarm.limit = 0.5;
        c->alarm.hysteresis = 0;
        return 0;
    case RULE_STALE:
        if (c->u.stale.after_ms <= 0)
            FAIL("after_ms: must be > 0, got %" PRId64, c->u.stale.after_ms);
        c->alarm.above = 1;
        c->alarm.limit = (double)c->u.stale.after_ms - 0.5;
        c->alarm.hysteresis = 0;
        c->alarm.for_ms = 0;
        c->alarm.clear_for_ms = 0; /* a good sample: the device is back */
        return 0;
    case RULE_RATE:
        if (c->u.rate.window_ms <= 0)
            FAIL("window_ms: must be > 0, got %" PRId64, c->u.rate.window_ms);
        if (c->u.rate.per_ms <= 0)
            FAIL("per_ms: must be > 0, got %" PRId64, c->u.rate.per_ms);
        return 0;
    case RULE_COUNTER:
        if (!(c->u.counter.wrap >= 0) || !isfinite(c->u.counter.wrap))
            FAIL("wrap: must be >= 0, got %g", c->u.counter.wrap);
        if (!(c->alarm.limit > 0))
            FAIL("limit: a counter needs a limit > 0, got %g", c->alarm.limit);
        c->alarm.above = 1;
        c->alarm.clear_for_ms = 0; /* only a re-arm lowers the count */
        return 0;
    case RULE_ANOMALY:
        if (!(c->u.anomaly.k > 0))
            FAIL("k: must be > 0, got %g", c->u.anomaly.k);
        if (!(c->u.anomaly.min_delta >= 0))
            FAIL("min_delta: must be >= 0, got %g", c->u.anomaly.min_delta);
        if (!(c->u.anomaly.alpha > 0 && c->u.anomaly.alpha < 1))
            FAIL("alpha: must be in (0, 1), got %g", c->u.anomaly.alpha);
        if (c->u.anomaly.learn_weeks < 1 || c->u.anomaly.learn_weeks > 1000)
            FAIL("learn_weeks: must be 1..1000, got %d", c->u.anomaly.learn_weeks);
        if (c->u.anomaly.utc_offset_min < -14 * 60 || c->u.anomaly.utc_offset_min > 14 * 60)
            FAIL("utc_offset_min: must be -840..840, got %d", c->u.anomaly.utc_offset_min);
        c->alarm.above = 1;
        c->alarm.limit = 0;
        return 0;
    case RULE_TREND:
        return rule__trend_validate(&c->u.trend, err, errlen);
    case RULE_KIND_COUNT:
        break;
    }
    FAIL("kind: unknown rule kind %d", (int)c->kind);
}

int rule_validate(rule_cfg_t *cfg, char *err, size_t errlen)
{
    char dummy[1];
    int rc;

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    rc = validate_kind(cfg, err, errlen);
    if (rc != 0)
        return rc;
    if (cfg->kind == RULE_TREND)
        return 0;
    return rule_threshold_validate(&cfg->alarm, err, errlen);
}

void rule_init(const rule_cfg_t *cfg, rule_state_t *st)
{
    memset(st, 0, sizeof(*st));
    st->kind = cfg->kind;
    rule_threshold_init(&st->alarm);
    if (cfg->kind == RULE_TREND)
        rule__trend_init(&st->u.trend);
}

void rule_rearm(const rule_cfg_t *cfg, rule_state_t *st)
{
    if (cfg->kind == RULE_COUNTER)
        st->u.counter.acc = 0;
    if (cfg->kind == RULE_TREND) {
        st->u.trend.firing = 0;
        st->u.trend.dn = 0; /* the machine was serviced: its old trend no longer applies */
        return;
    }
    st->alarm.st = RULE_ST_NORMAL;
    st->alarm.since_ms = 0;
    st->alarm.last_update_ms = 0;
    st->alarm.peak = 0;
    st->alarm.clearing = 0;
    st->alarm.clear_since_ms = 0;
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t rule_learn_hash(const rule_cfg_t *cfg)
{
    uint64_t h = 1469598103934665603ULL;
    uint32_t k = (uint32_t)cfg->kind, sz = (uint32_t)sizeof(rule_state_t);
    const rule_trend_cfg_t *t = &cfg->u.trend;

    h = fnv(h, &k, sizeof(k));
    h = fnv(h, &sz, sizeof(sz));
    switch (cfg->kind) {
    case RULE_RATE:
        h = fnv(h, &cfg->u.rate.window_ms, sizeof(int64_t));
        break;
    case RULE_COUNTER:
        h = fnv(h, &cfg->u.counter.wrap, sizeof(double));
        break;
    case RULE_ANOMALY:
        h = fnv(h, &cfg->u.anomaly.utc_offset_min, sizeof(int));
        h = fnv(h, &cfg->u.anomaly.above, sizeof(int));
        break;
    case RULE_TREND:
        h = fnv(h, &t->day_ms, sizeof(t->day_ms));
        h = fnv(h, &t->smooth_n, sizeof(t->smooth_n));
        h = fnv(h, &t->learn_n, sizeof(t->learn_n));
        break;
    default:
        break;
    }
    return h;
}

/* ---- derived quantities ------------------------------------------------ */

/* 0 and *out set when the sample yields a derived value; -1 when it yields
 * none yet (e.g. a rate before its window has data). */
static int derive_state(const rule_state_cfg_t *c, double v, double *out)
{
    int on;

    if (c->use_bit) {
        if (v < 0 || v > 4294967295.0)
            return -1;
        on = (((uint32_t)v >> c->bit) & 1u) != 0;
    } else {
        on = v == c->equals;
    }
    *out = (on != c->invert) ? 1.0 : 0.0;
    return 0;
}

/* On the monotonic clock: a step of the wall clock makes no rate. */
static int derive_rate(const rule_rate_cfg_t *c, rule_rate_state_t *r, const gw_sample_t *s,
                       double *out)
{
    int64_t t = s->mono_ms, from = t - c->window_ms;
    int ref = -1, newest;

    /* The oldest kept reading still inside the window is the reference. */
    for (int i = 0; i < r->n; i++) {
        int j = (r->head - r->n + i + RULE_RATE_RING) % RULE_RATE_RING;
        if (r->ts[j] >= from) {
            ref = j;
            break;
        }
    }
    /* Keep a reading every window/(ring/2), so the ring spans the window. */
    newest = (r->head - 1 + RULE_RATE_RING) % RULE_RATE_RING;
    if (r->n == 0 || t - r->ts[newest] >= c->window_ms / (RULE_RATE_RING / 2)) {
        r->ts[r->head] = t;
        r->v[r->head] = s->value;
        r->head = (r->head + 1) % RULE_RATE_RING;
        if (r->n < RULE_RATE_RING)
            r->n++;
    }
    /* A rate over less than a quarter of the window is mostly noise. */
    if (ref < 0 || t - r->ts[ref] < c->window_ms / 4 || t == r->ts[ref])
        return -1;
    *out = (s->value - r->v[ref]) / (double)(t - r->ts[ref]) * (double)c->per_ms;
    return 0;
}

static int derive_counter(const rule_counter_cfg_t *c, rule_counter_state_t *k, double v,
                          double *out)
{
    if (k->has_last) {
        double d = v - k->last_raw;
        /* A decrease is a wrap when the wrapped step is short (less than
         * half the range); otherwise the device's counter was reset (a
         * replaced controller) and counts from zero to v. */
        if (d < 0)
            d = c->wrap > 0 && d + c->wrap < c->wrap / 2 ? d + c->wrap : v;
        k->acc += d;
    }
    k->has_last = 1;
    k->last_raw = v;
    *out = k->acc;
    return 0;
}

/* Local hour of the week, 0 = Sunday 00:00. The epoch was a Thursday. */
static int hour_of_week(int64_t ts_ms, int offset_min, int64_t *week)
{
    int64_t h = (ts_ms + (int64_t)offset_min * 60000) / 3600000;
    int64_t hw;

    if (ts_ms < 0)
        h -= 1;
    h += 4 * 24; /* shift so that hour 0 is a Sunday midnight */
    hw = ((h % 168) + 168) % 168;
    *week = (h - hw) / 168;
    return (int)hw;
}

static int derive_anomaly(const rule_anomaly_cfg_t *c, rule_state_t *st, const gw_sample_t *s,
                          double *out, double *mean, double *sd)
{
    int64_t week;
    rule_anomaly_bucket_t *b = &st->u.anomaly.b[hour_of_week(s->ts_ms, c->utc_offset_min, &week)];
    double x = s->value, m = b->mean, var = b->var, sigma, band, a;
    int judged = b->weeks >= c->learn_weeks;

    *mean = m;
    *sd = sigma = sqrt(var > 0 ? var : 0);
    if (judged) {
        band = fmax(c->k * sigma, c->min_delta);
        *out = c->above ? x - m - band : m - x - band;
    }
    /* Learn from samples that are not part of an alarm, so that a lasting
     * anomaly does not become the new normal. */
    if (st->alarm.st == RULE_ST_NORMAL && (!judged || *out <= 0)) {
        b->n++;
        a = 1.0 / b->n > c->alpha ? 1.0 / b->n : c->alpha;
        b->var = (float)((1 - a) * (var + a * (x - m) * (x - m)));
        b->mean = (float)(m + a * (x - m));
        if (b->n == 1 || (uint16_t)week != b->last_week) {
            if (b->weeks < UINT16_MAX)
                b->weeks++;
            b->last_week = (uint16_t)week;
        }
    }
    return judged ? 0 : -1;
}

/* ---- the one entry point ----------------------------------------------- */

rule_action_kind_t rule_eval(const rule_cfg_t *cfg, rule_state_t *st, const gw_sample_t *s,
                             rule_action_t *act)
{
    gw_sample_t d = *s;
    double mean = 0, sd = 0;
    int good = s->quality == GW_Q_GOOD && isfinite(s->value);
    rule_action_kind_t k;

    assert(cfg && st && s && cfg->kind == st->kind);
    if (cfg->kind == RULE_THRESHOLD) {
        k = rule_threshold_eval(&cfg->alarm, &st->alarm, s, act);
        if (k != RULE_ACT_NONE && act) {
            act->kind_of = RULE_THRESHOLD;
            act->derived = act->value;
        }
        return k;
    }
    if (cfg->kind == RULE_TREND)
        return rule__trend_eval(&cfg->u.trend, &st->u.trend, s, act);
    if (cfg->kind == RULE_STALE) {
        /* Ages on the monotonic clock: a wall-clock step ages nothing. */
        if (st->first_ms == 0 && st->last_good_ms == 0)
            st->first_ms = s->mono_ms;
        if (good)
            st->last_good_ms = s->mono_ms;
        d.value = (double)(s->mono_ms - (st->last_good_ms ? st->last_good_ms : st->first_ms));
        if (d.value < 0)
            return RULE_ACT_NONE;
        d.quality = GW_Q_GOOD;
    } else {
        if (!good)
            return RULE_ACT_NONE;
        if (st->alarm.samples > 0 && s->mono_ms < st->alarm.last_ts_ms)
            return RULE_ACT_NONE;
        switch (cfg->kind) {
        case RULE_STATE:
            if (derive_state(&cfg->u.state, s->value, &d.value) != 0)
                return RULE_ACT_NONE;
            break;
        case RULE_RATE:
            if (derive_rate(&cfg->u.rate, &st->u.rate, s, &d.value) != 0)
                return RULE_ACT_NONE;
            break;
        case RULE_COUNTER:
            derive_counter(&cfg->u.counter, &st->u.counter, s->value, &d.value);
            break;
        case RULE_ANOMALY:
            if (derive_anomaly(&cfg->u.anomaly, st, s, &d.value, &mean, &sd) != 0)
                return RULE_ACT_NONE;
            break;
        default:
            return RULE_ACT_NONE;
        }
    }
    k = rule_threshold_eval(&cfg->alarm, &st->alarm, &d, act);
    if (k != RULE_ACT_NONE && act) {
        act->kind_of = cfg->kind;
        act->derived = d.value;
        act->value = s->value;
        act->baseline = mean;
        act->sigma = sd;
        act->zone = -1;
    }
    return k;
}
