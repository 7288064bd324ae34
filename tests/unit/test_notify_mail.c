/*
 * test_notify_mail.c: reports and mail in the notifier (docs/hooks.md,
 * "The monthly report", "Mail"): the config of a mail hook and an email
 * recipient, each mistake named by its JSON path; the MIME message a
 * sendmail-compatible hook reads, for a report (text and page as
 * alternatives, the page attached) and for an alert, with base64 bodies
 * that decode to the texts, an encoded subject, a Date in the zone of the
 * quiet hours (gw_tz, not the process's TZ), and no header a value could
 * inject.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config.h"
#include "gateway/notify/notify_int.h"
#include "ledger_testutil.h"
#include "t.h"

#include <stdlib.h>

static int load(const char *notify, gw_config_t **cfg, gw_errlist_t *el)
{
    const char *p = lt_path("c.json");
    FILE *f = fopen(p, "w");

    fprintf(f,
            "{\"site\": {\"id\": \"s\", \"name\": \"Tower One\"}, \"state_dir\": \"%s\", "
            "\"mqtt\": {\"enabled\": false}, %s}",
            lt_tmpdir(), notify);
    fclose(f);
    gw_errlist_init(el);
    return gw_config_load(p, NULL, cfg, el);
}

static int has_error(const gw_errlist_t *el, const char *needle)
{
    for (size_t i = 0; i < el->n; i++)
        if (strstr(el->msgs[i], needle))
            return 1;
    fprintf(stderr, "  no error containing \"%s\"\n", needle);
    return 0;
}

#define MAILHOOK                                                                                   \
    "\"hooks\": [{\"name\": \"mail\", \"kind\": \"exec\", \"argv\": [\"msmtp\", \"-t\"], "         \
    "\"stdin\": \"mail\", \"mail_from\": \"plantroom@tower.example\"}], "
#define ROUTES                                                                                     \
    "\"groups\": [{\"name\": \"managers\", \"members\": [\"boss\"]}], "                            \
    "\"routes\": [{\"categories\": [\"report\"], \"groups\": [\"managers\"]}]"

T_TEST(test_config)
{
    gw_config_t *cfg = NULL;
    gw_errlist_t el;

    T_CHECK_EQ_INT(load(MAILHOOK "\"recipients\": [{\"name\": \"boss\", \"hook\": \"mail\", "
                                 "\"email\": \"boss@tower.example\"}], " ROUTES,
                        &cfg, &el),
                   0);
    if (cfg) {
        T_CHECK(cfg->notify.hooks[0].stdin_mail == 1);
        T_CHECK_EQ_INT(cfg->notify.hooks[0].max_segments, 0); /* a mail is not cut */
        T_CHECK_STR(cfg->notify.recipients[0].address, "boss@tower.example");
        gw_config_free(cfg);
        cfg = NULL;
    }
    gw_errlist_free(&el);
    T_CHECK(load("\"hooks\": [{\"name\": \"w\", \"kind\": \"webhook\", \"url\": "
                 "\"http://x/\", \"stdin\": \"mail\"}, {\"name\": \"e\", \"kind\": \"exec\", "
                 "\"argv\": [\"x\"], \"stdin\": \"xml\", \"mail_from\": \"nobody\"}], "
                 "\"recipients\": [{\"name\": \"boss\", \"hook\": \"e\", \"phone\": \"+1\", "
                 "\"email\": \"b@x\"}, {\"name\": \"li\", \"hook\": \"e\", \"email\": "
                 "\"li@x\\r\\nBcc: all@x\"}], " ROUTES,
                 &cfg, &el) != 0);
    T_CHECK(has_error(&el, "hooks[0].stdin: \"mail\" is for exec hooks"));
    T_CHECK(has_error(&el, "hooks[1].stdin: must be \"json\" or \"mail\""));
    T_CHECK(has_error(&el, "hooks[1].mail_from: must be a mail address"));
    T_CHECK(has_error(&el, "recipients[0].email: a recipient has a phone or an email"));
    T_CHECK(has_error(&el, "recipients[1].email: must be one mail address"));
    gw_errlist_free(&el);
}

