/*
 * notify_mail.c: a message as a mail (notify_int.h; docs/hooks.md,
 * "Mail"): what an exec hook with "stdin": "mail" reads, a complete
 * RFC 5322 / MIME message for a sendmail-compatible program (`msmtp -t`,
 * `sendmail -t`), which takes the recipient from To:.
 *
 * A report is multipart/mixed: multipart/alternative (the text report and
 * the HTML page, so that a mail program shows the page and a plain one the
 * text) and the page attached as report-YYYY-MM.html (mail programs that
 * drop inline SVG still open the attachment in a browser). An alert is one
 * text/plain part with the message. Bodies are base64 (UTF-8, any line
 * length); header values have CR and LF removed, and a subject that is not
 * ASCII is an RFC 2047 encoded word. The Message-ID is the notification's
 * own, the same on every retry: a mail that went out twice (a crash
 * between the program's success and its record) is the same message to the
 * recipient's mail program. The Date is in the zone of the quiet hours
 * (gw_tz.h; UTC without quiet hours): the C library's local time is not
 * the notifier's.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char mail__b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* len bytes of s in base64, lines of 76 characters when wrap. */
static void mail__b64(gw_sbuf_t *b, const unsigned char *s, size_t len, int wrap)
{
    char quad[5] = {0};
    size_t col = 0;

    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < len ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < len ? s[i + 2] : 0);
        quad[0] = mail__b64chars[(v >> 18) & 63];
        quad[1] = mail__b64chars[(v >> 12) & 63];
        quad[2] = i + 1 < len ? mail__b64chars[(v >> 6) & 63] : '=';
        quad[3] = i + 2 < len ? mail__b64chars[v & 63] : '=';
        gw_sbuf_putn(b, quad, 4);
        col += 4;
        if (wrap && col >= 76) {
            gw_sbuf_puts(b, "\n");
            col = 0;
        }
    }
    if (wrap && col)
        gw_sbuf_puts(b, "\n");
}

/* "Name: value" with CR and LF left out of the value. */
static void mail__header(gw_sbuf_t *b, const char *name, const char *value)
{
    gw_sbuf_printf(b, "%s: ", name);
    for (; value && *value; value++)
        if (*value != '\r' && *value != '\n')
            gw_sbuf_putn(b, value, 1);
    gw_sbuf_puts(b, "\n");
}

/* Subject: as is when ASCII, else encoded words of at most 45 bytes, cut
 * on UTF-8 character boundaries (bytes that are not UTF-8 are cut anyway). */
static void mail__subject(gw_sbuf_t *b, const char *subject)
{
    char s[512];
    size_t len = 0, off = 0;
    int ascii = 1;

    for (const char *c = subject; *c && len + 1 < sizeof(s); c++)
        if (*c != '\r' && *c != '\n')
            s[len++] = *c;
    s[len] = '\0';

    for (size_t i = 0; i < len; i++)
        ascii &= (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f;
    if (ascii) {
        mail__header(b, "Subject", s);
        return;
    }
    gw_sbuf_puts(b, "Subject:");
    while (off < len) {
        size_t n = len - off > 45 ? 45 : len - off;
        /* back to a character's start; not UTF-8 (no start within the
         * word): cut where it is */
        while (n > 1 && off + n < len && ((unsigned char)s[off + n] & 0xC0) == 0x80)
            n--;
        gw_sbuf_puts(b, off ? "\n =?UTF-8?B?" : " =?UTF-8?B?");
        mail__b64(b, (const unsigned char *)s + off, n, 0);
        gw_sbuf_puts(b, "?=");
        off += n;
    }
    gw_sbuf_puts(b, "\n");
}

/* One body part, base64. */
static void mail__part(gw_sbuf_t *b, const char *boundary, const char *type, const char *filename,
                       const char *body)
{
    gw_sbuf_printf(b, "\n--%s\nContent-Type: %s; charset=utf-8", boundary, type);
    if (filename)
        gw_sbuf_printf(b, "; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"",
                       filename, filename);
    gw_sbuf_puts(b, "\nContent-Transfer-Encoding: base64\n\n");
    mail__b64(b, (const unsigned char *)body, strlen(body), 1);
}

/* 1 when s may be a quoted display name as it is (printable ASCII, no
 * quote or backslash). */
static int mail__plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

/* The Date: header's value (RFC 5322, English names whatever the locale)
 * for now, in the notifier's zone (that of its quiet hours, gw_tz.h). */
static void mail__date(const gw_notify_t *n, char *out, size_t len)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t t = gw_wall_ms() / 1000;
    int32_t off = gw_tz_offset(n->zone, t, NULL);
    int32_t a = off < 0 ? -off : off;
    struct tm tm;

    gw_tz_local(n->zone, t, &tm);
    snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour, tm.tm_min,
             tm.tm_sec, off < 0 ? '-' : '+', (int)(a / 3600 % 100), (int)(a / 60 % 60));
}

