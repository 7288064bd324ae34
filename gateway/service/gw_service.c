/*
 * gw_service.c: the parts that make plantroomd a well-behaved service
 * (docs/operations.md): start and stop of the control socket and the
 * metrics endpoint, the systemd notifications, and a one-second tick on the
 * loop that measures loop lag, asks the ledger thread for counts, refreshes
 * the STATUS= line and hands a fresh metrics snapshot to the HTTP thread.
 * Loop thread only.
 */
#include "gateway/gw_daemon_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define SVC_TICK_MS      1000
#define SVC_STATS_EVERY  5 /* ticks between two ledger count requests */
#define SVC_SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

static void svc__ask_ledger_stats(gw_daemon_t *d)
{
    gw_msg_t *op;

    if (!d->ledger)
        return;
    op = calloc(1, sizeof(*op));
    if (!op)
        return;
    op->kind = LEDGER_OP_STATS;
    ledger_worker_submit(d->ledger, op);
}

/* "3/3 devices online, broker connected, outbox 0, 1 work order active" */
static void svc__status_line(gw_daemon_t *d, char *buf, size_t len)
{
    const gw_config_t *c = d->rt->cfg;
    size_t online = 0;
    const char *broker;
    int64_t active = 0;

    for (size_t i = 0; i < c->ndevices; i++)
        online += d->rt->devs[i].status == GW_DEV_ONLINE;
    if (!d->mq)
        broker = c->mqtt.enabled ? "broker stopped" : "mqtt disabled";
    else
        broker = mq_is_connected(d->mq) ? "broker connected" : "broker disconnected";
    if (!d->fig.ledger_stats_valid) {
        snprintf(buf, len, "%zu/%zu devices online, %s", online, c->ndevices, broker);
        return;
    }
    for (int i = 0; i < 3; i++) /* open, acknowledged, in_progress */
        active += d->fig.ledger.by_status[i];
    snprintf(buf, len, "%zu/%zu devices online, %s, outbox %lld, %lld work order%s active", online,
             c->ndevices, broker, (long long)d->fig.ledger.outbox_rows, (long long)active,
             active == 1 ? "" : "s");
}

static void svc__tick_cb(uv_timer_t *t)
{
    gw_daemon_t *d = t->data;
    uint64_t now = uv_hrtime();
    char status[sizeof(d->sd_status)];
    double lag = now > d->svc_due_ns ? (double)(now - d->svc_due_ns) / 1e9 : 0.0;

    /* Lag: how late this tick fired. A loop busy for 3 s fires it 3 s late. */
    d->fig.loop_lag_s = lag;
    if (lag > d->fig.loop_lag_max_s)
        d->fig.loop_lag_max_s = lag;
    d->fig.points_per_s = (double)(d->fig.points_read - d->fig.points_prev) / (1.0 + lag);
    d->fig.points_prev = d->fig.points_read;
    if (++d->svc_ticks % SVC_STATS_EVERY == 0)
        svc__ask_ledger_stats(d);
    svc__status_line(d, status, sizeof(status));
    if (strcmp(status, d->sd_status) != 0) {
        memcpy(d->sd_status, status, sizeof(status));
        gw__sd_notify("STATUS=%s", status);
    }
    if (d->metrics) {
        char *text = gw__metrics_render(d);
        if (text)
            gw_metrics_publish(d->metrics, text);
    }
    d->svc_due_ns = uv_hrtime() + (uint64_t)SVC_TICK_MS * 1000000u;
    uv_timer_start(&d->svc_timer, svc__tick_cb, SVC_TICK_MS, 0);
}

static int svc__start_control(gw_daemon_t *d, char *err, size_t errlen)
{
    const gw_service_cfg_t *sc = &d->rt->cfg->service;

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
    return gw_control_start(&d->control, &d->loop, d, sc->control_socket, sc->control_group, err,
                            errlen);
}

int gw__svc_start(gw_daemon_t *d, char *err, size_t errlen)
{
    const gw_service_cfg_t *sc = &d->rt->cfg->service;
    int rc;

    /* A control client that hangs up before reading its answer must not
     * kill the daemon: libuv writes to pipes without MSG_NOSIGNAL. With
     * SIGPIPE ignored the write fails with EPIPE and the connection closes. */
    signal(SIGPIPE, SIG_IGN);
    uv_timer_init(&d->loop, &d->svc_timer);
    uv_timer_init(&d->loop, &d->wd_timer);
    d->svc_timer.data = d->wd_timer.data = d;
    d->svc_started = 1;
    d->started_ms = gw_wall_ms();
    d->fig.mq_connected = 0;
    rc = svc__start_control(d, err, errlen);
    if (rc != 0)
        return rc;
    if (sc->metrics_enabled) {
        rc = gw_metrics_start(&d->metrics, sc->metrics_address, sc->metrics_port, err, errlen);
        if (rc != 0)
            return rc; /* the control socket goes with gw__svc_stop */
        gw_log_info("metrics", "serving http://%s%s%s:%d/metrics",
                    strchr(sc->metrics_address, ':') ? "[" : "", sc->metrics_address,
                    strchr(sc->metrics_address, ':') ? "]" : "", sc->metrics_port);
        gw_metrics_publish(d->metrics, gw__metrics_render(d));
    }
    svc__ask_ledger_stats(d);
    d->svc_due_ns = uv_hrtime() + (uint64_t)SVC_TICK_MS * 1000000u;
    uv_timer_start(&d->svc_timer, svc__tick_cb, SVC_TICK_MS, 0);
    return 0;
}

void gw__svc_ready(gw_daemon_t *d)
{
    char status[sizeof(d->sd_status)];

    svc__status_line(d, status, sizeof(status));
    memcpy(d->sd_status, status, sizeof(status));
    /* The config is loaded and the ledger open: systemd may go on. */
    gw__sd_notify("READY=1\nSTATUS=%s\nMAINPID=%ld", status, (long)getpid());
    gw__sd_watchdog_start(d);
}

void gw__svc_stop(gw_daemon_t *d)
{
    if (!d->svc_started || d->svc_stopped)
        return;
    d->svc_stopped = 1;
    gw__sd_notify("STOPPING=1\nSTATUS=stopping");
    uv_timer_stop(&d->svc_timer);
    uv_timer_stop(&d->wd_timer);
    if (d->control) {
        gw_control_close(d->control);
        d->control = NULL;
    }
    gw_metrics_stop(d->metrics);
    d->metrics = NULL;
}

void gw__svc_observe(gw_daemon_t *d, const gw_msg_t *m)
{
    gw_figures_observe(&d->fig, d->rt->cfg, m);
}

/* The control socket and the metrics endpoint keep running as started: say
 * so when a reload changed their settings, rather than ignore it silently. */
void gw__svc_reloaded(gw_daemon_t *d, const gw_config_t *old)
{
    const gw_service_cfg_t *a = &old->service, *b = &d->rt->cfg->service;

    if (a->control_enabled != b->control_enabled ||
        strcmp(a->control_socket, b->control_socket) != 0 ||
        strcmp(a->control_group, b->control_group) != 0)
        gw_log_warn("control", "control settings changed: restart plantroomd to apply them");
    if (a->metrics_enabled != b->metrics_enabled || a->metrics_port != b->metrics_port ||
        strcmp(a->metrics_address, b->metrics_address) != 0)
        gw_log_warn("metrics", "metrics settings changed: restart plantroomd to apply them");
}
