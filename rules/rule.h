/*
 * rule.h: the rules engine's contract. Pure computation: samples and a clock
 * in, actions out. No I/O, no libuv, no SQLite (docs/architecture.md).
 *
 * A rule instance watches one point. Each sample fed to it may yield one
 * action on the rule's fingerprint (site/device/rule): OPEN when the
 * condition has held for the configured duration, UPDATE while it keeps
 * holding (at most once per update interval, with the latest evidence), and
 * RESOLVE when it has cleared past the hysteresis band. Samples whose quality
 * is not GW_Q_GOOD never count as readings: they neither start, hold nor
 * clear a condition.
 *
 * The caller owns the config and the state; both are plain structs that can
 * be copied, so state survives a config reload when the rule is unchanged.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_RULE_H
#define PLANTROOM_RULE_H

#include "gateway/base/gw_types.h"

#include <stdint.h>

typedef enum rule_kind {
    RULE_THRESHOLD = 0, /* value above (or below) a limit, held for a duration */
    RULE_STATE,         /* value equal to a state, or a bit set (fire zone, pump tripped) */
    RULE_STALE,         /* no good sample for after_ms (device offline) */
    RULE_RATE,          /* rate of change over a window above (below) a limit */
    RULE_COUNTER,       /* counter since last service past a limit; re-armed on service */
    RULE_ANOMALY,       /* value far from its learned hour-of-week baseline */
    RULE_TREND,         /* predictive: zone, change detection, time to the limit */
    RULE_KIND_COUNT
} rule_kind_t;

typedef enum rule_action_kind {
    RULE_ACT_NONE = 0,
    RULE_ACT_OPEN,    /* condition began: open (or re-trigger) a work order */
    RULE_ACT_UPDATE,  /* condition still holds: refresh evidence, last seen */
    RULE_ACT_RESOLVE, /* condition cleared */
} rule_action_kind_t;

/* Threshold rule parameters.
 * above != 0: fires when value > limit for for_ms; clears when value <=
 *   limit - hysteresis at every good sample for clear_for_ms.
 * above == 0: fires when value < limit for for_ms; clears when value >=
 *   limit + hysteresis at every good sample for clear_for_ms.
 * Hysteresis applies only once firing: while pending, the condition must hold
 * continuously for for_ms, so a good sample on the clear side of the limit
 * itself (above: value <= limit) cancels the pending time. While clearing, a
 * good sample inside the band (not past the hysteresis) cancels the clearing
 * time: the order stays firing, and no new episode begins. With
 * clear_for_ms > 0 a single sample never clears (the clear is decided at a
 * later sample, clear_for_ms after the first one on the good side). */
typedef struct rule_threshold_cfg {
    int above;
    double limit;
    double hysteresis;    /* >= 0 */
    int64_t for_ms;       /* >= 0: how long the condition must hold */
    int64_t update_ms;    /* >= 0: minimum gap between UPDATE actions; 0: never */
    int64_t clear_for_ms; /* >= 0: how long it must stay cleared; 0: at once */
} rule_threshold_cfg_t;

typedef enum rule_state_kind {
    RULE_ST_NORMAL = 0,
    RULE_ST_PENDING, /* condition true since since_ms, not yet for for_ms */
    RULE_ST_FIRING,  /* (clearing != 0: past the hysteresis since clear_since_ms) */
} rule_state_kind_t;

/* The state's times are on the samples' monotonic clock (mono_ms). */
typedef struct rule_threshold_state {
    rule_state_kind_t st;
    int64_t since_ms;       /* when the condition began (PENDING/FIRING) */
    int64_t last_update_ms; /* when the last OPEN/UPDATE was emitted */
    double peak;            /* most extreme value since the condition began */
    uint64_t samples;       /* good samples seen, for evidence */
    int64_t last_ts_ms;     /* mono_ms of the last good sample taken (when samples > 0) */
    int clearing;           /* FIRING and past the hysteresis since clear_since_ms */
    int64_t clear_since_ms; /* mono_ms of the first sample of the clearing */
} rule_threshold_state_t;

/* What a rule asks the daemon to do. The evidence fields describe the sample
 * and parameters that caused it; the caller adds identity (device, rule). */
