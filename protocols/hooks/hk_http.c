/*
 * hk_http.c: webhooks (hk.h) through libcurl's multi interface driven by the
 * libuv loop: curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION,
 * one uv_poll per socket) and when to call it back (CURLMOPT_TIMERFUNCTION,
 * one uv_timer); we hand readiness back with curl_multi_socket_action and
 * collect finished transfers with curl_multi_info_read. No thread blocks.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/hooks/hk_int.h"

#include "gateway/base/gw_types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hk__http {
    hk__http_t *next;
    hk_t *h;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    hk_done_fn done;
    void *arg;
};

/* One watched socket. Freed in its poll handle's close callback. */
typedef struct hk__sock {
    uv_poll_t poll;
    curl_socket_t fd;
    hk_t *h;
} hk__sock_t;

static void hk__http_free(hk__http_t *j)
{
    hk_t *h = j->h;

    for (hk__http_t **pp = &h->https; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    hk__curl.multi_remove_handle(h->multi, j->easy);
    hk__curl.easy_cleanup(j->easy);
    hk__curl.slist_free_all(j->hdrs);
    free(j->body);
    free(j);
}

/* Report every finished transfer. */
static void hk__check_done(hk_t *h)
{
    CURLMsg *msg;
    int left;

    while ((msg = hk__curl.multi_info_read(h->multi, &left)) != NULL) {
        hk__http_t *j = NULL;
        long code = 0;
        char detail[96];
        int ok;

        if (msg->msg != CURLMSG_DONE)
            continue;
        hk__curl.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        hk__curl.easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        /* curl_easy_strerror only: the error buffer may quote the URL */
        if (msg->data.result != CURLE_OK)
            snprintf(detail, sizeof(detail), "%s", hk__curl.easy_strerror(msg->data.result));
        else
            snprintf(detail, sizeof(detail), "HTTP %ld", code);
        ok = msg->data.result == CURLE_OK && code >= 200 && code < 300;
        hk_done_fn done = j->done;
        void *arg = j->arg;
        hk__http_free(j);
        h->inflight--;
        done(arg, ok, detail);
    }
}

static void hk__sock_closed(uv_handle_t *hd)
{
    free(hd->data);
}

static void hk__poll_cb(uv_poll_t *p, int status, int events)
{
    hk__sock_t *sc = p->data;
    hk_t *h = sc->h;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    hk__curl.multi_socket_action(h->multi, sc->fd, flags, &running);
    hk__check_done(h);
}

static int hk__socket_fn(CURL *e, curl_socket_t s, int action, void *userp, void *socketp)
{
    hk_t *h = userp;
    hk__sock_t *sc = socketp;
    int events = 0;

    (void)e;
    if (action == CURL_POLL_REMOVE) {
        if (sc) {
            uv_poll_stop(&sc->poll);
            hk__curl.multi_assign(h->multi, s, NULL);
            uv_close((uv_handle_t *)&sc->poll, hk__sock_closed);
        }
        return 0;
    }
    if (!sc) {
        sc = calloc(1, sizeof(*sc));
        if (!sc)
            return -1;
        sc->fd = s;
        sc->h = h;
        if (uv_poll_init_socket(h->loop, &sc->poll, s) != 0) {
            free(sc);
            return -1;
        }
        sc->poll.data = sc;
        hk__curl.multi_assign(h->multi, s, sc);
    }
    if (action & CURL_POLL_IN)
        events |= UV_READABLE;
    if (action & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&sc->poll, events, hk__poll_cb);
    return 0;
}

static void hk__curl_timer_cb(uv_timer_t *t)
{
    hk_t *h = t->data;
    int running;

    hk__curl.multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    hk__check_done(h);
}

static int hk__timer_fn(CURLM *m, long timeout_ms, void *userp)
{
    hk_t *h = userp;

    (void)m;
    if (h->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&h->curl_timer);
    else
        uv_timer_start(&h->curl_timer, hk__curl_timer_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

static void hk__timer_closed(uv_handle_t *t)
{
    hk__unref(t->data);
}

int hk__http_init(hk_t *h, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    uv_timer_init(h->loop, &h->curl_timer);
    h->curl_timer.data = h;
    h->refs++; /* the curl timer's, dropped in hk__timer_closed */
    return 0;
}

/* libcurl and its multi handle, at the first webhook: the library is loaded
 * then (hk_curl.c, about 4 MB mapped) and curl_global_init initialises
 * OpenSSL (about 2 MB more), which a site without webhooks, or before its
 * first alert, does not need. */
static int hk__http_start(hk_t *h, char *err, size_t errlen)
{
    static int global_done;

    if (h->multi)
        return 0;
    if (!global_done) {
        int rc = hk__curl_load(err, errlen);
        if (rc != 0)
            return rc;
        if (hk__curl.global_init(CURL_GLOBAL_DEFAULT) != 0) {
            snprintf(err, errlen, "http: curl_global_init failed");
            return GW_EIO;
        }
        global_done = 1;
    }
    h->multi = hk__curl.multi_init();
    if (!h->multi) {
        snprintf(err, errlen, "http: curl_multi_init failed");
        return GW_ENOMEM;
    }
    hk__curl.multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, hk__socket_fn);
    hk__curl.multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    hk__curl.multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, hk__timer_fn);
    hk__curl.multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return 0;
}

static int hk__http_setup(hk__http_t *j, const hk_http_req_t *req)
{
    CURL *e = j->easy;
    char ct[128];

    snprintf(ct, sizeof(ct), "Content-Type: %s",
             req->content_type ? req->content_type : "application/json");
    if (!(j->hdrs = hk__curl.slist_append(NULL, ct)))
        return GW_ENOMEM;
    for (const char *const *hd = req->headers; hd && *hd; hd++) {
        struct curl_slist *n = hk__curl.slist_append(j->hdrs, *hd);
        if (!n)
            return GW_ENOMEM;
        j->hdrs = n;
    }
    hk__curl.easy_setopt(e, CURLOPT_URL, req->url);
    hk__curl.easy_setopt(e, CURLOPT_POST, 1L);
    hk__curl.easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    hk__curl.easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
    hk__curl.easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs);
    hk__curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    hk__curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)req->timeout_ms);
    hk__curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    hk__curl.easy_setopt(e, CURLOPT_FORBID_REUSE, 1L); /* rare requests: no idle sockets */
    hk__curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    hk__curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    hk__curl.easy_setopt(e, CURLOPT_USERAGENT, "plantroom-hooks/1");
    hk__curl.easy_setopt(e, CURLOPT_PRIVATE, (char *)j);
    if (req->ca_file && *req->ca_file)
        hk__curl.easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
    if (req->username) {
        hk__curl.easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        hk__curl.easy_setopt(e, CURLOPT_USERNAME, req->username);
        hk__curl.easy_setopt(e, CURLOPT_PASSWORD, req->password ? req->password : "");
    } else if (req->bearer) {
        hk__curl.easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        hk__curl.easy_setopt(e, CURLOPT_XOAUTH2_BEARER, req->bearer);
    }
    return 0;
}

