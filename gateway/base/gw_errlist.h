/*
 * gw_errlist.h: a list of error messages, each naming where the problem is.
 *
 * Config and profile validation do not stop at the first problem: they add
 * every error here ("devices[2].interval_ms: must be at least 50, got 5") so
 * that an installer fixes a file in one pass.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_ERRLIST_H
#define PLANTROOM_GW_ERRLIST_H

#include <stddef.h>

typedef struct gw_errlist {
    char **msgs;
    size_t n;
    size_t cap;
} gw_errlist_t;

void gw_errlist_init(gw_errlist_t *el);
/* Add "<path>: <formatted reason>" (path may be NULL or ""). */
void gw_errlist_add(gw_errlist_t *el, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gw_errlist_free(gw_errlist_t *el);

#endif
