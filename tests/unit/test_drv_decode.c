/*
 * test_drv_decode.c: every type in every byte/word order, scale and offset,
 * and point parsing errors.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "drivers/drv.h"
#include "gateway/base/gw_types.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static drv_point_t pt(drv_type_t type, drv_order_t order)
{
    drv_point_t p;
    memset(&p, 0, sizeof(p));
    p.type = type;
    p.order = order;
    p.table = DRV_TABLE_HOLDING;
    p.scale = 1.0;
    return p;
}

/* Lay out big-endian bytes b[0..2n) as registers in the given order. */
static void encode(const uint8_t *b, unsigned n, drv_order_t order, uint16_t *w)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t hi = b[2 * i], lo = b[2 * i + 1];
        int swap_bytes = order == DRV_ORDER_BADC || order == DRV_ORDER_DCBA;
        int rev_words = order == DRV_ORDER_CDAB || order == DRV_ORDER_DCBA;
        uint16_t word = swap_bytes ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
        w[rev_words ? n - 1 - i : i] = word;
    }
}

T_TEST(float32_all_orders)
{
    float f = -1234.5f;
    uint32_t u;
    uint8_t b[4];
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(u >> (24 - 8 * i));
    for (int o = 0; o < 4; o++) {
        uint16_t w[2];
        double v = 0;
        drv_point_t p = pt(DRV_T_FLOAT32, (drv_order_t)o);
        encode(b, 2, (drv_order_t)o, w);
        T_CHECK_EQ_INT(drv_decode(&p, w, &v), 0);
        T_CHECK_NEAR(v, -1234.5, 1e-9);
    }
}

T_TEST(known_register_layouts)
{
    /* 0x12345678 as the four orders put it on the wire */
    uint16_t abcd[2] = {0x1234, 0x5678}, cdab[2] = {0x5678, 0x1234};
    uint16_t badc[2] = {0x3412, 0x7856}, dcba[2] = {0x7856, 0x3412};
    double v;
    drv_point_t p = pt(DRV_T_UINT32, DRV_ORDER_ABCD);
    T_CHECK(drv_decode(&p, abcd, &v) == 0 && v == (double)0x12345678);
    p.order = DRV_ORDER_CDAB;
    T_CHECK(drv_decode(&p, cdab, &v) == 0 && v == (double)0x12345678);
    p.order = DRV_ORDER_BADC;
    T_CHECK(drv_decode(&p, badc, &v) == 0 && v == (double)0x12345678);
    p.order = DRV_ORDER_DCBA;
    T_CHECK(drv_decode(&p, dcba, &v) == 0 && v == (double)0x12345678);
}

T_TEST(integers_signed_and_wide)
{
    uint16_t w1[1] = {0xFFFE};
    uint16_t w2[2] = {0xFFFF, 0xFFFF};
    uint16_t w4[4] = {0x0000, 0x0001, 0x0000, 0x0000};
    uint16_t w4n[4] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFF6};
    double v;
    drv_point_t p = pt(DRV_T_INT16, DRV_ORDER_ABCD);
    T_CHECK(drv_decode(&p, w1, &v) == 0 && v == -2);
    p.type = DRV_T_UINT16;
    T_CHECK(drv_decode(&p, w1, &v) == 0 && v == 65534);
    p.type = DRV_T_INT32;
    T_CHECK(drv_decode(&p, w2, &v) == 0 && v == -1);
    p.type = DRV_T_UINT32; /* a door counter about to wrap */
    T_CHECK(drv_decode(&p, w2, &v) == 0 && v == 4294967295.0);
    p.type = DRV_T_UINT64;
    T_CHECK(drv_decode(&p, w4, &v) == 0 && v == 4294967296.0);
    p.type = DRV_T_INT64;
    T_CHECK(drv_decode(&p, w4n, &v) == 0 && v == -10);
}

