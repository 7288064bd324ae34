/*
 * notify_flush.c: batches flushed into messages (notify_int.h; design in
 * docs/hooks.md "From a work order to a phone", step 3, "Quiet hours" and
 * "Inhibition"): a group's batch goes out group_wait_ms after its oldest
 * alert arrived (on the monotonic clock), as one message per member. At
 * that moment alerts that no longer matter are dropped, muted ones (device
 * offline, inhibit_rules) are dropped and logged, and those quiet hours
 * hold (judged on the wall clock, in the configured zone) stay in the
 * batch. Every change is made in memory and written behind.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void notify__batch_queue(gw_notify_t *n, const char *group, const char *wo_id, const char *kind,
                         int64_t wall, int64_t mono)
{
    notify__batch_t *b;

    if (notify__batch_find(n, group, wo_id, kind))
        return;
    b = notify__batch_add(n, group, wo_id, kind, wall, mono);
    if (!b) {
        gw_log_error("notify", "out of memory: %s of %s for group %s dropped", kind, wo_id, group);
        return;
    }
    notify__p_batch(n, b, 0);
}

/* The active alert that inhibits a (inhibit_rules), or NULL. */
static const notify__alert_t *notify__inhibitor(const gw_notify_t *n, const notify__alert_t *a)
{
    if (n->cfg->notify.ninhibits == 0)
        return NULL;
    for (size_t i = 0; i < n->s.nalerts; i++) {
        const notify__alert_t *s = n->s.alerts[i];
        if (s != a && notify__alert_active(s) &&
            gw_inhibited(&n->cfg->notify, s->r.device, s->r.rule, a->r.device, a->r.rule))
            return s;
    }
    return NULL;
}

/* Decide what a batch row becomes now: 1 send, 0 hold (quiet hours),
 * -1 drop (no longer relevant, or muted). */
static int notify__judge(gw_notify_t *n, const notify__batch_t *row, const notify__alert_t *a,
                         gw_nkind_t kind, int quiet)
{
    const notify__alert_t *by;

    if (kind != GW_NK_RESOLVED) {
        if (!notify__alert_active(a))
            return -1;
        if (kind == GW_NK_ESCALATED && strcmp(a->r.status, "open") != 0)
            return -1; /* acknowledged meanwhile */
        if (n->env.device_offline && n->env.device_offline(n->env.arg, a->r.device)) {
            gw_log_info("notify", "#%lld muted for group %s: device %s is offline",
                        (long long)a->r.number, row->r.group, a->r.device);
            return -1;
        }
        if ((by = notify__inhibitor(n, a)) != NULL) {
            gw_log_info("notify", "#%lld muted for group %s: inhibited by #%lld (%s on %s)",
                        (long long)a->r.number, row->r.group, (long long)by->r.number, by->r.rule,
                        by->r.device);
            return -1;
        }
    }
    if (quiet &&
        !gw_quiet_bypass(&n->cfg->notify.quiet, notify__prio(a->r.priority), a->r.category))
        return 0;
    return 1;
}

/* The group was told about the alert now. */
static void notify__told(gw_notify_t *n, notify__alert_t *a, const char *group, int64_t wall,
                         int64_t mono)
{
    notify__ag_t *g = notify__ag_find(a, group);

    if (!g) {
        notify_ag_row_t r = {.first_sent_ms = wall, .last_sent_ms = wall};
        snprintf(r.wo_id, sizeof(r.wo_id), "%s", a->r.wo_id);
        snprintf(r.group, sizeof(r.group), "%s", group);
        if (!(g = notify__ag_add(a, &r)))
            return; /* out of memory: no repeat or escalation for it */
        g->first_mono = mono;
    }
    g->r.last_sent_ms = wall;
    g->last_mono = mono;
    notify__p_ag(n, a, g);
}

/* Queue one message per member of group gi for the k items; their rows
 * are done. */
