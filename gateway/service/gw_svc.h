/*
 * gw_svc.h: the parts that make plantroomd a well-behaved service
 * (docs/operations.md): the control socket and its commands (status,
 * reload, ping, write), the figures and the Prometheus endpoint, and
 * systemd's notifications (READY, STATUS, WATCHDOG). Loop thread only.
 *
 * The service reads the core (gw_core.h) for devices, rules and buses. What
 * it shows of the other parts (MQTT, notifications) comes from sources the
 * daemon registers (gw_svc_source_t), and a reload is a function the
 * daemon hands over: the service never includes the parts beside it.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_SVC_H
#define PLANTROOM_GW_SVC_H

#include "gateway/core/gw_core.h"
#include "store/ledger_worker.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <uv.h>

typedef struct gw_svc gw_svc_t;

/* Reload the configuration (SIGHUP's work): 0, or a negative code with the
 * reason in err (the running configuration stays). */
typedef int (*gw_svc_reload_fn)(void *arg, char *err, size_t errlen);

/* What the service works with; none of it owned. */
typedef struct gw_svc_env {
    uv_loop_t *loop;
    gw_core_t *core;
    ledger_worker_t *ledger; /* may be NULL */
    gw_queue_t *inq;         /* the loop's queue, for its depth */
    gw_svc_reload_fn reload;
    void *reload_arg;
} gw_svc_env_t;

/* Another part's contribution to status and metrics. Each may be NULL. */
typedef struct gw_svc_source {
    void (*status)(void *arg, cJSON *res);              /* add members to the status answer */
    void (*metrics)(void *arg, FILE *o);                /* append Prometheus lines */
    void (*brief)(void *arg, char *buf, size_t buflen); /* words for STATUS= */
    void *arg;
} gw_svc_source_t;

/* Create the service; nothing runs yet, but messages are counted. */
int gw_svc_create(gw_svc_t **out, const gw_svc_env_t *env);
/* Register a source (copied; at most 4). */
void gw_svc_add_source(gw_svc_t *s, const gw_svc_source_t *src);
/* Start the control socket, the metrics endpoint and the 1 s tick. 0, or a
 * negative code with err. */
int gw_svc_start(gw_svc_t *s, char *err, size_t errlen);
/* Tell systemd we are ready and start the watchdog pings. */
void gw_svc_ready(gw_svc_t *s);
/* Tell systemd we stop; close the socket and the endpoint. Idempotent. */
void gw_svc_stop(gw_svc_t *s);
/* Free (after gw_svc_stop and after the loop closed the handles). */
void gw_svc_free(gw_svc_t *s);
/* Count a message the loop is about to dispatch (polls, bus state, ledger
 * counts). NULL s: no-op. */
void gw_svc_observe(gw_svc_t *s, const gw_msg_t *m);
/* After a reload's swap: warn about settings that need a restart. */
void gw_svc_reloaded(gw_svc_t *s, const gw_config_t *old);

#endif
