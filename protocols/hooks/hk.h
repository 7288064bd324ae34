/*
 * hk.h: hook delivery: run a program, or POST to a URL, from the libuv loop.
 *
 * Two ways to tell the outside world about an alert (docs/hooks.md):
 *  - exec: spawn a program with an argv (no shell: each argument is passed
 *    as is, whatever it contains), the alert JSON on its stdin and in the
 *    environment, a timeout after which it is killed; exit status 0 is
 *    success. `gammu-smsd-inject TEXT <phone> -text <message>` fits.
 *  - http: a POST through libcurl's multi interface, whose sockets and timer
 *    are driven by the loop (uv_poll + uv_timer), so no thread blocks; a
 *    2xx status is success.
 *
 * Everything here runs on the loop thread. Requests are copied at start; the
 * done callback runs exactly once per started request, on the loop thread,
 * also when the hook is closed with requests in flight (ok = 0, "closed").
 * The detail passed to done never contains the request's argv, body, URL
 * query or headers: those may carry phone numbers and tokens.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_HK_H
#define PLANTROOM_HK_H

#include <stddef.h>
#include <uv.h>

typedef struct hk hk_t;

/* ok: 1 delivered, 0 failed; detail: a short reason for the log. */
typedef void (*hk_done_fn)(void *arg, int ok, const char *detail);

typedef struct hk_exec_req {
    const char *const *argv; /* NULL-terminated; argv[0] is looked up on PATH */
    const char *env_name;    /* extra environment variable (e.g. PLANTROOM_ALERT), or NULL */
    const char *env_value;
    const char *const *env_drop; /* names not passed on (secrets of the daemon); may be NULL */
    const char *stdin_data;      /* written to the child's stdin, then closed; may be NULL */
    int timeout_ms;
} hk_exec_req_t;

typedef struct hk_http_req {
    const char *url;
    const char *body;           /* sent as is */
    const char *content_type;   /* "application/json" or "application/x-www-form-urlencoded" */
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *username;       /* basic auth when non-NULL */
    const char *password;
    const char *bearer;  /* "Authorization: Bearer ..." when non-NULL */
    const char *ca_file; /* NULL: the system's CA store */
    int timeout_ms;
} hk_http_req_t;

/* Create the hook runner on loop. Ignores SIGPIPE for the process (a child
 * that exits without reading its stdin must not kill the daemon). Returns 0
 * or a negative code with the reason in err. */
int hk_create(hk_t **out, uv_loop_t *loop, char *err, size_t errlen);
/* Cancel everything in flight (their done callbacks run with ok = 0), close
 * the handles. The loop must run afterwards for the close callbacks; the
 * memory is freed once they ran. */
void hk_close(hk_t *h);

/* Start one delivery. Returns 0 (done will be called later), or a negative
 * code with the reason in err (done will not be called). */
int hk_exec(hk_t *h, const hk_exec_req_t *req, hk_done_fn done, void *arg, char *err,
            size_t errlen);
int hk_http(hk_t *h, const hk_http_req_t *req, hk_done_fn done, void *arg, char *err,
            size_t errlen);

/* Deliveries in flight now. */
size_t hk_inflight(const hk_t *h);

/* URL-encode s (RFC 3986 unreserved kept) into a malloc'd string; NULL on
 * out of memory. For form bodies. */
char *hk_urlencode(const char *s);

#endif
