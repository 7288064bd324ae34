/*
 * gw_json.c: typed, validated cJSON reads with path-naming errors (gw_json.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/base/gw_clock.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *gw_json_path_key(char *buf, size_t len, const char *path, const char *key)
{
    if (path && *path)
        snprintf(buf, len, "%s.%s", path, key);
    else
        snprintf(buf, len, "%s", key);
    return buf;
}

char *gw_json_path_idx(char *buf, size_t len, const char *path, int idx)
{
    snprintf(buf, len, "%s[%d]", path ? path : "", idx);
    return buf;
}

const char *gw_json_type_name(const cJSON *it)
{
    if (!it)
        return "nothing";
    if (cJSON_IsString(it))
        return "a string";
    if (cJSON_IsNumber(it))
        return "a number";
    if (cJSON_IsBool(it))
        return "a boolean";
    if (cJSON_IsNull(it))
        return "null";
    if (cJSON_IsArray(it))
        return "an array";
    if (cJSON_IsObject(it))
        return "an object";
    return "invalid";
}

static const cJSON *json__get(const cJSON *obj, const char *key, const char *path, int required,
                              gw_errlist_t *el)
{
    char p[256];
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

    if (!it && required)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key), "is required");
    return it;
}

int gw_json_str(const cJSON *obj, const char *key, const char *path, char *dst, size_t dstlen,
                const char *def, int required, gw_errlist_t *el)
{
    char p[256];
    const cJSON *it = json__get(obj, key, path, required, el);

    if (def)
        snprintf(dst, dstlen, "%s", def);
    else if (dstlen)
        dst[0] = '\0';
    if (!it)
        return required ? -1 : 0;
    if (!cJSON_IsString(it)) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key), "must be a string, got %s",
                       gw_json_type_name(it));
        return -1;
    }
    if (strlen(it->valuestring) >= dstlen) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key),
                       "too long: at most %zu bytes, got %zu", dstlen - 1, strlen(it->valuestring));
        return -1;
    }
    snprintf(dst, dstlen, "%s", it->valuestring);
    return 1;
}

size_t gw_utf8_chars(const char *s)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

int gw_json_str_chars(const cJSON *obj, const char *key, const char *path, char *dst, size_t dstlen,
                      size_t max_chars, const char *def, int required, gw_errlist_t *el)
{
    char p[256];
    const cJSON *it = json__get(obj, key, path, 0, NULL);
    size_t n;

    if (it && cJSON_IsString(it) && (n = gw_utf8_chars(it->valuestring)) > max_chars) {
        if (def)
            snprintf(dst, dstlen, "%s", def);
        else if (dstlen)
            dst[0] = '\0';
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key),
                       "too long: at most %zu characters, got %zu", max_chars, n);
        return -1;
    }
    return gw_json_str(obj, key, path, dst, dstlen, def, required, el);
}

int gw_json_int(const cJSON *obj, const char *key, const char *path, long long *dst, long long def,
                long long min, long long max, int required, gw_errlist_t *el)
{
    char p[256];
    const cJSON *it = json__get(obj, key, path, required, el);
    double v;

    *dst = def;
    if (!it)
        return required ? -1 : 0;
    gw_json_path_key(p, sizeof(p), path, key);
    if (!cJSON_IsNumber(it)) {
        gw_errlist_add(el, p, "must be an integer, got %s", gw_json_type_name(it));
        return -1;
    }
    v = it->valuedouble;
    if (!isfinite(v) || v != floor(v)) {
        gw_errlist_add(el, p, "must be an integer, got %g", v);
        return -1;
    }
    if (v < (double)min) {
        gw_errlist_add(el, p, "must be at least %lld, got %.0f", min, v);
        return -1;
    }
    if (v > (double)max) {
        gw_errlist_add(el, p, "must be at most %lld, got %.0f", max, v);
        return -1;
    }
    *dst = (long long)v;
    return 1;
}

int gw_json_int_to(const cJSON *obj, const char *key, const char *path, int *dst, int def, int min,
                   int max, int required, gw_errlist_t *el)
{
    long long v;
    int rc = gw_json_int(obj, key, path, &v, def, min, max, required, el);

    *dst = (int)v;
    return rc;
}

int gw_json_num(const cJSON *obj, const char *key, const char *path, double *dst, double def,
                int required, gw_errlist_t *el)
{
    char p[256];
    const cJSON *it = json__get(obj, key, path, required, el);

    *dst = def;
    if (!it)
        return required ? -1 : 0;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key), "must be a number, got %s",
                       gw_json_type_name(it));
        return -1;
    }
    *dst = it->valuedouble;
    return 1;
}

int gw_json_bool(const cJSON *obj, const char *key, const char *path, int *dst, int def,
                 gw_errlist_t *el)
{
    char p[256];
    const cJSON *it = json__get(obj, key, path, 0, el);

    *dst = def;
    if (!it)
        return 0;
    if (!cJSON_IsBool(it)) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key),
                       "must be true or false, got %s", gw_json_type_name(it));
        return -1;
    }
    *dst = cJSON_IsTrue(it) ? 1 : 0;
    return 1;
}

void gw_json_check_keys(const cJSON *obj, const char *path, const char *const *allowed,
                        gw_errlist_t *el)
{
    const cJSON *it;
    char p[256];

    cJSON_ArrayForEach(it, obj)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) {
            if (it->string && strcmp(it->string, *a) == 0) {
                ok = 1;
                break;
            }
        }
        if (!ok)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, it->string ? it->string : "?"),
                           "unknown key");
    }
}

/* Line and column of byte offset off in text, for syntax errors. */
static void json__line_col(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

cJSON *gw_json_parse_file(const char *file, gw_errlist_t *el)
{
    FILE *f = fopen(file, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    cJSON *root = NULL;
    const char *end = NULL;

    if (!f) {
        gw_errlist_add(el, file, "cannot open: %s", strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *t = realloc(text, cap + 65536);
            if (!t) {
                gw_errlist_add(el, file, "out of memory");
                goto out_close;
            }
            text = t;
            cap += 65536;
        }
        n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len > 16 * 1024 * 1024) {
            gw_errlist_add(el, file, "larger than 16 MiB");
            goto out_close;
        }
    }
    if (ferror(f)) {
        gw_errlist_add(el, file, "read error: %s", strerror(errno));
        goto out_close;
    }
    text[len] = '\0';
    root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        int line, col;
        json__line_col(text, end ? (size_t)(end - text) : 0, &line, &col);
        gw_errlist_add(el, file, "JSON syntax error at line %d, column %d", line, col);
    }
out_close:
    fclose(f);
    free(text);
    return root;
}

