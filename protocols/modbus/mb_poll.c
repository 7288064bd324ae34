/*
 * mb_poll.c: polling one device (mb_int.h): every planned block, one
 * request after another, each with its retries; a timeout ends the poll, a
 * link error closes the connection; block statuses logged when they
 * change; then the device's failure count and next due time (its interval,
 * or capped exponential backoff with jitter while it is offline). Design:
 * the top of mb_bus.c; the contract of mb_device_cfg_t in mb.h.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Read one block into dst. Returns 0, or the error as libmodbus reports it
 * in errno (an errno value, or MODBUS_ENOBASE + exception code). */
static int mb__read_block(mb_bus_t *bus, const mb__device_t *d, const mb_block_t *b, uint16_t *dst)
{
    uint8_t bits[MB_MAX_BITS_PER_READ];
    int n;

    if (bus->transport == MB_TCP)
        return mb__tcp_read(bus, (uint8_t)d->cfg.unit_id, b, dst);
    switch (b->table) {
    case MB_TABLE_HOLDING:
        n = modbus_read_registers(bus->ctx, b->addr, b->count, dst);
        break;
    case MB_TABLE_INPUT:
        n = modbus_read_input_registers(bus->ctx, b->addr, b->count, dst);
        break;
    case MB_TABLE_COIL:
    case MB_TABLE_DISCRETE:
        n = b->table == MB_TABLE_COIL ? modbus_read_bits(bus->ctx, b->addr, b->count, bits)
                                      : modbus_read_input_bits(bus->ctx, b->addr, b->count, bits);
        for (int i = 0; i < n; i++)
            dst[i] = bits[i];
        break;
    default:
        return EINVAL;
    }
    if (n < 0)
        return errno ? errno : EIO;
    return n == b->count ? 0 : EMBBADDATA;
}

/* One request with its retries. Returns 0, or the errno of the last try. */
static int mb__request(mb_bus_t *bus, const mb__device_t *d, const mb_block_t *blk, uint16_t *dst)
{
    int e = 0;

    for (int attempt = 0; attempt <= d->cfg.retries; attempt++) {
        mb__before_request(bus);
        mb__alive(bus);
        e = mb__read_block(bus, d, blk, dst);
        bus->last_request = gw_mono_ms();
        mb__alive(bus);
        if (e == 0)
            return 0;
        if (mb__classify(e) != MB__F_GARBLED)
            return e;
        bus->need_flush = 1; /* junk or a stale answer: drain the line first */
    }
    return e;
}

/* Log a block's status when it changes, exceptions by name. */
static void mb__log_block(mb_bus_t *bus, mb__device_t *d, size_t i, uint16_t st)
{
    const mb_block_t *blk = &d->blocks[i];

    if (d->last_status[i] == st)
        return;
    if (st != 0 && st != MB_BLOCK_FAILED)
        gw_log_warn("modbus", "device %s: %s %u+%u: exception %u (%s)", d->name,
                    mb__table_name(blk->table), blk->addr, blk->count, st, mb_exception_name(st));
    else if (st == 0 && d->last_status[i] != MB_BLOCK_FAILED)
        gw_log_notice("modbus", "device %s: %s %u+%u: read again", d->name,
                      mb__table_name(blk->table), blk->addr, blk->count);
    d->last_status[i] = st;
}

/* Read every block of a device into r. Returns 1 when the device answered
 * at least one request (a Modbus exception is an answer). */
