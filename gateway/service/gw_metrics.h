/*
 * gw_metrics.h: the daemon's figures and the Prometheus endpoint.
 *
 * Two halves with a snapshot between them:
 *  - the loop thread keeps running figures (gw_figures_t: polls, errors and
 *    latency per bus, points read, loop lag, MQTT and ledger counts), fed by
 *    every message it dispatches, and once a second renders them as
 *    Prometheus text (gw__metrics_render) and hands that text over;
 *  - libmicrohttpd answers GET /metrics on its own thread from the last text
 *    handed over. The two meet only in gw_metrics_publish/the handler, under
 *    a mutex: the HTTP thread never touches loop state.
 * docs/operations.md ("Metrics") says what each metric means.
 */
#ifndef PLANTROOM_GW_METRICS_H
#define PLANTROOM_GW_METRICS_H

#include "gateway/config/gw_config.h"
#include "gateway/base/gw_queue.h"
#include "store/ledger_admin.h"

#include <stdint.h>

/* Per bus, kept by name across reloads. Loop thread only. */
typedef struct gw_bus_fig {
    char name[GW_NAME_MAX];
    uint64_t polls, errors;
    double latency_sum_s; /* of every poll, good or not */
    double latency_last_s;
    int connected; /* -1 unknown, 0, 1 */
} gw_bus_fig_t;

/* What the loop counts. Loop thread only. */
typedef struct gw_figures {
    gw_bus_fig_t *buses;
    size_t nbuses, capbuses;
    uint64_t points_read; /* points decoded with good quality */
    uint64_t points_prev; /* points_read at the previous tick */
    double points_per_s;  /* over the last tick */
    double loop_lag_s;    /* how late the last 1 s tick fired */
    double loop_lag_max_s;
    uint64_t mq_connects, mq_delivered, mq_publish_failed;
    int mq_connected;
    int ledger_stats_valid; /* 1 once the ledger thread answered */
    ledger_stats_t ledger;
    uint64_t reloads, reload_failures;
} gw_figures_t;

/* Account one message the loop is about to dispatch. */
void gw_figures_observe(gw_figures_t *f, const gw_config_t *cfg, const gw_msg_t *m);
/* The figures of the named bus, added when new (NULL when out of memory). */
gw_bus_fig_t *gw_figures_bus(gw_figures_t *f, const char *name);
void gw_figures_free(gw_figures_t *f);

typedef struct gw_metrics gw_metrics_t;

/* Start the HTTP endpoint on address:port (libmicrohttpd, its own thread).
 * Until the first gw_metrics_publish it answers 503. Returns 0 or a negative
 * code with the reason in err. */
int gw_metrics_start(gw_metrics_t **out, const char *address, int port, char *err, size_t errlen);
/* Replace the text served (the endpoint takes ownership of text, a malloc'd
 * NUL-terminated string). Thread-safe. */
void gw_metrics_publish(gw_metrics_t *m, char *text);
/* Stop the HTTP thread and free everything. NULL is fine. */
void gw_metrics_stop(gw_metrics_t *m);

#endif
