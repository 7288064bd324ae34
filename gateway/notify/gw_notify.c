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

/* ---- events in ------------------------------------------------------------ */

/* Take one event in: alert state, batch rows. Inside a transaction. */
static int notify__ingest(gw_notify_t *n, const cJSON *ev, int64_t now)
{
    const cJSON *wo = cJSON_GetObjectItemCaseSensitive(ev, "work_order");
    const char *event = notify__jstr(ev, "event");
    const char *b, *f, *r;
    notify_alert_t a;
    int groups[GW_NOTIFY_MAX], ng, rc;
    int had;

    rc = notify_seen(n->st, notify__jstr(ev, "event_id"), now);
    if (rc <= 0)
        return rc; /* already taken in, or an error */
    had = notify_alert_get(n->st, notify__jstr(wo, "id"), &a) == 0;
    if (!had) {
        memset(&a, 0, sizeof(a));
        a.opened_ms = now;
    }
    snprintf(a.wo_id, sizeof(a.wo_id), "%s", notify__jstr(wo, "id"));
    a.number = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(wo, "number"));
    snprintf(a.priority, sizeof(a.priority), "%s", notify__jstr(wo, "priority"));
    snprintf(a.category, sizeof(a.category), "%s", notify__jstr(wo, "category"));
    snprintf(a.device, sizeof(a.device), "%s", notify__jstr(wo, "device"));
    snprintf(a.rule, sizeof(a.rule), "%s", notify__jstr(wo, "rule"));
    snprintf(a.title, sizeof(a.title), "%s", notify__jstr(wo, "title"));
    snprintf(a.status, sizeof(a.status), "%s", notify__jstr(wo, "status"));
    if (strcmp(event, "opened") == 0 || strcmp(event, "retriggered") == 0)
        a.cleared = 0;
    else if (strcmp(event, "cleared") == 0)
        a.cleared = 1;
    rc = notify_alert_put(n->st, &a);
    if (rc < 0)
        return rc;

    if (strcmp(event, "opened") == 0 || strcmp(event, "retriggered") == 0) {
        const char *kind = event[0] == 'o' ? "firing" : "again";
        notify__location(n, a.device, &b, &f, &r);
        ng = gw_route_groups(&n->cfg->notify, notify__prio(a.priority), a.category, b, a.device,
                             groups, GW_NOTIFY_MAX);
        if (ng == 0)
            gw_log_info("notify", "#%lld (%s): no route matches: nobody is told",
                        (long long)a.number, a.device);
        for (int i = 0; i < ng && rc == 0; i++)
            rc = notify_batch_add(n->st, n->cfg->notify.groups[groups[i]].name, a.wo_id, kind, now);
    } else if (strcmp(event, "cleared") == 0) {
        notify_ag_row_t *rows;
        size_t nr;
        rc = notify_ag_list(n->st, a.wo_id, &rows, &nr);
        for (size_t i = 0; rc == 0 && i < nr; i++) {
            int gi = notify__group_idx(n, rows[i].group);
            if (gi >= 0 && n->cfg->notify.groups[gi].send_resolved)
                rc = notify_batch_add(n->st, rows[i].group, a.wo_id, "resolved", now);
        }
        free(rows);
    }
    return rc;
}

/* Take in one event inside the caller's transaction. */
static int notify__take_one(gw_notify_t *n, const char *payload, int64_t now)
{
    cJSON *ev = cJSON_Parse(payload);
    int rc = 0;

    if (!ev || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(ev, "work_order")) ||
        !notify__jstr(ev, "event_id")[0])
        gw_log_warn("notify", "ignoring a malformed work-order event");
    else
        rc = notify__ingest(n, ev, now);
    cJSON_Delete(ev);
    return rc;
}

/* Take in every pending event, all in one transaction (one fsync for a
 * storm). When notify.db cannot be written (locked by another process, disk
 * full), the events stay pending, in order, and the next tick tries again:
 * returns the negative code then. */
static int notify__take_in(gw_notify_t *n)
{
    gw_notify__ev_t *list = n->pending, *e;
    int64_t now = gw_wall_ms();
    int rc;

    if (!list)
        return 0;
    rc = notify_store_begin(n->st);
    for (e = list; e && rc >= 0; e = e->next)
        rc = notify__take_one(n, e->payload, now);
    if (rc >= 0)
        rc = notify_store_commit(n->st);
    if (rc < 0) {
        notify_store_rollback(n->st);
        return rc; /* n->pending still holds them all (and any newer) */
    }
    n->pending = NULL;
    n->pending_tail = &n->pending;
    while (list) {
        e = list->next;
        free(list);
        list = e;
    }
    return 0;
}

static void notify__take_in_cb(uv_check_t *c)
{
    gw_notify_t *n = c->data;

    uv_check_stop(c);
    if (notify__take_in(n) < 0)
        gw_log_warn("notify", "work-order events not taken in yet (%s): retrying every %d ms",
                    notify_store_errmsg(n->st), GW_NOTIFY__TICK_MS);
}

void gw_notify_on_event(gw_notify_t *n, const char *channel, const char *payload)
{
    gw_notify__ev_t *e;
    size_t len;

    if (!n || n->stopping || strcmp(channel, "workorder") != 0)
        return;
    len = strlen(payload) + 1;
    e = malloc(sizeof(*e) + len);
    if (!e) {
        gw_log_error("notify", "out of memory: a work-order event was not taken in");
        return;
    }
    e->next = NULL;
    memcpy(e->payload, payload, len);
    *n->pending_tail = e;
    n->pending_tail = &e->next;
    /* Taken in after this poll phase, before the loop waits again: before
     * MQTT's acknowledgement of the same row can be handled, which comes
     * through the queue in a later iteration. */
    uv_check_start(&n->take_in, notify__take_in_cb);
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
    while (n->pending) {
        gw_notify__ev_t *e = n->pending->next;
        free(n->pending);
        n->pending = e;
    }
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
