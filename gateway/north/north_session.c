/*
 * north_session.c: the MQTT session (north_int.h): connect with the last
 * will, reconnect with exponential backoff and jitter, and route what paho's
 * threads report (connected, lost, delivered, failed, a message) to the
 * handlers the parts registered. Topics are "<prefix>/<site>/<suffix>"
 * (docs/mqtt.md). Loop thread only; paho's callbacks only enqueue
 * (protocols/mqtt/mq_client.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SESSION_HANDLERS_MAX 12

typedef enum { SUB_PENDING, SUB_GRANTED, SUB_REFUSED } session_sub_state_t;

typedef struct session_sub {
    char *topic;
    char log_tag[16];
    session_sub_state_t state;
    int qos; /* granted */
    char why[160];
} session_sub_t;

struct north_session {
    uv_loop_t *loop;
    gw_queue_t *inq;
    const gw_core_t *core;
    mq_client_t *mq; /* NULL while stopped */
    uv_timer_t retry_timer;
    int backoff_ms;
    int failures; /* consecutive failed connects, for log throttling */
    north_handler_t handlers[SESSION_HANDLERS_MAX];
    size_t nhandlers;
    north_counts_t counts;
    /* subscriptions of the current connection; a SUBACK's tag is the
     * connection's generation (high 32 bits) and the index */
    session_sub_t *subs;
    size_t nsubs, subs_cap;
    uint32_t sub_gen;
    /* the loop has taken this connection's MQ_EV_CONNECTED (paho says
     * connected a moment earlier, on its own thread: a device status
     * published in between would go out twice, once more at the connect) */
    int up;
};

static const gw_config_t *session__cfg(const north_session_t *s)
{
    return gw_core_config(s->core);
}

int north__session_create(north_session_t **out, uv_loop_t *loop, gw_queue_t *inq,
                          const gw_core_t *core)
{
    north_session_t *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (!s)
        return GW_ENOMEM;
    s->loop = loop;
    s->inq = inq;
    s->core = core;
    uv_timer_init(loop, &s->retry_timer);
    s->retry_timer.data = s;
    *out = s;
    return 0;
}

void north__session_on(north_session_t *s, const north_handler_t *h)
{
    if (s->nhandlers < SESSION_HANDLERS_MAX)
        s->handlers[s->nhandlers++] = *h;
    else
        gw_log_error("mqtt", "more than %d session handlers: one is left out",
                     SESSION_HANDLERS_MAX);
}

static void session__subs_clear(north_session_t *s)
{
    for (size_t i = 0; i < s->nsubs; i++)
        free(s->subs[i].topic);
    s->nsubs = 0;
    s->sub_gen++;
}

void north__session_free(north_session_t *s)
{
    if (!s)
        return;
    session__subs_clear(s);
    free(s->subs);
    free(s);
}

int north__session_active(const north_session_t *s)
{
    return s && s->mq != NULL;
}

int north__session_connected(const north_session_t *s)
{
    return s && s->mq && s->up && mq_is_connected(s->mq);
}

void north__session_counts(const north_session_t *s, north_counts_t *out)
{
    if (s)
        *out = s->counts;
    else
        memset(out, 0, sizeof(*out));
}

const char *const north_kind_names[NORTH_NKINDS] = {"event", "telemetry"};

north_kind_t north__tag_kind(uint64_t tag)
{
    return (tag & (NORTH_TAG_SPOOL | NORTH_TAG_LIVE)) ? NORTH_KIND_TELEMETRY : NORTH_KIND_EVENT;
}

/* ---- publishing --------------------------------------------------------- */

void north__session_queue(const north_session_t *s, mq_queue_t *out)
{
    if (s && s->mq)
        mq_queued(s->mq, out);
    else
        memset(out, 0, sizeof(*out));
}

int north__session_room(const north_session_t *s)
{
    mq_queue_t q;

    if (!north__session_connected(s))
        return 0;
    mq_queued(s->mq, &q);
    return q.bytes < (size_t)session__cfg(s)->mqtt.queue_max_bytes;
}

int north__session_replay_room(const north_session_t *s)
{
    mq_queue_t q;

    if (!north__session_connected(s))
        return 0;
    mq_queued(s->mq, &q);
    return q.bytes < (size_t)session__cfg(s)->mqtt.queue_max_bytes / 2;
}

