/*
 * notify_deliver.c: messages delivered through their recipient's hook
 * (notify_int.h; design in docs/hooks.md "From a work order to a phone",
 * step 4): due pending messages are started when the recipient's rate limit
 * (min_interval_ms) allows, through an exec or webhook hook
 * (protocols/hooks/hk.h); the outcome is recorded in notify.db: sent, a
 * retry after a backoff, or failed after max_attempts. Only the deliveries
 * in flight and the last-send times live in memory.
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One delivery in flight; freed by its done callback. */
typedef struct gw_notify__job {
    gw_notify_t *n;
    int64_t id;
    int attempts; /* including this one */
    char recipient[GW_NOTIFY_NAME];
    char hook[GW_NOTIFY_NAME];
    char group[GW_NOTIFY_NAME];
} gw_notify__job_t;

static int notify__inflight_has(const gw_notify_t *n, int64_t id)
{
    for (size_t i = 0; i < n->ninflight; i++) {
        if (n->inflight[i] == id)
            return 1;
    }
    return 0;
}

static void notify__inflight_del(gw_notify_t *n, int64_t id)
{
    for (size_t i = 0; i < n->ninflight; i++) {
        if (n->inflight[i] == id) {
            n->inflight[i] = n->inflight[--n->ninflight];
            return;
        }
    }
}

static int notify__inflight_add(gw_notify_t *n, int64_t id)
{
    if (n->ninflight == n->capinflight) {
        size_t cap = n->capinflight ? n->capinflight * 2 : 16;
        int64_t *g = realloc(n->inflight, cap * sizeof(*g));
        if (!g)
            return GW_ENOMEM;
        n->inflight = g;
        n->capinflight = cap;
    }
    n->inflight[n->ninflight++] = id;
    return 0;
}

static void notify__done(void *arg, int ok, const char *detail);

static int notify__start_exec(gw_notify_t *n, const gw_hook_cfg_t *h, notify__ph_t *p,
                              gw_notify__job_t *job, char *err, size_t errlen)
{
    char *argv[GW_HOOK_MAX_ARGS + 1] = {0};
    char *mail = NULL, *env = notify__alert_env(p);
    int rc = 0;

    for (int i = 0; i < h->nargv && rc == 0; i++) {
        if (!(argv[i] = notify__expand(h->argv[i], p)))
            rc = GW_ENOMEM;
    }
    if (rc == 0 && h->stdin_mail && !(mail = notify__mail(p, h)))
        rc = GW_ENOMEM;
    if (rc == 0) {
        static const char *const drop[] = {"PLANTROOM_MQTT_PASSWORD", NULL};
        hk_exec_req_t req = {
            .argv = (const char *const *)argv,
            .env_name = "PLANTROOM_ALERT",
            .env_value = env ? env : p->m->alert_json,
            .env_drop = drop, /* the daemon's secret is not the hook's business */
            .stdin_data = mail ? mail : p->m->alert_json,
            .timeout_ms = h->timeout_ms,
        };
        rc = hk_exec(n->hk, &req, notify__done, job, err, errlen);
    }
    free(mail);
    free(env);
    for (int i = 0; i < h->nargv; i++) {
        if (argv[i])
            memset(argv[i], 0, strlen(argv[i])); /* may hold a phone number */
        free(argv[i]);
    }
    return rc;
}

static int notify__start_http(gw_notify_t *n, const gw_hook_cfg_t *h, notify__ph_t *p,
                              gw_notify__job_t *job, char *err, size_t errlen)
{
    char *headers[GW_HOOK_MAX_KV + 1] = {0};
    char *body = notify__http_body(h, p);
    int rc = body ? 0 : GW_ENOMEM;

    for (int i = 0; i < h->nheaders && rc == 0; i++) {
        char *v = notify__expand(h->headers[i].value, p);
        size_t len = strlen(h->headers[i].key) + (v ? strlen(v) : 0) + 3;
        headers[i] = v ? malloc(len) : NULL;
        if (headers[i])
            snprintf(headers[i], len, "%s: %s", h->headers[i].key, v);
        else
            rc = GW_ENOMEM;
        free(v);
    }
    if (rc == 0) {
        hk_http_req_t req = {
            .url = h->url,
            .body = body,
            .content_type = h->form ? "application/x-www-form-urlencoded" : "application/json",
            .headers = (const char *const *)headers,
            .username = h->auth == GW_AUTH_BASIC ? h->username : NULL,
            .password = h->auth == GW_AUTH_BASIC ? h->secret : NULL,
            .bearer = h->auth == GW_AUTH_BEARER ? h->secret : NULL,
            .ca_file = h->ca_file[0] ? h->ca_file : NULL,
            .timeout_ms = h->timeout_ms,
        };
        rc = hk_http(n->hk, &req, notify__done, job, err, errlen);
    }
    for (int i = 0; i < h->nheaders; i++)
        free(headers[i]);
    free(body);
    return rc;
}

