/*
 * gw_daemon_int.h: the daemon's state, shared by the files of the loop
 * thread (gw_daemon.c lifecycle and reload, gw_poll.c readings, gw_rules.c
 * rule actions, gw_north.c MQTT session and publishing). Everything here is
 * owned and touched by the loop thread only.
 */
#ifndef PLANTROOM_GW_DAEMON_INT_H
#define PLANTROOM_GW_DAEMON_INT_H

#include "gateway/gw_daemon.h"
#include "gateway/gw_runtime.h"
#include "protocols/mqtt/mq.h"
#include "store/ledger_worker.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <uv.h>

struct gw_daemon {
    uv_loop_t loop;
    uv_async_t wake;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t mq_timer;
    gw_queue_t inq;
    gw_config_overrides_t ov;
    char state_dir_ov[PATH_MAX];

    gw_runtime_t *rt;
    ledger_worker_t *ledger;
    mq_client_t *mq;
    int mq_backoff_ms;
    int mq_failures; /* consecutive failed connects, for log throttling */
    int stopping;

    int64_t *inflight; /* outbox ids published, not yet acknowledged */
    size_t ninflight, capinflight;
    uint64_t telemetry_sent, telemetry_dropped;

    /* issue 4: telemetry on change and store-and-forward (gw_telemetry.c) */
    struct gw_north *north; /* NULL while MQTT is disabled */
    struct gw_nbiot *nbiot; /* gw_nbiot.c; NULL while MQTT is disabled */
};

/* gw_north.c: MQTT session, publishing, outbox delivery */
void gw__topic(const gw_daemon_t *d, char *buf, size_t len, const char *suffix);
void gw__publish_json(gw_daemon_t *d, const char *suffix, cJSON *obj, int qos, int retain);
void gw__publish_gateway_status(gw_daemon_t *d, const char *status);
void gw__publish_device_status(gw_daemon_t *d, const gw_device_rt_t *dev);
void gw__publish_telemetry(gw_daemon_t *d, const gw_device_rt_t *dev, int64_t ts_ms);
int gw__mq_start(gw_daemon_t *d, char *err, size_t errlen);
void gw__mq_stop(gw_daemon_t *d);
void gw__on_mq_event(gw_daemon_t *d, gw_msg_t *m);
void gw__on_ledger_event(gw_daemon_t *d, gw_msg_t *m);

/* gw_telemetry.c: telemetry on change, buffer and spool, replay. Tags of
 * replayed telemetry have GW_TAG_SPOOL set (outbox tags are row ids). */
#define GW_TAG_SPOOL (1ULL << 62)
#define GW_TAG_LIVE  (1ULL << 61) /* live telemetry at QoS 1 */
typedef struct gw_north gw_north_t;
int gw__north_init(gw_daemon_t *d, char *err, size_t errlen);
void gw__north_flush(gw_daemon_t *d);
void gw__north_free(gw_daemon_t *d);
void gw__north_on_connected(gw_daemon_t *d);
void gw__north_on_disconnected(gw_daemon_t *d);
void gw__north_on_spool_ack(gw_daemon_t *d, uint64_t tag, int ok);
void gw__north_on_live_ack(gw_daemon_t *d, uint64_t tag, int ok);
cJSON *gw__north_metrics(gw_daemon_t *d);
double gw__north_dropped(gw_daemon_t *d);
void gw__publish_metrics(gw_daemon_t *d);
/* Publish a telemetry text now, or buffer it (store-and-forward). */
void gw__publish_telemetry_text(gw_daemon_t *d, const char *topic, const char *text, int64_t ts_ms);

/* gw_nbiot.c: NB-IoT reports (CTWing, OneNET) from MQTT into points */
typedef struct gw_nbiot gw_nbiot_t;
int gw__nbiot_init(gw_daemon_t *d, char *err, size_t errlen);
void gw__nbiot_free(gw_daemon_t *d);
void gw__nbiot_on_connected(gw_daemon_t *d);
void gw__nbiot_on_message(gw_daemon_t *d, const mq_message_t *m);
cJSON *gw__nbiot_metrics(gw_daemon_t *d);

/* gw_commands.c: commands over MQTT (work orders, setpoints) */
int gw__cmd_is_command(const gw_daemon_t *d, const char *topic);
void gw__cmd_on_message(gw_daemon_t *d, const mq_message_t *m);
void gw__cmd_on_connected(gw_daemon_t *d);
/* Answer a command on <prefix>/<site>/responses/<verb> (result: owned). */
void gw__cmd_respond(gw_daemon_t *d, const char *verb, const char *id, int rc, const char *err,
                     cJSON *result);

/* gw_hass.c: Home Assistant discovery, on connect when enabled */
void gw__hass_announce(gw_daemon_t *d);

/* gw_rules.c: run a device's rules on its latest samples */
void gw__run_rules(gw_daemon_t *d, uint32_t device_idx);

/* gw_poll.c: Modbus readings into samples, device online/offline */
void gw__on_reading(gw_daemon_t *d, const mb_reading_t *r);
void gw__on_bus_state(gw_daemon_t *d, const mb_bus_state_t *s);

#endif
