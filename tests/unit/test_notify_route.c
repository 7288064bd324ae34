/*
 * test_notify_route.c: the pure decisions of notifications (gateway/gw_route.h):
 * SMS segments and fitting (GSM-7 vs UCS-2), quiet hours in a named zone
 * read from the system's zoneinfo (spanning midnight, weekdays, the end of
 * a window, across a DST change), bypass, backoff, routes, templates and
 * the message text.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/gw_route.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Wall ms of a UTC date-time. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000;
}

static void repeat(char *buf, const char *unit, int n)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(buf, unit);
}

T_TEST(sms_segments_gsm7)
{
    char buf[2048];
    int ucs2 = -1, units = 0;

    repeat(buf, "a", 160);
    T_CHECK_EQ_INT(gw_sms_segments(buf, &ucs2, &units), 1);
    T_CHECK_EQ_INT(ucs2, 0);
    T_CHECK_EQ_INT(units, 160);
    repeat(buf, "a", 161);
    T_CHECK_EQ_INT(gw_sms_segments(buf, NULL, NULL), 2);
    repeat(buf, "a", 306);
    T_CHECK_EQ_INT(gw_sms_segments(buf, NULL, NULL), 2);
    repeat(buf, "a", 307);
    T_CHECK_EQ_INT(gw_sms_segments(buf, NULL, NULL), 3);
    /* extension characters count two; é and £ are in the basic table */
    repeat(buf, "[", 80);
    T_CHECK_EQ_INT(gw_sms_segments(buf, &ucs2, &units), 1);
    T_CHECK_EQ_INT(units, 160);
    strcat(buf, "€");
    T_CHECK_EQ_INT(gw_sms_segments(buf, &ucs2, &units), 2);
    T_CHECK_EQ_INT(ucs2, 0);
    T_CHECK_EQ_INT(gw_sms_segments("café £5 @home", &ucs2, &units), 1);
    T_CHECK_EQ_INT(ucs2, 0);
    T_CHECK_EQ_INT(units, 13);
    /* a backtick is not GSM-7 */
    gw_sms_segments("a`b", &ucs2, NULL);
    T_CHECK_EQ_INT(ucs2, 1);
}

T_TEST(sms_segments_ucs2_chinese)
{
    char buf[4096];
    int ucs2 = 0, units = 0;

    repeat(buf, "电", 70);
    T_CHECK_EQ_INT(gw_sms_segments(buf, &ucs2, &units), 1);
    T_CHECK_EQ_INT(ucs2, 1);
    T_CHECK_EQ_INT(units, 70);
    strcat(buf, "a");
    T_CHECK_EQ_INT(gw_sms_segments(buf, NULL, NULL), 2);
    repeat(buf, "梯", 134);
    T_CHECK_EQ_INT(gw_sms_segments(buf, NULL, NULL), 2);
    strcat(buf, "x");
    T_CHECK_EQ_INT(gw_sms_segments(buf, NULL, NULL), 3);
    /* one Chinese character turns a Latin text into UCS-2 */
    repeat(buf, "a", 100);
    strcat(buf, "水");
    T_CHECK_EQ_INT(gw_sms_segments(buf, &ucs2, &units), 2);
    T_CHECK_EQ_INT(units, 101);
    /* outside the BMP: two UTF-16 units */
    gw_sms_segments("\xf0\x9f\x94\xa5", &ucs2, &units);
    T_CHECK_EQ_INT(units, 2);
}

T_TEST(sms_fit_truncates_on_characters)
{
    char buf[4096];
    int ucs2, units;

    repeat(buf, "a", 400);
    gw_sms_fit(buf, 1);
    T_CHECK_EQ_INT(strlen(buf), 160);
    T_CHECK(strcmp(buf + 157, "...") == 0);
    repeat(buf, "电梯", 100);
    gw_sms_fit(buf, 2);
    T_CHECK_EQ_INT(gw_sms_segments(buf, &ucs2, &units), 2);
    T_CHECK_EQ_INT(units, 134);
    T_CHECK(strcmp(buf + strlen(buf) - 3, "\xe2\x80\xa6") == 0); /* … */
    /* whole UTF-8 sequences only: 133 characters of 3 bytes + the ellipsis */
    T_CHECK_EQ_INT(strlen(buf), 134 * 3);
    repeat(buf, "a", 20);
    gw_sms_fit(buf, 1);
    T_CHECK_EQ_INT(strlen(buf), 20);
    repeat(buf, "a", 400);
    gw_sms_fit(buf, 0); /* no limit */
    T_CHECK_EQ_INT(strlen(buf), 400);
}

