/*
 * core_rollup.c: feeding the ledger's history from the loop thread.
 *
 * After each reading (core_poll.c) the device's good samples are added to a
 * 1-minute bucket per point (min, max, sum, count). When a sample falls in a
 * later minute, the bucket is closed: it waits, as numbers, in the point's
 * "done" slot, and after a reading up to ROLLUP_DRAIN of the waiting
 * buckets go to the ledger thread (in LEDGER_OP_ROLLUPs of at most
 * ROLLUP_CHUNK rows), if its queue is next to empty; it merges them into
 * the 1-minute and 1-hour rollups (store/ledger_rollup.c). At the
 * minute's close every point's bucket closes within a second: handed over
 * at once they were 20,000 rows of 192 bytes (3.8 MB) queued at a site of
 * 20,000 points, the peak of the daemon's memory; now they wait as 32
 * bytes each and the ledger holds about two drains' worth
 * (docs/performance.md, "The full pipeline"). A bucket that closes while
 * the one before it still waits (a ledger more than a minute behind)
 * pushes that one out first, as before. A device's online/offline changes go as
 * LEDGER_OP_DEVICE. At stop the open and waiting buckets are submitted
 * too: the ledger merges a bucket that arrives in parts.
 *
 * Slots are indexed like the runtime's point table and hold the numbers
 * only (32 bytes a point); a closed bucket takes its device, point and unit
 * from the runtime. The done slots exist only while a bucket waits in
 * them: allocated at a close (calloc: pages are touched as buckets land),
 * freed once a drain has emptied them, so between the minutes' closes the
 * rollups hold one slot a point. A reload flushes every open bucket under the old
 * runtime before the swap (gw_core_swap), so a slot never outlives the
 * point it belongs to. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/core/core_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW__MINUTE_MS 60000
/* Closed buckets go to the ledger in ops of at most this many rows, packed
 * (48 bytes each and their names, at most ROLLUP_NAMES bytes of them: an
 * op of longer names goes with fewer rows): a flush of 20,000 points
 * (stop, reload) then holds about 30 kB at a time instead of two copies
 * of 4 MB. */
#define ROLLUP_CHUNK 512
#define ROLLUP_NAMES (ROLLUP_CHUNK * 16)
/* Closed buckets waiting go to the ledger this many rows at a time (in ops
 * of ROLLUP_CHUNK), and only when its queue is (nearly) empty: about 250 kB
 * queued at most (800 kB unpacked), a few transactions a minute. */
#define ROLLUP_DRAIN (8 * ROLLUP_CHUNK)

/* An open or closed bucket of one point: 32 bytes. The minute is counted
 * from the epoch (int32: years -2000 to 6000; a sample outside is not
 * rolled up), the newest sample's time kept as ms into that minute. A
 * bucket that reaches ROLLUP_COUNT_MAX samples (a point reported more
 * than 1,000 times a second) closes early and a new one of the same
 * minute opens: the ledger adds a bucket that arrives in parts. */
typedef struct rollup_slot {
    double min, max, sum;
    int32_t minute;   /* start of the minute / 60,000 ms, floor */
    uint16_t count;   /* samples; 0: empty */
    uint16_t last_ms; /* the newest sample: ms after the minute's start */
} rollup_slot_t;

_Static_assert(sizeof(rollup_slot_t) == 32, "a rollup slot is 32 bytes");

#define ROLLUP_COUNT_MAX UINT16_MAX

typedef struct core_rollup {
    rollup_slot_t *slots; /* one per point */
    rollup_slot_t *done;  /* one per point: its closed bucket not yet submitted;
                           * allocated when a bucket closes, freed when none waits */
    size_t nslots;
    size_t ndone;    /* done slots with a bucket */
    size_t cursor;   /* where the next drain looks first */
    int *dev_status; /* last gw_dev_status_t sent per device, -1: none */
    size_t ndevs;
    ledger_op_rollup_t *op; /* closed buckets being written, up to ROLLUP_CHUNK rows */
} core_rollup_t;

static void rollup__submit(gw_core_t *c)
{
    core_rollup_t *ru = c->rollup;

    if (!ru || !ru->op || !ru->op->n)
        return;
    ledger_worker_submit(c->ledger, &ru->op->hdr);
    ru->op = NULL;
}

/* Point pid's closed bucket in slot (of the runtime now) as a row of the
 * op being written (submitted when full); slot is empty after. */
static void rollup__emit(gw_core_t *c, core_rollup_t *ru, size_t pid, rollup_slot_t *slot)
{
    const gw_device_rt_t *dev;
    const drv_point_t *pc;
    ledger_rollup_packed_t r = {0};

    dev = &c->rt->devs[c->rt->points[pid].device_idx];
    pc = &dev->cfg->points[pid - dev->first_point];
    r.ts_ms = (int64_t)slot->minute * GW__MINUTE_MS;
    r.min = slot->min;
    r.max = slot->max;
    r.sum = slot->sum;
    r.count = slot->count;
    r.last_ts = r.ts_ms + slot->last_ms;
    slot->count = 0;
    for (int tries = 0; tries < 2; tries++) {
        if (!ru->op && !(ru->op = ledger_op_rollup_packed_new(ROLLUP_CHUNK, ROLLUP_NAMES)))
            break;
        if (ledger_op_rollup_put(ru->op, dev->cfg->name, pc->name, pc->unit, &r) == 0)
            return;
        rollup__submit(c); /* full: a flush of every point goes in parts, not one copy of all */
    }
    gw_log_error("rollup", "out of memory: a bucket of %s/%s lost", dev->cfg->name, pc->name);
}

