# Unit tests of the service parts: ledger counts and online backup
# (store/ledger_admin.h) on real SQLite files. The daemon side (control
# socket, metrics, systemd notify) is tested end to end in
# tests/integration/test_service_*.py.
# SPDX-License-Identifier: Apache-2.0
plantroom_unit_test(test_ledger_admin SOURCES test_ledger_admin.c
  LIBS plantroom_store PkgConfig::SQLITE Threads::Threads)
# The status's devices written as text (core__status_device) against the
# cJSON tree it replaced, byte for byte.
plantroom_unit_test(test_status_json SOURCES test_status_json.c LIBS plantroom_gateway)
