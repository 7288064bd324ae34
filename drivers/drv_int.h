/*
 * drv_int.h: what the files of drivers/ share and nobody else uses: the
 * names of tables, types and byte orders as the profile format spells them
 * (defined in drv_point.c, looked up by drv_profile.c). The public contract
 * is drivers/drv.h; the format is docs/profiles.md.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_DRV_INT_H
#define PLANTROOM_DRV_INT_H

#include "drivers/drv.h"

/* Indexed by drv_table_t, drv_type_t and drv_order_t. */
extern const char *const drv__table_names[DRV_TABLE_INPUT + 1];
extern const char *const drv__type_names[DRV_T_STRING + 1];
extern const char *const drv__order_names[DRV_ORDER_DCBA + 1];

#endif
