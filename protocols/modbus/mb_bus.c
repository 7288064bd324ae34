/*
 * mb_bus.c: one Modbus bus, one thread, one modbus_t (mb.h).
 *
 * The thread keeps a due time per device on the monotonic clock, polls each
 * device when due (all its planned blocks, one request after another with
 * the bus pause between them), posts the reading, and sleeps on a condition
 * variable until the next due time or a stop request. A dead connection is
 * closed and re-opened with capped exponential backoff and jitter; devices
 * that fall due meanwhile get a reading with an error, so the daemon marks
 * their points comm_error rather than keeping stale values.
 */
#include "protocols/modbus/mb.h"
#include "gateway/gw_clock.h"
#include "gateway/gw_log.h"
#include "gateway/gw_types.h"

#include <errno.h>
#include <modbus.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

typedef struct mb__device {
    mb_device_cfg_t cfg;
    mb_block_t *blocks; /* owned copy */
    int64_t next_due;   /* monotonic ms */
} mb__device_t;

struct mb_bus {
    int bus_id;
    char name[64];
    char host[128];
    char port[8];
    int timeout_ms;
    int pause_ms;
    int reconnect_max_ms;
    mb__device_t *devs;
    size_t ndevs;
    gw_queue_t *events;

    pthread_t thread;
    pthread_mutex_t mu; /* guards stop and the sleep */
    pthread_cond_t cond;
    atomic_int stop;

    modbus_t *ctx;
    int connected;
    int backoff_ms;       /* current reconnect backoff */
    int64_t next_connect; /* monotonic ms of the next connect attempt */
    char last_err[128];
};

const char *mb_strerror(int errnum)
{
    return modbus_strerror(errnum);
}

/* Sleep until the monotonic deadline or a stop request. */
static void bus__sleep_until(mb_bus_t *bus, int64_t deadline_ms)
{
    struct timespec ts;
    int64_t now = gw_mono_ms();

    if (deadline_ms <= now)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t wait = deadline_ms - now;
    ts.tv_sec += wait / 1000;
    ts.tv_nsec += (wait % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&bus->mu);
    while (!atomic_load(&bus->stop)) {
        if (pthread_cond_timedwait(&bus->cond, &bus->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&bus->mu);
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
    gw_queue_push(bus->events, &ev->hdr);
}

static int bus__jitter(int ms)
{
    unsigned r = 0;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r))
        r = (unsigned)rand();
    /* +-25 % so that many gateways do not reconnect in step */
    return ms - ms / 4 + (int)(r % (unsigned)(ms / 2 + 1));
}

static void bus__disconnect(mb_bus_t *bus, const char *why)
{
    if (!bus->ctx)
        return;
    modbus_close(bus->ctx);
    modbus_free(bus->ctx);
    bus->ctx = NULL;
    if (bus->connected) {
        bus->connected = 0;
        gw_log_warn("modbus", "bus %s: disconnected: %s", bus->name, why);
        bus__post_state(bus, 0, why);
    }
}