/* A zone from the system's zoneinfo (the test fails without it). */
static gw_tz_t *zone(const char *name)
{
    gw_tz_t *tz = NULL;
    char err[256];

    if (gw_tz_load(&tz, name, err, sizeof(err)) != 0)
        fprintf(stderr, "  %s: %s\n", name, err);
    T_CHECK(tz != NULL);
    return tz;
}

static gw_quiet_cfg_t night(const char *tz)
{
    gw_quiet_cfg_t q = {.enabled = 1,
                        .start_s = 22 * 3600,
                        .end_s = 7 * 3600,
                        .weekdays = 0x7f,
                        .bypass_priorities = 1u << GW_PRIO_CRITICAL,
                        .nbypass_categories = 1};
    snprintf(q.tz, sizeof(q.tz), "%s", tz);
    strcpy(q.bypass_categories[0], "fire");
    return q;
}

T_TEST(quiet_hours_in_a_zone)
{
    gw_quiet_cfg_t q = night("Asia/Shanghai"); /* UTC+8, no DST */
    gw_tz_t *sh = zone("Asia/Shanghai"), *utc0 = zone("UTC");

    /* 2026-01-05 is a Monday. 14:30 UTC = 22:30 Shanghai: quiet. */
    T_CHECK_EQ_INT(gw_quiet_active(&q, sh, utc(2026, 1, 5, 14, 30, 0)), 1);
    /* 13:59 UTC = 21:59 Shanghai: not yet */
    T_CHECK_EQ_INT(gw_quiet_active(&q, sh, utc(2026, 1, 5, 13, 59, 59)), 0);
    /* 22:59 UTC = 06:59 next day: still quiet; 23:00 UTC = 07:00: over */
    T_CHECK_EQ_INT(gw_quiet_active(&q, sh, utc(2026, 1, 5, 22, 59, 59)), 1);
    T_CHECK_EQ_INT(gw_quiet_active(&q, sh, utc(2026, 1, 5, 23, 0, 0)), 0);
    /* The end of the window: 07:00 Shanghai = 23:00 UTC. */
    T_CHECK_EQ_INT(gw_quiet_end(&q, sh, utc(2026, 1, 5, 15, 0, 0)), utc(2026, 1, 5, 23, 0, 0));
    T_CHECK_EQ_INT(gw_quiet_end(&q, sh, utc(2026, 1, 5, 12, 0, 0)), utc(2026, 1, 5, 12, 0, 0));
    /* The process's zone is never touched. */
    T_CHECK(getenv("TZ") == NULL || strcmp(getenv("TZ"), "Asia/Shanghai") != 0);

    /* The same instants in UTC: 14:30 UTC is not in 22:00-07:00 UTC. */
    gw_quiet_cfg_t u = night("UTC");
    T_CHECK_EQ_INT(gw_quiet_active(&u, utc0, utc(2026, 1, 5, 14, 30, 0)), 0);
    T_CHECK_EQ_INT(gw_quiet_active(&u, utc0, utc(2026, 1, 5, 23, 30, 0)), 1);
    T_CHECK_EQ_INT(gw_quiet_active(&u, NULL, utc(2026, 1, 5, 23, 30, 0)), 1); /* NULL: UTC */
    gw_tz_free(sh);
    gw_tz_free(utc0);
}

