/*
 * test_ledger_ctl.c: plantroomctl run as a program (its path is argv[1])
 * against ledgers made here: table and JSON output, filters, how the ledger
 * path is found (--ledger, config, state directory, environment), and the
 * exit status of each kind of error (1 failure, 2 usage).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"

#include "ledger_testutil.h"
#include "t.h"

#include <cjson/cJSON.h>

#include <sys/stat.h>
#include <sys/wait.h>

#define T0 1714572000000LL /* 2024-05-01T14:00:00.000Z */

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

/* Run plantroomctl with args in a clean environment plus env; stdout and
 * stderr land in out and errs. Returns the exit status. $LT_DEBUG prints
 * each command. */
static int run(const char *env, const char *args)
{
    char cmd[4096];
    int status;

    snprintf(cmd, sizeof(cmd), "env -i PATH=/usr/bin:/bin TZ=UTC %s %s %s >%s 2>%s", env, ctl, args,
             lt_path("out.txt"), lt_path("err.txt"));
    status = system(cmd);
    if (getenv("LT_DEBUG"))
        fprintf(stderr, "$ %s\n", cmd);
    slurp(lt_path("out.txt"), out, sizeof(out));
    slurp(lt_path("err.txt"), errs, sizeof(errs));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Display width of the widest line of s (CJK counts 2). */
static int widest_line(const char *s)
{
    int widest = 0, cur = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n') {
            widest = cur > widest ? cur : widest;
            cur = 0;
        } else if ((*p & 0xc0) != 0x80) {
            cur += *p >= 0xe1 ? 2 : 1; /* 3/4-byte sequences here are CJK */
        }
    }
    return cur > widest ? cur : widest;
}

/* A number member, or -1 when absent. */
static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void make_ledger(const char *path, int orders)
{
    static const char *const titles[] = {
        "Vibration above zone C/D on the traction machine of lift 1, plan repair",
        "Door reversals trending up",
        "\xe6\xb0\xb4\xe6\xb3\xb5\xe5\x8e\x8b\xe5\x8a\x9b\xe4\xbd\x8e", /* 水泵压力低 */
    };
    ledger_t *lg = NULL;
    char err[256] = "";
    char dev[32];

    if (ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)) < 0) {
        fprintf(stderr, "make_ledger: %s\n", err);
        return;
    }
    for (int i = 0; i < orders; i++) {
        ledger_trigger_t t;
        ledger_trigger_result_t r;
        snprintf(dev, sizeof(dev), "lift-%d-with-a-long-device-name", i);
        t = lt_trigger("hq", i == 0 ? dev : (i == 1 ? "lift-2" : "pump-1"), "vib", T0 + i * 60000);
        t.title = titles[i % 3];
        t.priority = (gw_priority_t)(i % 4);
        if (ledger_wo_trigger(lg, &t, &r, err, sizeof(err)) < 0)
            fprintf(stderr, "make_ledger: %s\n", err);
    }
    ledger_close(lg);
}

T_TEST(test_version_help)
{
    T_CHECK_EQ_INT(run("", "--version"), 0);
    T_CHECK_STR(out, "plantroomctl 0.1.0\n");
    T_CHECK_EQ_INT(run("", "--help"), 0);
    T_CHECK(strstr(out, "workorders list") != NULL);
    T_CHECK_EQ_INT(run("", "--ledger x workorders list --help"), 0);
    T_CHECK(strstr(out, "--status") != NULL);
}