/* ---- untrusted input ---------------------------------------------------- */

/* The nesting depth of text, counted outside strings; stops counting once
 * past max (returns max + 1). */
static int json__depth(const char *text, size_t len, int max)
{
    int depth = 0, top = 0, in_str = 0;

    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (ch == '\\')
                i++; /* the escaped byte cannot end the string */
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        if (ch == '"') {
            in_str = 1;
        } else if (ch == '[' || ch == '{') {
            if (++depth > top)
                top = depth;
            if (top > max)
                return max + 1;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return top;
}

static int json__space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

cJSON *gw_json_parse_strict(const char *text, size_t len, size_t max_len, int max_depth,
                            gw_json_refusal_t *why, char *msg, size_t msglen)
{
    const char *end = NULL;
    size_t start = 0;
    cJSON *v;

    *why = GW_JSON_OK;
    while (start < len && json__space(text[start]))
        start++;
    if (start == len) {
        *why = GW_JSON_EMPTY;
        if (msg)
            snprintf(msg, msglen, "empty");
        return NULL;
    }
    if (len > max_len) {
        *why = GW_JSON_TOO_LONG;
        if (msg)
            snprintf(msg, msglen, "too long: %zu bytes, at most %zu", len, max_len);
        return NULL;
    }
    if (json__depth(text, len, max_depth) > max_depth) {
        *why = GW_JSON_TOO_DEEP;
        if (msg)
            snprintf(msg, msglen, "nested deeper than %d levels", max_depth);
        return NULL;
    }
    v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!v) {
        const char *at = cJSON_GetErrorPtr();
        *why = GW_JSON_SYNTAX;
        if (msg)
            snprintf(msg, msglen, "not JSON (near byte %zu)",
                     at && at >= text && at <= text + len ? (size_t)(at - text) : (size_t)0);
        return NULL;
    }
    /* cJSON stops after the first value: anything but white space after it
     * is refused, so that one payload is never read two ways. */
    for (size_t i = end && end >= text ? (size_t)(end - text) : len; i < len; i++) {
        if (!json__space(text[i])) {
            cJSON_Delete(v);
            *why = GW_JSON_TRAILING;
            if (msg)
                snprintf(msg, msglen, "trailing data after the JSON value (at byte %zu)", i);
            return NULL;
        }
    }
    return v;
}

int gw_json_whole(const cJSON *it, long long lo, long long hi, long long *out)
{
    double v;

    if (!cJSON_IsNumber(it))
        return -1;
    v = it->valuedouble;
    if (!isfinite(v) || v != floor(v))
        return -2;
    if (v < (double)lo || v > (double)hi)
        return -3;
    *out = (long long)v;
    return 0;
}

void gw_json_add_time(cJSON *o, const char *key, int64_t wall_ms)
{
    char ts[32];

    if (wall_ms > 0)
        cJSON_AddStringToObject(o, key, gw_format_iso8601(wall_ms, ts, sizeof(ts)));
    else
        cJSON_AddNullToObject(o, key);
}
