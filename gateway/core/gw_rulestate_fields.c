/*
 * gw_rulestate_fields.c: the fields of a rule's state as rules.state
 * (version 3) stores them (gw_rulestate.c): each field under a stable tag,
 * with its length, so that a file written by another build restores what
 * both builds know. A field the file lacks keeps its value from
 * rule_init; a tag this build does not know is skipped; a field whose
 * length changed (a ring grown) is not taken, and neither is anything of
 * its group (a ring, its head and its count go together), so no index ever
 * points into an array of another size. Whatever is restored must then
 * pass rule_state_valid, or the rule starts fresh.
 *
 * Rules for whoever changes rule_state_t (rules/rule.h):
 *  - a new field gets a new tag, in its kind's range, and a group: the
 *    tag of the first field it must go together with, or its own;
 *  - a field whose meaning or unit changes gets a new tag (the old one is
 *    then left out of the table: an old file's value is skipped);
 *  - a tag is never reused. tests/unit/test_rule_state.c fails when a field
 *    of a state a rule filled is not in the table.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/core/gw_rules.h"

#include <stddef.h>

#define RS_F(tag, group, member)                                                                   \
    {                                                                                              \
        (tag), (group), offsetof(rule_state_t, member), sizeof(((rule_state_t *)0)->member)        \
    }

/* The alarm and the stale rule's times: every kind (tags 1-99). */
static const gw_rs_field_t rs__common[] = {
    RS_F(1, 1, alarm.st),       RS_F(2, 2, alarm.since_ms),       RS_F(3, 3, alarm.last_update_ms),
    RS_F(4, 4, alarm.peak),     RS_F(5, 5, alarm.samples),        RS_F(6, 6, alarm.last_ts_ms),
    RS_F(7, 7, alarm.clearing), RS_F(8, 7, alarm.clear_since_ms), RS_F(9, 9, last_good_ms),
    RS_F(10, 10, first_ms),
};

/* RULE_RATE (100-199): one ring. */
static const gw_rs_field_t rs__rate[] = {
    RS_F(100, 100, u.rate.ts),
    RS_F(101, 100, u.rate.v),
    RS_F(102, 100, u.rate.head),
    RS_F(103, 100, u.rate.n),
};

/* RULE_COUNTER (200-299). */
static const gw_rs_field_t rs__counter[] = {
    RS_F(200, 200, u.counter.has_last),
    RS_F(201, 200, u.counter.last_raw),
    RS_F(202, 202, u.counter.acc),
};

/* RULE_ANOMALY (300-399): the week's buckets. */
static const gw_rs_field_t rs__anomaly[] = {
    RS_F(300, 300, u.anomaly.b),
};

/* RULE_TREND (400-499). */
static const gw_rs_field_t rs__trend[] = {
    /* smoothing ring */
    RS_F(400, 400, u.trend.ring),
    RS_F(401, 400, u.trend.rhead),
    RS_F(402, 400, u.trend.rn),
    RS_F(403, 400, u.trend.rsum),
    /* the learned baseline and the change detector */
    RS_F(410, 410, u.trend.learned),
    RS_F(411, 410, u.trend.mu),
    RS_F(412, 410, u.trend.m2),
    RS_F(413, 410, u.trend.ewma),
    RS_F(414, 410, u.trend.emu),
    RS_F(415, 410, u.trend.em2),
    RS_F(416, 410, u.trend.elimit),
    RS_F(417, 417, u.trend.change),
    RS_F(418, 417, u.trend.change_today),
    RS_F(419, 417, u.trend.calm_days),
    RS_F(420, 417, u.trend.change_day),
    /* the open day */
    RS_F(430, 430, u.trend.day),
    RS_F(431, 430, u.trend.day_sum),
    RS_F(432, 430, u.trend.day_n),
    RS_F(433, 430, u.trend.day_seen),
    RS_F(434, 434, u.trend.seen),
    RS_F(435, 434, u.trend.seen_head),
    RS_F(436, 436, u.trend.last_x),
    RS_F(437, 436, u.trend.same_n),
    /* the closed days and the quiet days */
    RS_F(440, 440, u.trend.days_t),
    RS_F(441, 440, u.trend.days_y),
    RS_F(442, 440, u.trend.dhead),
    RS_F(443, 440, u.trend.dn),
    RS_F(444, 444, u.trend.quiet_y),
    RS_F(445, 444, u.trend.quiet_t),
    RS_F(446, 444, u.trend.qhead),
    RS_F(447, 444, u.trend.qn),
    /* the prediction as of the last closed day */
    RS_F(450, 450, u.trend.firing),
    RS_F(451, 450, u.trend.opened_ms),
    RS_F(452, 452, u.trend.last_pred_ms),
    RS_F(453, 452, u.trend.pred_c),
    RS_F(454, 452, u.trend.pred_lo),
    RS_F(455, 452, u.trend.pred_hi),
    RS_F(456, 452, u.trend.slope),
    RS_F(457, 457, u.trend.model),
    RS_F(458, 457, u.trend.model_streak),
    RS_F(459, 450, u.trend.recovered),
    RS_F(460, 460, u.trend.soon_days),
    RS_F(461, 461, u.trend.last_ts_ms),
    RS_F(462, 462, u.trend.samples),
};

#define RS_N(a) (sizeof(a) / sizeof((a)[0]))

const gw_rs_field_t *gw_rulestate_fields(int kind, size_t *n)
{
    switch (kind) {
    case -1:
        *n = RS_N(rs__common);
        return rs__common;
    case RULE_RATE:
        *n = RS_N(rs__rate);
        return rs__rate;
    case RULE_COUNTER:
        *n = RS_N(rs__counter);
        return rs__counter;
    case RULE_ANOMALY:
        *n = RS_N(rs__anomaly);
        return rs__anomaly;
    case RULE_TREND:
        *n = RS_N(rs__trend);
        return rs__trend;
    default:
        *n = 0;
        return NULL;
    }
}
