/*
 * mb_rpool.c: the readings a bus hands to the loop, reused (mb_int.h;
 * docs/performance.md, "Anonymous memory with MQTT").
 *
 * A poll's reading goes to the loop, which frees it after applying it
 * (gw_msg_free). Instead of a calloc per poll and a free on the loop, the
 * bus keeps its readings: free_fn puts a reading back on the pool's
 * returned stack (a CAS push, any thread), and the bus thread takes that
 * whole stack when its own free list is empty (one exchange: no ABA, as
 * only the bus thread takes). A new reading is allocated only when every
 * one is out, i.e. until the pool holds about one cycle's worth. The pool
 * lives as long as the bus or its last reading out, whichever is later
 * (refs: the bus, plus one per reading out).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb_int.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

typedef struct mb__slot {
    struct mb__slot *next;
    mb__rpool_t *pool;
    alignas(max_align_t) unsigned char reading[]; /* an mb_reading_t of pool->bytes */
} mb__slot_t;

struct mb__rpool {
    _Atomic(mb__slot_t *) returned; /* put back by free_fn, taken by the bus thread */
    mb__slot_t *free;               /* the bus thread's */
    atomic_size_t refs;
    size_t bytes;
};

static mb__slot_t *mb__slot_of(gw_msg_t *m)
{
    return (mb__slot_t *)((unsigned char *)m - offsetof(mb__slot_t, reading));
}

static void mb__rpool_destroy(mb__rpool_t *p)
{
    mb__slot_t *s = atomic_exchange(&p->returned, NULL), *next;

    for (; s; s = next) {
        next = s->next;
        free(s);
    }
    for (s = p->free; s; s = next) {
        next = s->next;
        free(s);
    }
    free(p);
}

static void mb__rpool_unref(mb__rpool_t *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        mb__rpool_destroy(p);
}

/* free_fn of a reading from the pool: back on the returned stack. */
static void mb__reading_put(gw_msg_t *m)
{
    mb__slot_t *s = mb__slot_of(m);
    mb__rpool_t *p = s->pool;

    s->next = atomic_load(&p->returned);
    while (!atomic_compare_exchange_weak(&p->returned, &s->next, s))
        ;
    mb__rpool_unref(p);
}

size_t mb__reading_bytes(const mb_device_cfg_t *d)
{
    return sizeof(mb_reading_t) + (d->nwords + d->nblocks) * sizeof(uint16_t);
}

mb__rpool_t *mb__rpool_new(size_t bytes)
{
    mb__rpool_t *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    atomic_init(&p->returned, NULL);
    atomic_init(&p->refs, 1);
    p->bytes = bytes < sizeof(mb_reading_t) ? sizeof(mb_reading_t) : bytes;
    return p;
}

void mb__rpool_release(mb__rpool_t *p)
{
    if (p)
        mb__rpool_unref(p);
}

mb_reading_t *mb__rpool_get(mb__rpool_t *p, size_t bytes)
{
    mb__slot_t *s;
    mb_reading_t *r;

    if (bytes > p->bytes)
        return NULL;
    if (!p->free)
        p->free = atomic_exchange(&p->returned, NULL);
    if (p->free) {
        s = p->free;
        p->free = s->next;
    } else if (!(s = malloc(sizeof(*s) + p->bytes))) {
        return NULL;
    }
    s->next = NULL;
    s->pool = p;
    atomic_fetch_add(&p->refs, 1);
    r = (mb_reading_t *)s->reading;
    memset(r, 0, bytes);
    r->hdr.free_fn = mb__reading_put;
    return r;
}
