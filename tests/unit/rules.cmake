# Unit tests of rules/ (rules/rule.h).
plantroom_unit_test(test_rule_threshold SOURCES test_rule_threshold.c LIBS plantroom_rules)
plantroom_unit_test(test_rule_trend SOURCES test_rule_trend.c LIBS plantroom_rules)
plantroom_unit_test(test_rule_kinds SOURCES test_rule_kinds.c LIBS plantroom_rules)
