/*
 * gw_clock.h: the one clock interface (docs/architecture.md, "Time").
 *
 * Monotonic time schedules; wall time stamps records. Tests and the replay
 * tool install their own clock so that a week runs in a second. The clock is
 * process-wide and must be set before threads start.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_CLOCK_H
#define PLANTROOM_GW_CLOCK_H

#include <stdint.h>
#include <time.h>

typedef struct gw_clock {
    int64_t (*mono_ms)(void *arg); /* monotonic milliseconds, arbitrary origin */
    int64_t (*wall_ms)(void *arg); /* milliseconds since the Unix epoch, UTC */
    void *arg;
} gw_clock_t;

/* Install a clock (NULL restores the system clock). Not thread-safe. */
void gw_clock_set(const gw_clock_t *clock);
int64_t gw_mono_ms(void);
int64_t gw_wall_ms(void);

/* The CLOCK_MONOTONIC time ms from now, as a deadline for
 * pthread_cond_timedwait on a condition variable set to that clock. This is
 * the system clock, not the replaceable one: it is for real waiting. */
struct timespec gw_mono_deadline(int64_t ms);

/* Format ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (>= 25
 * bytes). Returns buf. */
char *gw_format_iso8601(int64_t wall_ms, char *buf, unsigned long buflen);

#endif
