/*
 * core_int.h: the core's state and the functions its files share (private
 * to gateway/core/). gw_core.c is the facade; the files below it never call
 * it back:
 *
 *   gw_core.c -> core_live.c -> core_poll.c -> core_rules.c -> core_rulesave.c
 *             -> core_status.c -> core_live.c      core_rules.c -> core_alarm.c
 *             -> core_rollup.c, core_write.c, core_alarm.c
 *
 * Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_CORE_INT_H
#define PLANTROOM_CORE_INT_H

#include "gateway/core/gw_core.h"
#include "gateway/base/gw_jwrite.h"

#include <limits.h>

struct core_rollup;

struct gw_core {
    uv_loop_t *loop;
    gw_runtime_t *rt;        /* owned; replaced by gw_core_swap */
    ledger_worker_t *ledger; /* not owned; NULL: actions go nowhere */
    gw_queue_t *inq;         /* where bus threads post (gw_core_start_buses) */
    gw_core_listener_t listener;
    gw_writes_t writes;
    struct core_rollup *rollup; /* core_rollup.c; NULL until the first reading */
    /* rule state (core_rulesave.c) */
    uv_timer_t rs_timer;
    int rs_started;                       /* rs_timer initialised */
    int rs_writing;                       /* a periodic save is on libuv's pool */
    char rs_corrupt[GW_ALARM_DETAIL_MAX]; /* rules.state was moved aside as damaged */
    int64_t rearm_seen_id;                /* the last outbox row looked at for "closed" */
    /* gateway alarms raised now (core_alarm.c) */
    gw_alarm_t *alarms;
    size_t nalarms, capalarms;
    /* keys of gateway alarms with an active, uncleared work order that
     * this run has not raised (from before a restart): cleared when their
     * condition is seen gone (gw_core_alarm_clear) */
    char (*orphans)[GW_ALARM_KEY_MAX];
    size_t norphans, caporphans;
    /* rule state saved soon after a transition (core_rulesave.c) */
    uv_timer_t rs_soon;
    int rs_again; /* a transition came during a write: write once more */
    /* reconciling rules with the ledger's active orders (core_rules.c) */
    uint64_t active_tag; /* the last question asked */
    /* liveness and the clocks (core_live.c) */
    uv_timer_t live_timer;
    int live_started, live_stopped;
    int64_t live_last;  /* monotonic ms of the last check */
    int64_t *bus_allow; /* per bus: one response timeout per device, and connecting */
    size_t nbus_allow;
    int clk_checked;
    int64_t clk_offset; /* wall - monotonic at the last tick */
    uint64_t clk_steps;
    int64_t clk_last_step, clk_last_step_at; /* ms (signed), wall ms */
};

/* core_poll.c: a reading of a device's planned blocks into its points'
 * samples, device status, rollup, rules, then the listener. */
void core__on_reading(gw_core_t *c, const mb_reading_t *r);
/* Set dev's status; on a change log it and tell the listener. 1: changed. */
int core__set_status(gw_core_t *c, gw_device_rt_t *dev, gw_dev_status_t st);
/* Run dev's rules on its latest samples, then tell the listener. */
void core__device_updated(gw_core_t *c, uint32_t dev_idx, int64_t ts_ms);

/* core_rules.c: run a device's rules; actions become ledger ops. */
void core__run_rules(gw_core_t *c, uint32_t device_idx);
/* A trend rule's evidence (owned, from gw_rule_evidence) with the latest
 * values of the device's other watched points and what their rules know
 * (core_context.c); returns the new string (the old one freed) or, when
 * that cannot be built, evidence as it was. Other kinds: evidence as is. */
char *core__evidence_context(const gw_runtime_t *rt, const gw_rule_rt_t *r, char *evidence);

/* core_rollup.c: 1-minute rollups and device status for the ledger. */
void core__rollup_reading(gw_core_t *c, const gw_device_rt_t *dev);
void core__rollup_flush(gw_core_t *c);
void core__rollup_free(gw_core_t *c);
/* Closed buckets waiting for the ledger (not yet submitted). */
size_t core__rollup_waiting(const gw_core_t *c);
/* Bytes of bucket slots held now (open, and closed ones waiting). */
size_t core__rollup_slot_bytes(const gw_core_t *c);

/* core_rulesave.c: load rules.state, save it every save_interval_s on
 * libuv's pool, soon after every rule transition, and at stop. */
void core__rules_state_start(gw_core_t *c);
void core__rules_state_stop(gw_core_t *c);
void core__rules_state_soon(gw_core_t *c);

/* core_alarm.c: the active gateway-alarm orders of another run, by key. */
void core__alarm_orphan(gw_core_t *c, const char *key);

/* core_live.c: device poll deadlines, stuck threads, clock steps. */
/* One audit row (ledger_audit_add through the ledger thread): detail is
 * printed (borrowed; NULL: none). Nothing without a ledger. */
void core__audit(gw_core_t *c, const char *actor, const char *channel, const char *action,
                 const cJSON *detail);
void core__live_start(gw_core_t *c);
void core__live_stop(gw_core_t *c);
/* After a reading: the checks run now if the last is LIVE_TICK_MS old, so
 * that a busy loop does them without waking for them. */
void core__live_poke(gw_core_t *c);
/* The buses were (re)started: deadlines start from now. */
void core__live_buses_started(gw_core_t *c);
int core__threads_ok(const gw_core_t *c, char *why, size_t len);
void core__live_status(const gw_core_t *c, cJSON *res);

/* core_status.c: one device of the status's "devices", with its points, as
 * the JSON text a cJSON tree of it prints unformatted (appended to w; times
 * through tc; ages as of now_mono). */
void core__status_device(gw_jw_t *w, gw_jw_time_t *tc, const gw_runtime_t *rt,
                         const gw_device_rt_t *dev, int64_t now_mono);
void core__live_metrics(const gw_core_t *c, FILE *o);

#endif
