/*
 * gw_control.c: the control socket (gw_control.h): a uv_pipe listener on
 * the loop, line framing, the command table, and the commands "status",
 * "reload", "ping" and "write".
 *
 * Each connection buffers what it reads until a newline and answers each
 * line in order. A deferred answer (gw_control_defer) stops reading on that
 * connection until it is given, so answers stay in order and a client
 * cannot pile up requests meanwhile. On EOF the connection ends once every
 * answer is written (uv_shutdown); on a read error at once; a line longer
 * than GW_CONTROL_LINE_MAX is refused and ends it. Writes own their buffer
 * until their callback. A deferred call pending when the daemon stops is
 * not answered.
 */
#include "gateway/service/gw_control.h"
#include "gateway/base/gw_clock.h"
#include "gateway/gw_daemon_int.h"
#include "gateway/base/gw_log.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef PLANTROOM_VERSION
#define PLANTROOM_VERSION "0.1.0"
#endif

/* One client. While an answer is deferred (pending), further lines wait in
 * buf, so answers keep the order of requests. A connection that closes
 * while an answer is pending detaches it (call->conn = NULL), so that
 * gw_control_finish drops the answer. */
typedef struct ctl__conn {
    uv_pipe_t pipe;
    gw_control_t *ctl; /* NULL once the listener is gone */
    gw_daemon_t *d;
    struct ctl__conn *next;
    char *buf;
    size_t len, cap;
    gw_control_call_t *pending; /* the deferred call, or NULL */
    int eof;                    /* the client sent all it will: end after the answers */
} ctl__conn_t;

/* A request being answered: on the stack while the handler runs; copied to
 * the heap by gw_control_defer. */
struct gw_control_call {
    ctl__conn_t *conn; /* NULL: no client to answer (it left) */
    int deferred;
};

struct gw_control {
    uv_pipe_t server;
    gw_daemon_t *d;
    ctl__conn_t *conns;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* ---- commands ----------------------------------------------------------- */

static const char *ctl__iso(int64_t ms, char *buf, size_t len)
{
    return ms > 0 ? gw_format_iso8601(ms, buf, len) : NULL;
}

static void ctl__add_time(cJSON *o, const char *key, int64_t ms)
{
    char ts[32];
    const char *s = ctl__iso(ms, ts, sizeof(ts));

    if (s)
        cJSON_AddStringToObject(o, key, s);
    else
        cJSON_AddNullToObject(o, key);
}

static const char *ctl__dev_status(gw_dev_status_t s)
{
    return s == GW_DEV_ONLINE ? "online" : s == GW_DEV_OFFLINE ? "offline" : "unknown";
}

static void ctl__status_device(gw_daemon_t *d, const gw_device_rt_t *dev, cJSON *arr)
{
    const gw_runtime_t *rt = d->rt;
    cJSON *o = cJSON_CreateObject(), *pts;
    int64_t last_poll = 0;

    cJSON_AddStringToObject(o, "name", dev->cfg->name);
    cJSON_AddStringToObject(o, "bus", dev->cfg->bus);
    cJSON_AddNumberToObject(o, "unit_id", dev->cfg->unit_id);
    cJSON_AddStringToObject(o, "status", ctl__dev_status(dev->status));
    cJSON_AddBoolToObject(o, "online", dev->status == GW_DEV_ONLINE);
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        if (rt->points[dev->first_point + i].last.ts_ms > last_poll)
            last_poll = rt->points[dev->first_point + i].last.ts_ms;
    }
    ctl__add_time(o, "last_poll", last_poll);
    ctl__add_time(o, "last_ok", dev->last_ok_ms);
    cJSON_AddNumberToObject(o, "polls", (double)dev->polls);
    cJSON_AddNumberToObject(o, "errors", (double)dev->errors);
    cJSON_AddNumberToObject(o, "consecutive_failures", dev->fails);
    if (dev->last_err[0])
        cJSON_AddStringToObject(o, "last_error", dev->last_err);
    else
        cJSON_AddNullToObject(o, "last_error");
    pts = cJSON_AddArrayToObject(o, "points");
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        const gw_sample_t *s = &rt->points[dev->first_point + i].last;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "name", dev->cfg->points[i].name);
        if (s->quality == GW_Q_GOOD)
            cJSON_AddNumberToObject(p, "value", s->value);
        else
            cJSON_AddNullToObject(p, "value");
        cJSON_AddStringToObject(p, "unit", dev->cfg->points[i].unit);
        cJSON_AddStringToObject(p, "quality", gw_quality_name(s->quality));
        ctl__add_time(p, "ts", s->ts_ms);
        cJSON_AddItemToArray(pts, p);
    }
    cJSON_AddItemToArray(arr, o);
}

