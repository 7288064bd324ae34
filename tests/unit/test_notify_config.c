/*
 * test_notify_config.c: the notification sections of the site config
 * (gateway/gw_config_hooks.c): a good config resolves every reference; each
 * mistake is reported with its JSON path; secrets are read from files; the
 * bounds of the "notify" object (gateway/gw_config_notify.c). notify.db
 * itself is tests/unit/test_notify_store.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config.h"
#include "ledger_testutil.h"
#include "t.h"

#include <stdarg.h>

static const char *write_file(const char *name, const char *text)
{
    const char *p = lt_path(name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

/* Load a config whose notification part is `extra` (JSON members). */
static int load(const char *extra, gw_config_t **cfg, gw_errlist_t *el)
{
    char text[8192];

    snprintf(text, sizeof(text),
             "{\"site\": {\"id\": \"s\"}, \"state_dir\": \"%s\", \"mqtt\": {\"enabled\": false}, "
             "%s}",
             lt_tmpdir(), extra);
    gw_errlist_init(el);
    return gw_config_load(write_file("c.json", text), NULL, cfg, el);
}

static int has_error(const gw_errlist_t *el, const char *needle)
{
    for (size_t i = 0; i < el->n; i++) {
        if (strstr(el->msgs[i], needle))
            return 1;
    }
    fprintf(stderr, "  no error containing \"%s\" among %zu:\n", needle, el->n);
    for (size_t i = 0; i < el->n; i++)
        fprintf(stderr, "    %s\n", el->msgs[i]);
    return 0;
}

#define GOOD                                                                                       \
    "\"hooks\": [{\"name\": \"sms\", \"kind\": \"exec\", \"argv\": [\"gammu-smsd-inject\", "       \
    "\"TEXT\", \"{phone}\", \"-text\", \"{message}\"]}, {\"name\": \"web\", \"kind\": "            \
    "\"webhook\", \"url\": \"https://sms.example/api\", \"format\": \"form\", \"auth\": "          \
    "\"basic\", \"username\": \"AC1\", \"secret_file\": \"secret\", \"fields\": {\"To\": "         \
    "\"{phone}\", \"Body\": \"{message}\"}}], "                                                    \
    "\"recipients\": [{\"name\": \"alice\", \"hook\": \"sms\", \"phone\": \"+86138\"}, "           \
    "{\"name\": \"bob\", \"hook\": \"web\", \"phone\": \"+86139\", \"min_interval_ms\": 2000}], "  \
    "\"groups\": [{\"name\": \"oncall\", \"members\": [\"alice\"], \"escalate_after_ms\": "        \
    "900000, \"escalate_to\": \"managers\"}, {\"name\": \"managers\", \"members\": [\"bob\", "     \
    "\"alice\"]}], "                                                                               \
    "\"routes\": [{\"priorities\": [\"critical\"], \"groups\": [\"managers\"], \"continue\": "     \
    "true}, {\"groups\": [\"oncall\"]}], "                                                         \
    "\"quiet_hours\": {\"start\": \"22:00\", \"end\": \"07:00\", \"tz\": \"Asia/Shanghai\", "      \
    "\"weekdays\": [\"mon\", \"fri\"]}, "                                                          \
    "\"inhibit_rules\": [{\"source_rules\": [\"panel-fault\"], \"target_devices\": "               \
    "[\"zone-7\"]}]"

T_TEST(good_config_resolves_references)
{
    gw_config_t *cfg = NULL;
    gw_errlist_t el;

    write_file("secret", "pa55word\n");
    T_CHECK_EQ_INT(load(GOOD, &cfg, &el), 0);
    if (!cfg) {
        has_error(&el, "-");
        gw_errlist_free(&el);
        return;
    }
    const gw_notify_cfg_t *n = &cfg->notify;
    T_CHECK_EQ_INT(n->nhooks, 2);
    T_CHECK_EQ_INT(n->hooks[0].nargv, 5);
    T_CHECK_STR(n->hooks[0].argv[2], "{phone}");
    T_CHECK_EQ_INT(n->hooks[0].max_segments, 3);
    T_CHECK_EQ_INT(n->hooks[1].form, 1);
    T_CHECK_EQ_INT(n->hooks[1].auth, GW_AUTH_BASIC);
    T_CHECK_STR(n->hooks[1].secret, "pa55word");
    T_CHECK_EQ_INT(n->recipients[1].hook_idx, 1);
    T_CHECK_EQ_INT(n->recipients[0].min_interval_ms, 1000);
    T_CHECK_EQ_INT(n->groups[0].escalate_idx, 1);
    T_CHECK_EQ_INT(n->groups[0].group_wait_ms, 30000);
    T_CHECK_EQ_INT(n->groups[0].repeat_interval_ms, 4 * 3600 * 1000);
    T_CHECK(n->groups[1].nmembers == 2 && n->groups[1].members[0] == 1);
    T_CHECK(n->routes[0].priorities == 1u << GW_PRIO_CRITICAL && n->routes[0].cont == 1);
    T_CHECK(n->routes[1].ngroups == 1 && n->routes[1].groups[0] == 0);
    T_CHECK(n->quiet.enabled && n->quiet.start_s == 22 * 3600 && n->quiet.end_s == 7 * 3600);
    T_CHECK_EQ_INT(n->quiet.weekdays, (1u << 1) | (1u << 5));
    T_CHECK_EQ_INT(n->quiet.bypass_priorities, 1u << GW_PRIO_CRITICAL);
    T_CHECK_STR(n->quiet.bypass_categories[0], "fire");
    T_CHECK(n->ninhibits == 1 && n->inhibits[0].ntarget_devices == 1);
    gw_config_free(cfg);
    gw_errlist_free(&el);
}