T_TEST(test_usage_errors)
{
    char args[1024];

    T_CHECK_EQ_INT(run("", ""), 2);
    T_CHECK(strstr(errs, "try 'plantroomctl help'") != NULL);
    T_CHECK_EQ_INT(run("", "frobnicate list"), 2);
    T_CHECK(strstr(errs, "frobnicate") != NULL && strstr(errs, "try 'plantroomctl") != NULL);
    T_CHECK_EQ_INT(run("", "workorders"), 2);
    T_CHECK_EQ_INT(run("", "workorders frob"), 2);
    T_CHECK(strstr(errs, "frob") != NULL);
    T_CHECK_EQ_INT(run("", "--bogus workorders list"), 2);
    T_CHECK(strstr(errs, "--bogus") != NULL);
    snprintf(args, sizeof(args), "--ledger %s workorders list --nope", lt_path("a.db"));
    T_CHECK_EQ_INT(run("", args), 2);
    T_CHECK(strstr(errs, "--nope") != NULL);
    T_CHECK_EQ_INT(run("", "workorders list --status bogus"), 2);
    T_CHECK(strstr(errs, "bogus") != NULL &&
            strstr(errs, "try 'plantroomctl workorders list --help'") != NULL);
    T_CHECK_EQ_INT(run("", "workorders list --limit 0"), 2);
    T_CHECK_EQ_INT(run("", "workorders list --limit 3x"), 2);
    T_CHECK(strstr(errs, "3x") != NULL);
    T_CHECK_EQ_INT(run("", "workorders list --limit"), 2);
    T_CHECK_EQ_INT(run("", "--ledger"), 2);
    T_CHECK(strstr(errs, "--ledger") != NULL);
}

T_TEST(test_missing_ledger)
{
    char args[1024];

    snprintf(args, sizeof(args), "--ledger %s workorders list", lt_path("nope.db"));
    T_CHECK_EQ_INT(run("", args), 1);
    T_CHECK(strstr(errs, lt_path("nope.db")) != NULL);
    T_CHECK(strstr(errs, "usage:") == NULL);
}

T_TEST(test_list_table_and_json)
{
    char db[512];
    char args[1024];
    char env[64];
    cJSON *arr;

    snprintf(db, sizeof(db), "%s", lt_path("ctl.db"));
    make_ledger(lt_path("empty.db"), 0);
    snprintf(args, sizeof(args), "--ledger %s workorders list", lt_path("empty.db"));
    T_CHECK_EQ_INT(run("", args), 0);
    T_CHECK_STR(out, "no work orders\n");
    snprintf(args, sizeof(args), "--ledger %s workorders list --json", lt_path("empty.db"));
    T_CHECK_EQ_INT(run("", args), 0);
    arr = cJSON_Parse(out);
    T_CHECK(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 0);
    cJSON_Delete(arr);

    make_ledger(db, 3);
    /* Wide: one row per order, newest first, columns aligned. */
    snprintf(args, sizeof(args), "--ledger %s workorders list", db);
    T_CHECK_EQ_INT(run("COLUMNS=120", args), 0);
    T_CHECK(strncmp(out, "NUMBER  STATUS  PRIO      DEVICE", 32) == 0);
    T_CHECK(strstr(out, "OPENED") != NULL && strstr(out, "TITLE") != NULL);
    T_CHECK(strstr(out, "     3  open    medium    pump-1") != NULL);
    T_CHECK(strstr(out, "2024-05-01 14:02") != NULL);
    T_CHECK(strstr(out, "...") != NULL); /* the long title and device are cut */
    T_CHECK(widest_line(out) <= 120);
    {
        const char *head = strstr(out, "OPENED");
        const char *row = strstr(out, "2024-05-01 14:02");
        const char *row_start = row;
        while (row_start > out && row_start[-1] != '\n')
            row_start--;
        T_CHECK(head && row && head - out == row - row_start);
    }
    /* Not a terminal and no COLUMNS: nothing cut. */
    T_CHECK_EQ_INT(run("", args), 0);
    T_CHECK(strstr(out, "plan repair") != NULL);
    /* A phone: every line fits. */
    for (int cols = 40; cols <= 100; cols += 10) {
        snprintf(env, sizeof(env), "COLUMNS=%d", cols);
        T_CHECK_EQ_INT(run(env, args), 0);
        T_CHECK(widest_line(out) <= cols);
        T_CHECK(strstr(out, "pump-1") != NULL);
    }
    /* JSON: one array of the ledger_wo_to_json objects. */
    snprintf(args, sizeof(args), "--ledger %s workorders list --json", db);
    T_CHECK_EQ_INT(run("", args), 0);
    arr = cJSON_Parse(out);
    T_CHECK(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 3);
    {
        cJSON *first = cJSON_GetArrayItem(arr, 0);
        T_CHECK_EQ_INT(num(first, "number"), 3);
        T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "status")), "open");
        T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "device")), "pump-1");
        T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "opened_at")),
                    "2024-05-01T14:02:00.000Z");
        T_CHECK(cJSON_IsObject(cJSON_GetObjectItem(first, "evidence")));
    }
    cJSON_Delete(arr);
    /* Filters. */
    snprintf(args, sizeof(args), "--ledger %s workorders list --json --device lift-2", db);
    T_CHECK_EQ_INT(run("", args), 0);
    arr = cJSON_Parse(out);
    T_CHECK(cJSON_GetArraySize(arr) == 1);
    cJSON_Delete(arr);
    snprintf(args, sizeof(args), "--ledger=%s workorders list --json --active --limit=2", db);
    T_CHECK_EQ_INT(run("", args), 0);
    arr = cJSON_Parse(out);
    T_CHECK(cJSON_GetArraySize(arr) == 2);
    cJSON_Delete(arr);
    snprintf(args, sizeof(args), "workorders list --status closed --ledger %s", db);
    T_CHECK_EQ_INT(run("", args), 0);
    T_CHECK_STR(out, "no work orders\n");
}

