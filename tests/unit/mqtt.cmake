# Unit tests of the MQTT side: the telemetry spool (store/spool.h).
# SPDX-License-Identifier: Apache-2.0
plantroom_unit_test(test_mq_spool SOURCES test_mq_spool.c LIBS plantroom_store)
# NB-IoT report parsing: JSON pointers, CTWing/OneNET, corruption safety.
plantroom_unit_test(test_mq_nbiot SOURCES test_mq_nbiot.c LIBS plantroom_gateway)
# Home Assistant discovery: point names, presentation keys, entity kinds.
plantroom_unit_test(test_hass_map SOURCES test_hass_map.c LIBS plantroom_gateway)
# The telemetry message without cJSON (gateway/base/gw_jwrite.c,
# north__tel_payload) against the cJSON encoder it replaced, and its
# allocations counted by wrapping malloc and friends at link time.
plantroom_unit_test(test_tel_json SOURCES test_tel_json.c LIBS plantroom_gateway)
target_link_options(test_tel_json PRIVATE
  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup)
# The count of what paho holds (protocols/mqtt/mq_publish.c) against a real
# mosquitto, stopped, killed and restarted: every path takes a publish off it.
plantroom_unit_test(test_mq_queue SOURCES test_mq_queue.c LIBS plantroom_mqtt)
