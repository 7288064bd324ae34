/*
 * test_ctl_cli.c: plantroomctl's command line over every verb, run as a
 * program (its path is argv[1]): "NOUN VERB --help" answers that verb's
 * usage with exit 0 and "help NOUN VERB" the same; a bad option prints the
 * error and a one-line hint to the verb's --help (not the whole usage),
 * exit 2; with --json the error is one JSON object on stderr with a stable
 * code (docs/operations.md, "plantroomctl"); work-order JSON carries "v".
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"

#include "ledger_testutil.h"
#include "t.h"

#include <cjson/cJSON.h>

#include <sys/wait.h>

static const char *ctl;
static char out[65536];
static char errs[65536];

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;

    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Run plantroomctl with args in a clean environment; stdout and stderr
 * land in out and errs. Returns the exit status. */
static int run(const char *args)
{
    char cmd[4096];
    int status;

    snprintf(cmd, sizeof(cmd), "env -i PATH=/usr/bin:/bin TZ=UTC %s %s >%s 2>%s", ctl, args,
             lt_path("out.txt"), lt_path("err.txt"));
    status = system(cmd);
    slurp(lt_path("out.txt"), out, sizeof(out));
    slurp(lt_path("err.txt"), errs, sizeof(errs));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* errs as the JSON error object; its code, or "" when errs is not one. */
static const char *json_code(char *buf, size_t len)
{
    cJSON *o = cJSON_ParseWithOpts(errs, NULL, 0);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));

    snprintf(buf, len, "%s", code && msg && *msg && lines(errs) == 1 ? code : "");
    cJSON_Delete(o);
    return buf;
}

/* Every command of plantroomctl, and what goes before a bad option so that
 * the option itself is what is wrong. */
static const struct {
    const char *cmd, *before;
} verbs[] = {
    {"workorders list", ""},
    {"workorders show", "1"},
    {"workorders export", ""},
    {"workorders ack", "1"},
    {"workorders assign", "1"},
    {"workorders start", "1"},
    {"workorders resolve", "1"},
    {"workorders close", "1"},
    {"workorders cancel", "1"},
    {"workorders note", "1"},
    {"replay", ""},
    {"status", ""},
    {"reload", ""},
    {"write", "lift-1 sp 1"},
    {"backup", "x.db"},
    {"kpi", ""},
    {"report", ""},
    {"devices", ""},
    {"audit verify", ""},
    {"check", ""},
};

/* The table holds every command the usage lists (a new verb must be added
 * to it). */
T_TEST(test_table_has_every_command)
{
    int listed = 0;

    T_CHECK_EQ_INT(run("--help"), 0);
    for (const char *p = out; (p = strstr(p, "\n  ")) != NULL; p++)
        listed += p[3] != ' ';
    T_CHECK_EQ_INT(listed, (int)(sizeof(verbs) / sizeof(verbs[0])));
}

T_TEST(test_every_verb_answers_help)
{
    char args[512], first[8192], want[256];

    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        snprintf(args, sizeof(args), "%s --help", verbs[i].cmd);
        T_CHECK_EQ_INT(run(args), 0);
        snprintf(want, sizeof(want), " %s ", verbs[i].cmd);
        T_CHECK(strncmp(out, "usage: plantroomctl ", 20) == 0 && strstr(out, want) != NULL);
        T_CHECK(lines(out) == 2 && errs[0] == '\0');
        if (!(strncmp(out, "usage: plantroomctl ", 20) == 0 && strstr(out, want)))
            fprintf(stderr, "  %s --help: %s", verbs[i].cmd, out);
        snprintf(first, sizeof(first), "%s", out);
        /* -h after other arguments, and "help NOUN VERB", the same (on
         * every third verb: main handles them for all alike). */
        if (i % 3 == 0) {
            snprintf(args, sizeof(args), "%s %s -h", verbs[i].cmd, verbs[i].before);
            T_CHECK_EQ_INT(run(args), 0);
            T_CHECK_STR(out, first);
            snprintf(args, sizeof(args), "help %s", verbs[i].cmd);
            T_CHECK_EQ_INT(run(args), 0);
            T_CHECK_STR(out, first);
        }
    }
}

T_TEST(test_every_verb_bad_option)
{
    char args[512], hint[256], code[64];

    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        snprintf(args, sizeof(args), "%s %s --bogus-opt", verbs[i].cmd, verbs[i].before);
        T_CHECK_EQ_INT(run(args), 2);
        snprintf(hint, sizeof(hint), "\ntry 'plantroomctl %s --help'\n", verbs[i].cmd);
        T_CHECK(strncmp(errs, "plantroomctl: ", 14) == 0 && strstr(errs, "--bogus-opt") != NULL);
        T_CHECK(lines(errs) == 2 && strstr(errs, hint) != NULL);
        if (lines(errs) != 2 || !strstr(errs, hint))
            fprintf(stderr, "  %s: %s", args, errs);
        T_CHECK(strstr(errs, "usage:") == NULL && out[0] == '\0');
        /* With --json: one JSON object, code "usage", nothing on stdout. */
        snprintf(args, sizeof(args), "%s %s --bogus-opt --json", verbs[i].cmd, verbs[i].before);
        T_CHECK_EQ_INT(run(args), 2);
        T_CHECK_STR(json_code(code, sizeof(code)), "usage");
        T_CHECK(strstr(errs, "--bogus-opt") != NULL && out[0] == '\0');
    }
}

