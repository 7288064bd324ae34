/*
 * mq_publish.c: publish and subscribe (mq.h), and the count of what paho
 * holds. Every publish and subscribe handed to paho carries a context
 * record (the caller's tag, the message's size, the connection it was
 * counted in), linked on the client's pending list until paho calls back
 * and freed by destroy if paho never does. A publish's context is counted
 * in the queue (messages and bytes) from MQTTAsync_sendMessage until paho
 * reports it done: for QoS 0 after the write (onSuccess) or its failure,
 * for QoS 1 at the PUBACK or its failure, and at destroy (paho fails the
 * commands it still holds). A connect starts the count again (a new
 * generation): commands of an earlier connection that paho still holds no
 * longer count, so that a lost callback cannot hold the count up for good.
 * Contexts are reused (a free list), so a publish allocates nothing here.
 * Design: docs/mqtt.md, "The client's queue".
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_types.h"
#include "protocols/mqtt/mq_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MQ_SPARE_MAX 512 /* contexts kept for reuse */

/* ---- events and contexts ---------------------------------------------------- */

void mq__post(mq_client_t *c, int kind, uint64_t tag, int rc, const char *err)
{
    mq_event_t *ev;

    if (atomic_load(&c->closing) && kind != MQ_EV_DELIVERED && kind != MQ_EV_PUBLISH_FAILED)
        return;
    ev = calloc(1, sizeof(*ev));
    if (!ev)
        return;
    ev->hdr.kind = kind;
    ev->tag = tag;
    ev->rc = rc;
    snprintf(ev->err, sizeof(ev->err), "%s", err ? err : "");
    gw_queue_push(c->events, &ev->hdr);
}

/* A context linked on c's pending list (counted when bytes is a publish's). */
static mq__ctx_t *mq__ctx_new(mq_client_t *c, uint64_t tag, size_t bytes, int counted)
{
    mq__ctx_t *p;

    pthread_mutex_lock(&c->mu);
    p = c->spare;
    if (p) {
        c->spare = p->next;
        c->nspare--;
    } else {
        /* none to reuse: allocate outside the lock (paho's threads take it) */
        pthread_mutex_unlock(&c->mu);
        if (!(p = malloc(sizeof(*p))))
            return NULL;
        pthread_mutex_lock(&c->mu);
    }
    memset(p, 0, sizeof(*p));
    p->c = c;
    p->tag = tag;
    p->bytes = bytes;
    p->counted = counted;
    p->gen = c->gen;
    p->next = c->pending.next;
    p->prev = &c->pending;
    c->pending.next->prev = p;
    c->pending.next = p;
    if (counted) {
        atomic_fetch_add(&c->q_msgs, 1);
        atomic_fetch_add(&c->q_bytes, bytes);
    }
    pthread_mutex_unlock(&c->mu);
    return p;
}

/* Unlink p, take it off the count (if of this connection) and keep or free
 * it. Posts MQ_EV_ROOM when the count fell to the armed mark. */
static void mq__ctx_done(mq__ctx_t *p)
{
    mq_client_t *c = p->c;
    int room = 0;

    pthread_mutex_lock(&c->mu);
    p->prev->next = p->next;
    p->next->prev = p->prev;
    if (p->counted && p->gen == c->gen) {
        size_t left = atomic_fetch_sub(&c->q_bytes, p->bytes) - p->bytes;
        atomic_fetch_sub(&c->q_msgs, 1);
        room = atomic_load(&c->room_armed) && left <= atomic_load(&c->room_mark) &&
               atomic_exchange(&c->room_armed, 0);
    }
    if (c->nspare < MQ_SPARE_MAX) {
        p->next = c->spare;
        c->spare = p;
        c->nspare++;
        p = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    free(p);
    if (room)
        mq__post(c, MQ_EV_ROOM, 0, 0, NULL);
}

void mq__queue_reset(mq_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->gen++;
    atomic_store(&c->q_msgs, 0);
    atomic_store(&c->q_bytes, 0);
    atomic_store(&c->room_armed, 0); /* the connect itself is the news */
    pthread_mutex_unlock(&c->mu);
}

void mq__ctx_free_all(mq_client_t *c)
{
    while (c->pending.next != &c->pending) {
        mq__ctx_t *p = c->pending.next;
        p->prev->next = p->next;
        p->next->prev = p->prev;
        free(p);
    }
    while (c->spare) {
        mq__ctx_t *p = c->spare;
        c->spare = p->next;
        free(p);
    }
    c->nspare = 0;
}

void mq_queued(mq_client_t *c, mq_queue_t *out)
{
    out->messages = atomic_load(&c->q_msgs);
    out->bytes = atomic_load(&c->q_bytes);
}

int mq_room_arm(mq_client_t *c, size_t mark)
{
    atomic_store(&c->room_mark, mark);
    atomic_store(&c->room_armed, 1);
    /* a completion between the caller's look and the arming: look again */
    if (atomic_load(&c->q_bytes) <= mark && atomic_exchange(&c->room_armed, 0))
        return 1;
    return 0;
}

/* The response options of a command with context p and its callbacks for
 * the client's MQTT version. */
static void mq__response(const mq_client_t *c, MQTTAsync_responseOptions *ro, mq__ctx_t *p,
                         MQTTAsync_onSuccess *ok, MQTTAsync_onFailure *fail,
                         MQTTAsync_onSuccess5 *ok5, MQTTAsync_onFailure5 *fail5)
{
    if (c->version == MQTTVERSION_5) {
        ro->onSuccess5 = ok5;
        ro->onFailure5 = fail5;
    } else {
        ro->onSuccess = ok;
        ro->onFailure = fail;
    }
    ro->context = p;
}

/* ---- publish --------------------------------------------------------------- */

/* A publish's outcome: to the loop when it has a tag; the context is done. */
static void mq__pub_done(mq__ctx_t *p, int ok, int rc, const char *err)
{
    mq_client_t *c = p->c;
    uint64_t tag = p->tag;

    mq__ctx_done(p);
    if (tag)
        mq__post(c, ok ? MQ_EV_DELIVERED : MQ_EV_PUBLISH_FAILED, tag, rc, ok ? NULL : err);
}

static void mq__on_publish_ok(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    mq__pub_done(ctx, 1, 0, NULL);
}

static void mq__on_publish_failure(void *ctx, MQTTAsync_failureData *resp)
{
    char err[160];

    snprintf(err, sizeof(err), "%s",
             resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1));
    mq__pub_done(ctx, 0, resp ? resp->code : -1, err);
}

