/*
 * core_live.c: liveness and the clocks, checked every 250 ms at most
 * (docs/architecture.md, "Threads" and "Time"; docs/operations.md). The
 * checks ride on the readings (core__live_poke, after each one, when the
 * last check is 250 ms old); a loop timer runs them only when readings do
 * not: at the next device deadline, or a second after the last check, so
 * that a busy loop is not woken four times a second for them, and an idle
 * one still is when a deadline or a stuck thread is due:
 *
 *  - Each Modbus device has a monotonic poll deadline: its bus thread must
 *    report a poll, good or failed, within liveness.missed_polls intervals
 *    (its backoff cap while it is probed with backoff) plus one response
 *    timeout per device of the bus and one for connecting. Past it the
 *    device is overdue: offline, its points comm_error, and its rules get a
 *    comm_error sample every interval, so stale rules age and fire, until
 *    the thread reports again. A bus thread stuck in a driver call sends
 *    nothing at all, so without this its devices would stay online with
 *    their last values.
 *  - Each bus thread and the ledger thread stamp their progress (a
 *    monotonic time). A thread whose stamp is older than its stall limit
 *    (liveness.thread_stall_ms, or the thread's own bound when its timeouts
 *    need longer: mb_bus_stall_bound_ms, LEDGER_WORKER_STALL_BOUND_MS) is
 *    stuck: gateway alarm thread.bus.<bus> or thread.ledger,
 *    cleared when it moves again; and the systemd watchdog is not fed
 *    (gw_core_threads_ok, asked by the service before each ping).
 *  - The wall clock is compared with the monotonic one at every tick: a
 *    jump of their difference by time.step_threshold_ms or more is a step
 *    (NTP setting the clock, an operator's date -s): logged, counted, shown
 *    in status and metrics, and an audit row "clock_step" in the ledger
 *    says when and how far. Nothing inside measures durations on the wall
 *    clock, so a step changes only the times people read.
 *
 * Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/core/core_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_TICK_MS  250
#define LIVE_QUIET_MS 1000 /* the longest without a check (threads, clock) */

/* ---- threads ------------------------------------------------------------ */

/* The stall limit and the progress age of thread i: buses first, then the
 * ledger. Returns 0 when there is no such thread running now. */
static int live__thread(const gw_core_t *c, size_t i, int64_t now, char *name, size_t len,
                        int64_t *age, int64_t *limit)
{
    const gw_runtime_t *rt = c->rt;
    int64_t stall = rt->cfg->liveness.thread_stall_ms;

    if (i < rt->cfg->nbuses) {
        const mb_bus_t *b = rt->buses[i];
        if (!b)
            return 0;
        snprintf(name, len, "bus.%s", rt->cfg->buses[i].name);
        *age = now - mb_bus_progress_ms(b);
        *limit = mb_bus_stall_bound_ms(b) > stall ? mb_bus_stall_bound_ms(b) : stall;
        return 1;
    }
    if (i > rt->cfg->nbuses || !c->ledger)
        return 0;
    snprintf(name, len, "ledger");
    *age = now - ledger_worker_progress_ms(c->ledger);
    *limit = stall > LEDGER_WORKER_STALL_BOUND_MS ? stall : LEDGER_WORKER_STALL_BOUND_MS;
    return 1;
}

int core__threads_ok(const gw_core_t *c, char *why, size_t len)
{
    int64_t now = gw_mono_ms(), age, limit;
    char name[GW_ALARM_KEY_MAX];

    for (size_t i = 0; i <= c->rt->cfg->nbuses; i++) {
        if (live__thread(c, i, now, name, sizeof(name), &age, &limit) && age > limit) {
            snprintf(why, len, "thread %s made no progress for %.1f s", name, (double)age / 1000.0);
            return 0;
        }
    }
    return 1;
}

