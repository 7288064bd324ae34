/*
 * gw_daemon.h: the daemon: one libuv loop that owns all state.
 *
 * Bus threads, paho's threads and the ledger thread hand their results to
 * one queue that the loop drains (uv_async). On the loop: decode readings
 * into samples (drivers), run rules, send their actions to the ledger
 * thread, publish telemetry and, once committed, work-order events from the
 * outbox. Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads.
 * docs/architecture.md explains the design.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_DAEMON_H
#define PLANTROOM_GW_DAEMON_H

#include "gateway/config/gw_config.h"

typedef struct gw_daemon gw_daemon_t;

/* Create the daemon for a loaded config (the daemon takes ownership of cfg,
 * also on failure): open the ledger, start the bus threads, connect MQTT.
 * overrides are kept for reloads. Returns 0 or a negative code with the
 * reason in err. */
int gw_daemon_create(gw_daemon_t **out, gw_config_t *cfg, const gw_config_overrides_t *ov,
                     char *err, size_t errlen);
/* Run the loop until SIGTERM or SIGINT; then shut down in order (buses
 * stopped, pending ledger writes committed, MQTT disconnected). Returns 0. */
int gw_daemon_run(gw_daemon_t *d);
void gw_daemon_destroy(gw_daemon_t *d);

#endif
