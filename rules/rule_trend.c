/*
 * rule_trend.c: the predictive rule (RULE_TREND, rules/rule.h): vibration, motor
 * temperature, pump current, any point that degrades slowly. Design in docs/prediction.md;
 * methods and numbers from ISO 10816 and the usual edge detectors (EWMA, Theil-Sen).
 *
 * Per good reading, in constant memory:
 *  - smoothing: the mean of the last smooth_n readings, classified into the
 *    ISO 10816 zone A..D (so the zone does not flicker between readings;
 *    the zone tables are at the end of this file);
 *  - change detection: the first learn_n readings learn a baseline mean and
 *    sigma (Welford), and the spread of the EWMA itself; then the EWMA
 *    z = l*x + (1-l)*z alarms above mu + L*max(sigma*sqrt(l/(2-l)), sd(z)).
 *    The textbook limit assumes independent readings; a machine's readings
 *    are not (load follows the day), so the EWMA's own spread while learning
 *    bounds it from below. A change starts on the day the EWMA first alarms
 *    and ends with a whole day without an alarm;
 *  - the daily level: readings are averaged per day (day_ms); a closed day
 *    joins a ring of the last window_days daily means.
 *
 * At each day close (the first reading of a new day), with at least min_days
 * means since the change started (no change, no prediction), the model is
 * chosen and fitted (rule_fit.c: a Theil-Sen line, weighted to the recent
 * days by line_half_life, an exponential, or two lines at a knee; "auto" by
 * rolling-origin forecast error, rule_model.c), the central crossing of the
 * limit is where the curve reaches it, and the earliest and latest dates are
 * the quantiles of the crossing over a bootstrap (rule_interval.c).
 *
 * Decisions, once per day close (h = horizon, H = hysteresis):
 *   not firing, earliest crossing within h (and the central one within
 *     central_horizon_days, when set) on SOON_DAYS day closes in a
 *     row with the same model (3 when the model test favours both curves
 *     and the earliest date is over 10 days away), or the level >= limit -> OPEN
 *   firing, earliest crossing within 1.5 h, or the level >= limit - H, or
 *     the change still on and the crossing within 3 h (or too few days to
 *     fit) -----------------------------------------------> UPDATE (new dates)
 *   firing, none of these (the signal looks recovered) ---> UPDATE, and after
 *     clear_days such day closes in a row ----------------> RESOLVE
 * So a machine hovering just under its limit keeps its one order, and a
 * single good day does not resolve it. The suggested priority rises as the
 * earliest date nears: more than 7 days low, more than 3 medium, else high;
 * the level at the limit is critical.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule_int.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS(c) ((double)(c)->day_ms)
/* Whole days in a row without an alarm that end a change: a wear that shows
 * only at the daily peak may miss one. */
#define CALM_DAYS 3
/* Day closes in a row with the earliest date within the horizon that open
 * (one more when contested, the earliest date over CONTESTED_DAYS away). */
#define SOON_DAYS      2
#define CONTESTED_DAYS 10

