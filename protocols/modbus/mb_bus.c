/*
 * mb_bus.c: one Modbus bus, one thread, one modbus_t (mb.h).
 *
 * The thread keeps a due time per device on the monotonic clock, polls each
 * device when due (all its planned blocks, one request after another with
 * the bus pause between them), posts the reading, and sleeps on a condition
 * variable until the next due time or a stop request.
 *
 * Failures are told apart, because they call for different cures:
 *  - a Modbus exception is an answer: only that block's points fail, the
 *    device is online, the link is fine;
 *  - a timeout means this unit id is silent: the poll ends there (one
 *    timeout per device per cycle at most), the device's failure count
 *    grows, and after offline_after polls it is probed with capped
 *    exponential backoff with jitter. The connection stays up: on TCP the
 *    late answer, if one comes, is flushed before the next request; one that
 *    arrives during the next request fails libmodbus's transaction id
 *    check, and the right answer is then read after it (bus__tcp_resync);
 *  - a garbled answer (bad CRC, bad length, junk) flushes the line and is
 *    retried up to the device's retries;
 *  - a link error (reset, refused, EOF, serial port gone) closes the
 *    connection; it is re-opened with capped exponential backoff and
 *    jitter, and every device is polled again promptly once it is back.
 */
#include "protocols/modbus/mb.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"

#include <errno.h>
#include <modbus.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

typedef struct mb__device {
    mb_device_cfg_t cfg;
    char name[64];
    mb_block_t *blocks;    /* owned copy */
    uint16_t *last_status; /* per block, for logging changes only; owned */
    int64_t next_due;      /* monotonic ms */
    int fails;             /* consecutive polls without an answer */
    int backoff_ms;        /* current probe interval while offline, 0: online */
} mb__device_t;

struct mb_bus {
    int bus_id;
    char name[64];
    mb_transport_t transport;
    char host[128];
    char port[8];
    char device[128];
    int baud, data_bits, stop_bits, rs485;
    char parity;
    int timeout_ms;
    int pause_ms;
    int connect_pause_ms;
    int reconnect_max_ms;
    mb__device_t *devs;
    size_t ndevs;
    gw_queue_t *events;

    pthread_t thread;
    pthread_mutex_t mu; /* guards stop, the sleep and the write queue */
    pthread_cond_t cond;
    atomic_int stop;
    gw_msg_t *writes_head, *writes_tail; /* queued mb_write_t, under mu */

    /* Events not yet handed to the loop: a cycle's readings go together, so
     * that the loop wakes once per cycle rather than once per device. */
    gw_msg_t *out_head, *out_tail;
    int64_t out_since; /* monotonic ms of the oldest held event */

    modbus_t *ctx;
    int connected;
    int need_flush;       /* a request timed out: its answer may still come */
    int cur_timeout_ms;   /* response timeout set on ctx */
    uint16_t tid;         /* TCP: transaction id of the last request (libmodbus counts alike) */
    int backoff_ms;       /* current reconnect backoff */
    int64_t next_connect; /* monotonic ms of the next connect attempt */
    int64_t last_request; /* monotonic ms of the end of the last request */
    char last_err[128];
};

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

/* Hand every held event to the loop. */
static void bus__flush(mb_bus_t *bus)
{
    while (bus->out_head) {
        gw_msg_t *m = bus->out_head;
        bus->out_head = m->next;
        m->next = NULL;
        gw_queue_push(bus->events, m);
    }
    bus->out_tail = NULL;
}

/* Hold an event for the loop; flushed before the thread sleeps, or once
 * the oldest has waited 10 ms (a slow device must not delay the others'
 * readings). */
static void bus__emit(mb_bus_t *bus, gw_msg_t *m)
{
    m->next = NULL;
    if (bus->out_tail)
        bus->out_tail->next = m;
    else
        bus->out_head = m, bus->out_since = gw_mono_ms();
    bus->out_tail = m;
    if (gw_mono_ms() - bus->out_since >= 10)
        bus__flush(bus);
}