T_TEST(test_path_resolution)
{
    char args[2048];
    char env[1024];
    char text[1024];
    FILE *f;

    /* config in etc/, state_dir relative to it */
    T_CHECK_EQ_INT(mkdir(lt_path("etc"), 0755), 0);
    T_CHECK_EQ_INT(mkdir(lt_path("state"), 0755), 0);
    make_ledger(lt_path("state/wo.db"), 2);
    f = fopen(lt_path("etc/plantroom.json"), "w");
    fputs("{\"state_dir\": \"../state\", \"ledger\": {\"path\": \"wo.db\"}}\n", f);
    fclose(f);

    snprintf(args, sizeof(args), "--config %s workorders list --json",
             lt_path("etc/plantroom.json"));
    T_CHECK_EQ_INT(run("", args), 0);
    T_CHECK(strstr(out, "\"lift-2\"") != NULL);
    /* the environment names the config */
    snprintf(env, sizeof(env), "PLANTROOM_CONFIG=%s", lt_path("etc/plantroom.json"));
    T_CHECK_EQ_INT(run(env, "workorders list --json"), 0);
    T_CHECK(strstr(out, "\"lift-2\"") != NULL);
    /* $PLANTROOM_STATE_DIR beats the config's state_dir... */
    snprintf(env, sizeof(env), "PLANTROOM_CONFIG=%s PLANTROOM_STATE_DIR=%s",
             lt_path("etc/plantroom.json"), lt_path("elsewhere"));
    T_CHECK_EQ_INT(run(env, "workorders list"), 1);
    T_CHECK(strstr(errs, lt_path("elsewhere/wo.db")) != NULL);
    /* ...and --state-dir beats both. */
    snprintf(args, sizeof(args), "--state-dir %s workorders list --json", lt_path("state"));
    T_CHECK_EQ_INT(run(env, args), 0);
    T_CHECK(strstr(out, "\"lift-2\"") != NULL);
    /* --ledger beats everything. */
    snprintf(args, sizeof(args), "--ledger %s --state-dir /nonexistent workorders list",
             lt_path("state/wo.db"));
    T_CHECK_EQ_INT(run(env, args), 0);

    /* an absolute ledger path ignores the state directory */
    snprintf(text, sizeof(text), "{\"ledger\": {\"path\": \"%s\"}}", lt_path("state/wo.db"));
    f = fopen(lt_path("etc/abs.json"), "w");
    fputs(text, f);
    fclose(f);
    snprintf(args, sizeof(args), "--config %s --state-dir /nonexistent workorders list",
             lt_path("etc/abs.json"));
    T_CHECK_EQ_INT(run("", args), 0);

    /* a broken config, a missing named config, a wrong type: exit 1 */
    f = fopen(lt_path("etc/bad.json"), "w");
    fputs("{\n  \"ledger\": {\n    \"path\": wo.db\n  }\n}\n", f);
    fclose(f);
    snprintf(args, sizeof(args), "--config %s workorders list", lt_path("etc/bad.json"));
    T_CHECK_EQ_INT(run("", args), 1);
    T_CHECK(strstr(errs, "etc/bad.json") != NULL && strstr(errs, "line 3") != NULL);
    snprintf(args, sizeof(args), "--config %s workorders list", lt_path("etc/none.json"));
    T_CHECK_EQ_INT(run("", args), 1);
    T_CHECK(strstr(errs, "etc/none.json") != NULL);
    f = fopen(lt_path("etc/type.json"), "w");
    fputs("{\"ledger\": {\"path\": 5}}", f);
    fclose(f);
    snprintf(args, sizeof(args), "--config %s workorders list", lt_path("etc/type.json"));
    T_CHECK_EQ_INT(run("", args), 1);
    T_CHECK(strstr(errs, "path") != NULL);

    /* no config anywhere: defaults under the state directory */
    if (access("/etc/plantroom/plantroom.json", F_OK) != 0) {
        snprintf(env, sizeof(env), "PLANTROOM_STATE_DIR=%s", lt_path("s3"));
        T_CHECK_EQ_INT(run(env, "workorders list"), 1);
        T_CHECK(strstr(errs, lt_path("s3/ledger.db")) != NULL);
    }
}

