/*
 * test_drv_points.c: strings, bit fields, a scale from another point's
 * decimals, one-based "4xxxx" addresses, and their parsing errors; writes'
 * encoding (drv_encode) round-tripped through decoding in every order.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "drivers/drv.h"
#include "gateway/base/gw_types.h"
#include "t.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Parse a point from JSON text; returns the rc, errors into el. */
static char last_decimals[DRV_NAME_MAX];

static int parse(const char *json, drv_point_t *pt, gw_errlist_t *el)
{
    cJSON *o = cJSON_Parse(json);
    int rc;

    last_decimals[0] = '\0';
    rc = drv_point_parse(o, "points[0]", DRV_ORDER_ABCD, 0, pt, last_decimals, el);
    cJSON_Delete(o);
    return rc;
}

static int has_error(const gw_errlist_t *el, const char *needle)
{
    for (size_t i = 0; i < el->n; i++) {
        if (strstr(el->msgs[i], needle))
            return 1;
    }
    return 0;
}

T_TEST(string_in_byte_orders)
{
    drv_point_t p;
    gw_errlist_t el;
    char buf[32];
    /* "PUMP-7" padded with a space, then NUL */
    uint16_t abcd[4] = {0x5055, 0x4d50, 0x2d37, 0x2000};
    uint16_t badc[4] = {0x5550, 0x504d, 0x372d, 0x0020};
    double v;

    gw_errlist_init(&el);
    T_CHECK_EQ_INT(
        parse("{\"name\":\"model\",\"address\":10,\"type\":\"string\",\"length\":4}", &p, &el), 0);
    T_CHECK_EQ_INT(drv_point_width(&p), 4);
    T_CHECK_EQ_INT(drv_decode_string(&p, abcd, buf, sizeof(buf)), 6);
    T_CHECK_STR(buf, "PUMP-7");
    T_CHECK(drv_decode(&p, abcd, &v) == 0 && v == 6);
    p.order = DRV_ORDER_BADC;
    drv_decode_string(&p, badc, buf, sizeof(buf));
    T_CHECK_STR(buf, "PUMP-7");
    /* a short buffer truncates; control bytes show as '?' */
    p.order = DRV_ORDER_ABCD;
    T_CHECK_EQ_INT(drv_decode_string(&p, abcd, buf, 4), 3);
    T_CHECK_STR(buf, "PUM");
    uint16_t ctl[4] = {0x4101, 0x4200, 0, 0};
    drv_decode_string(&p, ctl, buf, sizeof(buf));
    T_CHECK_STR(buf, "A?B");
    /* length is required, and strings need registers */
    T_CHECK(parse("{\"name\":\"s\",\"address\":1,\"type\":\"string\"}", &p, &el) != 0);
    T_CHECK(has_error(&el, "points[0].length: is required"));
    gw_errlist_free(&el);
}

T_TEST(bit_fields_of_one_register)
{
    /* Notifier-style zone word: bit 11 fire, bit 13 trouble, low byte event */
    uint16_t zone = (1u << 11) | (1u << 10) | 0x23;
    drv_point_t fire, trouble, event;
    gw_errlist_t el;
    double v;

    gw_errlist_init(&el);
    T_CHECK_EQ_INT(
        parse("{\"name\":\"fire\",\"address\":0,\"type\":\"bool\",\"bit\":11}", &fire, &el), 0);
    T_CHECK_EQ_INT(
        parse("{\"name\":\"trouble\",\"address\":0,\"type\":\"bool\",\"bit\":13}", &trouble, &el),
        0);
    T_CHECK_EQ_INT(parse("{\"name\":\"event\",\"address\":0,\"bit\":0,\"bits\":8}", &event, &el),
                   0);
    T_CHECK(drv_decode(&fire, &zone, &v) == 0 && v == 1);
    T_CHECK(drv_decode(&trouble, &zone, &v) == 0 && v == 0);
    T_CHECK(drv_decode(&event, &zone, &v) == 0 && v == 0x23);
    /* a byte-swapping device: bit numbers follow the value, not the wire */
    uint16_t swapped = (uint16_t)((zone >> 8) | (zone << 8));
    fire.order = DRV_ORDER_BADC;
    T_CHECK(drv_decode(&fire, &swapped, &v) == 0 && v == 1);
    T_CHECK_EQ_INT(el.n, 0);

    T_CHECK(parse("{\"name\":\"x\",\"address\":0,\"bit\":12,\"bits\":8}", &event, &el) != 0);
    T_CHECK(has_error(&el, "points[0].bits: bits 12..19 run past bit 15"));
    T_CHECK(parse("{\"name\":\"x\",\"address\":0,\"type\":\"int32\",\"bit\":1}", &event, &el) != 0);
    T_CHECK(has_error(&el, "points[0].bit: a bit field needs"));
    T_CHECK(parse("{\"name\":\"x\",\"address\":0,\"type\":\"bool\",\"bit\":1,\"bits\":2}", &event,
                  &el) != 0);
    T_CHECK(parse("{\"name\":\"x\",\"address\":0,\"bit\":16}", &event, &el) != 0);
    gw_errlist_free(&el);
}