typedef struct rule_action {
    rule_action_kind_t kind;
    int64_t ts_ms;    /* wall-clock timestamp of the sample that caused it */
    double value;     /* that sample's value */
    double peak;      /* most extreme value while the condition held */
    int64_t since_ms; /* when the condition began (wall clock: ts_ms - held_ms) */
    double limit;     /* the rule's limit */
    int64_t held_ms;  /* how long the condition had held (monotonic) */
    /* Kind-specific evidence (rule_eval fills them; 0 when not used). */
    rule_kind_t kind_of; /* the kind of rule that acted */
    int has_priority;    /* 1: the rule asks for this priority (trend: rises as
                            the predicted date nears) */
    gw_priority_t priority;
    double derived;          /* the judged quantity: rate, counter, age, excess */
    double baseline;         /* anomaly/trend: learned mean */
    double sigma;            /* anomaly/trend: learned standard deviation */
    int zone;                /* trend: 0..3 = A..D, -1 none */
    double smoothed;         /* trend: mean of the last smooth_n readings */
    int change;              /* trend: 1 when the change detector is alarmed */
    int64_t change_since_ms; /* trend: start of the day the change began, 0: none */
    double slope_per_day;    /* trend: fitted slope of the daily level */
    int ndays;               /* trend: daily aggregates in the fit */
    int64_t predicted_ms;    /* trend: central predicted crossing, 0: none */
    int64_t predicted_lo_ms; /* trend: earliest (lower quantile of the crossing) */
    int64_t predicted_hi_ms; /* trend: latest (upper quantile), 0: beyond */
    /* trend: how the prediction was made (the evidence explains it) */
    int at_limit;              /* the daily level is at the limit (or, firing, within
                                  the hysteresis of it) */
    int recovered;             /* firing: day closes in a row that looked recovered */
    int model;                 /* rule_trend_model_t of the curve */
    int model_why;             /* rule_model_why_t */
    double model_gain[2];      /* auto: share of the line's out-of-sample forecast
                                  error the exponential [0] and the knee [1] do
                                  without; NAN: not judged */
    double model_chance[2];    /* auto: the share they must save to be taken */
    double model_gain_recent;  /* auto: the knee's gain over the origins with its knee
                                  and 3 levels after it in their fit; NAN: under 3 */
    int64_t model_cross_ms[3]; /* auto, judged: the crossing each shape (line,
                                  exponential, knee) fitted to all the levels
                                  predicts; 0: none (not judged, no fit, never) */
    int64_t knee_ms;           /* knee model: when the pace changed */
    double floor;              /* exponential: the floor of the curve */
    int boot_reps;             /* bootstrap replicates behind the interval */
    int boot_never;            /* ... of which never reach the limit */
    double boot_rho;           /* lag-1 autocorrelation of the noise */
    int64_t fit_from_ms;       /* trend: the first day of the fitted levels (the onset) */
    int boot_quiet;            /* 1: the noise drawn is the quiet days' wander */
    double boot_sd;            /* its standard deviation (value units) */
    /* trend: the curve in use, for charts: with t in days since
     * fit_origin_ms, fit_a + fit_b t (line), floor + exp(fit_a + fit_b t)
     * (exponential), plus fit_k (t - fit_kt) past fit_kt (knee) */
    double fit_a, fit_b, fit_k, fit_kt;
    int64_t fit_origin_ms;
} rule_action_t;

/* Check a threshold config. Returns 0, or GW_EINVAL with the reason (naming
 * the offending parameter: "hysteresis", "for_ms", ...) in err. */
int rule_threshold_validate(const rule_threshold_cfg_t *cfg, char *err, size_t errlen);

/* Reset state to NORMAL. */
void rule_threshold_init(rule_threshold_state_t *st);

/* Feed one sample. Returns the action kind (RULE_ACT_NONE when nothing
 * happens) and fills *act when it is not NONE. Samples must arrive in
 * non-decreasing mono_ms order; an older one is ignored. for_ms, update_ms
 * and the held time are measured on mono_ms; ts_ms (wall) only stamps the
 * action. Pure and allocation-free. */
rule_action_kind_t rule_threshold_eval(const rule_threshold_cfg_t *cfg, rule_threshold_state_t *st,
                                       const gw_sample_t *s, rule_action_t *act);

/* Name of an action kind or state kind as used in JSON and logs ("open",
 * "pending", ...); "unknown" for a value outside the enum. Never NULL. */