/* Try to connect if the backoff allows. Returns 1 when connected. */
static int bus__ensure_connected(mb_bus_t *bus)
{
    int64_t now = gw_mono_ms();

    if (bus->connected)
        return 1;
    if (now < bus->next_connect)
        return 0;
    bus->ctx = modbus_new_tcp_pi(bus->host, bus->port);
    if (!bus->ctx) {
        snprintf(bus->last_err, sizeof(bus->last_err), "cannot create context: %s",
                 modbus_strerror(errno));
        goto out_backoff;
    }
    modbus_set_response_timeout(bus->ctx, (uint32_t)(bus->timeout_ms / 1000),
                                (uint32_t)(bus->timeout_ms % 1000) * 1000);
    if (modbus_connect(bus->ctx) != 0) {
        snprintf(bus->last_err, sizeof(bus->last_err), "connect to %s:%s: %s", bus->host, bus->port,
                 modbus_strerror(errno));
        modbus_free(bus->ctx);
        bus->ctx = NULL;
        goto out_backoff;
    }
    bus->connected = 1;
    bus->backoff_ms = 0;
    gw_log_info("modbus", "bus %s: connected to %s:%s", bus->name, bus->host, bus->port);
    bus__post_state(bus, 1, NULL);
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

/* An error that leaves the connection unusable (vs. a Modbus exception). */
static int bus__is_link_error(int e)
{
    return !(e >= EMBXILFUN && e <= EMBXGTAR);
}

static void bus__poll_device(mb_bus_t *bus, mb__device_t *d)
{
    mb_reading_t *r = malloc(sizeof(*r) + d->cfg.nwords * sizeof(uint16_t));
    int64_t t0 = gw_mono_ms();
    struct timespec a, b;

    if (!r)
        return;
    memset(r, 0, sizeof(*r));
    r->hdr.kind = MB_EV_READING;
    r->bus_id = bus->bus_id;
    r->device_id = d->cfg.device_id;
    r->ts_ms = gw_wall_ms();
    r->nwords = d->cfg.nwords;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (!bus__ensure_connected(bus)) {
        r->rc = GW_EIO;
        snprintf(r->err, sizeof(r->err), "bus not connected: %s", bus->last_err);
        goto out_post;
    }
    modbus_set_slave(bus->ctx, d->cfg.unit_id);
    for (size_t i = 0; i < d->cfg.nblocks; i++) {
        const mb_block_t *blk = &d->blocks[i];
        if (i > 0 && bus->pause_ms > 0)
            bus__sleep_until(bus, gw_mono_ms() + bus->pause_ms);
        if (bus__read_block(bus, blk, r->words + blk->offset) != 0) {
            int e = errno;
            r->rc = e == ETIMEDOUT ? GW_ETIMEDOUT : GW_EIO;
            snprintf(r->err, sizeof(r->err), "%s %u+%u: %s",
                     blk->table == MB_TABLE_INPUT     ? "input"
                     : blk->table == MB_TABLE_HOLDING ? "holding"
                     : blk->table == MB_TABLE_COIL    ? "coil"
                                                      : "discrete",
                     blk->addr, blk->count, modbus_strerror(e));
            if (bus__is_link_error(e))
                bus__disconnect(bus, r->err);
            break;
        }
    }
out_post:
    clock_gettime(CLOCK_MONOTONIC, &b);
    r->latency_us = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
    (void)t0;
    gw_queue_push(bus->events, &r->hdr);
}

static void *bus__thread(void *arg)
{
    mb_bus_t *bus = arg;

    while (!atomic_load(&bus->stop)) {
        int64_t now = gw_mono_ms(), next = now + 1000;
        int polled = 0;
        for (size_t i = 0; i < bus->ndevs && !atomic_load(&bus->stop); i++) {
            mb__device_t *d = &bus->devs[i];
            if (d->next_due > gw_mono_ms())
                continue;
            if (polled && bus->pause_ms > 0)
                bus__sleep_until(bus, gw_mono_ms() + bus->pause_ms);
            bus__poll_device(bus, d);
            polled = 1;
            /* Keep the cadence, but never burst to catch up after a stall. */
            d->next_due += d->cfg.interval_ms;
            if (d->next_due <= gw_mono_ms())
                d->next_due = gw_mono_ms() + d->cfg.interval_ms;
        }
        for (size_t i = 0; i < bus->ndevs; i++) {
            if (bus->devs[i].next_due < next)
                next = bus->devs[i].next_due;
        }
        bus__sleep_until(bus, next);
    }
    bus__disconnect(bus, "stopping");
    return NULL;
}

static void bus__free(mb_bus_t *bus)
{
    if (!bus)
        return;
    for (size_t i = 0; i < bus->ndevs; i++)
        free(bus->devs[i].blocks);
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
    snprintf(bus->host, sizeof(bus->host), "%s", cfg->host);
    snprintf(bus->port, sizeof(bus->port), "%d", cfg->port);
    bus->timeout_ms = cfg->timeout_ms;
    bus->pause_ms = cfg->pause_ms;
    bus->reconnect_max_ms = cfg->reconnect_max_ms > 0 ? cfg->reconnect_max_ms : 30000;
    bus->events = events;
    bus->devs = calloc(ndevs ? ndevs : 1, sizeof(*bus->devs));
    if (!bus->devs)
        goto out_nomem;
    for (size_t i = 0; i < ndevs; i++) {
        mb__device_t *d = &bus->devs[i];
        d->cfg = devs[i];
        d->blocks = malloc((devs[i].nblocks ? devs[i].nblocks : 1) * sizeof(mb_block_t));
        if (!d->blocks)
            goto out_nomem;
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
    if (!bus)
        return;
    pthread_mutex_lock(&bus->mu);
    atomic_store(&bus->stop, 1);
    pthread_cond_broadcast(&bus->cond);
    pthread_mutex_unlock(&bus->mu);
    pthread_join(bus->thread, NULL);
    pthread_cond_destroy(&bus->cond);
    pthread_mutex_destroy(&bus->mu);
    bus__free(bus);
}
