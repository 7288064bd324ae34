/*
 * gw_sbuf.c: the growing string (gw_sbuf.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL; 0, or -1 (oom set). */
static int sbuf__reserve(gw_sbuf_t *b, size_t n)
{
    size_t cap;
    char *g;

    if (b->oom)
        return -1;
    if (b->s && b->len + n < b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap <= b->len + n)
        cap *= 2;
    g = realloc(b->s, cap);
    if (!g) {
        b->oom = 1;
        return -1;
    }
    b->s = g;
    b->cap = cap;
    return 0;
}

void gw_sbuf_putn(gw_sbuf_t *b, const char *s, size_t n)
{
    if (sbuf__reserve(b, n) < 0)
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void gw_sbuf_puts(gw_sbuf_t *b, const char *s)
{
    if (s)
        gw_sbuf_putn(b, s, strlen(s));
}

void gw_sbuf_printf(gw_sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (sbuf__reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void gw_sbuf_escape(gw_sbuf_t *b, const char *s)
{
    const char *run = s;

    if (!s)
        return;
    for (; *s; s++) {
        const char *ent = NULL;
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            ent = "&amp;";
            break;
        case '<':
            ent = "&lt;";
            break;
        case '>':
            ent = "&gt;";
            break;
        case '"':
            ent = "&quot;";
            break;
        case '\'':
            ent = "&#39;";
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n')
                ent = "";
            break;
        }
        if (!ent)
            continue;
        gw_sbuf_putn(b, run, (size_t)(s - run));
        gw_sbuf_puts(b, ent);
        run = s + 1;
    }
    gw_sbuf_putn(b, run, (size_t)(s - run));
}

char *gw_sbuf_take(gw_sbuf_t *b)
{
    char *s;

    if (b->oom) {
        gw_sbuf_free(b);
        return NULL;
    }
    s = b->s ? b->s : strdup("");
    memset(b, 0, sizeof(*b));
    return s;
}

void gw_sbuf_free(gw_sbuf_t *b)
{
    free(b->s);
    memset(b, 0, sizeof(*b));
}
