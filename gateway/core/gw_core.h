/*
 * gw_core.h: the core of the daemon, on the loop thread: the point table
 * (gw_runtime.h), polling (Modbus readings into samples, devices online and
 * offline), the rules and their actions into the ledger, rule state across
 * restarts, telemetry rollups for the ledger, and writes to Modbus points.
 *
 * The core knows nothing of MQTT, notifications or the service. What
 * happens to a device is told through a listener the daemon sets (the
 * north side publishes it); what parts above need to read (config, point
 * table) they read through gw_core_runtime. Everything here runs on the
 * loop thread; bus threads post their readings to the queue given to
 * gw_core_start_buses and the daemon hands them back to gw_core_on_message.
 * docs/architecture.md, "Data flow", explains the design.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_CORE_H
#define PLANTROOM_GW_CORE_H

#include "gateway/core/gw_runtime.h"
#include "gateway/core/gw_write.h"
#include "store/ledger_worker.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <uv.h>

typedef struct gw_core gw_core_t;

/* A gateway alarm: a fault of the gateway itself (core_alarm.c). */
#define GW_ALARM_KEY_MAX    64
#define GW_ALARM_DETAIL_MAX 200
#define GW_ALARM_DEVICE     "gateway" /* the device name of its work orders */
typedef struct gw_alarm {
    char key[GW_ALARM_KEY_MAX]; /* "storage.ledger", "thread.bus.<name>", ... */
    char detail[GW_ALARM_DETAIL_MAX];
    gw_priority_t priority;
    int64_t since_ms; /* wall clock when raised */
} gw_alarm_t;

/* What the core tells the parts above it. Both may be NULL. */
typedef struct gw_core_listener {
    /* dev went online or offline (dev->status is the new status). */
    void (*device_status)(void *arg, const gw_device_rt_t *dev);
    /* dev's points changed (a poll, a pushed report, staleness) and its
     * rules have run on them; ts_ms is the readings' wall-clock time. */
    void (*device_updated)(void *arg, const gw_device_rt_t *dev, int64_t ts_ms);
    /* a gateway alarm was raised (1) or cleared (0); a is only valid in the call */
    void (*alarm)(void *arg, const gw_alarm_t *a, int raised);
    void *arg;
} gw_core_listener_t;

/* Build the core for a validated config (taking ownership of cfg, also on
 * failure). Nothing runs yet. Returns 0 or a negative code with err. */
int gw_core_create(gw_core_t **out, uv_loop_t *loop, gw_config_t *cfg, char *err, size_t errlen);
void gw_core_set_listener(gw_core_t *c, const gw_core_listener_t *l);
/* Where rule actions, rollups and device changes go (not owned; NULL: to
 * nowhere). */
void gw_core_set_ledger(gw_core_t *c, ledger_worker_t *lw);
/* Load state_dir/rules.state into the rules and start the periodic save. */
void gw_core_rules_state_start(gw_core_t *c);
/* Start one thread per bus; readings go to q (kept for reloads). Each
 * device's poll deadline starts now (core_live.c). */
int gw_core_start_buses(gw_core_t *c, gw_queue_t *q, char *err, size_t errlen);
/* Stop every bus thread, all together: each is asked, then each joined
 * (their last readings stay in the queue). */
void gw_core_stop_buses(gw_core_t *c);
/* Start the liveness timer (core_live.c): device poll deadlines, stuck
 * threads (gateway alarms thread.bus.<bus>, thread.ledger) and wall-clock
 * steps. */
void gw_core_liveness_start(gw_core_t *c);
/* 1 when every bus thread and the ledger thread made progress within its
 * stall limit (liveness.thread_stall_ms, or a bus's longer request bound);
 * else 0 with the first stuck one named in why. The service feeds systemd's
 * watchdog only on 1. */
int gw_core_threads_ok(const gw_core_t *c, char *why, size_t whylen);
/* At a clean stop, after the last readings were handled: save rule state
 * (waiting for a periodic save in flight) and submit open rollup buckets. */
void gw_core_shutdown(gw_core_t *c);
/* Free the core (buses stopped; its timer closed by the loop). NULL: no-op. */
void gw_core_free(gw_core_t *c);

