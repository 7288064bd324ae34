/*
 * gw_poll.c: Modbus readings into samples: decode each point through its
 * profile (drivers/), set quality, track device online/offline, then run
 * the device's rules and publish its telemetry. Loop thread only.
 */
#include "gateway/gw_daemon_int.h"
#include "gateway/gw_clock.h"
#include "gateway/gw_log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- readings ---------------------------------------------------------- */

static void daemon__device_status(gw_daemon_t *d, gw_device_rt_t *dev, int ok, const char *err)
{
    gw_dev_status_t before = dev->status;

    dev->polls++;
    if (ok) {
        dev->fails = 0;
        dev->status = GW_DEV_ONLINE;
    } else {
        dev->errors++;
        dev->fails++;
        snprintf(dev->last_err, sizeof(dev->last_err), "%s", err);
        if (dev->fails >= dev->cfg->offline_after)
            dev->status = GW_DEV_OFFLINE;
        if (dev->fails == 1)
            gw_log_warn("modbus", "device %s: poll failed: %s", dev->cfg->name, err);
    }
    if (dev->status != before && dev->status != GW_DEV_UNKNOWN) {
        if (dev->status == GW_DEV_ONLINE)
            gw_log_notice("gw", "device %s online", dev->cfg->name);
        else
            gw_log_warn("gw", "device %s offline after %d failed polls: %s", dev->cfg->name,
                        dev->fails, dev->last_err);
        gw__publish_device_status(d, dev);
    }
}

void gw__on_reading(gw_daemon_t *d, const mb_reading_t *r)
{
    gw_runtime_t *rt = d->rt;
    gw_device_rt_t *dev;

    if (r->device_id < 0 || (size_t)r->device_id >= rt->cfg->ndevices)
        return;
    dev = &rt->devs[r->device_id];
    if (r->rc == 0 && r->nwords != dev->nwords)
        return; /* a reading planned for another config: ignore */
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        gw_point_rt_t *p = &rt->points[dev->first_point + i];
        p->last.ts_ms = r->ts_ms;
        if (r->rc != 0) {
            p->last.quality = GW_Q_COMM_ERROR;
            continue;
        }
        if (drv_decode(&dev->cfg->points[i], r->words + p->word_offset, &p->last.value) == 0)
            p->last.quality = GW_Q_GOOD;
        else
            p->last.quality = GW_Q_BAD_CONFIG;
    }
    if (r->rc == 0)
        dev->last_ok_ms = r->ts_ms;
    daemon__device_status(d, dev, r->rc == 0, r->err);
    gw__rollup_reading(d, dev);
    gw__run_rules(d, (uint32_t)r->device_id);
    gw__publish_telemetry(d, dev, r->ts_ms);
}

void gw__on_bus_state(gw_daemon_t *d, const mb_bus_state_t *s)
{
    (void)d;
    (void)s; /* logged by the bus thread; device states follow from readings */
}