/* Raise or clear thread.<name> for every thread. */
static void live__threads(gw_core_t *c, int64_t now)
{
    int64_t age, limit;
    char name[GW_ALARM_KEY_MAX], key[GW_ALARM_KEY_MAX + 8];

    for (size_t i = 0; i <= c->rt->cfg->nbuses; i++) {
        if (!live__thread(c, i, now, name, sizeof(name), &age, &limit))
            continue;
        snprintf(key, sizeof(key), "thread.%s", name);
        if (age > limit)
            gw_core_alarm_raise(c, key, GW_PRIO_HIGH,
                                "thread %s has made no progress for %.0f s (limit %.1f s): stuck "
                                "in a call; systemd's watchdog is no longer fed",
                                name, (double)age / 1000.0, (double)limit / 1000.0);
        else
            gw_core_alarm_clear(c, key);
    }
}

/* ---- devices ------------------------------------------------------------ */

void core__live_buses_started(gw_core_t *c)
{
    const gw_config_t *cfg = c->rt->cfg;
    int64_t now = gw_mono_ms(), *allow = calloc(cfg->nbuses + 1, sizeof(*allow));

    free(c->bus_allow);
    c->bus_allow = allow;
    c->nbus_allow = allow ? cfg->nbuses : 0;
    for (size_t b = 0; allow && b < cfg->nbuses; b++)
        allow[b] = (int64_t)cfg->buses[b].timeout_ms + cfg->buses[b].connect_pause_ms;
    for (size_t i = 0; i < cfg->ndevices; i++) {
        gw_device_rt_t *d = &c->rt->devs[i];
        int b = d->cfg->bus_idx;
        if (b < 0)
            continue;
        d->report_mono = now;
        d->overdue = 0;
        if (allow)
            allow[b] += (d->cfg->timeout_ms > 0 ? d->cfg->timeout_ms : cfg->buses[b].timeout_ms) +
                        cfg->buses[b].pause_ms;
    }
}

/* When dev's bus thread must have reported its next poll by. */
static int64_t live__deadline(const gw_core_t *c, const gw_device_rt_t *d)
{
    int64_t gap = d->cfg->interval_ms;

    if (d->in_backoff)
        gap = (int64_t)d->cfg->backoff_max_ms * 5 / 4; /* the cap, with its jitter */
    return d->report_mono + c->rt->cfg->liveness.missed_polls * gap +
           ((size_t)d->cfg->bus_idx < c->nbus_allow ? c->bus_allow[d->cfg->bus_idx] : 0);
}

/* An overdue device: every point comm_error now, offline, its rules run. */
static void live__overdue_sample(gw_core_t *c, size_t idx, int64_t now)
{
    gw_device_rt_t *d = &c->rt->devs[idx];
    int64_t wall = gw_wall_ms();

    for (size_t j = 0; j < d->cfg->npoints; j++) {
        gw_sample_t *s = &c->rt->points[d->first_point + j].last;
        s->quality = GW_Q_COMM_ERROR;
        s->ts_ms = wall;
        s->mono_ms = now;
    }
    snprintf(d->last_err, sizeof(d->last_err),
             "bus %s reported no poll for %.1f s: its thread may be stuck", d->cfg->bus,
             (double)(now - d->report_mono) / 1000.0);
    if (core__set_status(c, d, GW_DEV_OFFLINE) == 0 && d->overdue_next == 0)
        gw_log_warn("gw", "device %s: %s", d->cfg->name, d->last_err);
    core__rollup_reading(c, d);
    core__device_updated(c, (uint32_t)idx, wall);
}

/* Returns when the next device check is due (a deadline, or an overdue
 * device's next sample), at most `until`. */
