/*
 * gw_tz.c: local time from the system's zoneinfo without TZ or tzset
 * (gw_tz.h). A zone is its TZif transitions (time and local time type
 * each) plus, for times after the last transition, the POSIX TZ rule of the
 * file's footer (RFC 8536); a slim file may have no transitions at all.
 * Dates are computed with the proleptic Gregorian calendar on day numbers
 * (days since 1970-01-01), so nothing depends on the C library's zone.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/gw_tz.h"
#include "gateway/base/gw_types.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TZ__MAX_TRANS 100000
#define TZ__DIR       "/usr/share/zoneinfo/"

/* A date of a POSIX rule: Jn (1..365, no Feb 29), n (0..365), Mm.w.d. */
typedef struct tz__date {
    char kind; /* 'J', 'D', 'M' */
    int n, m, w, d;
    int32_t time; /* seconds after local midnight (may be negative or > 24 h) */
} tz__date_t;

typedef struct tz__rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    tz__date_t start, end;
} tz__rule_t;

struct gw_tz {
    int64_t *trans; /* ascending UTC seconds */
    uint8_t *idx;   /* local time type of each transition */
    size_t ntrans;
    int32_t off[256];
    uint8_t dst[256];
    int ntypes;
    int has_rule;
    tz__rule_t rule;
};

/* ---- calendar --------------------------------------------------------------- */

static int64_t tz__fdiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int tz__leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int tz__mdays(int64_t y, int m)
{
    static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return md[m - 1] + (m == 2 && tz__leap(y));
}

/* 0 = Sunday, for a day number (1970-01-01 was a Thursday). */
static int tz__wday(int64_t days)
{
    int64_t r = (days + 4) % 7;
    return (int)(r < 0 ? r + 7 : r);
}

