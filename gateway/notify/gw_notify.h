/*
 * gw_notify.h: notifications for facility managers (docs/hooks.md).
 *
 * Every work-order event the ledger commits (its outbox rows, channel
 * "workorder"), and every provisional one it could not commit yet, is
 * offered to gw_notify_on_event. The notifier routes the alert to groups
 * (gw_route.h), folds what arrives within a group's group_wait into one
 * message, holds what quiet hours hold, repeats and escalates what stays
 * unacknowledged, announces what clears, mutes the alerts of a device that
 * is offline, and delivers each message to each member of the group
 * through its hook (protocols/hooks/hk.h) with retries, backoff and a rate
 * limit per recipient. Waits run on the monotonic clock. The monthly
 * report (outbox channel "report") goes to the groups of the routes that
 * list the category "report", held by quiet hours until the morning.
 *
 * Durability (docs/hooks.md, "Durability"): the state lives in memory and
 * is written behind, in order, to state_dir/notify.db by the notifier's
 * store thread (store/notify_worker.h). An event is answered
 * (event_stored) only once its record is committed; a message goes out
 * once its record is committed, or at once while notify.db cannot be
 * written (an SMS does not wait for the disk; it is recorded when the disk
 * returns); a message is marked sent only after its hook succeeded. A
 * crash between the hook's success and that mark sends the message again
 * after the restart (at least once).
 *
 * Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_NOTIFY_H
#define PLANTROOM_GW_NOTIFY_H

#include "gateway/config/gw_config.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

typedef struct gw_notify gw_notify_t;

/* What the notifier asks of its host (the daemon, or a test driver). Any
 * function may be NULL. */
typedef struct gw_notify_env {
    /* The device's location; strings owned by the host, "" when unknown. */
    void (*device_location)(void *arg, const char *device, const char **building,
                            const char **floor, const char **room);
    /* 1 when the device is offline now (its alerts are muted). */
    int (*device_offline)(void *arg, const char *device);
    /* The outbox row outbox_id is durably recorded in notify.db (or was
     * already: a duplicate by event_id, or a row the notifier ignores):
     * the ledger may let it go as far as the notifier is concerned. Called
     * once per offer, on the loop, after the commit. */
    void (*event_stored)(void *arg, int64_t outbox_id);
    /* A gateway alarm (key "storage.notify") raised with a one-line detail,
     * raised again with a new detail, or cleared (raised 0, detail NULL). */
    void (*alarm)(void *arg, const char *key, int raised, const char *detail);
    void *arg;
} gw_notify_env_t;

/* Check, open (moving a damaged file aside) and load state_dir/notify.db,
 * start its store thread, the hooks and the notifier's timer on loop. cfg
 * must outlive the notifier or be replaced with gw_notify_set_config. A
 * notify.db that cannot be opened is not an error: the notifier works from
 * memory and raises the alarm. Warns when the config file is readable by
 * others (it holds phone numbers). Returns 0 or a negative code with err
 * (out of memory, no thread). */
int gw_notify_start(gw_notify_t **out, uv_loop_t *loop, const gw_config_t *cfg,
                    const gw_notify_env_t *env, char *err, size_t errlen);
/* After a reload: use cfg from now on (names are looked up again, the
 * zone of quiet hours is read again, retention applied). */
void gw_notify_set_config(gw_notify_t *n, const gw_config_t *cfg);
/* An event: the outbox row outbox_id (0: it has none, e.g. a provisional
 * event, "durable": false), taken in at once. Channels "workorder" (alerts)
 * and "report" (the monthly report, sent to the groups of the routes that
 * list the category "report"); rows of other channels are answered at
 * once and ignored; an event already taken in (same event_id) is answered
 * once its record is committed. */
void gw_notify_on_event(gw_notify_t *n, int64_t outbox_id, const char *channel,
                        const char *payload);
/* Delivery attempts that succeeded and that failed since start (a message
 * retried three times then delivered counts 3 failures and 1 delivery).
 * NULL: zeros. */
void gw_notify_counts(const gw_notify_t *n, uint64_t *delivered, uint64_t *failures);
/* The notifier's figures as Prometheus lines, and as the "notify" member
 * of the status answer (notify_metrics.c): deliveries, the health of
 * notify.db, the depth of the write queue, the rows in memory and in the
 * file, what the bounds dropped. NULL n: zeros / nothing. */
void gw_notify_metrics_text(const gw_notify_t *n, FILE *o);
void gw_notify_status_json(const gw_notify_t *n, cJSON *res);
/* Stop: deliveries in flight are cancelled (their messages stay pending
 * and are sent after the next start); what waits for notify.db is written
 * (a failing disk is tried a few more times). Frees n once the loop has
 * run the close callbacks. NULL is a no-op. */
void gw_notify_stop(gw_notify_t *n);

#endif
