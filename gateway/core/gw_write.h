/*
 * gw_write.h: writes to Modbus points (FC 05/06/15/16), results async.
 *
 * gw_writes_submit checks and queues a write of an engineering value to a
 * coil or holding-register point of the running point table: the value is
 * encoded in the point's type and byte order (drivers/) and an mb_write_t
 * goes to the device's bus thread, which runs it before its next poll. The
 * result comes back through the loop's queue as MB_EV_WRITE_DONE, which
 * gw_writes_done matches by id to call the caller's callback once.
 * Loop thread only (core_write.c).
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

/* The writes in flight. Zero-initialised is empty. */
typedef struct gw_writes {
    struct gw_write_pending *pending;
    size_t n, cap;
    uint64_t seq; /* the last id given */
} gw_writes_t;

/* Queue a write of value to device.point of rt. It refuses read-only points
 * (discrete inputs, input registers), bit fields, strings and out-of-range
 * values with a reason in err. Returns 0 with *id_out set (may be NULL), or
 * GW_ENOENT / GW_EINVAL / GW_ESTATE / GW_ENOMEM. On 0, cb (may be NULL) is
 * called exactly once by gw_writes_done, never after gw_writes_free. */
int gw_writes_submit(gw_writes_t *w, const gw_runtime_t *rt, const char *device, const char *point,
                     double value, gw_write_cb cb, void *arg, uint64_t *id_out, char *err,
                     size_t errlen);
/* A result from a bus thread: call its callback (once) and forget it. */
void gw_writes_done(gw_writes_t *w, const mb_write_t *r);
/* Forget every pending write without calling back. */
void gw_writes_free(gw_writes_t *w);

#endif
