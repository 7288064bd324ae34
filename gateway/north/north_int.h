/*
 * north_int.h: the parts of the north side and how they meet (private to
 * gateway/north/). gw_north.c is the facade that creates them and wires
 * them to the MQTT session; each part registers its handlers with the
 * session and never calls the facade or a part above it:
 *
 *   gw_north.c -> north_commands.c, north_nbiot.c, north_hass.c,
 *                 north_outbox.c, north_telemetry.c, north_audit.c
 *   north_commands.c -> north_cmd_parse.c -> north_cmd_auth.c
 *   north_nbiot.c -> north_nbiot_parse.c, north_buffer.c
 *   north_hass.c -> north_hass_map.c, north_hass_cmd.c
 *   north_telemetry.c -> north_buffer.c -> north_spool.c
 *   every part -> north_session.c (publish, subscribe, topics)
 *
 * Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_NORTH_INT_H
#define PLANTROOM_NORTH_INT_H

#include "gateway/base/gw_jwrite.h"
#include "gateway/core/gw_core.h"
#include "protocols/mqtt/mq.h"
#include "store/ledger_worker.h"
#include "store/spool.h"
#include "store/spool_worker.h"

#include <cjson/cJSON.h>
#include <uv.h>

/* ---- the MQTT session (north_session.c) --------------------------------
 * Connect with backoff and jitter, the last will, and the table of
 * handlers that the parts register: connected/disconnected in order of
 * registration, each received message offered in that order until one
 * takes it, each delivery result to the part whose tag bits it carries. */
typedef struct north_session north_session_t;

typedef struct north_handler {
    void (*connected)(void *arg);
    void (*disconnected)(void *arg);
    int (*message)(void *arg, const mq_message_t *m); /* 1: taken */
    void (*delivered)(void *arg, uint64_t tag, int ok, const char *err);
    void (*room)(void *arg); /* the client's queue fell below half its bound */
    uint64_t tags;           /* deliveries whose tag has one of these bits; 0: the others */
    void *arg;
} north_handler_t;

/* Tags of published messages: telemetry replayed from the spool and live
 * telemetry at QoS 1 carry these bits; work-order events carry their
 * outbox row id (below 2^60), provisional ones NORTH_TAG_PROV. */
#define NORTH_TAG_SPOOL (1ULL << 62)
#define NORTH_TAG_LIVE  (1ULL << 61)
#define NORTH_TAG_PROV  (1ULL << 60)

int north__session_create(north_session_t **out, uv_loop_t *loop, gw_queue_t *inq,
                          const gw_core_t *core);
/* Register a handler (copied); at most 12 (SESSION_HANDLERS_MAX). */
void north__session_on(north_session_t *s, const north_handler_t *h);
/* Create the client from the config and connect (retrying with backoff).
 * 0, or a negative code with err (bad password file, bad URI). */
int north__session_start(north_session_t *s, char *err, size_t errlen);
/* Stop retrying and run the disconnected handlers, still connected (so
 * that a last status can be published before north__session_close). */
void north__session_halt(north_session_t *s);
/* Disconnect (waiting up to 2 s) and destroy the client; no handler runs.
 * Waits first (up to 3 s) for clients closed in the background. */
void north__session_close(north_session_t *s);
/* The same without waiting: the client disconnects (its queued publishes
 * get a second) and is destroyed on a thread of its own (mq_close_async),
 * so that a reload does not hold the loop. */
void north__session_close_async(north_session_t *s);
/* Free (after the loop closed the session's timer). NULL: no-op. */
void north__session_free(north_session_t *s);
/* An MQ_EV_* message from paho's threads. */
void north__session_event(north_session_t *s, const gw_msg_t *m);
int north__session_active(const north_session_t *s); /* a client exists */
/* 1 from the loop's handling of the connect (its handlers run with it)
 * until the loss is handled, while paho is connected. */
int north__session_connected(const north_session_t *s);
/* What a publish was, by its tag: a work-order event (outbox row or
 * provisional) or telemetry (live or replayed). Untagged publishes
 * (status, metrics topic, discovery, command replies) report no outcome
 * (protocols/mqtt/mq.h). */
