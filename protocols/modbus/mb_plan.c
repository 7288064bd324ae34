/*
 * mb_plan.c: request planning: merge the spans a device's points need into
 * the fewest Modbus requests (mb.h). Computed once per config load.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb.h"
#include "gateway/base/gw_types.h"

#include <stdlib.h>

typedef struct {
    mb_span_t s;
    size_t idx;
} plan__item_t;

static int plan__cmp(const void *a, const void *b)
{
    const plan__item_t *x = a, *y = b;
    if (x->s.table != y->s.table)
        return x->s.table < y->s.table ? -1 : 1;
    if (x->s.addr != y->s.addr)
        return x->s.addr < y->s.addr ? -1 : 1;
    return x->s.count < y->s.count ? 1 : (x->s.count > y->s.count ? -1 : 0);
}

static unsigned plan__limit(uint8_t table)
{
    return table <= MB_TABLE_DISCRETE ? MB_MAX_BITS_PER_READ : MB_MAX_REGS_PER_READ;
}

int mb_plan(const mb_span_t *spans, size_t n, unsigned max_gap, mb_block_t **blocks,
            size_t *nblocks, size_t *nwords, uint32_t *span_offsets)
{
    plan__item_t *items;
    mb_block_t *out;
    size_t nb = 0, words = 0;

    *blocks = NULL;
    *nblocks = *nwords = 0;
    if (n == 0)
        return 0;
    items = malloc(n * sizeof(*items));
    out = malloc(n * sizeof(*out));
    if (!items || !out) {
        free(items);
        free(out);
        return GW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (spans[i].count == 0 || spans[i].count > plan__limit(spans[i].table) ||
            (unsigned)spans[i].addr + spans[i].count > 65536) {
            free(items);
            free(out);
            return GW_EINVAL;
        }
        items[i].s = spans[i];
        items[i].idx = i;
    }
    qsort(items, n, sizeof(*items), plan__cmp);
    for (size_t i = 0; i < n; i++) {
        const mb_span_t *s = &items[i].s;
        mb_block_t *cur = nb ? &out[nb - 1] : NULL;
        unsigned end = s->addr + s->count;
        if (cur && cur->table == s->table &&
            s->addr <= (unsigned)cur->addr + cur->count + max_gap) {
            unsigned cur_end = (unsigned)cur->addr + cur->count;
            unsigned new_end = end > cur_end ? end : cur_end;
            if (new_end - cur->addr <= plan__limit(s->table)) {
                words += new_end - cur_end;
                cur->count = (uint16_t)(new_end - cur->addr);
                span_offsets[items[i].idx] = cur->offset + (uint32_t)(s->addr - cur->addr);
                continue;
            }
        }
        out[nb].table = s->table;
        out[nb].addr = s->addr;
        out[nb].count = s->count;
        out[nb].offset = (uint32_t)words;
        span_offsets[items[i].idx] = (uint32_t)words;
        words += s->count;
        nb++;
    }
    free(items);
    *blocks = out;
    *nblocks = nb;
    *nwords = words;
    return 0;
}