/* A delivery attempt ended (or could not start): record it. */
static void notify__record(gw_notify_t *n, gw_notify__job_t *job, int ok, const char *detail)
{
    int ri = notify__recipient_idx(n, job->recipient);
    const gw_hook_cfg_t *h = NULL;
    int64_t now = gw_wall_ms();
    int rc;

    if (ri >= 0)
        h = &n->cfg->notify.hooks[n->cfg->notify.recipients[ri].hook_idx];
    if (ok)
        n->delivered++;
    else
        n->failures++;
    if (ok) {
        rc = notify_msg_sent(n->st, job->id, job->attempts, now);
        gw_log_notice("notify", "message %lld (group %s) delivered to %s via %s (attempt %d)",
                      (long long)job->id, job->group, job->recipient, job->hook, job->attempts);
    } else if (!h || job->attempts >= h->max_attempts) {
        rc = notify_msg_failed(n->st, job->id, job->attempts, detail);
        gw_log_error("notify",
                     "message %lld (group %s) to %s via %s: %s; giving up after %d "
                     "attempts",
                     (long long)job->id, job->group, job->recipient, job->hook, detail,
                     job->attempts);
    } else {
        int64_t wait = gw_backoff_ms(job->attempts, h->backoff_ms, h->backoff_max_ms);
        rc = notify_msg_retry(n->st, job->id, job->attempts, now + wait, detail);
        gw_log_warn("notify", "message %lld (group %s) to %s via %s: %s; retry in %lld ms",
                    (long long)job->id, job->group, job->recipient, job->hook, detail,
                    (long long)wait);
    }
    if (rc < 0)
        gw_log_error("notify", "recording message %lld: %s", (long long)job->id,
                     notify_store_errmsg(n->st));
}

static void notify__done(void *arg, int ok, const char *detail)
{
    gw_notify__job_t *job = arg;
    gw_notify_t *n = job->n;

    if (!n->stopping) {
        notify__inflight_del(n, job->id);
        notify__record(n, job, ok, detail);
    }
    free(job);
}

static void notify__deliver_one(gw_notify_t *n, const notify_msg_t *m, int64_t now)
{
    int ri = notify__recipient_idx(n, m->recipient);
    const gw_recipient_cfg_t *r;
    const gw_hook_cfg_t *h;
    gw_notify__job_t *job;
    notify__ph_t p = {0};
    char err[256];
    int rc;

    if (ri < 0) {
        notify_msg_failed(n->st, m->id, m->attempts, "recipient no longer configured");
        gw_log_error("notify", "message %lld: recipient %s is no longer configured: dropped",
                     (long long)m->id, m->recipient);
        return;
    }
    r = &n->cfg->notify.recipients[ri];
    h = &n->cfg->notify.hooks[r->hook_idx];
    if ((size_t)ri < n->nlast_send && n->last_send[ri] &&
        now - n->last_send[ri] < r->min_interval_ms)
        return; /* rate limit: a later tick */
    job = calloc(1, sizeof(*job));
    if (!job)
        return;
    job->n = n;
    job->id = m->id;
    job->attempts = m->attempts + 1;
    snprintf(job->recipient, sizeof(job->recipient), "%s", r->name);
    snprintf(job->hook, sizeof(job->hook), "%s", h->name);
    snprintf(job->group, sizeof(job->group), "%s", m->group);
    p.n = n;
    p.r = r;
    p.m = m;
    p.doc = cJSON_Parse(m->alert_json);
    p.first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p.doc, "alerts"), 0);
    if ((size_t)ri < n->nlast_send)
        n->last_send[ri] = now;
    rc = notify__inflight_add(n, m->id);
    if (rc == 0)
        rc = h->kind == GW_HOOK_EXEC ? notify__start_exec(n, h, &p, job, err, sizeof(err))
                                     : notify__start_http(n, h, &p, job, err, sizeof(err));
    else
        snprintf(err, sizeof(err), "out of memory");
    cJSON_Delete((cJSON *)p.doc);
    if (rc != 0) {
        notify__inflight_del(n, m->id);
        notify__record(n, job, 0, err);
        free(job);
    }
}

int notify__deliver(gw_notify_t *n, int64_t now)
{
    notify_msg_t *rows;
    size_t nr;
    int rc = notify_msg_due(n->st, now, GW_NOTIFY__DUE_MAX, &rows, &nr);

    for (size_t i = 0; rc == 0 && i < nr && !n->stopping; i++) {
        if (!notify__inflight_has(n, rows[i].id))
            notify__deliver_one(n, &rows[i], now);
    }
    notify_msg_free_array(rows, nr);
    return rc;
}
