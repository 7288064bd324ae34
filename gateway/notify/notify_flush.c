/*
 * notify_flush.c: batches flushed into messages (notify_int.h; design in
 * docs/hooks.md "From a work order to a phone", step 3, "Quiet hours" and
 * "Inhibition"): a group's batch goes out group_wait_ms after its oldest
 * alert arrived, as one message per member. At that moment alerts that no
 * longer matter are dropped, muted ones (device offline, inhibit_rules) are
 * dropped and logged, and those quiet hours hold stay in the batch. The
 * messages and the batch's removal are written in the caller's transaction.
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The active alert that inhibits a (inhibit_rules), or NULL. */
static const notify_alert_t *notify__inhibitor(const gw_notify_t *n, const notify_alert_t *a,
                                               const notify_alert_t *active, size_t nactive)
{
    for (size_t i = 0; i < nactive; i++) {
        if (strcmp(active[i].wo_id, a->wo_id) != 0 &&
            gw_inhibited(&n->cfg->notify, active[i].device, active[i].rule, a->device, a->rule))
            return &active[i];
    }
    return NULL;
}

/* Decide what a batch row becomes now: 1 send, 0 hold (quiet hours),
 * -1 drop (no longer relevant, or muted). */
static int notify__judge(gw_notify_t *n, const notify_batch_row_t *row, const notify_alert_t *a,
                         gw_nkind_t kind, int quiet, const notify_alert_t *active, size_t nactive)
{
    const notify_alert_t *by;

    if (kind != GW_NK_RESOLVED) {
        if (a->cleared || notify__is_final(a->status))
            return -1;
        if (kind == GW_NK_ESCALATED && strcmp(a->status, "open") != 0)
            return -1; /* acknowledged meanwhile */
        if (n->env.device_offline && n->env.device_offline(n->env.arg, a->device)) {
            gw_log_info("notify", "#%lld muted for group %s: device %s is offline",
                        (long long)a->number, row->group, a->device);
            return -1;
        }
        if ((by = notify__inhibitor(n, a, active, nactive)) != NULL) {
            gw_log_info("notify", "#%lld muted for group %s: inhibited by #%lld (%s on %s)",
                        (long long)a->number, row->group, (long long)by->number, by->rule,
                        by->device);
            return -1;
        }
    }
    if (quiet && !gw_quiet_bypass(&n->cfg->notify.quiet, notify__prio(a->priority), a->category))
        return 0;
    return 1;
}

/* Queue one message per member of group gi for items; delete their rows. */
static int notify__queue(gw_notify_t *n, int gi, gw_nitem_t *items, notify_alert_t *alerts,
                         const int64_t *row_ids, size_t k, int64_t now)
{
    const gw_group_cfg_t *g = &n->cfg->notify.groups[gi];
    char msg[GW_NOTIFY__MSG_MAX], names[256] = "", nums[256] = "";
    cJSON *j = notify__alerts_json(n, g->name, items, alerts, k);
    char *json = j ? cJSON_PrintUnformatted(j) : NULL;
    gw_nitem_t *copy = malloc(k * sizeof(*copy));
    int rc = json && copy ? 0 : GW_ENOMEM;

    for (int m = 0; rc == 0 && m < g->nmembers; m++) {
        const gw_recipient_cfg_t *r = &n->cfg->notify.recipients[g->members[m]];
        const gw_hook_cfg_t *h = &n->cfg->notify.hooks[r->hook_idx];
        /* each hook has its own segment limit; format sorts, so a copy */
        memcpy(copy, items, k * sizeof(*copy));
        gw_notify_format(n->cfg->site_name, copy, k, h->max_segments, msg, sizeof(msg));
        rc = notify_msg_add(n->st, g->name, r->name, msg, json, now, NULL);
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", m ? ", " : "",
                 r->name);
    }
    for (size_t i = 0; rc == 0 && i < k; i++) {
        rc = notify_batch_del(n->st, row_ids[i]);
        if (rc == 0 && items[i].kind != GW_NK_RESOLVED)
            rc = notify_ag_sent(n->st, alerts[i].wo_id, g->name, now);
        snprintf(nums + strlen(nums), sizeof(nums) - strlen(nums), " #%lld",
                 (long long)alerts[i].number);
    }
    if (rc == 0)
        gw_log_notice("notify", "group %s: %zu alert%s (%s) queued for %s", g->name, k,
                      k == 1 ? "" : "s", nums + 1, names);
    cJSON_Delete(j);
    free(json);
    free(copy);
    return rc;
}