static void mq__on_publish_ok5(void *ctx, MQTTAsync_successData5 *resp)
{
    (void)resp;
    mq__pub_done(ctx, 1, 0, NULL);
}

static void mq__on_publish_failure5(void *ctx, MQTTAsync_failureData5 *resp)
{
    char err[160];

    snprintf(err, sizeof(err), "%s (reason %s)",
             resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1),
             resp ? MQTTReasonCode_toString(resp->reasonCode) : "-");
    mq__pub_done(ctx, 0, resp ? resp->code : -1, err);
}

int mq_publish(mq_client_t *c, const char *topic, const void *payload, size_t len, int qos,
               int retain, uint64_t tag, char *err, size_t errlen)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTAsync_message m = MQTTAsync_message_initializer;
    mq__ctx_t *p;
    int rc;

    if (!atomic_load(&c->connected)) {
        snprintf(err, errlen, "not connected");
        return GW_ESTATE;
    }
    if (len > (size_t)INT32_MAX) {
        snprintf(err, errlen, "publish to %s: payload of %zu bytes too long", topic, len);
        return GW_EINVAL;
    }
    m.payload = (void *)payload;
    m.payloadlen = (int)len;
    m.qos = qos;
    m.retained = retain;
    p = mq__ctx_new(c, tag, len + strlen(topic), 1);
    if (!p) {
        snprintf(err, errlen, "mqtt: out of memory");
        return GW_ENOMEM;
    }
    mq__response(c, &ro, p, mq__on_publish_ok, mq__on_publish_failure, mq__on_publish_ok5,
                 mq__on_publish_failure5);
    rc = MQTTAsync_sendMessage(c->h, topic, &m, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "publish to %s: %s", topic, MQTTAsync_strerror(rc));
        mq__ctx_done(p);
        return GW_EIO;
    }
    return 0;
}

/* ---- subscribe ------------------------------------------------------------- */

/* A subscription's outcome to the loop; the context is done. */
static void mq__sub_done(mq__ctx_t *p, int ok, int rc, const char *err)
{
    mq_client_t *c = p->c;
    uint64_t tag = p->tag;

    mq__ctx_done(p);
    mq__post(c, ok ? MQ_EV_SUBSCRIBED : MQ_EV_SUBSCRIBE_FAILED, tag, rc, ok ? NULL : err);
}

/* A SUBACK: MQTT 3.1.1 grants a QoS or answers 0x80 (refused); paho may
 * report the refusal as a success carrying 0x80, or as a failure. */
static void mq__on_subscribe_ok(void *ctx, MQTTAsync_successData *resp)
{
    int qos = resp ? resp->alt.qos : 0;
    mq__sub_done(ctx, qos >= 0 && qos <= 2, qos, "refused by the broker (SUBACK 0x80)");
}

static void mq__on_subscribe_failure(void *ctx, MQTTAsync_failureData *resp)
{
    int code = resp ? resp->code : -1;
    mq__sub_done(ctx, 0, code,
                 code == MQTT_BAD_SUBSCRIBE ? "refused by the broker (SUBACK 0x80)"
                 : resp && resp->message    ? resp->message
                                            : MQTTAsync_strerror(code));
}

/* MQTT 5: a reason code of 0x80 or more is a refusal (0x87: not authorised). */
static void mq__on_subscribe_ok5(void *ctx, MQTTAsync_successData5 *resp)
{
    int rc = resp ? (int)resp->reasonCode : 0;
    char err[160];

    snprintf(err, sizeof(err), "refused by the broker (reason %s)",
             MQTTReasonCode_toString((enum MQTTReasonCodes)rc));
    mq__sub_done(ctx, rc < 0x80, rc, err);
}

static void mq__on_subscribe_failure5(void *ctx, MQTTAsync_failureData5 *resp)
{
    char err[160];

    snprintf(err, sizeof(err), "%s (reason %s)",
             resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1),
             resp ? MQTTReasonCode_toString(resp->reasonCode) : "-");
    mq__sub_done(ctx, 0, resp ? resp->code : -1, err);
}

int mq_subscribe(mq_client_t *c, const char *topic, int qos, uint64_t tag, char *err, size_t errlen)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    mq__ctx_t *p = mq__ctx_new(c, tag, 0, 0);
    int rc;

    if (!p) {
        snprintf(err, errlen, "mqtt: out of memory");
        return GW_ENOMEM;
    }
    mq__response(c, &ro, p, mq__on_subscribe_ok, mq__on_subscribe_failure, mq__on_subscribe_ok5,
                 mq__on_subscribe_failure5);
    rc = MQTTAsync_subscribe(c->h, topic, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "subscribe %s: %s", topic, MQTTAsync_strerror(rc));
        mq__ctx_done(p);
        return GW_EIO;
    }
    return 0;
}
