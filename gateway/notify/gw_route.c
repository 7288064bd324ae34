/*
 * gw_route.c: pure notification decisions (gw_route.h): routes, quiet
 * hours, backoff, SMS segment arithmetic, message text and templates.
 *
 * Quiet hours are judged in the zone the config names, converted with the
 * zone's own rules (gw_tz.h), never through the process's TZ: setenv and
 * tzset are not thread-safe while other threads read the environment.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/gw_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const route__kinds[] = {"firing", "again", "escalated", "repeat", "resolved"};
static const char *const route__tags[] = {"NEW", "AGAIN", "ESCALATED", "STILL OPEN", "CLEARED"};

const char *gw_nkind_name(gw_nkind_t k)
{
    return (unsigned)k < GW_ARRAY_SIZE(route__kinds) ? route__kinds[k] : "?";
}

int gw_nkind_parse(const char *s, gw_nkind_t *out)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(route__kinds); i++) {
        if (strcmp(s, route__kinds[i]) == 0) {
            *out = (gw_nkind_t)i;
            return 0;
        }
    }
    return GW_EINVAL;
}

/* ---- routes -------------------------------------------------------------- */

static int route__in(const char *v, const char *list, size_t width, int n)
{
    if (n == 0)
        return 1;
    for (int i = 0; i < n; i++) {
        if (v && strcmp(v, list + (size_t)i * width) == 0)
            return 1;
    }
    return 0;
}

int gw_route_groups(const gw_notify_cfg_t *c, gw_priority_t prio, const char *category,
                    const char *building, const char *device, int *out, int max)
{
    int n = 0;

    for (size_t i = 0; i < c->nroutes; i++) {
        const gw_route_cfg_t *r = &c->routes[i];
        if (r->priorities && !(r->priorities & (1u << prio)))
            continue;
        if (!route__in(category, r->categories[0], sizeof(r->categories[0]), r->ncategories) ||
            !route__in(building, r->buildings[0], sizeof(r->buildings[0]), r->nbuildings) ||
            !route__in(device, r->devices[0], sizeof(r->devices[0]), r->ndevices))
            continue;
        for (int k = 0; k < r->ngroups; k++) {
            int dup = 0;
            for (int j = 0; j < n; j++)
                dup |= out[j] == r->groups[k];
            if (!dup && n < max)
                out[n++] = r->groups[k];
        }
        if (!r->cont)
            break;
    }
    return n;
}

int gw_inhibited(const gw_notify_cfg_t *c, const char *src_device, const char *src_rule,
                 const char *device, const char *rule)
{
    for (size_t i = 0; i < c->ninhibits; i++) {
        const gw_inhibit_cfg_t *r = &c->inhibits[i];
        if (!route__in(src_rule, r->source_rules[0], sizeof(r->source_rules[0]),
                       r->nsource_rules) ||
            !route__in(src_device, r->source_devices[0], sizeof(r->source_devices[0]),
                       r->nsource_devices) ||
            !route__in(rule, r->target_rules[0], sizeof(r->target_rules[0]), r->ntarget_rules))
            continue;
        if (r->ntarget_devices == 0 ? strcmp(device, src_device) == 0
                                    : route__in(device, r->target_devices[0],
                                                sizeof(r->target_devices[0]), r->ntarget_devices))
            return 1;
    }
    return 0;
}

/* ---- quiet hours --------------------------------------------------------- */

/* In force at local time tm? */
static int route__quiet_tm(const gw_quiet_cfg_t *q, const struct tm *tm)
{
    int m = tm->tm_hour * 3600 + tm->tm_min * 60 + tm->tm_sec;
    int today = tm->tm_wday, yesterday = (tm->tm_wday + 6) % 7;

    if (q->start_s == q->end_s)
        return (q->weekdays >> today) & 1;
    if (q->start_s < q->end_s)
        return ((q->weekdays >> today) & 1) && m >= q->start_s && m < q->end_s;
    /* spans midnight: the window belongs to the day it starts on */
    return (((q->weekdays >> today) & 1) && m >= q->start_s) ||
           (((q->weekdays >> yesterday) & 1) && m < q->end_s);
}

static int route__quiet_at(const gw_quiet_cfg_t *q, const gw_tz_t *tz, int64_t utc_s)
{
    struct tm tm;

    gw_tz_local(tz, utc_s, &tm);
    return route__quiet_tm(q, &tm);
}

static int64_t route__floor_s(int64_t ms)
{
    return ms / 1000 - (ms % 1000 < 0);
}

int gw_quiet_active(const gw_quiet_cfg_t *q, const gw_tz_t *tz, int64_t wall_ms)
{
    if (!q->enabled || !q->weekdays)
        return 0;
    return route__quiet_at(q, tz, route__floor_s(wall_ms));
}