typedef enum { NORTH_KIND_EVENT, NORTH_KIND_TELEMETRY, NORTH_NKINDS } north_kind_t;
extern const char *const north_kind_names[NORTH_NKINDS]; /* "event", "telemetry" */
north_kind_t north__tag_kind(uint64_t tag);

/* The session's delivery counts. acked[NORTH_KIND_EVENT] counts only
 * committed outbox rows acknowledged by the broker (PUBACK), not
 * provisional copies, so that an event and its committed copy count once.
 * failed counts publishes paho reported failed, by kind (provisional ones
 * too). */
typedef struct north_counts {
    uint64_t connects;
    uint64_t connect_failures; /* connection attempts that failed */
    uint64_t acked[NORTH_NKINDS];
    uint64_t failed[NORTH_NKINDS];
} north_counts_t;

void north__session_counts(const north_session_t *s, north_counts_t *out);
/* The client's queue (protocols/mqtt/mq.h, "The queue"): what paho holds
 * of this connection's publishes; zeros when there is no client. */
void north__session_queue(const north_session_t *s, mq_queue_t *out);
/* 1 when connected and the queue holds less than mqtt.queue_max_bytes:
 * telemetry may be handed to the client. */
int north__session_room(const north_session_t *s);
/* Have the room handlers run once the queue falls to half its bound (or
 * on the next connect). Returns 1, with nothing armed, when it already is. */
int north__session_room_arm(north_session_t *s);
/* 1 when connected and the queue holds less than half mqtt.queue_max_bytes:
 * the spool's replay may publish (the other half is live telemetry's). */
int north__session_replay_room(const north_session_t *s);
/* "<prefix>/<site>/<suffix>" into buf. */
void north__topic(const north_session_t *s, char *buf, size_t len, const char *suffix);
/* Publish; 0, or a negative code with err (not connected, client full). */
int north__publish(north_session_t *s, const char *topic, const char *payload, size_t len, int qos,
                   int retain, uint64_t tag, char *err, size_t errlen);
/* Publish obj on <prefix>/<site>/<suffix> when connected (errors at debug). */
void north__publish_json(north_session_t *s, const char *suffix, const cJSON *obj, int qos,
                         int retain);
/* Subscribe to topic for this connection. The session logs, under log_tag,
 * "subscribed to <topic>" when the broker grants it (SUBACK: messages are
 * certain to arrive from then on) or an error naming the topic when the
 * broker refuses it; the status lists each subscription with its state.
 * 0, or a negative code with err (nothing sent). */
int north__subscribe(north_session_t *s, const char *topic, int qos, const char *log_tag, char *err,
                     size_t errlen);
/* The subscriptions of the current connection into arr (status). */
void north__session_subs_json(const north_session_t *s, cJSON *arr);

/* ---- work-order events from the ledger's outbox (north_outbox.c) -------
 * Published after commit at QoS 1 with the row id as tag; the PUBACK
 * acknowledges the row for MQTT; every row MQTT has not acknowledged is
 * sent again on each connect. Provisional events (not yet committed) are
 * published once when connected. */
typedef struct north_outbox north_outbox_t;

int north__outbox_create(north_outbox_t **out, uv_loop_t *loop, north_session_t *s,
                         ledger_worker_t *lw, gw_core_t *core);
/* A row posted by the ledger: published when it fits the window and
 * comes in order (load_tag: the window load it answers, 0: a commit's). */
void north__outbox_row(north_outbox_t *o, const ledger_outbox_row_t *row, uint64_t load_tag);
/* The end of a window load: the next one, or back to rows as they come. */
void north__outbox_loaded(north_outbox_t *o, const ledger_ev_outbox_loaded_t *ev);
typedef struct north_outbox_figures {
    size_t in_flight, peak, window; /* events without PUBACK now, at most at once, the bound */
    int behind;                     /* rows wait in the outbox for a window */
    uint64_t loads;                 /* window loads asked */
} north_outbox_figures_t;
void north__outbox_figures(const north_outbox_t *o, north_outbox_figures_t *f);
void north__outbox_provisional(north_outbox_t *o, const char *channel, const char *payload);
uint64_t north__outbox_provisional_count(const north_outbox_t *o);
size_t north__outbox_inflight(const north_outbox_t *o);
void north__outbox_free(north_outbox_t *o);

