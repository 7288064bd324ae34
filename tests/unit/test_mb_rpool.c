/*
 * test_mb_rpool.c: a bus's readings are reused (protocols/modbus/mb_rpool.c):
 * a reading freed by the consumer comes back zeroed, a bus cycle after
 * the first allocates nothing while two consumer threads free readings
 * concurrently, and the pool outlives its bus until the last reading out
 * is freed (ASan's leak check and use-after-free checks hold that).
 * Allocations are counted by wrapping malloc and calloc at link time.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_queue.h"
#include "protocols/modbus/mb_int.h"
#include "t.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long t_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);

void *__wrap_malloc(size_t n)
{
    atomic_fetch_add(&t_allocs, 1);
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t k)
{
    atomic_fetch_add(&t_allocs, 1);
    return __real_calloc(n, k);
}

static size_t bytes_of(size_t nwords, size_t nblocks)
{
    mb_device_cfg_t d = {.nwords = nwords, .nblocks = nblocks};
    return mb__reading_bytes(&d);
}

T_TEST(reused_and_zeroed)
{
    size_t n = bytes_of(100, 1);
    mb__rpool_t *p = mb__rpool_new(n);
    mb_reading_t *r1, *r2;
    long a0;

    T_CHECK(p != NULL);
    r1 = mb__rpool_get(p, n);
    T_CHECK(r1 != NULL);
    r1->rc = -5;
    snprintf(r1->err, sizeof(r1->err), "timed out");
    r1->words[99] = 7;
    gw_msg_free(&r1->hdr); /* the loop is done with it */
    a0 = atomic_load(&t_allocs);
    r2 = mb__rpool_get(p, n);
    T_CHECK(r2 == r1); /* the same reading back, not a new one */
    T_CHECK_EQ_INT(atomic_load(&t_allocs), a0);
    T_CHECK_EQ_INT(r2->rc, 0);
    T_CHECK_EQ_INT(r2->err[0], 0);
    T_CHECK_EQ_INT(r2->words[99], 0);
    T_CHECK(r2->hdr.free_fn != NULL);
    T_CHECK(mb__rpool_get(p, n + 1) == NULL); /* larger than the pool's readings */
    /* the bus goes first; its last reading out frees the pool */
    mb__rpool_release(p);
    gw_msg_free(&r2->hdr);
}

typedef struct consumer {
    gw_queue_t *q;
    atomic_long *freed;
    atomic_int *stop;
} consumer_t;

static void *consume(void *arg)
{
    consumer_t *c = arg;

    while (!atomic_load(c->stop)) {
        gw_msg_t *m = gw_queue_wait_all(c->q, 20), *next;
        for (; m; m = next) {
            next = m->next;
            gw_msg_free(m);
            atomic_fetch_add(c->freed, 1);
        }
    }
    return NULL;
}

T_TEST(steady_cycles_allocate_nothing)
{
    enum { DEVICES = 100, CYCLES = 300 };
    size_t n = bytes_of(125, 1);
    mb__rpool_t *p = mb__rpool_new(n);
    gw_queue_t q;
    atomic_long freed = 0;
    atomic_int stop = 0;
    consumer_t c = {&q, &freed, &stop};
    pthread_t th[2];
    long after_first = 0;

    T_CHECK(p != NULL);
    T_CHECK_EQ_INT(gw_queue_init(&q, NULL, NULL), 0);
    for (int i = 0; i < 2; i++)
        T_CHECK_EQ_INT(pthread_create(&th[i], NULL, consume, &c), 0);
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        gw_msg_t *head = NULL, *tail = NULL;
        for (int d = 0; d < DEVICES; d++) {
            mb_reading_t *r = mb__rpool_get(p, n);
            T_CHECK(r != NULL);
            r->device_id = d;
            r->words[124] = (uint16_t)cycle;
            r->hdr.next = NULL;
            if (tail)
                tail->next = &r->hdr;
            else
                head = &r->hdr;
            tail = &r->hdr;
        }
        gw_queue_push_list(&q, head, tail, DEVICES);
        /* the next cycle starts when this one is applied, as a bus's does
         * a poll interval later; half the cycles do not wait, so that
         * gets and frees overlap */
        if (cycle % 2 == 0)
            while (atomic_load(&freed) < (long)(cycle + 1) * DEVICES)
                sched_yield();
        if (cycle == 1)
            after_first = atomic_load(&t_allocs);
    }
    while (atomic_load(&freed) < (long)CYCLES * DEVICES)
        sched_yield();
    /* after two cycles, at most one more cycle's worth (a cycle that did
     * not wait), never one allocation per reading */
    T_CHECK(atomic_load(&t_allocs) - after_first <= DEVICES);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    gw_queue_destroy(&q);
    mb__rpool_release(p);
}

int main(void)
{
    T_RUN(reused_and_zeroed);
    T_RUN(steady_cycles_allocate_nothing);
    return t_done();
}