static void notify__queue(gw_notify_t *n, int gi, gw_nitem_t *items, notify__alert_t **alerts,
                          notify__batch_t **rows, size_t k, int64_t mono, int64_t wall)
{
    const gw_group_cfg_t *g = &n->cfg->notify.groups[gi];
    const notify_alert_t **ar = malloc(k * sizeof(*ar));
    char msg[GW_NOTIFY__MSG_MAX], names[256] = "", nums[256] = "";
    gw_nitem_t *copy = malloc(k * sizeof(*copy));
    cJSON *j;
    char *json = NULL;

    for (size_t i = 0; ar && i < k; i++)
        ar[i] = &alerts[i]->r;
    j = ar ? notify__alerts_json(n, g->name, items, ar, k) : NULL;
    json = j ? cJSON_PrintUnformatted(j) : NULL;
    for (int m = 0; json && copy && m < g->nmembers; m++) {
        const gw_recipient_cfg_t *r = &n->cfg->notify.recipients[g->members[m]];
        notify_msg_t nm = {.next_ms = wall, .created_ms = wall};
        /* each hook has its own segment limit; format sorts, so a copy */
        memcpy(copy, items, k * sizeof(*copy));
        gw_notify_format(n->cfg->site_name, copy, k, n->cfg->notify.hooks[r->hook_idx].max_segments,
                         msg, sizeof(msg));
        snprintf(nm.group, sizeof(nm.group), "%s", g->name);
        snprintf(nm.recipient, sizeof(nm.recipient), "%s", r->name);
        snprintf(nm.state, sizeof(nm.state), "pending");
        nm.message = strdup(msg);
        nm.alert_json = strdup(json);
        notify__msg_queue(n, &nm, mono, mono);
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", m ? ", " : "",
                 r->name);
    }
    if (!json || !copy)
        gw_log_error("notify", "group %s: out of memory: %zu alerts not sent", g->name, k);
    for (size_t i = 0; i < k; i++) {
        rows[i]->done = 1;
        notify__p_batch(n, rows[i], 1);
        if (items[i].kind != GW_NK_RESOLVED)
            notify__told(n, alerts[i], g->name, wall, mono);
        snprintf(nums + strlen(nums), sizeof(nums) - strlen(nums), " #%lld",
                 (long long)alerts[i]->r.number);
    }
    if (json && copy)
        gw_log_notice("notify", "group %s: %zu alert%s (%s) queued for %s", g->name, k,
                      k == 1 ? "" : "s", nums + 1, names);
    cJSON_Delete(j);
    free(json);
    free(copy);
    free(ar);
}

/* What the message says of an alert. */
static void notify__item(gw_notify_t *n, gw_nitem_t *it, gw_nkind_t kind, const notify__alert_t *a)
{
    it->kind = kind;
    it->number = a->r.number;
    it->priority = notify__prio(a->r.priority);
    it->title = a->r.title;
    it->category = a->r.category;
    it->device = a->r.device;
    notify__location(n, a->r.device, &it->building, &it->floor, &it->room);
}

/* Flush the rows of group gi if its wait has passed. */
static void notify__flush_group(gw_notify_t *n, int gi, notify__batch_t **rows, size_t nr,
                                int64_t mono, int64_t wall, int quiet)
{
    int64_t oldest = rows[0]->created_mono;
    notify__alert_t **alerts;
    notify__batch_t **keep;
    gw_nitem_t *items;
    size_t k = 0;

    for (size_t i = 1; i < nr; i++)
        oldest = rows[i]->created_mono < oldest ? rows[i]->created_mono : oldest;
    if (mono < oldest + n->cfg->notify.groups[gi].group_wait_ms)
        return;
    alerts = calloc(nr, sizeof(*alerts));
    keep = calloc(nr, sizeof(*keep));
    items = calloc(nr, sizeof(*items));
    for (size_t i = 0; alerts && keep && items && i < nr; i++) {
        notify__alert_t *a = notify__alert_find(n, rows[i]->r.wo_id);
        gw_nkind_t kind = GW_NK_FIRING;
        int verdict = -1;
        if (a && gw_nkind_parse(rows[i]->r.kind, &kind) == 0)
            verdict = notify__judge(n, rows[i], a, kind, quiet);
        if (verdict < 0) {
            rows[i]->done = 1;
            notify__p_batch(n, rows[i], 1);
        }
        if (verdict <= 0)
            continue;
        notify__item(n, &items[k], kind, a);
        alerts[k] = a;
        keep[k++] = rows[i];
    }
    if (k > 0)
        notify__queue(n, gi, items, alerts, keep, k, mono, wall);
    free(alerts);
    free(keep);
    free(items);
}

void notify__flush(gw_notify_t *n, int64_t mono, int64_t wall)
{
    notify__batch_t **rows;
    int quiet;

    if (!n->s.nbatch || !(rows = malloc(n->s.nbatch * sizeof(*rows))))
        return;
    quiet = gw_quiet_active(&n->cfg->notify.quiet, n->zone, wall);
    for (size_t i = 0; i < n->s.nbatch; i++) {
        notify__batch_t *b = &n->s.batch[i];
        if (notify__group_idx(n, b->r.group) < 0) {
            gw_log_warn("notify", "group %s is no longer configured: %s of %s dropped", b->r.group,
                        b->r.kind, b->r.wo_id);
            b->done = 1;
            notify__p_batch(n, b, 1);
        }
    }
    for (size_t gi = 0; gi < n->cfg->notify.ngroups; gi++) {
        size_t nr = 0;
        for (size_t i = 0; i < n->s.nbatch; i++) {
            if (!n->s.batch[i].done &&
                strcmp(n->s.batch[i].r.group, n->cfg->notify.groups[gi].name) == 0)
                rows[nr++] = &n->s.batch[i];
        }
        if (nr)
            notify__flush_group(n, (int)gi, rows, nr, mono, wall, quiet);
    }
    notify__batch_sweep(n);
    free(rows);
}
