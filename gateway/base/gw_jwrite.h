/*
 * gw_jwrite.h: JSON written straight into a reusable buffer, without a
 * tree, for messages sent often (telemetry: docs/performance.md, "The full
 * pipeline"). The output is byte for byte what cJSON_PrintUnformatted
 * (cJSON 1.7.15, Debian 12) prints for the same members in the same order:
 * strings escaped as cJSON does, numbers as cJSON prints them (gw_jw_number).
 * The buffer grows while it must and is kept: once it has the size of the
 * largest message, writing allocates nothing. Not thread-safe: one writer
 * per user.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_JWRITE_H
#define PLANTROOM_GW_JWRITE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct gw_jw {
    char *buf;  /* NUL-terminated after each write; owned */
    size_t len; /* bytes written since gw_jw_reset */
    size_t cap;
    int oom; /* a write did not fit and could not grow: the text is incomplete */
} gw_jw_t;

/* An empty writer (no allocation yet); gw_jw_free releases its buffer. */
void gw_jw_init(gw_jw_t *w);
void gw_jw_free(gw_jw_t *w);
/* Start a new text, keeping the buffer. */
void gw_jw_reset(gw_jw_t *w);
/* Room for n more bytes (and the NUL). 0, or GW_ENOMEM (w->oom set). */
int gw_jw_reserve(gw_jw_t *w, size_t n);

/* Room for n more bytes (and the NUL) at the end of the text: where to
 * write them, or NULL (w->oom set). Write at most n bytes from there and
 * end with gw_jw_commit; gw_jw_put_* write into such room, unchecked. For
 * a writer that appends many small pieces at once (a telemetry point)
 * with one check of the room instead of one per piece. */
char *gw_jw_room(gw_jw_t *w, size_t n);
/* End a write into the room: the text now ends at o (NUL-terminated). */
void gw_jw_commit(gw_jw_t *w, char *o);
/* Write s (n bytes) as it is at o; returns the end. */
static inline char *gw_jw_put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}
#define gw_jw_put_lit(o, lit) gw_jw_put((o), (lit), sizeof(lit) - 1)
/* Write s (n bytes, no NUL inside) as a JSON string at o, as gw_jw_str
 * does; at most 6 n + 2 bytes. Returns the end. */
char *gw_jw_put_str(char *o, const char *s, size_t n);

/* Append n bytes as they are. */
void gw_jw_raw(gw_jw_t *w, const char *s, size_t n);
/* Append a string literal as it is. */
#define gw_jw_lit(w, lit) gw_jw_raw((w), (lit), sizeof(lit) - 1)
/* Append s as a JSON string: quotes, and the escapes cJSON writes (\" \\
 * \b \f \n \r \t, \u00xx below 0x20; every other byte as it is). */
void gw_jw_str(gw_jw_t *w, const char *s);
/* Append d as cJSON prints a number (gw_jw_number). */
void gw_jw_num(gw_jw_t *w, double d);

/* d as cJSON 1.7.15 prints it, into buf (at least GW_JW_NUM_MAX bytes,
 * NUL-terminated): "null" for NaN and the infinities; else "%1.15g" when
 * that text reads back within DBL_EPSILON (relative) of d, else "%1.17g".
 * Integers below 1e15 and values that a decimal of at most 15 significant
 * digits between 1e-4 and 1e15 reads back to exactly (readings with a
 * decimal scale: 44.2, 0.05) are written from integer arithmetic, without
 * printf or strtod; the rest takes cJSON's own way. Returns the length. */
#define GW_JW_NUM_MAX 32
size_t gw_jw_number(char *buf, double d);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, like gw_format_iso8601) of wall_ms,
 * remembering the last one: the same time again costs a copy, another time
 * of the same day formats the time of day only; no locale, no TZ, no
 * gmtime. Years 0..9999; outside them it calls gw_format_iso8601. */
typedef struct gw_jw_time {
    int64_t ms;  /* the time in text; INT64_MIN: none yet */
    int64_t day; /* days since the epoch of date */
    char date[11];
    char text[32];
    size_t len;
} gw_jw_time_t;

void gw_jw_time_init(gw_jw_time_t *t);
const char *gw_jw_time(gw_jw_time_t *t, int64_t wall_ms);

#endif
