/*
 * core_evidence.c: the evidence JSON of a rule's action (gw_rules.h): the
 * point, its value and unit, what the rule judged (peak, rate, count, age,
 * excess, or a trend's predicted crossing with its interval), when the
 * condition began, and the rule's parameters as configured. Used by the
 * daemon (core_rules.c) and by plantroomctl replay, so a replayed work
 * order carries the same evidence as a live one. Pure: no I/O.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/base/gw_clock.h"
#include "gateway/core/gw_rules.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The rule's parameters, as configured, for the evidence. */
static void evidence__params(cJSON *p, const gw_rule_cfg_t *rc)
{
    const rule_cfg_t *c = &rc->rule;

    cJSON_AddStringToObject(p, "kind", rule_kind_name(c->kind));
    switch (c->kind) {
    case RULE_THRESHOLD:
    case RULE_RATE:
        cJSON_AddNumberToObject(p, c->alarm.above ? "above" : "below", c->alarm.limit);
        cJSON_AddNumberToObject(p, "hysteresis", c->alarm.hysteresis);
        if (c->kind == RULE_RATE) {
            cJSON_AddNumberToObject(p, "window_ms", (double)c->u.rate.window_ms);
            cJSON_AddNumberToObject(p, "per_ms", (double)c->u.rate.per_ms);
        }
        break;
    case RULE_STATE:
        if (c->u.state.use_bit)
            cJSON_AddNumberToObject(p, "bit", c->u.state.bit);
        else
            cJSON_AddNumberToObject(p, "equals", c->u.state.equals);
        cJSON_AddBoolToObject(p, "invert", c->u.state.invert);
        break;
    case RULE_STALE:
        cJSON_AddNumberToObject(p, "after_ms", (double)c->u.stale.after_ms);
        break;
    case RULE_COUNTER:
        cJSON_AddNumberToObject(p, "limit", c->alarm.limit);
        cJSON_AddNumberToObject(p, "wrap", c->u.counter.wrap);
        break;
    case RULE_ANOMALY:
        cJSON_AddStringToObject(p, "direction", c->u.anomaly.above ? "above" : "below");
        cJSON_AddNumberToObject(p, "k", c->u.anomaly.k);
        cJSON_AddNumberToObject(p, "min_delta", c->u.anomaly.min_delta);
        break;
    case RULE_TREND:
        cJSON_AddNumberToObject(p, "limit", c->u.trend.limit);
        if (rc->iso10816[0])
            cJSON_AddStringToObject(p, "iso10816", rc->iso10816);
        cJSON_AddNumberToObject(p, "horizon_days", (double)c->u.trend.horizon_ms / 86400000.0);
        cJSON_AddNumberToObject(p, "confidence", c->u.trend.confidence);
        cJSON_AddNumberToObject(p, "window_days", c->u.trend.window_days);
        cJSON_AddNumberToObject(p, "smooth_n", c->u.trend.smooth_n);
        cJSON_AddStringToObject(p, "model", rule_model_name(c->u.trend.model));
        cJSON_AddNumberToObject(p, "hysteresis", c->u.trend.hysteresis);
        cJSON_AddNumberToObject(p, "clear_days", c->u.trend.clear_days);
        cJSON_AddNumberToObject(p, "line_half_life_days", c->u.trend.line_half_life);
        return;
    default:
        break;
    }
    cJSON_AddNumberToObject(p, "for_ms", (double)c->alarm.for_ms);
    if (c->kind == RULE_THRESHOLD || c->kind == RULE_STATE || c->kind == RULE_RATE ||
        c->kind == RULE_ANOMALY)
        cJSON_AddNumberToObject(p, "clear_for_ms", (double)c->alarm.clear_for_ms);
}

