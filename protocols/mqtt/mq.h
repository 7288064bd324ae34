/*
 * mq.h: the MQTT client (paho-mqtt-c MQTTAsync), handing everything to the
 * loop thread.
 *
 * paho calls back on its own threads; every callback here copies what it
 * got into a message and pushes it on the daemon's queue, so all decisions
 * (reconnect timing, outbox bookkeeping) are taken on the loop thread. This
 * module does not reconnect by itself: the daemon schedules mq_connect again
 * with capped exponential backoff and jitter when it sees
 * MQ_EV_CONNECT_FAILED or MQ_EV_CONNECTION_LOST.
 *
 * Message kinds 200-299 belong to this module.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_MQ_H
#define PLANTROOM_MQ_H

#include "gateway/base/gw_queue.h"

#include <stddef.h>
#include <stdint.h>

typedef struct mq_cfg {
    const char *uri;       /* tcp://host:port, ssl://host:port */
    const char *client_id; /* unique per gateway */
    const char *username;  /* NULL: none */
    const char *password;  /* NULL: none; never logged */
    int keepalive_s;
    int connect_timeout_s;
    const char *will_topic; /* NULL: no last will */
    const char *will_payload;
    int will_retain;
    int version; /* 4: MQTT 3.1.1 (also when 0); 5: MQTT 5 */
    /* TLS, used when uri is ssl:// or mqtts:// */
    const char *ca_file;   /* NULL: the system's trust store */
    const char *cert_file; /* client certificate (PEM); NULL: none */
    const char *key_file;  /* its private key (PEM) */
    int tls_verify;        /* check the broker's certificate and host name */
} mq_cfg_t;

enum {
    MQ_EV_CONNECTED = 200,  /* mq_event_t */
    MQ_EV_CONNECT_FAILED,   /* mq_event_t: err says why */
    MQ_EV_CONNECTION_LOST,  /* mq_event_t: err says why */
    MQ_EV_DELIVERED,        /* mq_event_t: tag of a publish the broker acknowledged */
    MQ_EV_PUBLISH_FAILED,   /* mq_event_t: tag of a publish that failed */
    MQ_EV_MESSAGE,          /* mq_message_t: a message on a subscribed topic */
    MQ_EV_SUBSCRIBED,       /* mq_event_t: tag of a subscription the broker granted, rc its QoS */
    MQ_EV_SUBSCRIBE_FAILED, /* mq_event_t: tag of a subscription refused or failed, err why */
    MQ_EV_ROOM,             /* mq_event_t: the queue fell to the mark of mq_room_arm */
};

typedef struct mq_event {
    gw_msg_t hdr;
    uint64_t tag;
    int rc;
    char err[160];
} mq_event_t;

typedef struct mq_message {
    gw_msg_t hdr;
    char *topic;   /* points into the same allocation */
    char *payload; /* NUL-terminated copy, len bytes before the NUL */
    size_t len;
    int qos;
    int retained;
    char from[64]; /* MQTT 5 user property "from" (the sender's identity), "" if none */
} mq_message_t;

typedef struct mq_client mq_client_t;

/* Create a client (no connection yet); events go to the queue. The strings
 * of cfg are copied. Returns 0 or a negative code with the reason in err. */
int mq_create(mq_client_t **out, const mq_cfg_t *cfg, gw_queue_t *events, char *err, size_t errlen);
/* Start connecting; the outcome arrives as MQ_EV_CONNECTED or
 * MQ_EV_CONNECT_FAILED. Returns 0, or a negative code if it could not even
 * start. */
int mq_connect(mq_client_t *c, char *err, size_t errlen);
int mq_is_connected(mq_client_t *c);
/* Queue a publish; it counts in the queue (below) until paho reports it
 * done. With tag != 0 the outcome arrives as MQ_EV_DELIVERED (for QoS 1:
 * the broker's PUBACK) or MQ_EV_PUBLISH_FAILED with that tag. Returns 0,
 * or a negative code (e.g. not connected) with nothing queued. */
int mq_publish(mq_client_t *c, const char *topic, const void *payload, size_t len, int qos,
               int retain, uint64_t tag, char *err, size_t errlen);
/* ---- The queue: what paho holds ----------------------------------------
 * paho copies every publish into its command queue and keeps the copy
 * until it has written it (QoS 0) or the broker acknowledged it (QoS 1);
 * while connected nothing bounds that queue (maxBufferedMessages bounds
 * only what is buffered while disconnected), so a broker that stops
 * reading lets it grow. The count is the publishes of this connection that
 * paho holds: messages, and bytes of payload and topic. It starts again at
 * each connect (a publish of an earlier connection paho still holds is no
 * longer counted). Callers bound what they hand over with it. */
typedef struct mq_queue {
    size_t messages;
    size_t bytes;
} mq_queue_t;

/* The count now (any thread; a snapshot). */
void mq_queued(mq_client_t *c, mq_queue_t *out);
/* Ask for one MQ_EV_ROOM when the queue's bytes fall to mark or below.
 * Returns 1 (nothing armed, no event) when they already are. A connect
 * disarms it (MQ_EV_CONNECTED is the news then). */
int mq_room_arm(mq_client_t *c, size_t mark);

/* Subscribe. The broker's answer (SUBACK) arrives as MQ_EV_SUBSCRIBED with
 * tag and the granted QoS, or MQ_EV_SUBSCRIBE_FAILED with tag and the
 * reason (refused by the broker's ACL, connection lost first). Messages on
 * topic are only certain to arrive after MQ_EV_SUBSCRIBED. Returns 0, or a
 * negative code with nothing sent. */
int mq_subscribe(mq_client_t *c, const char *topic, int qos, uint64_t tag, char *err,
                 size_t errlen);
/* Disconnect cleanly, waiting at most timeout_ms for queued publishes to
 * finish. Safe when not connected. */
void mq_disconnect(mq_client_t *c, int timeout_ms);
/* Destroy the client (disconnects first if needed). */
void mq_destroy(mq_client_t *c);
/* Disconnect (up to 1 s for queued publishes) and destroy c on a thread of
 * its own, so that the caller (the loop) does not wait. From now on c posts
 * only publish outcomes (MQ_EV_DELIVERED, MQ_EV_PUBLISH_FAILED) to its
 * queue; the caller forgets c. */
void mq_close_async(mq_client_t *c);
/* Wait until every client handed to mq_close_async is destroyed, at most
 * timeout_ms: before the events queue goes away. 0 or GW_ETIMEDOUT. */
int mq_close_async_wait(int timeout_ms);

#endif
