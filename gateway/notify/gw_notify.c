/*
 * gw_notify.c: the notifier (gw_notify.h; design in docs/hooks.md).
 *
 * State is in notify.db (store/notify_store.h), not in memory, so that a
 * restart resumes exactly where the process stopped: a tick every
 * GW_NOTIFY__TICK_MS (1) flushes the groups whose group_wait has passed,
 * (2) queues repeats and escalations that fell due, (3) starts the pending
 * messages that are due and whose recipient's rate limit allows. Only
 * deliveries in flight and the rate limiter's last-send times live in
 * memory. The decisions themselves are pure functions in gw_route.c.
 */
#include "gateway/notify/gw_notify.h"
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/notify/gw_route.h"
#include "protocols/hooks/hk.h"
#include "store/notify_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void gw_notify_on_event(gw_notify_t *n, const char *channel, const char *payload)
{
    if (!n || n->stopping || strcmp(channel, "workorder") != 0)
        return;
    notify__event_add(n, payload);
}

/* ---- repeats and escalations ---------------------------------------------- */

static int notify__scan(gw_notify_t *n, int64_t now)
{
    notify_ag_row_t *rows;
    notify_alert_t a;
    size_t nr;
    int rc = notify_ag_list(n->st, NULL, &rows, &nr);

    for (size_t i = 0; rc == 0 && i < nr; i++) {
        int gi = notify__group_idx(n, rows[i].group);
        const gw_group_cfg_t *g;
        if (gi < 0 || notify_alert_get(n->st, rows[i].wo_id, &a) != 0)
            continue;
        g = &n->cfg->notify.groups[gi];
        if (strcmp(a.status, "open") != 0)
            continue; /* acknowledged: no nagging, no escalation */
        if (g->escalate_idx >= 0 && g->escalate_after_ms > 0 && !rows[i].escalated &&
            now - rows[i].first_sent_ms >= g->escalate_after_ms) {
            const char *to = n->cfg->notify.groups[g->escalate_idx].name;
            gw_log_notice("notify",
                          "#%lld not acknowledged %d s after group %s was told: "
                          "escalating to group %s",
                          (long long)a.number, g->escalate_after_ms / 1000, g->name, to);
            rc = notify_batch_add(n->st, to, a.wo_id, "escalated", now);
            if (rc == 0)
                rc = notify_ag_escalated(n->st, a.wo_id, g->name);
        }
        if (rc == 0 && g->repeat_interval_ms > 0 &&
            now - rows[i].last_sent_ms >= g->repeat_interval_ms) {
            rc = notify_batch_add(n->st, g->name, a.wo_id, "repeat", now);
            if (rc == 0) /* not again next tick; the flush sets it again */
                rc = notify_ag_sent(n->st, a.wo_id, g->name, now);
        }
    }
    free(rows);
    return rc;
}

/* ---- the tick and life cycle ---------------------------------------------- */

static void notify__tick_cb(uv_timer_t *t)
{
    gw_notify_t *n = t->data;
    int64_t now = gw_wall_ms();
    int rc;

    if (n->stopping)
        return;
    rc = notify__take_in(n); /* events a failed take-in left pending */
    if (rc == 0)
        rc = notify_store_begin(n->st);
    if (rc == 0)
        rc = notify__flush(n, now);
    if (rc == 0)
        rc = notify__scan(n, now);
    if (rc == 0)
        rc = notify_store_commit(n->st);
    if (rc == 0)
        rc = notify__deliver(n, now);
    if (rc < 0) {
        /* the first failure, then one a minute while it lasts */
        if (n->tick_failures++ % (60000 / GW_NOTIFY__TICK_MS) == 0)
            gw_log_error("notify", "notify.db: %s (try %u); trying again every %d ms",
                         notify_store_errmsg(n->st), n->tick_failures, GW_NOTIFY__TICK_MS);
        notify_store_rollback(n->st);
        return;
    }
    if (n->tick_failures)
        gw_log_notice("notify", "notify.db usable again after %u failed tries", n->tick_failures);
    n->tick_failures = 0;
}

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