/* ---- a queue of messages in one byte buffer (north_fifo.c) ------------
 * Used by north_buffer.c for its live window and its memory ring: a
 * message is copied in once and leaves from the front; the buffer is kept
 * (and grows, doubling, only when a message does not fit), so that nothing
 * is allocated per message once it has its working size. */
typedef struct north_fifo_msg {
    uint32_t size; /* of the whole record, aligned */
    uint32_t topic_len, payload_len;
    uint32_t pad_;
    int64_t ts_ms;
    char text[]; /* the topic, NUL, the payload, NUL */
} north_fifo_msg_t;

#define NORTH_FIFO_PAYLOAD(m) ((m)->text + (m)->topic_len + 1)

typedef struct north_fifo {
    char *mem;
    size_t cap, head, tail, end, n;
    size_t bytes; /* the messages' topics and payloads, without their headers */
    int wrapped;
    size_t undo_tail, undo_end, undo_bytes; /* before the last push */
    int undo_wrapped;
} north_fifo_t;

void north__fifo_init(north_fifo_t *f);
void north__fifo_free(north_fifo_t *f);
/* Copy a message in at the back. 0, or GW_ENOMEM (nothing changed). */
int north__fifo_push(north_fifo_t *f, int64_t ts_ms, const char *topic, size_t topic_len,
                     const char *payload, size_t payload_len);
/* Take back the message of the last push (before any pop). */
void north__fifo_drop_last(north_fifo_t *f);
/* The oldest message (NULL: none), the one after m (NULL: m is the newest);
 * valid until the next push or pop. */
const north_fifo_msg_t *north__fifo_front(const north_fifo_t *f);
const north_fifo_msg_t *north__fifo_next(const north_fifo_t *f, const north_fifo_msg_t *m);
void north__fifo_pop(north_fifo_t *f);
/* Empty and holding more than keep bytes: give the buffer back. */
void north__fifo_trim(north_fifo_t *f, size_t keep);

/* ---- store-and-forward of telemetry (north_buffer.c) ------------------ */
typedef struct north_buf north_buf_t;

typedef struct north_buf_stats {
    uint64_t published, buffered, replayed, dropped;
    uint64_t in_memory, in_spool;
    uint64_t memory_max;  /* mqtt.buffer.memory_messages */
    uint64_t unacked;     /* live QoS 1 messages awaiting their PUBACK */
    uint64_t unacked_max; /* their bound */
    uint64_t spool_queue; /* messages handed to the spool thread, not yet written */
    int spool_ok;         /* a spool is open and takes writes */
} north_buf_stats_t;

/* The spool is opened on its own thread (north_spool.c); its results come
 * back through inq and north__buf_on_message. */
int north__buf_create(north_buf_t **out, uv_loop_t *loop, north_session_t *s, gw_core_t *core,
                      gw_queue_t *inq, char *err, size_t errlen);
/* Called when a replay has sent everything (the facade publishes metrics). */
void north__buf_on_replay_done(north_buf_t *b, void (*fn)(void *arg), void *arg);
/* A result of the spool thread (SPOOL_EV_*, store/spool_worker.h). */
void north__buf_on_message(north_buf_t *b, const gw_msg_t *m);
/* Publish a telemetry text now, or buffer it (copied: the caller keeps
 * topic and text). */
void north__buf_publish(north_buf_t *b, const char *topic, const char *text, int64_t ts_ms);
/* The same with the text's length. */
void north__buf_publish_n(north_buf_t *b, const char *topic, const char *text, size_t len,
                          int64_t ts_ms);
/* Buffer a telemetry text (copied) whether connected or not: the broker
 * does not read (north_telemetry.c). Live messages are not requeued. */
void north__buf_store_n(north_buf_t *b, const char *topic, const char *text, size_t len,
                        int64_t ts_ms);
