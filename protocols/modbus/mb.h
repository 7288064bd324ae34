/*
 * mb.h: Modbus bus workers and request planning.
 *
 * A bus is one TCP endpoint, one serial port (RTU), or one serial device
 * server carrying RTU frames over TCP, that may front
 * several devices by unit id. Each bus has its own thread and its own
 * modbus_t: libmodbus blocks, and a bus carries one request at a time, so
 * requests on a bus are strictly serialized. The thread polls each device
 * at its interval, reads the device's planned blocks and posts one
 * MB_EV_READING per poll to the daemon's queue. It knows registers, not
 * points: decoding is the drivers' job on the loop thread.
 *
 * Message kinds 100-199 belong to this module.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_MB_H
#define PLANTROOM_MB_H

#include "gateway/base/gw_queue.h"

#include <stddef.h>
#include <stdint.h>

/* Modbus tables, numbered as drv_table_t. */
enum { MB_TABLE_COIL = 0, MB_TABLE_DISCRETE = 1, MB_TABLE_HOLDING = 2, MB_TABLE_INPUT = 3 };

#define MB_MAX_REGS_PER_READ 125  /* protocol limit for FC 03/04 */
#define MB_MAX_BITS_PER_READ 2000 /* protocol limit for FC 01/02 */

/* One span to read: what a point needs. */
typedef struct mb_span {
    uint8_t table;
    uint16_t addr;
    uint16_t count;
} mb_span_t;

/* One request of a plan. Its words land at data[offset .. offset+count). */
typedef struct mb_block {
    uint8_t table;
    uint16_t addr;
    uint16_t count;
    uint32_t offset;
} mb_block_t;

/* Merge spans into the fewest blocks: spans of one table are joined when
 * the gap between them is at most max_gap registers (bits), never past the
 * per-request limits. On success *blocks (caller frees) holds *nblocks
 * blocks, *nwords is the data size, and span_offsets[i] is where span i's
 * first word lands in the data. Returns 0 or GW_ENOMEM / GW_EINVAL. */
int mb_plan(const mb_span_t *spans, size_t n, unsigned max_gap, mb_block_t **blocks,
            size_t *nblocks, size_t *nwords, uint32_t *span_offsets);

/* A device on a bus, as the bus thread needs it. The blocks and the name
 * are copied.
 *
 * Resilience: a request that times out ends the device's poll (the
 * remaining blocks are not tried: the next poll is the retry), so that a
 * silent device costs its neighbours at most one timeout per cycle. Other
 * failed answers (bad CRC, garbage, a stale response) are retried up to
 * `retries` times after flushing the line. After offline_after consecutive
 * polls without any answer the device is offline: it is then probed with
 * capped exponential backoff (from its interval, doubling, up to
 * backoff_max_ms, with +-25 % jitter) until it answers again. */
typedef struct mb_device_cfg {
    int device_id; /* the daemon's index, echoed in readings */
    const char *name;
    int unit_id;
    int interval_ms;
    int timeout_ms;     /* response timeout; 0: the bus's */
    int retries;        /* extra attempts after a garbled answer */
    int offline_after;  /* failed polls before backoff; 0: 3 */
    int backoff_max_ms; /* cap of the offline probe interval; 0: 60000 */
    const mb_block_t *blocks;
    size_t nblocks;
    size_t nwords;
} mb_device_cfg_t;

typedef enum mb_transport {
    MB_TCP = 0, /* Modbus TCP (MBAP) */
    MB_RTU,     /* Modbus RTU on a serial port */
    MB_RTU_TCP, /* RTU frames over a TCP connection (serial device servers) */
} mb_transport_t;

typedef struct mb_bus_cfg {
    int bus_id; /* the daemon's index, echoed in events */
    const char *name;
    mb_transport_t transport;
    const char *host; /* MB_TCP, MB_RTU_TCP */
    int port;
    const char *device; /* MB_RTU: serial port path */
    int baud;
    char parity; /* 'N', 'E' or 'O' */
    int data_bits, stop_bits;
    int rs485;            /* ask the port for RS-485 mode (ENOTTY ignored) */
    int timeout_ms;       /* response timeout per request (device default) */
    int pause_ms;         /* pause between two requests on the bus */
    int connect_pause_ms; /* pause after (re)connecting before the first request */
    int reconnect_max_ms; /* cap of the reconnect backoff */
} mb_bus_cfg_t;

enum {
    MB_EV_READING = 100, /* mb_reading_t */
    MB_EV_BUS_STATE,     /* mb_bus_state_t */
    MB_EV_WRITE_DONE,    /* mb_write_t, the request itself with its result */
};

/* Status of one block in a reading: 0 read, 1..255 the Modbus exception
 * code the device answered, MB_BLOCK_FAILED not read (timeout, link or
 * protocol error, or not tried after an earlier timeout). */
