/*
 * gw_sbuf.h: a growing string, for text built piece by piece (reports,
 * HTML, SVG, mail messages).
 *
 * Appends never fail loudly: the first allocation failure sets oom, every
 * later append is skipped, and gw_sbuf_take returns NULL, so that a
 * builder checks once at the end instead of after every line.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_SBUF_H
#define PLANTROOM_GW_SBUF_H

#include <stddef.h>

typedef struct gw_sbuf {
    char *s;    /* NUL-terminated once anything was appended; NULL before */
    size_t len; /* bytes, without the NUL */
    size_t cap;
    int oom; /* an append could not allocate: the text is incomplete */
} gw_sbuf_t;

/* Append formatted text / a string / n bytes. */
void gw_sbuf_printf(gw_sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gw_sbuf_puts(gw_sbuf_t *b, const char *s);
void gw_sbuf_putn(gw_sbuf_t *b, const char *s, size_t n);
/* Append s (NULL: nothing) escaped for XML and HTML text and attribute
 * values: & < > " ' become entities; control characters other than tab
 * and newline are dropped (XML 1.0 forbids them). */
void gw_sbuf_escape(gw_sbuf_t *b, const char *s);
/* The text (malloc'd, the caller frees; "" when nothing was appended), and
 * b emptied. NULL, with b freed, when an append ran out of memory. */
char *gw_sbuf_take(gw_sbuf_t *b);
/* Free the text and empty b. */
void gw_sbuf_free(gw_sbuf_t *b);

#endif
