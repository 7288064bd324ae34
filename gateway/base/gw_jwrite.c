/*
 * gw_jwrite.c: JSON written straight into a reusable buffer (gw_jwrite.h),
 * equal byte for byte to what cJSON 1.7.15 prints.
 *
 * Numbers: cJSON prints "%1.15g", reads it back with sscanf and keeps it
 * when it is within DBL_EPSILON (relative) of the value, else prints
 * "%1.17g". Two common cases are done without printf and sscanf, exactly:
 *  - an integer below 1e15: "%1.15g" prints all its digits and reads back
 *    exactly, so the digits are the answer;
 *  - a value x that some decimal D = n / 10^k with at most 15 significant
 *    digits, 1e-4 <= D < 1e15, reads back to exactly (a register times a
 *    decimal scale: 44.2, 0.05, 229.6): then D is x rounded to 15
 *    significant digits, i.e. what "%1.15g" prints, in its fixed style, and
 *    it reads back to x, so cJSON keeps it. "Reads back exactly" is
 *    checked in integer arithmetic with x = m * 2^q: |x - D| below a
 *    quarter of x's ulp (a quarter, not a half, so that the narrower gap
 *    below a power of two is covered), i.e. 4 |m 10^k - n 2^-q| < 10^k,
 *    which needs 128-bit integers; without them (32-bit targets) this case
 *    takes cJSON's way too.
 * Everything else (NaN and the infinities aside) takes cJSON's own way with
 * snprintf and strtod, so it is the same by construction. The differential
 * test (tests/unit/test_tel_json.c) compares all of it with cJSON.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_jwrite.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_types.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- the buffer --------------------------------------------------------- */

void gw_jw_init(gw_jw_t *w)
{
    memset(w, 0, sizeof(*w));
}

void gw_jw_free(gw_jw_t *w)
{
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

void gw_jw_reset(gw_jw_t *w)
{
    w->len = 0;
    w->oom = 0;
    if (w->buf)
        w->buf[0] = '\0';
}

int gw_jw_reserve(gw_jw_t *w, size_t n)
{
    size_t need = w->len + n + 1, cap;
    char *b;

    if (w->oom)
        return GW_ENOMEM;
    if (need <= w->cap)
        return 0;
    for (cap = w->cap ? w->cap : 512; cap < need; cap *= 2)
        ;
    b = realloc(w->buf, cap);
    if (!b) {
        w->oom = 1;
        return GW_ENOMEM;
    }
    w->buf = b;
    w->cap = cap;
    return 0;
}

void gw_jw_raw(gw_jw_t *w, const char *s, size_t n)
{
    if (gw_jw_reserve(w, n) != 0)
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

char *gw_jw_room(gw_jw_t *w, size_t n)
{
    return gw_jw_reserve(w, n) == 0 ? w->buf + w->len : NULL;
}

void gw_jw_commit(gw_jw_t *w, char *o)
{
    *o = '\0';
    w->len = (size_t)(o - w->buf);
}

/* 1 for the bytes cJSON escapes: below 0x20, '"' and '\\'. */
static const unsigned char jw__esc[256] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                           1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                           1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, ['\\'] = 1};

char *gw_jw_put_str(char *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + n;

    *o++ = '"';
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && !jw__esc[*p])
            p++;
        memcpy(o, run, (size_t)(p - run)); /* the common case: a name without escapes */
        o += p - run;
        if (p == end)
            break;
        unsigned char c = *p++;
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
    }
    *o++ = '"';
    return o;
}

void gw_jw_str(gw_jw_t *w, const char *s)
{
    size_t n = strlen(s);
    char *o = gw_jw_room(w, 6 * n + 2);

    if (o)
        gw_jw_commit(w, gw_jw_put_str(o, s, n));
}

void gw_jw_num(gw_jw_t *w, double d)
{
    char num[GW_JW_NUM_MAX];

    gw_jw_raw(w, num, gw_jw_number(num, d));
}

/* ---- numbers ------------------------------------------------------------ */

static const uint64_t jw__p10[20] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL,
                                     10000000000000000000ULL};

/* The decimal digits of v at o; returns how many. */
static size_t jw__u64(char *o, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        o[i] = tmp[n - 1 - i];
    return n;
}

/* cJSON's way: "%1.15g", read back, "%1.17g" when not close enough. */
static size_t jw__libc(char *buf, double d)
{
    int len = snprintf(buf, GW_JW_NUM_MAX, "%1.15g", d);
    double t = strtod(buf, NULL), a = fabs(t), b = fabs(d);

    if (!(fabs(t - d) <= (a > b ? a : b) * DBL_EPSILON))
        len = snprintf(buf, GW_JW_NUM_MAX, "%1.17g", d);
    return len > 0 ? (size_t)len : 0;
}

