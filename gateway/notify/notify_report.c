/*
 * notify_report.c: the monthly report told to people (notify_int.h; design
 * in docs/hooks.md, "The monthly report" and "Mail").
 *
 * The ledger thread writes the report on the 1st and, in the same
 * transaction that notes it as written, an outbox row on channel "report"
 * (event "report": month, files, summary, subject, text and HTML). That row
 * reaches the notifier like a work-order event, at commit and again at
 * every start while it is in the outbox, so it is taken in once (its
 * event_id in `seen`) and never lost. Taking it in queues one message per
 * member of every group a route sends reports to (a route whose categories
 * list "report"), in the same transaction, due now, or when quiet hours end
 * (held at most 12 hours: a report waits for the morning, not longer).
 * From there it is an ordinary message: delivered through the member's
 * hook with retries, recorded sent once the hook succeeded.
 *
 * A hook sees the report as an alert JSON of kind "report" (stdin, webhook
 * body; the environment variable without the text and HTML, which may be
 * larger than an environment allows), and an exec hook with "stdin": "mail"
 * gets a MIME message instead (notify__mail): text and HTML alternatives
 * and the page attached, for msmtp or sendmail -t. The same hook gets
 * alerts as a plain-text mail.
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORT__HOLD_MAX_MS (12LL * 3600 * 1000)  /* quiet hours hold a report at most this */
#define REPORT__STALE_MS    (28LL * 86400 * 1000) /* an older report event is not news */

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

/* The JSON hooks get for a report (its "report" is the event minus ids). */
static char *notify__report_doc(const gw_notify_t *n, const char *group, const cJSON *ev)
{
    cJSON *o = cJSON_CreateObject(), *rep = cJSON_Duplicate(ev, 1);
    char *text;

    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "kind", "report");
    cJSON_AddStringToObject(o, "site", n->cfg->site_id);
    cJSON_AddStringToObject(o, "site_name", n->cfg->site_name);
    cJSON_AddStringToObject(o, "group", group);
    cJSON_AddNumberToObject(o, "count", 0);
    cJSON_AddArrayToObject(o, "alerts");
    cJSON_DeleteItemFromObjectCaseSensitive(rep, "v");
    cJSON_AddItemToObject(o, "report", rep);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* When the report may go: now, or the end of quiet hours (at most 12 h). */
static int64_t notify__report_due(const gw_notify_t *n, int64_t now)
{
    const gw_quiet_cfg_t *q = &n->cfg->notify.quiet;
    int64_t end;

    if (!gw_quiet_active(q, now) || gw_quiet_bypass(q, GW_PRIO_LOW, "report"))
        return now;
    end = gw_quiet_end(q, now);
    return end < 0 || end - now > REPORT__HOLD_MAX_MS ? now + REPORT__HOLD_MAX_MS : end;
}

/* Queue one message per member of group gi. */
static int notify__report_queue(gw_notify_t *n, int gi, const cJSON *ev, int64_t due)
{
    const gw_group_cfg_t *g = &n->cfg->notify.groups[gi];
    char msg[GW_NOTIFY__MSG_MAX], names[256] = "";
    char *doc = notify__report_doc(n, g->name, ev);
    int rc = doc ? 0 : GW_ENOMEM;

    for (int m = 0; rc == 0 && m < g->nmembers; m++) {
        const gw_recipient_cfg_t *r = &n->cfg->notify.recipients[g->members[m]];
        const gw_hook_cfg_t *h = &n->cfg->notify.hooks[r->hook_idx];
        notify__report_text(n, ev, msg, sizeof(msg));
        gw_sms_fit(msg, h->max_segments);
        rc = notify_msg_add(n->st, g->name, r->name, msg, doc, due, NULL);
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", m ? ", " : "",
                 r->name);
    }
    if (rc == 0)
        gw_log_notice("notify", "report %s queued for %s (group %s)%s", notify__jstr(ev, "month"),
                      names, g->name, due > gw_wall_ms() ? ": held by quiet hours" : "");
    free(doc);
    return rc;
}

int notify__report_take(gw_notify_t *n, const cJSON *ev, int64_t now)
{
    int groups[GW_NOTIFY_MAX], ng, rc;
    int64_t at = 0, due;
    struct tm tm = {0};

    rc = notify_seen(n->st, notify__jstr(ev, "event_id"), now);
    if (rc == 0)
        gw_log_debug("notify", "report %s offered again: already taken in",
                     notify__jstr(ev, "month"));
    if (rc <= 0)
        return rc; /* already taken in, or an error */
    if (strptime(notify__jstr(ev, "ts"), "%Y-%m-%dT%H:%M:%S", &tm))
        at = (int64_t)timegm(&tm) * 1000;
    if (at && now - at > REPORT__STALE_MS) {
        gw_log_info("notify", "report %s of %s is old news: not sent", notify__jstr(ev, "month"),
                    notify__jstr(ev, "ts"));
        return 0;
    }
    ng = notify__report_groups(&n->cfg->notify, groups, GW_NOTIFY_MAX);
    if (ng == 0)
        gw_log_info("notify", "report %s: no route lists the category \"report\": nobody is told",
                    notify__jstr(ev, "month"));
    due = notify__report_due(n, now);
    for (int i = 0; i < ng && rc >= 0; i++)
        rc = notify__report_queue(n, groups[i], ev, due);
    return rc < 0 ? rc : 0;
}