const char *rule_action_name(rule_action_kind_t k);
const char *rule_state_name(rule_state_kind_t k);

/* ==== Many kinds behind one interface ====================================
 *
 * rule_cfg_t is a kind plus a union of the kinds' parameters; rule_state_t is
 * the same kind plus a union of their states. Every kind except TREND judges
 * a derived quantity (the value itself, a 0/1 state, the age of the last good
 * sample, a rate, a counter, an excess over a baseline) with the threshold
 * state machine above (cfg->alarm), so for-duration, hysteresis, UPDATE
 * throttling and "one work order, not many" behave the same for all of them.
 * Both structs are plain (no pointers): they are copied on reload and
 * written to the state file as they are. See docs/architecture.md, "Rules". */

#define RULE_TREND_MAX_DAYS  64  /* daily aggregates a trend keeps */
#define RULE_TREND_QUIET     32  /* daily levels of quiet days a trend keeps */
#define RULE_SMOOTH_MAX      64  /* readings a trend's smoothing may average */
#define RULE_RATE_RING       32  /* (ts, value) pairs a rate rule keeps */
#define RULE_ANOMALY_BUCKETS 168 /* hours of a week */

typedef struct rule_state_cfg {
    int use_bit;   /* 1: fires when bit `bit` of the (integer) value is set */
    int bit;       /* 0..31 */
    double equals; /* use_bit == 0: fires when value == equals */
    int invert;    /* 1: fires when NOT equal / bit clear (a healthy-signal line) */
} rule_state_cfg_t;

typedef struct rule_stale_cfg {
    int64_t after_ms; /* > 0: fires when no good sample came for this long */
} rule_stale_cfg_t;

typedef struct rule_rate_cfg {
    int64_t window_ms; /* > 0: the rate is taken over about this span */
    int64_t per_ms;    /* > 0: rate unit (60000: per minute, 3600000: per hour) */
} rule_rate_cfg_t;

typedef struct rule_counter_cfg {
    double wrap; /* > 0: the counter wraps at this modulus (4294967296 for uint32):
                    a decrease whose wrapped step is under wrap/2 is a wrap, a
                    larger one a reset; 0: every decrease is a reset of the
                    counter (it counts from zero to its new value) */
} rule_counter_cfg_t;

typedef struct rule_anomaly_cfg {
    int above;          /* 1: flags values above the baseline; 0: below */
    double k;           /* > 0: sigmas past the baseline mean */
    double min_delta;   /* >= 0: and at least this far from the mean (value units) */
    double alpha;       /* (0,1): EWMA weight of a new sample once learned */
    int learn_weeks;    /* >= 1: weeks of a bucket before it judges */
    int utc_offset_min; /* local time = UTC + this (buckets are local hours) */
} rule_anomaly_cfg_t;

typedef enum rule_trend_model {
    RULE_MODEL_LINEAR = 0,
    RULE_MODEL_EXP,  /* y = floor + exp(a + b t): wear that accelerates */
    RULE_MODEL_AUTO, /* the line, unless a curve or a knee forecasts clearly better */
    RULE_MODEL_KNEE, /* two lines joined at a knee: wear that changed pace */
} rule_trend_model_t;

/* Why a trend took its model (evidence: prediction.model_choice). */
typedef enum rule_model_why {
    RULE_WHY_CONFIGURED = 0,    /* model: linear or exponential */
    RULE_WHY_FEW_DAYS,          /* auto with fewer than 12 levels: linear */
    RULE_WHY_LINE_SUFFICES,     /* auto: no curve forecasts the later days enough
                                   better than the line: linear */
    RULE_WHY_CURVE_SIGNIFICANT, /* auto: a curve or knee does */
    RULE_WHY_NO_CURVE,          /* auto: no growing exponential fits: linear */
    RULE_WHY_KNEE_SINCE,        /* auto: a recent knee forecast the days since it
                                   bent enough better, its bend plain above the wander */
} rule_model_why_t;