static int64_t live__devices(gw_core_t *c, int64_t now, int64_t until)
{
    gw_runtime_t *rt = c->rt;

    for (size_t i = 0; i < rt->cfg->ndevices; i++) {
        gw_device_rt_t *d = &rt->devs[i];
        int64_t due;
        if (d->cfg->bus_idx < 0 || !rt->buses[d->cfg->bus_idx])
            continue;
        if (!d->overdue && now >= live__deadline(c, d)) {
            d->overdue = 1;
            d->overdue_next = 0;
        }
        if (d->overdue && now >= d->overdue_next) {
            live__overdue_sample(c, i, now);
            d->overdue_next = now + d->cfg->interval_ms;
        }
        due = d->overdue ? d->overdue_next : live__deadline(c, d);
        if (due < until)
            until = due;
    }
    return until;
}

/* ---- the wall clock ----------------------------------------------------- */

/* The step as an audit row "clock_step": whoever reads the ledger later
 * sees why the times of its rows jump (a work order "opened" before the one
 * that caused it, an SLA that looks hours long). */
static void live__clock_audit(gw_core_t *c, int64_t step, int64_t wall)
{
    cJSON *d = cJSON_CreateObject();
    char ts[32];

    if (!d)
        return;
    cJSON_AddNumberToObject(d, "step_s", (double)step / 1000.0);
    cJSON_AddStringToObject(d, "from", gw_format_iso8601(wall - step, ts, sizeof(ts)));
    cJSON_AddStringToObject(d, "to", gw_format_iso8601(wall, ts, sizeof(ts)));
    core__audit(c, "plantroomd", "internal", "clock_step", d);
    cJSON_Delete(d);
}

static void live__clock(gw_core_t *c, int64_t now)
{
    int64_t wall = gw_wall_ms(), offset = wall - now, step = offset - c->clk_offset;
    char was[32], is[32];

    if (!c->clk_checked) {
        c->clk_checked = 1;
        c->clk_offset = offset;
        return;
    }
    c->clk_offset = offset; /* a slew never adds up to a step */
    if (llabs(step) < c->rt->cfg->time.step_threshold_ms)
        return;
    c->clk_steps++;
    c->clk_last_step = step;
    c->clk_last_step_at = wall;
    gw_log_warn("clock",
                "the wall clock stepped %+.3f s (%s -> %s); hold times, timeouts and schedules "
                "run on the monotonic clock and are not affected",
                (double)step / 1000.0, gw_format_iso8601(wall - step, was, sizeof(was)),
                gw_format_iso8601(wall, is, sizeof(is)));
    live__clock_audit(c, step, wall);
}

/* ---- the timer ---------------------------------------------------------- */

static void live__timer_cb(uv_timer_t *t);

/* Every check, then the timer for the next one nobody else will run. */
static void live__check(gw_core_t *c, int64_t now)
{
    int64_t next;

    c->live_last = now;
    live__clock(c, now);
    next = live__devices(c, now, now + LIVE_QUIET_MS);
    live__threads(c, now);
    if (next < now + LIVE_TICK_MS)
        next = now + LIVE_TICK_MS;
    uv_timer_start(&c->live_timer, live__timer_cb, (uint64_t)(next - now), 0);
}

static void live__timer_cb(uv_timer_t *t)
{
    live__check(t->data, gw_mono_ms());
}

void core__live_poke(gw_core_t *c)
{
    int64_t now;

    if (!c->live_started || c->live_stopped)
        return;
    now = gw_mono_ms();
    if (now - c->live_last >= LIVE_TICK_MS)
        live__check(c, now);
}

void core__live_start(gw_core_t *c)
{
    if (c->live_started)
        return;
    c->clk_offset = gw_wall_ms() - gw_mono_ms(); /* steps are counted from here */
    c->clk_checked = 1;
    uv_timer_init(c->loop, &c->live_timer);
    c->live_timer.data = c;
    c->live_started = 1;
    c->live_last = gw_mono_ms();
    uv_timer_start(&c->live_timer, live__timer_cb, LIVE_TICK_MS, 0);
}