int rule__trend_validate(rule_trend_cfg_t *c, char *err, size_t errlen)
{
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return GW_EINVAL;                                                                          \
    } while (0)
    if (!isfinite(c->limit) || c->limit <= 0)
        FAIL("limit: must be a number > 0, got %g", c->limit);
    if (c->zones[0] != 0 && !(c->zones[0] < c->zones[1] && c->zones[1] < c->zones[2]))
        FAIL("zones: boundaries must increase");
    if (c->smooth_n < 1 || c->smooth_n > RULE_SMOOTH_MAX)
        FAIL("smooth_n: must be 1..%d, got %d", RULE_SMOOTH_MAX, c->smooth_n);
    if (c->day_ms < 1000)
        FAIL("day_ms: must be >= 1000, got %lld", (long long)c->day_ms);
    if (c->window_days < 3 || c->window_days > RULE_TREND_MAX_DAYS)
        FAIL("window_days: must be 3..%d, got %d", RULE_TREND_MAX_DAYS, c->window_days);
    if (c->min_days < 3 || c->min_days > c->window_days)
        FAIL("min_days: must be 3..window_days (%d), got %d", c->window_days, c->min_days);
    if (c->horizon_ms <= 0)
        FAIL("horizon_ms: must be > 0, got %lld", (long long)c->horizon_ms);
    if (!(c->confidence >= 0.5 && c->confidence <= 0.99))
        FAIL("confidence: must be 0.5..0.99, got %g", c->confidence);
    if (!(c->ewma_lambda > 0 && c->ewma_lambda <= 1))
        FAIL("ewma_lambda: must be in (0, 1], got %g", c->ewma_lambda);
    if (!(c->ewma_L > 0))
        FAIL("ewma_L: must be > 0, got %g", c->ewma_L);
    if (c->learn_n < 2)
        FAIL("learn_n: must be >= 2, got %d", c->learn_n);
    if ((unsigned)c->model > RULE_MODEL_KNEE)
        FAIL("model: unknown model %d", (int)c->model);
    if (c->model != RULE_MODEL_LINEAR && c->floor_set && !(c->floor < c->limit))
        FAIL("floor: must be below the limit (%g), got %g", c->limit, c->floor);
    if (!isfinite(c->hysteresis))
        FAIL("hysteresis: must be a number, got %g", c->hysteresis);
    if (c->hysteresis < 0)
        c->hysteresis = 0.1 * c->limit;
    if (!(c->hysteresis < c->limit))
        FAIL("hysteresis: must be below the limit (%g), got %g", c->limit, c->hysteresis);
    if (c->clear_days < 1 || c->clear_days > RULE_TREND_MAX_DAYS)
        FAIL("clear_days: must be 1..%d, got %d", RULE_TREND_MAX_DAYS, c->clear_days);
    if (c->central_ms < 0)
        FAIL("central_horizon_days: must be >= 0, got %lld ms", (long long)c->central_ms);
    if (!(c->line_half_life == 0 || (c->line_half_life >= 1 && c->line_half_life <= 365)))
        FAIL("line_half_life_days: must be 0 (off) or 1..365, got %g", c->line_half_life);
    if (c->stuck_n != 0 && (c->stuck_n < 2 || c->stuck_n > 100000))
        FAIL("stuck_n: must be 0 (off) or 2..100000, got %d", c->stuck_n);
    return 0;
#undef FAIL
}

void rule__trend_init(rule_trend_state_t *st)
{
    memset(st, 0, sizeof(*st));
    st->day = -1;
    st->change_day = -1;
    st->model = -1;
}

void rule__trend_forget_days(rule_trend_state_t *st)
{
    st->day = -1;
    st->day_sum = 0;
    st->day_n = 0;
    st->day_seen = 0;
    st->dhead = st->dn = 0;
    st->change_day = -1;
    st->change_today = 0;
}

const char *rule_model_name(rule_trend_model_t m)
{
    switch (m) {
    case RULE_MODEL_LINEAR:
        return "linear";
    case RULE_MODEL_EXP:
        return "exponential";
    case RULE_MODEL_AUTO:
        return "auto";
    case RULE_MODEL_KNEE:
        return "knee";
    }
    return "unknown";
}

/* The prediction of one day close. Days are in units of day_ms, from t0. */
typedef struct pred {
    int ok;           /* a curve was fitted */
    double level;     /* the latest daily mean */
    int n;            /* daily means fitted */
    double slope;     /* dy/dt at now, per day */
    double c, lo, hi; /* crossing: central, earliest, latest; INFINITY: none */
    double mc[3];     /* each shape's crossing (auto, judged); NAN: none */
    int64_t from;     /* the first day fitted (day index) */
    int64_t t0;       /* the day the fit's times count from */
    rule__choice_t ch;
    rule__fit_t f;
    rule__interval_t iv;
} pred_t;

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

/* The bootstrap's seed: the rule's parameters and the day, so that a replay
 * (or a restart) draws the same replicates for the same day. */
static uint64_t seed_for(const rule_trend_cfg_t *c, int64_t day)
{
    uint64_t h = 1469598103934665603ULL;

    h = fnv(h, &c->limit, sizeof(c->limit));
    h = fnv(h, &c->day_ms, sizeof(c->day_ms));
    h = fnv(h, &c->window_days, sizeof(c->window_days));
    h = fnv(h, &c->learn_n, sizeof(c->learn_n));
    h = fnv(h, &c->confidence, sizeof(c->confidence));
    return fnv(h, &day, sizeof(day));
}

/* The quiet days before day `before` as deviations from their mean, oldest
 * first, into d; returns their median level (the quiet level), NAN when
 * there are none. */
