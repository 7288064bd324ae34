/*
 * gw_types.h: the types every module of plantroom shares.
 *
 * A sample is one reading of one point: {point, timestamp, value, quality}.
 * Quality travels with the value so that a rule never mistakes a dead device
 * for a zero reading (docs/architecture.md, "Data flow").
 *
 * Error convention for the whole project: functions return 0 on success or a
 * negative error code (GW_E*), and write details into a caller-supplied
 * message buffer when they take one.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_TYPES_H
#define PLANTROOM_GW_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Error codes: negative, errno-like. GW_EIO etc. mirror errno values so that
 * -errno from a system call can be returned as is. */
enum {
    GW_OK = 0,
    GW_ENOMEM = -12,     /* out of memory */
    GW_EIO = -5,         /* I/O error (device, file, socket) */
    GW_EINVAL = -22,     /* invalid argument or input */
    GW_ENOENT = -2,      /* no such thing (file, point, work order) */
    GW_EEXIST = -17,     /* already exists */
    GW_ETIMEDOUT = -110, /* timed out */
    GW_EPERM = -1,       /* not permitted (a point not writable, a sender not allowed) */
    GW_ECONFIG = -1000,  /* configuration invalid */
    GW_ESTATE = -1001,   /* operation not allowed in the current state */
    GW_EDB = -1002,      /* database error */
    GW_EPROTO = -1003,   /* protocol error (malformed frame or payload) */
    GW_ECORRUPT = -1004, /* a stored file is damaged (not a database, bad checksum) */
};

/* Quality of a sample. Only GW_Q_GOOD samples count as readings in rules. */
typedef enum gw_quality {
    GW_Q_GOOD = 0,
    GW_Q_STALE = 1,      /* no fresh reading within the expected period */
    GW_Q_COMM_ERROR = 2, /* the device did not answer or answered an error */
    GW_Q_BAD_CONFIG = 3, /* the point cannot be decoded as configured */
} gw_quality_t;

/* One reading of one point. point_id indexes the daemon's point table.
 * A sample carries two times: ts_ms, the wall clock, is what people read
 * and what records keep; mono_ms, the monotonic clock (gw_mono_ms), is
 * what rules order samples by and measure hold and clear times on, so that
 * a step of the wall clock neither blinds a rule nor cuts a hold short. A
 * source with only a wall time (plantroomctl replay) gives the same value
 * to both (docs/architecture.md, "Time"). The two 4-byte fields come first
 * (32 bytes, not 40 with padding: the point table holds one per point);
 * initialise it with designated fields. */
typedef struct gw_sample {
    uint32_t point_id;
    gw_quality_t quality;
    int64_t ts_ms; /* wall-clock time of the reading, ms since the Unix epoch */
    double value;
    int64_t mono_ms; /* monotonic time of the reading, ms (gw_mono_ms) */
} gw_sample_t;
_Static_assert(sizeof(gw_sample_t) == 32, "gw_sample_t has no padding");

/* Work-order priorities, highest first. */
typedef enum gw_priority {
    GW_PRIO_CRITICAL = 0,
    GW_PRIO_HIGH = 1,
    GW_PRIO_MEDIUM = 2,
    GW_PRIO_LOW = 3,
} gw_priority_t;

/* Name of a quality or priority as used in JSON, logs and the ledger. */
const char *gw_quality_name(gw_quality_t q);
const char *gw_priority_name(gw_priority_t p);
/* Parse a priority name; returns 0 and sets *out, or GW_EINVAL. */
int gw_priority_parse(const char *name, gw_priority_t *out);

/* Human text for a GW_E* or negative errno code. Never NULL. */
const char *gw_strerror(int rc);

/* Make room for element n of a growing array: when n reaches *cap, double
 * *cap (16 at first) and realloc *arr. Returns 0, or GW_ENOMEM with *arr and
 * *cap unchanged. */
int gw_array_grow(void **arr, size_t n, size_t *cap, size_t elem_size);

#define GW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