/* Days from 1970-01-01 to y-m-d (m 1..12): H. Hinnant's days_from_civil. */
static int64_t tz__days(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = tz__fdiv(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void tz__civil(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = tz__fdiv(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* ---- POSIX TZ rules ----------------------------------------------------------- */

static const char *tz__name(const char *p)
{
    size_t n = 0;

    if (*p == '<') {
        const char *q = strchr(p, '>');
        return q && q > p + 1 ? q + 1 : NULL;
    }
    while (isalpha((unsigned char)p[n]))
        n++;
    return n >= 3 ? p + n : NULL;
}

static const char *tz__num(const char *p, int min, int max, int *out)
{
    int v = 0, k = 0;

    while (isdigit((unsigned char)p[k]) && k < 4)
        v = v * 10 + (p[k++] - '0');
    if (k == 0 || v < min || v > max)
        return NULL;
    *out = v;
    return p + k;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh, as signed seconds. */
static const char *tz__hms(const char *p, int maxh, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!(p = tz__num(p, 0, maxh, &h)))
        return NULL;
    if (*p == ':' && !(p = tz__num(p + 1, 0, 59, &m)))
        return NULL;
    if (*p == ':' && !(p = tz__num(p + 1, 0, 59, &s)))
        return NULL;
    *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *tz__date(const char *p, tz__date_t *d)
{
    memset(d, 0, sizeof(*d));
    d->time = 7200;
    if (*p == 'J') {
        d->kind = 'J';
        p = tz__num(p + 1, 1, 365, &d->n);
    } else if (*p == 'M') {
        d->kind = 'M';
        if ((p = tz__num(p + 1, 1, 12, &d->m)) && *p == '.' && (p = tz__num(p + 1, 1, 5, &d->w)) &&
            *p == '.')
            p = tz__num(p + 1, 0, 6, &d->d);
        else
            p = NULL;
    } else {
        d->kind = 'D';
        p = tz__num(p, 0, 365, &d->n);
    }
    if (p && *p == '/')
        p = tz__hms(p + 1, 167, &d->time);
    return p;
}

static int tz__posix(const char *s, tz__rule_t *r)
{
    const char *p = tz__name(s);
    int32_t o;

    memset(r, 0, sizeof(*r));
    if (!p || !(p = tz__hms(p, 24, &o)))
        return GW_EINVAL;
    r->std_off = -o; /* POSIX counts west of UTC */
    if (!*p)
        return 0;
    if (!(p = tz__name(p)))
        return GW_EINVAL;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = tz__hms(p, 24, &o)))
            return GW_EINVAL;
        r->dst_off = -o;
    }
    if (!*p) /* no dates: the US rule, as the reference code assumes */
        p = ",M3.2.0,M11.1.0";
    if (*p != ',' || !(p = tz__date(p + 1, &r->start)) || *p != ',' ||
        !(p = tz__date(p + 1, &r->end)) || *p)
        return GW_EINVAL;
    return 0;
}

/* The day number of a rule date in year y. */
static int64_t tz__rule_day(const tz__date_t *dt, int64_t y)
{
    int64_t first;
    int wday, dd;

    if (dt->kind == 'J')
        return tz__days(y, 1, 1) + dt->n - 1 + (tz__leap(y) && dt->n >= 60);
    if (dt->kind == 'D')
        return tz__days(y, 1, 1) + dt->n;
    first = tz__days(y, dt->m, 1);
    wday = tz__wday(first);
    dd = (dt->d - wday + 7) % 7 + 7 * (dt->w - 1);
    while (dd >= tz__mdays(y, dt->m))
        dd -= 7;
    return first + dd;
}

static int tz__rule_isdst(const tz__rule_t *r, int64_t t)
{
    int64_t y, s, e;
    int m, d;

    if (!r->has_dst)
        return 0;
    tz__civil(tz__fdiv(t + r->std_off, 86400), &y, &m, &d);
    s = tz__rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
    e = tz__rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
    if (s < e)
        return t >= s && t < e;
    return !(t >= e && t < s); /* southern hemisphere: DST across the new year */
}

/* ---- TZif ------------------------------------------------------------------ */

static int64_t tz__be(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    if (n == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

typedef struct tz__hdr {
    size_t isut, isstd, leap, time, type, chars;
} tz__hdr_t;

static int tz__header(const unsigned char *b, size_t len, tz__hdr_t *h)
{
    if (len < 44 || memcmp(b, "TZif", 4) != 0)
        return GW_EINVAL;
    h->isut = (size_t)tz__be(b + 20, 4) & 0xffffffffu;
    h->isstd = (size_t)tz__be(b + 24, 4) & 0xffffffffu;
    h->leap = (size_t)tz__be(b + 28, 4) & 0xffffffffu;
    h->time = (size_t)tz__be(b + 32, 4) & 0xffffffffu;
    h->type = (size_t)tz__be(b + 36, 4) & 0xffffffffu;
    h->chars = (size_t)tz__be(b + 40, 4) & 0xffffffffu;
    if (h->type < 1 || h->type > 256 || h->time > TZ__MAX_TRANS || h->leap > 10000 ||
        h->chars > 65536 || h->isut > 256 || h->isstd > 256)
        return GW_EINVAL;
    return 0;
}

static size_t tz__block(const tz__hdr_t *h, int tsize)
{
    return h->time * (size_t)(tsize + 1) + h->type * 6 + h->chars + h->leap * (size_t)(tsize + 4) +
           h->isstd + h->isut;
}

/* Read the data block at b (len bytes left) into tz. */
static int tz__data(gw_tz_t *tz, const tz__hdr_t *h, const unsigned char *b, int tsize)
{
    const unsigned char *idx = b + h->time * (size_t)tsize, *types = idx + h->time;

    tz->ntrans = h->time;
    tz->ntypes = (int)h->type;
    tz->trans = calloc(h->time + 1, sizeof(*tz->trans));
    tz->idx = calloc(h->time + 1, 1);
    if (!tz->trans || !tz->idx)
        return GW_ENOMEM;
    for (size_t i = 0; i < h->time; i++) {
        tz->trans[i] = tz__be(b + i * (size_t)tsize, tsize);
        tz->idx[i] = idx[i];
        if (idx[i] >= h->type || (i > 0 && tz->trans[i] <= tz->trans[i - 1]))
            return GW_EINVAL;
    }
    for (size_t i = 0; i < h->type; i++) {
        tz->off[i] = (int32_t)tz__be(types + i * 6, 4);
        tz->dst[i] = types[i * 6 + 4];
        if (tz->off[i] <= -25 * 3600 || tz->off[i] >= 26 * 3600)
            return GW_EINVAL;
    }
    return 0;
}

/* The footer "\n<POSIX rule>\n" of a version 2+ file at b (len bytes). */
static int tz__footer(gw_tz_t *tz, const unsigned char *b, size_t len)
{
    char rule[128];
    const unsigned char *end;

    if (len < 2 || b[0] != '\n')
        return GW_EINVAL;
    end = memchr(b + 1, '\n', len - 1);
    if (!end || (size_t)(end - b - 1) >= sizeof(rule))
        return GW_EINVAL;
    memcpy(rule, b + 1, (size_t)(end - b - 1));
    rule[end - b - 1] = '\0';
    if (!rule[0])
        return 0;
    tz->has_rule = 1;
    return tz__posix(rule, &tz->rule);
}

int gw_tz_parse(gw_tz_t **out, const void *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *b = buf;
    gw_tz_t *tz = calloc(1, sizeof(*tz));
    tz__hdr_t h;
    size_t at = 44;
    int tsize = 4, rc;

    *out = NULL;
    if (!tz)
        return GW_ENOMEM;
    rc = tz__header(b, len, &h);
    if (rc == 0 && b[4] >= '2') {
        at = 44 + tz__block(&h, 4); /* skip the 32-bit data */
        rc = at <= len ? tz__header(b + at, len - at, &h) : GW_EINVAL;
        at += 44;
        tsize = 8;
    }
    if (rc == 0 && (at > len || tz__block(&h, tsize) > len - at))
        rc = GW_EINVAL;
    if (rc == 0)
        rc = tz__data(tz, &h, b + at, tsize);
    if (rc == 0 && tsize == 8)
        rc = tz__footer(tz, b + at + tz__block(&h, tsize), len - at - tz__block(&h, tsize));
    if (rc != 0) {
        snprintf(err, errlen, "%s", rc == GW_ENOMEM ? "out of memory" : "not a valid TZif file");
        gw_tz_free(tz);
        return rc;
    }
    *out = tz;
    return 0;
}

int gw_tz_posix(gw_tz_t **out, const char *rule, char *err, size_t errlen)
{
    gw_tz_t *tz = calloc(1, sizeof(*tz));

    *out = NULL;
    if (!tz)
        return GW_ENOMEM;
    if (tz__posix(rule, &tz->rule) != 0) {
        snprintf(err, errlen, "not a POSIX TZ rule: \"%s\"", rule);
        free(tz);
        return GW_EINVAL;
    }
    tz->has_rule = 1;
    tz->ntypes = 1;
    tz->off[0] = tz->rule.std_off;
    *out = tz;
    return 0;
}

static int tz__file(gw_tz_t **out, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rbe");
    unsigned char *buf;
    size_t n;
    int rc;

    if (!f) {
        snprintf(err, errlen, "%s: cannot open (install tzdata)", path);
        return GW_ENOENT;
    }
    buf = malloc(1 << 20);
    n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf)
        return GW_ENOMEM;
    rc = gw_tz_parse(out, buf, n, err, errlen);
    if (rc == GW_EINVAL)
        snprintf(err, errlen, "%s: not a valid TZif file", path);
    free(buf);
    return rc;
}

int gw_tz_load(gw_tz_t **out, const char *name, char *err, size_t errlen)
{
    char path[512];
    const char *env = name[0] ? NULL : getenv("TZ");
    struct stat sb;

    if (name[0]) {
        if (name[0] == '/' || strstr(name, "..")) {
            snprintf(err, errlen, "bad time zone name \"%s\"", name);
            return GW_EINVAL;
        }
        snprintf(path, sizeof(path), TZ__DIR "%s", name);
        return tz__file(out, path, err, errlen);
    }
    if (env && env[0]) {
        env += env[0] == ':';
        if (env[0] == '/')
            return tz__file(out, env, err, errlen);
        snprintf(path, sizeof(path), TZ__DIR "%s", env);
        if (!strstr(env, "..") && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            return tz__file(out, path, err, errlen);
        return gw_tz_posix(out, env, err, errlen);
    }
    if (stat("/etc/localtime", &sb) == 0)
        return tz__file(out, "/etc/localtime", err, errlen);
    return gw_tz_posix(out, "UTC0", err, errlen);
}

void gw_tz_free(gw_tz_t *tz)
{
    if (!tz)
        return;
    free(tz->trans);
    free(tz->idx);
    free(tz);
}

/* ---- conversions ------------------------------------------------------------ */

int32_t gw_tz_offset(const gw_tz_t *tz, int64_t utc_s, int *isdst)
{
    size_t lo = 0, hi;
    int dst;

    if (!tz) {
        if (isdst)
            *isdst = 0;
        return 0;
    }
    if (tz->has_rule && (tz->ntrans == 0 || utc_s >= tz->trans[tz->ntrans - 1])) {
        dst = tz__rule_isdst(&tz->rule, utc_s);
        if (isdst)
            *isdst = dst;
        return dst ? tz->rule.dst_off : tz->rule.std_off;
    }
    if (tz->ntrans == 0 || utc_s < tz->trans[0]) {
        if (isdst)
            *isdst = tz->dst[0];
        return tz->off[0]; /* before the first transition: type 0 (RFC 8536) */
    }
    hi = tz->ntrans; /* the last transition at or before utc_s */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    if (isdst)
        *isdst = tz->dst[tz->idx[lo]];
    return tz->off[tz->idx[lo]];
}

void gw_tz_local(const gw_tz_t *tz, int64_t utc_s, struct tm *out)
{
    int isdst;
    int32_t off = gw_tz_offset(tz, utc_s, &isdst);
    int64_t l = utc_s + off, days = tz__fdiv(l, 86400), secs = l - days * 86400, y;
    int m, d;

    tz__civil(days, &y, &m, &d);
    memset(out, 0, sizeof(*out));
    out->tm_year = (int)(y - 1900);
    out->tm_mon = m - 1;
    out->tm_mday = d;
    out->tm_hour = (int)(secs / 3600);
    out->tm_min = (int)(secs / 60 % 60);
    out->tm_sec = (int)(secs % 60);
    out->tm_wday = tz__wday(days);
    out->tm_yday = (int)(days - tz__days(y, 1, 1));
    out->tm_isdst = isdst;
}

int64_t gw_tz_utc(const gw_tz_t *tz, int year, int mon, int mday, int64_t sec_of_day)
{
    int64_t l = (tz__days(year, mon, 1) + mday - 1) * 86400 + sec_of_day;
    int32_t o1 = gw_tz_offset(tz, l - gw_tz_offset(tz, l, NULL), NULL);
    int64_t u = l - o1;
    int32_t o2 = gw_tz_offset(tz, u, NULL);

    return o2 == o1 ? u : l - o2;
}
