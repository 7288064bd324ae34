/*
 * mq_client.c: paho MQTTAsync wrapped so that its callbacks only enqueue
 * (mq.h): create, connect, disconnect, destroy and the connection's
 * callbacks; publish and subscribe, with their context records and the
 * count of what paho holds, are in mq_publish.c. A client can be closed
 * off the loop (mq_close_async): a thread of its own disconnects and
 * destroys it, and from then on only publish outcomes still reach the
 * queue (its connection state and messages concern nobody any more).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"
#include "protocols/mqtt/mq_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Clients being closed by a thread of their own (mq_close_async). */
static atomic_int mq__closing_n;

static void mq__on_connect(void *ctx, MQTTAsync_successData *resp)
{
    mq_client_t *c = ctx;
    (void)resp;
    mq__queue_reset(c);
    atomic_store(&c->connected, 1);
    mq__post(c, MQ_EV_CONNECTED, 0, 0, NULL);
}

static void mq__on_connect5(void *ctx, MQTTAsync_successData5 *resp)
{
    (void)resp;
    mq__on_connect(ctx, NULL);
}

static void mq__on_connect_failure5(void *ctx, MQTTAsync_failureData5 *resp)
{
    mq_client_t *c = ctx;
    char err[160];
    snprintf(err, sizeof(err), "%s (code %d, reason %s)",
             resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1),
             resp ? resp->code : 0, resp ? MQTTReasonCode_toString(resp->reasonCode) : "-");
    atomic_store(&c->connected, 0);
    mq__post(c, MQ_EV_CONNECT_FAILED, 0, resp ? resp->code : -1, err);
}

static void mq__on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
    mq_client_t *c = ctx;
    char err[160];
    snprintf(err, sizeof(err), "%s (code %d)",
             resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1),
             resp ? resp->code : 0);
    atomic_store(&c->connected, 0);
    mq__post(c, MQ_EV_CONNECT_FAILED, 0, resp ? resp->code : -1, err);
}

static void mq__on_connection_lost(void *ctx, char *cause)
{
    mq_client_t *c = ctx;
    atomic_store(&c->connected, 0);
    mq__post(c, MQ_EV_CONNECTION_LOST, 0, 0, cause ? cause : "connection lost");
}

/* The MQTT 5 user property "from", if any, into buf. */
static void mq__user_from(const MQTTProperties *props, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; props && i < props->count; i++) {
        const MQTTProperty *p = &props->array[i];
        if (p->identifier == MQTTPROPERTY_CODE_USER_PROPERTY && p->value.data.len == 4 &&
            memcmp(p->value.data.data, "from", 4) == 0) {
            int n = p->value.value.len < (int)len - 1 ? p->value.value.len : (int)len - 1;
            memcpy(buf, p->value.value.data, (size_t)n);
            buf[n] = '\0';
            return;
        }
    }
}