static double quiet_wander(const rule_trend_state_t *st, int64_t before, rule__data_t *d)
{
    double mean = 0, v[RULE_TREND_QUIET];

    d->nquiet = 0;
    for (int i = 0; i < st->qn; i++) {
        int j = (st->qhead - st->qn + i + RULE_TREND_QUIET) % RULE_TREND_QUIET;
        if (st->quiet_t[j] < before)
            d->quiet[d->nquiet++] = st->quiet_y[j];
    }
    for (int i = 0; i < d->nquiet; i++) {
        mean += d->quiet[i] / d->nquiet;
        v[i] = d->quiet[i];
    }
    for (int i = 0; i < d->nquiet; i++)
        d->quiet[i] -= mean;
    return d->nquiet ? rule__median(v, d->nquiet) : NAN;
}

/* The levels to fit into d: from the onset of the change on (searched among
 * the ring's levels up to the day the detector alarmed: it alarms days
 * after a slow rise began), with the quiet wander of the quiet days before
 * the onset. Returns 0, or -1 when no day since the alarm is kept. */
static int levels(const rule_trend_state_t *st, int64_t t0, rule__data_t *d)
{
    int first = -1, from;
    double q;

    d->n = 0;
    for (int i = 0; i < st->dn; i++) {
        int j = (st->dhead - st->dn + i + RULE_TREND_MAX_DAYS) % RULE_TREND_MAX_DAYS;
        d->t[d->n] = (double)(st->days_t[j] - t0) + 0.5;
        d->y[d->n] = st->days_y[j];
        if (first < 0 && st->days_t[j] >= st->change_day)
            first = d->n;
        d->n++;
    }
    if (first < 0)
        return -1;
    q = quiet_wander(st, st->change_day, d);
    from = first;
    if (!isnan(q)) {
        rule__data_prepare(d, d->limit);
        from = rule__onset(d, q, 0, first);
    }
    memmove(d->t, d->t + from, sizeof(double) * (size_t)(d->n - from));
    memmove(d->y, d->y + from, sizeof(double) * (size_t)(d->n - from));
    d->n -= from;
    d->q = quiet_wander(st, t0 + (int64_t)floor(d->t[0]), d);
    return 0;
}

static void predict(const rule_trend_cfg_t *c, const rule_trend_state_t *st, double tnow,
                    int64_t t0, pred_t *p)
{
    rule__data_t d; /* about 17 KB on the stack: once per day close */
    double far = tnow + 10 * 365.0;

    memset(p, 0, sizeof(*p));
    p->t0 = t0;
    p->c = p->lo = p->hi = INFINITY;
    p->mc[0] = p->mc[1] = p->mc[2] = NAN;
    p->level = st->days_y[(st->dhead - 1 + RULE_TREND_MAX_DAYS) % RULE_TREND_MAX_DAYS];
    if (st->change_day < 0)
        return;
    d.limit = c->limit;
    d.disc = c->line_half_life > 0 ? log(2) / c->line_half_life : 0;
    if (levels(st, t0, &d) != 0)
        return;
    p->n = d.n;
    p->from = t0 + (int64_t)floor(d.t[0]);
    if (d.n < c->min_days)
        return;
    rule__data_prepare(&d, c->limit);
    if (rule__choose(c, &d, st->model, st->model_streak, &p->ch, &p->f) != 0)
        return;
    p->ok = 1;
    p->slope = rule__fit_slope(&p->f, tnow);
    p->c = rule__fit_crossing(&p->f, c->limit, tnow);
    rule__choice_crossings(&p->ch, c->limit, tnow, far, p->mc);
    rule__interval(c, &d, p->ch.mix, p->ch.w, p->ch.nmix, tnow, seed_for(c, st->day), &p->iv);
    p->lo = p->iv.lo;
    p->hi = p->iv.hi;
    /* Dates further than ten years are no dates. */
    p->c = p->c > far ? INFINITY : p->c;
    p->lo = p->lo > far ? INFINITY : p->lo;
    p->hi = p->hi > far ? INFINITY : p->hi;
}

static gw_priority_t priority_for(const rule_trend_cfg_t *c, double days_left, int at_limit)
{
    (void)c;
    if (at_limit)
        return GW_PRIO_CRITICAL;
    if (days_left > 7)
        return GW_PRIO_LOW;
    if (days_left > 3)
        return GW_PRIO_MEDIUM;
    return GW_PRIO_HIGH;
}

static int64_t to_ms(const rule_trend_cfg_t *c, int64_t t0, double days)
{
    return !isfinite(days) ? 0 : t0 * c->day_ms + (int64_t)llround(days * DAY_MS(c));
}

/* Decide on the day's prediction (see the header); prev_model is the model
 * of the day close before (-1: none). Returns the action. */
