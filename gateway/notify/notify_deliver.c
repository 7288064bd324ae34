/*
 * notify_deliver.c: messages delivered through their recipient's hook
 * (notify_int.h; design in docs/hooks.md "From a work order to a phone",
 * step 4): due pending messages are started when the recipient's rate limit
 * (min_interval_ms, on the monotonic clock) allows, through an exec or
 * webhook hook (protocols/hooks/hk.h), once the message is recorded in
 * notify.db (or at once while the file cannot be written); the outcome is
 * recorded: sent, a retry after a backoff (monotonic), or failed after
 * max_attempts. Past notify.max_pending the oldest pending message is given
 * up.
 * SPDX-License-Identifier: Apache-2.0
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

/* The message of this id (msgs are by id), or NULL. */
static notify__msg_t *notify__msg_by_id(const gw_notify_t *n, int64_t id)
{
    size_t lo = 0, hi = n->s.nmsgs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (n->s.msgs[mid]->r.id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n->s.nmsgs && n->s.msgs[lo]->r.id == id ? n->s.msgs[lo] : NULL;
}

/* Past notify.max_pending: give the oldest pending message up (failed). */
static void notify__give_up_oldest(gw_notify_t *n)
{
    for (size_t i = 0; i < n->s.nmsgs; i++) {
        notify__msg_t *m = n->s.msgs[i];
        if (m->inflight || strcmp(m->r.state, "pending") != 0)
            continue;
        snprintf(m->r.last_error, sizeof(m->r.last_error),
                 "given up: more than %zu messages pending", notify__max_pending(n));
        notify__msg_done(n, m, "failed");
        notify__p_msg(n, m);
        n->msgs_dropped++;
        gw_log_error("notify", "message %lld (group %s) to %s given up: more than %zu pending",
                     (long long)m->r.id, m->r.group, m->r.recipient, notify__max_pending(n));
        return;
    }
}

void notify__msg_queue(gw_notify_t *n, notify_msg_t *m, int64_t mono, int64_t due_mono)
{
    notify__msg_t *x;

    if (!m->message || !m->alert_json) {
        notify_msg_clear(m);
        gw_log_error("notify", "out of memory: a message to %s was not queued", m->recipient);
        return;
    }
    if (n->s.npending >= notify__max_pending(n))
        notify__give_up_oldest(n);
    x = notify__msg_add(n, m);
    if (!x) {
        gw_log_error("notify", "out of memory: a message to %s was not queued", m->recipient);
        return;
    }
    x->queued_mono = mono;
    x->next_mono = due_mono;
    x->rec_seq = notify__p_msg(n, x);
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

/* Count an attempt's outcome under its hook's name. */
static void notify__hook_count(gw_notify_t *n, const char *hook, int ok)
{
    notify__hookfig_t *f = NULL;

    for (size_t i = 0; i < n->nhookfig && !f; i++) {
        if (strcmp(n->hookfig[i].name, hook) == 0)
            f = &n->hookfig[i];
    }
    if (!f) {
        if (gw_array_grow((void **)&n->hookfig, n->nhookfig, &n->caphookfig, sizeof(*n->hookfig)) !=
            0)
            return; /* the totals still count it */
        f = &n->hookfig[n->nhookfig++];
        memset(f, 0, sizeof(*f));
        snprintf(f->name, sizeof(f->name), "%s", hook);
    }
    if (ok)
        f->ok++;
    else
        f->failed++;
}

/* A delivery attempt ended (or could not start): record it. */
static void notify__record(gw_notify_t *n, gw_notify__job_t *job, int ok, const char *detail)
{
    notify__msg_t *m = notify__msg_by_id(n, job->id);
    int ri = notify__recipient_idx(n, job->recipient);
    const gw_hook_cfg_t *h = NULL;
    int64_t wall = gw_wall_ms(), mono = gw_mono_ms();

    if (ri >= 0)
        h = &n->cfg->notify.hooks[n->cfg->notify.recipients[ri].hook_idx];
    if (ok)
        n->delivered++;
    else
        n->failures++;
    notify__hook_count(n, job->hook, ok);
    if (!m)
        return; /* in flight, never removed: not reached */
    m->inflight = 0;
    m->r.attempts = job->attempts;
    if (ok) {
        m->r.sent_ms = wall;
        notify__msg_done(n, m, "sent");
        gw_log_notice("notify", "message %lld (group %s) delivered to %s via %s (attempt %d)",
                      (long long)job->id, job->group, job->recipient, job->hook, job->attempts);
    } else if (!h || job->attempts >= h->max_attempts) {
        snprintf(m->r.last_error, sizeof(m->r.last_error), "%s", detail);
        notify__msg_done(n, m, "failed");
        gw_log_error("notify",
                     "message %lld (group %s) to %s via %s: %s; giving up after %d "
                     "attempts",
                     (long long)job->id, job->group, job->recipient, job->hook, detail,
                     job->attempts);
    } else {
        int64_t wait = gw_backoff_ms(job->attempts, h->backoff_ms, h->backoff_max_ms);
        snprintf(m->r.last_error, sizeof(m->r.last_error), "%s", detail);
        m->next_mono = mono + wait;
        m->r.next_ms = wall + wait;
        gw_log_warn("notify", "message %lld (group %s) to %s via %s: %s; retry in %lld ms",
                    (long long)job->id, job->group, job->recipient, job->hook, detail,
                    (long long)wait);
    }
    notify__p_msg(n, m);
}

static void notify__done(void *arg, int ok, const char *detail)
{
    gw_notify__job_t *job = arg;
    gw_notify_t *n = job->n;

    if (!n->stopping) /* stopping: the message stays pending, sent after a restart */
        notify__record(n, job, ok, detail);
    free(job);
}

/* Start one message; 1 when a delivery started (or was recorded failing). */
static int notify__deliver_one(gw_notify_t *n, notify__msg_t *m, int64_t mono)
{
    int ri = notify__recipient_idx(n, m->r.recipient);
    const gw_recipient_cfg_t *r;
    const gw_hook_cfg_t *h;
    gw_notify__job_t *job;
    notify__ph_t p = {0};
    char err[256];
    int rc;

    if (ri < 0) {
        snprintf(m->r.last_error, sizeof(m->r.last_error), "recipient no longer configured");
        notify__msg_done(n, m, "failed");
        notify__p_msg(n, m);
        gw_log_error("notify", "message %lld: recipient %s is no longer configured: dropped",
                     (long long)m->r.id, m->r.recipient);
        return 0;
    }
    r = &n->cfg->notify.recipients[ri];
    h = &n->cfg->notify.hooks[r->hook_idx];
    if ((size_t)ri < n->nlast_send && mono - n->last_send[ri] < r->min_interval_ms)
        return 0; /* rate limit: a later tick */
    job = calloc(1, sizeof(*job));
    if (!job)
        return 0;
    job->n = n;
    job->id = m->r.id;
    job->attempts = m->r.attempts + 1;
    snprintf(job->recipient, sizeof(job->recipient), "%s", r->name);
    snprintf(job->hook, sizeof(job->hook), "%s", h->name);
    snprintf(job->group, sizeof(job->group), "%s", m->r.group);
    p.n = n;
    p.r = r;
    p.m = &m->r;
    p.doc = cJSON_Parse(m->r.alert_json ? m->r.alert_json : "{}");
    p.first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p.doc, "alerts"), 0);
    if ((size_t)ri < n->nlast_send)
        n->last_send[ri] = mono;
    m->inflight = 1;
    rc = h->kind == GW_HOOK_EXEC ? notify__start_exec(n, h, &p, job, err, sizeof(err))
                                 : notify__start_http(n, h, &p, job, err, sizeof(err));
    cJSON_Delete((cJSON *)p.doc);
    if (rc != 0) {
        notify__record(n, job, 0, err);
        free(job);
    }
    return 1;
}

void notify__deliver(gw_notify_t *n, int64_t mono, int64_t wall)
{
    int started = 0;

    (void)wall;
    for (size_t i = 0; i < n->s.nmsgs && started < GW_NOTIFY__DUE_MAX && !n->stopping; i++) {
        notify__msg_t *m = n->s.msgs[i];
        if (m->inflight || m->next_mono > mono || strcmp(m->r.state, "pending") != 0)
            continue;
        /* recorded first (the unit holding it committed), unless notify.db
         * cannot be written now or the record takes too long: an SMS does
         * not wait for the disk */
        if (!notify__p_recorded(n, m->rec_seq) && mono - m->queued_mono < GW_NOTIFY__RECORD_WAIT_MS)
            continue;
        started += notify__deliver_one(n, m, mono);
    }
}
