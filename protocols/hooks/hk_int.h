/*
 * hk_int.h: the hook runner's state, shared by hk.c (life cycle), hk_exec.c
 * (child processes) and hk_http.c (libcurl multi on the loop). hk.c calls
 * the other two; they never call hk.c: what they need of the runner (its
 * reference count) is here. The contract is protocols/hooks/hk.h; the
 * design is docs/hooks.md.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_HK_INT_H
#define PLANTROOM_HK_INT_H

#include "protocols/hooks/hk.h"

#include <curl/curl.h>
#include <stdlib.h>

typedef struct hk__exec hk__exec_t;
typedef struct hk__http hk__http_t;

/* Who owns what: hk_t owns the multi handle, its timer, every job in the two
 * lists and every socket context; it is freed when refs drops to 0 after
 * hk_close (the curl timer and each live exec job hold one ref, dropped in
 * their close callbacks). */
struct hk {
    uv_loop_t *loop;
    CURLM *multi; /* NULL until the first webhook */
    uv_timer_t curl_timer;
    hk__exec_t *execs;
    hk__http_t *https;
    size_t inflight;
    int closing;
    int refs;
};

/* Drop one reference; the last one frees h. */
static inline void hk__unref(hk_t *h)
{
    if (--h->refs == 0)
        free(h);
}

/* At hk_close: report every job in flight as failed ("closed") and close
 * its handles; for HTTP also the multi handle and the curl timer. */
void hk__close_execs(hk_t *h);
void hk__close_https(hk_t *h);
/* The curl timer (which takes a reference on h). libcurl and the multi
 * handle start at the first webhook (hk_http), so a process that sends none
 * does not initialise OpenSSL for it. */
int hk__http_init(hk_t *h, char *err, size_t errlen);

/* libcurl's functions that hk_http.c calls, from libcurl.so.4 loaded at
 * the first webhook (hk_curl.c): a process that sends none never maps it. */
typedef struct hk__curl_api {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *e, CURLoption o, ...);
    CURLcode (*easy_getinfo)(CURL *e, CURLINFO i, ...);
    const char *(*easy_strerror)(CURLcode c);
    void (*easy_cleanup)(CURL *e);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_setopt)(CURLM *m, CURLMoption o, ...);
    CURLMcode (*multi_add_handle)(CURLM *m, CURL *e);
    CURLMcode (*multi_remove_handle)(CURLM *m, CURL *e);
    CURLMcode (*multi_assign)(CURLM *m, curl_socket_t s, void *p);
    CURLMcode (*multi_socket_action)(CURLM *m, curl_socket_t s, int ev, int *running);
    CURLMsg *(*multi_info_read)(CURLM *m, int *left);
    const char *(*multi_strerror)(CURLMcode c);
    CURLMcode (*multi_cleanup)(CURLM *m);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
} hk__curl_api_t;

/* Filled by hk__curl_load; valid once it returned 0. */
extern hk__curl_api_t hk__curl;
/* Load libcurl.so.4 and its functions, once per process. 0, or GW_ENOENT
 * with the reason (the library or a function missing) in err. */
int hk__curl_load(char *err, size_t errlen);

#endif
