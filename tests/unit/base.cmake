# Unit tests of gateway/base/: the growing string, the SVG writer of the
# report charts and optional libraries loaded at first use.
# SPDX-License-Identifier: Apache-2.0
plantroom_unit_test(test_gw_svg SOURCES test_gw_svg.c LIBS plantroom_base)
plantroom_unit_test(test_gw_dl SOURCES test_gw_dl.c LIBS plantroom_base)