T_TEST(quiet_hours_weekdays_and_dst)
{
    gw_quiet_cfg_t q = night("UTC");
    gw_tz_t *utc0 = zone("UTC"), *berlin = zone("Europe/Berlin");

    /* Only windows starting Friday (5) and Saturday (6): the weekend nights. */
    q.weekdays = (1u << 5) | (1u << 6);
    /* 2026-01-09 is a Friday. Fri 23:00 quiet; Sat 06:00 (Friday's window)
     * quiet; Sun 06:00 (Saturday's window) quiet; Mon 06:00 not. */
    T_CHECK_EQ_INT(gw_quiet_active(&q, utc0, utc(2026, 1, 9, 23, 0, 0)), 1);
    T_CHECK_EQ_INT(gw_quiet_active(&q, utc0, utc(2026, 1, 10, 6, 0, 0)), 1);
    T_CHECK_EQ_INT(gw_quiet_active(&q, utc0, utc(2026, 1, 11, 6, 0, 0)), 1);
    T_CHECK_EQ_INT(gw_quiet_active(&q, utc0, utc(2026, 1, 12, 6, 0, 0)), 0);
    T_CHECK_EQ_INT(gw_quiet_active(&q, utc0, utc(2026, 1, 8, 23, 0, 0)), 0); /* Thursday */
    T_CHECK_EQ_INT(gw_quiet_end(&q, utc0, utc(2026, 1, 9, 23, 0, 0)), utc(2026, 1, 10, 7, 0, 0));

    /* A daytime window and a zone with DST: Berlin 2026-03-29 02:00 -> 03:00.
     * 08:00-18:00 local; 07:30 UTC = 09:30 CEST (UTC+2) after the change. */
    gw_quiet_cfg_t b = {.enabled = 1, .start_s = 8 * 3600, .end_s = 18 * 3600, .weekdays = 0x7f};
    strcpy(b.tz, "Europe/Berlin");
    T_CHECK_EQ_INT(gw_quiet_active(&b, berlin, utc(2026, 3, 29, 6, 30, 0)), 1); /* 08:30 CEST */
    T_CHECK_EQ_INT(gw_quiet_active(&b, berlin, utc(2026, 3, 28, 6, 30, 0)), 0); /* 07:30 CET */
    T_CHECK_EQ_INT(gw_quiet_end(&b, berlin, utc(2026, 3, 29, 6, 30, 0)),
                   utc(2026, 3, 29, 16, 0, 0));
    /* A night window across both changes of 2026: 22:00-07:00 Berlin time
     * ends at 06:00 UTC in winter and 05:00 UTC in summer. The night of the
     * spring change (Sat 28 -> Sun 29 March) starts at 21:00 UTC (CET) and
     * ends at 05:00 UTC (07:00 CEST); the autumn one (Sat 24 -> Sun 25
     * October) starts at 20:00 UTC (CEST) and ends at 06:00 UTC (CET). */
    gw_quiet_cfg_t nb = night("Europe/Berlin");
    T_CHECK_EQ_INT(gw_quiet_active(&nb, berlin, utc(2026, 3, 28, 20, 59, 59)), 0);
    T_CHECK_EQ_INT(gw_quiet_active(&nb, berlin, utc(2026, 3, 28, 21, 0, 0)), 1);
    T_CHECK_EQ_INT(gw_quiet_end(&nb, berlin, utc(2026, 3, 28, 23, 0, 0)),
                   utc(2026, 3, 29, 5, 0, 0));
    T_CHECK_EQ_INT(gw_quiet_active(&nb, berlin, utc(2026, 3, 29, 4, 59, 59)), 1);
    T_CHECK_EQ_INT(gw_quiet_active(&nb, berlin, utc(2026, 3, 29, 5, 0, 0)), 0);
    T_CHECK_EQ_INT(gw_quiet_active(&nb, berlin, utc(2026, 10, 24, 19, 59, 59)), 0);
    T_CHECK_EQ_INT(gw_quiet_active(&nb, berlin, utc(2026, 10, 24, 20, 0, 0)), 1);
    T_CHECK_EQ_INT(gw_quiet_end(&nb, berlin, utc(2026, 10, 25, 0, 30, 0)),
                   utc(2026, 10, 25, 6, 0, 0));
    T_CHECK_EQ_INT(gw_quiet_active(&nb, berlin, utc(2026, 10, 25, 5, 59, 59)), 1);
    T_CHECK_EQ_INT(gw_quiet_active(&nb, berlin, utc(2026, 10, 25, 6, 0, 0)), 0);
    /* disabled: never quiet */
    b.enabled = 0;
    T_CHECK_EQ_INT(gw_quiet_active(&b, berlin, utc(2026, 3, 29, 6, 30, 0)), 0);
    gw_tz_free(utc0);
    gw_tz_free(berlin);
}