static void ctl__status_buses(gw_daemon_t *d, cJSON *res)
{
    const gw_config_t *c = d->rt->cfg;
    cJSON *arr = cJSON_AddArrayToObject(res, "buses");

    for (size_t i = 0; i < c->nbuses; i++) {
        const gw_bus_cfg_t *bc = &c->buses[i];
        gw_bus_fig_t *f = gw_figures_bus(&d->fig, bc->name);
        cJSON *o = cJSON_CreateObject();
        size_t ndev = 0, online = 0;
        for (size_t j = 0; j < c->ndevices; j++) {
            if (c->devices[j].bus_idx != (int)i)
                continue;
            ndev++;
            online += d->rt->devs[j].status == GW_DEV_ONLINE;
        }
        cJSON_AddStringToObject(o, "name", bc->name);
        cJSON_AddStringToObject(o, "type", bc->type);
        cJSON_AddStringToObject(o, "host", bc->host);
        cJSON_AddNumberToObject(o, "port", bc->port);
        if (!f || f->connected < 0)
            cJSON_AddNullToObject(o, "connected");
        else
            cJSON_AddBoolToObject(o, "connected", f->connected);
        cJSON_AddNumberToObject(o, "devices", (double)ndev);
        cJSON_AddNumberToObject(o, "devices_online", (double)online);
        cJSON_AddNumberToObject(o, "polls", f ? (double)f->polls : 0);
        cJSON_AddNumberToObject(o, "errors", f ? (double)f->errors : 0);
        cJSON_AddNumberToObject(o, "latency_last_ms", f ? f->latency_last_s * 1000.0 : 0);
        cJSON_AddNumberToObject(o, "latency_avg_ms",
                                f && f->polls ? f->latency_sum_s * 1000.0 / (double)f->polls : 0);
        cJSON_AddItemToArray(arr, o);
    }
}

static void ctl__status_mqtt(gw_daemon_t *d, cJSON *res)
{
    const gw_mqtt_cfg_t *q = &d->rt->cfg->mqtt;
    cJSON *o = cJSON_AddObjectToObject(res, "mqtt");

    cJSON_AddBoolToObject(o, "enabled", q->enabled);
    cJSON_AddStringToObject(o, "uri", q->uri);
    cJSON_AddStringToObject(o, "client_id", q->client_id);
    cJSON_AddBoolToObject(o, "connected", d->mq && mq_is_connected(d->mq));
    cJSON_AddNumberToObject(o, "connects", (double)d->fig.mq_connects);
    cJSON_AddNumberToObject(o, "telemetry_published", (double)d->telemetry_sent);
    cJSON_AddNumberToObject(o, "telemetry_dropped", (double)d->telemetry_dropped);
    cJSON_AddNumberToObject(o, "events_delivered", (double)d->fig.mq_delivered);
    cJSON_AddNumberToObject(o, "events_inflight", (double)d->ninflight);
}

static void ctl__status_ledger(gw_daemon_t *d, cJSON *res)
{
    cJSON *o = cJSON_AddObjectToObject(res, "ledger");
    cJSON *wo;

    cJSON_AddStringToObject(o, "path", d->rt->cfg->ledger_path);
    cJSON_AddNumberToObject(o, "queue_depth",
                            d->ledger ? (double)ledger_worker_depth(d->ledger) : 0);
    if (!d->fig.ledger_stats_valid) {
        cJSON_AddNullToObject(o, "outbox_depth");
        cJSON_AddNullToObject(o, "work_orders");
        return;
    }
    cJSON_AddNumberToObject(o, "outbox_depth", (double)d->fig.ledger.outbox_rows);
    wo = cJSON_AddObjectToObject(o, "work_orders");
    for (int i = 0; i < LEDGER_NSTATUS; i++)
        cJSON_AddNumberToObject(wo, ledger_status_names[i], (double)d->fig.ledger.by_status[i]);
}

