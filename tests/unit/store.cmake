# Unit tests of store/: the ledger and the ledger thread on real SQLite files
# in a scratch directory, and plantroomctl run against such a file.
# SPDX-License-Identifier: Apache-2.0
plantroom_unit_test(test_ledger SOURCES test_ledger.c LIBS plantroom_store)
plantroom_unit_test(test_ledger_worker SOURCES test_ledger_worker.c LIBS plantroom_store)
plantroom_unit_test(test_ledger_worker_stats SOURCES test_ledger_worker_stats.c LIBS plantroom_store)

# plantroomctl is run as a program: the test gets its path.
add_executable(test_ledger_ctl test_ledger_ctl.c)
target_link_libraries(test_ledger_ctl PRIVATE plantroom_store)
add_test(NAME test_ledger_ctl COMMAND test_ledger_ctl $<TARGET_FILE:plantroomctl>)
set_tests_properties(test_ledger_ctl PROPERTIES TIMEOUT 300 LABELS unit)
# Every verb's --help, bad options, JSON errors (plantroomctl's command line).
add_executable(test_ctl_cli test_ctl_cli.c)
target_link_libraries(test_ctl_cli PRIVATE plantroom_store)
add_test(NAME test_ctl_cli COMMAND test_ctl_cli $<TARGET_FILE:plantroomctl>)
# About 70 runs of plantroomctl: slow under ASan on a loaded box.
set_tests_properties(test_ctl_cli PROPERTIES TIMEOUT 240 LABELS unit)
plantroom_unit_test(test_ledger_migrate SOURCES test_ledger_migrate.c LIBS plantroom_store)
plantroom_unit_test(test_ledger_rollup_move SOURCES test_ledger_rollup_move.c LIBS plantroom_store)
plantroom_unit_test(test_ledger_rollup_rows SOURCES test_ledger_rollup_rows.c LIBS plantroom_store)
plantroom_unit_test(test_ledger_audit SOURCES test_ledger_audit.c LIBS plantroom_store)
plantroom_unit_test(test_ledger_wo SOURCES test_ledger_wo.c LIBS plantroom_store)

# The ledger benchmark (tests/bench/, not a test): run it by hand, see
# docs/performance.md.
add_executable(bench_ledger ${CMAKE_CURRENT_SOURCE_DIR}/../bench/bench_ledger.c)
target_link_libraries(bench_ledger PRIVATE plantroom_store)
add_executable(bench_rollup_keys ${CMAKE_CURRENT_SOURCE_DIR}/../bench/bench_rollup_keys.c)
target_link_libraries(bench_rollup_keys PRIVATE plantroom_store)
plantroom_unit_test(test_ledger_priority SOURCES test_ledger_priority.c LIBS plantroom_store)
plantroom_unit_test(test_store_file SOURCES test_store_file.c LIBS plantroom_store)
plantroom_unit_test(test_ledger_storage SOURCES test_ledger_storage.c LIBS plantroom_store)
plantroom_unit_test(test_ledger_report SOURCES test_ledger_report.c LIBS plantroom_store)
