/*
 * gw_metrics.c: the figures the loop keeps, their Prometheus text, and the
 * HTTP endpoint that serves it (gw_metrics.h).
 *
 * The endpoint is libmicrohttpd with its own polling thread, on a listening
 * socket we bind ourselves (so a port in use is reported with its errno).
 * The HTTP thread reads only m->text, under m->mu; the loop replaces that
 * text once a second. Metric names follow Prometheus conventions: counters
 * end in _total, durations are seconds; docs/operations.md explains each.
 */
#include "gateway/gw_daemon_int.h"
#include "gateway/base/gw_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PLANTROOM_VERSION
#define PLANTROOM_VERSION "0.1.0"
#endif

/* ---- figures (loop thread) --------------------------------------------- */

gw_bus_fig_t *gw_figures_bus(gw_figures_t *f, const char *name)
{
    for (size_t i = 0; i < f->nbuses; i++) {
        if (strcmp(f->buses[i].name, name) == 0)
            return &f->buses[i];
    }
    if (f->nbuses == f->capbuses) {
        size_t cap = f->capbuses ? f->capbuses * 2 : 8;
        gw_bus_fig_t *n = realloc(f->buses, cap * sizeof(*n));
        if (!n)
            return NULL;
        f->buses = n;
        f->capbuses = cap;
    }
    memset(&f->buses[f->nbuses], 0, sizeof(f->buses[0]));
    snprintf(f->buses[f->nbuses].name, sizeof(f->buses[0].name), "%s", name);
    f->buses[f->nbuses].connected = -1;
    return &f->buses[f->nbuses++];
}

static void fig__reading(gw_figures_t *f, const gw_config_t *cfg, const mb_reading_t *r)
{
    gw_bus_fig_t *b;

    if (r->bus_id < 0 || (size_t)r->bus_id >= cfg->nbuses)
        return;
    b = gw_figures_bus(f, cfg->buses[r->bus_id].name);
    if (!b)
        return;
    b->polls++;
    if (r->rc != 0)
        b->errors++;
    b->latency_last_s = (double)r->latency_us / 1e6;
    b->latency_sum_s += b->latency_last_s;
    if (r->rc == 0 && r->device_id >= 0 && (size_t)r->device_id < cfg->ndevices)
        f->points_read += cfg->devices[r->device_id].npoints;
}

void gw_figures_observe(gw_figures_t *f, const gw_config_t *cfg, const gw_msg_t *m)
{
    switch (m->kind) {
    case MB_EV_READING:
        fig__reading(f, cfg, (const mb_reading_t *)m);
        break;
    case MB_EV_BUS_STATE: {
        const mb_bus_state_t *s = (const mb_bus_state_t *)m;
        gw_bus_fig_t *b;
        if (s->bus_id >= 0 && (size_t)s->bus_id < cfg->nbuses &&
            (b = gw_figures_bus(f, cfg->buses[s->bus_id].name)))
            b->connected = s->connected != 0;
        break;
    }
    case MQ_EV_CONNECTED:
        f->mq_connects++;
        break;
    case MQ_EV_DELIVERED:
        f->mq_delivered++;
        break;
    case MQ_EV_PUBLISH_FAILED:
        f->mq_publish_failed++;
        break;
    case LEDGER_EV_STATS:
        f->ledger = ((const ledger_ev_stats_t *)m)->stats;
        f->ledger_stats_valid = 1;
        break;
    default:
        break;
    }
}

void gw_figures_free(gw_figures_t *f)
{
    free(f->buses);
    memset(f, 0, sizeof(*f));
}

/* ---- Prometheus text (loop thread) ------------------------------------- */

