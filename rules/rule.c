/*
 * rule.c: what all rules share (rules/rule.h): the names of action and state
 * kinds as they appear in JSON, logs and the ledger. The rules themselves
 * live one per file (rule_threshold.c).
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
