/*
 * core_write.c: writes to Modbus points, from the loop thread (FC 05, 06,
 * 15, 16; gw_write.h). gw_writes_submit checks the point (it must exist, be
 * a coil or a holding register, opt in to writes with "write", and take the
 * value: drv_write_check), encodes the engineering value in the point's
 * type and byte order (drivers/), and queues an mb_write_t to the device's
 * bus thread, which runs it before its next poll. The result comes back
 * through the loop's queue as MB_EV_WRITE_DONE; gw_writes_done finds the
 * pending write by id and calls the caller's callback once. A refusal, and
 * every result, goes to the audit function with who asked and the point's
 * old and new value. Callers: the control socket's write verb
 * (plantroomctl) and MQTT setpoints. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
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
    double value, old;
    int has_old;
    /* who asked (copies of gw_write_who_t) */
    char actor[64], channel[16], ref[80];
    char *note; /* owned, may be NULL */
};

/* Why a point cannot be written, or NULL when its table can be. */
static const char *write__refusal(const drv_point_t *pt)
{
    if (pt->table == DRV_TABLE_DISCRETE)
        return "read-only: a discrete input (FC 02) cannot be written";
    if (pt->table == DRV_TABLE_INPUT)
        return "read-only: an input register (FC 04) cannot be written";
    return NULL;
}

static const gw_write_who_t write__nobody = {"unknown", "internal", NULL, NULL};

/* Hand one outcome to the audit function. */
static void write__audit(gw_writes_t *wr, const gw_write_record_t *r)
{
    if (wr->audit)
        wr->audit(wr->audit_arg, r);
}

static int write__remember(gw_writes_t *w, uint64_t id, const gw_write_record_t *r, gw_write_cb cb,
                           void *arg)
{
    struct gw_write_pending *p;

    if (gw_array_grow((void **)&w->pending, w->n, &w->cap, sizeof(*w->pending)) != 0)
        return GW_ENOMEM;
    p = &w->pending[w->n++];
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->cb = cb;
    p->arg = arg;
    snprintf(p->device, sizeof(p->device), "%s", r->device);
    snprintf(p->point, sizeof(p->point), "%s", r->point);
    p->value = r->value;
    p->old = r->old;
    p->has_old = r->has_old;
    snprintf(p->actor, sizeof(p->actor), "%s", r->who->actor ? r->who->actor : "unknown");
    snprintf(p->channel, sizeof(p->channel), "%s", r->who->channel ? r->who->channel : "internal");
    snprintf(p->ref, sizeof(p->ref), "%s", r->who->ref ? r->who->ref : "");
    p->note = r->who->note ? strdup(r->who->note) : NULL;
    return 0;
}

/* Find the point and check that it takes value. 0 with *dc, *pi set. */
static int write__check(const gw_runtime_t *rt, gw_write_record_t *r, const gw_device_cfg_t **dc,
                        int *pi, char *err, size_t errlen)
{
    const gw_config_t *cfg = rt->cfg;
    const drv_point_t *pt;
    const char *why;
    int di = gw_config_device_index(cfg, r->device);

    if (di < 0) {
        snprintf(err, errlen, "no device named \"%s\"", r->device);
        return GW_ENOENT;
    }
    *dc = &cfg->devices[di];
    *pi = gw_device_point_index(*dc, r->point);
    if (*pi < 0) {
        snprintf(err, errlen, "device \"%s\" has no point \"%s\"", r->device, r->point);
        return GW_ENOENT;
    }
    pt = &(*dc)->points[*pi];
    {
        const gw_sample_t *last = &rt->points[rt->devs[di].first_point + (size_t)*pi].last;
        r->has_old = last->quality == GW_Q_GOOD;
        r->old = last->value;
    }
    why = write__refusal(pt);
    if (why) {
        snprintf(err, errlen, "%s.%s is %s", r->device, r->point, why);
        return GW_EINVAL;
    }
    return drv_write_check(pt, r->value, err, errlen);
}

