/*
 * mq_int.h: the client's state, shared by the files of protocols/mqtt/
 * (private): mq_client.c (create, connect, disconnect, destroy, the
 * connection's callbacks) and mq_publish.c (publish and subscribe, their
 * context records and the count of what paho holds, mq.h "The queue").
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_MQ_INT_H
#define PLANTROOM_MQ_INT_H

#include "protocols/mqtt/mq.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdatomic.h>

/* The context of one publish or subscribe handed to paho: linked on the
 * client's pending list until paho calls back (or destroy frees it). */
typedef struct mq__ctx {
    struct mq__ctx *prev, *next;
    mq_client_t *c;
    uint64_t tag;
    size_t bytes; /* a publish's payload and topic; 0 for a subscribe */
    uint32_t gen; /* the connection it was counted in */
    int counted;  /* a publish: in the queue's count */
} mq__ctx_t;

struct mq_client {
    MQTTAsync h;
    gw_queue_t *events;
    char *uri, *client_id, *username, *password, *will_topic, *will_payload;
    char *ca_file, *cert_file, *key_file;
    int keepalive_s, connect_timeout_s, will_retain, version, tls, tls_verify;
    atomic_int connected;
    atomic_int closing; /* mq_close_async: only publish outcomes are posted */

    pthread_mutex_t mu; /* guards pending, spare, gen and the disconnect wait */
    pthread_cond_t cond;
    mq__ctx_t pending; /* list head of outstanding contexts */
    mq__ctx_t *spare;  /* contexts kept for reuse (singly linked by next) */
    size_t nspare;
    int disconnect_done;

    /* what paho holds of this connection's publishes (mq_queued) */
    uint32_t gen; /* connection generation: a connect starts the count again */
    atomic_size_t q_msgs, q_bytes;
    atomic_size_t room_mark; /* mq_room_arm: MQ_EV_ROOM once q_bytes <= this */
    atomic_int room_armed;
};

/* Post an MQ_EV_* event (mq_event_t) to the loop; while closing, only
 * publish outcomes (mq_publish.c, like the two below). */
void mq__post(mq_client_t *c, int kind, uint64_t tag, int rc, const char *err);
/* A connect succeeded: the queue's count starts again (mq_publish.c). */
void mq__queue_reset(mq_client_t *c);
/* Free every context paho never called back, and the spare ones (destroy,
 * after MQTTAsync_destroy). */
void mq__ctx_free_all(mq_client_t *c);

#endif
