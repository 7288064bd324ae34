/*
 * notify_report.c: the monthly report told to people (notify_int.h; design
 * in docs/hooks.md, "The monthly report" and "Mail").
 *
 * The ledger thread writes the report on the 1st and, in the same
 * transaction that notes it as written, an outbox row on channel "report"
 * (event "report": month, files, summary, subject, text and HTML). That row
 * is offered to the notifier like a work-order event, after its commit and
 * again at every start until the notifier has acknowledged it, so it is
 * taken in once (its event_id among the seen ids) and never lost. Taking it
 * in queues one message per member of every group a route sends reports to
 * (a route whose categories list "report"), in memory and written behind
 * with the seen id; the row is acknowledged (event_stored) only once that
 * is committed, as a work-order event is. The message is due now, or when
 * the quiet hours end (judged in the notifier's zone, held at most
 * GW_NOTIFY__REPORT_HOLD_MS: a report waits for the morning, not longer);
 * the wall-clock due time is recorded, the wait runs on the monotonic
 * clock. From there it is an ordinary message: delivered through the
 * member's hook with retries, recorded sent once the hook succeeded.
 *
 * A hook sees the report as an alert JSON of kind "report" (stdin, webhook
 * body; the environment variable without the text and HTML, which may be
 * larger than an environment allows), and an exec hook with "stdin": "mail"
 * gets a MIME message instead (notify__mail): text and HTML alternatives
 * and the page attached, for msmtp or sendmail -t. The same hook gets
 * alerts as a plain-text mail.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORT__STALE_MS (28LL * GW_NOTIFY__DAY_MS) /* an older report event is not news */

/* Groups (indexes) of the routes whose categories list "report". */
static int notify__report_groups(const gw_notify_cfg_t *c, int *out, int max)
{
    int n = 0;

    for (size_t i = 0; i < c->nroutes; i++) {
        const gw_route_cfg_t *r = &c->routes[i];
        int named = 0;
        for (int k = 0; k < r->ncategories; k++)
            named |= strcmp(r->categories[k], "report") == 0;
        for (int g = 0; named && g < r->ngroups; g++) {
            int dup = 0;
            for (int j = 0; j < n; j++)
                dup |= out[j] == r->groups[g];
            if (!dup && n < max)
                out[n++] = r->groups[g];
        }
    }
    return n;
}

/* The short message: what an SMS recipient reads. */
static void notify__report_text(const gw_notify_t *n, const cJSON *ev, char *out, size_t len)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(ev, "summary");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(s, "on_time_rate");
    const cJSON *kwh = cJSON_GetObjectItemCaseSensitive(s, "energy_kwh");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(ev, "files");
    char r[32] = "-", e[48] = "";

    if (cJSON_IsNumber(rate))
        snprintf(r, sizeof(r), "%.1f %%", rate->valuedouble * 100);
    if (cJSON_IsNumber(kwh))
        snprintf(e, sizeof(e), "; energy %.0f kWh", kwh->valuedouble);
    snprintf(out, len,
             "[%s] REPORT %s: %.0f work orders, %s on time (target 98 %%), %.0f still "
             "open%s. %s",
             n->cfg->site_name, notify__jstr(ev, "month"),
             cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "opened")), r,
             cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "still_open")), e,
             notify__jstr(files, "html"));
}

/* The JSON hooks get for a report (its "report" is the event minus "v");
 * it starts as notify__is_report expects. NULL when out of memory. */
static char *notify__report_doc(const gw_notify_t *n, const char *group, const cJSON *ev)
{
    cJSON *o = cJSON_CreateObject(), *rep = cJSON_Duplicate(ev, 1);
    char *text = NULL;

    if (o && rep) {
        cJSON_AddNumberToObject(o, "v", 1);
        cJSON_AddStringToObject(o, "kind", "report");
        cJSON_AddStringToObject(o, "site", n->cfg->site_id);
        cJSON_AddStringToObject(o, "site_name", n->cfg->site_name);
        cJSON_AddStringToObject(o, "group", group);
        cJSON_AddNumberToObject(o, "count", 0);
        cJSON_AddArrayToObject(o, "alerts");
        cJSON_DeleteItemFromObjectCaseSensitive(rep, "v");
        cJSON_AddItemToObject(o, "report", rep);
        rep = NULL;
        text = cJSON_PrintUnformatted(o);
    }
    cJSON_Delete(rep);
    cJSON_Delete(o);
    return text;
}

/* When the report may go (wall clock): now, or the end of the quiet hours
 * in the notifier's zone, at most GW_NOTIFY__REPORT_HOLD_MS from now. */