T_TEST(mistakes_are_named_by_path)
{
    gw_config_t *cfg = NULL;
    gw_errlist_t el;

    T_CHECK(
        load("\"hooks\": [{\"name\": \"x\", \"kind\": \"shell\"}, {\"name\": \"y\", "
             "\"kind\": \"exec\"}, {\"name\": \"w\", \"kind\": \"webhook\", \"url\": "
             "\"ftp://a\", \"auth\": \"bearer\", \"timeout_ms\": 5, \"colour\": 1}], "
             "\"recipients\": [{\"name\": \"a\", \"hook\": \"nope\"}, {\"name\": \"a\", "
             "\"hook\": \"y\"}], "
             "\"groups\": [{\"name\": \"g\", \"members\": [\"zed\"], \"escalate_after_ms\": "
             "1000, \"escalate_to\": \"g\"}, {\"name\": \"h\", \"members\": []}], "
             "\"routes\": [{\"priorities\": [\"urgent\"], \"groups\": [\"missing\"]}], "
             "\"quiet_hours\": {\"start\": \"25:00\", \"end\": \"7\", \"tz\": \"Mars/Olympus\", "
             "\"weekdays\": [\"someday\"]}, \"inhibit_rules\": [{\"target_devices\": [\"z\"]}]",
             &cfg, &el) != 0);
    T_CHECK(cfg == NULL);
    T_CHECK(has_error(&el, "hooks[0].kind: must be \"exec\" or \"webhook\""));
    T_CHECK(has_error(&el, "hooks[1].argv: an exec hook needs a non-empty argv"));
    T_CHECK(has_error(&el, "hooks[2].url: must start with http:// or https://"));
    T_CHECK(has_error(&el, "hooks[2].secret_file: auth \"bearer\" needs a secret_file"));
    T_CHECK(has_error(&el, "hooks[2].timeout_ms"));
    T_CHECK(has_error(&el, "hooks[2]"));
    T_CHECK(has_error(&el, "colour"));
    T_CHECK(has_error(&el, "recipients[0].hook: no hook named \"nope\""));
    T_CHECK(has_error(&el, "recipients[1]: duplicate name \"a\""));
    T_CHECK(has_error(&el, "groups[0].members: no recipient named \"zed\""));
    T_CHECK(has_error(&el, "groups[0].escalate_to: a group cannot escalate to itself"));
    T_CHECK(has_error(&el, "groups[1].members: a group needs at least one member"));
    T_CHECK(has_error(&el, "routes[0].priorities: must list critical, high, medium or low"));
    T_CHECK(has_error(&el, "routes[0].groups: no group named \"missing\""));
    T_CHECK(has_error(&el, "quiet_hours.start: must be \"HH:MM\""));
    T_CHECK(has_error(&el, "quiet_hours.end: must be \"HH:MM\""));
    T_CHECK(has_error(&el, "quiet_hours.tz: unknown time zone \"Mars/Olympus\""));
    T_CHECK(has_error(&el, "quiet_hours.weekdays: must list mon"));
    T_CHECK(has_error(&el, "inhibit_rules[0].source_rules: an inhibit rule needs"));
    gw_errlist_free(&el);
}

T_TEST(notify_bounds)
{
    gw_config_t *cfg = NULL;
    gw_errlist_t el;

    /* defaults */
    T_CHECK_EQ_INT(load("\"comment\": 0", &cfg, &el), 0);
    if (cfg) {
        T_CHECK_EQ_INT(cfg->notify.limits.retention_days, 30);
        T_CHECK_EQ_INT(cfg->notify.limits.max_rows, 10000);
        T_CHECK_EQ_INT(cfg->notify.limits.queue_max, 10000);
        T_CHECK_EQ_INT(cfg->notify.limits.max_pending, 1000);
        gw_config_free(cfg);
    }
    gw_errlist_free(&el);
    T_CHECK_EQ_INT(load("\"notify\": {\"retention_days\": 7, \"max_rows\": 500, "
                        "\"queue_max\": 50, \"max_pending\": 20}",
                        &cfg, &el),
                   0);
    if (cfg) {
        T_CHECK(cfg->notify.limits.retention_days == 7 && cfg->notify.limits.max_rows == 500);
        T_CHECK(cfg->notify.limits.queue_max == 50 && cfg->notify.limits.max_pending == 20);
        gw_config_free(cfg);
    }
    gw_errlist_free(&el);
    cfg = NULL;
    T_CHECK(load("\"notify\": {\"retention_days\": 0, \"max_rows\": 5, \"queue_max\": "
                 "\"x\", \"max_pending\": 1000000, \"colour\": 1}",
                 &cfg, &el) != 0);
    T_CHECK(cfg == NULL);
    T_CHECK(has_error(&el, "notify.retention_days"));
    T_CHECK(has_error(&el, "notify.max_rows"));
    T_CHECK(has_error(&el, "notify.queue_max"));
    T_CHECK(has_error(&el, "notify.max_pending"));
    T_CHECK(has_error(&el, "colour"));
    gw_errlist_free(&el);
    T_CHECK(load("\"notify\": [1]", &cfg, &el) != 0);
    T_CHECK(has_error(&el, "notify: must be an object"));
    gw_errlist_free(&el);
}

int main(void)
{
    T_RUN(good_config_resolves_references);
    T_RUN(mistakes_are_named_by_path);
    T_RUN(notify_bounds);
    lt_cleanup();
    return t_done();
}