typedef struct rule_trend_cfg {
    double limit;       /* the alarm limit the trend is extrapolated to */
    double zones[3];    /* A/B, B/C, C/D boundaries; zones[0] == 0: no zones */
    int smooth_n;       /* 1..RULE_SMOOTH_MAX readings averaged for the zone */
    int64_t day_ms;     /* > 0: aggregation period (86400000: daily) */
    int window_days;    /* 3..RULE_TREND_MAX_DAYS aggregates in the fit */
    int min_days;       /* 3..window_days aggregates before predicting */
    int64_t horizon_ms; /* > 0: open when the earliest crossing is this near */
    double confidence;  /* two-sided level of the crossing's interval, 0.5..0.99 */
    double ewma_lambda; /* (0,1]: change detector weight */
    double ewma_L;      /* > 0: change detector limit in sigmas */
    int learn_n;        /* >= 2: readings that learn the baseline */
    rule_trend_model_t model;
    int floor_set;         /* 0: the floor is searched (exponential model) */
    double floor;          /* exponential model: y - floor must stay > 0 */
    double hysteresis;     /* >= 0: a firing trend's level counts as at the limit
                              down to limit - hysteresis; < 0: 10 % of the limit */
    int clear_days;        /* >= 1: day closes in a row that look recovered before
                              the order resolves */
    int stuck_n;           /* >= 2: a reading equal to the stuck_n - 1 before it is a
                              stuck sensor's and left out of the daily level; 0: off */
    int model_uncertainty; /* auto: the interval also draws a quarter of its
                              replicates from the other shapes (rule_model.c) */
    int64_t central_ms;    /* > 0: an order also needs the central predicted
                              crossing this near; 0: off (the earliest decides) */
    double line_half_life; /* > 0: the line weighs a daily level d days older than
                              the latest 2^(-d / line_half_life) (days); 0: all alike */
} rule_trend_cfg_t;

typedef struct rule_cfg {
    rule_kind_t kind;
    /* The alarm state machine. For THRESHOLD it is the rule; for the derived
     * kinds rule_validate fills above/limit and the caller sets hysteresis,
     * for_ms and update_ms (see each kind in rules/rule_kinds.c). */
    rule_threshold_cfg_t alarm;
    union {
        rule_state_cfg_t state;
        rule_stale_cfg_t stale;
        rule_rate_cfg_t rate;
        rule_counter_cfg_t counter;
        rule_anomaly_cfg_t anomaly;
        rule_trend_cfg_t trend;
    } u;
} rule_cfg_t;

typedef struct rule_rate_state {
    int64_t ts[RULE_RATE_RING]; /* mono_ms of the kept readings */
    double v[RULE_RATE_RING];
    int head, n; /* ring: oldest at (head - n) mod size */
} rule_rate_state_t;

typedef struct rule_counter_state {
    int has_last;
    double last_raw; /* last counter reading */
    double acc;      /* counted since the last service (rule_rearm) */
} rule_counter_state_t;

typedef struct rule_anomaly_bucket {
    float mean, var;
    uint32_t n;         /* samples learned */
    uint16_t weeks;     /* distinct weeks learned */
    uint16_t last_week; /* week number (mod 65536) of the last learned sample */
} rule_anomaly_bucket_t;

typedef struct rule_anomaly_state {
    rule_anomaly_bucket_t b[RULE_ANOMALY_BUCKETS];
} rule_anomaly_state_t;

typedef struct rule_trend_state {
    /* smoothing */
    double ring[RULE_SMOOTH_MAX];
    int rhead, rn;
    double rsum;
    /* change detection: baseline learned by Welford, then EWMA */
    int64_t learned;
    double mu, m2, ewma;
    double emu, em2;    /* the EWMA's own mean and spread while learning */
    double elimit;      /* alarm above this once learned */
    int change;         /* the EWMA is above elimit now */
    int change_today;   /* it was at some time in the open day */
    int calm_days;      /* closed days in a row without an alarm */
    int64_t change_day; /* first day of the current change, -1: none */
    /* daily aggregates: the open day, and a ring of closed days */
    int64_t day; /* index (ts / day_ms) of the open day, -1 none */
    double day_sum;
    int64_t day_n;    /* readings in the open day's level */
    int64_t day_seen; /* good readings of the open day, stuck ones too */
    int32_t seen[8];  /* day_seen of the last 8 closed days (ring) */
    int seen_head;
    double last_x;                       /* the last reading, and how many before it were equal */
    int32_t same_n;                      /*   (a stuck sensor) */
    int64_t days_t[RULE_TREND_MAX_DAYS]; /* day index */
    double days_y[RULE_TREND_MAX_DAYS];  /* day mean */
    int dhead, dn;
    /* quiet days (no change, not firing): their daily levels are the
     * machine's own day-to-day wander, which the interval draws from */
    double quiet_y[RULE_TREND_QUIET];
    int64_t quiet_t[RULE_TREND_QUIET]; /* their day index */
    int qhead, qn;
    /* prediction, as of the last closed day */
    int firing;
    int64_t opened_ms, last_pred_ms, pred_c, pred_lo, pred_hi; /* wall clock, 0: none */
    double slope;
    int model;          /* rule_trend_model_t in use, -1: no prediction */
    int model_streak;   /* day closes in a row the other model was favoured */
    int recovered;      /* firing: day closes in a row that looked recovered */
    int soon_days;      /* not firing: day closes in a row the earliest date was
                           within the horizon */
    int64_t last_ts_ms; /* mono_ms of the last reading taken */
    uint64_t samples;
} rule_trend_state_t;

