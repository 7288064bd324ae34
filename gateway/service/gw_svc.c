/*
 * gw_svc.c: the service's facade (gw_svc.h): start and stop of the control
 * socket and the metrics endpoint, the systemd notifications, and a
 * one-second tick on the loop that measures loop lag, asks the ledger
 * thread for counts, refreshes the STATUS= line and hands a fresh metrics
 * snapshot to the HTTP thread. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/service/svc_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define SVC_TICK_MS      1000
#define SVC_STATS_EVERY  5 /* ticks between two ledger count requests */
#define SVC_SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

int gw_svc_create(gw_svc_t **out, const gw_svc_env_t *env)
{
    gw_svc_t *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (!s)
        return GW_ENOMEM;
    s->env = *env;
    *out = s;
    return 0;
}

void gw_svc_add_source(gw_svc_t *s, const gw_svc_source_t *src)
{
    if (s->nsources < SVC_SOURCES_MAX)
        s->sources[s->nsources++] = *src;
}

static void svc__ask_ledger_stats(gw_svc_t *s)
{
    gw_msg_t *op;

    if (!s->env.ledger)
        return;
    op = calloc(1, sizeof(*op));
    if (!op)
        return;
    op->kind = LEDGER_OP_STATS;
    ledger_worker_submit(s->env.ledger, op);
}

static void svc__tick_cb(uv_timer_t *t)
{
    gw_svc_t *s = t->data;
    uint64_t now = uv_hrtime();
    char status[sizeof(s->sd_status)];
    double lag = now > s->due_ns ? (double)(now - s->due_ns) / 1e9 : 0.0;

    /* Lag: how late this tick fired. A loop busy for 3 s fires it 3 s late. */
    s->fig.loop_lag_s = lag;
    if (lag > s->fig.loop_lag_max_s)
        s->fig.loop_lag_max_s = lag;
    s->fig.points_per_s = (double)(s->fig.points_read - s->fig.points_prev) / (1.0 + lag);
    s->fig.points_prev = s->fig.points_read;
    if (++s->ticks % SVC_STATS_EVERY == 0)
        svc__ask_ledger_stats(s);
    svc__status_line(s, status, sizeof(status));
    if (strcmp(status, s->sd_status) != 0) {
        memcpy(s->sd_status, status, sizeof(status));
        svc__sd_notify("STATUS=%s", status);
    }
    if (s->metrics) {
        char *text = svc__metrics_render(s);
        if (text)
            gw_metrics_publish(s->metrics, text);
    }
    s->due_ns = uv_hrtime() + (uint64_t)SVC_TICK_MS * 1000000u;
    uv_timer_start(&s->tick, svc__tick_cb, SVC_TICK_MS, 0);
}

static int svc__start_control(gw_svc_t *s, char *err, size_t errlen)
{
    const gw_service_cfg_t *sc = &gw_core_config(s->env.core)->service;

    if (!sc->control_enabled) {
        gw_log_notice("control", "disabled by config (control.enabled = false)");
        return 0;
    }
    if (strlen(sc->control_socket) > SVC_SUN_PATH_MAX) {
        /* only the default path can get here (an explicit one is checked) */
        gw_log_warn("control",
                    "no control socket: %s is longer than %zu characters; set control.socket",
                    sc->control_socket, SVC_SUN_PATH_MAX);
        return 0;
    }
    return gw_control_start(&s->control, s->env.loop, svc__commands, s, sc->control_socket,
                            sc->control_group, err, errlen);
}

static int svc__start_metrics(gw_svc_t *s, char *err, size_t errlen)
{
    const gw_service_cfg_t *sc = &gw_core_config(s->env.core)->service;
    int rc;

    if (!sc->metrics_enabled)
        return 0;
    rc = gw_metrics_start(&s->metrics, sc->metrics_address, sc->metrics_port, err, errlen);
    if (rc != 0)
        return rc;
    gw_log_info("metrics", "serving http://%s%s%s:%d/metrics",
                strchr(sc->metrics_address, ':') ? "[" : "", sc->metrics_address,
                strchr(sc->metrics_address, ':') ? "]" : "", sc->metrics_port);
    gw_metrics_publish(s->metrics, svc__metrics_render(s));
    return 0;
}

int gw_svc_start(gw_svc_t *s, char *err, size_t errlen)
{
    int rc;

    /* A control client that hangs up before reading its answer must not
     * kill the daemon: libuv writes to pipes without MSG_NOSIGNAL. With
     * SIGPIPE ignored the write fails with EPIPE and the connection closes. */
    signal(SIGPIPE, SIG_IGN);
    uv_timer_init(s->env.loop, &s->tick);
    uv_timer_init(s->env.loop, &s->wd_timer);
    s->tick.data = s->wd_timer.data = s;
    s->started = 1;
    s->started_ms = gw_wall_ms();
    s->started_mono = gw_mono_ms();
    rc = svc__start_control(s, err, errlen);
    if (rc != 0)
        return rc;
    rc = svc__start_metrics(s, err, errlen);
    if (rc != 0)
        return rc; /* the control socket goes with gw_svc_stop */
    svc__ask_ledger_stats(s);
    s->due_ns = uv_hrtime() + (uint64_t)SVC_TICK_MS * 1000000u;
    uv_timer_start(&s->tick, svc__tick_cb, SVC_TICK_MS, 0);
    return 0;
}

void gw_svc_ready(gw_svc_t *s)
{
    char status[sizeof(s->sd_status)];

    svc__status_line(s, status, sizeof(status));
    memcpy(s->sd_status, status, sizeof(status));
    /* The config is loaded and the ledger open: systemd may go on. */
    svc__sd_notify("READY=1\nSTATUS=%s\nMAINPID=%ld", status, (long)getpid());
    svc__sd_watchdog_start(s);
}

void gw_svc_stop(gw_svc_t *s)
{
    if (!s || !s->started || s->stopped)
        return;
    s->stopped = 1;
    svc__sd_notify("STOPPING=1\nSTATUS=stopping");
    uv_timer_stop(&s->tick);
    uv_timer_stop(&s->wd_timer);
    if (s->control) {
        gw_control_close(s->control);
        s->control = NULL;
    }
    gw_metrics_stop(s->metrics);
    s->metrics = NULL;
}

void gw_svc_free(gw_svc_t *s)
{
    if (!s)
        return;
    svc__figures_free(&s->fig);
    free(s);
}

void gw_svc_observe(gw_svc_t *s, const gw_msg_t *m)
{
    if (s)
        svc__figures_observe(&s->fig, gw_core_config(s->env.core), m);
}

/* The control socket and the metrics endpoint keep running as started: say
 * so when a reload changed their settings, rather than ignore it silently. */
void gw_svc_reloaded(gw_svc_t *s, const gw_config_t *old)
{
    const gw_service_cfg_t *a = &old->service, *b = &gw_core_config(s->env.core)->service;

    if (a->control_enabled != b->control_enabled ||
        strcmp(a->control_socket, b->control_socket) != 0 ||
        strcmp(a->control_group, b->control_group) != 0)
        gw_log_warn("control", "control settings changed: restart plantroomd to apply them");
    if (a->metrics_enabled != b->metrics_enabled || a->metrics_port != b->metrics_port ||
        strcmp(a->metrics_address, b->metrics_address) != 0)
        gw_log_warn("metrics", "metrics settings changed: restart plantroomd to apply them");
}
