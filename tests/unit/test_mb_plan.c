/*
 * test_mb_plan.c: request planning merges spans into the fewest requests,
 * bridges small gaps, never crosses tables or the per-request limits.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_types.h"
#include "protocols/modbus/mb.h"
#include "t.h"

#include <stdlib.h>

T_TEST(sparse_map)
{
    /* An SDM630-like sparse map: 0..11 contiguous floats, 52, 70-73, 342. */
    mb_span_t s[] = {
        {MB_TABLE_INPUT, 0, 2},   {MB_TABLE_INPUT, 2, 2},   {MB_TABLE_INPUT, 4, 2},
        {MB_TABLE_INPUT, 6, 2},   {MB_TABLE_INPUT, 8, 2},   {MB_TABLE_INPUT, 10, 2},
        {MB_TABLE_INPUT, 52, 2},  {MB_TABLE_INPUT, 70, 2},  {MB_TABLE_INPUT, 72, 2},
        {MB_TABLE_INPUT, 342, 2}, {MB_TABLE_HOLDING, 0, 1}, {MB_TABLE_HOLDING, 3, 1},
    };
    uint32_t off[GW_ARRAY_SIZE(s)];
    mb_block_t *b;
    size_t nb, nw;
    T_CHECK_EQ_INT(mb_plan(s, GW_ARRAY_SIZE(s), 8, &b, &nb, &nw, off), 0);
    /* holding 0..3 (gap 2 bridged); input 0..11; 52..53; 70..73; 342..343 */
    T_CHECK_EQ_INT(nb, 5);
    T_CHECK_EQ_INT(b[0].table, MB_TABLE_HOLDING);
    T_CHECK_EQ_INT(b[0].addr, 0);
    T_CHECK_EQ_INT(b[0].count, 4);
    T_CHECK_EQ_INT(b[1].addr, 0);
    T_CHECK_EQ_INT(b[1].count, 12);
    T_CHECK_EQ_INT(b[2].addr, 52);
    T_CHECK_EQ_INT(b[3].addr, 70);
    T_CHECK_EQ_INT(b[3].count, 4);
    T_CHECK_EQ_INT(b[4].addr, 342);
    T_CHECK_EQ_INT(nw, 4 + 12 + 2 + 4 + 2);
    /* every span's words land where its block put them */
    for (size_t i = 0; i < GW_ARRAY_SIZE(s); i++) {
        int found = 0;
        for (size_t j = 0; j < nb; j++) {
            if (b[j].table == s[i].table && s[i].addr >= b[j].addr &&
                s[i].addr + s[i].count <= b[j].addr + b[j].count)
                found = off[i] == b[j].offset + (uint32_t)(s[i].addr - b[j].addr);
        }
        T_CHECK(found);
    }
    free(b);
    /* with a gap of 20, 52 and 70 join; with 0, the holding gap does not */
    T_CHECK_EQ_INT(mb_plan(s, GW_ARRAY_SIZE(s), 20, &b, &nb, &nw, off), 0);
    T_CHECK_EQ_INT(nb, 4);
    free(b);
    T_CHECK_EQ_INT(mb_plan(s, GW_ARRAY_SIZE(s), 0, &b, &nb, &nw, off), 0);
    T_CHECK_EQ_INT(nb, 6);
    free(b);
}

T_TEST(limits_split_requests)
{
    mb_span_t s[300];
    uint32_t off[300];
    mb_block_t *b;
    size_t nb, nw;
    for (int i = 0; i < 300; i++) {
        s[i].table = MB_TABLE_HOLDING;
        s[i].addr = (uint16_t)i;
        s[i].count = 1;
    }
    T_CHECK_EQ_INT(mb_plan(s, 300, 8, &b, &nb, &nw, off), 0);
    T_CHECK_EQ_INT(nb, 3); /* 125 + 125 + 50 */
    for (size_t i = 0; i < nb; i++)
        T_CHECK(b[i].count <= MB_MAX_REGS_PER_READ);
    T_CHECK_EQ_INT(nw, 300);
    free(b);
    for (int i = 0; i < 300; i++) {
        s[i].table = MB_TABLE_COIL;
        s[i].addr = (uint16_t)(i * 10);
    }
    T_CHECK_EQ_INT(mb_plan(s, 300, 9, &b, &nb, &nw, off), 0);
    T_CHECK_EQ_INT(nb, 2); /* 2991 bits in all: 2000 + the rest */
    T_CHECK(b[0].count <= MB_MAX_BITS_PER_READ);
    free(b);
}

T_TEST(bad_spans)
{
    mb_span_t s[1] = {{MB_TABLE_HOLDING, 65535, 2}};
    uint32_t off[1];
    mb_block_t *b;
    size_t nb, nw;
    T_CHECK_EQ_INT(mb_plan(s, 1, 0, &b, &nb, &nw, off), GW_EINVAL);
    s[0].addr = 0;
    s[0].count = 126;
    T_CHECK_EQ_INT(mb_plan(s, 1, 0, &b, &nb, &nw, off), GW_EINVAL);
}

int main(void)
{
    T_RUN(sparse_map);
    T_RUN(limits_split_requests);
    T_RUN(bad_spans);
    return t_done();
}
