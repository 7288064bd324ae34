/*
 * core_rollup.c: feeding the ledger's history from the loop thread.
 *
 * After each reading (core_poll.c) the device's good samples are added to a
 * 1-minute bucket per point (min, max, sum, count). When a sample falls in a
 * later minute, the bucket is closed and all closed buckets of the reading
 * go to the ledger thread as one LEDGER_OP_ROLLUP, which merges them into
 * the 1-minute and 1-hour rollups (store/ledger_rollup.c). A device's
 * online/offline changes go as LEDGER_OP_DEVICE. At stop the open buckets
 * are submitted too: the ledger merges a bucket that arrives in parts.
 *
 * Slots are indexed like the runtime's point table and remember the names
 * they belong to, so that a reload that renumbers points closes the old
 * buckets instead of mixing two points. Loop thread only.
 */
#include "gateway/core/core_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW__MINUTE_MS 60000

typedef struct core_rollup {
    ledger_rollup_row_t *slots; /* one per point; count 0: empty */
    size_t nslots;
    int *dev_status; /* last gw_dev_status_t sent per device, -1: none */
    size_t ndevs;
    ledger_rollup_row_t *closed; /* closed buckets waiting for submit */
    size_t nclosed, capclosed;
    unsigned char *checked; /* per slot: its names were compared under rt_gen */
    uint64_t rt_gen;
} core_rollup_t;

static void rollup__close(core_rollup_t *ru, ledger_rollup_row_t *slot)
{
    if (slot->count == 0)
        return;
    if (ru->nclosed == ru->capclosed) {
        size_t cap = ru->capclosed ? ru->capclosed * 2 : 32;
        ledger_rollup_row_t *g = realloc(ru->closed, cap * sizeof(*g));
        if (!g) {
            gw_log_error("rollup", "out of memory: a bucket of %s/%s lost", slot->device,
                         slot->point);
            slot->count = 0;
            return;
        }
        ru->closed = g;
        ru->capclosed = cap;
    }
    ru->closed[ru->nclosed++] = *slot;
    slot->count = 0;
}

static void rollup__submit(gw_core_t *c)
{
    core_rollup_t *ru = c->rollup;
    ledger_op_rollup_t *op;

    if (!ru || !ru->nclosed || !c->ledger)
        return;
    op = ledger_op_rollup_new(ru->nclosed);
    if (!op) {
        gw_log_error("rollup", "out of memory: %zu buckets lost", ru->nclosed);
    } else {
        memcpy(op->rows, ru->closed, ru->nclosed * sizeof(op->rows[0]));
        ledger_worker_submit(c->ledger, &op->hdr);
    }
    ru->nclosed = 0;
}

/* Size the slots to the runtime (a reload may change it), closing what no
 * longer fits. Returns the state, or NULL on out of memory. */
static core_rollup_t *rollup__state(gw_core_t *c)
{
    gw_runtime_t *rt = c->rt;
    core_rollup_t *ru = c->rollup;

    if (!ru) {
        ru = calloc(1, sizeof(*ru));
        if (!ru)
            return NULL;
        c->rollup = ru;
    }
    if (ru->nslots != rt->npoints) {
        ledger_rollup_row_t *s;
        unsigned char *ck;
        for (size_t i = rt->npoints; i < ru->nslots; i++)
            rollup__close(ru, &ru->slots[i]);
        s = realloc(ru->slots, (rt->npoints ? rt->npoints : 1) * sizeof(*s));
        if (!s)
            return NULL;
        ru->slots = s;
        ck = realloc(ru->checked, rt->npoints ? rt->npoints : 1);
        if (!ck)
            return NULL;
        ru->checked = ck;
        for (size_t i = ru->nslots; i < rt->npoints; i++)
            memset(&s[i], 0, sizeof(s[i]));
        ru->nslots = rt->npoints;
        ru->rt_gen = c->rt_gen + 1; /* compare every slot's names again */
    }
    if (ru->rt_gen != c->rt_gen) {
        memset(ru->checked, 0, ru->nslots);
        ru->rt_gen = c->rt_gen;
    }
    if (ru->ndevs != rt->cfg->ndevices) {
        int *ds =
            realloc(ru->dev_status, (rt->cfg->ndevices ? rt->cfg->ndevices : 1) * sizeof(*ds));
        if (!ds)
            return NULL;
        for (size_t i = ru->ndevs; i < rt->cfg->ndevices; i++)
            ds[i] = -1;
        ru->dev_status = ds;
        ru->ndevs = rt->cfg->ndevices;
    }
    return ru;
}

static void rollup__device(gw_core_t *c, core_rollup_t *ru, const gw_device_rt_t *dev)
{
    size_t idx = (size_t)(dev - c->rt->devs);
    ledger_op_device_t *op;

    if (idx >= ru->ndevs || dev->status == GW_DEV_UNKNOWN ||
        ru->dev_status[idx] == (int)dev->status)
        return;
    ru->dev_status[idx] = (int)dev->status;
    op = ledger_op_device_new(dev->cfg->name, dev->status == GW_DEV_ONLINE ? "online" : "offline",
                              gw_wall_ms(), dev->status == GW_DEV_ONLINE ? NULL : dev->last_err);
    if (op)
        ledger_worker_submit(c->ledger, &op->hdr);
}

void core__rollup_reading(gw_core_t *c, const gw_device_rt_t *dev)
{
    core_rollup_t *ru = rollup__state(c);

    if (!ru || !c->ledger)
        return;
    rollup__device(c, ru, dev);
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        size_t pid = dev->first_point + i;
        const drv_point_t *pc = &dev->cfg->points[i];
        const gw_sample_t *s = &c->rt->points[pid].last;
        ledger_rollup_row_t *slot;
        int64_t bucket;

        if (pid >= ru->nslots || s->quality != GW_Q_GOOD)
            continue;
        slot = &ru->slots[pid];
        bucket = s->ts_ms - s->ts_ms % GW__MINUTE_MS;
        /* a slot of the same runtime holds this point's bucket (its names
         * were compared once); after a reload it may hold another's */
        if (slot->count && (slot->ts_ms != bucket ||
                            (!ru->checked[pid] && (strcmp(slot->point, pc->name) != 0 ||
                                                   strcmp(slot->device, dev->cfg->name) != 0))))
            rollup__close(ru, slot);
        ru->checked[pid] = 1;
        if (slot->count == 0) {
            snprintf(slot->device, sizeof(slot->device), "%s", dev->cfg->name);
            snprintf(slot->point, sizeof(slot->point), "%s", pc->name);
            snprintf(slot->unit, sizeof(slot->unit), "%s", pc->unit);
            slot->ts_ms = bucket;
            slot->min = slot->max = s->value;
            slot->sum = 0;
        }
        if (s->value < slot->min)
            slot->min = s->value;
        if (s->value > slot->max)
            slot->max = s->value;
        slot->sum += s->value;
        slot->count++;
        if (s->ts_ms > slot->last_ts || slot->count == 1)
            slot->last_ts = s->ts_ms;
    }
    rollup__submit(c);
}

void core__rollup_flush(gw_core_t *c)
{
    core_rollup_t *ru = c->rollup;

    if (!ru)
        return;
    for (size_t i = 0; i < ru->nslots; i++)
        rollup__close(ru, &ru->slots[i]);
    rollup__submit(c);
}

void core__rollup_free(gw_core_t *c)
{
    core_rollup_t *ru = c->rollup;

    if (!ru)
        return;
    free(ru->slots);
    free(ru->checked);
    free(ru->dev_status);
    free(ru->closed);
    free(ru);
    c->rollup = NULL;
}
