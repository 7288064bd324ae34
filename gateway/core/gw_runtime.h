/*
 * gw_runtime.h: what the loop thread keeps per config: the point table,
 * each device's request plan and state, and each rule's state.
 *
 * Built from a validated config (gw_runtime_build); on reload a new runtime
 * is built first, then rule and device states are carried over by name
 * (gw_runtime_carry), so an unchanged rule keeps its pending/firing state.
 * Owned and used by the loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_RUNTIME_H
#define PLANTROOM_GW_RUNTIME_H

#include "gateway/config/gw_config.h"
#include "protocols/modbus/mb.h"
#include "rules/rule.h"

#include <stdio.h>

typedef enum gw_dev_status {
    GW_DEV_UNKNOWN = 0, /* not polled yet */
    GW_DEV_ONLINE,
    GW_DEV_OFFLINE,
} gw_dev_status_t;

/* One per point of the site (56 bytes: 20,000 points take 1.1 MB). */
typedef struct gw_point_rt {
    gw_sample_t last;     /* latest sample (quality says if it is usable) */
    char *text;           /* string points: the last text read, owned; else NULL */
    uint32_t word_offset; /* where its words land in the device's reading */
    uint32_t device_idx;
    uint32_t block_idx; /* the request of the device's plan that reads it */
    uint16_t exception; /* Modbus exception code of its last failed read, 0: none */
} gw_point_rt_t;

typedef struct gw_device_rt {
    const gw_device_cfg_t *cfg;
    uint32_t first_point; /* its points are first_point .. first_point+cfg->npoints-1 */
    mb_block_t *blocks;   /* the request plan, owned */
    size_t nblocks;
    size_t nwords;
    int has_decimals;              /* a point is scaled by another's decimals (decimals_point) */
    uint32_t rules_first, rules_n; /* its rules: rt->dev_rules[rules_first..+rules_n] */
    gw_dev_status_t status;
    int fails;            /* consecutive failed polls */
    int64_t last_ok_ms;   /* wall clock of the last good poll, 0: never */
    int64_t last_ok_mono; /* monotonic clock of the same, 0: never */
    uint64_t polls, errors;
    char last_err[128];
    /* Liveness (core_live.c): the bus thread must report a poll, good or
     * failed, before a deadline, or the device is overdue. */
    int64_t report_mono;  /* monotonic time of the last poll reported (or bus start) */
    int in_backoff;       /* the last report said it is probed with backoff */
    int overdue;          /* past its deadline: offline, points comm_error */
    int64_t overdue_next; /* overdue: when the next comm_error sample is due */
} gw_device_rt_t;

typedef struct gw_rule_rt {
    const gw_rule_cfg_t *cfg;
    uint32_t point_id;
    rule_state_t st;
} gw_rule_rt_t;

typedef struct gw_runtime {
    gw_config_t *cfg; /* owned */
    gw_device_rt_t *devs;
    gw_point_rt_t *points;
    size_t npoints;
    gw_rule_rt_t *rules;
    uint32_t *dev_rules; /* indexes into rules, by device, in config order */
    mb_bus_t **buses;    /* one per cfg->buses, NULL until started */
} gw_runtime_t;

/* Build a runtime for cfg (taking ownership of cfg, also on failure). */
int gw_runtime_build(gw_runtime_t **out, gw_config_t *cfg, char *err, size_t errlen);
/* Copy states of same-named devices and of unchanged rules from old. */
void gw_runtime_carry(gw_runtime_t *rt, const gw_runtime_t *old);
/* Start one bus thread per bus; readings go to q. */
int gw_runtime_start_buses(gw_runtime_t *rt, gw_queue_t *q, char *err, size_t errlen);
/* Stop every bus thread: all asked to stop, then all joined. */
void gw_runtime_stop_buses(gw_runtime_t *rt);
/* Print every device's request plan to f, one line per request:
 * "  <table> start=<addr> count=<n> points=<name>,<name>..." under a
 * "device <name> bus <bus> unit <id>: <n> requests, <w> words" line. */
void gw_runtime_print_plan(const gw_runtime_t *rt, FILE *f);
/* Free everything (buses must be stopped). */
void gw_runtime_free(gw_runtime_t *rt);

#endif