static rule_action_kind_t decide(const rule_trend_cfg_t *c, rule_trend_state_t *st, const pred_t *p,
                                 int prev_model, double tnow, int64_t ts_ms, int *at_limit)
{
    double horizon = (double)c->horizon_ms / DAY_MS(c), left = p->lo - tnow;
    int soon;

    /* The earliest date must be within the horizon (and the central one
     * within central_ms, when set) on two day closes in a row, by the same
     * model: the first day a noisy prediction dips in is the day it is most
     * likely to be early, and a shape that the model test took up for a day
     * or two (and drops again) dates the crossing days or weeks early. A
     * change of model starts the count again. The level at the limit opens
     * at once. */
    int near =
        left <= horizon && (c->central_ms <= 0 || p->c - tnow <= (double)c->central_ms / DAY_MS(c));
    if (p->ok && (int)p->f.model != prev_model)
        st->soon_days = 0;
    st->soon_days = !st->firing && p->ok && near ? st->soon_days + 1 : 0;
    /* Contested (both curves beat the line; they date weeks apart): a day more. */
    soon = p->level >= c->limit ||
           st->soon_days >= SOON_DAYS + (rule__contested(&p->ch) && left > CONTESTED_DAYS);
    /* An open order stays while the machine is still changing toward the
     * limit (a crossing within 3 horizons): resolving it and opening it again
     * weeks later on the same wear is chatter too. */
    /* A day level back under the change detector's limit is a repaired
     * machine, whatever a fit over the weeks of wear before still says. */
    int wearing = p->level > st->elimit;
    int still = p->level >= c->limit - c->hysteresis ||
                (wearing && ((p->ok && left <= 1.5 * horizon) ||
                             (st->change_day >= 0 && (!p->ok || p->c - tnow <= 3 * horizon))));
    *at_limit = st->firing ? p->level >= c->limit - c->hysteresis : p->level >= c->limit;
    if (!st->firing && soon) {
        st->firing = 1;
        st->opened_ms = ts_ms;
        st->recovered = 0;
        return RULE_ACT_OPEN;
    }
    if (!st->firing)
        return RULE_ACT_NONE;
    st->recovered = still ? 0 : st->recovered + 1;
    if (st->recovered < c->clear_days)
        return RULE_ACT_UPDATE;
    st->firing = 0;
    return RULE_ACT_RESOLVE;
}

/* The action's evidence: the level, the dates and how they were made. */
static void fill(const rule_trend_cfg_t *c, const rule_trend_state_t *st, const pred_t *p,
                 double tnow, const gw_sample_t *s, double smoothed, int at_limit,
                 rule_action_t *act)
{
    *act = (rule_action_t){
        .ts_ms = s->ts_ms,
        .value = s->value,
        .peak = p->level,
        .since_ms = st->opened_ms,
        .limit = c->limit,
        .held_ms = s->ts_ms - st->opened_ms,
        .kind_of = RULE_TREND,
        .has_priority = 1,
        .priority = priority_for(c, isfinite(p->lo) ? p->lo - tnow : 1e9, p->level >= c->limit),
        .derived = p->level,
        .baseline = st->mu,
        .sigma = st->learned > 1 ? sqrt(st->m2 / (double)(st->learned - 1)) : 0,
        .zone = c->zones[0] != 0 ? rule_zone_of(c->zones, smoothed) : -1,
        .smoothed = smoothed,
        .change = st->change,
        .change_since_ms = st->change_day >= 0 ? st->change_day * c->day_ms : 0,
        .slope_per_day = p->slope,
        .ndays = p->n,
        .predicted_ms = st->pred_c,
        .predicted_lo_ms = st->pred_lo,
        .predicted_hi_ms = st->pred_hi,
        .at_limit = at_limit,
        .recovered = st->recovered,
        .model = p->ok ? (int)p->f.model : -1,
        .model_why = (int)p->ch.why,
        .model_gain = {p->ok ? p->ch.gain[0] : NAN, p->ok ? p->ch.gain[1] : NAN},
        .model_chance = {p->ok ? p->ch.chance[0] : NAN, p->ok ? p->ch.chance[1] : NAN},
        .model_gain_recent =
            p->ok && p->ch.nafter >= RULE__KNEE_ORIGINS ? p->ch.gain_after[1] : NAN,
        .model_cross_ms = {to_ms(c, p->t0, p->mc[0]), to_ms(c, p->t0, p->mc[1]),
                           to_ms(c, p->t0, p->mc[2])},
        .knee_ms = p->ok && p->f.model == RULE_MODEL_KNEE ? to_ms(c, p->t0, p->f.kt) : 0,
        .floor = p->ok && p->f.model == RULE_MODEL_EXP ? p->f.phi : NAN,
        .boot_reps = p->iv.reps,
        .boot_never = p->iv.never,
        .boot_rho = p->iv.rho,
        .boot_quiet = p->iv.quiet,
        .fit_from_ms = p->ok ? p->from * c->day_ms : 0,
        .boot_sd = p->iv.sd,
        .fit_a = p->ok ? p->f.a : NAN,
        .fit_b = p->ok ? p->f.b : NAN,
        .fit_k = p->ok ? p->f.k : NAN,
        .fit_kt = p->ok ? p->f.kt : NAN,
        .fit_origin_ms = p->ok ? to_ms(c, p->t0, 0) : 0,
    };
}

