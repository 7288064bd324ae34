/*
 * gw_json.h: typed, validated reads of cJSON objects for config and profiles.
 *
 * Each getter reads obj[key], checks type and bounds, and on a problem adds
 * an error naming "<path>.<key>" and the reason to el, leaving *dst at the
 * default. Returns 1 when the key was present and valid, 0 when absent (the
 * default applies), -1 on error. Never atoi: numbers must be JSON numbers,
 * and integers must be whole.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_JSON_H
#define PLANTROOM_GW_JSON_H

#include "gateway/base/gw_errlist.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* A string of at most dstlen - 1 bytes. */
int gw_json_str(const cJSON *obj, const char *key, const char *path, char *dst, size_t dstlen,
                const char *def, int required, gw_errlist_t *el);
/* A string of at most max_chars characters (UTF-8 code points, what
 * docs/configuration.md means by "chars": a 54-character Chinese title is
 * 162 bytes), into dst of dstlen bytes (at least 4 * max_chars + 1, so that
 * any such string fits). */
int gw_json_str_chars(const cJSON *obj, const char *key, const char *path, char *dst, size_t dstlen,
                      size_t max_chars, const char *def, int required, gw_errlist_t *el);
/* The characters (UTF-8 code points: bytes that do not continue a
 * sequence) of s. */
size_t gw_utf8_chars(const char *s);
int gw_json_int(const cJSON *obj, const char *key, const char *path, long long *dst, long long def,
                long long min, long long max, int required, gw_errlist_t *el);
/* As gw_json_int, into an int (bounds must fit an int). */
int gw_json_int_to(const cJSON *obj, const char *key, const char *path, int *dst, int def, int min,
                   int max, int required, gw_errlist_t *el);
int gw_json_num(const cJSON *obj, const char *key, const char *path, double *dst, double def,
                int required, gw_errlist_t *el);
int gw_json_bool(const cJSON *obj, const char *key, const char *path, int *dst, int def,
                 gw_errlist_t *el);
/* Add an error for every key of obj not in allowed (NULL-terminated). */
void gw_json_check_keys(const cJSON *obj, const char *path, const char *const *allowed,
                        gw_errlist_t *el);
/* "a string", "a number", ... for error messages; "nothing" for NULL. */
const char *gw_json_type_name(const cJSON *it);
/* Build "<path>.<key>" or "<path>[<i>]" into buf. Returns buf. */
char *gw_json_path_key(char *buf, size_t len, const char *path, const char *key);
char *gw_json_path_idx(char *buf, size_t len, const char *path, int idx);
/* Read a whole file and parse it. On failure adds "<file>: ..." with the
 * line and column of a syntax error, and returns NULL. */
cJSON *gw_json_parse_file(const char *file, gw_errlist_t *el);

/* Add key to o: wall_ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (gw_format_iso8601),
 * or null when wall_ms <= 0 (no such time). */
void gw_json_add_time(cJSON *o, const char *key, int64_t wall_ms);

/* ---- untrusted input (payloads, request lines) -------------------------- */

/* Why gw_json_parse_strict refused a text. */
typedef enum gw_json_refusal {
    GW_JSON_OK = 0,
    GW_JSON_EMPTY,    /* no bytes, or only white space */
    GW_JSON_TOO_LONG, /* more than max_len bytes */
    GW_JSON_TOO_DEEP, /* arrays and objects nested deeper than max_depth */
    GW_JSON_SYNTAX,   /* not JSON */
    GW_JSON_TRAILING, /* one JSON value, then more than white space */
} gw_json_refusal_t;

/* Parse text[0, len) as exactly one JSON value: refused when empty, longer
 * than max_len, nested deeper than max_depth (counted before parsing, so a
 * deep text costs no recursion), not JSON, or followed by anything but
 * white space (a NUL byte included). Returns the value (the caller frees it
 * with cJSON_Delete), or NULL with *why set and a one-line reason in msg
 * (may be NULL). Never reads past len. */
cJSON *gw_json_parse_strict(const char *text, size_t len, size_t max_len, int max_depth,
                            gw_json_refusal_t *why, char *msg, size_t msglen);

/* A whole number in [lo, hi] (|lo|, |hi| at most 2^53) held by a JSON number,
 * checked before any cast: 0 with *out set; -1 not a number, -2 not whole
 * (or not finite), -3 outside [lo, hi]. it may be NULL (-1). */
int gw_json_whole(const cJSON *it, long long lo, long long hi, long long *out);

#endif
