/*
 * hk_curl.c: libcurl, loaded at the first webhook (dlopen), not linked.
 *
 * Linking libcurl maps it and some thirty libraries of its own (GnuTLS,
 * Kerberos, LDAP, libssh2, nghttp2, ...) into every plantroomd at start:
 * about 4 MB of resident memory on Debian 12, for a feature that a site
 * without "http" hooks never uses (docs/performance.md, "The full
 * pipeline"). hk_http.c calls libcurl through the table here, filled once
 * by hk__curl_load. The headers (curl/curl.h) are the build's; the library
 * is the ABI of libcurl.so.4 (Debian's libcurl4, which the package
 * depends on).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_types.h"
#include "protocols/hooks/hk_int.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define HK__CURL_SONAME "libcurl.so.4"

hk__curl_api_t hk__curl;

static const struct {
    const char *name;
    size_t off;
} curl_syms[] = {
    {"curl_global_init", offsetof(hk__curl_api_t, global_init)},
    {"curl_easy_init", offsetof(hk__curl_api_t, easy_init)},
    {"curl_easy_setopt", offsetof(hk__curl_api_t, easy_setopt)},
    {"curl_easy_getinfo", offsetof(hk__curl_api_t, easy_getinfo)},
    {"curl_easy_strerror", offsetof(hk__curl_api_t, easy_strerror)},
    {"curl_easy_cleanup", offsetof(hk__curl_api_t, easy_cleanup)},
    {"curl_multi_init", offsetof(hk__curl_api_t, multi_init)},
    {"curl_multi_setopt", offsetof(hk__curl_api_t, multi_setopt)},
    {"curl_multi_add_handle", offsetof(hk__curl_api_t, multi_add_handle)},
    {"curl_multi_remove_handle", offsetof(hk__curl_api_t, multi_remove_handle)},
    {"curl_multi_assign", offsetof(hk__curl_api_t, multi_assign)},
    {"curl_multi_socket_action", offsetof(hk__curl_api_t, multi_socket_action)},
    {"curl_multi_info_read", offsetof(hk__curl_api_t, multi_info_read)},
    {"curl_multi_strerror", offsetof(hk__curl_api_t, multi_strerror)},
    {"curl_multi_cleanup", offsetof(hk__curl_api_t, multi_cleanup)},
    {"curl_slist_append", offsetof(hk__curl_api_t, slist_append)},
    {"curl_slist_free_all", offsetof(hk__curl_api_t, slist_free_all)},
};

int hk__curl_load(char *err, size_t errlen)
{
    static void *lib;
    hk__curl_api_t api;
    void *dl;

    if (lib)
        return 0;
    dl = dlopen(HK__CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(err, errlen,
                 "http: webhooks need libcurl (" HK__CURL_SONAME
                 ", Debian package libcurl4), which cannot be loaded: %s",
                 dlerror());
        return GW_ENOENT;
    }
    memset(&api, 0, sizeof(api));
    for (size_t i = 0; i < sizeof(curl_syms) / sizeof(curl_syms[0]); i++) {
        void *sym = dlsym(dl, curl_syms[i].name);
        if (!sym) {
            snprintf(err, errlen, "http: " HK__CURL_SONAME " has no %s: %s", curl_syms[i].name,
                     dlerror());
            dlclose(dl);
            return GW_ENOENT;
        }
        memcpy((char *)&api + curl_syms[i].off, &sym, sizeof(sym));
    }
    hk__curl = api;
    lib = dl; /* kept loaded: curl_global_init runs once per process */
    return 0;
}
