/*
 * svc_commands.c: the control socket's commands (gw_control.h has the
 * protocol): "status" (svc_status.c), "reload" (the daemon's reload,
 * handed over in gw_svc_env_t), "ping" and "write" (a Modbus write through
 * the core, answered when the device answered). The context of every
 * handler is the service (gw_svc_t). Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/service/svc_int.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd__status(void *ctx, const cJSON *req, cJSON *res, gw_control_call_t *call, char *err,
                       size_t errlen)
{
    (void)req;
    (void)call;
    (void)err;
    (void)errlen;
    svc__status_json(ctx, res);
    return 0;
}

static int cmd__reload(void *ctx, const cJSON *req, cJSON *res, gw_control_call_t *call, char *err,
                       size_t errlen)
{
    gw_svc_t *s = ctx;
    const gw_runtime_t *rt;
    int rc;

    (void)req;
    (void)call;
    gw_log_notice("control", "reload requested");
    if (!s->env.reload) {
        snprintf(err, errlen, "reload is not available");
        return GW_ESTATE;
    }
    rc = s->env.reload(s->env.reload_arg, err, errlen);
    if (rc != 0)
        return rc;
    rt = gw_core_runtime(s->env.core);
    cJSON_AddStringToObject(res, "config", rt->cfg->path);
    cJSON_AddNumberToObject(res, "buses", (double)rt->cfg->nbuses);
    cJSON_AddNumberToObject(res, "devices", (double)rt->cfg->ndevices);
    cJSON_AddNumberToObject(res, "points", (double)rt->npoints);
    cJSON_AddNumberToObject(res, "rules", (double)rt->cfg->nrules);
    return 0;
}

/* ping: answers {"pong":true}, after delay_ms (0..10000) if given. It
 * shows whether the loop answers at all, and exercises deferred answers. */
typedef struct cmd__ping {
    uv_timer_t timer;
    gw_control_call_t *call;
} cmd__ping_t;

static void cmd__ping_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void cmd__ping_cb(uv_timer_t *t)
{
    cmd__ping_t *p = t->data;
    cJSON *res = cJSON_CreateObject();

    cJSON_AddBoolToObject(res, "pong", 1);
    gw_control_finish(p->call, 0, res, NULL);
    uv_close((uv_handle_t *)&p->timer, cmd__ping_close_cb);
}

static int cmd__ping(void *ctx, const cJSON *req, cJSON *res, gw_control_call_t *call, char *err,
                     size_t errlen)
{
    gw_svc_t *s = ctx;
    const cJSON *delay = cJSON_GetObjectItemCaseSensitive(req, "delay_ms");
    cmd__ping_t *p;

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
    uv_timer_init(s->env.loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, cmd__ping_cb, (uint64_t)delay->valuedouble, 0);
    return GW_CONTROL_LATER;
}

/* write: a Modbus write through the bus thread (gw_core_point_write); the
 * answer is deferred until the device answered. {"device", "point",
 * "value"}. Who writes is the connection's Unix user (SO_PEERCRED), never
 * what the client says: a "by" is kept in the audit row only as what the
 * client claimed ("claimed_by"). */
typedef struct cmd__write {
    gw_control_call_t *call;
    char device[64], point[64], actor[64];
    double value;
} cmd__write_t;

static void cmd__write_done(void *arg, uint64_t id, int rc, const char *err)
{
    cmd__write_t *w = arg;
    cJSON *res = NULL;

    (void)id;
    if (rc == 0) {
        res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "device", w->device);
        cJSON_AddStringToObject(res, "point", w->point);
        cJSON_AddNumberToObject(res, "value", w->value);
        cJSON_AddStringToObject(res, "function", "written");
        cJSON_AddStringToObject(res, "by", w->actor);
        gw_log_notice("control", "write %s.%s = %g by %s: done", w->device, w->point, w->value,
                      w->actor);
    } else {
        gw_log_warn("control", "write %s.%s = %g by %s: %s", w->device, w->point, w->value,
                    w->actor, err ? err : gw_strerror(rc));
    }
    if (w->call)
        gw_control_finish(w->call, rc, res, err ? err : gw_strerror(rc));
    else
        cJSON_Delete(res);
    free(w);
}