static void mail__headers(gw_sbuf_t *b, const notify__ph_t *p, const gw_hook_cfg_t *h,
                          const char *subject, const char *tag)
{
    const char *domain = strchr(h->mail_from, '@');
    char date[64], id[256], from[192];

    mail__date(p->n, date, sizeof(date));
    snprintf(from, sizeof(from), "\"%s\" <%s>", p->n->cfg->site_name, h->mail_from);
    snprintf(id, sizeof(id), "<plantroom.%s.%lld.%s%s>", tag, (long long)p->m->id,
             p->n->cfg->site_id, domain ? domain : "@localhost");
    mail__header(b, "From", mail__plain(p->n->cfg->site_name) ? from : h->mail_from);
    mail__header(b, "To", p->r->address);
    mail__subject(b, subject);
    mail__header(b, "Date", date);
    mail__header(b, "Message-ID", id);
    mail__header(b, "MIME-Version", "1.0");
    mail__header(b, "Auto-Submitted", "auto-generated");
}

/* The report: text and page as alternatives, the page attached. */
static void mail__report(gw_sbuf_t *b, const notify__ph_t *p, const gw_hook_cfg_t *h,
                         const cJSON *rep)
{
    char mixed[64], alt[64], file[64];
    const char *month = notify__jstr(rep, "month");

    snprintf(mixed, sizeof(mixed), "=_plantroom_mixed_%lld", (long long)p->m->id);
    snprintf(alt, sizeof(alt), "=_plantroom_alt_%lld", (long long)p->m->id);
    snprintf(file, sizeof(file), "report-%.7s.html", month);
    mail__headers(b, p, h, notify__jstr(rep, "subject"), "report");
    gw_sbuf_printf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n", mixed);
    gw_sbuf_puts(b, "This is a MIME message: the monthly maintenance report.\n");
    gw_sbuf_printf(b, "\n--%s\nContent-Type: multipart/alternative; boundary=\"%s\"\n", mixed, alt);
    mail__part(b, alt, "text/plain", NULL, notify__jstr(rep, "text"));
    mail__part(b, alt, "text/html", NULL, notify__jstr(rep, "html"));
    gw_sbuf_printf(b, "\n--%s--\n", alt);
    mail__part(b, mixed, "text/html", file, notify__jstr(rep, "html"));
    gw_sbuf_printf(b, "\n--%s--\n", mixed);
}

char *notify__mail(const notify__ph_t *p, const gw_hook_cfg_t *h)
{
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(p->doc, "report");
    gw_sbuf_t b = {0};
    char subject[160];

    if (cJSON_IsObject(rep)) {
        mail__report(&b, p, h, rep);
        return gw_sbuf_take(&b);
    }
    /* an alert: the message is the subject (cut) and the body */
    snprintf(subject, sizeof(subject), "%s", p->m->message);
    if (strlen(p->m->message) >= sizeof(subject)) {
        size_t n = sizeof(subject) - 4;
        while (n > 0 && ((unsigned char)subject[n] & 0xC0) == 0x80)
            n--;
        snprintf(subject + n, sizeof(subject) - n, "...");
    }
    mail__headers(&b, p, h, subject, "alert");
    mail__header(&b, "Content-Type", "text/plain; charset=utf-8");
    mail__header(&b, "Content-Transfer-Encoding", "base64");
    gw_sbuf_puts(&b, "\n");
    mail__b64(&b, (const unsigned char *)p->m->message, strlen(p->m->message), 1);
    return gw_sbuf_take(&b);
}
