/*
 * rule_trend.c: the predictive rule (RULE_TREND, rules/rule.h): vibration,
 * motor temperature, pump current, any point that degrades slowly.
 * Design in docs/architecture.md, "Rules: prediction"; methods and numbers
 * from ISO 10816 and the usual edge detectors (EWMA, Theil-Sen).
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
 * means since the change started (the trend is fitted only past the knee,
 * where the degradation is; no change, no prediction): a Theil-Sen line (median of pairwise slopes,
 * median intercept) is fitted to the daily means, or to ln(mean - floor) for the exponential model
 * (auto: the one whose residuals are smaller; the floor defaults to the learned baseline mean). Its
 * prediction interval at t is +/- t(conf, n-2) * s * sqrt(1 + 1/n + (t - tmean)^2 / Stt), s from
 * the residuals. The crossing of the limit is predicted three ways: central
 * (the line), earliest (the upper bound: the conservative date) and latest
 * (the lower bound; 0 when beyond four horizons).
 *
 * Decisions, once per day close:
 *   not firing, earliest crossing within horizon (or the daily level already
 *     at the limit) ---------------------------------------> OPEN
 *   firing, earliest crossing within 1.5 horizons or level at the limit
 *     ----------------------------------------------------> UPDATE (new dates)
 *   firing, otherwise (the signal recovered) ------------> RESOLVE
 * The suggested priority rises as the earliest date nears: more than 7 days
 * low, more than 3 medium, else high; the level at the limit is critical.
 */
#include "rules/rule_int.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS(c) ((double)(c)->day_ms)

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
    if (c->confidence != 0.9 && c->confidence != 0.95 && c->confidence != 0.99)
        FAIL("confidence: must be 0.9, 0.95 or 0.99, got %g", c->confidence);
    if (!(c->ewma_lambda > 0 && c->ewma_lambda <= 1))
        FAIL("ewma_lambda: must be in (0, 1], got %g", c->ewma_lambda);
    if (!(c->ewma_L > 0))
        FAIL("ewma_L: must be > 0, got %g", c->ewma_L);
    if (c->learn_n < 2)
        FAIL("learn_n: must be >= 2, got %d", c->learn_n);
    if ((unsigned)c->model > RULE_MODEL_AUTO)
        FAIL("model: unknown model %d", (int)c->model);
    if (c->model != RULE_MODEL_LINEAR && c->floor_set && !(c->floor < c->limit))
        FAIL("floor: must be below the limit (%g), got %g", c->limit, c->floor);
    return 0;
#undef FAIL
}

void rule__trend_init(rule_trend_state_t *st)
{
    memset(st, 0, sizeof(*st));
    st->day = -1;
    st->change_day = -1;
}

void rule__trend_forget_days(rule_trend_state_t *st)
{
    st->day = -1;
    st->day_sum = 0;
    st->day_n = 0;
    st->dhead = st->dn = 0;
    st->change_day = -1;
    st->change_today = 0;
}

