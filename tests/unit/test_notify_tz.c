/*
 * test_notify_tz.c: local time from the system's zoneinfo without TZ
 * (gateway/notify/gw_tz.h), against the C library as the reference: for
 * zones with and without DST, northern and southern, half-hour and
 * negative DST, 80,000 instants of a sweep from 1901 to 2099 plus the
 * seconds around each change of Europe/Berlin from 2020 to 2029 give the
 * same local time, weekday and offset as localtime_r with TZ set (this
 * test is single-threaded, so it may set TZ). A zone given only as a POSIX
 * rule, or as a slim TZif file with no transitions, matches the full file
 * after its last transition. Local wall times map back to UTC across the
 * changes. Broken files are refused without a crash (every prefix of a
 * real file, and random corruptions).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/gw_tz.h"
#include "gateway/base/gw_types.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const zones[] = {
    "Europe/Berlin",
    "Asia/Shanghai",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Europe/Dublin",
    "America/St_Johns",
    "Africa/Casablanca",
    "UTC",
};

static gw_tz_t *load(const char *name)
{
    gw_tz_t *tz = NULL;
    char err[256];

    if (gw_tz_load(&tz, name, err, sizeof(err)) != 0)
        fprintf(stderr, "  %s: %s\n", name, err);
    return tz;
}

/* Compare one instant with glibc (TZ already set); 1 when equal. */
static int same(const gw_tz_t *tz, const char *name, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm ref, got;
    int32_t off = gw_tz_offset(tz, t, NULL);

    localtime_r(&tt, &ref);
    gw_tz_local(tz, t, &got);
    if (ref.tm_year == got.tm_year && ref.tm_mon == got.tm_mon && ref.tm_mday == got.tm_mday &&
        ref.tm_hour == got.tm_hour && ref.tm_min == got.tm_min && ref.tm_sec == got.tm_sec &&
        ref.tm_wday == got.tm_wday && ref.tm_yday == got.tm_yday && ref.tm_gmtoff == off)
        return 1;
    fprintf(stderr,
            "  %s at %lld: glibc %04d-%02d-%02d %02d:%02d:%02d off %ld, got %04d-%02d-%02d "
            "%02d:%02d:%02d off %d\n",
            name, (long long)t, ref.tm_year + 1900, ref.tm_mon + 1, ref.tm_mday, ref.tm_hour,
            ref.tm_min, ref.tm_sec, ref.tm_gmtoff, got.tm_year + 1900, got.tm_mon + 1, got.tm_mday,
            got.tm_hour, got.tm_min, got.tm_sec, off);
    return 0;
}

T_TEST(zones_match_the_c_library)
{
    char env[80];

    for (size_t z = 0; z < GW_ARRAY_SIZE(zones); z++) {
        gw_tz_t *tz = load(zones[z]);
        int bad = 0;
        long checked = 0;
        T_CHECK(tz != NULL);
        if (!tz)
            continue;
        snprintf(env, sizeof(env), ":%s", zones[z]);
        setenv("TZ", env, 1);
        tzset();
        /* 1901..2099 every 21 h 36 min 17 s: every hour of the day and
         * every season, transitions from both files and rules */
        for (int64_t t = -2145916800LL; t < 4102444800LL && bad < 5; t += 77777) {
            bad += !same(tz, zones[z], t);
            checked++;
        }
        T_CHECK_EQ_INT(bad, 0);
        T_CHECK(checked > 80000);
        gw_tz_free(tz);
    }
    unsetenv("TZ");
    tzset();
}

