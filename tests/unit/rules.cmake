# Unit tests of rules/ (rules/rule.h).
plantroom_unit_test(test_rule_threshold SOURCES test_rule_threshold.c LIBS plantroom_rules)