/* A day closed at now_ms: predict, then decide (see the header). */
static rule_action_kind_t day_closed(const rule_trend_cfg_t *c, rule_trend_state_t *st,
                                     int64_t now_ms, const gw_sample_t *s, double smoothed,
                                     rule_action_t *act)
{
    int oldest = (st->dhead - st->dn + RULE_TREND_MAX_DAYS) % RULE_TREND_MAX_DAYS, at_limit;
    int prev_model;
    int64_t t0 = st->days_t[oldest];
    double tnow = (double)now_ms / DAY_MS(c) - (double)t0;
    rule_action_kind_t k;
    pred_t p;

    predict(c, st, tnow, t0, &p);
    st->slope = p.slope;
    st->pred_c = to_ms(c, t0, p.c);
    st->pred_lo = to_ms(c, t0, p.lo);
    st->pred_hi = to_ms(c, t0, p.hi);
    prev_model = st->model;
    st->model = p.ok ? (int)p.f.model : -1;
    st->model_streak = p.ok ? p.ch.streak : 0;
    st->last_pred_ms = now_ms;
    k = decide(c, st, &p, prev_model, tnow, s->ts_ms, &at_limit);
    if (k != RULE_ACT_NONE && act) {
        fill(c, st, &p, tnow, s, smoothed, at_limit, act);
        act->kind = k;
    }
    return k;
}

/* Smoothing and change detection for one reading; returns the smoothed value. */
static double observe(const rule_trend_cfg_t *c, rule_trend_state_t *st, double x, int64_t s_day)
{
    double l = c->ewma_lambda, sigma;

    if (st->rn == c->smooth_n) {
        int old = (st->rhead - st->rn + RULE_SMOOTH_MAX) % RULE_SMOOTH_MAX;
        st->rsum -= st->ring[old];
        st->rn--;
    }
    st->ring[st->rhead] = x;
    st->rhead = (st->rhead + 1) % RULE_SMOOTH_MAX;
    st->rn++;
    st->rsum += x;
    if (st->learned < c->learn_n) {
        double d = x - st->mu, e;
        st->learned++;
        st->mu += d / (double)st->learned;
        st->m2 += d * (x - st->mu);
        st->ewma = st->learned == 1 ? x : l * x + (1 - l) * st->ewma;
        e = st->ewma - st->emu;
        st->emu += e / (double)st->learned;
        st->em2 += e * (st->ewma - st->emu);
        if (st->learned == c->learn_n) {
            sigma = sqrt(st->m2 / (double)(st->learned - 1));
            st->elimit = st->mu + c->ewma_L * fmax(sigma * sqrt(l / (2 - l)),
                                                   sqrt(st->em2 / (double)(st->learned - 1)));
        }
    } else {
        st->ewma = l * x + (1 - l) * st->ewma;
        st->change = st->ewma > st->elimit;
        if (st->change) {
            st->change_today = 1;
            if (st->change_day < 0)
                st->change_day = s_day;
        }
    }
    /* Recompute the sum now and then so rounding does not drift. */
    if (st->rhead == 0) {
        st->rsum = 0;
        for (int i = 0; i < st->rn; i++)
            st->rsum += st->ring[(st->rhead - st->rn + i + RULE_SMOOTH_MAX) % RULE_SMOOTH_MAX];
    }
    return st->rsum / st->rn;
}

/* Whether the open day, closing, had enough readings for its level: at
 * least 3/4 of the most any of the last 8 days had (a day with hours
 * missing, or stuck, would carry the daily cycle's bias of those hours).
 * Its count joins the history. */