T_TEST(test_help_topics)
{
    char code[64];

    T_CHECK_EQ_INT(run("help"), 0);
    T_CHECK(strstr(out, "workorders list") != NULL && strstr(out, "backup FILE") != NULL);
    T_CHECK_EQ_INT(run("help workorders"), 0);
    T_CHECK(strstr(out, "workorders ack") != NULL && strstr(out, "workorders note") != NULL);
    T_CHECK(strstr(out, "backup") == NULL);
    T_CHECK_EQ_INT(run("workorders --help"), 0);
    T_CHECK(strstr(out, "workorders ack") != NULL);
    T_CHECK_EQ_INT(run("help frobnicate"), 2);
    T_CHECK(strstr(errs, "frobnicate") != NULL && strstr(errs, "try 'plantroomctl help'") != NULL);
    T_CHECK_EQ_INT(run("frobnicate"), 2);
    T_CHECK(lines(errs) == 2 && strstr(errs, "usage:") == NULL);
    T_CHECK_EQ_INT(run("frobnicate --json"), 2);
    T_CHECK_STR(json_code(code, sizeof(code)), "usage");
    T_CHECK_EQ_INT(run("workorders frob --json"), 2);
    T_CHECK_STR(json_code(code, sizeof(code)), "usage");
}

/* The stable codes of failures (exit 1 or 2 as before), and "v". */
T_TEST(test_json_error_codes_and_version)
{
    ledger_t *lg = NULL;
    ledger_trigger_t t;
    ledger_trigger_result_t r;
    char err[256], args[1024], code[64];
    cJSON *o;

    T_CHECK_EQ_INT(ledger_open(&lg, lt_path("cli.db"), LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    if (!lg)
        return;
    t = lt_trigger("hq", "lift-1", "vib", 1714572000000LL);
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), 0);
    ledger_close(lg);

    snprintf(args, sizeof(args), "--ledger %s workorders show 99 --json", lt_path("cli.db"));
    T_CHECK_EQ_INT(run(args), 2);
    T_CHECK_STR(json_code(code, sizeof(code)), "not_found");
    snprintf(args, sizeof(args), "--ledger %s workorders show 99", lt_path("cli.db"));
    T_CHECK_EQ_INT(run(args), 2);
    T_CHECK(strncmp(errs, "plantroomctl: ", 14) == 0 && lines(errs) == 1);
    snprintf(args, sizeof(args), "--ledger %s workorders start 1 --json", lt_path("cli.db"));
    T_CHECK_EQ_INT(run(args), 2); /* open -> in_progress skips acknowledged */
    T_CHECK_STR(json_code(code, sizeof(code)), "not_allowed");
    snprintf(args, sizeof(args), "--ledger %s workorders list --json", lt_path("nope.db"));
    T_CHECK_EQ_INT(run(args), 1);
    T_CHECK_STR(json_code(code, sizeof(code)), "ledger");
    snprintf(args, sizeof(args), "status --socket %s --json", lt_path("no.sock"));
    T_CHECK_EQ_INT(run(args), 1);
    T_CHECK_STR(json_code(code, sizeof(code)), "unreachable");

    /* Work-order JSON: "v":1 first, in list, show and a change's answer. */
    snprintf(args, sizeof(args), "--ledger %s workorders list --json", lt_path("cli.db"));
    T_CHECK_EQ_INT(run(args), 0);
    o = cJSON_Parse(out);
    T_CHECK(cJSON_GetArraySize(o) == 1);
    T_CHECK_STR(o && o->child && o->child->child ? o->child->child->string : "", "v");
    T_CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(o, 0), "v")) == 1);
    cJSON_Delete(o);
    snprintf(args, sizeof(args), "--ledger %s workorders show 1 --json", lt_path("cli.db"));
    T_CHECK_EQ_INT(run(args), 0);
    o = cJSON_Parse(out);
    T_CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "v")) == 1);
    cJSON_Delete(o);
    snprintf(args, sizeof(args), "--ledger %s workorders ack 1 --by bob --json", lt_path("cli.db"));
    T_CHECK_EQ_INT(run(args), 0);
    o = cJSON_Parse(out);
    T_CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "v")) == 1);
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "status")), "acknowledged");
    cJSON_Delete(o);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-OF-PLANTROOMCTL\n", argv[0]);
        return 2;
    }
    ctl = argv[1];
    lt_tmpdir();
    T_RUN(test_table_has_every_command);
    T_RUN(test_every_verb_answers_help);
    T_RUN(test_every_verb_bad_option);
    T_RUN(test_help_topics);
    T_RUN(test_json_error_codes_and_version);
    lt_cleanup();
    return t_done();
}
