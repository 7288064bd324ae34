/*
 * drv_decode.c: registers to engineering values, in any byte/word order.
 *
 * Modbus carries 16-bit registers big-endian. A wider value spans several
 * registers; devices disagree on which comes first (word order) and some
 * swap the bytes within a register. We first rebuild the value's bytes in
 * big-endian order ("ABCD..."), then interpret them.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "drivers/drv.h"
#include "gateway/base/gw_types.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
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

size_t drv_decode_string(const drv_point_t *pt, const uint16_t *words, char *buf, size_t len)
{
    int low_first = pt->order == DRV_ORDER_BADC || pt->order == DRV_ORDER_DCBA;
    size_t n = 0;

    if (len == 0)
        return 0;
    for (unsigned i = 0; i < pt->length && n + 1 < len; i++) {
        uint8_t c[2] = {(uint8_t)(words[i] >> 8), (uint8_t)(words[i] & 0xff)};
        for (int k = 0; k < 2 && n + 1 < len; k++) {
            uint8_t ch = c[low_first ? 1 - k : k];
            if (ch == 0)
                goto out_trim;
            buf[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
        }
    }
out_trim:
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
    return n;
}

int drv_decode(const drv_point_t *pt, const uint16_t *words, double *value)
{
    return drv_decode_scaled(pt, words, 0, value);
}

static const double drv__pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* raw * scale * 10^-decimals + offset into *value; GW_EINVAL when a huge
 * scale or offset overflowed a finite raw value: that is not a reading. */
static int drv__scale(const drv_point_t *pt, double v, int decimals, double *value)
{
    v *= pt->scale;
    if (decimals)
        v /= drv__pow10[decimals];
    v += pt->offset;
    if (!isfinite(v))
        return GW_EINVAL;
    *value = v;
    return 0;
}

int drv_decode_scaled(const drv_point_t *pt, const uint16_t *words, int decimals, double *value)
{
    uint8_t b[8];
    unsigned n;
    uint64_t raw;
    double v;

    if (decimals < 0 || decimals > 9)
        return GW_EINVAL;
    if (pt->type == DRV_T_STRING) {
        char buf[2 * 125 + 1];
        *value = (double)drv_decode_string(pt, words, buf, sizeof(buf));
        return 0;
    }
    if ((pt->type == DRV_T_UINT16 || pt->type == DRV_T_INT16) && !pt->bits) {
        /* the common case, without the general byte shuffle */
        unsigned w = words[0];
        if (pt->order == DRV_ORDER_BADC || pt->order == DRV_ORDER_DCBA)
            w = ((w & 0xffu) << 8) | (w >> 8);
        v = pt->type == DRV_T_INT16 ? (double)(int16_t)(uint16_t)w : (double)w;
        goto out_scale;
    }
    if (pt->bits) {
        /* A bit field of one register, unsigned; bit 0 is the least
         * significant bit of the register as the point's order reads it. */
        unsigned w = words[0];
        if (pt->order == DRV_ORDER_BADC || pt->order == DRV_ORDER_DCBA)
            w = ((w & 0xffu) << 8) | (w >> 8);
        v = (double)((w >> pt->bit) & ((1u << pt->bits) - 1u));
        goto out_scale;
    }
    if (pt->type == DRV_T_BOOL) {
        v = words[0] ? 1.0 : 0.0;
        goto out_scale;
    }
    n = drv_point_width(pt);
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
    return drv__scale(pt, v, decimals, value);
}

/* The inverse of drv__gather: big-endian bytes b[2n] into registers. */
static void drv__scatter(const drv_point_t *pt, const uint8_t *b, unsigned n, uint16_t *words)
{
    int rev_words = pt->order == DRV_ORDER_CDAB || pt->order == DRV_ORDER_DCBA;
    int swap_bytes = pt->order == DRV_ORDER_BADC || pt->order == DRV_ORDER_DCBA;

    for (unsigned i = 0; i < n; i++) {
        uint8_t hi = b[2 * i], lo = b[2 * i + 1];
        words[rev_words ? n - 1 - i : i] =
            swap_bytes ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
    }
}

