# SPDX-License-Identifier: Apache-2.0
plantroom_unit_test(test_mb_plan SOURCES test_mb_plan.c LIBS plantroom_modbus)
# Modbus TCP reads (mb_tcp.c) against libmodbus, over loopback TCP.
plantroom_unit_test(test_mb_tcp SOURCES test_mb_tcp.c LIBS plantroom_modbus)
# A bus's readings reused (mb_rpool.c): no allocation per poll, counted by
# wrapping malloc and calloc at link time; the pool outlives its bus.
plantroom_unit_test(test_mb_rpool SOURCES test_mb_rpool.c LIBS plantroom_modbus)
target_link_options(test_mb_rpool PRIVATE -Wl,--wrap=malloc,--wrap=calloc)
# Writes end to end against a real plantroom-sim (spawned by the test).
plantroom_unit_test(test_gw_write SOURCES test_gw_write.c LIBS plantroom_gateway)
target_compile_definitions(test_gw_write PRIVATE
  SIM_BIN="$<TARGET_FILE:plantroom-sim>"
  PROFILES_DIR="${CMAKE_SOURCE_DIR}/drivers/profiles")
add_dependencies(test_gw_write plantroom-sim)
# A write a wedged bus thread is stuck in is answered when the bus is left behind.
plantroom_unit_test(test_mb_stuck SOURCES test_mb_stuck.c LIBS plantroom_modbus)
