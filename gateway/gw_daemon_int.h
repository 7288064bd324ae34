/*
 * gw_daemon_int.h: the daemon's state, shared by the files of the loop
 * thread (gw_daemon.c lifecycle and reload, gw_poll.c readings, gw_rules.c
 * rule actions, gw_north.c MQTT session and publishing). Everything here is
 * owned and touched by the loop thread only.
 */
#ifndef PLANTROOM_GW_DAEMON_INT_H
#define PLANTROOM_GW_DAEMON_INT_H

#include "gateway/service/gw_control.h"
#include "gateway/gw_daemon.h"
#include "gateway/service/gw_metrics.h"
#include "gateway/notify/gw_notify.h"
#include "gateway/core/gw_runtime.h"
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

    /* rules (gw_rules.c): the timer that saves rule state to the state dir,
     * and the last outbox row looked at for "closed" (re-arm) */
    uv_timer_t rs_timer;
    int rs_writing; /* a periodic save is on libuv's pool */
    int64_t rearm_seen_id;
    /* Service (issue 8): systemd notify and watchdog, control socket,
     * metrics (gw_service.c, gw_sdnotify.c, gw_control.c, gw_metrics.c). */
    uv_timer_t svc_timer; /* every second: loop lag, figures, STATUS=, metrics */
    uv_timer_t wd_timer;  /* systemd watchdog pings */
    uint64_t svc_due_ns;  /* when svc_timer should fire next (uv_hrtime) */
    int svc_ticks;
    int svc_started;    /* timers initialised */
    int64_t started_ms; /* wall clock at start */
    gw_figures_t fig;
    gw_control_t *control;
    gw_metrics_t *metrics;
    char sd_status[256]; /* last STATUS= sent */
    int svc_stopped;
    char log_level_ov[16]; /* --log-level, applied again on every reload */
    /* Ledger feeding (gw_rollup.c, gw_north.c): 1-minute rollups being
     * accumulated, and the timer that picks up outbox rows written by
     * plantroomctl. */
    struct gw_rollup *rollup; /* owned; gw__rollup_free */
    uv_timer_t outbox_timer;
    int outbox_timer_on;
    /* notifications (gw_notify.h, gw_daemon_notify.c): NULL when stopped */
    gw_notify_t *notify;
    /* gw_write.c: Modbus writes queued to bus threads, awaiting results */
    struct gw_write_pending *writes;
    size_t nwrites, capwrites;
    uint64_t write_seq;
    /* issue 4: telemetry on change and store-and-forward (gw_telemetry.c) */
    struct gw_north *north;             /* NULL while MQTT is disabled */
    struct gw_nbiot *nbiot;             /* gw_nbiot.c; NULL while MQTT is disabled */
    struct gw_cmd_pending *cmd_pending; /* gw_commands.c: awaiting the ledger */
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

/* gw_daemon_notify.c: start the notifier (d->notify) on the daemon's loop */
int gw__notify_start(gw_daemon_t *d, char *err, size_t errlen);
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
/* The ledger's answer to a command's change; frees what is pending. */
void gw__cmd_on_changed(gw_daemon_t *d, const ledger_ev_changed_t *ev);
void gw__cmd_free(gw_daemon_t *d);
/* Answer a command on <prefix>/<site>/responses/<verb> (result: owned). */
void gw__cmd_respond(gw_daemon_t *d, const char *verb, const char *id, int rc, const char *err,
                     cJSON *result);

/* gw_hass.c: Home Assistant discovery, on connect when enabled */
void gw__hass_announce(gw_daemon_t *d);

/* gw_rules.c: run a device's rules on its latest samples */
void gw__run_rules(gw_daemon_t *d, uint32_t device_idx);
/* Re-arm device/rule after its work order was closed (rule_rearm: a counter
 * starts again from zero). For the ledger's "closed" event. 0 or GW_ENOENT. */
int gw__rules_rearm(gw_daemon_t *d, const char *device, const char *rule);
/* A work-order event from the outbox: "closed" re-arms its rule (a service
 * counter starts again). Acts once per outbox row in a run. */
void gw__rules_on_wo_event(gw_daemon_t *d, const ledger_outbox_row_t *row);
/* Load the rule-state file into the runtime and start the save timer;
 * stop: stop the timer and save (clean shutdown). */
void gw__rules_state_start(gw_daemon_t *d);
void gw__rules_state_stop(gw_daemon_t *d);

/* gw_daemon.c: reload the config file (SIGHUP, control "reload"). Returns 0
 * when applied; else the running config stays and err says why. */
int gw__reload(gw_daemon_t *d, char *err, size_t errlen);

/* gw_service.c: lifecycle of the service parts; observe every message. */
int gw__svc_start(gw_daemon_t *d, char *err, size_t errlen);
void gw__svc_ready(gw_daemon_t *d);
void gw__svc_stop(gw_daemon_t *d);
void gw__svc_observe(gw_daemon_t *d, const gw_msg_t *m);
void gw__svc_reloaded(gw_daemon_t *d, const gw_config_t *old); /* after a reload's swap */
/* gw_sdnotify.c */
void gw__sd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gw__sd_watchdog_start(gw_daemon_t *d);
/* gw_metrics.c: the Prometheus text of the figures now (malloc'd). */
char *gw__metrics_render(gw_daemon_t *d);

/* gw_rollup.c: per-point 1-minute rollups and device status for the ledger.
 * _reading after each reading of dev; _flush submits the open buckets (at
 * stop); _policy sends the config's ledger policy to the ledger thread. */
void gw__rollup_reading(gw_daemon_t *d, const gw_device_rt_t *dev);
void gw__rollup_flush(gw_daemon_t *d);
void gw__rollup_free(gw_daemon_t *d);
void gw__ledger_policy(gw_daemon_t *d);

/* gw_poll.c: Modbus readings into samples, device online/offline */
void gw__on_reading(gw_daemon_t *d, const mb_reading_t *r);
void gw__on_bus_state(gw_daemon_t *d, const mb_bus_state_t *s);

/* gw_write.c: writes to Modbus points (FC 05/06/15/16), results async.
 * gw__point_write checks and queues a write of an engineering value to a
 * coil or holding-register point; it refuses read-only points (discrete
 * inputs, input registers), bit fields, strings and out-of-range values
 * with a reason in err. Returns 0 with *id_out set (may be NULL), or
 * GW_ENOENT / GW_EINVAL / GW_ESTATE / GW_ENOMEM. On 0, cb (may be NULL) is
 * called exactly once on the loop thread with the result: rc 0, or
 * GW_ETIMEDOUT, GW_EIO, GW_EPROTO (err names the Modbus exception),
 * GW_ESTATE (bus stopped first, e.g. by a reload); never if the daemon
 * is destroyed first. */
typedef void (*gw_write_cb)(gw_daemon_t *d, uint64_t id, int rc, const char *err, void *arg);
int gw__point_write(gw_daemon_t *d, const char *device, const char *point, double value,
                    gw_write_cb cb, void *arg, uint64_t *id_out, char *err, size_t errlen);
void gw__on_write_done(gw_daemon_t *d, const mb_write_t *w);
void gw__writes_free(gw_daemon_t *d);

#endif