/* The changes, export, kpi, report and devices against a ledger file, with
 * no daemon: results, audit rows, and exit 2 with a message for bad input. */
T_TEST(test_changes_and_reports)
{
    char path[600]; /* lt_path's buffers are a ring: keep a copy */
    char args[1024];
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s", lt_path("changes.db"));
    unlink(path);
    make_ledger(path, 3); /* numbers 1..3; 1 critical, 2 high, 3 medium */
#define CTL(fmt, ...)                                                                              \
    (snprintf(args, sizeof(args), "--ledger %s " fmt, path, __VA_ARGS__), run("", args))
    T_CHECK_EQ_INT(CTL("workorders ack %d --by alice", 1), 0);
    T_CHECK(strstr(out, "work order 1: acknowledged") != NULL);
    T_CHECK_EQ_INT(CTL("workorders assign '#%d' %s", 1, "'=HYPERLINK(1)'"), 0);
    T_CHECK_EQ_INT(CTL("workorders start %d --comment 'on site' --json", 1), 0);
    T_CHECK(strstr(out, "\"status\":\"in_progress\"") != NULL);
    T_CHECK_EQ_INT(CTL("workorders cancel %d", 1), 2);
    T_CHECK(strstr(errs, "in_progress -> cancelled is not allowed") != NULL);
    T_CHECK_EQ_INT(CTL("workorders note %d 'parts ordered' --by bob", 2), 0);
    T_CHECK_EQ_INT(CTL("workorders cancel %d", 3), 0);
    T_CHECK_EQ_INT(CTL("workorders close %d", 3), 2);
    T_CHECK(strstr(errs, "cancelled -> closed is not allowed (final state)") != NULL);
    T_CHECK_EQ_INT(CTL("workorders resolve %s", "42"), 2);
    T_CHECK(strstr(errs, "unknown work order 42") != NULL);
    T_CHECK_EQ_INT(CTL("workorders ack %s", "x-y"), 2);
    T_CHECK(strstr(errs, "bad work order 'x-y'") != NULL);
    T_CHECK_EQ_INT(CTL("workorders note %d", 2), 2);
    T_CHECK(strstr(errs, "needs the text of the note") != NULL);
    T_CHECK_EQ_INT(CTL("workorders ack %d --bogus", 2), 2);
    T_CHECK(strstr(errs, "unknown option --bogus") != NULL);

    db = lt_raw(path);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE channel = 'cli'"), 5);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE actor = 'alice'"), 1);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE detail = 'on site'"), 1);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM outbox"), 8); /* 3 opened + 5 changes */
    sqlite3_close(db);

    T_CHECK_EQ_INT(CTL("workorders show %d", 1), 0);
    T_CHECK(strstr(out, "open -> acknowledged") && strstr(out, "on site"));
    T_CHECK_EQ_INT(CTL("workorders list --priority %s --json", "critical"), 0);
    T_CHECK(strstr(out, "\"number\":1,") != NULL && strstr(out, "\"number\":2,") == NULL);
    T_CHECK_EQ_INT(CTL("workorders list --since %s", "2024-05-01T14:01:30Z"), 0);
    T_CHECK(strstr(out, "\n     3 ") != NULL && strstr(out, "\n     1 ") == NULL);
    T_CHECK_EQ_INT(CTL("workorders list --since %s", "yesterday"), 2);
    T_CHECK_EQ_INT(CTL("workorders list --priority %s", "urgent"), 2);
    T_CHECK(strstr(errs, "unknown priority 'urgent'") != NULL);

    /* CSV: a header and three rows; a formula-looking field is defused */
    T_CHECK_EQ_INT(CTL("workorders export --out %s", lt_path("wo.csv")), 0);
    slurp(lt_path("wo.csv"), out, sizeof(out));
    T_CHECK(strncmp(out, "id,number,site,status,", 22) == 0);
    T_CHECK(strstr(out, ",\"'=HYPERLINK(1)\",") != NULL);
    {
        int lines = 0;
        for (const char *p = out; *p; p++)
            lines += *p == '\n';
        T_CHECK_EQ_INT(lines, 4);
    }
    T_CHECK_EQ_INT(CTL("workorders export --format %s", "xml"), 2);

    T_CHECK_EQ_INT(CTL("kpi --from %s --to 2024-06-01 --json", "2024-05-01"), 0);
    {
        cJSON *o = cJSON_Parse(out);
        T_CHECK_EQ_INT(num(cJSON_GetObjectItem(o, "overall"), "opened"), 3);
        T_CHECK_EQ_INT(num(cJSON_GetObjectItem(o, "overall"), "cancelled"), 1);
        cJSON_Delete(o);
    }
    T_CHECK_EQ_INT(CTL("kpi --from %s", "May"), 2);
    T_CHECK_EQ_INT(CTL("kpi --from %s --to 2024-05-01", "2024-06-01"), 2);
    T_CHECK(strstr(errs, "--to must be after --from") != NULL);
    T_CHECK_EQ_INT(CTL("report --month %s", "2024-05"), 0);
    T_CHECK(strstr(out, "Monthly maintenance report 2024-05") && strstr(out, "target 98 %"));
    T_CHECK_EQ_INT(CTL("report --month %s --json --out %s", "2024-05", lt_path("r.json")), 0);
    slurp(lt_path("r.json"), out, sizeof(out));
    T_CHECK(strstr(out, "\"month\":\"2024-05\"") != NULL);
    T_CHECK_EQ_INT(CTL("report %s", "--json"), 2);
    T_CHECK(strstr(errs, "report needs --month") != NULL);
    T_CHECK_EQ_INT(CTL("devices %s", "--json"), 0);
    T_CHECK(strcmp(out, "[]\n") == 0);
#undef CTL
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-OF-PLANTROOMCTL\n", argv[0]);
        return 2;
    }
    ctl = argv[1];
    lt_tmpdir();
    T_RUN(test_version_help);
    T_RUN(test_usage_errors);
    T_RUN(test_missing_ledger);
    T_RUN(test_list_table_and_json);
    T_RUN(test_path_resolution);
    T_RUN(test_changes_and_reports);
    lt_cleanup();
    return t_done();
}