static int64_t notify__report_due(const gw_notify_t *n, int64_t wall)
{
    const gw_quiet_cfg_t *q = &n->cfg->notify.quiet;
    int64_t end;

    if (!gw_quiet_active(q, n->zone, wall) || gw_quiet_bypass(q, GW_PRIO_LOW, "report"))
        return wall;
    end = gw_quiet_end(q, n->zone, wall);
    return end < wall || end - wall > GW_NOTIFY__REPORT_HOLD_MS ? wall + GW_NOTIFY__REPORT_HOLD_MS
                                                                : end;
}

/* Queue one message per member of group gi, due at due_wall (on the
 * monotonic clock: due_mono). */
static void notify__report_queue(gw_notify_t *n, int gi, const cJSON *ev, int64_t wall,
                                 int64_t mono, int64_t due_wall, int64_t due_mono)
{
    const gw_group_cfg_t *g = &n->cfg->notify.groups[gi];
    char msg[GW_NOTIFY__MSG_MAX], names[256] = "";
    char *doc = notify__report_doc(n, g->name, ev);

    for (int m = 0; doc && m < g->nmembers; m++) {
        const gw_recipient_cfg_t *r = &n->cfg->notify.recipients[g->members[m]];
        const gw_hook_cfg_t *h = &n->cfg->notify.hooks[r->hook_idx];
        notify_msg_t nm = {.next_ms = due_wall, .created_ms = wall};
        notify__report_text(n, ev, msg, sizeof(msg));
        gw_sms_fit(msg, h->max_segments);
        snprintf(nm.group, sizeof(nm.group), "%s", g->name);
        snprintf(nm.recipient, sizeof(nm.recipient), "%s", r->name);
        snprintf(nm.state, sizeof(nm.state), "pending");
        nm.message = strdup(msg);
        nm.alert_json = strdup(doc);
        notify__msg_queue(n, &nm, mono, due_mono);
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", m ? ", " : "",
                 r->name);
    }
    if (doc)
        gw_log_notice("notify", "report %s queued for %s (group %s)%s", notify__jstr(ev, "month"),
                      names, g->name, due_wall > wall ? ": held by quiet hours" : "");
    else
        gw_log_error("notify", "group %s: out of memory: report %s not sent", g->name,
                     notify__jstr(ev, "month"));
    free(doc);
}

/* Take in a report not seen before. */
static void notify__report_new(gw_notify_t *n, const cJSON *ev, const char *id, int64_t wall,
                               int64_t mono)
{
    notify__seen_t *e = notify__seen_add(n, id, wall);
    int groups[GW_NOTIFY_MAX], ng;
    int64_t at = 0, due;
    struct tm tm = {0};

    if (e)
        notify__p_seen(n, e);
    else
        gw_log_error("notify", "out of memory noting report event %s", id);
    n->seen_dropped += notify__seen_trim(n, INT64_MIN, (size_t)notify__max_rows(n));
    if (strptime(notify__jstr(ev, "ts"), "%Y-%m-%dT%H:%M:%S", &tm))
        at = (int64_t)timegm(&tm) * 1000;
    if (at && wall - at > REPORT__STALE_MS) {
        gw_log_info("notify", "report %s of %s is old news: not sent", notify__jstr(ev, "month"),
                    notify__jstr(ev, "ts"));
        return;
    }
    ng = notify__report_groups(&n->cfg->notify, groups, GW_NOTIFY_MAX);
    if (ng == 0)
        gw_log_info("notify", "report %s: no route lists the category \"report\": nobody is told",
                    notify__jstr(ev, "month"));
    due = notify__report_due(n, wall);
    for (int i = 0; i < ng; i++)
        notify__report_queue(n, groups[i], ev, wall, mono, due, mono + (due - wall));
}

void notify__report_take(gw_notify_t *n, int64_t outbox_id, const char *payload)
{
    cJSON *ev = cJSON_Parse(payload);
    char id[256];

    if (!ev || strcmp(notify__jstr(ev, "event"), "report") != 0 ||
        !notify__jstr(ev, "event_id")[0] || !notify__jstr(ev, "month")[0]) {
        gw_log_warn("notify", "ignoring a malformed report event");
        cJSON_Delete(ev);
        notify__p_ack(n, outbox_id); /* nothing to keep: the row may go */
        return;
    }
    snprintf(id, sizeof(id), "%s", notify__jstr(ev, "event_id"));
    if (notify__seen_has(n, id))
        gw_log_debug("notify", "report %s offered again: already taken in",
                     notify__jstr(ev, "month"));
    else
        notify__report_new(n, ev, id, gw_wall_ms(), gw_mono_ms());
    notify__p_ack(n, outbox_id); /* once the seen id and the messages are committed */
    cJSON_Delete(ev);
}
