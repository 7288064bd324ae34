/*
 * drv_point.c: what a point is, below both parsing and decoding (drv.h):
 * the names of its table, type and byte order, how many registers it
 * spans, and the one-based "Modicon" address notation. drv_profile.c
 * parses profiles with these, drv_decode.c names types in its errors; the
 * format is docs/profiles.md.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "drivers/drv_int.h"
#include "gateway/base/gw_types.h"

#include <string.h>

const char *const drv__table_names[DRV_TABLE_INPUT + 1] = {"coil", "discrete", "holding", "input"};
const char *const drv__type_names[DRV_T_STRING + 1] = {"bool",    "int16", "uint16", "int32",
                                                       "uint32",  "int64", "uint64", "float32",
                                                       "float64", "string"};
const char *const drv__order_names[DRV_ORDER_DCBA + 1] = {"ABCD", "CDAB", "BADC", "DCBA"};

const char *drv_table_name(drv_table_t t)
{
    return (unsigned)t < GW_ARRAY_SIZE(drv__table_names) ? drv__table_names[t] : "?";
}

const char *drv_type_name(drv_type_t t)
{
    return (unsigned)t < GW_ARRAY_SIZE(drv__type_names) ? drv__type_names[t] : "?";
}

const char *drv_order_name(drv_order_t o)
{
    return (unsigned)o < GW_ARRAY_SIZE(drv__order_names) ? drv__order_names[o] : "?";
}

unsigned drv_point_width(const drv_point_t *pt)
{
    switch (pt->type) {
    case DRV_T_BOOL:
    case DRV_T_INT16:
    case DRV_T_UINT16:
        return 1;
    case DRV_T_INT32:
    case DRV_T_UINT32:
    case DRV_T_FLOAT32:
        return 2;
    case DRV_T_INT64:
    case DRV_T_UINT64:
    case DRV_T_FLOAT64:
        return 4;
    case DRV_T_STRING:
        return pt->length ? pt->length : 1;
    }
    return 1;
}

int drv_parse_modicon(const char *text, drv_table_t *table, uint16_t *addr)
{
    size_t n = strlen(text);
    long v = 0;

    if (n != 5 && n != 6)
        return GW_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return GW_EINVAL;
        if (i > 0)
            v = v * 10 + (text[i] - '0');
    }
    if (v < 1 || v > (n == 5 ? 9999 : 65536))
        return GW_EINVAL;
    switch (text[0]) {
    case '0':
        *table = DRV_TABLE_COIL;
        break;
    case '1':
        *table = DRV_TABLE_DISCRETE;
        break;
    case '3':
        *table = DRV_TABLE_INPUT;
        break;
    case '4':
        *table = DRV_TABLE_HOLDING;
        break;
    default:
        return GW_EINVAL;
    }
    *addr = (uint16_t)(v - 1);
    return 0;
}
