/*
 * gw_queue.h: the hand-off between threads.
 *
 * A mutex-guarded FIFO of messages plus a notify callback. Producers (bus
 * threads, paho's callback threads, the ledger thread) push; the consumer
 * takes the whole list at once. The daemon sets notify to uv_async_send on
 * its loop, so wake-ups coalesce and the loop drains the queue whole in one
 * callback (docs/architecture.md, "Threads"). The ledger thread uses the
 * same queue with a condition variable instead.
 *
 * A message is any struct whose first member is a gw_msg_t; the producer
 * allocates it with malloc and the consumer frees it (gw_msg_free).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_QUEUE_H
#define PLANTROOM_GW_QUEUE_H

#include <pthread.h>
#include <stddef.h>

typedef struct gw_msg {
    struct gw_msg *next;
    int kind;                         /* one of the producer's message kinds */
    void (*free_fn)(struct gw_msg *); /* NULL: plain free() */
} gw_msg_t;

typedef void (*gw_queue_notify_fn)(void *arg);

typedef struct gw_queue {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* signalled on push, for consumers that wait */
    gw_msg_t *head;
    gw_msg_t *tail;
    size_t depth;
    gw_queue_notify_fn notify; /* called after each push, outside the lock */
    void *notify_arg;
} gw_queue_t;

/* Initialise an empty queue; notify may be NULL. Returns 0 or GW_ENOMEM. */
int gw_queue_init(gw_queue_t *q, gw_queue_notify_fn notify, void *notify_arg);
/* Free every message still queued, then the queue's lock. */
void gw_queue_destroy(gw_queue_t *q);
/* Append msg; the queue owns it until taken. Thread-safe. */
void gw_queue_push(gw_queue_t *q, gw_msg_t *msg);
/* Append a list linked by ->next (head .. tail, n messages) under one lock
 * and with one notify: the consumer wakes once for all of them. */
void gw_queue_push_list(gw_queue_t *q, gw_msg_t *head, gw_msg_t *tail, size_t n);
/* Take every queued message, oldest first, as a list linked by ->next; the
 * caller owns them. Returns NULL when empty. Thread-safe. */
gw_msg_t *gw_queue_take_all(gw_queue_t *q);
/* As gw_queue_take_all, but wait up to timeout_ms (-1: forever) for one. */
gw_msg_t *gw_queue_wait_all(gw_queue_t *q, int timeout_ms);
/* Number of messages queued now (a snapshot). */
size_t gw_queue_depth(gw_queue_t *q);
/* Free one message through its free_fn. */
void gw_msg_free(gw_msg_t *msg);
/* Free a whole list as returned by gw_queue_take_all. */
void gw_msg_free_list(gw_msg_t *list);

#endif
