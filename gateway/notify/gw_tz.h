/*
 * gw_tz.h: local time in a named zone without the C library's TZ
 * (docs/hooks.md, "Quiet hours").
 *
 * glibc converts to local time only in the process's zone, and switching it
 * means setenv("TZ") + tzset, which is not thread-safe while other threads
 * (bus threads, paho, curl resolving names) read the environment. So the
 * notifier reads the zone's rules itself: the TZif file of the system's
 * zoneinfo (RFC 8536: the transitions, and for times after the last one
 * the POSIX TZ rule of the footer), parsed once at start and on reload and
 * read again daily, and converts with plain arithmetic. Everything here is
 * pure except gw_tz_load, which reads one small file.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_TZ_H
#define PLANTROOM_GW_TZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct gw_tz gw_tz_t;

/* Parse a TZif file (versions 1 to 4) held in buf. Returns 0 and *out
 * (free with gw_tz_free), or GW_EINVAL with err saying what is wrong. */
int gw_tz_parse(gw_tz_t **out, const void *buf, size_t len, char *err, size_t errlen);
/* A zone from a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"). 0 or
 * GW_EINVAL with err. */
int gw_tz_posix(gw_tz_t **out, const char *rule, char *err, size_t errlen);
/* The zone name (an IANA name under /usr/share/zoneinfo, "Asia/Shanghai")
 * read from the system's zoneinfo; "" is the system's zone: $TZ when set
 * (a zone name, a path, or a POSIX rule), else /etc/localtime, else UTC.
 * Returns 0 and *out, or a negative code with err. */
int gw_tz_load(gw_tz_t **out, const char *name, char *err, size_t errlen);
void gw_tz_free(gw_tz_t *tz);

/* Seconds east of UTC in force at utc_s; *isdst (may be NULL) 1 in
 * daylight-saving time. NULL tz: UTC. */
int32_t gw_tz_offset(const gw_tz_t *tz, int64_t utc_s, int *isdst);
/* utc_s as local time in tz (tm_year, tm_mon, tm_mday, tm_hour, tm_min,
 * tm_sec, tm_wday, tm_yday, tm_isdst set). NULL tz: UTC. */
void gw_tz_local(const gw_tz_t *tz, int64_t utc_s, struct tm *out);
/* The UTC instant of a local wall time (year, month 1..12, day 1..31 or
 * past the month's end, seconds into the day). A time skipped by a DST
 * change gives an instant near the change; a repeated one gives one of
 * the two. */
int64_t gw_tz_utc(const gw_tz_t *tz, int year, int mon, int mday, int64_t sec_of_day);

#endif
