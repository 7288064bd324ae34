/*
 * gw_north.h: the north side of the daemon: everything that goes over MQTT
 * (docs/mqtt.md). The session to the broker (last will, backoff with
 * jitter), gateway and device status, work-order events from the ledger's
 * outbox, telemetry on change with store-and-forward, commands, NB-IoT
 * uplinks and Home Assistant discovery. Loop thread only.
 *
 * The north side reads the point table through the core (gw_core.h) and
 * writes points and runs rules only through it; the core tells it what
 * changed through the listener functions below, which the daemon installs.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_NORTH_H
#define PLANTROOM_GW_NORTH_H

#include "gateway/core/gw_core.h"
#include "store/ledger_worker.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <uv.h>

typedef struct gw_north gw_north_t;

/* What the north side works with; none of it is owned. */
typedef struct gw_north_env {
    uv_loop_t *loop;
    gw_queue_t *inq; /* paho's callbacks post here (MQ_EV_*) */
    gw_core_t *core;
    ledger_worker_t *ledger;
} gw_north_env_t;

/* Create the north side; nothing connects yet. 0 or GW_ENOMEM. */
int gw_north_create(gw_north_t **out, const gw_north_env_t *env);
/* Connect to the broker of the current config (a no-op, logged, when
 * mqtt.enabled is false). The parts are created on the first start and kept
 * across restarts of the session. 0, or a negative code with err. */
int gw_north_start(gw_north_t *n, char *err, size_t errlen);
/* Publish "offline", disconnect (waiting up to 2 s), keep buffered
 * telemetry in the spool. A no-op when not started. */
void gw_north_stop(gw_north_t *n);
/* Free everything (after the loop has closed the handles). NULL: no-op. */
void gw_north_free(gw_north_t *n);

/* A reload: before the core swaps in cfg, stop the session if the MQTT
 * settings changed; after the swap, start it again. */
void gw_north_reload_begin(gw_north_t *n, const gw_config_t *cfg);
void gw_north_reload_end(gw_north_t *n);

/* Messages for the north side: MQ_EV_* from paho; the ledger's committed
 * outbox rows (LEDGER_EV_OUTBOX), answers to commands (LEDGER_EV_CHANGED)
 * and the audit chain's head to publish (LEDGER_EV_AUDIT_HEAD). Others
 * are ignored. */
void gw_north_on_message(gw_north_t *n, const gw_msg_t *m);

/* Listener functions for the core (gw_core_listener_t; arg: gw_north_t). */
void gw_north_device_status(void *arg, const gw_device_rt_t *dev);
void gw_north_device_updated(void *arg, const gw_device_rt_t *dev, int64_t ts_ms);
/* A gateway alarm raised or cleared: the gateway status is published
 * again (retained) with "health" and the "alarms" raised now. */
void gw_north_alarm(void *arg, const gw_alarm_t *a, int raised);

/* For the service (arg: gw_north_t): the "mqtt" object of the status
 * answer, the MQTT Prometheus lines, and a few words for systemd's status
 * line ("broker connected"). */
void gw_north_status_json(void *arg, cJSON *res);
void gw_north_metrics_text(void *arg, FILE *o);
void gw_north_brief(void *arg, char *buf, size_t len);

#endif
