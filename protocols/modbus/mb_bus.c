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
 *    arrives during the next request has another transaction id and is
 *    skipped, and the right answer is read after it (mb_tcp.c);
 *  - a garbled answer (bad CRC, bad length, junk) flushes the line and is
 *    retried up to the device's retries;
 *  - a link error (reset, refused, EOF, serial port gone) closes the
 *    connection; it is re-opened with capped exponential backoff and
 *    jitter, and every device is polled again promptly once it is back.
 *
 * This file is the thread's loop and the bus's life cycle; a device's poll
 * is mb_poll.c, writes mb_write.c, the connection mb_link.c, events and
 * sleeping mb_events.c (the list is in mb_int.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A device due this soon is polled in the current cycle rather than after
 * another sleep: cycles that drifted apart by a few ms (a slow answer, a
 * backoff) join again. Its cadence is kept (mb__schedule counts from the
 * due time). */
#define MB_DUE_SLACK_MS 5

/* Threads mb_bus_stop had to leave behind (mb_bus_abandoned). */
static atomic_long mb__abandoned;

static void mb__release(mb_bus_t *bus);

static void *mb__thread(void *arg)
{
    mb_bus_t *bus = arg;
    int orphaned;

    while (!atomic_load(&bus->stop)) {
        int64_t now = gw_mono_ms(), next = now + 1000;
        mb__alive(bus);
        mb__run_writes(bus);
        for (size_t i = 0; i < bus->ndevs && !atomic_load(&bus->stop); i++) {
            mb__device_t *d = &bus->devs[i];
            if (d->next_due > gw_mono_ms() + MB_DUE_SLACK_MS)
                continue; /* (a device due within the slack goes with this cycle) */
            mb__poll_device(bus, d);
            mb__run_writes(bus); /* a setpoint does not wait for a whole cycle */
        }
        for (size_t i = 0; i < bus->ndevs; i++) {
            if (bus->devs[i].next_due < next)
                next = bus->devs[i].next_due;
        }
        mb__flush(bus);
        mb__sleep(bus, next, 1);
    }
    mb__disconnect(bus, "stopping");
    mb__flush(bus);
    pthread_mutex_lock(&bus->mu);
    orphaned = bus->orphaned;
    pthread_mutex_unlock(&bus->mu);
    if (orphaned)
        mb__release(bus); /* nobody else will */
    return NULL;
}

/* The longest a healthy thread goes between two stamps (mb.h). */
static int64_t mb__stall_bound(const mb_bus_t *bus)
{
    int64_t t = bus->timeout_ms;

    for (size_t i = 0; i < bus->ndevs; i++) {
        if (bus->devs[i].cfg.timeout_ms > t)
            t = bus->devs[i].cfg.timeout_ms;
    }
    return 2 * t + bus->pause_ms + bus->connect_pause_ms + 1000;
}

static void mb__free(mb_bus_t *bus)
{
    if (!bus)
        return;
    mb__rpool_release(bus->rpool);
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
    size_t rbytes = 0;

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
        /* All due now: the devices of one interval are then polled one after
         * the other in a cycle, and their readings reach the loop together,
         * so the thread and the loop wake once per cycle, as a bare polling
         * loop does, not once per device (each wake-up costs more CPU than
         * a request on a virtual machine: docs/performance.md). */
        d->next_due = now;
        bus->ndevs++;
    }
    for (size_t i = 0; i < ndevs; i++)
        if (mb__reading_bytes(&devs[i]) > rbytes)
            rbytes = mb__reading_bytes(&devs[i]);
    if (!(bus->rpool = mb__rpool_new(rbytes)))
        goto out_nomem;
    bus->stall_bound_ms = mb__stall_bound(bus);
    atomic_init(&bus->progress_ms, (long long)now);
    pthread_mutex_init(&bus->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&bus->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&bus->thread, NULL, mb__thread, bus) != 0) {
        snprintf(err, errlen, "bus %s: cannot start thread", cfg->name);
        pthread_cond_destroy(&bus->cond);
        pthread_mutex_destroy(&bus->mu);
        mb__free(bus);
        return GW_ENOMEM;
    }
    *out = bus;
    return 0;

