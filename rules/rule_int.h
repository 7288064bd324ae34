/*
 * rule_int.h: what the files of rules/ share and nobody else uses: the trend
 * rule's entry points (rule_trend.c) called by the kind dispatch
 * (rule_kinds.c).
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

/* Two-sided Student t quantile for level conf (0.9, 0.95 or 0.99) and df
 * degrees of freedom (>= 1); approximate past df 20. */
double rule__t_quantile(double conf, int df);

#endif