int64_t gw_quiet_end(const gw_quiet_cfg_t *q, const gw_tz_t *tz, int64_t wall_ms)
{
    int64_t best = -1;
    struct tm base;

    if (!gw_quiet_active(q, tz, wall_ms))
        return wall_ms;
    gw_tz_local(tz, route__floor_s(wall_ms), &base);
    /* A window ends at end_s of some day: the first such moment ahead at
     * which no window (of that day or the day before) is in force. */
    for (int k = 0; k <= 8 && best < 0; k++) {
        int64_t t = gw_tz_utc(tz, base.tm_year + 1900, base.tm_mon + 1, base.tm_mday + k, q->end_s);
        if (t * 1000 > wall_ms && !route__quiet_at(q, tz, t))
            best = t * 1000;
    }
    return best; /* -1: quiet every day all day */
}

int gw_quiet_bypass(const gw_quiet_cfg_t *q, gw_priority_t prio, const char *category)
{
    if (q->bypass_priorities & (1u << prio))
        return 1;
    for (int i = 0; i < q->nbypass_categories; i++) {
        if (category && strcmp(category, q->bypass_categories[i]) == 0)
            return 1;
    }
    return 0;
}

int64_t gw_backoff_ms(int attempts, int base_ms, int max_ms)
{
    int64_t d = base_ms;

    for (int i = 1; i < attempts && d < max_ms; i++)
        d *= 2;
    return d < max_ms ? d : max_ms;
}

/* ---- SMS segments -------------------------------------------------------- */

/* Next code point of UTF-8 text at *p (advancing it); invalid bytes count
 * as U+FFFD. */
static unsigned route__utf8(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned c = s[0];
    int n = c < 0x80             ? 0
            : (c & 0xe0) == 0xc0 ? 1
            : (c & 0xf0) == 0xe0 ? 2
            : (c & 0xf8) == 0xf0 ? 3
                                 : -1;

    if (n < 0) {
        (*p)++;
        return 0xfffd;
    }
    c = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *p = s + i;
            return 0xfffd;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    *p = s + n + 1;
    return c;
}

/* GSM 03.38: 1 for the basic alphabet, 2 for the extension table, 0 for
 * neither. */
static int route__gsm(unsigned c)
{
    static const unsigned basic[] = {0x40,  0xa3,  0x24,  0xa5,  0xe8,  0xe9,  0xf9,  0xec,  0xf2,
                                     0xc7,  0x0a,  0xd8,  0xf8,  0x0d,  0xc5,  0xe5,  0x394, 0x5f,
                                     0x3a6, 0x393, 0x39b, 0x3a9, 0x3a0, 0x3a8, 0x3a3, 0x398, 0x39e,
                                     0xc6,  0xe6,  0xdf,  0xc9,  0xa4,  0xa1,  0xc4,  0xd6,  0xd1,
                                     0xdc,  0xa7,  0xbf,  0xe4,  0xf6,  0xf1,  0xfc,  0xe0};
    static const char ext[] = "^{}\\[~]|";

    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    if (c >= 0x20 && c < 0x7f && strchr(" !\"#%&'()*+,-./:;<=>?", (int)c))
        return 1;
    if (c >= 0x20 && c < 0x7f && strchr(ext, (int)c))
        return 2;
    if (c == 0x20ac || c == 0x0c)
        return 2;
    for (size_t i = 0; i < GW_ARRAY_SIZE(basic); i++) {
        if (basic[i] == c)
            return 1;
    }
    return 0;
}

int gw_sms_segments(const char *s, int *ucs2, int *units)
{
    const unsigned char *p = (const unsigned char *)s;
    int gsm_units = 0, utf16_units = 0, is_ucs2 = 0, u;

    while (*p) {
        unsigned c = route__utf8(&p);
        int g = route__gsm(c);
        if (!g)
            is_ucs2 = 1;
        gsm_units += g;
        utf16_units += c > 0xffff ? 2 : 1;
    }
    u = is_ucs2 ? utf16_units : gsm_units;
    if (ucs2)
        *ucs2 = is_ucs2;
    if (units)
        *units = u;
    if (u == 0)
        return 1;
    if (is_ucs2)
        return u <= 70 ? 1 : (u + 66) / 67;
    return u <= 160 ? 1 : (u + 152) / 153;
}

void gw_sms_fit(char *s, int max_segments)
{
    size_t len = strlen(s);
    char *buf;
    int ucs2;

    if (max_segments <= 0 || gw_sms_segments(s, NULL, NULL) <= max_segments)
        return;
    buf = malloc(len + 8);
    if (!buf) {
        s[0] = '\0';
        return;
    }
    /* Drop whole characters from the end until text + ellipsis fits. The
     * ellipsis follows the text's encoding: "…" is not in GSM-7. */
    while (len > 0) {
        do
            len--;
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80);
        memcpy(buf, s, len);
        buf[len] = '\0';
        gw_sms_segments(buf, &ucs2, NULL);
        strcpy(buf + len, ucs2 ? "\xe2\x80\xa6" : "...");
        if (gw_sms_segments(buf, NULL, NULL) <= max_segments)
            break;
    }
    strcpy(s, buf);
    free(buf);
}

