# Unit tests of notifications (docs/hooks.md): the pure decisions (gw_route.c),
# local time from zoneinfo (gw_tz.c), the config sections (gw_config_hooks.c,
# gw_config_notify.c), notify.db and its store thread (store/notify_store.c,
# store/notify_worker.c, with tests/hooks/fault_vfs.c for failing writes).
# SPDX-License-Identifier: Apache-2.0
plantroom_unit_test(test_notify_route
  SOURCES test_notify_route.c ${CMAKE_SOURCE_DIR}/gateway/notify/gw_route.c
  ${CMAKE_SOURCE_DIR}/gateway/notify/gw_tz.c LIBS plantroom_base)
plantroom_unit_test(test_notify_config SOURCES test_notify_config.c LIBS plantroom_gateway)
plantroom_unit_test(test_notify_hooks SOURCES test_notify_hooks.c LIBS plantroom_hooks plantroom_store)
plantroom_unit_test(test_notify_tz
  SOURCES test_notify_tz.c ${CMAKE_SOURCE_DIR}/gateway/notify/gw_tz.c LIBS plantroom_base)
plantroom_unit_test(test_notify_store
  SOURCES test_notify_store.c ${CMAKE_SOURCE_DIR}/tests/hooks/fault_vfs.c
  LIBS plantroom_gateway PkgConfig::SQLITE)
plantroom_unit_test(test_notify_mail SOURCES test_notify_mail.c LIBS plantroom_gateway plantroom_store)
