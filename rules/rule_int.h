/*
 * rule_int.h: what the files of rules/ share and nobody else uses: the trend
 * rule's entry points (rule_trend.c) called by the kind dispatch
 * (rule_kinds.c), and the trend's fits (rule_fit.c), model choice (rule_model.c) and
 * crossing interval (rule_interval.c). Design in docs/architecture.md,
 * "Rules: prediction".
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_RULE_INT_H
#define PLANTROOM_RULE_INT_H

#include "rules/rule.h"

int rule__trend_validate(rule_trend_cfg_t *c, char *err, size_t errlen);
void rule__trend_init(rule_trend_state_t *st);
/* Drop the daily levels and the open day (their calendar is gone: the wall
 * clock stepped back past them); smoothing, baseline and firing stay. */
void rule__trend_forget_days(rule_trend_state_t *st);
rule_action_kind_t rule__trend_eval(const rule_trend_cfg_t *c, rule_trend_state_t *st,
                                    const gw_sample_t *s, rule_action_t *act);

/* ---- fits (rule_fit.c) ------------------------------------------------- */

#define RULE__PAIRS    (RULE_TREND_MAX_DAYS * (RULE_TREND_MAX_DAYS - 1) / 2)
#define RULE__RATE_MIN 1e-3 /* exponential rates searched, per day: from nearly a line */
#define RULE__RATE_MAX 2.0  /* to doubling in 8 hours */

/* The daily levels of one fit: t in days (strictly increasing), y, n <= 64;
 * inv[p] = 1 / (t[j] - t[i]) for the pairs i < j in the order j = 1..n-1,
 * i = 0..j-1, so that the first k(k-1)/2 are the pairs of the first k
 * levels; the exponential floors' ladder from the lowest level and the range
 * of the levels (shared by every prefix and replicate of these levels). */
typedef struct rule__data {
    double t[RULE_TREND_MAX_DAYS], y[RULE_TREND_MAX_DAYS];
    int n;
    double inv[RULE__PAIRS];
    double limit; /* the level the crossing is of */
    /* the day-to-day wander of the quiet days before the change: their
     * levels' deviations from their mean, oldest first */
    double quiet[RULE_TREND_QUIET];
    int nquiet;
    /* the healthy level before the change (the quiet days' median; NAN:
     * unknown): an exponential's floor is not above it */
    double q;
    /* the line's discount per day: a level d days older than the latest
     * one fitted weighs exp(-disc d) in its fit (0: all alike) */
    double disc;
} rule__data_t;

/* A fitted curve. Linear: y = a + b t (Theil-Sen). Exponential: y = phi +
 * exp(a + b t) (least squares; phi configured or fitted). Knee: y = a + b t
 * + k max(0, t - kt) (least squares, the knee kt searched). */
typedef struct rule__fit {
    rule_trend_model_t model; /* RULE_MODEL_LINEAR, _EXP or _KNEE */
    double a, b, phi;
    double k, kt;
    double disc; /* linear: the discount per day of its levels' weights (0: none) */
} rule__fit_t;

typedef struct rule__choice {
    rule_trend_model_t model;
    rule_model_why_t why;
    double gain[2];              /* how much less the exponential [0] and the knee [1] leave
                                    unexplained than the line (1 - sse / sse_line); NAN:
                                    not judged */
    double chance[2];            /* the gain a line's own data gives them by chance, 9
                                    times out of 10 (simulated); NAN: not judged */
    double gain_after[2];        /* the same gains over the origins with the full window's
                                    knee and 3 levels after it in the fit; NAN: none */
    int nafter;                  /* how many such origins */
    rule_trend_model_t favoured; /* by today's test */
    int streak;                  /* day closes in a row the test favoured
                                    another model than the one in use */
    /* The curves the interval draws from: [0] the one in use, then the
     * other shapes auto judged, with the share of replicates each gets */
    rule__fit_t mix[3];
    double w[3];
    int nmix;
    /* auto, judged: every shape fitted to all the levels (line, exponential,
     * knee), for the evidence's "what each shape dates it"; fitted[m] 0:
     * that shape does not fit */
    rule__fit_t fits[3];
    int fitted[3];
} rule__choice_t;

#define RULE__SWITCH_DAYS  1    /* day closes in a row before the model in use changes */
#define RULE__CURVE_DAYS   12   /* levels since the change before auto judges a curve */
#define RULE__OOS_ORIGINS  8    /* latest rolling origins the forecast test scores */
#define RULE__OOS_MARGIN   0.3  /* out-of-sample error a curve must save over the line */
#define RULE__EXP_EDGE     0.08 /* both curves pass: the exponential's gain over the knee's */
#define RULE__KNEE_ORIGINS 3    /* origins after a recent knee its own test needs */
#define RULE__KNEE_BEND    15   /* ... and its bend, in sd of the quiet days' wander */

/* Fill d's pair table for its n levels. */
void rule__data_prepare(rule__data_t *d, double limit);
/* Fit model to the first n levels of d with values y (d->y or a replicate).
 * The exponential's rate is searched from RULE__RATE_MIN to RULE__RATE_MAX,
 * or within a factor 4 of near's (a replicate of a fitted curve). A line is
 * weighted by near's discount (a replicate is refitted exactly as the curve
 * it replicates was), else by d->disc, from the n-th level back. Returns
 * 0, or -1 when no growing exponential fits. work holds RULE__PAIRS
 * doubles. */
