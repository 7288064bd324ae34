# Unit tests of rules/ (rules/rule.h).
# SPDX-License-Identifier: Apache-2.0
plantroom_unit_test(test_rule_threshold SOURCES test_rule_threshold.c LIBS plantroom_rules)
plantroom_unit_test(test_rule_trend SOURCES test_rule_trend.c LIBS plantroom_rules)
plantroom_unit_test(test_rule_kinds SOURCES test_rule_kinds.c LIBS plantroom_rules)
# Two trends of one lift sharing one preventive order (rules/rule_wear.c).
plantroom_unit_test(test_rule_wear SOURCES test_rule_wear.c LIBS plantroom_rules)
# Rule state across restarts and reloads: links the gateway (config, runtime,
# state file) and reads the shipped profiles.
plantroom_unit_test(test_rule_state SOURCES test_rule_state.c LIBS plantroom_gateway)
target_compile_definitions(test_rule_state PRIVATE PLANTROOM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# The rules on two clocks: wall-clock steps, reconciling with the ledger,
# a saved state brought onto a new run's clocks.
plantroom_unit_test(test_rule_time SOURCES test_rule_time.c LIBS plantroom_rules)
# A rule's title: its bound counts characters, not bytes.
plantroom_unit_test(test_config_title SOURCES test_config_title.c LIBS plantroom_gateway)
target_compile_definitions(test_config_title PRIVATE PLANTROOM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# Devices of one profile share its points table unless they change it.
plantroom_unit_test(test_config_profiles SOURCES test_config_profiles.c LIBS plantroom_gateway)
target_compile_definitions(test_config_profiles PRIVATE PLANTROOM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# The minute's rollup close goes to a real ledger thread in bounded chunks.
plantroom_unit_test(test_core_rollup SOURCES test_core_rollup.c
  LIBS plantroom_gateway PkgConfig::SQLITE)
# The trend's line weighted to its recent days and its interval (internals:
# rules/rule_int.h).
plantroom_unit_test(test_rule_line SOURCES test_rule_line.c LIBS plantroom_rules)
# A recent knee in the model test (rules/rule_model.c).
plantroom_unit_test(test_rule_knee SOURCES test_rule_knee.c LIBS plantroom_rules)
