/*
 * mb_link.c: a bus's connection (mb_int.h): open it for the transport (TCP,
 * RTU on a serial port, RTU framed over TCP) with capped exponential
 * backoff, close it on a link error, keep the line clean between requests
 * (the bus pause, draining late or garbled answers), and tell failures
 * apart. Design: the top of mb_bus.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mb_strerror(int errnum)
{
    return modbus_strerror(errnum);
}

const char *mb_exception_name(unsigned code)
{
    static const char *const names[] = {
        NULL,
        "illegal function",
        "illegal data address",
        "illegal data value",
        "server device failure",
        "acknowledge",
        "server device busy",
        "negative acknowledge",
        "memory parity error",
        NULL,
        "gateway path unavailable",
        "gateway target device failed to respond",
    };
    if (code < GW_ARRAY_SIZE(names) && names[code])
        return names[code];
    return "exception";
}

static void mb__post_state(mb_bus_t *bus, int connected, const char *err)
{
    mb_bus_state_t *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return;
    ev->hdr.kind = MB_EV_BUS_STATE;
    ev->bus_id = bus->bus_id;
    ev->connected = connected;
    snprintf(ev->err, sizeof(ev->err), "%s", err ? err : "");
    mb__emit(bus, &ev->hdr);
}

void mb__disconnect(mb_bus_t *bus, const char *why)
{
    if (!bus->ctx)
        return;
    modbus_close(bus->ctx);
    modbus_free(bus->ctx);
    bus->ctx = NULL;
    bus->need_flush = 0;
    if (bus->connected) {
        bus->connected = 0;
        gw_log_warn("modbus", "bus %s: disconnected: %s", bus->name, why);
        mb__post_state(bus, 0, why);
    }
}

void mb__set_timeout(mb_bus_t *bus, int ms)
{
    if (ms == bus->cur_timeout_ms)
        return;
    modbus_set_response_timeout(bus->ctx, (uint32_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000);
    bus->cur_timeout_ms = ms;
}

/* A new context for the bus's transport, or NULL with errno set. RTU over
 * TCP is libmodbus's RTU framing on a socket we connect ourselves: its RTU
 * backend only reads, writes and selects on the descriptor. */
static modbus_t *mb__new_ctx(mb_bus_t *bus)
{
    if (bus->transport == MB_TCP)
        return modbus_new_tcp_pi(bus->host, bus->port);
    if (bus->transport == MB_RTU_TCP)
        return modbus_new_rtu("rtu-over-tcp", 9600, 'N', 8, 1);
    return modbus_new_rtu(bus->device, bus->baud, bus->parity, bus->data_bits, bus->stop_bits);
}

/* Connect the socket of an RTU-over-TCP bus. Returns 0, or -1 with errno. */
static int mb__rtt_connect(mb_bus_t *bus)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *it;
    struct timeval tv = {bus->timeout_ms / 1000, (bus->timeout_ms % 1000) * 1000};
    int fd = -1, one = 1, e = ECONNREFUSED;

    if (getaddrinfo(bus->host, bus->port, &hints, &ai) != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    for (it = ai; it && fd < 0; it = it->ai_next) {
        fd = socket(it->ai_family, it->ai_socktype | SOCK_CLOEXEC, it->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* bounds connect() */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, it->ai_addr, it->ai_addrlen) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        errno = e;
        return -1;
    }
    modbus_set_socket(bus->ctx, fd);
    return 0;
}

/* Drop whatever the line holds (a late or garbled answer). libmodbus's RTU
 * flush is tcflush(), which a socket does not know. */
void mb__drain(mb_bus_t *bus)
{
    uint8_t junk[256];

    if (bus->transport != MB_RTU_TCP) {
        modbus_flush(bus->ctx);
        return;
    }
    while (recv(modbus_get_socket(bus->ctx), junk, sizeof(junk), MSG_DONTWAIT) > 0)
        ;
}

static const char *mb__endpoint(const mb_bus_t *bus, char *buf, size_t len)
{
    if (bus->transport == MB_RTU_TCP)
        snprintf(buf, len, "%s:%s (RTU over TCP)", bus->host, bus->port);
    else if (bus->transport == MB_TCP)
        snprintf(buf, len, "%s:%s", bus->host, bus->port);
    else
        snprintf(buf, len, "%s (%d %d%c%d)", bus->device, bus->baud, bus->data_bits, bus->parity,
                 bus->stop_bits);
    return buf;
}

