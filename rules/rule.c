/*
 * rule.c: what all rules share (rules/rule.h): the names of action and state
 * kinds as they appear in JSON, logs and the ledger. The rules themselves
 * are the threshold state machine (rule_threshold.c), the kinds judged by it
 * (rule_kinds.c) and the predictive trend (rule_trend.c); design in
 * docs/architecture.md, "Rules".
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"

const char *rule_action_name(rule_action_kind_t k)
{
    switch (k) {
    case RULE_ACT_NONE:
        return "none";
    case RULE_ACT_OPEN:
        return "open";
    case RULE_ACT_UPDATE:
        return "update";
    case RULE_ACT_RESOLVE:
        return "resolve";
    }
    return "unknown";
}

const char *rule_state_name(rule_state_kind_t k)
{
    switch (k) {
    case RULE_ST_NORMAL:
        return "normal";
    case RULE_ST_PENDING:
        return "pending";
    case RULE_ST_FIRING:
        return "firing";
    }
    return "unknown";
}