/* Spill the memory ring and start the spool's replay if connected: the
 * client's queue has room again after the broker did not read. */
void north__buf_kick(north_buf_t *b);
/* Spill the memory ring into the spool (at stop). */
void north__buf_flush(north_buf_t *b);
/* Live messages not yet acknowledged go back to the buffer; replay stops. */
void north__buf_disconnected(north_buf_t *b);
void north__buf_stats(const north_buf_t *b, north_buf_stats_t *st);
void north__buf_free(north_buf_t *b);

/* ---- the disk side of the buffer (north_spool.c) ----------------------
 * Spills go to the spool thread (store/spool_worker.h); the replay reads
 * its rows back through it; its state is the gateway alarm storage.spool.
 * Used by north_buffer.c only. */
typedef struct north_spool north_spool_t;

int north__spool_create(north_spool_t **out, uv_loop_t *loop, north_session_t *s, gw_core_t *core,
                        gw_queue_t *inq, size_t ring_cap);
/* Hand an append op (spool_worker.h; taken) to the spool thread; returns
 * how many of its messages were dropped instead (no spool, or the thread
 * too far behind). */
size_t north__spool_spill(north_spool_t *sp, spool_op_append_t *op);
/* 1 when the spool thread runs (a spill is written, not dropped). */
int north__spool_running(const north_spool_t *sp);
void north__spool_maybe_replay(north_spool_t *sp);
void north__spool_replay_stop(north_spool_t *sp);
void north__spool_ack(north_spool_t *sp, uint64_t tag, int ok);
void north__spool_on_message(north_spool_t *sp, const gw_msg_t *m);
void north__spool_on_replay_done(north_spool_t *sp, void (*fn)(void *arg), void *arg);
/* Add the spool's figures to st (replayed, in_spool, spool_queue,
 * dropped, spool_ok). */
void north__spool_stats(const north_spool_t *sp, north_buf_stats_t *st);
/* Stop the thread (the last spill is written) and free. */
void north__spool_free(north_spool_t *sp);

/* ---- telemetry on change (north_telemetry.c) --------------------------- */
typedef struct north_tel north_tel_t;

int north__tel_create(north_tel_t **out, uv_loop_t *loop, north_session_t *s, gw_core_t *core,
                      north_buf_t *buf);
/* dev's points were updated at ts_ms: publish when due (on change,
 * deadband, heartbeat); while the client's queue is full, the message
 * waits (the latest per device) for room, and goes to the buffer when it
 * waited too long (the broker does not read). */
void north__tel_device(north_tel_t *t, const gw_device_rt_t *dev, int64_t ts_ms);
/* Publish every device's next reading whatever changed: after a replay,
 * whose messages consumers such as Home Assistant ignore (flagged
 * "replayed"), so that they learn the current values without waiting for a
 * change. */
void north__tel_refresh(north_tel_t *t);
uint64_t north__tel_suppressed(const north_tel_t *t);
/* Telemetry and the client's queue: devices waiting for room now, messages
 * that waited, messages buffered while connected because the broker did
 * not read, messages skipped (replaced by a newer poll while waiting, or
 * dropped by a reload), and whether the broker is deemed not reading (the
 * alarm mqtt.not_reading). */
typedef struct north_tel_queue {
    uint64_t waiting, deferred, skipped, buffered;
    uint64_t episode_skipped, episode_buffered; /* since the broker stopped reading */
    int stalled;
} north_tel_queue_t;
void north__tel_queue_stats(const north_tel_t *t, north_tel_queue_t *out);
/* "ok" or "broker not reading: N telemetry messages buffered[, M skipped]"
 * (the status's client_queue.state and the alarm's detail). */
void north__tel_state(const north_tel_queue_t *q, char *buf, size_t len);
/* The telemetry message of dev (docs/mqtt.md, "Telemetry"; points indexed
 * like the runtime's point table) written into w from its start, times
 * through tc. 0, or GW_ENOMEM (w->oom). */
int north__tel_payload(gw_jw_t *w, gw_jw_time_t *tc, const char *site, const gw_device_rt_t *dev,
                       const gw_point_rt_t *points, int64_t ts_ms);