static void ctl__status_rules(gw_daemon_t *d, cJSON *res)
{
    const gw_runtime_t *rt = d->rt;
    cJSON *arr = cJSON_AddArrayToObject(res, "rules");

    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        const gw_rule_rt_t *r = &rt->rules[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "device", r->cfg->device);
        cJSON_AddStringToObject(o, "name", r->cfg->name);
        cJSON_AddStringToObject(o, "point", r->cfg->point);
        cJSON_AddStringToObject(o, "kind", rule_kind_name(r->cfg->kind));
        if (r->cfg->kind == RULE_TREND) {
            const rule_trend_state_t *t = &r->st.u.trend;
            cJSON_AddStringToObject(o, "state", t->firing ? "firing" : "normal");
            if (t->firing && t->pred_c > 0) {
                cJSON *p = cJSON_AddObjectToObject(o, "predicted_crossing");
                ctl__add_time(p, "date", t->pred_c);
                ctl__add_time(p, "earliest", t->pred_lo);
                ctl__add_time(p, "latest", t->pred_hi);
            } else {
                cJSON_AddNullToObject(o, "predicted_crossing");
            }
        } else {
            const rule_threshold_state_t *a = &r->st.alarm;
            cJSON_AddStringToObject(o, "state", rule_state_name(a->st));
            if (a->st != RULE_ST_NORMAL) {
                ctl__add_time(o, "since", a->since_ms);
                cJSON_AddNumberToObject(o, "peak", a->peak);
            } else {
                cJSON_AddNullToObject(o, "since");
            }
            cJSON_AddNumberToObject(o, r->cfg->rule.alarm.above ? "above" : "below",
                                    r->cfg->rule.alarm.limit);
            cJSON_AddNullToObject(o, "predicted_crossing");
        }
        cJSON_AddItemToArray(arr, o);
    }
}

static int ctl__cmd_status(gw_daemon_t *d, const cJSON *req, cJSON *res, gw_control_call_t *call,
                           char *err, size_t errlen)
{
    const gw_config_t *c = d->rt->cfg;
    cJSON *devs, *loop;

    (void)req;
    (void)call;
    (void)err;
    (void)errlen;
    cJSON_AddStringToObject(res, "version", PLANTROOM_VERSION);
    cJSON_AddStringToObject(res, "site", c->site_id);
    cJSON_AddStringToObject(res, "config", c->path);
    cJSON_AddNumberToObject(res, "pid", (double)getpid());
    ctl__add_time(res, "started", d->started_ms);
    cJSON_AddNumberToObject(res, "uptime_s", (double)(gw_wall_ms() - d->started_ms) / 1000.0);
    cJSON_AddStringToObject(res, "log_level",
                            (const char *[]){"error", "warn", "notice", "info",
                                             "debug"}[gw_log_get_level() - GW_LOG_ERROR]);
    loop = cJSON_AddObjectToObject(res, "loop");
    cJSON_AddNumberToObject(loop, "lag_ms", d->fig.loop_lag_s * 1000.0);
    cJSON_AddNumberToObject(loop, "lag_max_ms", d->fig.loop_lag_max_s * 1000.0);
    cJSON_AddNumberToObject(loop, "queue_depth", (double)gw_queue_depth(&d->inq));
    cJSON_AddNumberToObject(loop, "points_per_s", d->fig.points_per_s);
    ctl__status_buses(d, res);
    devs = cJSON_AddArrayToObject(res, "devices");
    for (size_t i = 0; i < c->ndevices; i++)
        ctl__status_device(d, &d->rt->devs[i], devs);
    ctl__status_mqtt(d, res);
    ctl__status_ledger(d, res);
    ctl__status_rules(d, res);
    return 0;
}