/* A number, or null when it is not one (NAN: not computed). */
static void evidence__num(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

/* The crossing a shape fitted to all the levels predicts, or null. */
static void evidence__cross(cJSON *o, int64_t ms)
{
    if (ms)
        gw_json_add_time(o, "crossing", ms);
    else
        cJSON_AddNullToObject(o, "crossing");
}

/* How the trend's date was made: the model and why, the interval's method. */
static void evidence__method(cJSON *pr, cJSON *iv, const rule_action_t *a)
{
    cJSON *mc;

    if (a->model < 0)
        return; /* no curve fitted (too few days since the change) */
    cJSON_AddStringToObject(pr, "model", rule_model_name((rule_trend_model_t)a->model));
    mc = cJSON_AddObjectToObject(pr, "model_choice");
    cJSON_AddStringToObject(mc, "reason", rule_model_why_text((rule_model_why_t)a->model_why));
    if (a->model_why == RULE_WHY_LINE_SUFFICES || a->model_why == RULE_WHY_CURVE_SIGNIFICANT ||
        a->model_why == RULE_WHY_KNEE_SINCE) {
        static const char *const shape[2] = {"exponential", "knee"};
        cJSON_AddStringToObject(mc, "method",
                                "rolling origin: each shape fitted to the earlier days "
                                "forecasts the later ones, against a line");
        for (int i = 0; i < 2; i++) {
            cJSON *t = cJSON_AddObjectToObject(mc, shape[i]);
            evidence__num(t, "forecast_gain", a->model_gain[i]);
            evidence__num(t, "required_gain", a->model_chance[i]);
            evidence__cross(t, a->model_cross_ms[i + 1]);
            if (i == 1 && isfinite(a->model_gain_recent))
                evidence__num(t, "forecast_gain_since_knee", a->model_gain_recent);
        }
        evidence__cross(cJSON_AddObjectToObject(mc, "linear"), a->model_cross_ms[0]);
    }
    if (a->knee_ms)
        gw_json_add_time(pr, "knee", a->knee_ms);
    if (a->model == RULE_MODEL_EXP)
        evidence__num(pr, "floor", a->floor);
    cJSON_AddStringToObject(iv, "method", "bootstrap, AR(1) day-to-day noise");
    cJSON_AddNumberToObject(iv, "replicates", a->boot_reps);
    cJSON_AddNumberToObject(iv, "never_share",
                            a->boot_reps ? (double)a->boot_never / a->boot_reps : 0);
    cJSON_AddNumberToObject(iv, "autocorrelation", a->boot_rho);
    cJSON_AddStringToObject(iv, "noise", a->boot_quiet ? "quiet days" : "residuals");
    cJSON_AddNumberToObject(iv, "noise_sd", a->boot_sd);
}

/* The fitted curve, for charts (store/ledger_report_trend.c): with t in
 * days since origin, y = a + b t (linear), floor + exp(a + b t)
 * (exponential), or a + b t + k (t - knee_t) past knee_t (knee). The
 * interval is a bootstrap of the crossing date (no closed-form band). */
static void evidence__fit(cJSON *f, const gw_rule_cfg_t *rc, const rule_action_t *a)
{
    cJSON_AddStringToObject(f, "model", rule_model_name((rule_trend_model_t)a->model));
    gw_json_add_time(f, "origin", a->fit_origin_ms);
    cJSON_AddNumberToObject(f, "day_ms", (double)rc->rule.u.trend.day_ms);
    evidence__num(f, "a", a->fit_a);
    evidence__num(f, "b", a->fit_b);
    if (a->model == RULE_MODEL_EXP)
        evidence__num(f, "floor", a->floor);
    if (a->model == RULE_MODEL_KNEE) {
        evidence__num(f, "k", a->fit_k);
        evidence__num(f, "knee_t", a->fit_kt);
    }
    cJSON_AddNumberToObject(f, "n", a->ndays);
}

/* The trend's prediction: dates, interval, slope, model, zone, change. */
static void evidence__prediction(cJSON *o, const gw_rule_cfg_t *rc, const rule_action_t *a)
{
    static const char zone[] = "ABCD";
    cJSON *pr = cJSON_AddObjectToObject(o, "prediction"), *iv;

    gw_json_add_time(pr, "crossing", a->predicted_ms);
    iv = cJSON_AddObjectToObject(pr, "interval");
    gw_json_add_time(iv, "earliest", a->predicted_lo_ms);
    gw_json_add_time(iv, "latest", a->predicted_hi_ms);
    cJSON_AddNumberToObject(iv, "confidence", rc->rule.u.trend.confidence);
    if (a->predicted_lo_ms)
        cJSON_AddNumberToObject(pr, "days_left",
                                (double)(a->predicted_lo_ms - a->ts_ms) / 86400000.0);
    cJSON_AddNumberToObject(pr, "slope_per_day", a->slope_per_day);
    cJSON_AddNumberToObject(pr, "days_fitted", a->ndays);
    if (a->fit_from_ms)
        gw_json_add_time(pr, "fitted_from", a->fit_from_ms);
    evidence__method(pr, iv, a);
    if (a->model >= 0 && a->fit_origin_ms)
        evidence__fit(cJSON_AddObjectToObject(pr, "fit"), rc, a);
    cJSON_AddNumberToObject(o, "daily_level", a->derived);
    cJSON_AddBoolToObject(o, "at_limit", a->at_limit);
    if (a->recovered)
        cJSON_AddNumberToObject(o, "recovered_days", a->recovered);
    cJSON_AddNumberToObject(o, "smoothed", a->smoothed);
    if (a->zone >= 0 && a->zone < 4) {
        char z[2] = {zone[a->zone], 0};
        cJSON_AddStringToObject(o, "zone", z);
    }
    cJSON_AddBoolToObject(o, "change_detected", a->change);
    gw_json_add_time(o, "change_since", a->change_since_ms);
    cJSON_AddNumberToObject(o, "baseline", a->baseline);
    cJSON_AddNumberToObject(o, "baseline_sigma", a->sigma);
}

cJSON *gw_rule_evidence_tree(const gw_rule_cfg_t *rc, const char *point, const char *unit,
                             const rule_action_t *a)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "point", point);
    cJSON_AddNumberToObject(o, "value", a->value);
    cJSON_AddStringToObject(o, "unit", unit);
    if (a->kind_of == RULE_TREND) {
        evidence__prediction(o, rc, a);
    } else {
        cJSON_AddNumberToObject(o, "peak", a->peak);
        if (a->kind_of != RULE_THRESHOLD)
            cJSON_AddNumberToObject(o,
                                    a->kind_of == RULE_STALE     ? "age_ms"
                                    : a->kind_of == RULE_RATE    ? "rate"
                                    : a->kind_of == RULE_COUNTER ? "count"
                                    : a->kind_of == RULE_ANOMALY ? "excess"
                                                                 : "state",
                                    a->derived);
        if (a->kind_of == RULE_ANOMALY) {
            cJSON_AddNumberToObject(o, "baseline", a->baseline);
            cJSON_AddNumberToObject(o, "baseline_sigma", a->sigma);
        }
        gw_json_add_time(o, "since", a->since_ms);
        cJSON_AddNumberToObject(o, "held_s", (double)a->held_ms / 1000.0);
    }
    gw_json_add_time(o, "at", a->ts_ms);
    cJSON_AddStringToObject(o, "priority",
                            gw_priority_name(a->has_priority ? a->priority : rc->priority));
    evidence__params(cJSON_AddObjectToObject(o, "rule"), rc);
    return o;
}

char *gw_rule_evidence(const gw_rule_cfg_t *rc, const char *point, const char *unit,
                       const rule_action_t *a)
{
    cJSON *o = gw_rule_evidence_tree(rc, point, unit, a);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;

    cJSON_Delete(o);
    return text;
}