static void met__head(FILE *o, const char *name, const char *type, const char *help)
{
    fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void met__buses(FILE *o, gw_daemon_t *d)
{
    const gw_figures_t *f = &d->fig;

    met__head(o, "plantroom_bus_polls_total", "counter", "Device polls done on the bus.");
    for (size_t i = 0; i < f->nbuses; i++)
        fprintf(o, "plantroom_bus_polls_total{bus=\"%s\"} %llu\n", f->buses[i].name,
                (unsigned long long)f->buses[i].polls);
    met__head(o, "plantroom_bus_poll_errors_total", "counter",
              "Device polls that failed (timeout, exception, no connection).");
    for (size_t i = 0; i < f->nbuses; i++)
        fprintf(o, "plantroom_bus_poll_errors_total{bus=\"%s\"} %llu\n", f->buses[i].name,
                (unsigned long long)f->buses[i].errors);
    met__head(o, "plantroom_bus_poll_latency_seconds", "summary",
              "Time one device poll took on the bus (all its requests).");
    for (size_t i = 0; i < f->nbuses; i++)
        fprintf(o,
                "plantroom_bus_poll_latency_seconds_sum{bus=\"%s\"} %.6f\n"
                "plantroom_bus_poll_latency_seconds_count{bus=\"%s\"} %llu\n",
                f->buses[i].name, f->buses[i].latency_sum_s, f->buses[i].name,
                (unsigned long long)f->buses[i].polls);
    met__head(o, "plantroom_bus_poll_latency_last_seconds", "gauge",
              "Time the last device poll took on the bus.");
    for (size_t i = 0; i < f->nbuses; i++)
        fprintf(o, "plantroom_bus_poll_latency_last_seconds{bus=\"%s\"} %.6f\n", f->buses[i].name,
                f->buses[i].latency_last_s);
    met__head(o, "plantroom_bus_connected", "gauge",
              "1 while the bus's connection is up, 0 when down (absent until known).");
    for (size_t i = 0; i < f->nbuses; i++) {
        if (f->buses[i].connected >= 0)
            fprintf(o, "plantroom_bus_connected{bus=\"%s\"} %d\n", f->buses[i].name,
                    f->buses[i].connected);
    }
}

static void met__devices(FILE *o, gw_daemon_t *d)
{
    const gw_runtime_t *rt = d->rt;

    met__head(o, "plantroom_device_online", "gauge",
              "1 when the device answers its polls, 0 when offline or not polled yet.");
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        fprintf(o, "plantroom_device_online{device=\"%s\",bus=\"%s\"} %d\n", rt->devs[i].cfg->name,
                rt->devs[i].cfg->bus, rt->devs[i].status == GW_DEV_ONLINE);
    met__head(o, "plantroom_device_polls_total", "counter", "Polls of the device.");
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        fprintf(o, "plantroom_device_polls_total{device=\"%s\"} %llu\n", rt->devs[i].cfg->name,
                (unsigned long long)rt->devs[i].polls);
    met__head(o, "plantroom_device_poll_errors_total", "counter", "Failed polls of the device.");
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        fprintf(o, "plantroom_device_poll_errors_total{device=\"%s\"} %llu\n",
                rt->devs[i].cfg->name, (unsigned long long)rt->devs[i].errors);
    met__head(o, "plantroom_points_read_total", "counter", "Point values read with good quality.");
    fprintf(o, "plantroom_points_read_total %llu\n", (unsigned long long)d->fig.points_read);
    met__head(o, "plantroom_points_per_second", "gauge",
              "Point values read with good quality per second, over the last second.");
    fprintf(o, "plantroom_points_per_second %.3f\n", d->fig.points_per_s);
}

static void met__rules(FILE *o, gw_daemon_t *d)
{
    const gw_runtime_t *rt = d->rt;

    met__head(o, "plantroom_rule_firing", "gauge",
              "1 while the rule's condition holds past its duration (a work order is active).");
    for (size_t i = 0; i < rt->cfg->nrules; i++)
        fprintf(o, "plantroom_rule_firing{device=\"%s\",rule=\"%s\"} %d\n",
                rt->rules[i].cfg->device, rt->rules[i].cfg->name,
                rt->rules[i].cfg->kind == RULE_TREND ? rt->rules[i].st.u.trend.firing != 0
                                                     : rt->rules[i].st.alarm.st == RULE_ST_FIRING);
}

static void met__ledger(FILE *o, gw_daemon_t *d)
{
    const gw_figures_t *f = &d->fig;

    met__head(o, "plantroom_queue_depth", "gauge",
              "Messages waiting: loop = for the loop thread, ledger = ops for the ledger thread.");
    fprintf(o, "plantroom_queue_depth{queue=\"loop\"} %zu\n", gw_queue_depth(&d->inq));
    fprintf(o, "plantroom_queue_depth{queue=\"ledger\"} %zu\n",
            d->ledger ? ledger_worker_depth(d->ledger) : 0);
    met__head(o, "plantroom_outbox_inflight", "gauge",
              "Outbox events published and not yet acknowledged by the broker.");
    fprintf(o, "plantroom_outbox_inflight %zu\n", d->ninflight);
    if (!f->ledger_stats_valid)
        return;
    met__head(o, "plantroom_outbox_depth", "gauge",
              "Events in the ledger's outbox, not yet delivered (refreshed every 5 s).");
    fprintf(o, "plantroom_outbox_depth %lld\n", (long long)f->ledger.outbox_rows);
    met__head(o, "plantroom_workorders", "gauge",
              "Work orders in the ledger by status (refreshed every 5 s).");
    for (int i = 0; i < LEDGER_NSTATUS; i++)
        fprintf(o, "plantroom_workorders{status=\"%s\"} %lld\n", ledger_status_names[i],
                (long long)f->ledger.by_status[i]);
}

static void met__north(FILE *o, gw_daemon_t *d)
{
    const gw_figures_t *f = &d->fig;

    met__head(o, "plantroom_mqtt_connected", "gauge", "1 while connected to the MQTT broker.");
    fprintf(o, "plantroom_mqtt_connected %d\n", d->mq && mq_is_connected(d->mq));
    met__head(o, "plantroom_mqtt_connects_total", "counter", "Successful MQTT connections.");
    fprintf(o, "plantroom_mqtt_connects_total %llu\n", (unsigned long long)f->mq_connects);
    met__head(o, "plantroom_mqtt_telemetry_published_total", "counter",
              "Telemetry messages handed to the MQTT client (live and replayed).");
    fprintf(o, "plantroom_mqtt_telemetry_published_total %llu\n",
            (unsigned long long)d->telemetry_sent);
    met__head(o, "plantroom_mqtt_telemetry_dropped_total", "counter",
              "Telemetry messages dropped past the buffer bound while the broker was away.");
    fprintf(o, "plantroom_mqtt_telemetry_dropped_total %llu\n",
            (unsigned long long)d->telemetry_dropped);
    met__head(o, "plantroom_mqtt_events_delivered_total", "counter",
              "Work-order events acknowledged by the broker (QoS 1 PUBACK).");
    fprintf(o, "plantroom_mqtt_events_delivered_total %llu\n", (unsigned long long)f->mq_delivered);
    met__head(o, "plantroom_mqtt_publish_failures_total", "counter",
              "Event publishes that failed (the event stays in the outbox).");
    fprintf(o, "plantroom_mqtt_publish_failures_total %llu\n",
            (unsigned long long)f->mq_publish_failed);
    {
        uint64_t ok, failed;
        gw_notify_counts(d->notify, &ok, &failed);
        met__head(o, "plantroom_hook_deliveries_total", "counter",
                  "Alert hook delivery attempts that succeeded (SMS command, webhook).");
        fprintf(o, "plantroom_hook_deliveries_total %llu\n", (unsigned long long)ok);
        met__head(o, "plantroom_hook_failures_total", "counter",
                  "Alert hook delivery attempts that failed (each retry counts).");
        fprintf(o, "plantroom_hook_failures_total %llu\n", (unsigned long long)failed);
    }
}

char *gw__metrics_render(gw_daemon_t *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&text, &len);

    if (!o)
        return NULL;
    met__head(o, "plantroom_info", "gauge", "Always 1; the labels say what runs.");
    fprintf(o, "plantroom_info{version=\"%s\",site=\"%s\"} 1\n", PLANTROOM_VERSION,
            d->rt->cfg->site_id);
    met__head(o, "plantroom_start_time_seconds", "gauge", "When plantroomd started (Unix time).");
    fprintf(o, "plantroom_start_time_seconds %.3f\n", (double)d->started_ms / 1000.0);
    met__head(o, "plantroom_loop_lag_seconds", "gauge",
              "How late the loop's 1 s timer fired last time: a busy or stalled loop shows here.");
    fprintf(o, "plantroom_loop_lag_seconds %.6f\n", d->fig.loop_lag_s);
    met__head(o, "plantroom_loop_lag_max_seconds", "gauge", "Largest loop lag since start.");
    fprintf(o, "plantroom_loop_lag_max_seconds %.6f\n", d->fig.loop_lag_max_s);
    met__buses(o, d);
    met__devices(o, d);
    met__rules(o, d);
    met__ledger(o, d);
    met__north(o, d);
    if (fclose(o) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- the HTTP endpoint (its own thread) -------------------------------- */

struct gw_metrics {
    struct MHD_Daemon *mhd;
    pthread_mutex_t mu; /* guards text */
    char *text;         /* the last snapshot; NULL before the first */
};

static enum MHD_Result met__reply(struct MHD_Connection *conn, unsigned status, const char *body,
                                  size_t len, int copy)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)body, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ok;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
                                                  : "text/plain; charset=utf-8");
    ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result met__handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    gw_metrics_t *m = cls;
    static const char not_found[] = "not found: try /metrics\n";
    static const char not_allowed[] = "only GET\n";
    static const char not_ready[] = "no figures yet\n";
    char *copy = NULL;
    size_t len = 0;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return met__reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, sizeof(not_allowed) - 1,
                          1);
    if (strcmp(url, "/metrics") != 0)
        return met__reply(conn, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1, 1);
    pthread_mutex_lock(&m->mu);
    if (m->text) {
        len = strlen(m->text);
        copy = malloc(len + 1);
        if (copy)
            memcpy(copy, m->text, len + 1);
    }
    pthread_mutex_unlock(&m->mu);
    if (!copy)
        return met__reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, not_ready, sizeof(not_ready) - 1, 1);
    return met__reply(conn, MHD_HTTP_OK, copy, len, 0);
}