static int ctl__cmd_reload(gw_daemon_t *d, const cJSON *req, cJSON *res, gw_control_call_t *call,
                           char *err, size_t errlen)
{
    int rc;

    (void)req;
    (void)call;
    gw_log_notice("control", "reload requested");
    rc = gw__reload(d, err, errlen);
    if (rc != 0)
        return rc;
    cJSON_AddStringToObject(res, "config", d->rt->cfg->path);
    cJSON_AddNumberToObject(res, "buses", (double)d->rt->cfg->nbuses);
    cJSON_AddNumberToObject(res, "devices", (double)d->rt->cfg->ndevices);
    cJSON_AddNumberToObject(res, "points", (double)d->rt->npoints);
    cJSON_AddNumberToObject(res, "rules", (double)d->rt->cfg->nrules);
    return 0;
}

/* ping: answers {"pong":true}, after delay_ms (0..10000) if given. It
 * shows whether the loop answers at all, and exercises deferred answers. */
typedef struct ctl__ping {
    uv_timer_t timer;
    gw_control_call_t *call;
} ctl__ping_t;

static void ctl__ping_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void ctl__ping_cb(uv_timer_t *t)
{
    ctl__ping_t *p = t->data;
    cJSON *res = cJSON_CreateObject();

    cJSON_AddBoolToObject(res, "pong", 1);
    gw_control_finish(p->call, 0, res, NULL);
    uv_close((uv_handle_t *)&p->timer, ctl__ping_close_cb);
}

static int ctl__cmd_ping(gw_daemon_t *d, const cJSON *req, cJSON *res, gw_control_call_t *call,
                         char *err, size_t errlen)
{
    const cJSON *delay = cJSON_GetObjectItemCaseSensitive(req, "delay_ms");
    ctl__ping_t *p;

    if (!delay) {
        cJSON_AddBoolToObject(res, "pong", 1);
        return 0;
    }
    if (!cJSON_IsNumber(delay) || delay->valuedouble < 0 || delay->valuedouble > 10000) {
        snprintf(err, errlen, "delay_ms: must be a number of milliseconds, 0..10000");
        return GW_EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (!p || !(p->call = gw_control_defer(call))) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    uv_timer_init(&d->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, ctl__ping_cb, (uint64_t)delay->valuedouble, 0);
    return GW_CONTROL_LATER;
}

/* write: a Modbus write through the bus thread (gw__point_write); the
 * answer is deferred until the device answered. {"device", "point",
 * "value", "by" (who, for the log)}. */
typedef struct ctl__write {
    gw_control_call_t *call;
    char device[64], point[64], by[64];
    double value;
} ctl__write_t;

static void ctl__write_done(gw_daemon_t *d, uint64_t id, int rc, const char *err, void *arg)
{
    ctl__write_t *w = arg;
    cJSON *res = NULL;

    (void)d;
    (void)id;
    if (rc == 0) {
        res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "device", w->device);
        cJSON_AddStringToObject(res, "point", w->point);
        cJSON_AddNumberToObject(res, "value", w->value);
        cJSON_AddStringToObject(res, "function", "written");
        gw_log_notice("control", "write %s.%s = %g by %s: done", w->device, w->point, w->value,
                      w->by);
    } else {
        gw_log_warn("control", "write %s.%s = %g by %s: %s", w->device, w->point, w->value, w->by,
                    err ? err : gw_strerror(rc));
    }
    if (w->call)
        gw_control_finish(w->call, rc, res, err ? err : gw_strerror(rc));
    else
        cJSON_Delete(res);
    free(w);
}

static int ctl__str_arg(const cJSON *req, const char *key, char *dst, size_t len, char *err,
                        size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= len) {
        snprintf(err, errlen, "%s: must be a non-empty string", key);
        return GW_EINVAL;
    }
    snprintf(dst, len, "%s", v->valuestring);
    return 0;
}

