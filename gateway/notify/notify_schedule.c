/*
 * notify_schedule.c: the notifier's tick, every GW_NOTIFY__TICK_MS
 * (notify_int.h; design in docs/hooks.md "From a work order to a phone",
 * and the repeats and escalations after it): it takes in the events a failed
 * take-in left pending, then in one transaction flushes the groups whose
 * group_wait has passed (notify_flush.c) and queues the repeats and
 * escalations that fell due, then starts the due messages
 * (notify_deliver.c).
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdlib.h>
#include <string.h>

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

/* ---- the tick -------------------------------------------------------------- */

void notify__tick_cb(uv_timer_t *t)
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