/* The point table and config now (replaced by gw_core_swap). */
const gw_runtime_t *gw_core_runtime(const gw_core_t *c);
const gw_config_t *gw_core_config(const gw_core_t *c);

/* A message from a bus thread (MB_EV_*): returns 1 when it was one. */
int gw_core_on_message(gw_core_t *c, const gw_msg_t *m);

/* Reload: make rt (built by gw_runtime_build from the new config) current,
 * carrying device and rule state over by name. Buses must be stopped and
 * their readings handled. Returns the old runtime: the caller frees it
 * (gw_runtime_free) once every part has let go of its config. */
gw_runtime_t *gw_core_swap(gw_core_t *c, gw_runtime_t *rt);
/* Send the config's ledger policy (SLA, routing, retention) to the ledger. */
void gw_core_ledger_policy(gw_core_t *c);

/* Points pushed by a source other than a bus (NB-IoT reports): set a
 * point's sample, every point of a device to one quality (a bad one as of
 * now, both clocks), the device's last good time (wall and monotonic);
 * change its status (1 when it changed: the listener was told); then
 * gw_core_device_updated runs its rules and tells the listener. */
void gw_core_point_set(gw_core_t *c, uint32_t point_id, const gw_sample_t *s);
void gw_core_device_mark(gw_core_t *c, size_t dev, gw_quality_t q);
void gw_core_device_seen(gw_core_t *c, size_t dev, int64_t ts_ms, int64_t mono_ms);
int gw_core_device_status(gw_core_t *c, size_t dev, gw_dev_status_t st, const char *err);
void gw_core_device_updated(gw_core_t *c, size_t dev, int64_t ts_ms);

/* Write an engineering value to a point for who (gw_write.h,
 * gw_writes_submit). Every outcome, a refusal included, becomes an audit
 * row "write" in the ledger (who, the point, old and new value, result). */
int gw_core_point_write(gw_core_t *c, const gw_write_who_t *who, const char *device,
                        const char *point, double value, gw_write_cb cb, void *arg,
                        uint64_t *id_out, char *err, size_t errlen);

/* A committed work-order event (an outbox row): "closed" re-arms its rule
 * (a service counter starts again). Acts once per outbox row in a run. */
void gw_core_on_wo_event(gw_core_t *c, const ledger_outbox_row_t *row);
/* Re-arm device/rule after its work order was closed (counter and trend
 * rules only; rule_rearm). 0 or GW_ENOENT. */
int gw_core_rules_rearm(gw_core_t *c, const char *device, const char *rule);
/* Ask the ledger for its active work orders (at start, after a reload);
 * the answer, LEDGER_EV_ACTIVE, goes to gw_core_on_active: every rule with
 * an active order whose condition has not cleared resumes firing (and
 * clears it through its normal logic when the condition is gone); a firing
 * rule without one returns to normal (rule_reconcile); active gateway-alarm
 * orders this run has not raised are remembered, to be cleared when their
 * condition is seen gone. Only the answer to the last question counts. */
void gw_core_reconcile(gw_core_t *c);
void gw_core_on_active(gw_core_t *c, const ledger_ev_active_t *ev);

/* Gateway alarms (core_alarm.c). Raise key with a priority and a detail
 * (printf format): logged at error, shown in status and metrics, told to
 * the listener, opened as a work order of device "gateway" (rule = key).
 * Raising it again only refreshes the detail. Returns 1 when newly raised,
 * 0 when it already was, GW_ENOMEM. Clear: 1 when it was raised (its work
 * order's condition clears), else 0. gw_core_alarms: the raised ones. */
int gw_core_alarm_raise(gw_core_t *c, const char *key, gw_priority_t prio, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int gw_core_alarm_clear(gw_core_t *c, const char *key);
size_t gw_core_alarms(const gw_core_t *c, const gw_alarm_t **out);

/* For the service: "devices", "rules" and "alarms" of the status answer
 * added to res (core_status.c), and their Prometheus lines. */
void gw_core_status_json(const gw_core_t *c, cJSON *res);
void gw_core_metrics_text(const gw_core_t *c, FILE *o);

#endif