/* Build and queue the write; 0 or a refusal with err. */
static int write__queue(gw_writes_t *wr, const gw_runtime_t *rt, gw_write_record_t *r,
                        gw_write_cb cb, void *arg, char *err, size_t errlen)
{
    const gw_device_cfg_t *dc = NULL;
    const drv_point_t *pt;
    mb_write_t *w;
    int pi = -1, rc;

    rc = write__check(rt, r, &dc, &pi, err, errlen);
    if (rc != 0)
        return rc;
    pt = &dc->points[pi];
    if (dc->bus_idx < 0 || !rt->buses[dc->bus_idx]) {
        snprintf(err, errlen, "bus %s of device %s is not running", dc->bus, r->device);
        return GW_ESTATE;
    }
    w = mb_write_new((uint16_t)drv_point_width(pt));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    rc = drv_encode(pt, r->value, w->values, err, errlen);
    if (rc != 0) {
        free(w);
        return rc;
    }
    w->id = ++wr->seq;
    w->device_id = (int)(dc - rt->cfg->devices);
    w->unit_id = dc->unit_id;
    w->timeout_ms = dc->timeout_ms;
    w->table = pt->table == DRV_TABLE_COIL ? MB_TABLE_COIL : MB_TABLE_HOLDING;
    w->addr = pt->address;
    if (write__remember(wr, w->id, r, cb, arg) != 0) {
        free(w);
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    r->id = w->id;
    rc = mb_bus_write(rt->buses[dc->bus_idx], w);
    if (rc != 0) {
        free(wr->pending[--wr->n].note);
        r->id = 0;
        snprintf(err, errlen, "cannot queue the write: %s", gw_strerror(rc));
    }
    return rc;
}

int gw_writes_submit(gw_writes_t *wr, const gw_runtime_t *rt, const gw_write_who_t *who,
                     const char *device, const char *point, double value, gw_write_cb cb, void *arg,
                     uint64_t *id_out, char *err, size_t errlen)
{
    gw_write_record_t r = {
        .who = who ? who : &write__nobody, .device = device, .point = point, .value = value};
    int rc = write__queue(wr, rt, &r, cb, arg, err, errlen);

    if (rc != 0) {
        gw_log_warn("gw", "write %s.%s = %g by %s (%s) refused: %s", device, point, value,
                    r.who->actor ? r.who->actor : "unknown",
                    r.who->channel ? r.who->channel : "internal", err);
        r.rc = rc;
        r.err = err;
        write__audit(wr, &r);
        return rc;
    }
    if (id_out)
        *id_out = r.id;
    gw_log_info("gw", "write #%llu: %s.%s = %g by %s (%s) queued", (unsigned long long)r.id, device,
                point, value, r.who->actor ? r.who->actor : "unknown",
                r.who->channel ? r.who->channel : "internal");
    return 0;
}

void gw_writes_done(gw_writes_t *wr, const mb_write_t *w)
{
    for (size_t i = 0; i < wr->n; i++) {
        struct gw_write_pending p = wr->pending[i];
        if (p.id != w->id)
            continue;
        wr->pending[i] = wr->pending[--wr->n];
        gw_write_who_t who = {p.actor, p.channel, p.ref[0] ? p.ref : NULL, p.note};
        gw_write_record_t r = {.who = &who,
                               .device = p.device,
                               .point = p.point,
                               .value = p.value,
                               .has_old = p.has_old,
                               .old = p.old,
                               .id = p.id,
                               .rc = w->rc,
                               .err = w->rc ? w->err : ""};
        gw_log(w->rc ? GW_LOG_WARN : GW_LOG_NOTICE, "gw", "write #%llu: %s.%s by %s: %s",
               (unsigned long long)p.id, p.device, p.point, p.actor, w->rc ? w->err : "done");
        write__audit(wr, &r);
        if (p.cb)
            p.cb(p.arg, p.id, w->rc, w->rc ? w->err : "");
        free(p.note);
        return;
    }
}

void gw_writes_free(gw_writes_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->pending[i].note);
    free(w->pending);
    w->pending = NULL;
    w->n = w->cap = 0;
}
