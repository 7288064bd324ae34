/*
 * test_config_title.c: a rule's title is limited in characters, as
 * docs/configuration.md says ("max 159 chars"), not in bytes: a 54-character
 * Chinese title (162 bytes of UTF-8) and a 159-character one (477 bytes) are
 * accepted whole; 160 characters, ASCII or Chinese, are refused with the
 * count in characters. The count itself (gw_utf8_chars) on mixed text.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/config/gw_config.h"
#include "ledger_testutil.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

#define ZH "\xe6\xb0\xb4" /* 水: 3 bytes, 1 character */

/* n copies of unit into buf. */
static const char *repeat(char *buf, size_t len, const char *unit, int n)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        strncat(buf, unit, len - strlen(buf) - 1);
    return buf;
}

/* Load a one-rule config whose title is title: 0 and the config, or -1
 * with the errors in el. */
static int load(const char *title, gw_config_t **cfg, gw_errlist_t *el)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s", lt_path("site.json"));
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\"site\": {\"id\": \"t\"}, \"state_dir\": \"%s\", \"profiles_dir\": \"%s\",\n"
            " \"mqtt\": {\"enabled\": false},\n"
            " \"buses\": [{\"name\": \"b\", \"type\": \"tcp\", \"host\": \"127.0.0.1\", "
            "\"port\": 1502}],\n"
            " \"devices\": [{\"name\": \"lift-1\", \"bus\": \"b\", \"unit_id\": 1, "
            "\"profile\": \"elevator\"}],\n"
            " \"rules\": [{\"name\": \"vib\", \"device\": \"lift-1\", \"point\": "
            "\"vibration_machine\", \"above\": 4.5, \"title\": \"%s\"}]}\n",
            lt_tmpdir(), PLANTROOM_SOURCE_DIR "/drivers/profiles", title);
    fclose(f);
    gw_errlist_init(el);
    return gw_config_load(path, NULL, cfg, el);
}

static int has_error(const gw_errlist_t *el, const char *needle)
{
    for (size_t i = 0; i < el->n; i++) {
        if (strstr(el->msgs[i], needle))
            return 1;
    }
    for (size_t i = 0; i < el->n; i++)
        fprintf(stderr, "    %s\n", el->msgs[i]);
    return 0;
}

T_TEST(test_utf8_chars)
{
    T_CHECK_EQ_INT(gw_utf8_chars(""), 0);
    T_CHECK_EQ_INT(gw_utf8_chars("lift-1"), 6);
    T_CHECK_EQ_INT(gw_utf8_chars(ZH ZH "a"), 3);
    T_CHECK_EQ_INT(gw_utf8_chars("\xe2\x82\xac 5 \xf0\x9f\x94\xa5"), 5); /* € 5 🔥 */
}

T_TEST(test_title_counts_characters)
{
    static char title[4096];
    gw_config_t *cfg = NULL;
    gw_errlist_t el;

    /* 54 Chinese characters: 162 bytes, more than the old 159-byte bound. */
    repeat(title, sizeof(title), ZH, 54);
    T_CHECK_EQ_INT((int)strlen(title), 162);
    T_CHECK_EQ_INT(load(title, &cfg, &el), 0);
    T_CHECK(cfg && cfg->nrules == 1 && strcmp(cfg->rules[0].title, title) == 0);
    gw_errlist_free(&el);
    gw_config_free(cfg);
    cfg = NULL;

    /* 159 characters, each 3 bytes: the bound, accepted whole. */
    repeat(title, sizeof(title), ZH, GW_TITLE_MAX);
    T_CHECK_EQ_INT(load(title, &cfg, &el), 0);
    T_CHECK(cfg && strcmp(cfg->rules[0].title, title) == 0);
    gw_errlist_free(&el);
    gw_config_free(cfg);
    cfg = NULL;

    /* 160 characters: refused, counted in characters. */
    repeat(title, sizeof(title), ZH, GW_TITLE_MAX + 1);
    T_CHECK(load(title, &cfg, &el) != 0);
    T_CHECK(has_error(&el, "rules[0].title") && has_error(&el, "at most 159 characters, got 160"));
    gw_errlist_free(&el);
    gw_config_free(cfg);
    cfg = NULL;
    repeat(title, sizeof(title), "a", GW_TITLE_MAX + 1);
    T_CHECK(load(title, &cfg, &el) != 0);
    T_CHECK(has_error(&el, "at most 159 characters, got 160"));
    gw_errlist_free(&el);
    gw_config_free(cfg);
}

int main(void)
{
    lt_tmpdir();
    T_RUN(test_utf8_chars);
    T_RUN(test_title_counts_characters);
    lt_cleanup();
    return t_done();
}
