/*
 * gw_clock.c: the system clock and the hook to replace it (gw_clock.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"

#include <stdio.h>
#include <time.h>

static int64_t sys_mono_ms(void *arg)
{
    struct timespec ts;
    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t sys_wall_ms(void *arg)
{
    struct timespec ts;
    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const gw_clock_t sys_clock = {sys_mono_ms, sys_wall_ms, NULL};
static gw_clock_t cur_clock = {sys_mono_ms, sys_wall_ms, NULL};

void gw_clock_set(const gw_clock_t *clock)
{
    cur_clock = clock ? *clock : sys_clock;
}

int64_t gw_mono_ms(void)
{
    return cur_clock.mono_ms(cur_clock.arg);
}

int64_t gw_wall_ms(void)
{
    return cur_clock.wall_ms(cur_clock.arg);
}

struct timespec gw_mono_deadline(int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms < 0)
        ms = 0;
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

char *gw_format_iso8601(int64_t wall_ms, char *buf, unsigned long buflen)
{
    time_t secs = (time_t)(wall_ms / 1000);
    int ms = (int)(wall_ms % 1000);
    struct tm tm;

    if (ms < 0) {
        ms += 1000;
        secs--;
    }
    gmtime_r(&secs, &tm);
    snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}
