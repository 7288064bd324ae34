/*
 * rule_threshold.c: the threshold rule (contract in rules/rule.h; design in
 * docs/architecture.md, "Data flow"). A value above (or below) a limit, held
 * for for_ms, opens a work order; it resolves once the value is back past the
 * limit by the hysteresis.
 *
 * The state machine, fed only good, finite, in-order samples ("above" rules;
 * "below" rules mirror every comparison):
 *
 *   NORMAL  -- value > limit ----------------------> PENDING (since = ts)
 *   PENDING -- value <= limit ---------------------> NORMAL (cancelled, silent)
 *   PENDING -- value > limit, ts - since >= for_ms -> FIRING, emit OPEN
 *   FIRING  -- value <= limit - hysteresis --------> FIRING, clearing (since = ts)
 *   clearing - value > limit - hysteresis ---------> FIRING (clearing cancelled, silent)
 *   clearing - value <= limit - hysteresis,
 *              ts - clear_since >= clear_for_ms ---> NORMAL, emit RESOLVE
 *   FIRING  -- otherwise, update_ms since the last OPEN/UPDATE -> emit UPDATE
 *
 * The clear delay is the mirror of for_ms: a value flapping around the limit
 * with noise now and then past the hysteresis stays one firing condition
 * (one work order, one occurrence) instead of clearing and retriggering on
 * single samples. With clear_for_ms == 0 the first sample past the band
 * resolves (as Alertmanager without keep_firing_for).
 *
 * A sample that starts PENDING with for_ms == 0 opens at once. Hysteresis
 * applies only while firing: pending is Alertmanager's "for", so the
 * condition must hold at every good sample for the whole duration. Samples of
 * any other quality, NaN or infinite values, and samples older than the last
 * good one leave the state untouched and emit nothing: a dead device neither
 * starts, holds nor clears a condition.
 *
 * Time: the state's times (since, last update, last sample) are on the
 * samples' monotonic clock (gw_sample_t.mono_ms), and so are for_ms,
 * update_ms and the held time: a step of the wall clock neither blinds the
 * rule (a sample is "older" only on the monotonic clock) nor cuts a hold
 * short. The action's ts_ms and since_ms are wall-clock times for people:
 * since_ms is the sample's wall time minus the held time.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

int rule_threshold_validate(const rule_threshold_cfg_t *cfg, char *err, size_t errlen)
{
    char dummy[1];

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (!isfinite(cfg->limit)) {
        snprintf(err, errlen, "limit: must be a finite number, got %g", cfg->limit);
        return GW_EINVAL;
    }
    if (!isfinite(cfg->hysteresis)) {
        snprintf(err, errlen, "hysteresis: must be a finite number, got %g", cfg->hysteresis);
        return GW_EINVAL;
    }
    if (cfg->hysteresis < 0) {
        snprintf(err, errlen, "hysteresis: must be >= 0, got %g", cfg->hysteresis);
        return GW_EINVAL;
    }
    if (cfg->for_ms < 0) {
        snprintf(err, errlen, "for_ms: must be >= 0, got %" PRId64, cfg->for_ms);
        return GW_EINVAL;
    }
    if (cfg->update_ms < 0) {
        snprintf(err, errlen, "update_ms: must be >= 0, got %" PRId64, cfg->update_ms);
        return GW_EINVAL;
    }
    if (cfg->clear_for_ms < 0) {
        snprintf(err, errlen, "clear_for_ms: must be >= 0, got %" PRId64, cfg->clear_for_ms);
        return GW_EINVAL;
    }
    return 0;
}

void rule_threshold_init(rule_threshold_state_t *st)
{
    *st = (rule_threshold_state_t){.st = RULE_ST_NORMAL};
}

/* to - from for to >= from, saturating at INT64_MAX instead of overflowing
 * (the timestamps come from devices and may be absurd). */
static int64_t elapsed(int64_t from, int64_t to)
{
    assert(to >= from);
    if (from < 0 && to > INT64_MAX + from)
        return INT64_MAX;
    return to - from;
}

/* True when v is on the firing side of the limit. */
static int firing_side(const rule_threshold_cfg_t *cfg, double v)
{
    return cfg->above ? v > cfg->limit : v < cfg->limit;
}

/* True when v is past the limit by the hysteresis, on the clear side. */
static int cleared(const rule_threshold_cfg_t *cfg, double v)
{
    return cfg->above ? v <= cfg->limit - cfg->hysteresis : v >= cfg->limit + cfg->hysteresis;
}