static int mq__on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    mq_client_t *c = ctx;
    size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t pl = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    mq_message_t *msg = atomic_load(&c->closing) ? NULL : malloc(sizeof(*msg) + tl + 1 + pl + 1);

    if (msg) {
        memset(msg, 0, sizeof(*msg));
        msg->hdr.kind = MQ_EV_MESSAGE;
        msg->topic = (char *)(msg + 1);
        memcpy(msg->topic, topic, tl);
        msg->topic[tl] = '\0';
        msg->payload = msg->topic + tl + 1;
        if (pl)
            memcpy(msg->payload, m->payload, pl);
        msg->payload[pl] = '\0';
        msg->len = pl;
        msg->qos = m->qos;
        msg->retained = m->retained;
        mq__user_from(&m->properties, msg->from, sizeof(msg->from));
        gw_queue_push(c->events, &msg->hdr);
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static char *mq__dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void mq__free_strings(mq_client_t *c)
{
    free(c->uri);
    free(c->client_id);
    free(c->username);
    free(c->password);
    free(c->will_topic);
    free(c->will_payload);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
}

/* paho initialises OpenSSL when its first client is created unless told
 * not to: that loads OpenSSL's providers and tables (megabytes of memory)
 * even for a plain tcp:// broker. OpenSSL 1.1 and later initialise
 * themselves on first use, so a TLS connection still works. */
static pthread_once_t mq__init_once = PTHREAD_ONCE_INIT;

static void mq__global_init(void)
{
    MQTTAsync_init_options io = MQTTAsync_init_options_initializer;

    io.do_openssl_init = 0;
    MQTTAsync_global_init(&io);
}

int mq_create(mq_client_t **out, const mq_cfg_t *cfg, gw_queue_t *events, char *err, size_t errlen)
{
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    mq_client_t *c = calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    pthread_once(&mq__init_once, mq__global_init);
    if (!c)
        goto out_nomem;
    c->events = events;
    c->uri = mq__dup(cfg->uri);
    c->client_id = mq__dup(cfg->client_id);
    c->username = mq__dup(cfg->username);
    c->password = mq__dup(cfg->password);
    c->will_topic = mq__dup(cfg->will_topic);
    c->will_payload = mq__dup(cfg->will_payload);
    c->ca_file = mq__dup(cfg->ca_file);
    c->cert_file = mq__dup(cfg->cert_file);
    c->key_file = mq__dup(cfg->key_file);
    c->version = cfg->version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    c->tls = strncmp(cfg->uri, "ssl://", 6) == 0 || strncmp(cfg->uri, "mqtts://", 8) == 0;
    c->tls_verify = cfg->tls_verify;
    if (!c->uri || !c->client_id)
        goto out_nomem;
    c->keepalive_s = cfg->keepalive_s;
    c->connect_timeout_s = cfg->connect_timeout_s > 0 ? cfg->connect_timeout_s : 10;
    c->will_retain = cfg->will_retain;
    c->pending.next = c->pending.prev = &c->pending;
    pthread_mutex_init(&c->mu, NULL);
    {
        pthread_condattr_t ca; /* waits on the monotonic clock: a clock step is no timeout */
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&c->cond, &ca);
        pthread_condattr_destroy(&ca);
    }

    co.sendWhileDisconnected = 0; /* the daemon buffers, not paho */
    co.maxBufferedMessages = 65535;
    co.MQTTVersion = c->version;
    rc = MQTTAsync_createWithOptions(&c->h, c->uri, c->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL,
                                     &co);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "mqtt: cannot create client for %s: %s", c->uri,
                 MQTTAsync_strerror(rc));
        goto out_free;
    }
    rc = MQTTAsync_setCallbacks(c->h, c, mq__on_connection_lost, mq__on_message, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "mqtt: cannot set callbacks: %s", MQTTAsync_strerror(rc));
        MQTTAsync_destroy(&c->h);
        goto out_free;
    }
    *out = c;
    return 0;

out_nomem:
    snprintf(err, errlen, "mqtt: out of memory");
    if (c) {
        mq__free_strings(c);
        free(c);
    }
    return GW_ENOMEM;
out_free:
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    mq__free_strings(c);
    free(c);
    return GW_EINVAL;
}

/* TLS options: without them paho refuses an ssl:// URI ("Invalid (NULL)
 * parameter"). No CA file means the system's default trust store. */
static void mq__tls_options(const mq_client_t *c, MQTTAsync_SSLOptions *so)
{
    so->trustStore = c->ca_file;
    so->keyStore = c->cert_file;
    so->privateKey = c->key_file;
    so->enableServerCertAuth = c->tls_verify;
    so->verify = c->tls_verify; /* host name against the certificate */
    so->sslVersion = MQTT_SSL_VERSION_DEFAULT;
}