static int ctl__cmd_write(gw_daemon_t *d, const cJSON *req, cJSON *res, gw_control_call_t *call,
                          char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "value");
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(req, "by");
    ctl__write_t *w = calloc(1, sizeof(*w));
    int rc;

    (void)res;
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    if ((rc = ctl__str_arg(req, "device", w->device, sizeof(w->device), err, errlen)) != 0 ||
        (rc = ctl__str_arg(req, "point", w->point, sizeof(w->point), err, errlen)) != 0)
        goto out_free;
    if (!cJSON_IsNumber(v)) {
        snprintf(err, errlen, "value: must be a number");
        rc = GW_EINVAL;
        goto out_free;
    }
    w->value = v->valuedouble;
    snprintf(w->by, sizeof(w->by), "%s", cJSON_IsString(by) ? by->valuestring : "unknown");
    /* Queue first: a refusal is answered at once, as any error. The callback
     * runs later on this thread, so w->call is set before it can run. */
    rc = gw__point_write(d, w->device, w->point, w->value, ctl__write_done, w, NULL, err, errlen);
    if (rc != 0) {
        gw_log_warn("control", "write %s.%s = %g by %s refused: %s", w->device, w->point, w->value,
                    w->by, err);
        goto out_free;
    }
    w->call = gw_control_defer(call);
    if (!w->call) {
        /* queued: the callback frees w; the client gets no answer */
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    return GW_CONTROL_LATER;

out_free:
    free(w);
    return rc;
}

/* The commands. To add one, write a handler above and add its row. */
static const gw_control_cmd_t ctl__cmds[] = {
    {"status", ctl__cmd_status, "buses, devices, points, broker, ledger, rules"},
    {"reload", ctl__cmd_reload, "reload the config file (as SIGHUP)"},
    {"ping", ctl__cmd_ping, "answer {\"pong\":true} (after delay_ms)"},
    {"write", ctl__cmd_write, "write a coil or holding-register point (device, point, value)"},
    {NULL, NULL, NULL},
};

static char *ctl__print_line(cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    char *line;
    size_t n;

    if (!text)
        return NULL;
    n = strlen(text);
    line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

/* {"ok":true,"result":result} or {"ok":false,"error":err}; takes result. */
static char *ctl__answer_line(int rc, cJSON *result, const char *err)
{
    cJSON *o = cJSON_CreateObject();
    char *line;

    cJSON_AddBoolToObject(o, "ok", rc == 0);
    if (rc == 0) {
        cJSON_AddItemToObject(o, "result", result ? result : cJSON_CreateObject());
    } else {
        cJSON_Delete(result);
        cJSON_AddStringToObject(o, "error", err && *err ? err : gw_strerror(rc));
    }
    line = ctl__print_line(o);
    cJSON_Delete(o);
    return line;
}

/* Run one request line; the answer line, or NULL when deferred (or out of
 * memory: *oom set). */
static char *ctl__handle(gw_daemon_t *d, gw_control_call_t *call, const char *line, size_t len,
                         int *oom)
{
    cJSON *req = cJSON_ParseWithLength(line, len);
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
    const gw_control_cmd_t *c = ctl__cmds;
    char err[512] = "";
    cJSON *res;
    char *out;
    int rc;

    *oom = 0;
    if (!cJSON_IsObject(req) || !cJSON_IsString(cmd)) {
        cJSON_Delete(req);
        snprintf(err, sizeof(err), "a request is a JSON object with a string \"cmd\", on one line");
        goto out_error;
    }
    while (c->name && strcmp(c->name, cmd->valuestring) != 0)
        c++;
    if (!c->name) {
        snprintf(err, sizeof(err), "unknown command \"%s\" (", cmd->valuestring);
        for (c = ctl__cmds; c->name; c++)
            snprintf(err + strlen(err), sizeof(err) - strlen(err), "%s%s",
                     c == ctl__cmds ? "" : ", ", c->name);
        snprintf(err + strlen(err), sizeof(err) - strlen(err), ")");
        cJSON_Delete(req);
        goto out_error;
    }
    res = cJSON_CreateObject();
    rc = c->fn(d, req, res, call, err, sizeof(err));
    cJSON_Delete(req);
    if (rc == GW_CONTROL_LATER) {
        cJSON_Delete(res);
        return NULL;
    }
    out = ctl__answer_line(rc, res, err);
    *oom = out == NULL;
    return out;

out_error:
    out = ctl__answer_line(GW_EINVAL, NULL, err);
    *oom = out == NULL;
    return out;
}

char *gw_control_handle(gw_daemon_t *d, const char *line, size_t len)
{
    gw_control_call_t call = {NULL, 0};
    int oom;
    char *out = ctl__handle(d, &call, line, len, &oom);

    /* No connection to answer later: a deferring command cannot run here. */
    return out || oom ? out : ctl__answer_line(GW_ESTATE, NULL, "cannot defer here");
}

/* ---- connections -------------------------------------------------------- */

static void ctl__conn_free(ctl__conn_t *c)
{
    free(c->buf);
    free(c);
}

static void ctl__conn_close_cb(uv_handle_t *h)
{
    ctl__conn_t *c = h->data;

    if (c->ctl) {
        for (ctl__conn_t **p = &c->ctl->conns; *p; p = &(*p)->next) {
            if (*p == c) {
                *p = c->next;
                break;
            }
        }
    }
    if (c->pending)
        c->pending->conn = NULL; /* gw_control_finish will find nobody */
    ctl__conn_free(c);
}

static void ctl__conn_close(ctl__conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->pipe))
        uv_close((uv_handle_t *)&c->pipe, ctl__conn_close_cb);
}

