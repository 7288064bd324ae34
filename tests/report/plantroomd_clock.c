/*
 * plantroomd_clock.c: plantroomd-testclock, the real plantroomd (its own
 * main, included below) on a wall clock that runs at the real rate from
 * another time: gw_wall_ms() is the system's wall time plus
 * $PLANTROOM_TEST_WALL_OFFSET_MS (milliseconds, may be negative), installed
 * through gw_clock_set before anything starts. A test puts the daemon just
 * before 07:00 on the 1st of a month, and gives every restart the same
 * offset so that its time runs on across them. The monotonic clock stays
 * the system's. Built with the tests only; never installed.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"

#include <stdlib.h>
#include <time.h>

int plantroomd_main(int argc, char **argv);

#define main plantroomd_main
#include "gateway/plantroomd.c"
#undef main

static int64_t offset_ms;

static int64_t clock__mono(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t clock__wall(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset_ms;
}

int main(int argc, char **argv)
{
    static const gw_clock_t clk = {clock__mono, clock__wall, NULL};
    const char *off = getenv("PLANTROOM_TEST_WALL_OFFSET_MS");

    offset_ms = off ? strtoll(off, NULL, 10) : 0;
    gw_clock_set(&clk);
    return plantroomd_main(argc, argv);
}
