# Unit tests of gateway/base/: the growing string and the SVG writer of the
# report charts.
# SPDX-License-Identifier: Apache-2.0
plantroom_unit_test(test_gw_svg SOURCES test_gw_svg.c LIBS plantroom_base)
