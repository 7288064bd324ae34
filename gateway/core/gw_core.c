/*
 * gw_core.c: the core's facade (gw_core.h): its lifecycle, the messages of
 * the bus threads, reloads, and what other parts may do to the point table
 * (points pushed by NB-IoT reports, writes). The work is done by the files
 * below it (core_int.h). Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/core/core_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void core__write_audit(void *arg, const gw_write_record_t *r);

int gw_core_create(gw_core_t **out, uv_loop_t *loop, gw_config_t *cfg, char *err, size_t errlen)
{
    gw_core_t *c = calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (!c) {
        gw_config_free(cfg);
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    rc = gw_runtime_build(&c->rt, cfg, err, errlen);
    if (rc != 0) {
        free(c);
        return rc;
    }
    c->loop = loop;
    c->writes.audit = core__write_audit;
    c->writes.audit_arg = c;
    *out = c;
    return 0;
}

void gw_core_set_listener(gw_core_t *c, const gw_core_listener_t *l)
{
    c->listener = *l;
}

void gw_core_set_ledger(gw_core_t *c, ledger_worker_t *lw)
{
    c->ledger = lw;
}

void gw_core_rules_state_start(gw_core_t *c)
{
    core__rules_state_start(c);
}

int gw_core_start_buses(gw_core_t *c, gw_queue_t *q, char *err, size_t errlen)
{
    int rc;

    c->inq = q;
    rc = gw_runtime_start_buses(c->rt, q, err, errlen);
    core__live_buses_started(c);
    return rc;
}

void gw_core_liveness_start(gw_core_t *c)
{
    core__live_start(c);
}

int gw_core_threads_ok(const gw_core_t *c, char *why, size_t whylen)
{
    return core__threads_ok(c, why, whylen);
}

void gw_core_stop_buses(gw_core_t *c)
{
    if (c && c->rt)
        gw_runtime_stop_buses(c->rt);
}

void gw_core_shutdown(gw_core_t *c)
{
    core__live_stop(c);
    core__rules_state_stop(c);
    core__rollup_flush(c);
}

void gw_core_free(gw_core_t *c)
{
    if (!c)
        return;
    gw_runtime_free(c->rt);
    core__rollup_free(c);
    gw_writes_free(&c->writes);
    free(c->alarms);
    free(c->orphans);
    free(c->bus_allow);
    free(c);
}

const gw_runtime_t *gw_core_runtime(const gw_core_t *c)
{
    return c->rt;
}

const gw_config_t *gw_core_config(const gw_core_t *c)
{
    return c->rt->cfg;
}

int gw_core_on_message(gw_core_t *c, const gw_msg_t *m)
{
    switch (m->kind) {
    case MB_EV_READING:
        core__on_reading(c, (const mb_reading_t *)m);
        core__live_poke(c);
        return 1;
    case MB_EV_WRITE_DONE:
        gw_writes_done(&c->writes, (const mb_write_t *)m);
        return 1;
    case MB_EV_BUS_STATE:
        return 1; /* logged by the bus thread; device states follow from readings */
    default:
        return 0;
    }
}

gw_runtime_t *gw_core_swap(gw_core_t *c, gw_runtime_t *rt)
{
    gw_runtime_t *old = c->rt;

    core__rollup_flush(c); /* the open buckets, under the names they belong to */
    gw_runtime_carry(rt, old);
    c->rt = rt;
    return old;
}

void gw_core_ledger_policy(gw_core_t *c)
{
    ledger_op_policy_t *op;

    if (!c->ledger)
        return;
    op = ledger_op_policy_new(&c->rt->cfg->ledger_policy);
    if (op)
        ledger_worker_submit(c->ledger, &op->hdr);
    else
        gw_log_error("ledger", "out of memory: SLA, routing and retention not applied");
}

/* ---- points pushed by other sources ------------------------------------- */

void gw_core_point_set(gw_core_t *c, uint32_t point_id, const gw_sample_t *s)
{
    if (point_id < c->rt->npoints)
        c->rt->points[point_id].last = *s;
}

void gw_core_device_mark(gw_core_t *c, size_t dev, gw_quality_t q)
{
    const gw_device_rt_t *d;

    if (dev >= c->rt->cfg->ndevices)
        return;
    d = &c->rt->devs[dev];
    for (size_t j = 0; j < d->cfg->npoints; j++) {
        gw_sample_t *s = &c->rt->points[d->first_point + j].last;
        s->quality = q;
        if (q != GW_Q_GOOD) { /* as of now: a stale rule sees how long it has been */
            s->ts_ms = gw_wall_ms();
            s->mono_ms = gw_mono_ms();
        }
    }
}

void gw_core_device_seen(gw_core_t *c, size_t dev, int64_t ts_ms, int64_t mono_ms)
{
    if (dev < c->rt->cfg->ndevices) {
        c->rt->devs[dev].last_ok_ms = ts_ms;
        c->rt->devs[dev].last_ok_mono = mono_ms;
    }
}

int gw_core_device_status(gw_core_t *c, size_t dev, gw_dev_status_t st, const char *err)
{
    gw_device_rt_t *d;

    if (dev >= c->rt->cfg->ndevices)
        return 0;
    d = &c->rt->devs[dev];
    if (err)
        snprintf(d->last_err, sizeof(d->last_err), "%s", err);
    return core__set_status(c, d, st);
}

void gw_core_device_updated(gw_core_t *c, size_t dev, int64_t ts_ms)
{
    if (dev < c->rt->cfg->ndevices)
        core__device_updated(c, (uint32_t)dev, ts_ms);
}

/* A write's outcome as an audit row "write": who, the point, the old and
 * new value, the result (gw_writes_t.audit). */
static void core__write_audit(void *arg, const gw_write_record_t *r)
{
    gw_core_t *c = arg;
    cJSON *d = r->who->note ? cJSON_Parse(r->who->note) : NULL;

    if (!c->ledger) {
        cJSON_Delete(d);
        return;
    }
    if (!cJSON_IsObject(d)) {
        cJSON_Delete(d);
        d = cJSON_CreateObject();
    }
    if (!d)
        return;
    cJSON_AddStringToObject(d, "device", r->device);
    cJSON_AddStringToObject(d, "point", r->point);
    cJSON_AddNumberToObject(d, "new", r->value); /* not finite: null */
    if (r->has_old)
        cJSON_AddNumberToObject(d, "old", r->old);
    else
        cJSON_AddNullToObject(d, "old");
    cJSON_AddStringToObject(d, "result", r->rc == 0 ? "done" : r->id ? "failed" : "refused");
    if (r->rc != 0)
        cJSON_AddStringToObject(d, "error", r->err ? r->err : gw_strerror(r->rc));
    if (r->id)
        cJSON_AddNumberToObject(d, "write_id", (double)r->id);
    if (r->who->ref)
        cJSON_AddStringToObject(d, "ref", r->who->ref);
    core__audit(c, r->who->actor ? r->who->actor : "unknown",
                r->who->channel ? r->who->channel : "internal", "write", d);
    cJSON_Delete(d);
}

int gw_core_point_write(gw_core_t *c, const gw_write_who_t *who, const char *device,
                        const char *point, double value, gw_write_cb cb, void *arg,
                        uint64_t *id_out, char *err, size_t errlen)
{
    return gw_writes_submit(&c->writes, c->rt, who, device, point, value, cb, arg, id_out, err,
                            errlen);
}