T_TEST(scale_from_decimals)
{
    drv_point_t p;
    gw_errlist_t el;
    uint16_t raw = (uint16_t)(int16_t)-1234;
    double v;

    gw_errlist_init(&el);
    T_CHECK_EQ_INT(parse("{\"name\":\"level\",\"address\":4,\"type\":\"int16\","
                         "\"decimals_point\":\"decimals\",\"offset\":1}",
                         &p, &el),
                   0);
    T_CHECK_STR(last_decimals, "decimals");
    T_CHECK_EQ_INT(p.decimals_idx, -1); /* resolved later, against the device */
    T_CHECK(drv_decode_scaled(&p, &raw, 0, &v) == 0 && v == -1233);
    T_CHECK(drv_decode_scaled(&p, &raw, 2, &v) == 0);
    T_CHECK_NEAR(v, -12.34 + 1, 1e-9);
    T_CHECK(drv_decode_scaled(&p, &raw, 3, &v) == 0);
    T_CHECK_NEAR(v, -1.234 + 1, 1e-9);
    T_CHECK_EQ_INT(drv_decode_scaled(&p, &raw, 10, &v), GW_EINVAL);
    T_CHECK_EQ_INT(drv_decode_scaled(&p, &raw, -1, &v), GW_EINVAL);
    gw_errlist_free(&el);
}

T_TEST(modicon_addresses)
{
    drv_table_t t;
    uint16_t a;
    drv_point_t p;
    gw_errlist_t el;

    T_CHECK(drv_parse_modicon("40001", &t, &a) == 0 && t == DRV_TABLE_HOLDING && a == 0);
    T_CHECK(drv_parse_modicon("40002", &t, &a) == 0 && t == DRV_TABLE_HOLDING && a == 1);
    T_CHECK(drv_parse_modicon("30010", &t, &a) == 0 && t == DRV_TABLE_INPUT && a == 9);
    T_CHECK(drv_parse_modicon("10001", &t, &a) == 0 && t == DRV_TABLE_DISCRETE && a == 0);
    T_CHECK(drv_parse_modicon("00033", &t, &a) == 0 && t == DRV_TABLE_COIL && a == 32);
    T_CHECK(drv_parse_modicon("465536", &t, &a) == 0 && t == DRV_TABLE_HOLDING && a == 65535);
    T_CHECK(drv_parse_modicon("349500", &t, &a) == 0 && t == DRV_TABLE_INPUT && a == 49499);
    T_CHECK(drv_parse_modicon("40000", &t, &a) == GW_EINVAL);
    T_CHECK(drv_parse_modicon("465537", &t, &a) == GW_EINVAL);
    T_CHECK(drv_parse_modicon("20001", &t, &a) == GW_EINVAL);
    T_CHECK(drv_parse_modicon("4001", &t, &a) == GW_EINVAL);
    T_CHECK(drv_parse_modicon("4x001", &t, &a) == GW_EINVAL);

    gw_errlist_init(&el);
    T_CHECK_EQ_INT(parse("{\"name\":\"status\",\"address\":\"40004\"}", &p, &el), 0);
    T_CHECK(p.table == DRV_TABLE_HOLDING && p.address == 3);
    T_CHECK_EQ_INT(parse("{\"name\":\"v\",\"address\":\"30001\",\"type\":\"float32\"}", &p, &el),
                   0);
    T_CHECK(p.table == DRV_TABLE_INPUT && p.address == 0);
    /* a coil named by notation is a bool without saying so */
    T_CHECK_EQ_INT(parse("{\"name\":\"run\",\"address\":\"00001\"}", &p, &el), 0);
    T_CHECK(p.table == DRV_TABLE_COIL && p.type == DRV_T_BOOL && p.address == 0);
    T_CHECK(parse("{\"name\":\"v\",\"address\":\"30001\",\"table\":\"holding\"}", &p, &el) != 0);
    T_CHECK(has_error(&el, "contradicts the address"));
    T_CHECK(parse("{\"name\":\"v\",\"address\":\"50001\"}", &p, &el) != 0);
    T_CHECK(has_error(&el, "points[0].address: \"50001\" is not a one-based"));
    gw_errlist_free(&el);
}