T_TEST(berlin_changes_to_the_second)
{
    gw_tz_t *tz = load("Europe/Berlin");
    int bad = 0, changes = 0, isdst;

    T_CHECK(tz != NULL);
    setenv("TZ", ":Europe/Berlin", 1);
    tzset();
    /* every change from 2020 to 2029, found by stepping an hour, checked
     * at the seconds around it */
    for (int64_t t = 1577836800LL; t < 1893456000LL && tz; t += 3600) {
        if (gw_tz_offset(tz, t, NULL) == gw_tz_offset(tz, t + 3600, NULL))
            continue;
        changes++;
        for (int64_t s = t; s <= t + 3600; s++) {
            if (gw_tz_offset(tz, s, NULL) != gw_tz_offset(tz, s - 1, NULL)) {
                bad += !same(tz, "Europe/Berlin", s - 1) + !same(tz, "Europe/Berlin", s);
                break;
            }
        }
    }
    T_CHECK_EQ_INT(changes, 20); /* two a year, 2020 to 2029 */
    T_CHECK_EQ_INT(bad, 0);
    /* 2026: CET -> CEST at 01:00 UTC on 29 March, back at 01:00 on 25 Oct */
    T_CHECK_EQ_INT(gw_tz_offset(tz, 1774745999LL, &isdst), 3600);
    T_CHECK_EQ_INT(isdst, 0);
    T_CHECK_EQ_INT(gw_tz_offset(tz, 1774746000LL, &isdst), 7200);
    T_CHECK_EQ_INT(isdst, 1);
    T_CHECK_EQ_INT(gw_tz_offset(tz, 1792889999LL, NULL), 7200);
    T_CHECK_EQ_INT(gw_tz_offset(tz, 1792890000LL, NULL), 3600);
    unsetenv("TZ");
    tzset();
    gw_tz_free(tz);
}

T_TEST(shanghai_and_utc)
{
    gw_tz_t *sh = load("Asia/Shanghai"), *u = load("UTC");
    struct tm tm;

    T_CHECK(sh && u);
    T_CHECK_EQ_INT(gw_tz_offset(sh, 1767225600LL, NULL), 8 * 3600); /* 2026-01-01 */
    T_CHECK_EQ_INT(gw_tz_offset(sh, 1782864000LL, NULL), 8 * 3600); /* 2026-07-01 */
    T_CHECK_EQ_INT(gw_tz_offset(sh, 583718400LL, NULL), 9 * 3600);  /* 1988-07-01: DST then */
    gw_tz_local(sh, 1767225600LL, &tm);                             /* 08:00 Thursday */
    T_CHECK(tm.tm_hour == 8 && tm.tm_wday == 4 && tm.tm_year == 126);
    T_CHECK_EQ_INT(gw_tz_offset(u, 1767225600LL, NULL), 0);
    T_CHECK_EQ_INT(gw_tz_offset(NULL, 1767225600LL, NULL), 0);
    gw_tz_free(sh);
    gw_tz_free(u);
}

/* A slim TZif v2 file: no transitions, one type, the rule in the footer. */
static size_t slim(unsigned char *b, const char *rule, int32_t off)
{
    size_t n = 0;

    for (int part = 0; part < 2; part++) {
        memset(b + n, 0, 44);
        memcpy(b + n, "TZif2", 5);
        b[n + 39] = 1; /* typecnt */
        b[n + 43] = 4; /* charcnt */
        n += 44;
        b[n++] = (unsigned char)(off >> 24);
        b[n++] = (unsigned char)(off >> 16);
        b[n++] = (unsigned char)(off >> 8);
        b[n++] = (unsigned char)off;
        b[n++] = 0;
        b[n++] = 0;
        memcpy(b + n, "CET", 4);
        n += 4;
    }
    n += (size_t)sprintf((char *)b + n, "\n%s\n", rule);
    return n;
}

