/*
 * hk.c: the hook runner's life cycle (hk.h). Child processes are in
 * hk_exec.c, HTTP (with the curl timer) in hk_http.c; this file calls both,
 * they do not call it (hk_int.h). Design: docs/hooks.md.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/hooks/hk_int.h"

#include "gateway/base/gw_types.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hk_create(hk_t **out, uv_loop_t *loop, char *err, size_t errlen)
{
    hk_t *h = calloc(1, sizeof(*h));
    int rc;

    *out = NULL;
    if (!h) {
        snprintf(err, errlen, "hooks: out of memory");
        return GW_ENOMEM;
    }
    signal(SIGPIPE, SIG_IGN);
    h->loop = loop;
    rc = hk__http_init(h, err, errlen);
    if (rc != 0) {
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void hk_close(hk_t *h)
{
    if (!h || h->closing)
        return;
    h->closing = 1;
    hk__close_https(h);
    hk__close_execs(h);
}

size_t hk_inflight(const hk_t *h)
{
    return h ? h->inflight : 0;
}

char *hk_urlencode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *p = out;

    if (!out)
        return NULL;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p = '\0';
    return out;
}