double rule__t_quantile(double conf, int df)
{
    static const double t90[] = {6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895,
                                 1.860, 1.833, 1.812, 1.796, 1.782, 1.771, 1.761,
                                 1.753, 1.746, 1.740, 1.734, 1.729, 1.725};
    static const double t95[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
                                 2.306,  2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
                                 2.131,  2.120, 2.110, 2.101, 2.093, 2.086};
    static const double t99[] = {63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499,
                                 3.355,  3.250, 3.169, 3.106, 3.055, 3.012, 2.977,
                                 2.947,  2.921, 2.898, 2.878, 2.861, 2.845};
    const double *t = conf >= 0.99 ? t99 : conf >= 0.95 ? t95 : t90;
    double z = conf >= 0.99 ? 2.576 : conf >= 0.95 ? 1.960 : 1.645;

    if (df < 1)
        df = 1;
    if (df <= 20)
        return t[df - 1];
    return z + (t[19] - z) * 20.0 / df; /* the gap to z shrinks about as 1/df */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A fitted line y = a + b t with its prediction-interval terms. */
typedef struct fit {
    double a, b, s, tmean, stt, tq;
    int n;
} fit_t;

/* Theil-Sen fit of y on t (n >= 3); sse gets the residual sum of squares. */
static void theil_sen(const double *t, const double *y, int n, double conf, fit_t *f)
{
    double pairs[RULE_TREND_MAX_DAYS * (RULE_TREND_MAX_DAYS - 1) / 2], r[RULE_TREND_MAX_DAYS];
    double sse = 0;
    int np = 0;

    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (t[j] != t[i])
                pairs[np++] = (y[j] - y[i]) / (t[j] - t[i]);
    f->b = np ? median(pairs, np) : 0;
    for (int i = 0; i < n; i++)
        r[i] = y[i] - f->b * t[i];
    f->a = median(r, n);
    f->tmean = 0;
    for (int i = 0; i < n; i++)
        f->tmean += t[i] / n;
    f->stt = 0;
    for (int i = 0; i < n; i++) {
        double e = y[i] - f->a - f->b * t[i];
        sse += e * e;
        f->stt += (t[i] - f->tmean) * (t[i] - f->tmean);
    }
    f->n = n;
    f->s = sqrt(sse / (n - 2));
    f->tq = rule__t_quantile(conf, n - 2);
}

static double half_width(const fit_t *f, double t)
{
    return f->tq * f->s * sqrt(1.0 + 1.0 / f->n + (t - f->tmean) * (t - f->tmean) / f->stt);
}

/* The prediction of one day close. Days are in units of day_ms. */
typedef struct pred {
    int ok;
    double level;     /* the latest daily mean */
    int n;            /* daily means fitted */
    double slope;     /* dy/dt at now, per day */
    double c, lo, hi; /* crossing days from t0; < 0: none */
    fit_t fit;        /* the model used (when ok) */
    int use_exp;
    double phi; /* its floor (exponential) */
} pred_t;

/* Residual sum of squares, in y units, of the exponential fit with floor
 * phi; fills *f. Returns HUGE_VAL when some y <= phi. */
static double fit_exp(const double *t, const double *y, int n, double phi, double conf, fit_t *f)
{
    double ly[RULE_TREND_MAX_DAYS] = {0}, sse = 0;

    for (int i = 0; i < n; i++) {
        if (!(y[i] - phi > 0))
            return HUGE_VAL;
        ly[i] = log(y[i] - phi);
    }
    theil_sen(t, ly, n, conf, f);
    for (int i = 0; i < n; i++) {
        double e = y[i] - (phi + exp(f->a + f->b * t[i]));
        sse += e * e;
    }
    return sse;
}

/* The exponential model's floor: the configured one, else the best (least
 * residuals) of a geometric ladder below the lowest daily level, from
 * 1/256 of the levels' range to 128 ranges below (which is nearly linear).
 * Returns the SSE of the chosen fit in *f, HUGE_VAL if none fits. */
static double best_exp(const rule_trend_cfg_t *c, const double *t, const double *y, int n,
                       double *phi, fit_t *f)
{
    double lo = y[0], hi = y[0], range, best = HUGE_VAL, sse;
    fit_t cand;

    if (c->floor_set) {
        *phi = c->floor;
        return fit_exp(t, y, n, c->floor, c->confidence, f);
    }
    for (int i = 1; i < n; i++) {
        lo = fmin(lo, y[i]);
        hi = fmax(hi, y[i]);
    }
    range = hi - lo > 0 ? hi - lo : fabs(lo) * 0.01 + 1e-9;
    for (int k = 0; k < 16; k++) {
        double cphi = lo - range * ldexp(1.0, k - 8);
        sse = fit_exp(t, y, n, cphi, c->confidence, &cand);
        if (sse < best && cphi < c->limit) {
            best = sse;
            *phi = cphi;
            *f = cand;
        }
    }
    return best;
}

static void predict(const rule_trend_cfg_t *c, const rule_trend_state_t *st, double tnow,
                    int64_t t0, pred_t *p)
{
    double t[RULE_TREND_MAX_DAYS], y[RULE_TREND_MAX_DAYS];
    fit_t lin, ex, *f = &lin;
    int n = 0, use_exp = 0;
    double L = c->limit, span = 4.0 * (double)c->horizon_ms / DAY_MS(c), phi = 0;

    memset(p, 0, sizeof(*p));
    p->c = p->lo = p->hi = -1;
    p->level = st->days_y[(st->dhead - 1 + RULE_TREND_MAX_DAYS) % RULE_TREND_MAX_DAYS];
    if (st->change_day < 0)
        return;
    for (int i = 0; i < st->dn; i++) {
        int j = (st->dhead - st->dn + i + RULE_TREND_MAX_DAYS) % RULE_TREND_MAX_DAYS;
        if (st->days_t[j] < st->change_day)
            continue;
        t[n] = (double)(st->days_t[j] - t0) + 0.5;
        y[n] = st->days_y[j];
        n++;
    }
    p->n = n;
    if (n < c->min_days)
        return;
    p->ok = 1;
    theil_sen(t, y, n, c->confidence, &lin);
    /* auto: the exponential model only with twice min_days of change (a
     * curve fitted to the first days past a knee extrapolates wildly), and
     * only if it wins per degree of freedom (its floor is a third
     * parameter unless configured). */
    if (c->model == RULE_MODEL_EXP || (c->model == RULE_MODEL_AUTO && n >= 2 * c->min_days)) {
        double se = best_exp(c, t, y, n, &phi, &ex), sl = 0;
        int k = c->floor_set ? 2 : 3;
        for (int i = 0; i < n; i++) {
            double e = y[i] - (lin.a + lin.b * t[i]);
            sl += e * e;
        }
        use_exp =
            se < HUGE_VAL && (c->model == RULE_MODEL_EXP || (n > k && se / (n - k) < sl / (n - 2)));
    }
    if (use_exp) {
        f = &ex;
        L = log(c->limit - phi);
        p->slope = f->b * exp(f->a + f->b * tnow);
    } else {
        p->slope = f->b;
    }
    if (f->b > 0)
        p->c = fmax(tnow, (L - f->a) / f->b);
    p->fit = *f;
    p->use_exp = use_exp;
    p->phi = phi;
    /* Scan hourly from now for the first time each bound reaches L. */
    for (double tt = tnow; tt <= tnow + span; tt += 1.0 / 24) {
        double m = f->a + f->b * tt, h = half_width(f, tt);
        if (p->lo < 0 && m + h >= L)
            p->lo = tt;
        if (m - h >= L) {
            p->hi = tt;
            break;
        }
    }
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
    return days < 0 ? 0 : t0 * c->day_ms + (int64_t)llround(days * DAY_MS(c));
}

/* A day closed at now_ms: predict, then decide (see the header). */
static rule_action_kind_t day_closed(const rule_trend_cfg_t *c, rule_trend_state_t *st,
                                     int64_t now_ms, const gw_sample_t *s, double smoothed,
                                     rule_action_t *act)
{
    int oldest = (st->dhead - st->dn + RULE_TREND_MAX_DAYS) % RULE_TREND_MAX_DAYS;
    int64_t t0 = st->days_t[oldest];
    double tnow = (double)now_ms / DAY_MS(c) - (double)t0, horizon = c->horizon_ms / DAY_MS(c);
    rule_action_kind_t k = RULE_ACT_NONE;
    int at_limit, soon, still;
    pred_t p;

    predict(c, st, tnow, t0, &p);
    at_limit = p.level >= c->limit;
    soon = at_limit || (p.lo >= 0 && p.lo - tnow <= horizon);
    still = at_limit || (p.lo >= 0 && p.lo - tnow <= 1.5 * horizon);
    st->slope = p.slope;
    st->pred_c = to_ms(c, t0, p.c);
    st->pred_lo = to_ms(c, t0, p.lo);
    st->pred_hi = to_ms(c, t0, p.hi);
    if (!st->firing && soon) {
        st->firing = 1;
        st->opened_ms = s->ts_ms;
        k = RULE_ACT_OPEN;
    } else if (st->firing && still) {
        k = RULE_ACT_UPDATE;
    } else if (st->firing) {
        st->firing = 0;
        k = RULE_ACT_RESOLVE;
    }
    if (k == RULE_ACT_NONE || !act)
        return k;
    *act = (rule_action_t){
        .kind = k,
        .ts_ms = s->ts_ms,
        .value = s->value,
        .peak = p.level,
        .since_ms = st->opened_ms,
        .limit = c->limit,
        .held_ms = s->ts_ms - st->opened_ms,
        .kind_of = RULE_TREND,
        .has_priority = 1,
        .priority = priority_for(c, p.lo >= 0 ? p.lo - tnow : 1e9, at_limit),
        .derived = p.level,
        .baseline = st->mu,
        .sigma = st->learned > 1 ? sqrt(st->m2 / (double)(st->learned - 1)) : 0,
        .zone = c->zones[0] != 0 ? rule_zone_of(c->zones, smoothed) : -1,
        .smoothed = smoothed,
        .change = st->change,
        .change_since_ms = st->change_day >= 0 ? st->change_day * c->day_ms : 0,
        .slope_per_day = p.slope,
        .ndays = p.n,
        .predicted_ms = st->pred_c,
        .predicted_lo_ms = st->pred_lo,
        .predicted_hi_ms = st->pred_hi,
    };
    if (p.ok) {
        act->fit_n = p.fit.n;
        act->fit_exp = p.use_exp;
        act->fit_a = p.fit.a;
        act->fit_b = p.fit.b;
        act->fit_floor = p.phi;
        act->fit_s = p.fit.s;
        act->fit_tmean = p.fit.tmean;
        act->fit_stt = p.fit.stt;
        act->fit_tq = p.fit.tq;
        act->fit_origin_ms = t0 * c->day_ms;
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

rule_action_kind_t rule__trend_eval(const rule_trend_cfg_t *c, rule_trend_state_t *st,
                                    const gw_sample_t *s, rule_action_t *act)
{
    rule_action_kind_t k = RULE_ACT_NONE;
    int64_t day;
    double smoothed;

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
    if (st->day >= 0 && day != st->day && !st->change_today)
        st->change_day = -1; /* a whole day without an alarm: the change is over */
    if (day != st->day)
        st->change_today = 0;
    smoothed = observe(c, st, s->value, day);
    if (st->day >= 0 && day != st->day && st->day_n > 0) {
        st->days_t[st->dhead] = st->day;
        st->days_y[st->dhead] = st->day_sum / (double)st->day_n;
        st->dhead = (st->dhead + 1) % RULE_TREND_MAX_DAYS;
        if (st->dn < c->window_days)
            st->dn++;
        k = day_closed(c, st, (st->day + 1) * c->day_ms, s, smoothed, act);
    }
    if (day != st->day) {
        st->day = day;
        st->day_sum = 0;
        st->day_n = 0;
    }
    st->day_sum += s->value;
    st->day_n++;
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