/* Sleep until the monotonic deadline or a stop request (or a queued
 * write, when wake_on_write). */
static void bus__sleep(mb_bus_t *bus, int64_t deadline_ms, int wake_on_write)
{
    struct timespec ts;
    int64_t now = gw_mono_ms();

    if (deadline_ms <= now)
        return;
    bus__flush(bus);
    ts = gw_mono_deadline(deadline_ms - now);
    pthread_mutex_lock(&bus->mu);
    while (!atomic_load(&bus->stop) && !(wake_on_write && bus->writes_head)) {
        if (pthread_cond_timedwait(&bus->cond, &bus->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&bus->mu);
}

static void bus__sleep_until(mb_bus_t *bus, int64_t deadline_ms)
{
    bus__sleep(bus, deadline_ms, 0);
}

static void bus__post_state(mb_bus_t *bus, int connected, const char *err)
{
    mb_bus_state_t *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return;
    ev->hdr.kind = MB_EV_BUS_STATE;
    ev->bus_id = bus->bus_id;
    ev->connected = connected;
    snprintf(ev->err, sizeof(ev->err), "%s", err ? err : "");
    bus__emit(bus, &ev->hdr);
}

static int bus__jitter(int ms)
{
    unsigned r = 0;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r))
        r = (unsigned)rand();
    /* +-25 % so that many gateways (and devices) do not retry in step */
    return ms - ms / 4 + (int)(r % (unsigned)(ms / 2 + 1));
}

static void bus__disconnect(mb_bus_t *bus, const char *why)
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
        bus__post_state(bus, 0, why);
    }
}

