/*
 * mb_int.h: what the files of protocols/modbus/ share and nobody else uses:
 * a bus's state (struct mb_bus) and the bus thread's internal calls. The
 * contract is protocols/modbus/mb.h; the design (what fails, and what the
 * bus does about it) is at the top of mb_bus.c and in
 * docs/configuration.md.
 *
 * The files call downwards only:
 *   mb_bus.c     the thread and the life cycle: start, stop, the loop
 *   mb_poll.c    polling a device: its blocks, retries, offline backoff
 *   mb_write.c   the write queue and running a write
 *   mb_link.c    the connection: connect with backoff, disconnect, the
 *                line discipline before each request, classifying
 *                failures
 *   mb_tcp.c     a Modbus TCP read in fewer system calls than
 *                libmodbus's, with its timing and checks
 *   mb_events.c  events held for the loop, sleeping, jitter
 *   mb_rpool.c   the readings handed to the loop, reused
 * (mb_plan.c, request planning, stands alone.)
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_MB_INT_H
#define PLANTROOM_MB_INT_H

#include "protocols/modbus/mb.h"

#include <modbus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct mb__rpool mb__rpool_t;

/* A device of the bus as its thread keeps it: the config (copied) and the
 * poll schedule. */
typedef struct mb__device {
    mb_device_cfg_t cfg;
    char name[64];
    mb_block_t *blocks;    /* owned copy */
    uint16_t *last_status; /* per block, for logging changes only; owned */
    int64_t next_due;      /* monotonic ms */
    int fails;             /* consecutive polls without an answer */
    int backoff_ms;        /* current probe interval while offline, 0: online */
} mb__device_t;

/* A bus. Who owns what: the bus owns devs (and their copies), ctx, the held
 * events and the queued writes; events belongs to the caller. */
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
    mb__rpool_t *rpool; /* the readings, reused; shared with those out */

    pthread_t thread;
    pthread_mutex_t mu; /* guards stop, the sleep and the write queue */
    pthread_cond_t cond;
    atomic_int stop;
    int orphaned;                        /* under mu: mb_bus_stop gave up waiting */
    atomic_llong progress_ms;            /* gw_mono_ms of the last sign of life (mb__alive) */
    int64_t stall_bound_ms;              /* mb_bus_stall_bound_ms, fixed at start */
    gw_msg_t *writes_head, *writes_tail; /* queued mb_write_t, under mu */
    mb_write_t *write_running;           /* under mu: the write on the wire, if any */

    /* Events not yet handed to the loop: a cycle's readings go together, so
     * that the loop wakes once per cycle rather than once per device. */
    gw_msg_t *out_head, *out_tail;
    size_t out_n;      /* events held */
    int64_t out_since; /* monotonic ms of the oldest held event */

    modbus_t *ctx;
    int connected;
    int need_flush;       /* a request timed out: its answer may still come */
    int cur_timeout_ms;   /* response timeout set on ctx */
    uint16_t raw_tid;     /* TCP: transaction id of the last read (mb_tcp.c; not libmodbus's) */
    int backoff_ms;       /* current reconnect backoff */
    int64_t next_connect; /* monotonic ms of the next connect attempt */
    int64_t last_request; /* monotonic ms of the end of the last request */
    char last_err[128];
};

/* How a failed request is handled. */
typedef enum mb__fail {
    MB__F_EXCEPTION, /* the device answered an exception */
    MB__F_SILENT,    /* no answer: timeout, or a gateway saying the target is silent */
    MB__F_GARBLED,   /* an answer we cannot use: flush and maybe retry */
    MB__F_LINK,      /* the connection is unusable */
} mb__fail_t;

/* ---- mb_events.c ---- */

/* Stamp the thread's progress (mb_bus_progress_ms). */
void mb__alive(mb_bus_t *bus);
/* Hand every held event to the loop. */
void mb__flush(mb_bus_t *bus);
/* mb__flush for a write just answered: clears write_running in the same
 * critical section, so that mb_bus_stop answers it exactly once. */
void mb__flush_write(mb_bus_t *bus);
/* Hold an event for the loop (a cycle's readings go together). */
void mb__emit(mb_bus_t *bus, gw_msg_t *m);
/* Sleep until the monotonic deadline or a stop request (or a queued
 * write, when wake_on_write); held events are flushed first. */
void mb__sleep(mb_bus_t *bus, int64_t deadline_ms, int wake_on_write);
void mb__sleep_until(mb_bus_t *bus, int64_t deadline_ms);
/* ms give or take 25 %, drawn at random, for backoffs. */
int mb__jitter(int ms);

/* ---- mb_rpool.c ---- */

/* The bytes of a reading of the device: header, words, block statuses. */
size_t mb__reading_bytes(const mb_device_cfg_t *d);
/* A pool of readings of at most bytes each (the header, words and block
 * statuses), one reference held by the bus. NULL when out of memory. */
mb__rpool_t *mb__rpool_new(size_t bytes);
/* The bus drops its reference; the pool goes when its last reading is back. */
void mb__rpool_release(mb__rpool_t *p);
/* A zeroed reading of bytes (at most the pool's) whose free_fn puts it back;
 * allocates only when every one is out. Bus thread only. NULL when out of
 * memory or bytes is too large. */
mb_reading_t *mb__rpool_get(mb__rpool_t *p, size_t bytes);

/* ---- mb_link.c ---- */

/* Try to connect if the backoff allows. Returns 1 when connected. */
int mb__ensure_connected(mb_bus_t *bus);
/* Close the connection (a no-op without one); tells the loop when it was up. */
void mb__disconnect(mb_bus_t *bus, const char *why);
/* The response timeout for the next requests. */
void mb__set_timeout(mb_bus_t *bus, int ms);
/* Drop whatever the line holds (a late or garbled answer). */
void mb__drain(mb_bus_t *bus);
/* Before each request: the bus pause and a drain when one is due. */
void mb__before_request(mb_bus_t *bus);
mb__fail_t mb__classify(int e);
const char *mb__table_name(uint8_t t);

/* ---- mb_tcp.c ---- */

/* TCP: read block b of unit into dst (the request, then a poll() and a
 * recv() per piece of the answer: one when it comes whole), with
 * libmodbus's timing (the response timeout for the first byte, the byte
 * timeout between pieces, both as set on bus->ctx) and checks; late answers
 * skipped by transaction id. Returns 0, or the errno libmodbus would have
 * set (ETIMEDOUT, ECONNRESET, EMBBADDATA, EMBBADEXC, MODBUS_ENOBASE +
 * exception code, a socket's errno). */
int mb__tcp_read(mb_bus_t *bus, uint8_t unit, const mb_block_t *b, uint16_t *dst);

/* ---- mb_poll.c ---- */

/* Poll a device that is due: read its blocks, post the reading, schedule
 * its next poll. */
void mb__poll_device(mb_bus_t *bus, mb__device_t *d);

/* ---- mb_write.c ---- */

/* Run every queued write (a stopping bus leaves them to mb_bus_stop). */
void mb__run_writes(mb_bus_t *bus);

#endif