/* Decode the base64 lines after the first blank line following marker. */
static char *body_after(const char *mail, const char *marker)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strstr(mail, marker);
    char *out;
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;

    if (!p || !(p = strstr(p, "\n\n")))
        return NULL;
    out = calloc(strlen(p) + 1, 1);
    for (p += 2; out && *p && *p != '-'; p++) {
        const char *c = strchr(tab, *p);
        if (*p == '\n' || *p == '=' || !c)
            continue;
        acc = acc << 6 | (unsigned)(c - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    return out;
}

/* The Date: header is RFC 5322's "Www, DD Mmm YYYY HH:MM:SS +hhmm", with
 * the zone's offset and English names. */
static int date_ok(const char *mail, const char *zone)
{
    const char *d = strstr(mail, "\nDate: ");
    char day[4], mon[4], off[8];
    int dd, yy, h, mi, s;

    if (!d || sscanf(d, "\nDate: %3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %5s", day, &dd, mon,
                     &yy, &h, &mi, &s, off) != 8) {
        fprintf(stderr, "  no usable Date: header\n");
        return 0;
    }
    return strstr("SunMonTueWedThuFriSat", day) &&
           strstr("JanFebMarAprMayJunJulAugSepOctNovDec", mon) && yy >= 2024 &&
           strcmp(off, zone) == 0;
}

T_TEST(test_mime)
{
    gw_config_t *cfg = NULL;
    gw_errlist_t el;
    struct gw_notify n = {0};
    notify_msg_t m = {.id = 7};
    notify__ph_t p = {0};
    char alert[] = "[Tower One] NEW HIGH #12 Lift 1 vibration";
    char bad[120];
    char *mail, *text, err[128];

    T_CHECK_EQ_INT(load(MAILHOOK "\"recipients\": [{\"name\": \"boss\", \"hook\": \"mail\", "
                                 "\"email\": \"boss@tower.example\"}], " ROUTES,
                        &cfg, &el),
                   0);
    gw_errlist_free(&el);
    if (!cfg)
        return;
    n.cfg = cfg;
    T_CHECK_EQ_INT(gw_tz_posix(&n.zone, "CST-8", err, sizeof(err)), 0); /* the quiet hours' */
    p.n = &n;
    p.r = &cfg->notify.recipients[0];
    p.m = &m;
    p.doc = cJSON_Parse("{\"kind\":\"report\",\"report\":{\"month\":\"2026-05\",\"subject\":"
                        "\"Rapport mensuel mai 2026 \xe2\x80\x94 Tour\\r\\nBcc: x@y\",\"text\":"
                        "\"On-time rate 97.1 %\",\"html\":\"<!DOCTYPE html><p>\xe7\x94\xb5"
                        "\xe6\xa2\xaf</p>\"}}");
    mail = notify__mail(&p, &cfg->notify.hooks[0]);
    T_CHECK(mail != NULL);
    if (mail) {
        T_CHECK(strstr(mail, "\nTo: boss@tower.example\n") != NULL);
        T_CHECK(strstr(mail, "From: \"Tower One\" <plantroom@tower.example>\n") == mail);
        T_CHECK(strstr(mail, "Subject: =?UTF-8?B?") != NULL); /* not ASCII: encoded */
        T_CHECK(strstr(mail, "\nBcc:") == NULL);              /* nothing injected */
        T_CHECK(strstr(mail, "Message-ID: <plantroom.report.7.s@tower.example>") != NULL);
        T_CHECK(strstr(mail, "multipart/alternative") && strstr(mail, "multipart/mixed"));
        T_CHECK(strstr(mail, "filename=\"report-2026-05.html\"") != NULL);
        T_CHECK(date_ok(mail, "+0800"));
        text = body_after(mail, "Content-Type: text/plain");
        T_CHECK(text && strcmp(text, "On-time rate 97.1 %") == 0);
        free(text);
        text = body_after(mail, "Content-Type: text/html");
        T_CHECK(text && strcmp(text, "<!DOCTYPE html><p>\xe7\x94\xb5\xe6\xa2\xaf</p>") == 0);
        free(text);
        free(mail);
    }
    /* a report has no alerts: a template's {number} and {numbers} are
     * empty-handed, not a cast of a missing number */
    text = notify__expand("#{number} [{numbers}]", &p);
    T_CHECK(text && strcmp(text, "#0 []") == 0);
    free(text);
    cJSON_Delete((cJSON *)p.doc);
    /* an alert: its message as subject and plain body */
    m.message = alert;
    p.doc = cJSON_Parse("{\"alerts\":[]}");
    mail = notify__mail(&p, &cfg->notify.hooks[0]);
    T_CHECK(mail && strstr(mail, "Subject: [Tower One] NEW HIGH #12 Lift 1 vibration\n"));
    text = mail ? body_after(mail, "Content-Transfer-Encoding: base64") : NULL;
    T_CHECK(text && strcmp(text, m.message) == 0);
    free(text);
    free(mail);
    /* a message that is not UTF-8 (config strings are bytes): a run of
     * continuation bytes longer than an encoded word is still cut */
    memset(bad, 0x80, sizeof(bad) - 1);
    bad[sizeof(bad) - 1] = '\0';
    m.message = bad;
    mail = notify__mail(&p, &cfg->notify.hooks[0]);
    T_CHECK(mail && strstr(mail, "Subject: =?UTF-8?B?") != NULL);
    free(mail);
    cJSON_Delete((cJSON *)p.doc);
    gw_tz_free(n.zone);
    gw_config_free(cfg);
}

int main(void)
{
    T_RUN(test_config);
    T_RUN(test_mime);
    lt_cleanup();
    return t_done();
}