typedef struct rule_state {
    rule_kind_t kind;
    rule_threshold_state_t alarm;
    int64_t last_good_ms; /* mono_ms of the last good sample, 0: none (stale) */
    int64_t first_ms;     /* mono_ms of the first sample of any quality (stale) */
    union {
        rule_rate_state_t rate;
        rule_counter_state_t counter;
        rule_anomaly_state_t anomaly;
        rule_trend_state_t trend;
    } u;
} rule_state_t;

/* Fill defaults for kind into *cfg (all parameters, alarm included). */
void rule_cfg_defaults(rule_cfg_t *cfg, rule_kind_t kind);

/* Check cfg and complete its derived alarm parameters. Returns 0, or
 * GW_EINVAL with the reason (naming the parameter) in err. */
int rule_validate(rule_cfg_t *cfg, char *err, size_t errlen);

/* Reset st for cfg's kind. */
void rule_init(const rule_cfg_t *cfg, rule_state_t *st);

/* Feed one sample of any quality. Bad-quality samples are never readings;
 * only the STALE kind looks at them (their times age the last good one).
 * Returns the action kind and fills *act when it is not NONE. Pure and
 * allocation-free; samples in non-decreasing mono_ms order (older ones
 * ignored). Durations (hold, update, age, rate) are measured on mono_ms;
 * calendar things (an anomaly's hour of the week, a trend's days) and the
 * action's times are on ts_ms, the wall clock. */
rule_action_kind_t rule_eval(const rule_cfg_t *cfg, rule_state_t *st, const gw_sample_t *s,
                             rule_action_t *act);

/* Re-arm after service (the work order of this rule was closed): a COUNTER
 * starts counting again from zero; every kind returns its alarm to NORMAL
 * without an action (the order is already closed), keeping what it learned.
 * The daemon calls it when the ledger reports the fingerprint's order closed. */
void rule_rearm(const rule_cfg_t *cfg, rule_state_t *st);

/* Reconcile the alarm with the ledger (rule_restore.c): active != 0 says an
 * active work order of this rule exists whose condition has not cleared;
 * the alarm is then put in FIRING (since since_mono, monotonic; a trend's
 * opened time since_wall) unless it is, so that its normal clear logic
 * clears the order when the condition is gone and a later OPEN retriggers
 * it. active == 0 with the alarm FIRING (an order that was never committed,
 * or was closed meanwhile) puts it back to NORMAL without an action, so a
 * condition that still holds opens a new order. What the rule learned is
 * kept. Returns 1 when the state changed, else 0. */
int rule_reconcile(const rule_cfg_t *cfg, rule_state_t *st, int active, int64_t since_mono,
                   int64_t since_wall);

/* Bring a state saved by another run onto this run's clocks (rule_restore.c):
 * every monotonic time in it moves by shift_ms and is then bounded by
 * now_mono (a time from the future would make the rule ignore real
 * samples); calendar times (a trend's days) past now_wall + max_future_ms
 * are dropped. Returns 1 when something had to be bounded or dropped, else
 * 0. */
int rule_rebase(const rule_cfg_t *cfg, rule_state_t *st, int64_t shift_ms, int64_t now_mono,
                int64_t now_wall, int64_t max_future_ms);

