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
 */
#ifndef PLANTROOM_RULE_H
#define PLANTROOM_RULE_H

#include "gateway/gw_types.h"

#include <stdint.h>

typedef enum rule_kind {
    RULE_THRESHOLD = 0, /* value above (or below) a limit, held for a duration */
} rule_kind_t;

typedef enum rule_action_kind {
    RULE_ACT_NONE = 0,
    RULE_ACT_OPEN,    /* condition began: open (or re-trigger) a work order */
    RULE_ACT_UPDATE,  /* condition still holds: refresh evidence, last seen */
    RULE_ACT_RESOLVE, /* condition cleared */
} rule_action_kind_t;

/* Threshold rule parameters.
 * above != 0: fires when value > limit for for_ms; clears when value <=
 *   limit - hysteresis.
 * above == 0: fires when value < limit for for_ms; clears when value >=
 *   limit + hysteresis.
 * Hysteresis applies only once firing: while pending, the condition must hold
 * continuously for for_ms, so a good sample on the clear side of the limit
 * itself (above: value <= limit) cancels the pending time. */
typedef struct rule_threshold_cfg {
    int above;
    double limit;
    double hysteresis; /* >= 0 */
    int64_t for_ms;    /* >= 0: how long the condition must hold */
    int64_t update_ms; /* >= 0: minimum gap between UPDATE actions; 0: never */
} rule_threshold_cfg_t;

typedef enum rule_state_kind {
    RULE_ST_NORMAL = 0,
    RULE_ST_PENDING, /* condition true since since_ms, not yet for for_ms */
    RULE_ST_FIRING,
} rule_state_kind_t;

typedef struct rule_threshold_state {
    rule_state_kind_t st;
    int64_t since_ms;       /* when the condition began (PENDING/FIRING) */
    int64_t last_update_ms; /* when the last OPEN/UPDATE was emitted */
    double peak;            /* most extreme value since the condition began */
    uint64_t samples;       /* good samples seen, for evidence */
    int64_t last_ts_ms;     /* ts of the last good sample taken (when samples > 0) */
} rule_threshold_state_t;

/* What a rule asks the daemon to do. The evidence fields describe the sample
 * and parameters that caused it; the caller adds identity (device, rule). */
typedef struct rule_action {
    rule_action_kind_t kind;
    int64_t ts_ms;    /* timestamp of the sample that caused it */
    double value;     /* that sample's value */
    double peak;      /* most extreme value while the condition held */
    int64_t since_ms; /* when the condition began */
    double limit;     /* the rule's limit */
    int64_t held_ms;  /* how long the condition had held at ts_ms */
} rule_action_t;

/* Check a threshold config. Returns 0, or GW_EINVAL with the reason (naming
 * the offending parameter: "hysteresis", "for_ms", ...) in err. */
int rule_threshold_validate(const rule_threshold_cfg_t *cfg, char *err, size_t errlen);

/* Reset state to NORMAL. */
void rule_threshold_init(rule_threshold_state_t *st);

/* Feed one sample. Returns the action kind (RULE_ACT_NONE when nothing
 * happens) and fills *act when it is not NONE. Samples must arrive in
 * non-decreasing ts order; an older one is ignored. Pure and allocation-free. */
rule_action_kind_t rule_threshold_eval(const rule_threshold_cfg_t *cfg, rule_threshold_state_t *st,
                                       const gw_sample_t *s, rule_action_t *act);

/* Name of an action kind or state kind as used in JSON and logs ("open",
 * "pending", ...); "unknown" for a value outside the enum. Never NULL. */
const char *rule_action_name(rule_action_kind_t k);
const char *rule_state_name(rule_state_kind_t k);

#endif