/* Check an integer raw value against [lo, hi]: before any cast. */
static int drv__int_range(double raw, double lo, double hi, const drv_point_t *pt, char *err,
                          size_t errlen)
{
    if (!(raw >= lo && raw <= hi)) {
        snprintf(err, errlen, "%g is out of range for %s %s (raw %.0f, %.0f..%.0f)",
                 raw * pt->scale + pt->offset, drv_type_name(pt->type), pt->name, raw, lo, hi);
        return GW_EINVAL;
    }
    return 0;
}

/* The raw bits of an integer type's value r (already rounded), once r is
 * known to be in the type's range. */
static int drv__int_bits(const drv_point_t *pt, double r, uint64_t *u, char *err, size_t errlen)
{
    int rc;

    switch (pt->type) {
    case DRV_T_INT16:
        if ((rc = drv__int_range(r, INT16_MIN, INT16_MAX, pt, err, errlen)) == 0)
            *u = (uint16_t)(int16_t)r;
        return rc;
    case DRV_T_UINT16:
        if ((rc = drv__int_range(r, 0, UINT16_MAX, pt, err, errlen)) == 0)
            *u = (uint16_t)r;
        return rc;
    case DRV_T_INT32:
        if ((rc = drv__int_range(r, INT32_MIN, INT32_MAX, pt, err, errlen)) == 0)
            *u = (uint32_t)(int32_t)r;
        return rc;
    case DRV_T_UINT32:
        if ((rc = drv__int_range(r, 0, UINT32_MAX, pt, err, errlen)) == 0)
            *u = (uint32_t)r;
        return rc;
    case DRV_T_INT64:
        /* the largest doubles below 2^63 and 2^64: every value in range casts */
        rc = drv__int_range(r, -9223372036854775808.0, 9223372036854774784.0, pt, err, errlen);
        if (rc == 0)
            *u = (uint64_t)(int64_t)r;
        return rc;
    case DRV_T_UINT64:
        if ((rc = drv__int_range(r, 0, 18446744073709549568.0, pt, err, errlen)) == 0)
            *u = (uint64_t)r;
        return rc;
    default:
        snprintf(err, errlen, "%s: type cannot be written", pt->name);
        return GW_EINVAL;
    }
}

int drv_encode(const drv_point_t *pt, double value, uint16_t *words, char *err, size_t errlen)
{
    unsigned n = drv_point_width(pt);
    double raw = (value - pt->offset) / pt->scale, back;
    uint64_t u = 0;
    uint8_t b[8];
    int rc;

    if (pt->type == DRV_T_STRING || pt->bits || pt->decimals_idx >= 0) {
        snprintf(err, errlen, "%s cannot be written: it is a %s", pt->name,
                 pt->type == DRV_T_STRING ? "string"
                 : pt->bits               ? "bit field (write the whole register)"
                                          : "value scaled by another point's decimals");
        return GW_EINVAL;
    }
    if (!isfinite(raw)) {
        snprintf(err, errlen, "%s: value is not a finite number", pt->name);
        return GW_EINVAL;
    }
    switch (pt->type) {
    case DRV_T_BOOL:
        words[0] = value != 0.0;
        return 0;
    case DRV_T_FLOAT32: {
        float f;
        uint32_t x;
        /* a double beyond float's range would go out as infinity */
        if (fabs(raw) > FLT_MAX) {
            snprintf(err, errlen, "%g is out of range for float32 %s", value, pt->name);
            return GW_EINVAL;
        }
        f = (float)raw;
        memcpy(&x, &f, sizeof(x));
        u = x;
        break;
    }
    case DRV_T_FLOAT64:
        memcpy(&u, &raw, sizeof(u));
        break;
    default:
        rc = drv__int_bits(pt, round(raw), &u, err, errlen);
        if (rc)
            return rc;
    }
    for (unsigned i = 0; i < 2 * n; i++)
        b[i] = (uint8_t)(u >> (8 * (2 * n - 1 - i)));
    drv__scatter(pt, b, n, words);
    /* what is sent must read back as a reading (an extreme scale or offset
     * can overflow on the way back) */
    if (drv_decode(pt, words, &back) != 0) {
        snprintf(err, errlen, "%s: %g would not read back as a number (scale %g, offset %g)",
                 pt->name, value, pt->scale, pt->offset);
        return GW_EINVAL;
    }
    return 0;
}