#define MB_BLOCK_FAILED 0xffffu

/* One poll of one device. rc 0: the device answered (block_status[i] says
 * which blocks were read; words of a read block are valid). rc negative:
 * the device did not answer at all (timeout, no connection, a gateway's
 * "target failed to respond"); err says why. offline is the bus thread's
 * view after this poll (1: in backoff). */
typedef struct mb_reading {
    gw_msg_t hdr;
    int bus_id;
    int device_id;
    int64_t ts_ms;      /* wall clock when the poll started */
    int64_t mono_ms;    /* monotonic clock (gw_mono_ms) when the poll started */
    int64_t latency_us; /* time the poll took */
    int rc;
    int offline;
    char err[128];
    size_t nblocks;
    uint16_t *block_status; /* nblocks entries, in the same allocation */
    size_t nwords;
    uint16_t words[]; /* nwords, then the block statuses */
} mb_reading_t;

typedef struct mb_bus_state {
    gw_msg_t hdr;
    int bus_id;
    int connected;
    char err[128];
} mb_bus_state_t;

/* A write: FC 05 (one coil), 06 (one register), 15 (coils) or 16
 * (registers); `multiple` forces 15/16 for a single value (devices that
 * only implement those). The same struct comes back on the events queue
 * as MB_EV_WRITE_DONE with rc and err set: 0, or GW_ETIMEDOUT, GW_EIO (link
 * down), GW_EPROTO (garbled answer, or a Modbus exception: then exception
 * holds its code and err its name), GW_ESTATE (bus stopped first). When
 * mb_bus_stop leaves a thread stuck inside the write, a copy answers it
 * (GW_ETIMEDOUT, "stuck in this write") and the thread drops its own. */
typedef struct mb_write {
    gw_msg_t hdr;
    uint64_t id; /* the caller's, echoed */
    int device_id;
    int unit_id;
    int timeout_ms; /* 0: the bus's */
    uint8_t table;  /* MB_TABLE_COIL or MB_TABLE_HOLDING */
    uint8_t multiple;
    uint16_t addr;
    uint16_t count; /* registers or coils, 1..123 / 1..1968 */
    int rc;
    unsigned exception;
    char err[128];
    uint16_t values[]; /* count: register values, or 0/1 per coil */
} mb_write_t;

/* A zeroed write request with room for count values (free with
 * gw_msg_free), or NULL. */
mb_write_t *mb_write_new(uint16_t count);

typedef struct mb_bus mb_bus_t;

/* Start a bus thread polling the given devices; events go to out. The
 * config is copied. Returns 0, or a negative code with the reason in err. */
int mb_bus_start(mb_bus_t **out, const mb_bus_cfg_t *cfg, const mb_device_cfg_t *devs, size_t ndevs,
                 gw_queue_t *events, char *err, size_t errlen);
/* Queue a write for the bus thread, which runs it before its next poll;
 * takes ownership of w in every case (on error it is freed). Returns 0 or
 * GW_EINVAL (bad table or count). */
int mb_bus_write(mb_bus_t *bus, mb_write_t *w);
/* Ask the thread to stop and return at once (NULL: no-op). Stopping many
 * buses: ask each, then mb_bus_stop each, so they wind down together and
 * the whole takes one request timeout, not one per bus. */
void mb_bus_stop_begin(mb_bus_t *bus);
/* Ask the thread to stop (if not asked yet), wait for it (at most one
 * request timeout), close the connection and free the bus. A thread stuck
 * in a driver call past mb_bus_stall_bound_ms is left behind instead (the
 * caller must not wait on a wedged adapter): detached, its later events
 * dropped, its queued writes answered GW_ESTATE now; it frees the bus if
 * its call ever returns. Either way bus is not the caller's any more. */
void mb_bus_stop(mb_bus_t *bus);
/* How many bus threads mb_bus_stop left behind since the start. */
long mb_bus_abandoned(void);

/* Liveness: the monotonic time (gw_mono_ms) at which the bus thread last
 * showed progress. It stamps it at every turn of its loop, around every
 * request and while it waits (at least once a second), so a thread whose
 * stamp is older than mb_bus_stall_bound_ms is stuck in a call (a wedged
 * driver or adapter). Any thread may read it. */
int64_t mb_bus_progress_ms(const mb_bus_t *bus);
/* The longest a healthy thread may go without a stamp: one request with
 * its answer (the longest response timeout of its devices, twice, for
 * libmodbus's byte timeouts) plus the bus pauses, plus a second. */
int64_t mb_bus_stall_bound_ms(const mb_bus_t *bus);

/* Text for a libmodbus errno: exception names ("illegal data address"), or
 * strerror. */
const char *mb_strerror(int errnum);
/* Name of a Modbus exception code ("illegal data address"), or
 * "exception" for an unknown code. */
const char *mb_exception_name(unsigned code);

#endif
