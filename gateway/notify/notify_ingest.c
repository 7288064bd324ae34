/*
 * notify_ingest.c: work-order events taken in (notify_int.h; design in
 * docs/hooks.md "From a work order to a phone", steps 1-2, and
 * "Acknowledgement"): the events of one loop iteration are kept in memory
 * and taken in right after its poll phase, in one transaction of notify.db:
 * the event id (an event offered again is ignored), the work order's state,
 * and for opened/retriggered the alert in the batch of every group its
 * route names; for cleared a resolve notice to every group that was told.
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

    if (ev && strcmp(notify__jstr(ev, "event"), "report") == 0 && notify__jstr(ev, "event_id")[0])
        rc = notify__report_take(n, ev, now);
    else if (!ev || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(ev, "work_order")) ||
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
int notify__take_in(gw_notify_t *n)
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

void notify__event_add(gw_notify_t *n, const char *payload)
{
    gw_notify__ev_t *e;
    size_t len;

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

void notify__events_free(gw_notify_t *n)
{
    while (n->pending) {
        gw_notify__ev_t *e = n->pending->next;
        free(n->pending);
        n->pending = e;
    }
}
