/*
 * svc_int.h: the service's state and what its files share (private to
 * gateway/service/). gw_svc.c is the facade; below it, never calling it:
 *
 *   gw_svc.c -> svc_commands.c -> svc_status.c -> svc_figures.c
 *                                                   -> svc_process.c
 *            -> svc_control.c (the socket), svc_http.c (the endpoint),
 *               svc_sdnotify.c
 *
 * Loop thread only, but for svc_http.c's own thread (gw_metrics.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_SVC_INT_H
#define PLANTROOM_SVC_INT_H

#include "gateway/service/gw_control.h"
#include "gateway/service/gw_metrics.h"
#include "gateway/service/gw_svc.h"

#include <stdint.h>

#define SVC_SOURCES_MAX 4

/* The upper bounds (seconds) of the poll latency histogram's buckets;
 * +Inf is the count. */
#define SVC_LAT_BUCKETS 12
extern const double svc__lat_bounds[SVC_LAT_BUCKETS];

/* Per bus, kept by name across reloads. */
typedef struct svc_bus_fig {
    char name[GW_NAME_MAX];
    uint64_t polls, errors;
    double latency_sum_s; /* of every poll, good or not */
    double latency_last_s;
    uint64_t latency_le[SVC_LAT_BUCKETS]; /* polls that took <= svc__lat_bounds[i] */
    int connected;                        /* -1 unknown, 0, 1 */
    int64_t last_ok_ms;   /* wall clock of the last good poll on the bus, 0: never */
    int64_t last_ok_mono; /* monotonic clock of the same */
} svc_bus_fig_t;

/* What the loop counts (svc_figures.c). */
typedef struct svc_figures {
    svc_bus_fig_t *buses;
    size_t nbuses, capbuses;
    uint64_t points_read; /* points decoded with good quality */
    uint64_t points_prev; /* points_read at the previous tick */
    double points_per_s;  /* over the last tick (status only: derived from points_read) */
    double loop_lag_s;    /* how late the last 1 s tick fired */
    double loop_lag_max_s;
    int ledger_stats_valid; /* 1 once the ledger thread answered */
    ledger_stats_t ledger;
} svc_figures_t;

struct gw_svc {
    gw_svc_env_t env;
    gw_svc_source_t sources[SVC_SOURCES_MAX];
    size_t nsources;
    uv_timer_t tick;     /* every second: loop lag, figures, STATUS=, metrics */
    uv_timer_t wd_timer; /* systemd watchdog pings */
    int wd_withheld;     /* pings withheld in a row (a thread stuck) */
    uint64_t due_ns;     /* when tick should fire next (uv_hrtime) */
    int ticks;
    int started, stopped;
    int64_t started_ms;   /* wall clock at start */
    int64_t started_mono; /* monotonic clock at start (uptime) */
    svc_figures_t fig;
    gw_control_t *control;
    gw_metrics_t *metrics;
    char sd_status[256]; /* last STATUS= sent */
};

/* svc_figures.c */
void svc__figures_observe(svc_figures_t *f, const gw_config_t *cfg, const gw_msg_t *m);
/* The figures of the named bus, added when new (NULL when out of memory). */
svc_bus_fig_t *svc__figures_bus(svc_figures_t *f, const char *name);
void svc__figures_free(svc_figures_t *f);
/* The Prometheus text of everything now (malloc'd; NULL on out of memory). */
char *svc__metrics_render(gw_svc_t *s);

/* svc_process.c: process_* metrics from /proc/self (each left out when
 * its file cannot be read). */
void svc__process_metrics(FILE *o);

/* svc_status.c: the "status" answer; "3/3 devices online, ..." for STATUS=. */
void svc__status_json(gw_svc_t *s, cJSON *res);
void svc__status_line(gw_svc_t *s, char *buf, size_t len);

/* svc_commands.c: the control socket's command table (ctx: gw_svc_t). */
extern const gw_control_cmd_t svc__commands[];

/* svc_sdnotify.c */
void svc__sd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void svc__sd_watchdog_start(gw_svc_t *s);

#endif