/* 1 when st could have been made by rule_eval for cfg: the same kind,
 * ring indices and counts within their arrays (and the configured ring
 * sizes), times within +-2^53 ms; else 0. A state read back from a file is
 * used only when this holds (rule_state.c). */
int rule_state_valid(const rule_cfg_t *cfg, const rule_state_t *st);

/* A hash of what a state depends on: the kind, sizeof(rule_state_t) and the
 * parameters that shape what is learned (a rate's window, a counter's wrap,
 * an anomaly's buckets, a trend's day and window...), but not the alarm's
 * limits, hysteresis or durations. A saved or carried state is reused only
 * when this hash matches; changed limits then judge the kept state. */
uint64_t rule_learn_hash(const rule_cfg_t *cfg);

/* A trend model's name ("linear", "exponential", "auto") and the reason a
 * model was taken, in words for the evidence; never NULL. */
const char *rule_model_name(rule_trend_model_t m);
const char *rule_model_why_text(rule_model_why_t w);

/* Kind names as in the config ("threshold", "state", ...); parse returns 0
 * or GW_EINVAL. */
const char *rule_kind_name(rule_kind_t k);
int rule_kind_parse(const char *name, rule_kind_t *out);

/* ISO 10816 zone boundaries (A/B, B/C, C/D in mm/s RMS) for "10816-1" class
 * "I".."IV" or "10816-3" group "1"/"2" with support "rigid"/"flexible"
 * (spec: "10816-1:I", "10816-3:2:rigid"). Returns 0 or GW_EINVAL. */
int rule_iso10816_zones(const char *spec, double zones[3]);
/* Zone 0..3 (A..D) of v for boundaries z. */
int rule_zone_of(const double zones[3], double v);

/* ==== Wear: one order for several trends of one machine (rule_wear.c) ====
 *
 * Trend rules of one device (a lift's machine vibration and its motor
 * temperature) may share one preventive order. Each is judged as it is
 * alone (its own limit, horizon, interval, hysteresis, clear_days: its
 * state's `firing` says whether it would have its own order open); the
 * combination's order opens when the first of them would open its own,
 * stays open while any of them would keep its own, and resolves when the
 * last one has recovered. So it opens on the earliest of their predicted
 * crossings (each measured against its own horizon). The member that drives
 * it is the open one whose earliest date comes first (one at its limit
 * before any). Design in docs/prediction.md, "Lifts: the other signs of
 * wear". Pure: the members' states are read, never written. */

#define RULE_WEAR_MAX 4 /* trends in one combination */

/* What a trend rule published at its last day close. */
typedef struct rule_trend_outlook {
    int firing;   /* it would have its own order open */
    int at_limit; /* its daily level is at the limit (firing: within the
                     hysteresis of it) */
    double level; /* the latest daily level; NAN: no day closed yet */
    double limit; /* the rule's limit */
    int64_t crossing_ms, earliest_ms, latest_ms; /* wall clock; 0: none */
    int model;                                   /* rule_trend_model_t of the curve, -1: no curve */
    int64_t as_of_ms;                            /* wall clock of that day close, 0: none yet */
} rule_trend_outlook_t;

/* Fill *o from a trend rule's state (cfg->kind must be RULE_TREND; any other
 * kind gives an empty outlook: not firing, no dates). */
void rule_trend_outlook(const rule_cfg_t *cfg, const rule_state_t *st, rule_trend_outlook_t *o);

typedef struct rule_wear_member {
    const rule_cfg_t *cfg;  /* a trend rule */
    const rule_state_t *st; /* its state, after the sample that acted */
} rule_wear_member_t;

/* Member `acting` of m[0..n) (n <= RULE_WEAR_MAX) returned action *a (not
 * NONE) from rule_eval. Returns the combination's action: OPEN when no
 * member was firing before and one is now, RESOLVE when the last firing
 * member resolved, UPDATE otherwise; fills *out (a copy of *a with that
 * kind and the driver's priority: the trend's own scale, critical at the
 * limit, high within 3 days of the earliest date, medium within 7, else
 * low) and *driver (the index in m of the driving member; `acting` when
 * none is firing). */
rule_action_kind_t rule_wear_combine(const rule_wear_member_t *m, int n, int acting,
                                     const rule_action_t *a, rule_action_t *out, int *driver);

#endif