/* Record v into the peak: the maximum for above rules, the minimum below. */
static void track_peak(const rule_threshold_cfg_t *cfg, rule_threshold_state_t *st, double v)
{
    if (cfg->above ? v > st->peak : v < st->peak)
        st->peak = v;
}

/* Fill *act (when given) with kind and the evidence of sample s; returns kind. */
static rule_action_kind_t emit(rule_action_kind_t kind, const rule_threshold_cfg_t *cfg,
                               const rule_threshold_state_t *st, const gw_sample_t *s,
                               rule_action_t *act)
{
    if (act) {
        int64_t held = elapsed(st->since_ms, s->mono_ms);
        *act = (rule_action_t){
            .kind = kind,
            .ts_ms = s->ts_ms,
            .value = s->value,
            .peak = st->peak,
            .since_ms = s->ts_ms < INT64_MIN + held ? INT64_MIN : s->ts_ms - held,
            .limit = cfg->limit,
            .held_ms = held,
        };
    }
    return kind;
}

/* Back to NORMAL, forgetting the condition (the sample counters stay). */
static void to_normal(rule_threshold_state_t *st)
{
    st->st = RULE_ST_NORMAL;
    st->since_ms = 0;
    st->last_update_ms = 0;
    st->peak = 0;
    st->clearing = 0;
    st->clear_since_ms = 0;
}

/* PENDING (or just entered it): open once the condition has held for for_ms. */
static rule_action_kind_t eval_pending(const rule_threshold_cfg_t *cfg, rule_threshold_state_t *st,
                                       const gw_sample_t *s, rule_action_t *act)
{
    if (elapsed(st->since_ms, s->mono_ms) < cfg->for_ms)
        return RULE_ACT_NONE;
    st->st = RULE_ST_FIRING;
    st->last_update_ms = s->mono_ms;
    return emit(RULE_ACT_OPEN, cfg, st, s, act);
}

/* FIRING: resolve once past the hysteresis band for clear_for_ms, else update
 * when one is due. */
static rule_action_kind_t eval_firing(const rule_threshold_cfg_t *cfg, rule_threshold_state_t *st,
                                      const gw_sample_t *s, rule_action_t *act)
{
    rule_action_kind_t kind;

    if (cleared(cfg, s->value)) {
        if (!st->clearing) {
            st->clearing = 1;
            st->clear_since_ms = s->mono_ms;
        }
        if (elapsed(st->clear_since_ms, s->mono_ms) < cfg->clear_for_ms)
            return RULE_ACT_NONE;
        kind = emit(RULE_ACT_RESOLVE, cfg, st, s, act);
        to_normal(st);
        return kind;
    }
    st->clearing = 0; /* back inside the band: the same condition goes on */
    st->clear_since_ms = 0;
    track_peak(cfg, st, s->value);
    if (cfg->update_ms <= 0 || elapsed(st->last_update_ms, s->mono_ms) < cfg->update_ms)
        return RULE_ACT_NONE;
    st->last_update_ms = s->mono_ms;
    return emit(RULE_ACT_UPDATE, cfg, st, s, act);
}

rule_action_kind_t rule_threshold_eval(const rule_threshold_cfg_t *cfg, rule_threshold_state_t *st,
                                       const gw_sample_t *s, rule_action_t *act)
{
    assert(cfg && st && s);
    if (s->quality != GW_Q_GOOD || !isfinite(s->value))
        return RULE_ACT_NONE;
    if (st->samples > 0 && s->mono_ms < st->last_ts_ms)
        return RULE_ACT_NONE;
    st->samples++;
    st->last_ts_ms = s->mono_ms;

    switch (st->st) {
    case RULE_ST_NORMAL:
        if (!firing_side(cfg, s->value))
            return RULE_ACT_NONE;
        st->st = RULE_ST_PENDING;
        st->since_ms = s->mono_ms;
        st->peak = s->value;
        return eval_pending(cfg, st, s, act);
    case RULE_ST_PENDING:
        if (!firing_side(cfg, s->value)) {
            to_normal(st);
            return RULE_ACT_NONE;
        }
        track_peak(cfg, st, s->value);
        return eval_pending(cfg, st, s, act);
    case RULE_ST_FIRING:
        return eval_firing(cfg, st, s, act);
    }
    return RULE_ACT_NONE;
}