out_nomem:
    snprintf(err, errlen, "bus %s: out of memory", cfg->name);
    mb__free(bus);
    return GW_ENOMEM;
}

void mb_bus_stop_begin(mb_bus_t *bus)
{
    if (!bus)
        return;
    pthread_mutex_lock(&bus->mu);
    atomic_store(&bus->stop, 1);
    pthread_cond_broadcast(&bus->cond);
    pthread_mutex_unlock(&bus->mu);
}

/* Answer the writes that never ran, so that nobody waits for them. Under
 * mu, or after the thread is gone. */
static void mb__refuse_writes(mb_bus_t *bus)
{
    gw_msg_t *m;

    while ((m = bus->writes_head) != NULL) {
        mb_write_t *w = (mb_write_t *)m;
        bus->writes_head = m->next;
        m->next = NULL;
        w->rc = GW_ESTATE;
        snprintf(w->err, sizeof(w->err), "bus %s stopped before the write ran", bus->name);
        gw_queue_push(bus->events, m);
    }
    bus->writes_tail = NULL;
}

/* Answer the write the stuck thread is inside, if any: its caller (an
 * operator, an MQTT command) must not wait forever. The thread keeps the
 * request itself and drops its late answer (orphaned). The device may or
 * may not have applied it: the error says so. Under mu. */
static void mb__answer_running_write(mb_bus_t *bus)
{
    const mb_write_t *w = bus->write_running;
    mb_write_t *a;

    if (!w)
        return;
    bus->write_running = NULL;
    a = mb_write_new(w->count);
    if (!a)
        return; /* out of memory: the caller's own timeout ends its wait */
    a->id = w->id;
    a->device_id = w->device_id;
    a->unit_id = w->unit_id;
    a->timeout_ms = w->timeout_ms;
    a->table = w->table;
    a->multiple = w->multiple;
    a->addr = w->addr;
    memcpy(a->values, w->values, (size_t)w->count * sizeof(a->values[0]));
    a->rc = GW_ETIMEDOUT;
    snprintf(a->err, sizeof(a->err),
             "bus %s stuck in this write (a driver call that did not return): the device "
             "may have applied it",
             bus->name);
    gw_queue_push(bus->events, &a->hdr);
}

/* Free a bus whose thread is gone or is the caller. */
static void mb__release(mb_bus_t *bus)
{
    gw_msg_free_list(bus->out_head);
    pthread_cond_destroy(&bus->cond);
    pthread_mutex_destroy(&bus->mu);
    mb__free(bus);
}

/* Wait for the thread for at most its stall bound (a request cannot take
 * longer unless a driver call is stuck). Returns 0 when it ended. */
static int mb__join(mb_bus_t *bus)
{
    struct timespec until;
    int64_t ms = bus->stall_bound_ms;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return pthread_clockjoin_np(bus->thread, NULL, CLOCK_MONOTONIC, &until);
}

void mb_bus_stop(mb_bus_t *bus)
{
    if (!bus)
        return;
    mb_bus_stop_begin(bus);
    if (mb__join(bus) == 0) {
        mb__refuse_writes(bus);
        mb__release(bus);
        return;
    }
    /* Stuck in a driver call (a wedged adapter): leave it behind rather
     * than stop the loop, and with it every other bus, rule and alarm. It
     * sends nothing more and frees the bus if the call ever returns. */
    pthread_mutex_lock(&bus->mu);
    bus->orphaned = 1;
    mb__answer_running_write(bus);
    mb__refuse_writes(bus);
    pthread_mutex_unlock(&bus->mu);
    atomic_fetch_add(&mb__abandoned, 1);
    gw_log_error("modbus",
                 "bus %s: its thread did not stop within %lld ms (stuck in a driver call): left "
                 "behind; it sends nothing more and frees itself if the call returns",
                 bus->name, (long long)bus->stall_bound_ms);
    pthread_detach(bus->thread);
}

long mb_bus_abandoned(void)
{
    return atomic_load(&mb__abandoned);
}

int64_t mb_bus_progress_ms(const mb_bus_t *bus)
{
    return (int64_t)atomic_load(&((mb_bus_t *)bus)->progress_ms);
}

int64_t mb_bus_stall_bound_ms(const mb_bus_t *bus)
{
    return bus->stall_bound_ms;
}
