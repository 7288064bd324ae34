/*
 * gw_notify.h: notifications for facility managers (docs/hooks.md).
 *
 * Every work-order event the ledger commits (its outbox rows, channel
 * "workorder") is offered to gw_notify_on_event. The notifier routes the
 * alert to groups (gw_route.h), folds what arrives within a group's
 * group_wait into one message, holds what quiet hours hold, repeats and
 * escalates what stays unacknowledged, announces what clears, mutes the
 * alerts of a device that is offline, and delivers each message to each
 * member of the group through its hook (protocols/hooks/hk.h) with retries,
 * backoff and a rate limit per recipient.
 *
 * Durability (store/notify_store.h, state_dir/notify.db): events are taken
 * in (those of one loop iteration in one transaction, right after the
 * iteration's poll phase), and messages are queued in one transaction per
 * flushed batch, before anything is sent; a message is marked sent only after its hook succeeded. A
 * crash between the hook's success and that mark sends the message again after the restart (at
 * least once; the work-order numbers in the text tell a human it is the same). Never lost, never
 * repeated once recorded.
 *
 * Loop thread only.
 */
#ifndef PLANTROOM_GW_NOTIFY_H
#define PLANTROOM_GW_NOTIFY_H

#include "gateway/config/gw_config.h"

#include <stdio.h>
#include <uv.h>

typedef struct gw_notify gw_notify_t;

/* What the notifier asks of its host (the daemon, or a test driver). */
typedef struct gw_notify_env {
    /* The device's location; strings owned by the host, "" when unknown. */
    void (*device_location)(void *arg, const char *device, const char **building,
                            const char **floor, const char **room);
    /* 1 when the device is offline now (its alerts are muted). */
    int (*device_offline)(void *arg, const char *device);
    void *arg;
} gw_notify_env_t;

/* Open state_dir/notify.db, start the hooks and the notifier's timer on
 * loop. cfg must outlive the notifier or be replaced with
 * gw_notify_set_config. Warns when the config file is readable by others
 * (it holds phone numbers). Returns 0 or a negative code with err. */
int gw_notify_start(gw_notify_t **out, uv_loop_t *loop, const gw_config_t *cfg,
                    const gw_notify_env_t *env, char *err, size_t errlen);
/* After a reload: use cfg from now on (names are looked up again). */
void gw_notify_set_config(gw_notify_t *n, const gw_config_t *cfg);
/* A committed outbox row: copied, and taken in after this loop iteration's
 * poll phase together with the others of the iteration (before an MQTT
 * acknowledgement of the row can be handled). Channels "workorder" (alerts)
 * and "report" (the monthly report, sent to the groups of the routes that
 * list the category "report"); others are ignored, and so is an event
 * already taken in (same event_id). */
void gw_notify_on_event(gw_notify_t *n, const char *channel, const char *payload);
/* Delivery attempts that succeeded and that failed since start (a message
 * retried three times then delivered counts 3 failures and 1 delivery).
 * NULL: zeros. */
void gw_notify_counts(const gw_notify_t *n, uint64_t *delivered, uint64_t *failures);
/* The hook delivery counters as Prometheus lines (notify_metrics.c).
 * NULL n: zeros. */
void gw_notify_metrics_text(const gw_notify_t *n, FILE *o);
/* Stop: deliveries in flight are cancelled (their messages stay pending
 * and are sent after the next start). Frees n once the loop has run the
 * close callbacks. NULL is a no-op. */
void gw_notify_stop(gw_notify_t *n);

#endif