static int cmd__str_arg(const cJSON *req, const char *key, char *dst, size_t len, char *err,
                        size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= len) {
        snprintf(err, errlen, "%s: must be a non-empty string of at most %zu characters", key,
                 len - 1);
        return GW_EINVAL;
    }
    snprintf(dst, len, "%s", v->valuestring);
    return 0;
}

/* The connection's user: its name, else "uid N"; and the audit note with
 * uid, pid and what the client claimed (malloc'd, may be NULL). */
static int cmd__peer(gw_control_call_t *call, const cJSON *req, char *actor, size_t alen,
                     char **note, char *err, size_t errlen)
{
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(req, "by");
    gw_control_peer_t peer;
    struct passwd pw, *res = NULL;
    char buf[1024];
    cJSON *n;

    *note = NULL;
    if (gw_control_peer(call, &peer) != 0) {
        snprintf(err, errlen, "cannot tell who is asking (no peer credentials): refused");
        return GW_EPERM;
    }
    if (getpwuid_r((uid_t)peer.uid, &pw, buf, sizeof(buf), &res) == 0 && res)
        snprintf(actor, alen, "%s", res->pw_name);
    else
        snprintf(actor, alen, "uid %u", peer.uid);
    n = cJSON_CreateObject();
    cJSON_AddNumberToObject(n, "uid", peer.uid);
    cJSON_AddNumberToObject(n, "pid", peer.pid);
    if (cJSON_IsString(by) && by->valuestring[0])
        cJSON_AddStringToObject(n, "claimed_by", by->valuestring);
    *note = cJSON_PrintUnformatted(n);
    cJSON_Delete(n);
    return 0;
}

static int cmd__write(void *ctx, const cJSON *req, cJSON *res, gw_control_call_t *call, char *err,
                      size_t errlen)
{
    gw_svc_t *s = ctx;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "value");
    cmd__write_t *w = calloc(1, sizeof(*w));
    gw_write_who_t who = {.channel = "control"};
    char *note = NULL;
    int rc;

    (void)res;
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    if ((rc = cmd__peer(call, req, w->actor, sizeof(w->actor), &note, err, errlen)) != 0 ||
        (rc = cmd__str_arg(req, "device", w->device, sizeof(w->device), err, errlen)) != 0 ||
        (rc = cmd__str_arg(req, "point", w->point, sizeof(w->point), err, errlen)) != 0)
        goto out_free;
    if (!cJSON_IsNumber(v)) {
        snprintf(err, errlen, "value: must be a number");
        rc = GW_EINVAL;
        goto out_free;
    }
    w->value = v->valuedouble;
    who.actor = w->actor;
    who.note = note;
    /* Queue first: a refusal is answered at once, as any error (and the
     * write path audits it). The callback runs later on this thread, so
     * w->call is set before it can run. */
    rc = gw_core_point_write(s->env.core, &who, w->device, w->point, w->value, cmd__write_done, w,
                             NULL, err, errlen);
    if (rc != 0)
        goto out_free;
    free(note);
    w->call = gw_control_defer(call);
    if (!w->call) {
        /* queued: the callback frees w; the client gets no answer */
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    return GW_CONTROL_LATER;

out_free:
    free(note);
    free(w);
    return rc;
}

/* The commands. To add one, write a handler above and add its row. */
const gw_control_cmd_t svc__commands[] = {
    {"status", cmd__status, "buses, devices, points, broker, ledger, rules"},
    {"reload", cmd__reload, "reload the config file (as SIGHUP)"},
    {"ping", cmd__ping, "answer {\"pong\":true} (after delay_ms)"},
    {"write", cmd__write, "write a coil or holding-register point (device, point, value)"},
    {NULL, NULL, NULL},
};