void core__live_stop(gw_core_t *c)
{
    if (c->live_started)
        uv_timer_stop(&c->live_timer);
    c->live_stopped = 1; /* the readings of the last drain check nothing */
}

/* ---- status and metrics ------------------------------------------------- */

void core__live_status(const gw_core_t *c, cJSON *res)
{
    cJSON *clk = cJSON_AddObjectToObject(res, "clock"),
          *thr = cJSON_AddArrayToObject(res, "threads");
    int64_t now = gw_mono_ms(), age, limit;
    char ts[32], name[GW_ALARM_KEY_MAX];

    cJSON_AddNumberToObject(res, "threads_abandoned", (double)mb_bus_abandoned());
    cJSON_AddStringToObject(clk, "wall", gw_format_iso8601(gw_wall_ms(), ts, sizeof(ts)));
    cJSON_AddNumberToObject(clk, "steps", (double)c->clk_steps);
    if (c->clk_steps) {
        cJSON_AddNumberToObject(clk, "last_step_s", (double)c->clk_last_step / 1000.0);
        cJSON_AddStringToObject(clk, "last_step_at",
                                gw_format_iso8601(c->clk_last_step_at, ts, sizeof(ts)));
    } else {
        cJSON_AddNullToObject(clk, "last_step_s");
        cJSON_AddNullToObject(clk, "last_step_at");
    }
    for (size_t i = 0; i <= c->rt->cfg->nbuses; i++) {
        cJSON *o;
        if (!live__thread(c, i, now, name, sizeof(name), &age, &limit))
            continue;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddNumberToObject(o, "progress_age_s", (double)age / 1000.0);
        cJSON_AddNumberToObject(o, "stall_limit_s", (double)limit / 1000.0);
        cJSON_AddBoolToObject(o, "stuck", age > limit);
        cJSON_AddItemToArray(thr, o);
    }
}

void core__live_metrics(const gw_core_t *c, FILE *o)
{
    int64_t now = gw_mono_ms(), age, limit;
    char name[GW_ALARM_KEY_MAX];

    fprintf(o,
            "# HELP plantroom_clock_steps_total Steps of the wall clock seen (NTP, date -s).\n"
            "# TYPE plantroom_clock_steps_total counter\nplantroom_clock_steps_total %" PRIu64 "\n",
            c->clk_steps);
    fprintf(o,
            "# HELP plantroom_clock_last_step_seconds Size of the last wall-clock step (negative: "
            "back), 0 when none.\n# TYPE plantroom_clock_last_step_seconds gauge\n"
            "plantroom_clock_last_step_seconds %.3f\n",
            (double)c->clk_last_step / 1000.0);
    fprintf(o, "# HELP plantroom_thread_progress_age_seconds Time since the thread last showed "
               "progress.\n# TYPE plantroom_thread_progress_age_seconds gauge\n");
    for (size_t i = 0; i <= c->rt->cfg->nbuses; i++) {
        if (live__thread(c, i, now, name, sizeof(name), &age, &limit))
            fprintf(o, "plantroom_thread_progress_age_seconds{thread=\"%s\"} %.3f\n", name,
                    (double)age / 1000.0);
    }
    fprintf(o, "# HELP plantroom_thread_stuck 1 while the thread is past its stall limit.\n"
               "# TYPE plantroom_thread_stuck gauge\n");
    for (size_t i = 0; i <= c->rt->cfg->nbuses; i++) {
        if (live__thread(c, i, now, name, sizeof(name), &age, &limit))
            fprintf(o, "plantroom_thread_stuck{thread=\"%s\"} %d\n", name, age > limit);
    }
    fprintf(o,
            "# HELP plantroom_threads_abandoned_total Bus threads left behind stuck in a driver "
            "call when their bus was stopped (reload, stop).\n"
            "# TYPE plantroom_threads_abandoned_total counter\nplantroom_threads_abandoned_total "
            "%ld\n",
            mb_bus_abandoned());
}
