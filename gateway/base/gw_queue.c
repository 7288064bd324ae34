/*
 * gw_queue.c: mutex-guarded FIFO with a wake-up hook (see gw_queue.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_queue.h"
#include "gateway/base/gw_types.h"
#include "gateway/base/gw_clock.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

int gw_queue_init(gw_queue_t *q, gw_queue_notify_fn notify, void *notify_arg)
{
    pthread_condattr_t ca;

    q->head = q->tail = NULL;
    q->depth = 0;
    q->notify = notify;
    q->notify_arg = notify_arg;
    if (pthread_mutex_init(&q->mu, NULL) != 0)
        return GW_ENOMEM;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&q->cond, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&q->mu);
        return GW_ENOMEM;
    }
    pthread_condattr_destroy(&ca);
    return 0;
}

void gw_queue_destroy(gw_queue_t *q)
{
    gw_msg_free_list(gw_queue_take_all(q));
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
}

void gw_queue_push(gw_queue_t *q, gw_msg_t *msg)
{
    msg->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = msg;
    else
        q->head = msg;
    q->tail = msg;
    q->depth++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->mu);
    if (q->notify)
        q->notify(q->notify_arg);
}

void gw_queue_push_list(gw_queue_t *q, gw_msg_t *head, gw_msg_t *tail, size_t n)
{
    if (!head)
        return;
    tail->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = head;
    else
        q->head = head;
    q->tail = tail;
    q->depth += n;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->mu);
    if (q->notify)
        q->notify(q->notify_arg);
}

static gw_msg_t *queue__detach(gw_queue_t *q)
{
    gw_msg_t *list = q->head;
    q->head = q->tail = NULL;
    q->depth = 0;
    return list;
}

gw_msg_t *gw_queue_take_all(gw_queue_t *q)
{
    gw_msg_t *list;

    pthread_mutex_lock(&q->mu);
    list = queue__detach(q);
    pthread_mutex_unlock(&q->mu);
    return list;
}

gw_msg_t *gw_queue_wait_all(gw_queue_t *q, int timeout_ms)
{
    gw_msg_t *list;
    struct timespec deadline;

    deadline = gw_mono_deadline(timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&q->mu);
    while (!q->head && timeout_ms != 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&q->cond, &q->mu)
                                : pthread_cond_timedwait(&q->cond, &q->mu, &deadline);
        if (rc == ETIMEDOUT)
            break;
    }
    list = queue__detach(q);
    pthread_mutex_unlock(&q->mu);
    return list;
}

size_t gw_queue_depth(gw_queue_t *q)
{
    size_t d;
    pthread_mutex_lock(&q->mu);
    d = q->depth;
    pthread_mutex_unlock(&q->mu);
    return d;
}

void gw_msg_free(gw_msg_t *msg)
{
    if (!msg)
        return;
    if (msg->free_fn)
        msg->free_fn(msg);
    else
        free(msg);
}

void gw_msg_free_list(gw_msg_t *list)
{
    while (list) {
        gw_msg_t *next = list->next;
        gw_msg_free(list);
        list = next;
    }
}