T_TEST(quiet_bypass_and_backoff)
{
    gw_quiet_cfg_t q = night("");

    T_CHECK_EQ_INT(gw_quiet_bypass(&q, GW_PRIO_CRITICAL, "mechanical"), 1);
    T_CHECK_EQ_INT(gw_quiet_bypass(&q, GW_PRIO_LOW, "fire"), 1);
    T_CHECK_EQ_INT(gw_quiet_bypass(&q, GW_PRIO_HIGH, "electrical"), 0);
    T_CHECK_EQ_INT(gw_backoff_ms(1, 1000, 60000), 1000);
    T_CHECK_EQ_INT(gw_backoff_ms(2, 1000, 60000), 2000);
    T_CHECK_EQ_INT(gw_backoff_ms(4, 1000, 60000), 8000);
    T_CHECK_EQ_INT(gw_backoff_ms(40, 1000, 60000), 60000);
}

T_TEST(routes_first_match_and_continue)
{
    gw_route_cfg_t routes[3] = {0};
    gw_notify_cfg_t c = {.routes = routes, .nroutes = 3};
    int g[8], n;

    /* fire -> group 2 and go on; critical/high in Tower B -> group 1; else 0 */
    strcpy(routes[0].categories[0], "fire");
    routes[0].ncategories = 1;
    routes[0].groups[0] = 2;
    routes[0].ngroups = 1;
    routes[0].cont = 1;
    routes[1].priorities = (1u << GW_PRIO_CRITICAL) | (1u << GW_PRIO_HIGH);
    strcpy(routes[1].buildings[0], "Tower B");
    routes[1].nbuildings = 1;
    routes[1].groups[0] = 1;
    routes[1].ngroups = 1;
    routes[2].groups[0] = 0;
    routes[2].groups[1] = 2;
    routes[2].ngroups = 2;

    n = gw_route_groups(&c, GW_PRIO_HIGH, "mechanical", "Tower B", "lift-2", g, 8);
    T_CHECK(n == 1 && g[0] == 1);
    n = gw_route_groups(&c, GW_PRIO_LOW, "mechanical", "Tower B", "lift-2", g, 8);
    T_CHECK(n == 2 && g[0] == 0 && g[1] == 2);
    n = gw_route_groups(&c, GW_PRIO_HIGH, "fire", "Tower A", "fire-1", g, 8);
    T_CHECK(n == 2 && g[0] == 2 && g[1] == 0); /* no duplicate group 2 */
    n = gw_route_groups(&c, GW_PRIO_HIGH, "fire", "Tower B", "fire-1", g, 8);
    T_CHECK(n == 2 && g[0] == 2 && g[1] == 1);
}

T_TEST(inhibition_by_source_rule)
{
    gw_inhibit_cfg_t r[2] = {0};
    gw_notify_cfg_t c = {.inhibits = r, .ninhibits = 2};

    /* a panel fault mutes the panel's own zones, and the zone devices it feeds */
    strcpy(r[0].source_rules[0], "panel-fault");
    r[0].nsource_rules = 1;
    strcpy(r[1].source_rules[0], "panel-fault");
    r[1].nsource_rules = 1;
    strcpy(r[1].source_devices[0], "fire-1");
    r[1].nsource_devices = 1;
    strcpy(r[1].target_devices[0], "zone-7");
    r[1].ntarget_devices = 1;
    strcpy(r[1].target_rules[0], "smoke");
    r[1].ntarget_rules = 1;
    T_CHECK_EQ_INT(gw_inhibited(&c, "fire-1", "panel-fault", "fire-1", "zone-3-alarm"), 1);
    T_CHECK_EQ_INT(gw_inhibited(&c, "fire-1", "panel-fault", "zone-7", "smoke"), 1);
    T_CHECK_EQ_INT(gw_inhibited(&c, "fire-1", "panel-fault", "zone-7", "heat"), 0);
    T_CHECK_EQ_INT(gw_inhibited(&c, "fire-2", "panel-fault", "zone-7", "smoke"), 0);
    T_CHECK_EQ_INT(gw_inhibited(&c, "fire-1", "zone-3-alarm", "fire-1", "zone-4-alarm"), 0);
    T_CHECK_EQ_INT(gw_inhibited(&c, "fire-1", "panel-fault", "lift-1", "vibration"), 0);
}