static void bus__set_timeout(mb_bus_t *bus, int ms)
{
    if (ms == bus->cur_timeout_ms)
        return;
    modbus_set_response_timeout(bus->ctx, (uint32_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000);
    bus->cur_timeout_ms = ms;
}

/* A new context for the bus's transport, or NULL with errno set. RTU over
 * TCP is libmodbus's RTU framing on a socket we connect ourselves: its RTU
 * backend only reads, writes and selects on the descriptor. */
static modbus_t *bus__new_ctx(mb_bus_t *bus)
{
    if (bus->transport == MB_TCP)
        return modbus_new_tcp_pi(bus->host, bus->port);
    if (bus->transport == MB_RTU_TCP)
        return modbus_new_rtu("rtu-over-tcp", 9600, 'N', 8, 1);
    return modbus_new_rtu(bus->device, bus->baud, bus->parity, bus->data_bits, bus->stop_bits);
}

/* Connect the socket of an RTU-over-TCP bus. Returns 0, or -1 with errno. */
static int bus__rtt_connect(mb_bus_t *bus)
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
static void bus__drain(mb_bus_t *bus)
{
    uint8_t junk[256];

    if (bus->transport != MB_RTU_TCP) {
        modbus_flush(bus->ctx);
        return;
    }
    while (recv(modbus_get_socket(bus->ctx), junk, sizeof(junk), MSG_DONTWAIT) > 0)
        ;
}

static const char *bus__endpoint(const mb_bus_t *bus, char *buf, size_t len)
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
static void bus__after_connect(mb_bus_t *bus)
{
    if (bus->transport == MB_RTU && bus->rs485 &&
        modbus_rtu_set_serial_mode(bus->ctx, MODBUS_RTU_RS485) != 0 && errno != ENOTTY)
        gw_log_warn("modbus", "bus %s: cannot set RS-485 mode: %s", bus->name,
                    modbus_strerror(errno));
}

/* Try to connect if the backoff allows. Returns 1 when connected. */
static int bus__ensure_connected(mb_bus_t *bus)
{
    int64_t now = gw_mono_ms();
    char ep[192];

    if (bus->connected)
        return 1;
    if (now < bus->next_connect)
        return 0;
    bus->ctx = bus__new_ctx(bus);
    if (!bus->ctx) {
        snprintf(bus->last_err, sizeof(bus->last_err), "cannot create context: %s",
                 modbus_strerror(errno));
        goto out_backoff;
    }
    bus->cur_timeout_ms = -1;
    bus->tid = 0; /* a new context numbers its requests from 1 */
    bus__set_timeout(bus, bus->timeout_ms);
    if ((bus->transport == MB_RTU_TCP ? bus__rtt_connect(bus) : modbus_connect(bus->ctx)) != 0) {
        snprintf(bus->last_err, sizeof(bus->last_err), "connect to %s: %s",
                 bus__endpoint(bus, ep, sizeof(ep)), modbus_strerror(errno));
        modbus_free(bus->ctx);
        bus->ctx = NULL;
        goto out_backoff;
    }
    bus__after_connect(bus);
    bus->connected = 1;
    bus->backoff_ms = 0;
    bus->need_flush = 0;
    gw_log_info("modbus", "bus %s: connected to %s", bus->name, bus__endpoint(bus, ep, sizeof(ep)));
    bus__post_state(bus, 1, NULL);
    /* Devices that went quiet because the link was down deserve a prompt poll. */
    for (size_t i = 0; i < bus->ndevs; i++) {
        bus->devs[i].backoff_ms = 0;
        bus->devs[i].fails = 0;
    }
    if (bus->connect_pause_ms > 0)
        bus__sleep_until(bus, gw_mono_ms() + bus->connect_pause_ms);
    return 1;

out_backoff:
    if (bus->backoff_ms == 0)
        gw_log_warn("modbus", "bus %s: %s", bus->name, bus->last_err);
    bus->backoff_ms = bus->backoff_ms ? bus->backoff_ms * 2 : 250;
    if (bus->backoff_ms > bus->reconnect_max_ms)
        bus->backoff_ms = bus->reconnect_max_ms;
    bus->next_connect = now + bus__jitter(bus->backoff_ms);
    return 0;
}

static int bus__read_block(mb_bus_t *bus, const mb_block_t *b, uint16_t *dst)
{
    uint8_t bits[MB_MAX_BITS_PER_READ];
    int n;

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
        errno = EINVAL;
        return -1;
    }
    if (n < 0)
        return -1;
    if (n != b->count) {
        errno = EMBBADDATA;
        return -1;
    }
    return 0;
}

/* How a failed request is handled. */
typedef enum bus__fail {
    BUS_F_EXCEPTION, /* the device answered an exception */
    BUS_F_SILENT,    /* no answer: timeout, or a gateway saying the target is silent */
    BUS_F_GARBLED,   /* an answer we cannot use: flush and maybe retry */
    BUS_F_LINK,      /* the connection is unusable */
} bus__fail_t;

static bus__fail_t bus__classify(int e)
{
    if (e == EMBXGPATH || e == EMBXGTAR || e == ETIMEDOUT)
        return BUS_F_SILENT;
    if (e >= EMBXILFUN && e <= EMBXGTAR)
        return BUS_F_EXCEPTION;
    if (e == EMBBADCRC || e == EMBBADDATA || e == EMBBADEXC || e == EMBUNKEXC || e == EMBMDATA ||
        e == EMBBADSLAVE || e == EINVAL)
        return BUS_F_GARBLED;
    return BUS_F_LINK;
}

static const char *bus__table_name(uint8_t t)
{
    return t == MB_TABLE_INPUT     ? "input"
           : t == MB_TABLE_HOLDING ? "holding"
           : t == MB_TABLE_COIL    ? "coil"
                                   : "discrete";
}

/* Pause between two requests on the bus (also across devices). */
static void bus__pause(mb_bus_t *bus)
{
    if (bus->pause_ms > 0 && bus->last_request)
        bus__sleep_until(bus, bus->last_request + bus->pause_ms);
}