int north__session_room_arm(north_session_t *s)
{
    if (!s->mq)
        return 0;
    return mq_room_arm(s->mq, (size_t)session__cfg(s)->mqtt.queue_max_bytes / 2);
}

void north__topic(const north_session_t *s, char *buf, size_t len, const char *suffix)
{
    const gw_config_t *c = session__cfg(s);
    snprintf(buf, len, "%s/%s/%s", c->mqtt.prefix, c->site_id, suffix);
}

int north__publish(north_session_t *s, const char *topic, const char *payload, size_t len, int qos,
                   int retain, uint64_t tag, char *err, size_t errlen)
{
    if (!s->mq) {
        snprintf(err, errlen, "mqtt: not started");
        return GW_ESTATE;
    }
    return mq_publish(s->mq, topic, payload, len, qos, retain, tag, err, errlen);
}

void north__publish_json(north_session_t *s, const char *suffix, const cJSON *obj, int qos,
                         int retain)
{
    char topic[384], err[160];
    char *text;

    if (!north__session_connected(s))
        return;
    north__topic(s, topic, sizeof(topic), suffix);
    text = cJSON_PrintUnformatted(obj);
    if (!text)
        return;
    if (mq_publish(s->mq, topic, text, strlen(text), qos, retain, 0, err, sizeof(err)) != 0)
        gw_log_debug("gw", "%s", err);
    free(text);
}

int north__subscribe(north_session_t *s, const char *topic, int qos, const char *log_tag, char *err,
                     size_t errlen)
{
    session_sub_t *sub;
    int rc;

    if (!s->mq) {
        snprintf(err, errlen, "mqtt: not started");
        return GW_ESTATE;
    }
    if (s->nsubs == s->subs_cap) {
        size_t cap = s->subs_cap ? s->subs_cap * 2 : 4;
        session_sub_t *n = realloc(s->subs, cap * sizeof(*n));
        if (!n) {
            snprintf(err, errlen, "mqtt: out of memory");
            return GW_ENOMEM;
        }
        s->subs = n;
        s->subs_cap = cap;
    }
    sub = &s->subs[s->nsubs];
    memset(sub, 0, sizeof(*sub));
    sub->topic = strdup(topic);
    if (!sub->topic) {
        snprintf(err, errlen, "mqtt: out of memory");
        return GW_ENOMEM;
    }
    snprintf(sub->log_tag, sizeof(sub->log_tag), "%s", log_tag);
    rc = mq_subscribe(s->mq, topic, qos, ((uint64_t)s->sub_gen << 32) | s->nsubs, err, errlen);
    if (rc != 0) {
        free(sub->topic);
        return rc;
    }
    s->nsubs++;
    return 0;
}

/* The broker's answer to a subscription of this connection; answers to an
 * earlier connection's are ignored. */
static void session__suback(north_session_t *s, const mq_event_t *ev, int ok)
{
    size_t i = (size_t)(ev->tag & 0xffffffffu);
    session_sub_t *sub;

    if ((uint32_t)(ev->tag >> 32) != s->sub_gen || i >= s->nsubs)
        return;
    sub = &s->subs[i];
    if (ok) {
        sub->state = SUB_GRANTED;
        sub->qos = ev->rc;
        gw_log_info(sub->log_tag, "subscribed to %s", sub->topic);
    } else {
        sub->state = SUB_REFUSED;
        snprintf(sub->why, sizeof(sub->why), "%s", ev->err);
        gw_log_error(sub->log_tag, "subscription to %s failed: %s", sub->topic, ev->err);
    }
}

void north__session_subs_json(const north_session_t *s, cJSON *arr)
{
    static const char *const names[] = {"pending", "granted", "refused"};

    for (size_t i = 0; s && i < s->nsubs; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return;
        cJSON_AddStringToObject(o, "topic", s->subs[i].topic);
        cJSON_AddStringToObject(o, "state", names[s->subs[i].state]);
        if (s->subs[i].state == SUB_GRANTED)
            cJSON_AddNumberToObject(o, "qos", s->subs[i].qos);
        if (s->subs[i].state == SUB_REFUSED)
            cJSON_AddStringToObject(o, "error", s->subs[i].why);
        cJSON_AddItemToArray(arr, o);
    }
}