int rule__fit(const rule_trend_cfg_t *c, const rule__data_t *d, const double *y, int n,
              rule_trend_model_t model, const rule__fit_t *near, double *work, rule__fit_t *f);
/* The fitted curve at t; its slope (per day) at t. */
double rule__fit_at(const rule__fit_t *f, double t);
double rule__fit_slope(const rule__fit_t *f, double t);
/* The first time >= tnow the curve reaches limit: tnow when it is there
 * already, INFINITY when it never does. */
double rule__fit_crossing(const rule__fit_t *f, double limit, double tnow);
/* Choose the model for d's levels (the configured one; auto: a test of the
 * curve's out-of-sample forecasts against the line's, rule_model.c, that must favour a change of
 * model on RULE__SWITCH_DAYS day closes in a row: prev is the model in use, -1 none yet, and streak
 * the days it has been favoured so far) and fit it into *f. Returns 0 or -1 (no fit). */
int rule__choose(const rule_trend_cfg_t *c, const rule__data_t *d, int prev, int streak,
                 rule__choice_t *ch, rule__fit_t *f);
/* The crossing of the limit after tnow by each shape ch->fits judged
 * (line, exponential, knee) into cross[3]; NAN: not judged or no fit,
 * INFINITY: never or beyond far. */
void rule__choice_crossings(const rule__choice_t *ch, double limit, double tnow, double far,
                            double cross[3]);
/* 1 when auto's test favoured both curves over the line (each saved its
 * margin of the line's forecast error): which shape the wear has is not
 * settled, and the two date the crossing far apart (docs/prediction.md,
 * "The interval"). 0 otherwise, and when not judged. */
int rule__contested(const rule__choice_t *ch);
/* The onset of a change in d's levels: the index i in [i0, i1] from which a
 * line fits the levels at and after it, with the levels before it at the
 * quiet level q, with the least absolute deviations. The change detector
 * alarms days after a slow rise began; the days in between belong to the
 * rise, not to the quiet wander, and the line is better for them. d needs
 * its pair table (rule__data_prepare). */
int rule__onset(const rule__data_t *d, double q, int i0, int i1);
/* The median of v[0..n) (reorders v). */
double rule__median(double *v, int n);
/* The weighted median of v[0..n) with weights w > 0: the least v[i] with at
 * least half the total weight at or below it (reorders v and w alike). */
double rule__wmedian(double *v, double *w, int n);
/* The weights of the first n levels of d for discount disc, w[i] =
 * exp(-disc (t[n-1] - t[i])); returns their effective number (sum w)^2 /
 * sum w^2 (n when disc is 0). */
double rule__weights(const rule__data_t *d, int n, double disc, double *w);

/* ---- noise and the crossing's interval (rule_interval.c) ---------------- */

#define RULE__BOOT 400 /* bootstrap replicates per interval */

/* The day-to-day noise the replicates draw from: deviations and their
 * AR(1) innovations, with what is known of their sd and correlation. */
typedef struct rule__noise {
    double e[RULE_TREND_MAX_DAYS + RULE_TREND_QUIET];
    double u[RULE_TREND_MAX_DAYS + RULE_TREND_QUIET];
    int ne;
    double rho, rho_sd; /* lag-1 autocorrelation and its standard error */
    double sd, nu;      /* sd, and the effective independent days behind it */
    int quiet;          /* 1: from the quiet days' wander, 0: from the residuals */
} rule__noise_t;

typedef struct rule__interval {
    double lo, hi;   /* quantiles of the crossing (days); INFINITY: beyond */
    int reps, never; /* replicates, and how many of them never cross */
    double rho;      /* lag-1 autocorrelation of the noise drawn from */
    int quiet;       /* 1: drawn from the quiet days' wander, 0: from the residuals */
    double sd;       /* its standard deviation (value units) */
} rule__interval_t;

/* The noise around fit f of d: the quiet days' wander when d has at least 7
 * of them (scaled up when the residuals are larger), else the residuals. */
void rule__noise_prepare(const rule_trend_cfg_t *c, const rule__data_t *d, const rule__fit_t *f,
                         rule__noise_t *nz);
/* One replicate at d's days: ys = base + a fresh AR(1) path of the noise. */
void rule__noise_draw(const rule__noise_t *nz, const rule__data_t *d, const double *base,
                      double *ys, uint64_t *rng);
/* The interval at level conf (two-sided) of the crossing of the limit after
 * tnow by the fitted curves mix[0..nmix) of d: RULE__BOOT replicates, a
 * share w[m] of them of curve mix[m] plus the noise around it, each
 * refitted with the same kind of model, each giving its own date (the
 * model's own uncertainty: a curve the data does not rule out widens the
 * interval). The noise figures reported are mix[0]'s. Deterministic for a
 * given seed. */
void rule__interval(const rule_trend_cfg_t *c, const rule__data_t *d, const rule__fit_t *mix,
                    const double *w, int nmix, double tnow, uint64_t seed, rule__interval_t *iv);
/* xorshift64*; the p-quantile of sorted x[0..m); sort x. */
uint64_t rule__rand(uint64_t *s);
double rule__quantile(const double *x, int m, double p);
void rule__sort(double *x, int m);
/* Lag-1 autocorrelation of the centred x[0..n), corrected for its
 * small-sample bias and bounded to [0, 0.9]; *sd its standard deviation. */
double rule__lag1(const double *x, int n, double *sd);

#endif