/* Flush the rows [rows, rows + nr) of one group if its wait has passed. */
static int notify__flush_group(gw_notify_t *n, const notify_batch_row_t *rows, size_t nr,
                               int64_t now, int quiet)
{
    int gi = notify__group_idx(n, rows[0].group);
    int64_t oldest = rows[0].created_ms, *ids;
    notify_alert_t *alerts, *active = NULL;
    size_t nactive = 0;
    gw_nitem_t *items;
    size_t k = 0;
    int rc = 0;

    if (gi < 0) {
        gw_log_warn("notify", "group %s is no longer configured: %zu alerts dropped", rows[0].group,
                    nr);
        for (size_t i = 0; i < nr && rc == 0; i++)
            rc = notify_batch_del(n->st, rows[i].id);
        return rc;
    }
    for (size_t i = 1; i < nr; i++)
        oldest = rows[i].created_ms < oldest ? rows[i].created_ms : oldest;
    if (now < oldest + n->cfg->notify.groups[gi].group_wait_ms)
        return 0;
    alerts = calloc(nr, sizeof(*alerts));
    items = calloc(nr, sizeof(*items));
    ids = calloc(nr, sizeof(*ids));
    if (!alerts || !items || !ids) {
        rc = GW_ENOMEM;
        goto out_free;
    }
    if (n->cfg->notify.ninhibits > 0) {
        rc = notify_alert_list_active(n->st, &active, &nactive);
        if (rc < 0)
            goto out_free;
    }
    for (size_t i = 0; i < nr && rc == 0; i++) {
        gw_nkind_t kind = GW_NK_FIRING;
        int verdict;
        if (gw_nkind_parse(rows[i].kind, &kind) != 0 ||
            notify_alert_get(n->st, rows[i].wo_id, &alerts[k]) != 0) {
            rc = notify_batch_del(n->st, rows[i].id);
            continue;
        }
        verdict = notify__judge(n, &rows[i], &alerts[k], kind, quiet, active, nactive);
        if (verdict < 0)
            rc = notify_batch_del(n->st, rows[i].id);
        if (verdict <= 0)
            continue;
        items[k].kind = kind;
        items[k].number = alerts[k].number;
        items[k].priority = notify__prio(alerts[k].priority);
        items[k].title = alerts[k].title;
        items[k].category = alerts[k].category;
        items[k].device = alerts[k].device;
        notify__location(n, alerts[k].device, &items[k].building, &items[k].floor, &items[k].room);
        ids[k] = rows[i].id;
        k++;
    }
    if (rc == 0 && k > 0)
        rc = notify__queue(n, gi, items, alerts, ids, k, now);
out_free:
    free(active);
    free(alerts);
    free(items);
    free(ids);
    return rc;
}

int notify__flush(gw_notify_t *n, int64_t now)
{
    notify_batch_row_t *rows;
    size_t nr, start = 0;
    int quiet, rc;

    rc = notify_batch_list(n->st, &rows, &nr);
    if (rc < 0 || nr == 0) {
        free(rows);
        return rc;
    }
    quiet = gw_quiet_active(&n->cfg->notify.quiet, now);
    for (size_t i = 1; i <= nr && rc == 0; i++) {
        if (i == nr || strcmp(rows[i].group, rows[start].group) != 0) {
            rc = notify__flush_group(n, rows + start, i - start, now, quiet);
            start = i;
        }
    }
    free(rows);
    return rc;
}
