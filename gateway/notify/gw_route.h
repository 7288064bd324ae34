/*
 * gw_route.h: the pure decisions of notification (docs/hooks.md): which
 * groups an alert goes to, whether quiet hours hold it, how long to back
 * off, how many SMS segments a text takes, and the text itself. No I/O, no
 * libuv, no SQLite: unit-tested in tests/unit/test_notify_route.c. Local
 * time comes from gw_tz.h, never from the process's TZ.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_ROUTE_H
#define PLANTROOM_GW_ROUTE_H

#include "gateway/config/gw_config_hooks.h"
#include "gateway/base/gw_types.h"
#include "gateway/notify/gw_tz.h"

#include <stddef.h>
#include <stdint.h>

/* What a message says about one work order. */
typedef enum gw_nkind {
    GW_NK_FIRING = 0, /* opened */
    GW_NK_AGAIN,      /* retriggered */
    GW_NK_ESCALATED,  /* not acknowledged in time: sent to the next group */
    GW_NK_REPEAT,     /* still open after repeat_interval */
    GW_NK_RESOLVED,   /* the condition cleared */
} gw_nkind_t;

/* One work order in a message. Strings borrowed; NULL or "" when unknown. */
typedef struct gw_nitem {
    gw_nkind_t kind;
    int64_t number;
    gw_priority_t priority;
    const char *title, *category, *device, *building, *floor, *room;
} gw_nitem_t;

/* Kind <-> name ("firing", "again", "escalated", "repeat", "resolved"). */
const char *gw_nkind_name(gw_nkind_t k);
int gw_nkind_parse(const char *s, gw_nkind_t *out);

/* Groups (indexes into c->groups) an alert with these labels goes to, in
 * route order, without duplicates: routes are tried in order, a matching
 * route adds its groups and ends the search unless it has "continue". A
 * route's empty list matches anything. Returns the count (<= max). */
int gw_route_groups(const gw_notify_cfg_t *c, gw_priority_t prio, const char *category,
                    const char *building, const char *device, int *out, int max);

/* 1 when an active work order of (src_device, src_rule) mutes an alert of
 * (device, rule) under c's inhibit_rules. The caller excludes the alert
 * itself. */
int gw_inhibited(const gw_notify_cfg_t *c, const char *src_device, const char *src_rule,
                 const char *device, const char *rule);

/* 1 when quiet hours q (enabled) are in force at wall_ms, in the zone tz
 * (q->tz loaded with gw_tz_load; NULL: UTC). */
int gw_quiet_active(const gw_quiet_cfg_t *q, const gw_tz_t *tz, int64_t wall_ms);
/* When the quiet hours in force at wall_ms end (wall_ms itself when not
 * quiet; -1 when they never end: every day, all day). */
int64_t gw_quiet_end(const gw_quiet_cfg_t *q, const gw_tz_t *tz, int64_t wall_ms);
/* 1 when an alert of this priority or category passes quiet hours. */
int gw_quiet_bypass(const gw_quiet_cfg_t *q, gw_priority_t prio, const char *category);

/* Delay before retry number `attempts` (1 = after the first failure):
 * base * 2^(attempts-1), at most max. */
int64_t gw_backoff_ms(int attempts, int base_ms, int max_ms);

/* SMS segments the UTF-8 text s takes: GSM-7 when every character is in
 * the GSM 03.38 alphabet (extension characters count 2), 160 a message or
 * 153 a part; otherwise UCS-2 (any Chinese), 70 or 67 a part, counting
 * UTF-16 units. *ucs2 and *units (may be NULL) say which and how many. */
int gw_sms_segments(const char *s, int *ucs2, int *units);
/* Cut s (UTF-8, in place, on a character boundary) so that it takes at most
 * max_segments, ending in "..." (GSM-7) or "…" (UCS-2) when cut. 0: leave. */
void gw_sms_fit(char *s, int max_segments);

/* The message for items (sorted here: most urgent first, resolved last):
 * what (title), where (building floor room, device), how urgent (priority),
 * the work-order number(s), e.g.
 *   "[Demo Tower] NEW CRITICAL #12 Fire alarm zone 3 @ Tower A B1 (fire-1)"
 *   "[Demo Tower] 3 alerts #12 #13 #14: NEW HIGH #12 ...; NEW LOW #13 ...; ..."
 * Fitted to max_segments (0: no limit). Returns the length written. */
size_t gw_notify_format(const char *site, gw_nitem_t *items, size_t n, int max_segments, char *out,
                        size_t outlen);

/* Expand "{name}" placeholders of tpl with lookup(arg, name) (NULL: left
 * empty); "{{" is a literal "{". Returns the length (output truncated to
 * outlen - 1). */
typedef const char *(*gw_lookup_fn)(void *arg, const char *name);
size_t gw_template_expand(const char *tpl, gw_lookup_fn lookup, void *arg, char *out,
                          size_t outlen);

#endif