/* One request with its retries. Returns 0, or the errno of the last try. */
/* Count a request as libmodbus does, to know its transaction id. */
static void bus__next_tid(mb_bus_t *bus)
{
    bus->tid = bus->tid < UINT16_MAX ? (uint16_t)(bus->tid + 1) : 0;
}

/* The data of a read answer's PDU (function, byte count, data) into dst.
 * Returns 0 or an errno (a Modbus exception as MODBUS_ENOBASE + code). */
static int bus__parse_read(const mb_block_t *b, const uint8_t *pdu, int len, uint16_t *dst)
{
    static const uint8_t fc[] = {1, 2, 3, 4}; /* by MB_TABLE_* */
    int bits = b->table == MB_TABLE_COIL || b->table == MB_TABLE_DISCRETE;
    int nbytes = bits ? (b->count + 7) / 8 : 2 * b->count;

    if (len >= 2 && pdu[0] == (fc[b->table] | 0x80))
        return MODBUS_ENOBASE + pdu[1];
    if (len < 2 + nbytes || pdu[0] != fc[b->table] || pdu[1] != nbytes)
        return EMBBADDATA;
    for (int i = 0; i < b->count; i++)
        dst[i] = bits ? (uint16_t)((pdu[2 + i / 8] >> (i % 8)) & 1)
                      : (uint16_t)(pdu[2 + 2 * i] << 8 | pdu[3 + 2 * i]);
    return 0;
}

/* TCP: libmodbus read a stale answer (a late one, for a request that timed
 * out) in place of ours and refused it by its transaction id. Ours is
 * still on its way: read on, discarding older answers, until the one with
 * our id. Returns 0 with dst filled, or an errno. */
static int bus__tcp_resync(mb_bus_t *bus, const mb_block_t *b, uint16_t *dst)
{
    uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];

    for (int i = 0; i < 4; i++) {
        int n = modbus_receive_confirmation(bus->ctx, rsp);
        if (n < 0)
            return errno;
        if (n < 9 || (uint16_t)(rsp[0] << 8 | rsp[1]) != bus->tid)
            continue; /* another stale answer */
        return bus__parse_read(b, rsp + 7, n - 7, dst);
    }
    return EMBBADDATA;
}

static int bus__request(mb_bus_t *bus, const mb__device_t *d, const mb_block_t *blk, uint16_t *dst)
{
    int e = 0;

    for (int attempt = 0; attempt <= d->cfg.retries; attempt++) {
        bus__pause(bus);
        if (bus->need_flush) {
            bus__drain(bus);
            bus->need_flush = 0;
        }
        bus__next_tid(bus);
        int rc = bus__read_block(bus, blk, dst);
        e = rc == 0 ? 0 : errno;
        if (e == EMBBADDATA && bus->transport == MB_TCP)
            e = bus__tcp_resync(bus, blk, dst);
        bus->last_request = gw_mono_ms();
        if (e == 0)
            return 0;
        if (bus__classify(e) != BUS_F_GARBLED)
            return e;
        bus->need_flush = 1; /* junk or a stale answer: drain the line first */
    }
    return e;
}

/* Log a block's status when it changes, exceptions by name. */
static void bus__log_block(mb_bus_t *bus, mb__device_t *d, size_t i, uint16_t st)
{
    const mb_block_t *blk = &d->blocks[i];

    if (d->last_status[i] == st)
        return;
    if (st != 0 && st != MB_BLOCK_FAILED)
        gw_log_warn("modbus", "device %s: %s %u+%u: exception %u (%s)", d->name,
                    bus__table_name(blk->table), blk->addr, blk->count, st, mb_exception_name(st));
    else if (st == 0 && d->last_status[i] != MB_BLOCK_FAILED)
        gw_log_notice("modbus", "device %s: %s %u+%u: read again", d->name,
                      bus__table_name(blk->table), blk->addr, blk->count);
    d->last_status[i] = st;
}

/* Read every block of a device into r. Returns 1 when the device answered
 * at least one request (a Modbus exception is an answer). */
