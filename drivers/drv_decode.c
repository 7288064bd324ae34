/*
 * drv_decode.c: registers to engineering values, in any byte/word order.
 *
 * Modbus carries 16-bit registers big-endian. A wider value spans several
 * registers; devices disagree on which comes first (word order) and some
 * swap the bytes within a register. We first rebuild the value's bytes in
 * big-endian order ("ABCD..."), then interpret them.
 */
#include "drivers/drv.h"
#include "gateway/gw_types.h"

#include <math.h>
#include <string.h>

/* Put the point's registers into big-endian byte order in out[2*n]. */
static void drv__gather(const drv_point_t *pt, const uint16_t *words, unsigned n, uint8_t *out)
{
    for (unsigned i = 0; i < n; i++) {
        /* word order: ABCD/BADC keep the high word first, CDAB/DCBA reverse */
        int rev_words = pt->order == DRV_ORDER_CDAB || pt->order == DRV_ORDER_DCBA;
        int swap_bytes = pt->order == DRV_ORDER_BADC || pt->order == DRV_ORDER_DCBA;
        uint16_t w = words[rev_words ? n - 1 - i : i];
        out[2 * i] = swap_bytes ? (uint8_t)(w & 0xff) : (uint8_t)(w >> 8);
        out[2 * i + 1] = swap_bytes ? (uint8_t)(w >> 8) : (uint8_t)(w & 0xff);
    }
}

static uint64_t drv__be(const uint8_t *b, unsigned nbytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < nbytes; i++)
        v = (v << 8) | b[i];
    return v;
}

int drv_decode(const drv_point_t *pt, const uint16_t *words, double *value)
{
    uint8_t b[8];
    unsigned n = drv_point_width(pt);
    uint64_t raw;
    double v;

    if (pt->type == DRV_T_BOOL) {
        v = words[0] ? 1.0 : 0.0;
        goto out_scale;
    }
    drv__gather(pt, words, n, b);
    raw = drv__be(b, 2 * n);
    switch (pt->type) {
    case DRV_T_INT16:
        v = (int16_t)(uint16_t)raw;
        break;
    case DRV_T_UINT16:
        v = (uint16_t)raw;
        break;
    case DRV_T_INT32:
        v = (int32_t)(uint32_t)raw;
        break;
    case DRV_T_UINT32:
        v = (uint32_t)raw;
        break;
    case DRV_T_INT64:
        v = (double)(int64_t)raw;
        break;
    case DRV_T_UINT64:
        v = (double)raw;
        break;
    case DRV_T_FLOAT32: {
        uint32_t u = (uint32_t)raw;
        float f;
        memcpy(&f, &u, sizeof(f));
        v = f;
        break;
    }
    case DRV_T_FLOAT64: {
        memcpy(&v, &raw, sizeof(v));
        break;
    }
    default:
        return GW_EINVAL;
    }
    if (!isfinite(v))
        return GW_EINVAL;
out_scale:
    *value = v * pt->scale + pt->offset;
    return 0;
}
