/*
 * gw_notify.c: the notifier's public face (gw_notify.h; design in
 * docs/hooks.md): start, reload, events offered, counts, stop.
 *
 * The state lives in memory, loaded once from notify.db at start and
 * written behind by the store thread; a tick every GW_NOTIFY__TICK_MS
 * (GW_NOTIFY__IDLE_TICK_MS while nothing is held in memory)
 * (1) flushes the groups whose group_wait has passed, (2) queues repeats
 * and escalations that fell due, (3) starts the pending messages that are
 * due, recorded, and whose recipient's rate limit allows. The decisions
 * themselves are pure functions in gw_route.c; local time comes from
 * gw_tz.c.
 *
 * The files, each calling only those listed below it (no circle; the
 * private state and their shared functions are in notify_int.h):
 *   gw_notify.c        this file
 *   notify_metrics.c   figures for the status answer and Prometheus
 *   notify_schedule.c  the tick, the store thread's results, housekeeping
 *   notify_ingest.c    events taken in: event ids, alert state, routing into batches
 *   notify_report.c    the monthly report: routed to groups, queued as messages
 *   notify_flush.c     batches into messages: group wait, quiet hours, inhibition
 *   notify_deliver.c   messages through hooks: rate limit, retries, backoff
 *   notify_mail.c      a message as a mail (MIME) for sendmail-compatible hooks
 *   notify_text.c      the alert JSON, hook templates, webhook bodies
 *   notify_load.c      notify.db at start: check, move aside, load, re-anchor
 *   notify_persist.c   write-behind through the store thread, event_stored, the alarm
 *   notify_state.c     the tables in memory
 *   notify_lookup.c    lookups by name, the host's location, JSON strings, bounds
 *   gw_route.c         the pure decisions (gw_route.h)
 *   gw_tz.c            local time from the system's zoneinfo (gw_tz.h)
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/gw_notify.h"
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void gw_notify_on_event(gw_notify_t *n, int64_t outbox_id, const char *channel, const char *payload)
{
    if (!n || n->stopping)
        return;
    notify__tick_busy(n); /* a group wait starts: the tick at its full rate */
    if (strcmp(channel, "workorder") == 0)
        notify__ingest(n, outbox_id, payload);
    else if (strcmp(channel, "report") == 0)
        notify__report_take(n, outbox_id, payload);
    else
        notify__p_ack(n, outbox_id); /* not the notifier's business */
}

void gw_notify_counts(const gw_notify_t *n, uint64_t *delivered, uint64_t *failures)
{
    *delivered = n ? n->delivered : 0;
    *failures = n ? n->failures : 0;
}

/* ---- life cycle ------------------------------------------------------------ */

/* Use cfg; the rate limiter starts afresh. */
static void notify__config(gw_notify_t *n, const gw_config_t *cfg)
{
    int64_t *g;

    n->cfg = cfg;
    n->cfg_gen++;
    g = realloc(n->last_send, (cfg->notify.nrecipients + 1) * sizeof(*g));
    if (g) {
        for (size_t i = 0; i <= cfg->notify.nrecipients; i++)
            g[i] = INT64_MIN / 2; /* long ago */
        n->last_send = g;
        n->nlast_send = cfg->notify.nrecipients;
    }
}

void gw_notify_set_config(gw_notify_t *n, const gw_config_t *cfg)
{
    if (!n)
        return;
    notify__config(n, cfg);
    notify__housekeeping(n); /* new retention, the zone read again */
    notify__tick_busy(n);
}

static void notify__warn_mode(const gw_config_t *cfg)
{
    struct stat st;

    if (cfg->notify.nrecipients == 0 && cfg->notify.nhooks == 0)
        return;
    if (stat(cfg->path, &st) == 0 && (st.st_mode & 0004))
        gw_log_warn("notify",
                    "%s is readable by every user but holds phone numbers (recipients) and "
                    "hook settings: chmod o-r it",
                    cfg->path);
}

static void notify__closed(uv_handle_t *h)
{
    gw_notify_t *n = h->data;

    if (--n->open_handles > 0)
        return;
    notify__state_free(n);
    free(n->p.acks);
    gw_queue_destroy(&n->results);
    gw_tz_free(n->zone);
    free(n->last_send);
    free(n->hookfig);
    free(n);
}

static void notify__close(gw_notify_t *n)
{
    uv_timer_stop(&n->tick);
    uv_check_stop(&n->push);
    uv_close((uv_handle_t *)&n->tick, notify__closed);
    uv_close((uv_handle_t *)&n->push, notify__closed);
    uv_close((uv_handle_t *)&n->wake, notify__closed);
}

static void notify__wake_send(void *arg)
{
    uv_async_send(arg);
}

/* The handles first (none can fail), so that an error after them unwinds
 * through notify__close. */
static int notify__handles(gw_notify_t *n, uv_loop_t *loop, char *err, size_t errlen)
{
    if (gw_queue_init(&n->results, notify__wake_send, &n->wake) < 0) {
        snprintf(err, errlen, "notify: out of memory");
        return GW_ENOMEM;
    }
    uv_async_init(loop, &n->wake, notify__wake_cb);
    uv_timer_init(loop, &n->tick);
    uv_check_init(loop, &n->push);
    n->wake.data = n->tick.data = n->push.data = n;
    n->open_handles = 3;
    return 0;
}

int gw_notify_start(gw_notify_t **out, uv_loop_t *loop, const gw_config_t *cfg,
                    const gw_notify_env_t *env, char *err, size_t errlen)
{
    gw_notify_t *n = calloc(1, sizeof(*n));
    notify_store_t *st = NULL;
    int rc;

    *out = NULL;
    if (!n) {
        snprintf(err, errlen, "notify: out of memory");
        return GW_ENOMEM;
    }
    n->loop = loop;
    n->env = *env;
    notify__config(n, cfg);
    snprintf(n->path, sizeof(n->path), "%s/notify.db", cfg->state_dir);
    rc = notify__handles(n, loop, err, errlen);
    if (rc < 0) {
        free(n->last_send);
        free(n);
        return rc;
    }
    rc = notify__load(n, &st, err, errlen);
    if (rc == 0)
        rc = hk_create(&n->hk, loop, err, errlen);
    if (rc == 0)
        rc = notify_worker_start(&n->p.w, n->path, st, &n->results, err, errlen);
    if (rc < 0) {
        if (n->hk)
            hk_close(n->hk);
        notify_store_close(st);
        notify__close(n);
        return rc;
    }
    uv_timer_start(&n->tick, notify__tick_cb, GW_NOTIFY__TICK_MS, GW_NOTIFY__TICK_MS);
    notify__housekeeping(n);
    notify__p_alarm(n); /* a damaged or unavailable file found at start */
    notify__warn_mode(cfg);
    gw_log_info("notify", "started: %zu hooks, %zu recipients, %zu groups, %zu routes",
                cfg->notify.nhooks, cfg->notify.nrecipients, cfg->notify.ngroups,
                cfg->notify.nroutes);
    *out = n;
    return 0;
}

void gw_notify_stop(gw_notify_t *n)
{
    if (!n)
        return;
    n->stopping = 1;
    hk_close(n->hk); /* in-flight messages stay pending: sent after a restart */
    notify__p_push(n);
    if (notify_worker_stop(n->p.w) < 0)
        gw_log_error("notify", "stopped: some changes were never written to notify.db");
    n->p.w = NULL;
    gw_msg_free_list(gw_queue_take_all(&n->results));
    notify__close(n);
}