static int bus__read_device(mb_bus_t *bus, mb__device_t *d, mb_reading_t *r)
{
    int answered = 0;
    size_t i;

    modbus_set_slave(bus->ctx, d->cfg.unit_id);
    bus__set_timeout(bus, d->cfg.timeout_ms > 0 ? d->cfg.timeout_ms : bus->timeout_ms);
    for (i = 0; i < d->cfg.nblocks && bus->connected; i++) {
        const mb_block_t *blk = &d->blocks[i];
        int e = bus__request(bus, d, blk, r->words + blk->offset);
        bus__fail_t f = e ? bus__classify(e) : BUS_F_EXCEPTION;

        if (e == 0) {
            r->block_status[i] = 0;
            answered = 1;
        } else if (f == BUS_F_EXCEPTION) {
            r->block_status[i] = (uint16_t)(e - MODBUS_ENOBASE);
            answered = 1;
        } else {
            r->block_status[i] = MB_BLOCK_FAILED;
            bus__log_block(bus, d, i, MB_BLOCK_FAILED);
            if (!r->err[0] || !answered)
                snprintf(r->err, sizeof(r->err), "%s %u+%u: %s", bus__table_name(blk->table),
                         blk->addr, blk->count, modbus_strerror(e));
            if (f == BUS_F_SILENT && e == ETIMEDOUT) {
                bus->need_flush = bus->transport != MB_RTU; /* its answer may still come */
                if (bus->transport == MB_RTU)
                    bus__drain(bus);
            }
            if (f == BUS_F_LINK)
                bus__disconnect(bus, r->err);
            if (f != BUS_F_GARBLED) {
                i++;
                break; /* silent or link down: do not spend another timeout */
            }
        }
        bus__log_block(bus, d, i, r->block_status[i]);
    }
    for (; i < d->cfg.nblocks; i++)
        r->block_status[i] = MB_BLOCK_FAILED;
    return answered;
}

/* Account a poll in the device's failure count and schedule its next one. */
static void bus__schedule(mb_bus_t *bus, mb__device_t *d, int answered, int link_ok)
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
            d->next_due = now + bus__jitter(d->backoff_ms);
            return;
        }
    }
    /* Keep the cadence, but never burst to catch up after a stall. */
    d->next_due += d->cfg.interval_ms;
    if (d->next_due <= now)
        d->next_due = now + d->cfg.interval_ms;
}

