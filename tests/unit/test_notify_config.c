/*
 * test_notify_config.c: the notification sections of the site config
 * (gateway/gw_config_hooks.c): a good config resolves every reference; each
 * mistake is reported with its JSON path; secrets are read from files. And
 * notify.db (store/notify_store.h): the life of an event and a message on a
 * real SQLite file, across a reopen.
 */
#include "gateway/config/gw_config.h"
#include "ledger_testutil.h"
#include "store/notify_store.h"
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

T_TEST(store_event_batch_message_life)
{
    notify_store_t *s;
    char err[256];
    notify_alert_t a = {0}, b;
    notify_batch_row_t *rows;
    notify_ag_row_t *ag;
    notify_msg_t *msgs;
    size_t n;
    int64_t id;

    T_CHECK_EQ_INT(notify_store_open(&s, lt_path("notify.db"), err, sizeof(err)), 0);
    T_CHECK_EQ_INT(notify_seen(s, "wo1#1", 1000), 1);
    T_CHECK_EQ_INT(notify_seen(s, "wo1#1", 2000), 0); /* the same event again */
    snprintf(a.wo_id, sizeof(a.wo_id), "wo1");
    a.number = 12;
    strcpy(a.priority, "high");
    strcpy(a.status, "open");
    strcpy(a.title, "电梯困人");
    T_CHECK_EQ_INT(notify_alert_put(s, &a), 0);
    T_CHECK_EQ_INT(notify_alert_get(s, "wo1", &b), 0);
    T_CHECK(b.number == 12 && strcmp(b.title, "电梯困人") == 0);
    T_CHECK_EQ_INT(notify_alert_get(s, "wo2", &b), GW_ENOENT);
    T_CHECK_EQ_INT(notify_batch_add(s, "oncall", "wo1", "firing", 1000), 0);
    T_CHECK_EQ_INT(notify_batch_add(s, "oncall", "wo1", "firing", 1100), 0); /* once */
    T_CHECK_EQ_INT(notify_batch_list(s, &rows, &n), 0);
    T_CHECK(n == 1 && rows[0].created_ms == 1000);
    T_CHECK_EQ_INT(notify_batch_del(s, rows[0].id), 0);
    free(rows);
    T_CHECK_EQ_INT(notify_ag_sent(s, "wo1", "oncall", 3000), 0);
    T_CHECK_EQ_INT(notify_ag_sent(s, "wo1", "oncall", 5000), 0);
    T_CHECK_EQ_INT(notify_ag_list(s, NULL, &ag, &n), 0);
    T_CHECK(n == 1 && ag[0].first_sent_ms == 3000 && ag[0].last_sent_ms == 5000);
    free(ag);
    T_CHECK_EQ_INT(notify_msg_add(s, "oncall", "alice", "[S] NEW #12", "{}", 5000, &id), 0);
    T_CHECK_EQ_INT(notify_msg_retry(s, id, 1, 9000, "exit status 1"), 0);
    T_CHECK_EQ_INT(notify_msg_due(s, 8999, 10, &msgs, &n), 0);
    T_CHECK_EQ_INT(n, 0);
    notify_msg_free_array(msgs, n);
    notify_store_close(s);

    /* Reopened (a restart): the pending message is still due at its time. */
    T_CHECK_EQ_INT(notify_store_open(&s, lt_path("notify.db"), err, sizeof(err)), 0);
    T_CHECK_EQ_INT(notify_seen(s, "wo1#1", 3000), 0);
    T_CHECK_EQ_INT(notify_msg_due(s, 9000, 10, &msgs, &n), 0);
    T_CHECK(n == 1 && msgs[0].attempts == 1 && strcmp(msgs[0].recipient, "alice") == 0);
    notify_msg_free_array(msgs, n);
    T_CHECK_EQ_INT(notify_msg_sent(s, id, 2, 9100), 0);
    T_CHECK_EQ_INT(notify_msg_due(s, 99999, 10, &msgs, &n), 0);
    T_CHECK_EQ_INT(n, 0); /* recorded as sent: never due again */
    notify_msg_free_array(msgs, n);
    /* cleared: no longer among the active alerts */
    a.cleared = 1;
    T_CHECK_EQ_INT(notify_alert_put(s, &a), 0);
    T_CHECK_EQ_INT(notify_ag_list(s, NULL, &ag, &n), 0);
    T_CHECK_EQ_INT(n, 0);
    free(ag);
    notify_store_close(s);
}

int main(void)
{
    T_RUN(good_config_resolves_references);
    T_RUN(mistakes_are_named_by_path);
    T_RUN(store_event_batch_message_life);
    lt_cleanup();
    return t_done();
}
