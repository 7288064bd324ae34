/*
 * svc_http.c: the Prometheus endpoint (gw_metrics.h): libmicrohttpd with
 * its own polling thread, on a listening socket we bind ourselves (so a
 * port in use is reported with its errno). The HTTP thread reads only
 * m->text, under m->mu; the loop replaces that text once a second.
 * libmicrohttpd is not linked but loaded when the endpoint starts
 * (dlopen): linked, it maps GnuTLS, p11-kit and nettle into every
 * plantroomd, about 3 MB resident, for a site without service.http
 * (docs/performance.md, "The full pipeline").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_dl.h"
#include "gateway/base/gw_types.h"
#include "gateway/service/gw_metrics.h"

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

/* ---- the HTTP endpoint (its own thread) -------------------------------- */

struct gw_metrics {
    struct MHD_Daemon *mhd;
    pthread_mutex_t mu; /* guards text */
    char *text;         /* the last snapshot; NULL before the first */
};

#define HTTP__MHD_SONAME "libmicrohttpd.so.12"

/* The functions of libmicrohttpd used here, loaded once (http__load). */
static struct {
    struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
                                       MHD_AcceptPolicyCallback apc, void *apc_cls,
                                       MHD_AccessHandlerCallback dh, void *dh_cls, ...);
    void (*stop_daemon)(struct MHD_Daemon *d);
    struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
                                                        enum MHD_ResponseMemoryMode mode);
    enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *header,
                                           const char *content);
    enum MHD_Result (*queue_response)(struct MHD_Connection *c, unsigned int status_code,
                                      struct MHD_Response *r);
    void (*destroy_response)(struct MHD_Response *r);
} mhd_fn;

/* Load libmicrohttpd, once per process (it stays loaded). 0, or GW_ENOENT
 * with the reason in err. */
static int http__load(char *err, size_t errlen)
{
    static const char *const names[] = {
        "MHD_start_daemon",        "MHD_stop_daemon",    "MHD_create_response_from_buffer",
        "MHD_add_response_header", "MHD_queue_response", "MHD_destroy_response"};
    static void *lib;
    void *syms[sizeof(names) / sizeof(names[0])];
    void *dl;

    if (lib)
        return 0;
    dl = gw_dl_load(HTTP__MHD_SONAME, "libmicrohttpd12", "metrics (HTTP endpoint)", names,
                    sizeof(names) / sizeof(names[0]), syms, err, errlen);
    if (!dl)
        return GW_ENOENT;
    _Static_assert(sizeof(mhd_fn) == sizeof(syms), "one pointer per name");
    memcpy(&mhd_fn, syms, sizeof(syms));
    lib = dl;
    return 0;
}

static enum MHD_Result http__reply(struct MHD_Connection *conn, unsigned status, const char *body,
                                   size_t len, int copy)
{
    struct MHD_Response *r = mhd_fn.create_response_from_buffer(
        len, (void *)body, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ok;

    if (!r)
        return MHD_NO;
    mhd_fn.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                               status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
                                                     : "text/plain; charset=utf-8");
    ok = mhd_fn.queue_response(conn, status, r);
    mhd_fn.destroy_response(r);
    return ok;
}

static enum MHD_Result http__handler(void *cls, struct MHD_Connection *conn, const char *url,
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
        return http__reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, sizeof(not_allowed) - 1,
                           1);
    if (strcmp(url, "/metrics") != 0)
        return http__reply(conn, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1, 1);
    pthread_mutex_lock(&m->mu);
    if (m->text) {
        len = strlen(m->text);
        copy = malloc(len + 1);
        if (copy)
            memcpy(copy, m->text, len + 1);
    }
    pthread_mutex_unlock(&m->mu);
    if (!copy)
        return http__reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, not_ready, sizeof(not_ready) - 1, 1);
    return http__reply(conn, MHD_HTTP_OK, copy, len, 0);
}

/* Bind and listen ourselves, so that errors name their cause. */
static int http__listen(const char *address, int port, int *fd_out, char *err, size_t errlen)
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
    rc = http__load(err, errlen);
    if (rc == 0)
        rc = http__listen(address, port, &fd, err, errlen);
    if (rc != 0)
        goto out_free;
    m->mhd = mhd_fn.start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | (strchr(address, ':') ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
        http__handler, m, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
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
    mhd_fn.stop_daemon(m->mhd); /* joins the HTTP thread, closes the socket */
    pthread_mutex_destroy(&m->mu);
    free(m->text);
    free(m);
}
