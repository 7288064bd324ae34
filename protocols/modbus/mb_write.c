/*
 * mb_write.c: writes (mb.h, mb_write_t): the loop queues them under the
 * bus's mutex, the bus thread runs them between polls, one request each,
 * never retried after a timeout, and posts each back with its result.
 * Design: the top of mb_bus.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

mb_write_t *mb_write_new(uint16_t count)
{
    mb_write_t *w = calloc(1, sizeof(*w) + (size_t)(count ? count : 1) * sizeof(uint16_t));
    if (w) {
        w->hdr.kind = MB_EV_WRITE_DONE;
        w->count = count;
    }
    return w;
}

int mb_bus_write(mb_bus_t *bus, mb_write_t *w)
{
    int max = w->table == MB_TABLE_COIL ? 1968 : 123;

    if ((w->table != MB_TABLE_COIL && w->table != MB_TABLE_HOLDING) || w->count == 0 ||
        w->count > max || (unsigned)w->addr + w->count > 65536) {
        free(w);
        return GW_EINVAL;
    }
    w->hdr.kind = MB_EV_WRITE_DONE;
    w->hdr.next = NULL;
    pthread_mutex_lock(&bus->mu);
    if (bus->writes_tail)
        bus->writes_tail->next = &w->hdr;
    else
        bus->writes_head = &w->hdr;
    bus->writes_tail = &w->hdr;
    pthread_cond_broadcast(&bus->cond);
    pthread_mutex_unlock(&bus->mu);
    return 0;
}

/* One write request on the wire. Returns 0 or the errno. */
static int mb__write_once(mb_bus_t *bus, mb_write_t *w)
{
    uint8_t bits[1968];
    int n;

    if (w->table == MB_TABLE_HOLDING) {
        if (w->count == 1 && !w->multiple)
            n = modbus_write_register(bus->ctx, w->addr, w->values[0]);
        else
            n = modbus_write_registers(bus->ctx, w->addr, w->count, w->values);
    } else if (w->count == 1 && !w->multiple) {
        n = modbus_write_bit(bus->ctx, w->addr, w->values[0] ? 1 : 0);
    } else {
        for (unsigned i = 0; i < w->count; i++)
            bits[i] = w->values[i] ? 1 : 0;
        n = modbus_write_bits(bus->ctx, w->addr, w->count, bits);
    }
    return n < 0 ? errno : 0;
}

/* Run a write and post it back with its result. A write is not retried
 * after a timeout: it may have been applied. */
static void mb__do_write(mb_bus_t *bus, mb_write_t *w)
{
    int e;

    if (!mb__ensure_connected(bus)) {
        w->rc = GW_EIO;
        snprintf(w->err, sizeof(w->err), "bus not connected: %s", bus->last_err);
        goto out_post;
    }
    modbus_set_slave(bus->ctx, w->unit_id);
    mb__set_timeout(bus, w->timeout_ms > 0 ? w->timeout_ms : bus->timeout_ms);
    mb__before_request(bus);
    mb__alive(bus);
    e = mb__write_once(bus, w);
    bus->last_request = gw_mono_ms();
    mb__alive(bus);
    if (e == 0)
        goto out_post;
    switch (mb__classify(e)) {
    case MB__F_EXCEPTION:
        w->rc = GW_EPROTO;
        w->exception = (unsigned)(e - MODBUS_ENOBASE);
        snprintf(w->err, sizeof(w->err), "%s", mb_exception_name(w->exception));
        break;
    case MB__F_SILENT:
        w->rc = e == ETIMEDOUT ? GW_ETIMEDOUT : GW_EIO;
        snprintf(w->err, sizeof(w->err), "%s", modbus_strerror(e));
        bus->need_flush = e == ETIMEDOUT && bus->transport != MB_RTU;
        break;
    case MB__F_GARBLED:
        w->rc = GW_EPROTO;
        snprintf(w->err, sizeof(w->err), "%s", modbus_strerror(e));
        bus->need_flush = 1;
        break;
    case MB__F_LINK:
        w->rc = GW_EIO;
        snprintf(w->err, sizeof(w->err), "%s", modbus_strerror(e));
        mb__disconnect(bus, w->err);
        break;
    }
out_post:
    gw_log(w->rc ? GW_LOG_WARN : GW_LOG_INFO, "modbus", "bus %s: write unit %d %s %u+%u: %s",
           bus->name, w->unit_id, mb__table_name(w->table), w->addr, w->count,
           w->rc ? w->err : "ok");
    mb__emit(bus, &w->hdr);
    mb__flush_write(bus); /* a write's caller is waiting */
}

/* Run every queued write (a stopping bus leaves them to mb_bus_stop). */
void mb__run_writes(mb_bus_t *bus)
{
    while (!atomic_load(&bus->stop)) {
        gw_msg_t *m;
        pthread_mutex_lock(&bus->mu);
        m = bus->writes_head;
        if (m) {
            bus->writes_head = m->next;
            if (!bus->writes_head)
                bus->writes_tail = NULL;
            m->next = NULL;
            bus->write_running = (mb_write_t *)m;
        }
        pthread_mutex_unlock(&bus->mu);
        if (!m)
            return;
        mb__do_write(bus, (mb_write_t *)m);
    }
}