/* Close point pid's bucket: it waits in its done slot (a bucket waiting
 * there already goes to the ledger's rows first; with no memory for the
 * done slots, this one does). */
static void rollup__close(gw_core_t *c, core_rollup_t *ru, size_t pid)
{
    if (ru->slots[pid].count == 0)
        return;
    if (!ru->done && !(ru->done = calloc(ru->nslots, sizeof(*ru->done)))) {
        rollup__emit(c, ru, pid, &ru->slots[pid]);
        return;
    }
    if (ru->done[pid].count)
        rollup__emit(c, ru, pid, &ru->done[pid]);
    else
        ru->ndone++;
    ru->done[pid] = ru->slots[pid];
    ru->slots[pid].count = 0;
}

/* Submit up to ROLLUP_DRAIN waiting buckets when the ledger has next to
 * nothing queued (ledger_worker_depth counts a queued op as 1, one it has
 * taken by its rows); force: all of them. Then whatever rows were closed. */
static void rollup__drain(gw_core_t *c, core_rollup_t *ru, int force)
{
    if (!c->ledger)
        return;
    while (ru->ndone && (force || ledger_worker_depth(c->ledger) < 2)) {
        size_t seen = 0, rows = 0;
        for (; ru->ndone && rows < ROLLUP_DRAIN && seen < ru->nslots; seen++) {
            size_t pid = ru->cursor;
            ru->cursor = pid + 1 < ru->nslots ? pid + 1 : 0;
            if (ru->done[pid].count) {
                rollup__emit(c, ru, pid, &ru->done[pid]); /* submits each ROLLUP_CHUNK */
                ru->ndone--;
                rows++;
            }
        }
        if (seen == ru->nslots)
            ru->ndone = 0; /* every slot seen: none waits */
        rollup__submit(c);
        if (!ru->ndone) { /* the done slots' pages go back until the next close */
            free(ru->done);
            ru->done = NULL;
        }
        if (!force)
            break; /* the next reading sends more once these are in */
    }
    rollup__submit(c);
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
    if (ru->nslots != rt->npoints) { /* a new runtime: every slot is empty (flushed) */
        size_t n = rt->npoints ? rt->npoints : 1;
        rollup_slot_t *s = realloc(ru->slots, n * sizeof(*s));
        if (!s)
            return NULL; /* nslots unchanged: tried again at the next reading */
        memset(s, 0, n * sizeof(*s));
        ru->slots = s;
        free(ru->done);
        ru->done = NULL;
        ru->nslots = rt->npoints;
        ru->ndone = 0;
        ru->cursor = 0;
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
    int64_t ts = INT64_MIN, minute = 0;
    int in_range = 0;

    if (!ru || !c->ledger)
        return;
    rollup__device(c, ru, dev);
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        size_t pid = dev->first_point + i;
        const gw_sample_t *s = &c->rt->points[pid].last;
        rollup_slot_t *slot;

        if (pid >= ru->nslots || s->quality != GW_Q_GOOD)
            continue;
        if (s->ts_ms != ts) { /* a reading's points share their time */
            ts = s->ts_ms;
            minute = ts / GW__MINUTE_MS - (ts % GW__MINUTE_MS < 0);
            in_range = minute >= INT32_MIN && minute <= INT32_MAX;
        }
        if (!in_range)
            continue;
        slot = &ru->slots[pid];
        if (slot->count && (slot->minute != minute || slot->count == ROLLUP_COUNT_MAX))
            rollup__close(c, ru, pid);
        if (slot->count == 0) {
            slot->minute = (int32_t)minute;
            slot->min = slot->max = s->value;
            slot->sum = 0;
            slot->last_ms = 0;
        }
        if (s->value < slot->min)
            slot->min = s->value;
        if (s->value > slot->max)
            slot->max = s->value;
        slot->sum += s->value;
        slot->count++;
        if (ts - minute * GW__MINUTE_MS > slot->last_ms || slot->count == 1)
            slot->last_ms = (uint16_t)(ts - minute * GW__MINUTE_MS);
    }
    rollup__drain(c, ru, 0);
}

void core__rollup_flush(gw_core_t *c)
{
    core_rollup_t *ru = c->rollup;

    if (!ru)
        return;
    for (size_t i = 0; i < ru->nslots && i < c->rt->npoints; i++)
        rollup__close(c, ru, i);
    rollup__drain(c, ru, 1);
}

size_t core__rollup_waiting(const gw_core_t *c)
{
    return c->rollup ? c->rollup->ndone : 0;
}

size_t core__rollup_slot_bytes(const gw_core_t *c)
{
    const core_rollup_t *ru = c->rollup;

    return ru ? ru->nslots * sizeof(rollup_slot_t) * (ru->done ? 2 : 1) : 0;
}

void core__rollup_free(gw_core_t *c)
{
    core_rollup_t *ru = c->rollup;

    if (!ru)
        return;
    free(ru->slots);
    free(ru->done);
    free(ru->dev_status);
    gw_msg_free(ru->op ? &ru->op->hdr : NULL);
    free(ru);
    c->rollup = NULL;
}
