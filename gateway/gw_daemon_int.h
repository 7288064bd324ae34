/*
 * gw_daemon_int.h: the daemon's wiring, private to the files of gateway/
 * itself (gw_daemon.c lifecycle and signals, gw_reload.c reloads, gw_wire.c
 * dispatch and the connections between parts). The daemon owns the loop,
 * the queue every thread posts to, and one pointer per part; a part
 * reaches another only through that part's header:
 *
 *   gw_daemon.c -> gw_reload.c -> gw_wire.c -> gw_storage.c
 *
 * Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_DAEMON_INT_H
#define PLANTROOM_GW_DAEMON_INT_H

#include "gateway/core/gw_core.h"
#include "gateway/gw_daemon.h"
#include "gateway/north/gw_north.h"
#include "gateway/notify/gw_notify.h"
#include "gateway/service/gw_svc.h"
#include "store/ledger_worker.h"

#include <limits.h>
#include <uv.h>

struct gw_daemon {
    uv_loop_t loop;
    uv_async_t wake;
    uv_signal_t sig_term, sig_int, sig_hup;
    gw_queue_t inq; /* every thread's results for the loop */
    gw_config_overrides_t ov;
    char state_dir_ov[PATH_MAX];
    char log_level_ov[16]; /* --log-level, applied again on every reload */
    int stopping;
    int reloading; /* gw__reload runs: another one is refused */

    ledger_worker_t *ledger;
    char ledger_corrupt[GW_ALARM_DETAIL_MAX]; /* a damaged ledger moved aside this run */
    gw_core_t *core;
    gw_north_t *north;
    gw_notify_t *notify; /* NULL when stopped */
    gw_svc_t *svc;
};

/* gw_wire.c: take everything queued and hand each message to its part. */
void gw__drain(gw_daemon_t *d);
/* The same, but Modbus write results are kept back and returned (a list
 * linked by ->next, oldest first; NULL: none): a reload hands them on
 * with gw__dispatch_list once the new configuration is in place. */
gw_msg_t *gw__drain_hold_writes(gw_daemon_t *d);
/* Dispatch and free a list of messages, oldest first. */
void gw__dispatch_list(gw_daemon_t *d, gw_msg_t *list);
/* Connect the parts: the core's listener to the north side, the north side
 * and the notifier as the service's sources. */
void gw__wire(gw_daemon_t *d);
/* Start the notifier on the daemon's loop, its questions about devices
 * answered by the core. */
int gw__notify_start(gw_daemon_t *d, char *err, size_t errlen);

/* gw_storage.c: the ledger's storage state as the gateway alarm
 * storage.ledger; the "storage" member of the status answer and the
 * ledger's storage metrics (a service source; arg: the daemon). */
void gw__storage_ledger_health(gw_daemon_t *d, const ledger_ev_health_t *ev);
/* The ledger went on past a damaged audit row: the alarm storage.audit
 * (stays until the daemon restarts: the evidence needs a person). */
void gw__storage_audit_break(gw_daemon_t *d, const ledger_ev_audit_break_t *ev);
void gw__storage_status_json(void *arg, cJSON *res);
void gw__storage_metrics_text(void *arg, FILE *o);

/* gw_reload.c: reload the config file (SIGHUP, control "reload"). Returns
 * 0 when applied; else the running config stays and err says why. arg is
 * the daemon (a gw_svc_reload_fn). */
int gw__reload(void *arg, char *err, size_t errlen);

#endif