T_TEST(encode_round_trips_every_type_and_order)
{
    static const struct {
        drv_type_t type;
        double value;
    } cases[] = {
        {DRV_T_INT16, -1234},          {DRV_T_UINT16, 54321},
        {DRV_T_INT32, -123456789},     {DRV_T_UINT32, 3e9},
        {DRV_T_INT64, -1234567890123}, {DRV_T_UINT64, 12345678901234},
        {DRV_T_FLOAT32, -1234.5},      {DRV_T_FLOAT64, 3.141592653589793},
    };
    char err[200];

    for (size_t c = 0; c < GW_ARRAY_SIZE(cases); c++) {
        for (int o = 0; o < 4; o++) {
            drv_point_t p;
            uint16_t w[4];
            double v = 0;
            memset(&p, 0, sizeof(p));
            p.type = cases[c].type;
            p.order = (drv_order_t)o;
            p.scale = 0.5;
            p.offset = 10;
            p.decimals_idx = -1;
            /* engineering value -> raw (value - 10) / 0.5 -> registers -> back */
            double eng = cases[c].value * 0.5 + 10;
            T_CHECK_EQ_INT(drv_encode(&p, eng, w, err, sizeof(err)), 0);
            T_CHECK_EQ_INT(drv_decode(&p, w, &v), 0);
            T_CHECK_NEAR(v, eng, fabs(eng) * 1e-12);
        }
    }
    /* ranges, and what cannot be written */
    drv_point_t p;
    uint16_t w[4];
    memset(&p, 0, sizeof(p));
    p.type = DRV_T_UINT16;
    p.scale = 1;
    p.decimals_idx = -1;
    T_CHECK_EQ_INT(drv_encode(&p, 65536, w, err, sizeof(err)), GW_EINVAL);
    T_CHECK(strstr(err, "out of range") != NULL);
    T_CHECK_EQ_INT(drv_encode(&p, -1, w, err, sizeof(err)), GW_EINVAL);
    T_CHECK_EQ_INT(drv_encode(&p, NAN, w, err, sizeof(err)), GW_EINVAL);
    T_CHECK_EQ_INT(drv_encode(&p, 65535.4, w, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(w[0], 65535);
    p.bits = 1;
    T_CHECK_EQ_INT(drv_encode(&p, 1, w, err, sizeof(err)), GW_EINVAL);
    T_CHECK(strstr(err, "bit field") != NULL);
    p.bits = 0;
    p.decimals_idx = 2;
    T_CHECK_EQ_INT(drv_encode(&p, 1, w, err, sizeof(err)), GW_EINVAL);
    p.decimals_idx = -1;
    p.type = DRV_T_BOOL;
    T_CHECK(drv_encode(&p, 5, w, err, sizeof(err)) == 0 && w[0] == 1);
}

int main(void)
{
    T_RUN(string_in_byte_orders);
    T_RUN(bit_fields_of_one_register);
    T_RUN(scale_from_decimals);
    T_RUN(modicon_addresses);
    T_RUN(encode_round_trips_every_type_and_order);
    return t_done();
}
