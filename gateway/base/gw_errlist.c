/*
 * gw_errlist.c: collected validation errors (gw_errlist.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_errlist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gw_errlist_init(gw_errlist_t *el)
{
    el->msgs = NULL;
    el->n = el->cap = 0;
}

void gw_errlist_add(gw_errlist_t *el, const char *path, const char *fmt, ...)
{
    char reason[512], *line;
    size_t len;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (el->n == el->cap) {
        size_t cap = el->cap ? el->cap * 2 : 8;
        char **m = realloc(el->msgs, cap * sizeof(*m));
        if (!m)
            return; /* out of memory: the errors already listed still stand */
        el->msgs = m;
        el->cap = cap;
    }
    len = strlen(reason) + (path ? strlen(path) : 0) + 3;
    line = malloc(len);
    if (!line)
        return;
    if (path && *path)
        snprintf(line, len, "%s: %s", path, reason);
    else
        snprintf(line, len, "%s", reason);
    el->msgs[el->n++] = line;
}

void gw_errlist_free(gw_errlist_t *el)
{
    for (size_t i = 0; i < el->n; i++)
        free(el->msgs[i]);
    free(el->msgs);
    gw_errlist_init(el);
}