void north__tel_free(north_tel_t *t);

/* ---- commands (north_commands.c) --------------------------------------- */
typedef struct north_cmd north_cmd_t;

int north__cmd_create(north_cmd_t **out, north_session_t *s, gw_core_t *core, ledger_worker_t *lw);
/* The ledger's answer to a command's change (LEDGER_EV_CHANGED). */
void north__cmd_on_changed(north_cmd_t *c, const ledger_ev_changed_t *ev);
void north__cmd_free(north_cmd_t *c);
/* Prometheus lines: commands done, and refused by reason. */
void north__cmd_metrics_text(const north_cmd_t *c, FILE *o);

/* ---- the audit chain's head, published (north_audit.c) ----------------
 * Retained on <prefix>/<site>/audit/head on every connect and daily. */
typedef struct north_audit north_audit_t;

int north__audit_create(north_audit_t **out, uv_loop_t *loop, north_session_t *s,
                        const gw_core_t *core, ledger_worker_t *lw);
/* The ledger's answer (LEDGER_EV_AUDIT_HEAD): publish it. */
void north__audit_head(north_audit_t *a, const ledger_ev_audit_head_t *ev);
void north__audit_free(north_audit_t *a);

/* ---- NB-IoT uplinks (north_nbiot.c; parsing in north_nbiot_parse.c) ---- */
typedef struct north_nbiot north_nbiot_t;

int north__nbiot_create(north_nbiot_t **out, uv_loop_t *loop, north_session_t *s, gw_core_t *core,
                        north_buf_t *buf);
cJSON *north__nbiot_metrics(const north_nbiot_t *nb);
/* The counters as Prometheus text: plantroom_nbiot_reports_total{outcome},
 * the late, clamped and stale counts, and plantroom_nbiot_rejected_total
 * {reason} (the rejected outcome by reason). NULL: zeros. */
void north__nbiot_metrics_text(const north_nbiot_t *nb, FILE *o);
void north__nbiot_free(north_nbiot_t *nb);

/* ---- Home Assistant discovery (north_hass.c) --------------------------- */
typedef struct north_hass north_hass_t;

int north__hass_create(north_hass_t **out, north_session_t *s, const gw_core_t *core);
void north__hass_free(north_hass_t *h);

/* What a point becomes in Home Assistant (north_hass_map.c, pure). */
typedef enum north_hass_kind {
    NORTH_HASS_SENSOR = 0,
    NORTH_HASS_BINARY,
    NORTH_HASS_NUMBER,
    NORTH_HASS_SWITCH,
    NORTH_HASS_SELECT,
} north_hass_kind_t;
typedef struct north_hass_entity {
    north_hass_kind_t kind;
    const char *unit;         /* Home Assistant's spelling, NULL none */
    const char *device_class; /* NULL none */
    const char *state_class;  /* NULL none (sensors only) */
    int precision;            /* suggested_display_precision, -1 none */
} north_hass_entity_t;
/* Classify pt: writable is the command entity it may be offered as
 * (NORTH_HASS_NUMBER, _SWITCH, _SELECT) or NORTH_HASS_SENSOR when it is
 * read-only here. Strings in *e point into pt or static tables. */
void north__hass_classify(const drv_point_t *pt, north_hass_kind_t writable,
                          north_hass_entity_t *e);
/* "sensor", "binary_sensor", "number", "switch", "select". */
const char *north__hass_kind_name(north_hass_kind_t k);
/* The command entity a point is offered as (north_hass_cmd.c):
 * NORTH_HASS_SWITCH, _SELECT or _NUMBER when it opts in to writes and Home
 * Assistant's sender may send setpoint unsigned, else NORTH_HASS_SENSOR. */
north_hass_kind_t north__hass_writable(const gw_config_t *c, const drv_point_t *pt);
/* Add the command fields of entity e of pt (of device) to o: the command
 * topic, the setpoint request as payloads or command_template, and the
 * options or range. */
void north__hass_command(cJSON *o, const char *topic, const char *device, const drv_point_t *pt,
                         const north_hass_entity_t *e);

#endif