static int mb__read_device(mb_bus_t *bus, mb__device_t *d, mb_reading_t *r)
{
    int answered = 0;
    size_t i;

    modbus_set_slave(bus->ctx, d->cfg.unit_id);
    mb__set_timeout(bus, d->cfg.timeout_ms > 0 ? d->cfg.timeout_ms : bus->timeout_ms);
    for (i = 0; i < d->cfg.nblocks && bus->connected; i++) {
        const mb_block_t *blk = &d->blocks[i];
        int e = mb__request(bus, d, blk, r->words + blk->offset);
        mb__fail_t f = e ? mb__classify(e) : MB__F_EXCEPTION;

        if (e == 0) {
            r->block_status[i] = 0;
            answered = 1;
        } else if (f == MB__F_EXCEPTION) {
            r->block_status[i] = (uint16_t)(e - MODBUS_ENOBASE);
            answered = 1;
        } else {
            r->block_status[i] = MB_BLOCK_FAILED;
            mb__log_block(bus, d, i, MB_BLOCK_FAILED);
            if (!r->err[0] || !answered)
                snprintf(r->err, sizeof(r->err), "%s %u+%u: %s", mb__table_name(blk->table),
                         blk->addr, blk->count, modbus_strerror(e));
            if (f == MB__F_SILENT && e == ETIMEDOUT) {
                bus->need_flush = bus->transport != MB_RTU; /* its answer may still come */
                if (bus->transport == MB_RTU)
                    mb__drain(bus);
            }
            if (f == MB__F_LINK)
                mb__disconnect(bus, r->err);
            if (f != MB__F_GARBLED) {
                i++;
                break; /* silent or link down: do not spend another timeout */
            }
        }
        mb__log_block(bus, d, i, r->block_status[i]);
    }
    for (; i < d->cfg.nblocks; i++)
        r->block_status[i] = MB_BLOCK_FAILED;
    return answered;
}

/* Account a poll in the device's failure count and schedule its next one. */
static void mb__schedule(mb_bus_t *bus, mb__device_t *d, int answered, int link_ok)
{
    int64_t now = gw_mono_ms();
    int offline_after = d->cfg.offline_after > 0 ? d->cfg.offline_after : 3;
    int cap = d->cfg.backoff_max_ms > 0 ? d->cfg.backoff_max_ms : 60000;

    if (answered) {
        if (d->backoff_ms)
            gw_log_info("modbus", "bus %s: device %s answers again", bus->name, d->name);
        d->fails = 0;
        d->backoff_ms = 0;
    } else if (link_ok) {
        d->fails++;
        if (d->fails >= offline_after) {
            if (d->backoff_ms == 0)
                gw_log_info(
                    "modbus",
                    "bus %s: device %s silent for %d polls: probing with backoff up to %d ms",
                    bus->name, d->name, d->fails, cap);
            d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : d->cfg.interval_ms * 2;
            if (d->backoff_ms > cap)
                d->backoff_ms = cap;
            d->next_due = now + mb__jitter(d->backoff_ms);
            return;
        }
    }
    /* Keep the cadence, but never burst to catch up after a stall. */
    d->next_due += d->cfg.interval_ms;
    if (d->next_due <= now)
        d->next_due = now + d->cfg.interval_ms;
}

void mb__poll_device(mb_bus_t *bus, mb__device_t *d)
{
    size_t nb = d->cfg.nblocks;
    mb_reading_t *r = mb__rpool_get(bus->rpool, mb__reading_bytes(&d->cfg));
    struct timespec a, b;
    int answered = 0, link_ok = 0;

    if (!r)
        return;
    r->hdr.kind = MB_EV_READING;
    r->bus_id = bus->bus_id;
    r->device_id = d->cfg.device_id;
    r->ts_ms = gw_wall_ms();
    r->mono_ms = gw_mono_ms();
    r->nwords = d->cfg.nwords;
    r->nblocks = nb;
    r->block_status = r->words + d->cfg.nwords;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (!mb__ensure_connected(bus)) {
        snprintf(r->err, sizeof(r->err), "bus not connected: %s", bus->last_err);
        for (size_t i = 0; i < nb; i++)
            r->block_status[i] = MB_BLOCK_FAILED;
    } else {
        answered = mb__read_device(bus, d, r);
        link_ok = bus->connected;
    }
    r->rc = answered ? 0 : (strstr(r->err, "timed out") ? GW_ETIMEDOUT : GW_EIO);
    mb__schedule(bus, d, answered, link_ok);
    r->offline = d->backoff_ms != 0;
    clock_gettime(CLOCK_MONOTONIC, &b);
    r->latency_us = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
    mb__emit(bus, &r->hdr);
}
