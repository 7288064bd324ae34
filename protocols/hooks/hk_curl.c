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
#include "gateway/base/gw_dl.h"
#include "gateway/base/gw_types.h"
#include "protocols/hooks/hk_int.h"

#include <stdio.h>
#include <string.h>

#define HK__CURL_SONAME "libcurl.so.4"

hk__curl_api_t hk__curl;

/* The names of hk__curl_api_t's members, in their order. */
static const char *const curl_names[] = {
    "curl_global_init",         "curl_easy_init",      "curl_easy_setopt",
    "curl_easy_getinfo",        "curl_easy_strerror",  "curl_easy_cleanup",
    "curl_multi_init",          "curl_multi_setopt",   "curl_multi_add_handle",
    "curl_multi_remove_handle", "curl_multi_assign",   "curl_multi_socket_action",
    "curl_multi_info_read",     "curl_multi_strerror", "curl_multi_cleanup",
    "curl_slist_append",        "curl_slist_free_all",
};

int hk__curl_load(char *err, size_t errlen)
{
    static void *lib;
    void *syms[sizeof(curl_names) / sizeof(curl_names[0])];
    hk__curl_api_t api;
    void *dl;

    _Static_assert(sizeof(api) == sizeof(syms), "one pointer per name");
    if (lib)
        return 0;
    dl = gw_dl_load(HK__CURL_SONAME, "libcurl4", "http (webhooks)", curl_names,
                    sizeof(curl_names) / sizeof(curl_names[0]), syms, err, errlen);
    if (!dl)
        return GW_ENOENT;
    memcpy(&api, syms, sizeof(api));
    hk__curl = api;
    lib = dl; /* kept loaded: curl_global_init runs once per process */
    return 0;
}