/* Bind and listen ourselves, so that errors name their cause. */
static int met__listen(const char *address, int port, int *fd_out, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (strchr(address, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, address, &a->sin6_addr);
        sl = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, address, &a->sin_addr);
        sl = sizeof(*a);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "metrics: socket: %s", strerror(errno));
        return GW_EIO;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "metrics: cannot listen on %s port %d: %s", address, port,
                 strerror(errno));
        close(fd);
        return GW_EIO;
    }
    *fd_out = fd;
    return 0;
}

int gw_metrics_start(gw_metrics_t **out, const char *address, int port, char *err, size_t errlen)
{
    gw_metrics_t *m = calloc(1, sizeof(*m));
    int fd = -1, rc;

    *out = NULL;
    if (!m) {
        snprintf(err, errlen, "metrics: out of memory");
        return GW_ENOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    rc = met__listen(address, port, &fd, err, errlen);
    if (rc != 0)
        goto out_free;
    m->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | (strchr(address, ':') ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
        met__handler, m, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!m->mhd) {
        snprintf(err, errlen, "metrics: libmicrohttpd could not start on %s port %d", address,
                 port);
        close(fd);
        rc = GW_EIO;
        goto out_free;
    }
    *out = m;
    return 0;

out_free:
    pthread_mutex_destroy(&m->mu);
    free(m);
    return rc;
}

void gw_metrics_publish(gw_metrics_t *m, char *text)
{
    char *old;

    if (!m || !text) {
        free(text);
        return;
    }
    pthread_mutex_lock(&m->mu);
    old = m->text;
    m->text = text;
    pthread_mutex_unlock(&m->mu);
    free(old);
}

void gw_metrics_stop(gw_metrics_t *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->mhd); /* joins the HTTP thread, closes the socket */
    pthread_mutex_destroy(&m->mu);
    free(m->text);
    free(m);
}
