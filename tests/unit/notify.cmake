# Unit tests of notifications (docs/hooks.md): the pure decisions (gw_route.c),
# the config sections (gw_config_hooks.c) and notify.db (store/notify_store.c).
plantroom_unit_test(test_notify_route
  SOURCES test_notify_route.c ${CMAKE_SOURCE_DIR}/gateway/notify/gw_route.c LIBS plantroom_base)
plantroom_unit_test(test_notify_config SOURCES test_notify_config.c LIBS plantroom_gateway)
plantroom_unit_test(test_notify_hooks SOURCES test_notify_hooks.c LIBS plantroom_hooks plantroom_store)
plantroom_unit_test(test_notify_mail SOURCES test_notify_mail.c LIBS plantroom_gateway plantroom_store)