/* ---- message text -------------------------------------------------------- */

static int route__item_cmp(const void *a, const void *b)
{
    const gw_nitem_t *x = a, *y = b;
    int rx = x->kind == GW_NK_RESOLVED, ry = y->kind == GW_NK_RESOLVED;

    if (rx != ry)
        return rx - ry;
    if (x->priority != y->priority)
        return (int)x->priority - (int)y->priority;
    return x->number < y->number ? -1 : x->number > y->number;
}

static void route__upper(char *dst, size_t len, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        dst[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 32) : s[i];
    dst[i] = '\0';
}

#define ROUTE__S(x) ((x) ? (x) : "")

/* "NEW CRITICAL #12 title @ building floor room (device)" */
static size_t route__item(const gw_nitem_t *it, char *out, size_t len)
{
    char prio[16];
    size_t n;

    route__upper(prio, sizeof(prio), gw_priority_name(it->priority));
    n = (size_t)snprintf(out, len, "%s %s #%lld %s @", route__tags[it->kind], prio,
                         (long long)it->number, ROUTE__S(it->title));
    const char *parts[] = {it->building, it->floor, it->room};
    for (size_t i = 0; i < 3; i++) {
        if (parts[i] && parts[i][0] && n < len)
            n += (size_t)snprintf(out + n, len - n, " %s", parts[i]);
    }
    if (n < len)
        n += (size_t)snprintf(out + n, len - n, " (%s)", ROUTE__S(it->device));
    return n < len ? n : len - 1;
}

size_t gw_notify_format(const char *site, gw_nitem_t *items, size_t n, int max_segments, char *out,
                        size_t outlen)
{
    size_t w;

    if (!outlen)
        return 0;
    out[0] = '\0';
    qsort(items, n, sizeof(*items), route__item_cmp);
    w = (size_t)snprintf(out, outlen, "[%s] ", ROUTE__S(site));
    if (n > 1 && w < outlen) {
        w += (size_t)snprintf(out + w, outlen - w, "%zu alerts", n);
        for (size_t i = 0; i < n && w < outlen; i++)
            w += (size_t)snprintf(out + w, outlen - w, " #%lld", (long long)items[i].number);
        if (w < outlen)
            w += (size_t)snprintf(out + w, outlen - w, ": ");
    }
    for (size_t i = 0; i < n && w + 1 < outlen; i++) {
        if (i > 0 && w + 2 < outlen)
            w += (size_t)snprintf(out + w, outlen - w, "; ");
        if (w + 1 < outlen)
            w += route__item(&items[i], out + w, outlen - w);
    }
    if (w >= outlen)
        w = outlen - 1;
    out[w] = '\0';
    /* a cut in the middle of a UTF-8 sequence is trimmed */
    while (w > 0 && ((unsigned char)out[w - 1] & 0x80)) {
        size_t k = w - 1;
        while (k > 0 && ((unsigned char)out[k] & 0xc0) == 0x80)
            k--;
        unsigned char lead = (unsigned char)out[k];
        size_t need = (lead & 0xe0) == 0xc0   ? 2
                      : (lead & 0xf0) == 0xe0 ? 3
                      : (lead & 0xf8) == 0xf0 ? 4
                                              : 1;
        if (w - k >= need)
            break;
        w = k;
        out[w] = '\0';
    }
    gw_sms_fit(out, max_segments);
    return strlen(out);
}

size_t gw_template_expand(const char *tpl, gw_lookup_fn lookup, void *arg, char *out, size_t outlen)
{
    size_t w = 0;

#define ROUTE__PUT(c)                                                                              \
    do {                                                                                           \
        if (w + 1 < outlen)                                                                        \
            out[w] = (c);                                                                          \
        w++;                                                                                       \
    } while (0)

    for (const char *p = tpl; *p;) {
        if (p[0] == '{' && p[1] == '{') {
            ROUTE__PUT('{');
            p += 2;
            continue;
        }
        if (p[0] == '{') {
            const char *end = strchr(p, '}');
            char name[64];
            if (end && (size_t)(end - p - 1) < sizeof(name)) {
                const char *v;
                memcpy(name, p + 1, (size_t)(end - p - 1));
                name[end - p - 1] = '\0';
                v = lookup(arg, name);
                for (; v && *v; v++)
                    ROUTE__PUT(*v);
                p = end + 1;
                continue;
            }
        }
        ROUTE__PUT(*p);
        p++;
    }
    if (outlen)
        out[w < outlen ? w : outlen - 1] = '\0';
#undef ROUTE__PUT
    return w;
}