T_TEST(float64_and_nan)
{
    double d = 98765.4321, v = 0;
    uint64_t u;
    uint8_t b[8];
    uint16_t w[4];
    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (56 - 8 * i));
    drv_point_t p = pt(DRV_T_FLOAT64, DRV_ORDER_CDAB);
    encode(b, 4, DRV_ORDER_CDAB, w);
    T_CHECK_EQ_INT(drv_decode(&p, w, &v), 0);
    T_CHECK_NEAR(v, 98765.4321, 1e-9);
    uint16_t nan32[2] = {0x7FC0, 0x0000};
    p = pt(DRV_T_FLOAT32, DRV_ORDER_ABCD);
    T_CHECK_EQ_INT(drv_decode(&p, nan32, &v), GW_EINVAL);
}

T_TEST(scale_offset_and_bool)
{
    uint16_t w[1] = {480};
    double v;
    drv_point_t p = pt(DRV_T_UINT16, DRV_ORDER_ABCD);
    p.scale = 0.01;
    T_CHECK(drv_decode(&p, w, &v) == 0);
    T_CHECK_NEAR(v, 4.80, 1e-12);
    p.scale = 0.1;
    p.offset = -40;
    T_CHECK(drv_decode(&p, w, &v) == 0);
    T_CHECK_NEAR(v, 8.0, 1e-12);
    p = pt(DRV_T_BOOL, DRV_ORDER_ABCD);
    uint16_t bit[1] = {1};
    T_CHECK(drv_decode(&p, bit, &v) == 0 && v == 1.0);
}

T_TEST(point_parse_errors_name_the_key)
{
    gw_errlist_t el;
    drv_point_t p;
    cJSON *o = cJSON_Parse("{\"name\":\"x\",\"table\":\"coil\",\"address\":70000,"
                           "\"type\":\"uint16\",\"order\":\"XYZW\",\"scale\":0,\"colour\":1}");
    gw_errlist_init(&el);
    T_CHECK_EQ_INT(drv_point_parse(o, "devices[0].points[3]", DRV_ORDER_ABCD, 0, &p, NULL, &el),
                   GW_ECONFIG);
    const char *want[] = {
        "devices[0].points[3].colour: unknown key",
        "devices[0].points[3].order: must be one of ABCD, CDAB, BADC, DCBA, got \"XYZW\"",
        "devices[0].points[3].address: must be at most 65535, got 70000",
        "devices[0].points[3].scale: must not be 0",
        "devices[0].points[3].type: must be \"bool\" for a coil point",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(want); i++) {
        int found = 0;
        for (size_t j = 0; j < el.n; j++)
            found |= strstr(el.msgs[j], want[i]) != NULL;
        if (!found)
            fprintf(stderr, "missing error: %s\n", want[i]);
        T_CHECK(found);
    }
    gw_errlist_free(&el);
    cJSON_Delete(o);
}

T_TEST(profiles_shipped_load)
{
    const char *files[] = {PROFILES_DIR "/elevator.json", PROFILES_DIR "/energy_meter_sdm630.json",
                           PROFILES_DIR "/fire_panel_notifier.json",
                           PROFILES_DIR "/pump_drive_abb.json", PROFILES_DIR "/tank_level.json"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(files); i++) {
        gw_errlist_t el;
        drv_profile_t *p = NULL;
        gw_errlist_init(&el);
        T_CHECK_EQ_INT(drv_profile_load(files[i], &p, &el), 0);
        for (size_t j = 0; j < el.n; j++)
            fprintf(stderr, "%s\n", el.msgs[j]);
        T_CHECK(p && p->npoints >= 5);
        drv_profile_free(p);
        gw_errlist_free(&el);
    }
}

int main(void)
{
    T_RUN(float32_all_orders);
    T_RUN(known_register_layouts);
    T_RUN(integers_signed_and_wide);
    T_RUN(float64_and_nan);
    T_RUN(scale_offset_and_bool);
    T_RUN(point_parse_errors_name_the_key);
    T_RUN(profiles_shipped_load);
    return t_done();
}