/* ---- connecting --------------------------------------------------------- */

static void session__retry_cb(uv_timer_t *t);

static void session__schedule_retry(north_session_t *s)
{
    const gw_mqtt_cfg_t *q = &session__cfg(s)->mqtt;
    unsigned r = 0;
    int ms;

    if (!s->mq)
        return;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : q->reconnect_min_ms;
    if (s->backoff_ms > q->reconnect_max_ms)
        s->backoff_ms = q->reconnect_max_ms;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r))
        r = (unsigned)rand();
    /* jitter +-25 %: a fleet of gateways does not storm a restarted broker */
    ms = s->backoff_ms - s->backoff_ms / 4 + (int)(r % (unsigned)(s->backoff_ms / 2 + 1));
    uv_timer_start(&s->retry_timer, session__retry_cb, (uint64_t)ms, 0);
}

static void session__connect(north_session_t *s)
{
    char err[256];
    if (mq_connect(s->mq, err, sizeof(err)) != 0) {
        /* like a failed connect: warn once, then debug until it recovers */
        gw_log(s->failures++ == 0 ? GW_LOG_WARN : GW_LOG_DEBUG, "mqtt", "%s", err);
        session__schedule_retry(s);
    }
}

static void session__retry_cb(uv_timer_t *t)
{
    north_session_t *s = t->data;
    if (s->mq && !mq_is_connected(s->mq))
        session__connect(s);
}