static int whole_day(rule_trend_state_t *st)
{
    int32_t most = 0;

    for (int i = 0; i < 8; i++)
        most = st->seen[i] > most ? st->seen[i] : most;
    st->seen[st->seen_head] = st->day_seen > INT32_MAX ? INT32_MAX : (int32_t)st->day_seen;
    st->seen_head = (st->seen_head + 1) % 8;
    return st->day_n > 0 && (double)st->day_n >= 0.75 * most;
}

rule_action_kind_t rule__trend_eval(const rule_trend_cfg_t *c, rule_trend_state_t *st,
                                    const gw_sample_t *s, rule_action_t *act)
{
    rule_action_kind_t k = RULE_ACT_NONE;
    int64_t day;
    double smoothed;
    int quiet;

    if (s->quality != GW_Q_GOOD || !isfinite(s->value))
        return RULE_ACT_NONE;
    /* In order on the monotonic clock; days are calendar days (wall clock). */
    if (st->samples > 0 && s->mono_ms < st->last_ts_ms)
        return RULE_ACT_NONE;
    st->samples++;
    st->last_ts_ms = s->mono_ms;
    day = s->ts_ms >= 0 ? s->ts_ms / c->day_ms : (s->ts_ms - c->day_ms + 1) / c->day_ms;
    if (st->day >= 0 && day < st->day) {
        /* The wall clock stepped back: within a day, the open day goes on;
         * further, the days learned lie in the future and are dropped. */
        if (st->day - day <= 1)
            day = st->day;
        else
            rule__trend_forget_days(st);
    }
    /* The day that closes was quiet: no alarm all day, no order open. */
    quiet = st->day >= 0 && day != st->day && !st->change_today && !st->firing;
    if (st->day >= 0 && day != st->day) {
        st->calm_days = st->change_today ? 0 : st->calm_days + 1;
        if (st->calm_days >= CALM_DAYS)
            st->change_day = -1; /* days without an alarm: the change is over */
    }
    if (day != st->day)
        st->change_today = 0;
    smoothed = observe(c, st, s->value, day);
    if (st->day >= 0 && day != st->day) {
        if (whole_day(st)) {
            st->days_t[st->dhead] = st->day;
            st->days_y[st->dhead] = st->day_sum / (double)st->day_n;
            st->dhead = (st->dhead + 1) % RULE_TREND_MAX_DAYS;
            if (st->dn < c->window_days)
                st->dn++;
            if (quiet) {
                st->quiet_y[st->qhead] = st->day_sum / (double)st->day_n;
                st->quiet_t[st->qhead] = st->day;
                st->qhead = (st->qhead + 1) % RULE_TREND_QUIET;
                st->qn += st->qn < RULE_TREND_QUIET;
            }
        }
        if (st->dn > 0)
            k = day_closed(c, st, (st->day + 1) * c->day_ms, s, smoothed, act);
    }
    if (day != st->day) {
        st->day = day;
        st->day_sum = 0;
        st->day_n = 0;
        st->day_seen = 0;
    }
    /* A stuck sensor repeats its last reading exactly: past stuck_n of
     * them, the readings are not a measurement and stay out of the level. */
    st->same_n = st->day_seen + st->day_n > 0 && s->value == st->last_x ? st->same_n + 1 : 0;
    st->last_x = s->value;
    st->day_seen++;
    if (c->stuck_n < 2 || st->same_n < c->stuck_n - 1) {
        st->day_sum += s->value;
        st->day_n++;
    }
    return k;
}

/* ---- ISO 10816 zones ----------------------------------------------------- */

int rule_iso10816_zones(const char *spec, double z[3])
{
    static const struct {
        const char *spec;
        double z[3];
    } tab[] = {
        {"10816-1:I", {0.71, 1.8, 4.5}},      {"10816-1:II", {1.12, 2.8, 7.1}},
        {"10816-1:III", {1.8, 4.5, 11.2}},    {"10816-1:IV", {2.8, 7.1, 18}},
        {"10816-3:1:rigid", {2.3, 4.5, 7.1}}, {"10816-3:1:flexible", {3.5, 7.1, 11.0}},
        {"10816-3:2:rigid", {1.4, 2.8, 4.5}}, {"10816-3:2:flexible", {2.3, 4.5, 7.1}},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(tab); i++) {
        if (strcmp(spec, tab[i].spec) == 0) {
            memcpy(z, tab[i].z, sizeof(tab[i].z));
            return 0;
        }
    }
    return GW_EINVAL;
}

int rule_zone_of(const double z[3], double v)
{
    int zone = 0;
    while (zone < 3 && v >= z[zone])
        zone++;
    return zone;
}