T_TEST(posix_rules_and_slim_files)
{
    static const char rule[] = "CET-1CEST,M3.5.0,M10.5.0/3";
    unsigned char buf[256];
    gw_tz_t *file = load("Europe/Berlin"), *posix = NULL, *s = NULL, *bad = NULL;
    char err[128];
    int diff = 0;

    T_CHECK_EQ_INT(gw_tz_posix(&posix, rule, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(gw_tz_parse(&s, buf, slim(buf, rule, 3600), err, sizeof(err)), 0);
    /* 1997 on, Berlin follows the EU rule */
    for (int64_t t = 852076800LL; file && posix && s && t < 4102444800LL; t += 3571) {
        int32_t o = gw_tz_offset(file, t, NULL);
        diff += o != gw_tz_offset(posix, t, NULL) || o != gw_tz_offset(s, t, NULL);
    }
    T_CHECK_EQ_INT(diff, 0);
    /* southern hemisphere, a rule time past midnight, a quoted name */
    gw_tz_free(posix);
    T_CHECK_EQ_INT(gw_tz_posix(&posix, "<-03>3<-02>,M10.1.0/0,M2.3.0/0", err, sizeof(err)), 0);
    T_CHECK_EQ_INT(gw_tz_offset(posix, 1767225600LL, NULL), -2 * 3600); /* January: summer */
    T_CHECK_EQ_INT(gw_tz_offset(posix, 1782864000LL, NULL), -3 * 3600); /* July */
    T_CHECK(gw_tz_posix(&bad, "CET-1CEST,M13.5.0,M10.5.0", err, sizeof(err)) != 0);
    T_CHECK(gw_tz_posix(&bad, "X1", err, sizeof(err)) != 0);
    T_CHECK(gw_tz_posix(&bad, "CET-1CEST,M3.5.0", err, sizeof(err)) != 0);
    T_CHECK(bad == NULL);
    gw_tz_free(file);
    gw_tz_free(posix);
    gw_tz_free(s);
}

T_TEST(local_wall_time_to_utc)
{
    gw_tz_t *tz = load("Europe/Berlin");
    struct tm tm;
    int bad = 0;

    /* every hour of 2026 but the repeated one in October maps back */
    for (int64_t t = 1767225600LL; tz && t < 1798761600LL; t += 3600) {
        gw_tz_local(tz, t, &tm);
        int64_t u = gw_tz_utc(tz, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                              tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
        if (u != t && !(tm.tm_mon == 9 && tm.tm_mday == 25 && tm.tm_hour == 2))
            bad++;
    }
    T_CHECK_EQ_INT(bad, 0);
    /* 07:00 on the spring day is 05:00 UTC; day 32 of January is 1 Feb */
    T_CHECK_EQ_INT(gw_tz_utc(tz, 2026, 3, 29, 7 * 3600), 1774760400LL);
    T_CHECK_EQ_INT(gw_tz_utc(tz, 2026, 1, 32, 0), gw_tz_utc(tz, 2026, 2, 1, 0));
    /* 02:30 on the spring day does not exist: an instant within the hour */
    int64_t gap = gw_tz_utc(tz, 2026, 3, 29, 2 * 3600 + 1800);
    T_CHECK(gap >= 1774744200LL && gap <= 1774747800LL);
    gw_tz_free(tz);
}

T_TEST(broken_files_are_refused)
{
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    unsigned char buf[8192], copy[8192];
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    gw_tz_t *tz = NULL;
    char err[128];
    int accepted = 0;

    if (f)
        fclose(f);
    T_CHECK(n > 1000);
    /* every prefix but the whole: the footer is missing or cut */
    for (size_t k = 0; k + 1 < n; k++) {
        T_CHECK(gw_tz_parse(&tz, buf, k, err, sizeof(err)) != 0 || k + 1 == n);
        gw_tz_free(tz);
        tz = NULL;
    }
    T_CHECK_EQ_INT(gw_tz_parse(&tz, buf, n, err, sizeof(err)), 0);
    gw_tz_free(tz);
    tz = NULL;
    /* random corruptions: refused, or accepted as a valid zone; no crash */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        memcpy(copy, buf, n);
        for (int k = 0; k < 1 + rand() % 4; k++)
            copy[rand() % n] = (unsigned char)rand();
        if (gw_tz_parse(&tz, copy, n, err, sizeof(err)) == 0) {
            accepted++;
            gw_tz_offset(tz, rand(), NULL);
            gw_tz_free(tz);
            tz = NULL;
        }
    }
    T_CHECK(accepted > 0 && accepted < 20000);
    T_CHECK(gw_tz_load(&tz, "../etc/passwd", err, sizeof(err)) != 0);
    T_CHECK(gw_tz_load(&tz, "Mars/Olympus", err, sizeof(err)) != 0);
    T_CHECK(tz == NULL);
}

int main(void)
{
    T_RUN(zones_match_the_c_library);
    T_RUN(berlin_changes_to_the_second);
    T_RUN(shanghai_and_utc);
    T_RUN(posix_rules_and_slim_files);
    T_RUN(local_wall_time_to_utc);
    T_RUN(broken_files_are_refused);
    return t_done();
}