/* After connecting: RS-485 mode where asked (a pty or a USB adapter that
 * does it in hardware answers ENOTTY: fine). */
static void mb__after_connect(mb_bus_t *bus)
{
    if (bus->transport == MB_RTU && bus->rs485 &&
        modbus_rtu_set_serial_mode(bus->ctx, MODBUS_RTU_RS485) != 0 && errno != ENOTTY)
        gw_log_warn("modbus", "bus %s: cannot set RS-485 mode: %s", bus->name,
                    modbus_strerror(errno));
}

/* Try to connect if the backoff allows. Returns 1 when connected. */
int mb__ensure_connected(mb_bus_t *bus)
{
    int64_t now = gw_mono_ms();
    char ep[192];
    int rc;

    if (bus->connected)
        return 1;
    if (now < bus->next_connect)
        return 0;
    bus->ctx = mb__new_ctx(bus);
    if (!bus->ctx) {
        snprintf(bus->last_err, sizeof(bus->last_err), "cannot create context: %s",
                 modbus_strerror(errno));
        goto out_backoff;
    }
    bus->cur_timeout_ms = -1;
    bus->raw_tid = 0x8000; /* half-way round from libmodbus's own ids (mb_tcp.c) */
    mb__set_timeout(bus, bus->timeout_ms);
    mb__alive(bus);
    rc = bus->transport == MB_RTU_TCP ? mb__rtt_connect(bus) : modbus_connect(bus->ctx);
    mb__alive(bus);
    if (rc != 0) {
        snprintf(bus->last_err, sizeof(bus->last_err), "connect to %s: %s",
                 mb__endpoint(bus, ep, sizeof(ep)), modbus_strerror(errno));
        modbus_free(bus->ctx);
        bus->ctx = NULL;
        goto out_backoff;
    }
    mb__after_connect(bus);
    bus->connected = 1;
    bus->backoff_ms = 0;
    bus->need_flush = 0;
    gw_log_info("modbus", "bus %s: connected to %s", bus->name, mb__endpoint(bus, ep, sizeof(ep)));
    mb__post_state(bus, 1, NULL);
    /* Devices that went quiet because the link was down deserve a prompt poll. */
    for (size_t i = 0; i < bus->ndevs; i++) {
        bus->devs[i].backoff_ms = 0;
        bus->devs[i].fails = 0;
    }
    if (bus->connect_pause_ms > 0)
        mb__sleep_until(bus, gw_mono_ms() + bus->connect_pause_ms);
    return 1;

out_backoff:
    if (bus->backoff_ms == 0)
        gw_log_warn("modbus", "bus %s: %s", bus->name, bus->last_err);
    bus->backoff_ms = bus->backoff_ms ? bus->backoff_ms * 2 : 250;
    if (bus->backoff_ms > bus->reconnect_max_ms)
        bus->backoff_ms = bus->reconnect_max_ms;
    bus->next_connect = now + mb__jitter(bus->backoff_ms);
    return 0;
}

mb__fail_t mb__classify(int e)
{
    if (e == EMBXGPATH || e == EMBXGTAR || e == ETIMEDOUT)
        return MB__F_SILENT;
    if (e >= EMBXILFUN && e <= EMBXGTAR)
        return MB__F_EXCEPTION;
    if (e == EMBBADCRC || e == EMBBADDATA || e == EMBBADEXC || e == EMBUNKEXC || e == EMBMDATA ||
        e == EMBBADSLAVE || e == EINVAL || e == MODBUS_ENOBASE /* "exception 0" */)
        return MB__F_GARBLED;
    return MB__F_LINK;
}

const char *mb__table_name(uint8_t t)
{
    return t == MB_TABLE_INPUT     ? "input"
           : t == MB_TABLE_HOLDING ? "holding"
           : t == MB_TABLE_COIL    ? "coil"
                                   : "discrete";
}

/* Pause between two requests on the bus (also across devices). */
static void mb__pause(mb_bus_t *bus)
{
    if (bus->pause_ms > 0 && bus->last_request)
        mb__sleep_until(bus, bus->last_request + bus->pause_ms);
}

/* What precedes every request, read or write: the pause since the last
 * one, and a drain when a timed-out answer may still come. */
void mb__before_request(mb_bus_t *bus)
{
    mb__pause(bus);
    if (bus->need_flush) {
        mb__drain(bus);
        bus->need_flush = 0;
    }
}