#ifdef __SIZEOF_INT128__
/* n / 10^k, 1 <= k <= 19, as "%1.15g" prints it: integer part, point,
 * the fraction without trailing zeros. */
static size_t jw__fixed(char *o, uint64_t n, int k)
{
    uint64_t ip = n / jw__p10[k], fr = n % jw__p10[k];
    size_t len = jw__u64(o, ip);
    char digits[20];

    o[len++] = '.';
    for (int i = k - 1; i >= 0; i--, fr /= 10)
        digits[i] = (char)('0' + fr % 10);
    while (k > 0 && digits[k - 1] == '0')
        k--;
    memcpy(o + len, digits, (size_t)k);
    return len + (size_t)k;
}

/* x (1e-4 <= x < 1e15, not an integer) as a decimal of at most 15
 * significant digits that reads back to x exactly; 0 when there is none. */
static size_t jw__decimal(char *o, double x)
{
    int e;
    uint64_t m = (uint64_t)ldexp(frexp(x, &e), 53); /* x = m 2^q */
    int q = e - 53;                                 /* -66 <= q <= -3 here */

    for (int k = 1; k <= 19; k++) {
        static const double p10d[20] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                        1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19};
        double y = x * p10d[k];
        uint64_t n;
        unsigned __int128 a, b, diff;

        if (y >= 1e15)
            return 0; /* 16 digits or more */
        n = (uint64_t)(y + 0.5);
        if (n == 0 || (k > 4 && n < jw__p10[k - 4]))
            continue; /* below 1e-4: "%g" would switch to its exponent style */
        a = (unsigned __int128)m * jw__p10[k];
        b = (unsigned __int128)n << -q;
        diff = a > b ? a - b : b - a;
        if (diff * 4 < jw__p10[k])
            return jw__fixed(o, n, k);
    }
    return 0;
}
#endif

size_t gw_jw_number(char *buf, double d)
{
    double x = fabs(d);
    size_t len = 0;

    if (isnan(d) || isinf(d)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    if (signbit(d))
        buf[len++] = '-';
    if (x < 1e15 && x == floor(x)) {
        len += jw__u64(buf + len, (uint64_t)x);
        buf[len] = '\0';
        return len;
    }
#ifdef __SIZEOF_INT128__
    if (x >= 1e-4 && x < 1e15) {
        size_t n = jw__decimal(buf + len, x);
        if (n) {
            buf[len + n] = '\0';
            return len + n;
        }
    }
#endif
    return jw__libc(buf, d);
}

/* ---- times -------------------------------------------------------------- */

void gw_jw_time_init(gw_jw_time_t *t)
{
    memset(t, 0, sizeof(*t));
    t->ms = INT64_MIN;
    t->day = INT64_MIN;
}

/* The civil date of a day count since 1970-01-01 (proleptic Gregorian). */
static void jw__civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, z = days + 719468;
    unsigned doe, yoe, doy, mp;

    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void jw__2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

const char *gw_jw_time(gw_jw_time_t *t, int64_t wall_ms)
{
    int64_t day, rem, y;
    unsigned mo, dd, s;

    if (wall_ms == t->ms)
        return t->text;
    day = wall_ms / 86400000;
    rem = wall_ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        day--;
    }
    if (day != t->day) {
        jw__civil(day, &y, &mo, &dd);
        if (y < 0 || y > 9999) {
            gw_format_iso8601(wall_ms, t->text, sizeof(t->text));
            t->len = strlen(t->text);
            t->ms = wall_ms;
            t->day = INT64_MIN;
            return t->text;
        }
        jw__2(t->date, (unsigned)(y / 100));
        jw__2(t->date + 2, (unsigned)(y % 100));
        t->date[4] = '-';
        jw__2(t->date + 5, mo);
        t->date[7] = '-';
        jw__2(t->date + 8, dd);
        t->day = day;
    }
    s = (unsigned)(rem / 1000);
    memcpy(t->text, t->date, 10);
    t->text[10] = 'T';
    jw__2(t->text + 11, s / 3600);
    t->text[13] = ':';
    jw__2(t->text + 14, s / 60 % 60);
    t->text[16] = ':';
    jw__2(t->text + 17, s % 60);
    t->text[19] = '.';
    t->text[20] = (char)('0' + rem % 1000 / 100);
    jw__2(t->text + 21, (unsigned)(rem % 100));
    memcpy(t->text + 23, "Z", 2);
    t->ms = wall_ms;
    t->len = 24;
    return t->text;
}
