/*
 * mb_events.c: how a bus thread talks to the loop and waits (mb_int.h):
 * events are held and handed over a cycle at a time, the thread sleeps on
 * its condition variable until a deadline, a stop or a queued write, and
 * backoffs are jittered. Design: the top of mb_bus.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb_int.h"
#include "gateway/base/gw_clock.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

void mb__alive(mb_bus_t *bus)
{
    atomic_store(&bus->progress_ms, (long long)gw_mono_ms());
}

/* Hand every held event to the loop, in one push: the loop wakes once.
 * A thread left behind (mb_bus_stop gave up on it) drops them: the loop
 * has moved on, maybe to another point table. Under mu. */
static void mb__flush_locked(mb_bus_t *bus)
{
    if (bus->orphaned)
        gw_msg_free_list(bus->out_head);
    else
        gw_queue_push_list(bus->events, bus->out_head, bus->out_tail, bus->out_n);
    bus->out_head = bus->out_tail = NULL;
    bus->out_n = 0;
}

void mb__flush(mb_bus_t *bus)
{
    pthread_mutex_lock(&bus->mu);
    mb__flush_locked(bus);
    pthread_mutex_unlock(&bus->mu);
}

void mb__flush_write(mb_bus_t *bus)
{
    pthread_mutex_lock(&bus->mu);
    bus->write_running = NULL; /* answered here, or by mb_bus_stop if orphaned */
    mb__flush_locked(bus);
    pthread_mutex_unlock(&bus->mu);
}

/* Hold an event for the loop; flushed before the thread sleeps, or once
 * the oldest has waited 10 ms (a slow device must not delay the others'
 * readings). */
void mb__emit(mb_bus_t *bus, gw_msg_t *m)
{
    m->next = NULL;
    if (bus->out_tail)
        bus->out_tail->next = m;
    else
        bus->out_head = m, bus->out_since = gw_mono_ms();
    bus->out_tail = m;
    bus->out_n++;
    if (gw_mono_ms() - bus->out_since >= 10)
        mb__flush(bus);
}

/* Sleep until the monotonic deadline or a stop request (or a queued
 * write, when wake_on_write), stamping progress at least once a second. */
void mb__sleep(mb_bus_t *bus, int64_t deadline_ms, int wake_on_write)
{
    struct timespec ts;
    int64_t now = gw_mono_ms(), until;

    if (deadline_ms <= now)
        return;
    mb__flush(bus);
    pthread_mutex_lock(&bus->mu);
    while (!atomic_load(&bus->stop) && !(wake_on_write && bus->writes_head) && now < deadline_ms) {
        until = deadline_ms - now < 1000 ? deadline_ms - now : 1000;
        ts = gw_mono_deadline(until);
        pthread_cond_timedwait(&bus->cond, &bus->mu, &ts);
        mb__alive(bus);
        now = gw_mono_ms();
    }
    pthread_mutex_unlock(&bus->mu);
}

void mb__sleep_until(mb_bus_t *bus, int64_t deadline_ms)
{
    mb__sleep(bus, deadline_ms, 0);
}

int mb__jitter(int ms)
{
    unsigned r = 0;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r))
        r = (unsigned)rand();
    /* +-25 % so that many gateways (and devices) do not retry in step */
    return ms - ms / 4 + (int)(r % (unsigned)(ms / 2 + 1));
}