static void bus__poll_device(mb_bus_t *bus, mb__device_t *d)
{
    size_t nb = d->cfg.nblocks;
    mb_reading_t *r = calloc(1, sizeof(*r) + (d->cfg.nwords + nb) * sizeof(uint16_t));
    struct timespec a, b;
    int answered = 0, link_ok = 0;

    if (!r)
        return;
    r->hdr.kind = MB_EV_READING;
    r->bus_id = bus->bus_id;
    r->device_id = d->cfg.device_id;
    r->ts_ms = gw_wall_ms();
    r->nwords = d->cfg.nwords;
    r->nblocks = nb;
    r->block_status = r->words + d->cfg.nwords;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (!bus__ensure_connected(bus)) {
        snprintf(r->err, sizeof(r->err), "bus not connected: %s", bus->last_err);
        for (size_t i = 0; i < nb; i++)
            r->block_status[i] = MB_BLOCK_FAILED;
    } else {
        answered = bus__read_device(bus, d, r);
        link_ok = bus->connected;
    }
    r->rc = answered ? 0 : (strstr(r->err, "timed out") ? GW_ETIMEDOUT : GW_EIO);
    bus__schedule(bus, d, answered, link_ok);
    r->offline = d->backoff_ms != 0;
    clock_gettime(CLOCK_MONOTONIC, &b);
    r->latency_us = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
    bus__emit(bus, &r->hdr);
}

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
static int bus__write_once(mb_bus_t *bus, mb_write_t *w)
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
static void bus__do_write(mb_bus_t *bus, mb_write_t *w)
{
    int e;

    if (!bus__ensure_connected(bus)) {
        w->rc = GW_EIO;
        snprintf(w->err, sizeof(w->err), "bus not connected: %s", bus->last_err);
        goto out_post;
    }
    modbus_set_slave(bus->ctx, w->unit_id);
    bus__set_timeout(bus, w->timeout_ms > 0 ? w->timeout_ms : bus->timeout_ms);
    bus__pause(bus);
    if (bus->need_flush) {
        bus__drain(bus);
        bus->need_flush = 0;
    }
    bus__next_tid(bus);
    e = bus__write_once(bus, w);
    bus->last_request = gw_mono_ms();
    if (e == 0)
        goto out_post;
    switch (bus__classify(e)) {
    case BUS_F_EXCEPTION:
        w->rc = GW_EPROTO;
        w->exception = (unsigned)(e - MODBUS_ENOBASE);
        snprintf(w->err, sizeof(w->err), "%s", mb_exception_name(w->exception));
        break;
    case BUS_F_SILENT:
        w->rc = e == ETIMEDOUT ? GW_ETIMEDOUT : GW_EIO;
        snprintf(w->err, sizeof(w->err), "%s", modbus_strerror(e));
        bus->need_flush = e == ETIMEDOUT && bus->transport != MB_RTU;
        break;
    case BUS_F_GARBLED:
        w->rc = GW_EPROTO;
        snprintf(w->err, sizeof(w->err), "%s", modbus_strerror(e));
        bus->need_flush = 1;
        break;
    case BUS_F_LINK:
        w->rc = GW_EIO;
        snprintf(w->err, sizeof(w->err), "%s", modbus_strerror(e));
        bus__disconnect(bus, w->err);
        break;
    }
out_post:
    gw_log(w->rc ? GW_LOG_WARN : GW_LOG_INFO, "modbus", "bus %s: write unit %d %s %u+%u: %s",
           bus->name, w->unit_id, bus__table_name(w->table), w->addr, w->count,
           w->rc ? w->err : "ok");
    bus__emit(bus, &w->hdr);
    bus__flush(bus); /* a write's caller is waiting */
}

/* Run every queued write (a stopping bus leaves them to mb_bus_stop). */
static void bus__run_writes(mb_bus_t *bus)
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
        }
        pthread_mutex_unlock(&bus->mu);
        if (!m)
            return;
        bus__do_write(bus, (mb_write_t *)m);
    }
}

static void *bus__thread(void *arg)
{
    mb_bus_t *bus = arg;

    while (!atomic_load(&bus->stop)) {
        int64_t now = gw_mono_ms(), next = now + 1000;
        bus__run_writes(bus);
        for (size_t i = 0; i < bus->ndevs && !atomic_load(&bus->stop); i++) {
            mb__device_t *d = &bus->devs[i];
            if (d->next_due > gw_mono_ms())
                continue;
            bus__poll_device(bus, d);
            bus__run_writes(bus); /* a setpoint does not wait for a whole cycle */
        }
        for (size_t i = 0; i < bus->ndevs; i++) {
            if (bus->devs[i].next_due < next)
                next = bus->devs[i].next_due;
        }
        bus__flush(bus);
        bus__sleep(bus, next, 1);
    }
    bus__disconnect(bus, "stopping");
    bus__flush(bus);
    return NULL;
}

static void bus__free(mb_bus_t *bus)
{
    if (!bus)
        return;
    for (size_t i = 0; i < bus->ndevs; i++) {
        free(bus->devs[i].blocks);
        free(bus->devs[i].last_status);
    }
    free(bus->devs);
    free(bus);
}

