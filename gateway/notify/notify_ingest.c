/*
 * notify_ingest.c: work-order events taken in (notify_int.h; design in
 * docs/hooks.md "From a work order to a phone", steps 1-2, and
 * "Acknowledgement"): an event is taken into memory at once, by its
 * event_id (an event offered again, or the committed copy of a provisional
 * one, is a duplicate): the id, the work order's state, and for
 * opened/retriggered the alert in the batch of every group its route
 * names; for cleared a resolve notice to every group that was told. The
 * changes are written behind (notify_persist.c), and the ledger's outbox
 * row is answered (event_stored) only once they are committed.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The work order's state from the event, in memory and written behind.
 * NULL when out of memory. */
static notify__alert_t *notify__alert_update(gw_notify_t *n, const cJSON *wo, const char *event,
                                             int64_t wall)
{
    notify__alert_t *a = notify__alert_find(n, notify__jstr(wo, "id"));
    double num = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(wo, "number"));
    notify_alert_t r;

    if (a) {
        r = a->r;
    } else {
        memset(&r, 0, sizeof(r));
        r.opened_ms = wall;
    }
    snprintf(r.wo_id, sizeof(r.wo_id), "%s", notify__jstr(wo, "id"));
    r.number = isfinite(num) && fabs(num) < 9e15 ? (int64_t)num : 0;
    snprintf(r.priority, sizeof(r.priority), "%s", notify__jstr(wo, "priority"));
    snprintf(r.category, sizeof(r.category), "%s", notify__jstr(wo, "category"));
    snprintf(r.device, sizeof(r.device), "%s", notify__jstr(wo, "device"));
    snprintf(r.rule, sizeof(r.rule), "%s", notify__jstr(wo, "rule"));
    snprintf(r.title, sizeof(r.title), "%s", notify__jstr(wo, "title"));
    snprintf(r.status, sizeof(r.status), "%s", notify__jstr(wo, "status"));
    if (strcmp(event, "opened") == 0 || strcmp(event, "retriggered") == 0)
        r.cleared = 0;
    else if (strcmp(event, "cleared") == 0)
        r.cleared = 1;
    r.updated_ms = wall;
    if (a)
        a->r = r;
    else if (!(a = notify__alert_add(n, &r)))
        return NULL;
    notify__p_alert(n, a);
    return a;
}

/* Route a firing alert into its groups' batches. */
static void notify__route(gw_notify_t *n, const notify__alert_t *a, const char *event, int64_t wall,
                          int64_t mono)
{
    const char *kind = strcmp(event, "opened") == 0 ? "firing" : "again";
    int groups[GW_NOTIFY_MAX], ng;
    const char *b, *f, *r;

    notify__location(n, a->r.device, &b, &f, &r);
    ng = gw_route_groups(&n->cfg->notify, notify__prio(a->r.priority), a->r.category, b,
                         a->r.device, groups, GW_NOTIFY_MAX);
    if (ng == 0)
        gw_log_info("notify", "#%lld (%s): no route matches: nobody is told",
                    (long long)a->r.number, a->r.device);
    for (int i = 0; i < ng; i++)
        notify__batch_queue(n, n->cfg->notify.groups[groups[i]].name, a->r.wo_id, kind, wall, mono);
}

/* Take in one event not seen before. */
static void notify__take(gw_notify_t *n, const cJSON *ev, const char *id, int64_t wall,
                         int64_t mono)
{
    const char *event = notify__jstr(ev, "event");
    notify__seen_t *e = notify__seen_add(n, id, wall);
    notify__alert_t *a;

    if (e)
        notify__p_seen(n, e);
    n->seen_dropped += notify__seen_trim(n, INT64_MIN, (size_t)notify__max_rows(n));
    a = notify__alert_update(n, cJSON_GetObjectItemCaseSensitive(ev, "work_order"), event, wall);
    if (!e || !a) {
        gw_log_error("notify", "out of memory taking in event %s", id);
        if (!a)
            return;
    }
    if (strcmp(event, "opened") == 0 || strcmp(event, "retriggered") == 0) {
        notify__route(n, a, event, wall, mono);
    } else if (strcmp(event, "cleared") == 0) {
        for (size_t i = 0; i < a->nag; i++) {
            int gi = notify__ag_group(n, &a->ag[i]);
            if (gi >= 0 && n->cfg->notify.groups[gi].send_resolved)
                notify__batch_queue(n, a->ag[i].r.group, a->r.wo_id, "resolved", wall, mono);
        }
    }
}

/* The committed copy of an event first taken in provisionally: the work
 * order has its number now (a provisional "opened" has none), so later
 * messages (repeats, escalations, resolve notices) name it. */
static void notify__number_known(gw_notify_t *n, const cJSON *wo)
{
    notify__alert_t *a = notify__alert_find(n, notify__jstr(wo, "id"));
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(wo, "number");

    if (!a || a->r.number != 0 || !cJSON_IsNumber(num) || !(num->valuedouble >= 1) ||
        num->valuedouble >= 9e15)
        return;
    a->r.number = (int64_t)num->valuedouble;
    notify__p_alert(n, a);
}

void notify__ingest(gw_notify_t *n, int64_t outbox_id, const char *payload)
{
    cJSON *ev = cJSON_Parse(payload);
    const cJSON *wo = cJSON_GetObjectItemCaseSensitive(ev, "work_order");
    char id[256];

    if (!ev || !cJSON_IsObject(wo) || !notify__jstr(ev, "event_id")[0] ||
        !notify__jstr(wo, "id")[0]) {
        gw_log_warn("notify", "ignoring a malformed work-order event");
        cJSON_Delete(ev);
        notify__p_ack(n, outbox_id); /* nothing to keep: the row may go */
        return;
    }
    snprintf(id, sizeof(id), "%s", notify__jstr(ev, "event_id"));
    if (!notify__seen_has(n, id))
        notify__take(n, ev, id, gw_wall_ms(), gw_mono_ms());
    else /* offered again, or the committed copy of a provisional one */
        notify__number_known(n, wo);
    notify__p_ack(n, outbox_id);
    cJSON_Delete(ev);
}
