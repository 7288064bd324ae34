/*
 * hk_exec.c: exec hooks (hk.h): uv_spawn without a shell, the alert on stdin
 * and in one environment variable, a kill after the timeout.
 *
 * A job lives until its three handles (process, stdin pipe, timer) are
 * closed; it reports once, when the process has exited (or was killed),
 * which is when all of them can be closed.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/hooks/hk_int.h"

#include "gateway/base/gw_types.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

struct hk__exec {
    hk__exec_t *next;
    hk_t *h;
    uv_process_t proc;
    uv_pipe_t in;
    uv_timer_t timer;
    uv_write_t wr;
    char *stdin_buf;
    char **env;
    int open_handles;
    int pipe_open;
    int exited, timed_out, reported, silent;
    int64_t status;
    int term_signal;
    hk_done_fn done;
    void *arg;
};

static void hk__exec_unlink(hk_t *h, hk__exec_t *j)
{
    for (hk__exec_t **pp = &h->execs; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            return;
        }
    }
}

static void hk__exec_report(hk__exec_t *j, int ok, const char *detail)
{
    if (j->reported || j->silent)
        return;
    j->reported = 1;
    j->h->inflight--;
    j->done(j->arg, ok, detail);
}

/* Free an environment built by hk__exec_env. */
static void hk__env_free(char **env)
{
    size_t n = 0;

    if (!env)
        return;
    while (env[n])
        n++;
    if (n)
        free(env[n - 1]); /* only the last entry is ours; the rest are environ's */
    free(env);
}

static void hk__exec_closed(uv_handle_t *hd)
{
    hk__exec_t *j = hd->data;
    hk_t *h = j->h;

    if (--j->open_handles > 0)
        return;
    hk__exec_unlink(h, j);
    free(j->stdin_buf);
    hk__env_free(j->env);
    free(j);
    hk__unref(h);
}

static void hk__exec_close_handles(hk__exec_t *j)
{
    if (!uv_is_closing((uv_handle_t *)&j->proc))
        uv_close((uv_handle_t *)&j->proc, hk__exec_closed);
    if (!uv_is_closing((uv_handle_t *)&j->in))
        uv_close((uv_handle_t *)&j->in, hk__exec_closed);
    if (!uv_is_closing((uv_handle_t *)&j->timer))
        uv_close((uv_handle_t *)&j->timer, hk__exec_closed);
}

static void hk__exec_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    hk__exec_t *j = p->data;
    char detail[96];

    j->exited = 1;
    uv_timer_stop(&j->timer);
    if (j->timed_out)
        snprintf(detail, sizeof(detail), "timed out: killed");
    else if (term_signal)
        snprintf(detail, sizeof(detail), "killed by signal %d", term_signal);
    else
        snprintf(detail, sizeof(detail), "exit status %lld", (long long)status);
    hk__exec_report(j, !j->timed_out && !term_signal && status == 0, detail);
    hk__exec_close_handles(j);
}

static void hk__exec_timeout_cb(uv_timer_t *t)
{
    hk__exec_t *j = t->data;

    j->timed_out = 1;
    uv_process_kill(&j->proc, SIGKILL);
}

static void hk__exec_write_cb(uv_write_t *w, int status)
{
    hk__exec_t *j = w->data;

    (void)status; /* a child that does not read its stdin is not an error */
    if (!uv_is_closing((uv_handle_t *)&j->in))
        uv_close((uv_handle_t *)&j->in, hk__exec_closed);
}

static int hk__env_dropped(const char *entry, const char *name, const char *const *drop)
{
    size_t len = strlen(name);

    if (strncmp(entry, name, len) == 0 && entry[len] == '=')
        return 1; /* ours replaces an inherited one */
    for (; drop && *drop; drop++) {
        len = strlen(*drop);
        if (strncmp(entry, *drop, len) == 0 && entry[len] == '=')
            return 1;
    }
    return 0;
}

/* environ minus the dropped names, plus one "name=value" entry (the only
 * one allocated). */
static char **hk__exec_env(const char *name, const char *value, const char *const *drop)
{
    size_t n = 0, k = 0, len;
    char **env;

    while (environ[n])
        n++;
    env = calloc(n + 2, sizeof(*env));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!hk__env_dropped(environ[i], name, drop))
            env[k++] = environ[i];
    }
    len = strlen(name) + strlen(value) + 2;
    env[k] = malloc(len);
    if (!env[k]) {
        free(env);
        return NULL;
    }
    snprintf(env[k], len, "%s=%s", name, value);
    return env;
}

int hk_exec(hk_t *h, const hk_exec_req_t *req, hk_done_fn done, void *arg, char *err, size_t errlen)
{
    uv_process_options_t o;
    uv_stdio_container_t stdio[3];
    hk__exec_t *j;
    int rc;

    if (h->closing || !req->argv || !req->argv[0]) {
        snprintf(err, errlen, "exec: %s", h->closing ? "closing" : "empty argv");
        return GW_EINVAL;
    }
    j = calloc(1, sizeof(*j));
    if (!j)
        goto out_nomem;
    j->h = h;
    j->done = done;
    j->arg = arg;
    if (req->env_name && (j->env = hk__exec_env(req->env_name, req->env_value ? req->env_value : "",
                                                req->env_drop)) == NULL)
        goto out_nomem_job;
    if (req->stdin_data && (j->stdin_buf = strdup(req->stdin_data)) == NULL)
        goto out_nomem_job;

    uv_pipe_init(h->loop, &j->in, 0);
    uv_timer_init(h->loop, &j->timer);
    j->in.data = j->timer.data = j->proc.data = j;
    j->open_handles = 3;
    memset(&o, 0, sizeof(o));
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&j->in;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    o.exit_cb = hk__exec_exit_cb;
    o.file = req->argv[0];
    o.args = (char **)req->argv;
    o.env = j->env;
    o.stdio = stdio;
    o.stdio_count = 3;
    j->next = h->execs;
    h->execs = j;
    h->refs++;
    rc = uv_spawn(h->loop, &j->proc, &o);
    if (rc != 0) {
        snprintf(err, errlen, "exec %s: %s", req->argv[0], uv_strerror(rc));
        j->silent = 1;
        hk__exec_close_handles(j);
        return rc;
    }
    h->inflight++;
    uv_timer_start(&j->timer, hk__exec_timeout_cb, (uint64_t)req->timeout_ms, 0);
    if (j->stdin_buf) {
        uv_buf_t b = uv_buf_init(j->stdin_buf, (unsigned)strlen(j->stdin_buf));
        j->wr.data = j;
        if (uv_write(&j->wr, (uv_stream_t *)&j->in, &b, 1, hk__exec_write_cb) != 0)
            uv_close((uv_handle_t *)&j->in, hk__exec_closed);
    } else {
        uv_close((uv_handle_t *)&j->in, hk__exec_closed);
    }
    return 0;

out_nomem_job:
    hk__env_free(j->env);
    free(j);
out_nomem:
    snprintf(err, errlen, "exec: out of memory");
    return GW_ENOMEM;
}

void hk__close_execs(hk_t *h)
{
    for (hk__exec_t *j = h->execs; j; j = j->next) {
        if (!j->exited)
            uv_process_kill(&j->proc, SIGKILL);
        hk__exec_report(j, 0, "closed");
        hk__exec_close_handles(j);
    }
}
