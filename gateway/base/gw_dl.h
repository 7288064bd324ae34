/*
 * gw_dl.h: load an optional library at first use (dlopen) and fill a table
 * of its functions, with an error that names the library, the Debian
 * package that ships it and what needs it. Used for libraries that only
 * some sites need and that would map dozens of others into every process
 * if linked (libcurl for webhooks, libmicrohttpd for the metrics endpoint;
 * docs/performance.md, "The full pipeline").
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_DL_H
#define PLANTROOM_GW_DL_H

#include <stddef.h>

/* Open soname (RTLD_NOW | RTLD_LOCAL) and look up each of names[0..n-1]
 * into syms[0..n-1]. On success returns the handle (the caller keeps it:
 * the library stays loaded) and every syms[i] is set. On failure returns
 * NULL, leaves nothing open and writes into err "<what>: <soname> (Debian
 * package <package>) cannot be loaded: <dlerror>" or "<what>: <soname> has
 * no <name>"; what names the feature, e.g. "http (webhooks)". */
void *gw_dl_load(const char *soname, const char *package, const char *what,
                 const char *const *names, size_t n, void **syms, char *err, size_t errlen);

#endif