static void ctl__shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status;
    ctl__conn_close(req->data);
    free(req);
}

/* The client has sent everything and every answer is queued: end the
 * connection once the queued answers are written (uv_close would drop them). */
static void ctl__conn_end(ctl__conn_t *c)
{
    uv_shutdown_t *req;

    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return;
    req = malloc(sizeof(*req));
    if (!req) {
        ctl__conn_close(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->pipe, ctl__shutdown_cb) != 0) {
        free(req);
        ctl__conn_close(c);
    }
}

static void ctl__write_cb(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void ctl__send(ctl__conn_t *c, char *line)
{
    uv_write_t *w;
    uv_buf_t b;

    if (!line) {
        ctl__conn_close(c);
        return;
    }
    if (uv_is_closing((uv_handle_t *)&c->pipe)) {
        free(line);
        return;
    }
    w = malloc(sizeof(*w));
    if (!w) {
        free(line);
        ctl__conn_close(c);
        return;
    }
    w->data = line;
    b = uv_buf_init(line, (unsigned)strlen(line));
    if (uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, ctl__write_cb) != 0) {
        free(line);
        free(w);
        ctl__conn_close(c);
    }
}

/* Answer the complete lines in c->buf, in order, until one is deferred. */
static void ctl__process(ctl__conn_t *c)
{
    char *nl;

    while (!c->pending && !uv_is_closing((uv_handle_t *)&c->pipe) &&
           (nl = memchr(c->buf, '\n', c->len))) {
        size_t linelen = (size_t)(nl - c->buf);
        if (linelen > GW_CONTROL_LINE_MAX)
            break; /* refused below, like an unterminated one */
        if (linelen > 0) {
            gw_control_call_t call = {c, 0};
            int oom;
            char *out = ctl__handle(c->d, &call, c->buf, linelen, &oom);
            if (out || oom)
                ctl__send(c, out);
        }
        memmove(c->buf, nl + 1, c->len - linelen - 1);
        c->len -= linelen + 1;
    }
    if (c->pending) {
        /* Back-pressure: read no more until the deferred answer is out. */
        uv_read_stop((uv_stream_t *)&c->pipe);
        return;
    }
    if (c->len > GW_CONTROL_LINE_MAX) {
        uv_read_stop((uv_stream_t *)&c->pipe);
        c->len = 0;
        ctl__send(c, ctl__answer_line(GW_EINVAL, NULL, "request line too long"));
        ctl__conn_end(c);
    } else if (c->eof && !c->pending) {
        ctl__conn_end(c);
    }
}

static void ctl__alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void ctl__read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

gw_control_call_t *gw_control_defer(gw_control_call_t *call)
{
    gw_control_call_t *k;

    if (!call || !call->conn || call->conn->pending)
        return NULL;
    k = malloc(sizeof(*k));
    if (!k)
        return NULL;
    *k = *call;
    k->deferred = 1;
    call->conn->pending = k;
    return k;
}

void gw_control_finish(gw_control_call_t *call, int rc, cJSON *result, const char *err)
{
    ctl__conn_t *c = call->conn;

    if (!c) { /* the client left meanwhile */
        cJSON_Delete(result);
        free(call);
        return;
    }
    c->pending = NULL;
    free(call);
    ctl__send(c, ctl__answer_line(rc, result, err));
    ctl__process(c); /* lines that waited behind this answer */
    if (!c->pending && !c->eof && !uv_is_closing((uv_handle_t *)&c->pipe))
        uv_read_start((uv_stream_t *)&c->pipe, ctl__alloc_cb, ctl__read_cb);
}

