# SPDX-License-Identifier: Apache-2.0
plantroom_unit_test(test_drv_decode SOURCES test_drv_decode.c LIBS plantroom_drivers)
target_compile_definitions(test_drv_decode PRIVATE PROFILES_DIR="${CMAKE_SOURCE_DIR}/drivers/profiles")
plantroom_unit_test(test_drv_points SOURCES test_drv_points.c LIBS plantroom_drivers)
