/*
 * notify_schedule.c: the notifier's clockwork (notify_int.h; design in
 * docs/hooks.md "From a work order to a phone", the repeats and
 * escalations after it, and "Clocks"): the tick every GW_NOTIFY__TICK_MS
 * flushes the groups whose group_wait has passed (notify_flush.c), queues
 * the repeats and escalations that fell due and starts the due messages
 * (notify_deliver.c), all judged on the monotonic clock; the store
 * thread's results are taken here (what is committed may now be delivered
 * or forgotten); and once a day (and after a reload) the housekeeping:
 * retention in memory, the file checked and purged, the zone of quiet
 * hours read again.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdlib.h>
#include <string.h>

/* ---- repeats and escalations ---------------------------------------------- */

static void notify__scan_alert(gw_notify_t *n, notify__alert_t *a, int64_t mono, int64_t wall)
{
    for (size_t j = 0; j < a->nag; j++) {
        notify__ag_t *g = &a->ag[j];
        int gi = notify__ag_group(n, g);
        const gw_group_cfg_t *c;
        if (gi < 0)
            continue;
        c = &n->cfg->notify.groups[gi];
        if (c->escalate_idx >= 0 && c->escalate_after_ms > 0 && !g->r.escalated &&
            mono - g->first_mono >= c->escalate_after_ms) {
            const char *to = n->cfg->notify.groups[c->escalate_idx].name;
            gw_log_notice("notify",
                          "#%lld not acknowledged %d s after group %s was told: "
                          "escalating to group %s",
                          (long long)a->r.number, c->escalate_after_ms / 1000, c->name, to);
            notify__batch_queue(n, to, a->r.wo_id, "escalated", wall, mono);
            g->r.escalated = 1;
            notify__p_ag(n, a, g);
        }
        if (c->repeat_interval_ms > 0 && mono - g->last_mono >= c->repeat_interval_ms) {
            notify__batch_queue(n, c->name, a->r.wo_id, "repeat", wall, mono);
            g->last_mono = mono; /* not again next tick; the flush sets it again */
            g->r.last_sent_ms = wall;
            notify__p_ag(n, a, g);
        }
    }
}

static void notify__scan(gw_notify_t *n, int64_t mono, int64_t wall)
{
    for (size_t i = 0; i < n->s.nalerts; i++) {
        notify__alert_t *a = n->s.alerts[i];
        /* acknowledged, cleared or finished: no nagging, no escalation */
        if (a->nag && notify__alert_active(a) && strcmp(a->r.status, "open") == 0)
            notify__scan_alert(n, a, mono, wall);
    }
}

/* ---- what memory may forget ------------------------------------------------- */

/* Messages sent or failed, and finished alerts, once their last change is
 * committed (the file has them). */
static void notify__prune(gw_notify_t *n)
{
    int64_t c = n->p.committed;

    for (size_t i = n->s.nmsgs; i-- > 0;) {
        const notify__msg_t *m = n->s.msgs[i];
        if (!m->inflight && m->seq <= c && strcmp(m->r.state, "pending") != 0)
            notify__msg_del(n, i);
    }
    for (size_t i = n->s.nalerts; i-- > 0;) {
        const notify__alert_t *a = n->s.alerts[i];
        if (a->seq <= c && notify__is_final(a->r.status) && !notify__batch_refers(n, a->r.wo_id))
            notify__alert_del(n, i);
    }
}

/* While notify.db cannot be written, sent and failed messages wait in
 * memory for it; past twice notify.max_pending the oldest are forgotten
 * (their last state may then never reach the file). */
static void notify__cap_history(gw_notify_t *n)
{
    size_t max = 2 * notify__max_pending(n);

    for (size_t i = 0; i < n->s.nmsgs && n->s.nmsgs > max;) {
        const notify__msg_t *m = n->s.msgs[i];
        if (m->inflight || strcmp(m->r.state, "pending") == 0) {
            i++;
            continue;
        }
        notify__msg_del(n, i);
        n->msgs_dropped++;
    }
}

/* ---- housekeeping -------------------------------------------------------------- */

