/*
 * gw_write.h: writes to Modbus points (FC 05/06/15/16), results async.
 *
 * gw_writes_submit checks and queues a write of an engineering value to a
 * point of the running point table that opts in to writes ("write" in its
 * profile or the site config: drv_write_check, with its bounds, values or
 * bits): the value is encoded in the point's type and byte order
 * (drivers/) and an mb_write_t goes to the device's bus thread, which runs
 * it before its next poll. The result comes back through the loop's queue
 * as MB_EV_WRITE_DONE, which gw_writes_done matches by id to call the
 * caller's callback once. Every outcome (refused, done, failed) is handed
 * to the audit function, with who asked, the point's old value and the new
 * one. Loop thread only (core_write.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_WRITE_H
#define PLANTROOM_GW_WRITE_H

#include "gateway/core/gw_runtime.h"

#include <stddef.h>
#include <stdint.h>

/* The result of a write, on the loop thread: rc 0, or GW_ETIMEDOUT, GW_EIO,
 * GW_EPROTO (err names the Modbus exception), GW_ESTATE (bus stopped first,
 * e.g. by a reload). */
typedef void (*gw_write_cb)(void *arg, uint64_t id, int rc, const char *err);

/* Who asks for a write, for the log and the audit trail. Strings borrowed
 * for the call. */
typedef struct gw_write_who {
    const char *actor;   /* a broker user, a Unix user; NULL: "unknown" */
    const char *channel; /* "mqtt", "control"; NULL: "internal" */
    const char *ref;     /* the request's own id (an MQTT correlation id), or NULL */
    const char *note;    /* a JSON object's text merged into the audit detail, or NULL */
} gw_write_who_t;

/* One outcome of a write, for the audit trail. Valid during the call. */
typedef struct gw_write_record {
    const gw_write_who_t *who; /* never NULL */
    const char *device, *point;
    double value; /* asked for */
    int has_old;  /* the point had a good value: old */
    double old;
    uint64_t id; /* 0: refused before it was queued */
    int rc;      /* 0 done; else err says why */
    const char *err;
} gw_write_record_t;

/* The writes in flight. Zero-initialised is empty (and audits nothing). */
typedef struct gw_writes {
    struct gw_write_pending *pending;
    size_t n, cap;
    uint64_t seq;                                         /* the last id given */
    void (*audit)(void *arg, const gw_write_record_t *r); /* may be NULL */
    void *audit_arg;
} gw_writes_t;

/* Queue a write of value to device.point of rt, asked by who (may be NULL).
 * It refuses, before anything is sent and with a reason in err: unknown
 * names, read-only points (discrete inputs, input registers), points that
 * do not opt in to writes, values outside their min/max, values or bits,
 * bit fields, strings, values out of the type's range, a stopped bus.
 * Returns 0 with *id_out set (may be NULL), or GW_ENOENT / GW_EPERM /
 * GW_EINVAL / GW_ESTATE / GW_ENOMEM. On 0, cb (may be NULL) is called
 * exactly once by gw_writes_done, never after gw_writes_free. */
int gw_writes_submit(gw_writes_t *w, const gw_runtime_t *rt, const gw_write_who_t *who,
                     const char *device, const char *point, double value, gw_write_cb cb, void *arg,
                     uint64_t *id_out, char *err, size_t errlen);
/* A result from a bus thread: call its callback (once) and forget it. */
void gw_writes_done(gw_writes_t *w, const mb_write_t *r);
/* Forget every pending write without calling back. */
void gw_writes_free(gw_writes_t *w);

#endif
