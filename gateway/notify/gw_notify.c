/*
 * gw_notify.c: the notifier's public face (gw_notify.h; design in
 * docs/hooks.md): start, reload, events offered, counts, stop.
 *
 * State is in notify.db (store/notify_store.h), not in memory, so that a
 * restart resumes exactly where the process stopped: a tick every
 * GW_NOTIFY__TICK_MS (1) flushes the groups whose group_wait has passed,
 * (2) queues repeats and escalations that fell due, (3) starts the pending
 * messages that are due and whose recipient's rate limit allows. Only
 * deliveries in flight and the rate limiter's last-send times live in
 * memory. The decisions themselves are pure functions in gw_route.c.
 *
 * The files, each calling only those listed below it (no circle; the
 * private state and their shared functions are in notify_int.h):
 *   gw_notify.c        this file
 *   notify_schedule.c  the tick: (1) to (3) above
 *   notify_ingest.c    events taken in: event ids, alert state, routing into batches
 *   notify_report.c    the monthly report: routed to groups, queued as messages
 *   notify_flush.c     batches into messages: group wait, quiet hours, inhibition
 *   notify_deliver.c   messages through hooks: rate limit, retries, backoff
 *   notify_mail.c      a message as a mail (MIME) for sendmail-compatible hooks
 *   notify_text.c      the alert JSON, hook templates, webhook bodies
 *   notify_lookup.c    lookups by name, the host's location, JSON strings
 *   gw_route.c         the pure decisions (gw_route.h)
 */
#include "gateway/notify/gw_notify.h"
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_log.h"
#include "protocols/hooks/hk.h"
#include "store/notify_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void gw_notify_on_event(gw_notify_t *n, const char *channel, const char *payload)
{
    if (!n || n->stopping || (strcmp(channel, "workorder") != 0 && strcmp(channel, "report") != 0))
        return;
    notify__event_add(n, payload);
}

/* ---- life cycle ------------------------------------------------------------ */

void gw_notify_set_config(gw_notify_t *n, const gw_config_t *cfg)
{
    int64_t *g;

    if (!n)
        return;
    n->cfg = cfg;
    g = realloc(n->last_send, (cfg->notify.nrecipients + 1) * sizeof(*g));
    if (g) {
        memset(g, 0, (cfg->notify.nrecipients + 1) * sizeof(*g));
        n->last_send = g;
        n->nlast_send = cfg->notify.nrecipients;
    }
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

int gw_notify_start(gw_notify_t **out, uv_loop_t *loop, const gw_config_t *cfg,
                    const gw_notify_env_t *env, char *err, size_t errlen)
{
    gw_notify_t *n = calloc(1, sizeof(*n));
    char path[PATH_MAX + 16];
    int rc;

    *out = NULL;
    if (!n) {
        snprintf(err, errlen, "notify: out of memory");
        return GW_ENOMEM;
    }
    n->loop = loop;
    n->env = *env;
    gw_notify_set_config(n, cfg);
    snprintf(path, sizeof(path), "%s/notify.db", cfg->state_dir);
    rc = notify_store_open(&n->st, path, err, errlen);
    if (rc < 0)
        goto out_free;
    rc = hk_create(&n->hk, loop, err, errlen);
    if (rc < 0)
        goto out_store;
    uv_timer_init(loop, &n->tick);
    n->tick.data = n;
    uv_check_init(loop, &n->take_in);
    n->take_in.data = n;
    n->pending_tail = &n->pending;
    n->open_handles = 2;
    uv_timer_start(&n->tick, notify__tick_cb, GW_NOTIFY__TICK_MS, GW_NOTIFY__TICK_MS);
    notify__warn_mode(cfg);
    gw_log_info("notify", "notify.db opened: %zu hooks, %zu recipients, %zu groups, %zu routes",
                cfg->notify.nhooks, cfg->notify.nrecipients, cfg->notify.ngroups,
                cfg->notify.nroutes);
    *out = n;
    return 0;

out_store:
    notify_store_close(n->st);
out_free:
    free(n->last_send);
    free(n);
    return rc;
}

static void notify__closed(uv_handle_t *h)
{
    gw_notify_t *n = h->data;

    if (--n->open_handles > 0)
        return;
    notify__events_free(n);
    free(n->inflight);
    free(n->last_send);
    free(n);
}

void gw_notify_stop(gw_notify_t *n)
{
    if (!n)
        return;
    if (notify__take_in(n) < 0) /* events of this iteration */
        gw_log_error("notify", "stopping: work-order events not taken in: %s",
                     notify_store_errmsg(n->st));
    n->stopping = 1;
    hk_close(n->hk); /* in-flight messages stay pending: sent after a restart */
    notify_store_close(n->st);
    n->st = NULL;
    uv_timer_stop(&n->tick);
    uv_check_stop(&n->take_in);
    uv_close((uv_handle_t *)&n->tick, notify__closed);
    uv_close((uv_handle_t *)&n->take_in, notify__closed);
}

void gw_notify_counts(const gw_notify_t *n, uint64_t *delivered, uint64_t *failures)
{
    *delivered = n ? n->delivered : 0;
    *failures = n ? n->failures : 0;
}