static void notify__zone_load(gw_notify_t *n)
{
    const gw_quiet_cfg_t *q = &n->cfg->notify.quiet;
    gw_tz_t *tz;
    char err[256];

    if (!q->enabled)
        return;
    if (gw_tz_load(&tz, q->tz, err, sizeof(err)) != 0) {
        gw_log_error("notify", "quiet hours: zone %s: %s; %s", q->tz[0] ? q->tz : "(system)", err,
                     n->zone ? "keeping the zone read before" : "judged in UTC");
        return;
    }
    gw_tz_free(n->zone);
    n->zone = tz;
}

/* Finished alerts last changed before cutoff (and those past max_rows,
 * oldest first) are forgotten, once committed and out of the batch. */
static void notify__alerts_trim(gw_notify_t *n, int64_t cutoff)
{
    size_t max = (size_t)notify__max_rows(n);

    for (;;) {
        size_t victim = n->s.nalerts;
        for (size_t i = 0; i < n->s.nalerts; i++) {
            const notify__alert_t *a = n->s.alerts[i];
            if (notify__alert_active(a) || a->seq > n->p.committed ||
                notify__batch_refers(n, a->r.wo_id))
                continue;
            if (a->r.updated_ms < cutoff) {
                victim = i;
                break;
            }
            if (n->s.nalerts > max &&
                (victim == n->s.nalerts || a->r.updated_ms < n->s.alerts[victim]->r.updated_ms))
                victim = i;
        }
        if (victim == n->s.nalerts)
            return;
        notify__alert_del(n, victim);
    }
}

void notify__housekeeping(gw_notify_t *n)
{
    int64_t wall = gw_wall_ms(), cutoff = wall - notify__retention_ms(n);

    notify__seen_trim(n, cutoff, (size_t)notify__max_rows(n));
    notify__alerts_trim(n, cutoff);
    notify__p_house(n, 1, wall);
    notify__zone_load(n);
    n->house_next_mono = gw_mono_ms() + GW_NOTIFY__DAY_MS;
}

/* ---- the tick and the store thread's results -------------------------------------- */

/* Nothing in memory that time could move (no alert, batch or message, the
 * file sound): only an event from outside brings work, and that calls
 * notify__tick_busy. Housekeeping (daily) goes at the idle rate. */
static int notify__idle(const gw_notify_t *n)
{
    return n->s.nalerts == 0 && n->s.nbatch == 0 && n->s.nmsgs == 0 &&
           n->p.fault == NOTIFY_FAULT_NONE && !n->p.open;
}

static void notify__tick_rate(gw_notify_t *n, int idle)
{
    uint64_t ms = idle ? GW_NOTIFY__IDLE_TICK_MS : GW_NOTIFY__TICK_MS;

    if (idle == n->tick_idle || n->stopping)
        return;
    n->tick_idle = idle;
    uv_timer_start(&n->tick, notify__tick_cb, ms, ms);
}

void notify__tick_busy(gw_notify_t *n)
{
    notify__tick_rate(n, 0);
}

void notify__tick_cb(uv_timer_t *t)
{
    gw_notify_t *n = t->data;
    uint64_t t0 = uv_hrtime(), us;
    int64_t mono = gw_mono_ms(), wall = gw_wall_ms();

    if (n->stopping)
        return;
    notify__flush(n, mono, wall);
    notify__scan(n, mono, wall);
    notify__deliver(n, mono, wall);
    notify__cap_history(n);
    if (n->p.fault == NOTIFY_FAULT_LOCKED)
        notify__p_alarm(n); /* raised once the lock was held long enough */
    if (mono >= n->house_next_mono)
        notify__housekeeping(n);
    notify__tick_rate(n, notify__idle(n));
    us = (uv_hrtime() - t0) / 1000;
    n->ticks++;
    n->tick_us_total += us;
    if (us > n->tick_us_max)
        n->tick_us_max = us;
}

void notify__wake_cb(uv_async_t *a)
{
    gw_notify_t *n = a->data;
    gw_msg_t *list = gw_queue_take_all(&n->results);
    int committed = 0;

    while (list) {
        gw_msg_t *next = list->next;
        if (!n->stopping) {
            notify__p_result(n, list);
            committed |= list->kind == NOTIFY_EV_COMMITTED;
        }
        gw_msg_free(list);
        list = next;
    }
    if (!n->stopping)
        notify__tick_busy(n);
    if (committed && !n->stopping) {
        notify__prune(n);
        notify__deliver(n, gw_mono_ms(), gw_wall_ms()); /* what was waiting for its record */
    }
}
