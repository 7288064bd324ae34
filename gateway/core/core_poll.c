/*
 * core_poll.c: Modbus readings into samples: decode each point through its
 * profile (drivers/), set quality, track device online/offline, feed the
 * rollups, run the device's rules, then tell the listener (which publishes
 * status and telemetry). Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/core/core_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- readings ---------------------------------------------------------- */

int core__set_status(gw_core_t *c, gw_device_rt_t *dev, gw_dev_status_t st)
{
    if (dev->status == st)
        return 0;
    dev->status = st;
    if (st == GW_DEV_UNKNOWN)
        return 1;
    if (st == GW_DEV_ONLINE)
        gw_log_notice("gw", "device %s online", dev->cfg->name);
    else if (dev->cfg->bus_idx >= 0 && !dev->overdue)
        gw_log_warn("gw", "device %s offline after %d failed polls: %s", dev->cfg->name, dev->fails,
                    dev->last_err);
    else
        gw_log_warn("gw", "device %s offline: %s", dev->cfg->name, dev->last_err);
    if (c->listener.device_status)
        c->listener.device_status(c->listener.arg, dev);
    return 1;
}

static void poll__device_status(gw_core_t *c, gw_device_rt_t *dev, int ok, const char *err)
{
    gw_dev_status_t st = dev->status;

    dev->polls++;
    if (ok) {
        dev->fails = 0;
        st = GW_DEV_ONLINE;
    } else {
        dev->errors++;
        dev->fails++;
        snprintf(dev->last_err, sizeof(dev->last_err), "%s", err);
        if (dev->fails >= dev->cfg->offline_after)
            st = GW_DEV_OFFLINE;
        if (dev->fails == 1)
            gw_log_warn("modbus", "device %s: poll failed: %s", dev->cfg->name, err);
    }
    core__set_status(c, dev, st);
}

void core__device_updated(gw_core_t *c, uint32_t dev_idx, int64_t ts_ms)
{
    core__run_rules(c, dev_idx);
    if (c->listener.device_updated)
        c->listener.device_updated(c->listener.arg, &c->rt->devs[dev_idx], ts_ms);
}

/* Decode one point of a reading. A failed block fails its own points
 * only; an exception is kept by code so that telemetry names it. */
static void poll__decode_point(gw_runtime_t *rt, const gw_device_rt_t *dev, size_t i,
                               const mb_reading_t *r)
{
    gw_point_rt_t *p = &rt->points[dev->first_point + i];
    const drv_point_t *pt = &dev->cfg->points[i];
    uint16_t st = r->block_status[p->block_idx];

    p->last.ts_ms = r->ts_ms;
    p->last.mono_ms = r->mono_ms;
    if (r->rc != 0 || st != 0) {
        p->last.quality = GW_Q_COMM_ERROR;
        p->exception = st == MB_BLOCK_FAILED ? 0 : st;
        return;
    }
    p->exception = 0;
    if (drv_decode(pt, r->words + p->word_offset, &p->last.value) == 0)
        p->last.quality = GW_Q_GOOD;
    else
        p->last.quality = GW_Q_BAD_CONFIG;
    if (p->text)
        drv_decode_string(pt, r->words + p->word_offset, p->text, 2u * pt->length + 1);
}

/* A point scaled by another point's decimals: decode again with them, or
 * take that point's failure. */
static void poll__apply_decimals(gw_runtime_t *rt, const gw_device_rt_t *dev, size_t i,
                                 const mb_reading_t *r)
{
    gw_point_rt_t *p = &rt->points[dev->first_point + i];
    const drv_point_t *pt = &dev->cfg->points[i];
    const gw_point_rt_t *dp;
    double dec;

    if (pt->decimals_idx < 0 || p->last.quality != GW_Q_GOOD)
        return;
    dp = &rt->points[dev->first_point + (size_t)pt->decimals_idx];
    if (dp->last.quality != GW_Q_GOOD) {
        p->last.quality = dp->last.quality;
        p->exception = dp->exception;
        return;
    }
    dec = dp->last.value;
    /* a device's number: range-checked before the cast */
    if (!(dec >= 0 && dec <= 9) || dec != floor(dec) ||
        drv_decode_scaled(pt, r->words + p->word_offset, (int)dec, &p->last.value) != 0)
        p->last.quality = GW_Q_BAD_CONFIG; /* decimals outside 0..9 */
}

void core__on_reading(gw_core_t *c, const mb_reading_t *r)
{
    gw_runtime_t *rt = c->rt;
    gw_device_rt_t *dev;

    if (r->device_id < 0 || (size_t)r->device_id >= rt->cfg->ndevices)
        return;
    dev = &rt->devs[r->device_id];
    if (r->nwords != dev->nwords || r->nblocks != dev->nblocks)
        return; /* a reading planned for another config: ignore */
    for (size_t i = 0; i < dev->cfg->npoints; i++)
        poll__decode_point(rt, dev, i, r);
    for (size_t i = 0; dev->has_decimals && i < dev->cfg->npoints; i++)
        poll__apply_decimals(rt, dev, i, r);
    if (r->rc == 0) {
        dev->last_ok_ms = r->ts_ms;
        dev->last_ok_mono = r->mono_ms;
    }
    /* Its bus thread reported: the liveness deadline moves on from when the
     * poll ended (a poll stuck for a minute ends late, but it did end). */
    if (r->mono_ms + r->latency_us / 1000 > dev->report_mono)
        dev->report_mono = r->mono_ms + r->latency_us / 1000;
    dev->in_backoff = r->offline;
    if (dev->overdue)
        gw_log_notice("gw", "device %s: its bus thread reports polls again", dev->cfg->name);
    dev->overdue = 0;
    poll__device_status(c, dev, r->rc == 0, r->err);
    core__rollup_reading(c, dev);
    core__device_updated(c, (uint32_t)r->device_id, r->ts_ms);
}