int mb_bus_start(mb_bus_t **out, const mb_bus_cfg_t *cfg, const mb_device_cfg_t *devs, size_t ndevs,
                 gw_queue_t *events, char *err, size_t errlen)
{
    mb_bus_t *bus = calloc(1, sizeof(*bus));
    pthread_condattr_t ca;
    int64_t now = gw_mono_ms();

    *out = NULL;
    if (!bus)
        goto out_nomem;
    bus->bus_id = cfg->bus_id;
    snprintf(bus->name, sizeof(bus->name), "%s", cfg->name);
    bus->transport = cfg->transport;
    snprintf(bus->host, sizeof(bus->host), "%s", cfg->host ? cfg->host : "");
    snprintf(bus->port, sizeof(bus->port), "%d", cfg->port);
    snprintf(bus->device, sizeof(bus->device), "%s", cfg->device ? cfg->device : "");
    bus->baud = cfg->baud > 0 ? cfg->baud : 9600;
    bus->parity = cfg->parity ? cfg->parity : 'N';
    bus->data_bits = cfg->data_bits > 0 ? cfg->data_bits : 8;
    bus->stop_bits = cfg->stop_bits > 0 ? cfg->stop_bits : 1;
    bus->rs485 = cfg->rs485;
    bus->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 1000;
    bus->pause_ms = cfg->pause_ms;
    bus->connect_pause_ms = cfg->connect_pause_ms;
    bus->reconnect_max_ms = cfg->reconnect_max_ms > 0 ? cfg->reconnect_max_ms : 30000;
    bus->events = events;
    bus->devs = calloc(ndevs ? ndevs : 1, sizeof(*bus->devs));
    if (!bus->devs)
        goto out_nomem;
    for (size_t i = 0; i < ndevs; i++) {
        mb__device_t *d = &bus->devs[i];
        d->cfg = devs[i];
        snprintf(d->name, sizeof(d->name), "%s", devs[i].name ? devs[i].name : "?");
        d->cfg.name = d->name;
        d->blocks = malloc((devs[i].nblocks ? devs[i].nblocks : 1) * sizeof(mb_block_t));
        d->last_status = calloc(devs[i].nblocks ? devs[i].nblocks : 1, sizeof(uint16_t));
        if (!d->blocks || !d->last_status) {
            free(d->blocks);
            free(d->last_status);
            goto out_nomem;
        }
        memcpy(d->blocks, devs[i].blocks, devs[i].nblocks * sizeof(mb_block_t));
        d->cfg.blocks = d->blocks;
        /* Spread first polls over the first interval rather than all at once. */
        d->next_due = now + (int64_t)(i * 50 % (devs[i].interval_ms ? devs[i].interval_ms : 1));
        bus->ndevs++;
    }
    pthread_mutex_init(&bus->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&bus->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&bus->thread, NULL, bus__thread, bus) != 0) {
        snprintf(err, errlen, "bus %s: cannot start thread", cfg->name);
        pthread_cond_destroy(&bus->cond);
        pthread_mutex_destroy(&bus->mu);
        bus__free(bus);
        return GW_ENOMEM;
    }
    *out = bus;
    return 0;

out_nomem:
    snprintf(err, errlen, "bus %s: out of memory", cfg->name);
    bus__free(bus);
    return GW_ENOMEM;
}

void mb_bus_stop(mb_bus_t *bus)
{
    gw_msg_t *m;

    if (!bus)
        return;
    pthread_mutex_lock(&bus->mu);
    atomic_store(&bus->stop, 1);
    pthread_cond_broadcast(&bus->cond);
    pthread_mutex_unlock(&bus->mu);
    pthread_join(bus->thread, NULL);
    /* Writes never run are answered, so that nobody waits for them. */
    while ((m = bus->writes_head) != NULL) {
        mb_write_t *w = (mb_write_t *)m;
        bus->writes_head = m->next;
        m->next = NULL;
        w->rc = GW_ESTATE;
        snprintf(w->err, sizeof(w->err), "bus %s stopped before the write ran", bus->name);
        gw_queue_push(bus->events, m);
    }
    pthread_cond_destroy(&bus->cond);
    pthread_mutex_destroy(&bus->mu);
    bus__free(bus);
}