int hk_http(hk_t *h, const hk_http_req_t *req, hk_done_fn done, void *arg, char *err, size_t errlen)
{
    hk__http_t *j;
    CURLMcode mc;
    int rc;

    if (h->closing || !req->url) {
        snprintf(err, errlen, "http: %s", h->closing ? "closing" : "no url");
        return GW_EINVAL;
    }
    rc = hk__http_start(h, err, errlen);
    if (rc != 0)
        return rc;
    j = calloc(1, sizeof(*j));
    if (!j)
        goto out_nomem;
    j->h = h;
    j->done = done;
    j->arg = arg;
    j->body = strdup(req->body ? req->body : "");
    j->easy = hk__curl.easy_init();
    j->next = h->https;
    h->https = j;
    if (!j->body || !j->easy || hk__http_setup(j, req) != 0) {
        hk__http_free(j);
        goto out_nomem;
    }
    mc = hk__curl.multi_add_handle(h->multi, j->easy);
    if (mc != CURLM_OK) {
        snprintf(err, errlen, "http: %s", hk__curl.multi_strerror(mc));
        hk__http_free(j);
        return GW_EIO;
    }
    h->inflight++;
    return 0;

out_nomem:
    snprintf(err, errlen, "http: out of memory");
    return GW_ENOMEM;
}

void hk__close_https(hk_t *h)
{
    while (h->https) {
        hk__http_t *j = h->https;
        hk_done_fn done = j->done;
        void *arg = j->arg;
        hk__http_free(j);
        h->inflight--;
        done(arg, 0, "closed");
    }
    /* Removing the handles made curl release its sockets (our polls close);
     * the multi handle itself goes now. */
    if (h->multi)
        hk__curl.multi_cleanup(h->multi);
    h->multi = NULL;
    uv_timer_stop(&h->curl_timer);
    uv_close((uv_handle_t *)&h->curl_timer, hk__timer_closed);
}