static int session__read_password(const gw_mqtt_cfg_t *q, char *buf, size_t len, char *err,
                                  size_t errlen)
{
    const char *env = getenv("PLANTROOM_MQTT_PASSWORD");
    FILE *f;

    buf[0] = '\0';
    if (env) {
        snprintf(buf, len, "%s", env);
        return 0;
    }
    if (!q->password_file[0])
        return 0;
    f = fopen(q->password_file, "r");
    if (!f) {
        snprintf(err, errlen, "mqtt.password_file %s: %s", q->password_file, strerror(errno));
        return GW_EIO;
    }
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int north__session_start(north_session_t *s, char *err, size_t errlen)
{
    const gw_config_t *c = session__cfg(s);
    char will_topic[384], will[256], password[256];
    int rc;

    rc = session__read_password(&c->mqtt, password, sizeof(password), err, errlen);
    if (rc != 0)
        return rc;
    north__topic(s, will_topic, sizeof(will_topic), "status");
    snprintf(will, sizeof(will), "{\"v\":1,\"status\":\"offline\",\"site\":\"%s\",\"ts\":null}",
             c->site_id);
    mq_cfg_t mc = {
        .uri = c->mqtt.uri,
        .client_id = c->mqtt.client_id,
        .username = c->mqtt.username[0] ? c->mqtt.username : NULL,
        .password = password[0] ? password : NULL,
        .keepalive_s = c->mqtt.keepalive_s,
        .connect_timeout_s = 10,
        .will_topic = will_topic,
        .will_payload = will,
        .will_retain = 1,
        .version = c->mqtt.version,
        .ca_file = c->mqtt.ca_file[0] ? c->mqtt.ca_file : NULL,
        .cert_file = c->mqtt.cert_file[0] ? c->mqtt.cert_file : NULL,
        .key_file = c->mqtt.key_file[0] ? c->mqtt.key_file : NULL,
        .tls_verify = c->mqtt.tls_verify,
    };
    s->up = 0;
    rc = mq_create(&s->mq, &mc, s->inq, err, errlen);
    memset(password, 0, sizeof(password));
    if (rc != 0)
        return rc;
    s->backoff_ms = 0;
    gw_log_info("mqtt", "connecting to %s as %s (MQTT %s%s)", c->mqtt.uri, c->mqtt.client_id,
                c->mqtt.version == 5 ? "5" : "3.1.1", c->mqtt.tls ? ", TLS" : "");
    session__connect(s);
    return 0;
}

static void session__down(north_session_t *s)
{
    for (size_t i = 0; i < s->nhandlers; i++) {
        if (s->handlers[i].disconnected)
            s->handlers[i].disconnected(s->handlers[i].arg);
    }
}

void north__session_halt(north_session_t *s)
{
    if (!s || !s->mq)
        return;
    uv_timer_stop(&s->retry_timer);
    session__down(s);
}

void north__session_close(north_session_t *s)
{
    /* clients closed by a reload must be gone before the events queue is */
    if (mq_close_async_wait(3000) != 0)
        gw_log_warn("mqtt", "an old client is still closing");
    if (!s || !s->mq)
        return;
    uv_timer_stop(&s->retry_timer);
    if (mq_is_connected(s->mq)) {
        mq_disconnect(s->mq, 2000);
        gw_log_info("mqtt", "disconnected");
    }
    mq_destroy(s->mq);
    s->mq = NULL;
}

void north__session_close_async(north_session_t *s)
{
    if (!s || !s->mq)
        return;
    uv_timer_stop(&s->retry_timer);
    mq_close_async(s->mq);
    s->mq = NULL;
    gw_log_info("mqtt", "disconnecting (in the background)");
}

/* ---- events from paho's threads ---------------------------------------- */

static void session__connected(north_session_t *s)
{
    gw_log_notice("mqtt", "connected to %s", session__cfg(s)->mqtt.uri);
    s->backoff_ms = 0;
    s->failures = 0;
    s->counts.connects++;
    s->up = 1;
    session__subs_clear(s);
    for (size_t i = 0; i < s->nhandlers; i++) {
        if (s->handlers[i].connected)
            s->handlers[i].connected(s->handlers[i].arg);
    }
}

static void session__lost(north_session_t *s, const mq_event_t *ev, int failed_connect)
{
    /* First failure at warn, the rest at debug until it recovers. */
    gw_log(s->failures++ == 0 ? GW_LOG_WARN : GW_LOG_DEBUG, "mqtt", "%s: %s",
           failed_connect ? "connect failed" : "connection lost", ev->err);
    if (failed_connect)
        s->counts.connect_failures++;
    s->up = 0;
    session__down(s);
    session__schedule_retry(s);
}

/* A delivery result goes to the handler whose tag bits it carries, or to
 * the one that claims the untagged rest. */
static void session__delivered(north_session_t *s, const mq_event_t *ev, int ok)
{
    const north_handler_t *rest = NULL;
    north_kind_t kind = north__tag_kind(ev->tag);

    if (!ok)
        s->counts.failed[kind]++;
    else if (!(ev->tag & NORTH_TAG_PROV))
        s->counts.acked[kind]++;
    for (size_t i = 0; i < s->nhandlers; i++) {
        const north_handler_t *h = &s->handlers[i];
        if (!h->delivered)
            continue;
        if (h->tags & ev->tag) {
            h->delivered(h->arg, ev->tag, ok, ev->err);
            return;
        }
        if (!h->tags && !rest)
            rest = h;
    }
    if (rest)
        rest->delivered(rest->arg, ev->tag, ok, ev->err);
}

static void session__room(north_session_t *s)
{
    for (size_t i = 0; i < s->nhandlers; i++) {
        if (s->handlers[i].room)
            s->handlers[i].room(s->handlers[i].arg);
    }
}

static void session__message(north_session_t *s, const mq_message_t *m)
{
    for (size_t i = 0; i < s->nhandlers; i++) {
        if (s->handlers[i].message && s->handlers[i].message(s->handlers[i].arg, m))
            return;
    }
}

void north__session_event(north_session_t *s, const gw_msg_t *m)
{
    const mq_event_t *ev = (const mq_event_t *)m;

    switch (m->kind) {
    case MQ_EV_CONNECTED:
        session__connected(s);
        break;
    case MQ_EV_CONNECT_FAILED:
    case MQ_EV_CONNECTION_LOST:
        session__lost(s, ev, m->kind == MQ_EV_CONNECT_FAILED);
        break;
    case MQ_EV_DELIVERED:
        session__delivered(s, ev, 1);
        break;
    case MQ_EV_PUBLISH_FAILED:
        session__delivered(s, ev, 0);
        break;
    case MQ_EV_MESSAGE:
        session__message(s, (const mq_message_t *)m);
        break;
    case MQ_EV_SUBSCRIBED:
        session__suback(s, ev, 1);
        break;
    case MQ_EV_SUBSCRIBE_FAILED:
        session__suback(s, ev, 0);
        break;
    case MQ_EV_ROOM:
        session__room(s);
        break;
    }
}