int mq_connect(mq_client_t *c, char *err, size_t errlen)
{
    MQTTAsync_connectOptions o3 = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions o5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_connectOptions *o = c->version == MQTTVERSION_5 ? &o5 : &o3;
    MQTTAsync_willOptions w = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions so = MQTTAsync_SSLOptions_initializer;
    int rc;

    o->keepAliveInterval = c->keepalive_s;
    o->connectTimeout = c->connect_timeout_s;
    o->automaticReconnect = 0; /* the loop reconnects, with jitter */
    o->maxInflight = 65535;
    o->context = c;
    o->username = c->username;
    o->password = c->password;
    if (c->version == MQTTVERSION_5) {
        o->cleanstart = 1;
        o->onSuccess5 = mq__on_connect5;
        o->onFailure5 = mq__on_connect_failure5;
    } else {
        o->cleansession = 1;
        o->onSuccess = mq__on_connect;
        o->onFailure = mq__on_connect_failure;
    }
    if (c->will_topic) {
        w.topicName = c->will_topic;
        w.message = c->will_payload ? c->will_payload : "";
        w.retained = c->will_retain;
        w.qos = 1;
        o->will = &w;
    }
    if (c->tls) {
        mq__tls_options(c, &so);
        o->ssl = &so;
    }
    rc = MQTTAsync_connect(c->h, o);
    if (rc != MQTTASYNC_SUCCESS) {
        /* no "mqtt:" prefix: the caller logs under the mqtt tag */
        snprintf(err, errlen, "connect to %s: %s", c->uri, MQTTAsync_strerror(rc));
        return GW_EIO;
    }
    return 0;
}

int mq_is_connected(mq_client_t *c)
{
    return atomic_load(&c->connected);
}

static void mq__on_disconnect(void *ctx, MQTTAsync_successData *resp)
{
    mq_client_t *c = ctx;
    (void)resp;
    pthread_mutex_lock(&c->mu);
    c->disconnect_done = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static void mq__on_disconnect_failure(void *ctx, MQTTAsync_failureData *resp)
{
    (void)resp;
    mq__on_disconnect(ctx, NULL);
}

void mq_disconnect(mq_client_t *c, int timeout_ms)
{
    MQTTAsync_disconnectOptions o = MQTTAsync_disconnectOptions_initializer;
    struct timespec ts;

    if (!c || !MQTTAsync_isConnected(c->h))
        return;
    o.timeout = timeout_ms;
    o.onSuccess = mq__on_disconnect;
    o.onFailure = mq__on_disconnect_failure;
    o.context = c;
    pthread_mutex_lock(&c->mu);
    c->disconnect_done = 0;
    pthread_mutex_unlock(&c->mu);
    if (MQTTAsync_disconnect(c->h, &o) != MQTTASYNC_SUCCESS)
        return;
    ts = gw_mono_deadline(timeout_ms + 1000);
    pthread_mutex_lock(&c->mu);
    while (!c->disconnect_done) {
        if (pthread_cond_timedwait(&c->cond, &c->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&c->mu);
    atomic_store(&c->connected, 0);
}

void mq_destroy(mq_client_t *c)
{
    if (!c)
        return;
    mq_disconnect(c, 1000);
    MQTTAsync_destroy(&c->h); /* fails the commands it still holds: their contexts are done */
    mq__ctx_free_all(c);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    mq__free_strings(c);
    free(c);
}

static void *mq__close_thread(void *arg)
{
    mq_client_t *c = arg;

    mq_destroy(c); /* disconnects first, waiting for queued publishes */
    atomic_fetch_sub(&mq__closing_n, 1);
    return NULL;
}

void mq_close_async(mq_client_t *c)
{
    pthread_attr_t a;
    pthread_t t;
    int rc;

    if (!c)
        return;
    atomic_store(&c->closing, 1);
    atomic_fetch_add(&mq__closing_n, 1);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &a, mq__close_thread, c);
    pthread_attr_destroy(&a);
    if (rc != 0) { /* no thread: close here, blocking */
        gw_log_warn("mqtt", "cannot start a thread to close the old client: closing it here");
        mq__close_thread(c);
    }
}

int mq_close_async_wait(int timeout_ms)
{
    int64_t until = gw_mono_ms() + timeout_ms;

    while (atomic_load(&mq__closing_n) > 0) {
        if (gw_mono_ms() >= until)
            return GW_ETIMEDOUT;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return 0;
}