static const char *lookup(void *arg, const char *name)
{
    (void)arg;
    if (strcmp(name, "phone") == 0)
        return "+8613800000001";
    if (strcmp(name, "message") == 0)
        return "a b; c"; /* one argument, whatever it holds */
    return NULL;
}

T_TEST(template_expand)
{
    char out[64];

    T_CHECK_EQ_INT(gw_template_expand("{phone}", lookup, NULL, out, sizeof(out)), 14);
    T_CHECK_STR(out, "+8613800000001");
    gw_template_expand("-text={message} {unknown} {{x}", lookup, NULL, out, sizeof(out));
    T_CHECK_STR(out, "-text=a b; c  {x}");
    /* the length needed is returned even when the output is short */
    T_CHECK_EQ_INT(gw_template_expand("{phone}{phone}", lookup, NULL, out, 10), 28);
    T_CHECK_EQ_INT(strlen(out), 9);
}

T_TEST(message_text_what_where_how_urgent_number)
{
    gw_nitem_t it[3] = {
        {
            GW_NK_FIRING,
            13,
            GW_PRIO_LOW,
            "Stair light out",
            "electrical",
            "light-4",
            "Tower A",
            "3F",
            "",
        },
        {GW_NK_FIRING, 12, GW_PRIO_CRITICAL, "电梯困人", "mechanical", "lift-1", "Tower A", "R",
         "Machine room"},
        {GW_NK_RESOLVED, 9, GW_PRIO_HIGH, "Pump dry run", "plumbing", "pump-2", "", "", ""},
    };
    char out[1024];

    gw_notify_format("Demo", it, 1, 0, out, sizeof(out));
    T_CHECK_STR(out, "[Demo] NEW LOW #13 Stair light out @ Tower A 3F (light-4)");
    gw_notify_format("Demo", it, 3, 0, out, sizeof(out));
    /* most urgent first, resolved last, all numbers up front */
    T_CHECK_STR(out, "[Demo] 3 alerts #12 #13 #9: NEW CRITICAL #12 电梯困人 @ Tower A R Machine "
                     "room (lift-1); NEW LOW #13 Stair light out @ Tower A 3F (light-4); CLEARED "
                     "HIGH #9 Pump dry run @ (pump-2)");
    /* Chinese text: UCS-2, fitted into one segment of 70 */
    gw_notify_format("Demo", it, 3, 1, out, sizeof(out));
    T_CHECK_EQ_INT(gw_sms_segments(out, NULL, NULL), 1);
    T_CHECK(strncmp(out, "[Demo] 3 alerts #12 #13 #9: ", 28) == 0);
    /* a short output buffer never ends in half a character */
    gw_notify_format("Demo", it, 3, 0, out, 52);
    int ucs2, units;
    gw_sms_segments(out, &ucs2, &units);
    T_CHECK(strstr(out, "\xef\xbf\xbd") == NULL);
    T_CHECK_EQ_INT(gw_sms_segments(out, NULL, NULL), 1);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    T_RUN(sms_segments_gsm7);
    T_RUN(sms_segments_ucs2_chinese);
    T_RUN(sms_fit_truncates_on_characters);
    T_RUN(quiet_hours_in_a_zone);
    T_RUN(quiet_hours_weekdays_and_dst);
    T_RUN(quiet_bypass_and_backoff);
    T_RUN(routes_first_match_and_continue);
    T_RUN(inhibition_by_source_rule);
    T_RUN(template_expand);
    T_RUN(message_text_what_where_how_urgent_number);
    return t_done();
}
