# Unit tests of the MQTT side: the telemetry spool (store/spool.h).
plantroom_unit_test(test_mq_spool SOURCES test_mq_spool.c LIBS plantroom_store)
