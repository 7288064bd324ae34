/*
 * core_write.c: writes to Modbus points, from the loop thread (FC 05, 06,
 * 15, 16; gw_write.h). gw_writes_submit checks the point (it must exist and be writable: a
 * coil or a holding register, a whole value, not a bit field, string or a
 * value scaled by another point), encodes the engineering value in the
 * point's type and byte order (drivers/), and queues an mb_write_t to the
 * device's bus thread, which runs it before its next poll. The result comes
 * back through the loop's queue as MB_EV_WRITE_DONE; gw_writes_done
 * finds the pending write by id and calls the caller's callback once.
 * Callers: the control socket's write verb (plantroomctl) and rules that
 * act on devices. Loop thread only.
 */
#include "gateway/core/gw_write.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_write_pending {
    uint64_t id;
    gw_write_cb cb;
    void *arg;
    char device[GW_NAME_MAX];
    char point[DRV_NAME_MAX];
};

/* Why a point cannot be written, or NULL when it can. */
static const char *write__refusal(const drv_point_t *pt)
{
    if (pt->table == DRV_TABLE_DISCRETE)
        return "read-only: a discrete input (FC 02) cannot be written";
    if (pt->table == DRV_TABLE_INPUT)
        return "read-only: an input register (FC 04) cannot be written";
    return NULL;
}

static int write__remember(gw_writes_t *w, uint64_t id, const char *device, const char *point,
                           gw_write_cb cb, void *arg)
{
    struct gw_write_pending *p;

    if (gw_array_grow((void **)&w->pending, w->n, &w->cap, sizeof(*w->pending)) != 0)
        return GW_ENOMEM;
    p = &w->pending[w->n++];
    p->id = id;
    p->cb = cb;
    p->arg = arg;
    snprintf(p->device, sizeof(p->device), "%s", device);
    snprintf(p->point, sizeof(p->point), "%s", point);
    return 0;
}

int gw_writes_submit(gw_writes_t *wr, const gw_runtime_t *rt, const char *device, const char *point,
                     double value, gw_write_cb cb, void *arg, uint64_t *id_out, char *err,
                     size_t errlen)
{
    const gw_config_t *cfg = rt->cfg;
    const gw_device_cfg_t *dc;
    const drv_point_t *pt;
    const char *why;
    mb_write_t *w;
    int di, pi, rc;

    di = gw_config_device_index(cfg, device);
    if (di < 0) {
        snprintf(err, errlen, "no device named \"%s\"", device);
        return GW_ENOENT;
    }
    dc = &cfg->devices[di];
    pi = gw_device_point_index(dc, point);
    if (pi < 0) {
        snprintf(err, errlen, "device \"%s\" has no point \"%s\"", device, point);
        return GW_ENOENT;
    }
    pt = &dc->points[pi];
    why = write__refusal(pt);
    if (why) {
        snprintf(err, errlen, "%s.%s is %s", device, point, why);
        return GW_EINVAL;
    }
    if (dc->bus_idx < 0 || !rt->buses[dc->bus_idx]) {
        snprintf(err, errlen, "bus %s of device %s is not running", dc->bus, device);
        return GW_ESTATE;
    }
    w = mb_write_new((uint16_t)drv_point_width(pt));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    rc = drv_encode(pt, value, w->values, err, errlen);
    if (rc != 0) {
        free(w);
        return rc;
    }
    w->id = ++wr->seq;
    w->device_id = di;
    w->unit_id = dc->unit_id;
    w->timeout_ms = dc->timeout_ms;
    w->table = pt->table == DRV_TABLE_COIL ? MB_TABLE_COIL : MB_TABLE_HOLDING;
    w->addr = pt->address;
    rc = write__remember(wr, w->id, device, point, cb, arg);
    if (rc != 0) {
        free(w);
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (id_out)
        *id_out = w->id;
    gw_log_info("gw", "write #%llu: %s.%s = %g queued", (unsigned long long)w->id, device, point,
                value);
    rc = mb_bus_write(rt->buses[dc->bus_idx], w);
    if (rc != 0) {
        wr->n--;
        snprintf(err, errlen, "cannot queue the write: %s", gw_strerror(rc));
    }
    return rc;
}

void gw_writes_done(gw_writes_t *wr, const mb_write_t *w)
{
    for (size_t i = 0; i < wr->n; i++) {
        struct gw_write_pending p = wr->pending[i];
        if (p.id != w->id)
            continue;
        wr->pending[i] = wr->pending[--wr->n];
        gw_log(w->rc ? GW_LOG_WARN : GW_LOG_NOTICE, "gw", "write #%llu: %s.%s: %s",
               (unsigned long long)p.id, p.device, p.point, w->rc ? w->err : "done");
        if (p.cb)
            p.cb(p.arg, p.id, w->rc, w->rc ? w->err : "");
        return;
    }
}

void gw_writes_free(gw_writes_t *w)
{
    free(w->pending);
    w->pending = NULL;
    w->n = w->cap = 0;
}
