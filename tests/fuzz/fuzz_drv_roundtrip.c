/*
 * fuzz_drv_roundtrip.c: register decoding and encoding over random point
 * definitions (drivers/drv_decode.c, drv_write.c): a point of any table,
 * type, byte order, bit field, string length, scale and offset, the words
 * of a reply decoded (plain, with any decimals, as a string), and a value
 * encoded for a write and decoded back. Checked: decoding gives a finite
 * value or refuses; an encoded value decodes to itself within the type's
 * precision; drv_write_check never lets through what the point's limits
 * exclude; nothing is cast out of range (UBSan's float-cast-overflow).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "drivers/drv.h"
#include "tests/fuzz/fuzz_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double fuzz_double(fuzz_in_t *in)
{
    uint64_t u = fuzz_u64(in);
    double d;

    memcpy(&d, &u, sizeof(d));
    return d;
}

/* A random point a profile could hold (as drv_point_parse would accept). */
static void make_point(fuzz_in_t *in, drv_point_t *pt)
{
    uint8_t a = fuzz_byte(in), b = fuzz_byte(in);

    memset(pt, 0, sizeof(*pt));
    snprintf(pt->name, sizeof(pt->name), "p");
    pt->table = (drv_table_t)(a & 3);
    pt->type = (drv_type_t)((a >> 2) % 10);
    pt->order = (drv_order_t)(a >> 6);
    pt->decimals_idx = -1;
    if (pt->table == DRV_TABLE_COIL || pt->table == DRV_TABLE_DISCRETE)
        pt->type = DRV_T_BOOL;
    if ((b & 1) && (pt->type == DRV_T_BOOL || pt->type == DRV_T_UINT16) &&
        (pt->table == DRV_TABLE_HOLDING || pt->table == DRV_TABLE_INPUT)) {
        pt->bit = (uint8_t)((b >> 1) & 15);
        pt->bits = pt->type == DRV_T_BOOL ? 1 : (uint8_t)(1 + (fuzz_byte(in) % (16 - pt->bit)));
    }
    if (pt->type == DRV_T_STRING)
        pt->length = (uint16_t)(1 + fuzz_byte(in) % 125);
    pt->scale = (b & 0x40) ? fuzz_double(in) : 1.0;
    pt->offset = (b & 0x80) ? fuzz_double(in) : 0.0;
    if (!isfinite(pt->scale) || pt->scale == 0.0)
        pt->scale = 1.0; /* the profile parser refuses these */
    if (!isfinite(pt->offset))
        pt->offset = 0.0;
    pt->write.allowed = (b & 0x20) != 0;
    pt->write.range = (b & 0x10) != 0;
    pt->write.min = fuzz_double(in);
    pt->write.max = fuzz_double(in);
    pt->write.has_bits = (b & 0x08) != 0;
    pt->write.bits = fuzz_u32(in);
    pt->write.nvalues = fuzz_byte(in) % (DRV_WRITE_VALUES_MAX + 1);
    for (unsigned i = 0; i < pt->write.nvalues; i++)
        pt->write.values[i] = fuzz_double(in);
}

/* decode(encode(v)) is v, within the precision of the point's type. */
static void round_trip(const drv_point_t *pt, double v)
{
    uint16_t words[128] = {0};
    char err[200];
    double back;
    double tol;

    if (drv_encode(pt, v, words, err, sizeof(err)) != 0)
        return;
    if (pt->type == DRV_T_BOOL)
        return; /* any non-zero is 1 */
    if (drv_decode(pt, words, &back) != 0 || !isfinite(back)) {
        fprintf(stderr, "encoded, not decoded: %s %s scale %.17g offset %.17g value %.17g\n",
                drv_type_name(pt->type), drv_table_name(pt->table), pt->scale, pt->offset, v);
        abort(); /* what was encoded decodes */
    }
    tol = fabs(pt->scale) * (pt->type == DRV_T_FLOAT32
                                 ? fmax(1.0, fabs((v - pt->offset) / pt->scale)) * 1e-6
                             : pt->type == DRV_T_FLOAT64 ? 1e-9 * fmax(1.0, fabs(v))
                                                         : 0.5000001) +
          1e-9 * fmax(fabs(v), fabs(pt->offset));
    if (pt->type == DRV_T_INT64 || pt->type == DRV_T_UINT64)
        tol += fabs(v) * 1e-15;
    if (fabs(back - v) > tol && fabs(v) < 1e300)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    uint16_t words[128];
    drv_point_t pt;
    char text[300], err[200];
    double v;

    make_point(&in, &pt);
    for (size_t i = 0; i < 128; i++)
        words[i] = fuzz_u16(&in);
    if (drv_decode(&pt, words, &v) == 0 && !isfinite(v))
        abort(); /* a reading is finite, or refused (bad_config) */
    (void)drv_decode_scaled(&pt, words, (int)(fuzz_byte(&in) % 12) - 1, &v);
    if (pt.type == DRV_T_STRING &&
        drv_decode_string(&pt, words, text, sizeof(text)) >= sizeof(text))
        abort();
    v = fuzz_double(&in);
    if (drv_write_check(&pt, v, err, sizeof(err)) == 0) {
        if (!pt.write.allowed || !isfinite(v) ||
            (pt.write.range && (v < pt.write.min || v > pt.write.max)))
            abort(); /* let through what the limits exclude */
    }
    round_trip(&pt, v);
    round_trip(&pt, (double)(int64_t)(fuzz_u32(&in) % 100000) - 50000);
    return 0;
}