static void ctl__alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ctl__conn_t *c = h->data;
    size_t want = c->len + (suggested < 4096 ? 4096 : suggested);

    if (want > c->cap) {
        char *n = realloc(c->buf, want);
        if (!n) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->buf = n;
        c->cap = want;
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void ctl__read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    ctl__conn_t *c = s->data;

    (void)buf;
    if (n == UV_EOF) {
        /* Half-closed: answer what was asked (also deferred), then end. */
        uv_read_stop(s);
        c->eof = 1;
        ctl__process(c);
        return;
    }
    if (n < 0) {
        ctl__conn_close(c);
        return;
    }
    c->len += (size_t)n;
    ctl__process(c);
}

static void ctl__connection_cb(uv_stream_t *server, int status)
{
    gw_control_t *ctl = server->data;
    ctl__conn_t *c;

    if (status < 0)
        return;
    c = calloc(1, sizeof(*c));
    if (!c)
        return;
    uv_pipe_init(server->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->ctl = ctl;
    c->d = ctl->d;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->pipe, ctl__conn_close_cb);
        return;
    }
    c->next = ctl->conns;
    ctl->conns = c;
    uv_read_start((uv_stream_t *)&c->pipe, ctl__alloc_cb, ctl__read_cb);
}

/* ---- listener ----------------------------------------------------------- */

/* Remove a socket file nobody answers on; GW_EEXIST if someone does. */
static int ctl__clear_stale(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "control socket %s: exists and is not a socket", path);
        return GW_EEXIST;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "control socket: %s", strerror(errno));
        return GW_EIO;
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen,
                 "control socket %s answers: another plantroomd runs on this state directory",
                 path);
        return GW_EEXIST;
    }
    unlink(path);
    return 0;
}

static void ctl__server_close_cb(uv_handle_t *h)
{
    free(h->data);
}

int gw_control_start(gw_control_t **out, uv_loop_t *loop, gw_daemon_t *d, const char *path,
                     const char *group, char *err, size_t errlen)
{
    gw_control_t *c;
    struct group *gr = NULL;
    int rc;

    *out = NULL;
    if (strlen(path) >= sizeof(c->path)) {
        snprintf(err, errlen, "control socket %s: path too long", path);
        return GW_EINVAL;
    }
    if (group && *group && !(gr = getgrnam(group))) {
        snprintf(err, errlen, "control.group: no group named \"%s\"", group);
        return GW_EINVAL;
    }
    rc = ctl__clear_stale(path, err, errlen);
    if (rc != 0)
        return rc;
    c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "control socket: out of memory");
        return GW_ENOMEM;
    }
    c->d = d;
    snprintf(c->path, sizeof(c->path), "%s", path);
    uv_pipe_init(loop, &c->server, 0);
    c->server.data = c;
    rc = uv_pipe_bind(&c->server, path);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&c->server, 64, ctl__connection_cb);
    if (rc != 0) {
        snprintf(err, errlen, "control socket %s: %s", path, uv_strerror(rc));
        goto out_close;
    }
    /* Group-restricted: the daemon's user and the socket's group only. */
    if (chmod(path, 0660) != 0 || (gr && chown(path, (uid_t)-1, gr->gr_gid) != 0)) {
        rc = -errno;
        snprintf(err, errlen, "control socket %s: cannot set mode/group: %s", path,
                 strerror(errno));
        unlink(path);
        goto out_close;
    }
    gw_log_info("control", "listening on %s", path);
    *out = c;
    return 0;

out_close:
    uv_close((uv_handle_t *)&c->server, ctl__server_close_cb);
    return rc;
}

void gw_control_close(gw_control_t *c)
{
    if (!c)
        return;
    for (ctl__conn_t *k = c->conns; k; k = k->next) {
        k->ctl = NULL;
        ctl__conn_close(k);
    }
    c->conns = NULL;
    unlink(c->path);
    uv_close((uv_handle_t *)&c->server, ctl__server_close_cb);
}
