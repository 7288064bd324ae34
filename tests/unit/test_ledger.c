/*
 * test_ledger.c: the work-order ledger (store/ledger.h) on real SQLite
 * files in a scratch directory, with a pinned wall clock.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"

#include "gateway/base/gw_clock.h"
#include "ledger_testutil.h"
#include "t.h"

#include <cjson/cJSON.h>

#include <sys/stat.h>

#define T0 1714572000000LL /* 2024-05-01T14:00:00.000Z */

static int64_t fake_wall = T0;

static int64_t fake_wall_ms(void *arg)
{
    (void)arg;
    return fake_wall;
}

static int64_t fake_mono_ms(void *arg)
{
    (void)arg;
    return fake_wall - T0;
}

/* A number member, or -1 when absent. */
static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static ledger_t *open_new(const char *name)
{
    ledger_t *lg = NULL;
    char err[256] = "";
    int rc = ledger_open(&lg, lt_path(name), LEDGER_OPEN_CREATE, err, sizeof(err));

    if (rc < 0)
        fprintf(stderr, "ledger_open: %s\n", err);
    return lg;
}

static int trigger(ledger_t *lg, const char *site, const char *device, const char *rule, int64_t ts,
                   ledger_trigger_result_t *res)
{
    ledger_trigger_t t = lt_trigger(site, device, rule, ts);
    char err[256] = "";
    int rc = ledger_wo_trigger(lg, &t, res, err, sizeof(err));

    if (rc < 0)
        fprintf(stderr, "trigger: %s\n", err);
    return rc;
}

T_TEST(test_create_schema_wal_mode)
{
    const char *path = lt_path("create.db");
    char wal[600];
    ledger_t *lg;
    ledger_trigger_result_t r;
    struct stat sb;
    sqlite3 *db;

    lg = open_new("create.db");
    T_CHECK(lg != NULL);
    if (!lg)
        return;
    T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-1", "vib", T0, &r), 0);
    /* SQLite gives -wal the db file's mode; umask is 0 in this test. */
    snprintf(wal, sizeof(wal), "%s-wal", path);
    T_CHECK(stat(wal, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    T_CHECK(stat(wal, &sb) == 0 && (sb.st_mode & 0777) == 0600);

    db = lt_raw(path);
    T_CHECK(db != NULL);
    T_CHECK_EQ_INT(lt_int(db, "PRAGMA user_version"), 6);
    {
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
        T_CHECK(sqlite3_step(st) == SQLITE_ROW);
        T_CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
    }
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                              "('work_orders','audit','outbox','work_orders_active_fingerprint')"),
                   4);
    sqlite3_close(db);
    ledger_close(lg);
}

T_TEST(test_open_missing_and_bad)
{
    ledger_t *lg = (ledger_t *)1;
    char err[256] = "";
    sqlite3 *db;

    T_CHECK_EQ_INT(ledger_open(&lg, lt_path("missing.db"), 0, err, sizeof(err)), GW_ENOENT);
    T_CHECK(lg == NULL);
    T_CHECK(strstr(err, lt_path("missing.db")) != NULL);
    T_CHECK_EQ_INT(ledger_open(&lg, lt_path("missing.db"), LEDGER_OPEN_READONLY, NULL, 0),
                   GW_ENOENT);
    T_CHECK(access(lt_path("missing.db"), F_OK) != 0);
    /* A directory that does not exist: the message names the path. */
    T_CHECK(ledger_open(&lg, lt_path("nodir/x.db"), LEDGER_OPEN_CREATE, err, sizeof(err)) < 0);
    T_CHECK(strstr(err, "nodir/x.db") != NULL);

    /* Not a ledger: version 0 read-only, newer version in any mode. */
    db = NULL;
    sqlite3_open(lt_path("other.db"), &db);
    sqlite3_exec(db, "CREATE TABLE x(a); PRAGMA user_version=7", NULL, NULL, NULL);
    sqlite3_close(db);
    T_CHECK_EQ_INT(ledger_open(&lg, lt_path("other.db"), 0, err, sizeof(err)), GW_ESTATE);
    T_CHECK(strstr(err, "version 7") != NULL);
    db = NULL;
    sqlite3_open(lt_path("empty.db"), &db);
    sqlite3_exec(db, "CREATE TABLE x(a)", NULL, NULL, NULL);
    sqlite3_close(db);
    T_CHECK_EQ_INT(ledger_open(&lg, lt_path("empty.db"), LEDGER_OPEN_READONLY, err, sizeof(err)),
                   GW_ESTATE);
    /* A file that is not SQLite at all. */
    {
        FILE *f = fopen(lt_path("junk.db"), "w");
        fputs("this is not a database, it is a text file of some length........\n", f);
        fclose(f);
    }
    T_CHECK(ledger_open(&lg, lt_path("junk.db"), 0, err, sizeof(err)) < 0);
    T_CHECK(strstr(err, "junk.db") != NULL);
}

T_TEST(test_trigger_opens_once)
{
    ledger_t *lg = open_new("once.db");
    ledger_trigger_result_t r1, r2;
    sqlite3 *db;
    int src;

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-1", "vib", T0, &r1), 0);
    T_CHECK_EQ_INT(r1.opened, 1);
    T_CHECK_EQ_INT(r1.number, 1);
    T_CHECK_EQ_INT(r1.occurrences, 1);
    T_CHECK_EQ_INT(strlen(r1.id), 3 + 26);
    T_CHECK(strncmp(r1.id, "hq:", 3) == 0);
    T_CHECK(strspn(r1.id + 3, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") == 26);

    fake_wall += 1000;
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-1", "vib", T0 + 1000, &r2), 0);
    T_CHECK_EQ_INT(r2.opened, 0);
    T_CHECK_STR(r2.id, r1.id);
    T_CHECK_EQ_INT(r2.number, 1);
    T_CHECK_EQ_INT(r2.occurrences, 1);

    db = lt_raw(lt_path("once.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 1);
    T_CHECK_EQ_INT(lt_int(db, "SELECT last_seen_at FROM work_orders"), T0 + 1000);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit"), 1);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM outbox"), 1);
    /* The schema itself refuses a second active order of the fingerprint... */
    src = sqlite3_exec(db,
                       "INSERT INTO work_orders (id, number, site, fingerprint, device, rule,"
                       " title, priority, status, opened_at, last_seen_at, updated_at) VALUES"
                       " ('hq:X', 99, 'hq', 'hq/lift-1/vib', 'lift-1', 'vib', 't', 'high',"
                       " 'acknowledged', 1, 1, 1)",
                       NULL, NULL, NULL);
    T_CHECK_EQ_INT(src & 0xff, SQLITE_CONSTRAINT);
    /* ...but not a closed one. */
    src = sqlite3_exec(db,
                       "INSERT INTO work_orders (id, number, site, fingerprint, device, rule,"
                       " title, priority, status, opened_at, last_seen_at, updated_at) VALUES"
                       " ('hq:Y', 98, 'hq', 'hq/lift-1/vib', 'lift-1', 'vib', 't', 'high',"
                       " 'closed', 1, 1, 1)",
                       NULL, NULL, NULL);
    T_CHECK_EQ_INT(src, SQLITE_OK);
    /* The audit trail is append-only. */
    src = sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, NULL);
    T_CHECK(src != SQLITE_OK);
    sqlite3_close(db);
    ledger_close(lg);
}

T_TEST(test_clear_then_retrigger)
{
    ledger_t *lg = open_new("retrig.db");
    ledger_trigger_result_t r1, r2;
    ledger_outbox_row_t *rows = NULL;
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    char err[256];

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    fake_wall = T0;
    T_CHECK_EQ_INT(trigger(lg, "hq", "pump-2", "pressure_low", T0, &r1), 0);
    fake_wall = T0 + 60000;
    T_CHECK_EQ_INT(ledger_wo_clear(lg, "hq", "pump-2", "pressure_low", T0 + 59000, "{\"bar\":2.1}",
                                   err, sizeof(err)),
                   0);
    /* A second clear says nothing new. */
    T_CHECK_EQ_INT(
        ledger_wo_clear(lg, "hq", "pump-2", "pressure_low", T0 + 59500, NULL, err, sizeof(err)), 0);
    /* Clearing what has no order is not an error. */
    T_CHECK_EQ_INT(ledger_wo_clear(lg, "hq", "pump-9", "pressure_low", T0, NULL, err, sizeof(err)),
                   0);
    T_CHECK_EQ_INT(ledger_wo_list(lg, NULL, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1);
    if (n == 1) {
        T_CHECK_EQ_INT(wo[0].cleared_at, T0 + 59000);
        T_CHECK_STR(wo[0].status, "open");
        T_CHECK_STR(wo[0].evidence_json, "{\"bar\":2.1}");
    }
    ledger_wo_free_array(wo, n);

    fake_wall = T0 + 120000;
    T_CHECK_EQ_INT(trigger(lg, "hq", "pump-2", "pressure_low", T0 + 120000, &r2), 0);
    T_CHECK_EQ_INT(r2.opened, 0);
    T_CHECK_STR(r2.id, r1.id);
    T_CHECK_EQ_INT(r2.occurrences, 2);

    T_CHECK_EQ_INT(ledger_wo_list(lg, NULL, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1);
    if (n == 1) {
        T_CHECK_EQ_INT(wo[0].occurrences, 2);
        T_CHECK_EQ_INT(wo[0].cleared_at, 0);
        T_CHECK_EQ_INT(wo[0].opened_at, T0);
        T_CHECK_EQ_INT(wo[0].last_seen_at, T0 + 120000);
        T_CHECK_EQ_INT(wo[0].updated_at, T0 + 120000);
    }
    ledger_wo_free_array(wo, n);

    T_CHECK_EQ_INT(ledger_outbox_list(lg, 0, 0, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 3);
    if (n == 3) {
        static const char *const events[] = {"opened", "cleared", "retriggered"};
        for (size_t i = 0; i < 3; i++) {
            cJSON *p = cJSON_Parse(rows[i].payload);
            cJSON *w = cJSON_GetObjectItem(p, "work_order");
            char want_id[160], prev_id[160] = "";
            T_CHECK(p != NULL);
            T_CHECK_STR(rows[i].channel, "workorder");
            T_CHECK_STR(rows[i].key, r1.id);
            T_CHECK(i == 0 || rows[i].id > rows[i - 1].id);
            T_CHECK_EQ_INT(num(p, "v"), 1);
            T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "event")), events[i]);
            /* "<site>#<ULID>", increasing, the audit row's own */
            snprintf(want_id, sizeof(want_id), "%s",
                     cJSON_GetStringValue(cJSON_GetObjectItem(p, "event_id")));
            T_CHECK(strncmp(want_id, "hq#", 3) == 0 && strlen(want_id) == 29);
            T_CHECK(strcmp(want_id, prev_id) > 0);
            snprintf(prev_id, sizeof(prev_id), "%s", want_id);
            {
                char sql[256];
                sqlite3 *db = lt_raw(lt_path("retrig.db"));
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE event_id = '%s'",
                         want_id);
                T_CHECK_EQ_INT(lt_int(db, sql), 1);
                sqlite3_close(db);
            }
            T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(w, "id")), r1.id);
            T_CHECK_EQ_INT(num(w, "occurrences"), i == 2 ? 2 : 1);
            if (i == 0)
                T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "ts")),
                            "2024-05-01T14:00:00.000Z");
            if (i == 1)
                T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(w, "cleared_at")),
                            "2024-05-01T14:00:59.000Z");
            if (i == 2)
                T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(w, "cleared_at")));
            cJSON_Delete(p);
        }
    }
    ledger_outbox_free_array(rows, n);
    ledger_close(lg);
}

T_TEST(test_distinct_fingerprints)
{
    ledger_t *lg = open_new("distinct.db");
    ledger_trigger_result_t a, b, c, d, e, f;

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-1", "vib", T0, &a), 0);
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-1", "door_reversals", T0, &b), 0);
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-2", "vib", T0, &c), 0);
    T_CHECK_EQ_INT(trigger(lg, "annex", "lift-1", "vib", T0, &d), 0);
    /* '/' inside a part cannot make two triples collide. */
    T_CHECK_EQ_INT(trigger(lg, "hq", "a/b", "c", T0, &e), 0);
    T_CHECK_EQ_INT(trigger(lg, "hq", "a", "b/c", T0, &f), 0);
    T_CHECK(a.opened && b.opened && c.opened && d.opened && e.opened && f.opened);
    T_CHECK_EQ_INT(a.number, 1);
    T_CHECK_EQ_INT(b.number, 2);
    T_CHECK_EQ_INT(c.number, 3);
    T_CHECK_EQ_INT(d.number, 1); /* numbers count per site */
    T_CHECK(strcmp(a.id, b.id) != 0 && strcmp(b.id, c.id) != 0);
    /* ids of one connection sort by creation, even within a millisecond */
    T_CHECK(strcmp(a.id + 3, b.id + 3) < 0 && strcmp(b.id + 3, c.id + 3) < 0);
    ledger_close(lg);
}

T_TEST(test_bad_triggers)
{
    ledger_t *lg = open_new("bad.db");
    ledger_trigger_t t = lt_trigger("hq", "", "vib", T0);
    ledger_trigger_result_t r;
    char site[200];
    char err[256] = "";

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), GW_EINVAL);
    T_CHECK(err[0] != '\0');
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, NULL, &r, NULL, 0), GW_EINVAL);
    memset(site, 's', sizeof(site) - 1);
    site[sizeof(site) - 1] = '\0';
    t = lt_trigger(site, "d", "r", T0);
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), GW_EINVAL);
    t = lt_trigger("hq", "d", "r", T0);
    t.priority = (gw_priority_t)9;
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), GW_EINVAL);
    /* Evidence that is not a JSON object is kept, wrapped. */
    t = lt_trigger("hq", "d", "r", T0);
    t.evidence_json = "v=nan";
    t.title = NULL;
    t.work_type = NULL;
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), 0);
    {
        ledger_wo_t *wo = NULL;
        size_t n = 0;
        T_CHECK_EQ_INT(ledger_wo_list(lg, NULL, &wo, &n, err, sizeof(err)), 0);
        T_CHECK_EQ_INT(n, 1);
        if (n == 1) {
            T_CHECK_STR(wo[0].evidence_json, "{\"unparsed\":\"v=nan\"}");
            T_CHECK_STR(wo[0].title, "r");
            T_CHECK_STR(wo[0].work_type, "corrective");
        }
        ledger_wo_free_array(wo, n);
    }
    ledger_close(lg);
}

T_TEST(test_touch)
{
    ledger_t *lg = open_new("touch.db");
    ledger_trigger_t t = lt_trigger("hq", "tank-1", "level_high", T0);
    ledger_trigger_result_t r;
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    char err[256];
    sqlite3 *db;

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    /* Touch with no active order: nothing, no error. */
    T_CHECK_EQ_INT(ledger_wo_touch(lg, &t, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), 0);
    t.ts_ms = T0 + 5000;
    t.evidence_json = "{\"level\":0.97}";
    T_CHECK_EQ_INT(ledger_wo_touch(lg, &t, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_wo_list(lg, NULL, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1);
    if (n == 1) {
        T_CHECK_EQ_INT(wo[0].last_seen_at, T0 + 5000);
        T_CHECK_STR(wo[0].evidence_json, "{\"level\":0.97}");
    }
    ledger_wo_free_array(wo, n);
    db = lt_raw(lt_path("touch.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit"), 1);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM outbox"), 1);
    sqlite3_close(db);
    ledger_close(lg);
}

T_TEST(test_outbox)
{
    ledger_t *lg = open_new("outbox.db");
    ledger_trigger_result_t r;
    ledger_outbox_row_t *rows = NULL;
    size_t n = 0;
    int64_t second;
    char err[256];
    char dev[16];

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    for (int i = 0; i < 5; i++) {
        snprintf(dev, sizeof(dev), "meter-%d", i);
        T_CHECK_EQ_INT(trigger(lg, "hq", dev, "kwh_spike", T0 + i, &r), 0);
    }
    T_CHECK_EQ_INT(ledger_outbox_list(lg, 0, 0, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 5);
    for (size_t i = 1; i < n; i++)
        T_CHECK(rows[i].id > rows[i - 1].id);
    second = n >= 2 ? rows[1].id : 0;
    T_CHECK(n < 1 || rows[0].created_at == fake_wall);
    ledger_outbox_free_array(rows, n);

    T_CHECK_EQ_INT(ledger_outbox_list(lg, second, 2, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 2);
    T_CHECK(n < 1 || rows[0].id > second);
    ledger_outbox_free_array(rows, n);

    T_CHECK_EQ_INT(ledger_outbox_delete(lg, second, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_outbox_delete(lg, second, err, sizeof(err)), 0); /* gone: fine */
    T_CHECK_EQ_INT(ledger_outbox_delete(lg, 12345, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_outbox_list(lg, 0, 0, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 4);
    for (size_t i = 0; i < n; i++)
        T_CHECK(rows[i].id != second);
    ledger_outbox_free_array(rows, n);
    ledger_close(lg);
}

T_TEST(test_to_json)
{
    ledger_t *lg = open_new("json.db");
    ledger_trigger_result_t r;
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    char err[256];
    char *s;
    cJSON *o;

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    fake_wall = T0 + 7;
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-1", "vib", T0, &r), 0);
    T_CHECK_EQ_INT(ledger_wo_list(lg, NULL, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1);
    if (n != 1) {
        ledger_wo_free_array(wo, n);
        ledger_close(lg);
        return;
    }
    s = ledger_wo_to_json(&wo[0]);
    o = cJSON_Parse(s);
    T_CHECK(o != NULL);
    /* The version first, as in the MQTT payloads. */
    T_CHECK_STR(o && o->child ? o->child->string : "", "v");
    T_CHECK_EQ_INT(num(o, "v"), 1);
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")), r.id);
    T_CHECK_EQ_INT(num(o, "number"), 1);
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "site")), "hq");
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "status")), "open");
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "priority")), "high");
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "device")), "lift-1");
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "rule")), "vib");
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "title")), "Vibration above zone C/D");
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "category")), "mechanical");
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "work_type")), "corrective");
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "opened_at")),
                "2024-05-01T14:00:00.000Z");
    T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "updated_at")),
                "2024-05-01T14:00:00.007Z");
    T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "cleared_at")));
    T_CHECK(cJSON_IsObject(cJSON_GetObjectItem(o, "evidence")));
    T_CHECK_NEAR(num(cJSON_GetObjectItem(o, "evidence"), "v_rms"), 4.9, 1e-9);
    T_CHECK_EQ_INT(num(o, "occurrences"), 1);
    cJSON_Delete(o);
    free(s);
    /* NULL fields come out as null. */
    free(wo[0].description);
    wo[0].description = NULL;
    free(wo[0].evidence_json);
    wo[0].evidence_json = NULL;
    s = ledger_wo_to_json(&wo[0]);
    o = cJSON_Parse(s);
    T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "description")));
    T_CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "evidence")));
    cJSON_Delete(o);
    free(s);
    ledger_wo_free_array(wo, n);
    ledger_close(lg);
}

T_TEST(test_list_filters)
{
    ledger_t *lg = open_new("list.db");
    ledger_trigger_result_t r;
    ledger_wo_filter_t f = {0};
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    char err[256];
    sqlite3 *db;

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    /* opened_at T0+0..T0+5; lift-1 gets three, lift-2 three */
    for (int i = 0; i < 6; i++) {
        char rule[16];
        snprintf(rule, sizeof(rule), "rule-%d", i);
        T_CHECK_EQ_INT(trigger(lg, "hq", i % 2 ? "lift-2" : "lift-1", rule, T0 + i * 1000, &r), 0);
    }
    db = lt_raw(lt_path("list.db"));
    T_CHECK_EQ_INT(sqlite3_exec(db,
                                "UPDATE work_orders SET status='acknowledged' WHERE number<=2;"
                                "UPDATE work_orders SET status='in_progress' WHERE number<=2;"
                                "UPDATE work_orders SET status='resolved' WHERE number=1;"
                                "UPDATE work_orders SET status='closed' WHERE number=1;",
                                NULL, NULL, NULL),
                   SQLITE_OK);
    sqlite3_close(db);

    T_CHECK_EQ_INT(ledger_wo_list(lg, &f, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 6);
    for (size_t i = 0; i < n; i++)
        T_CHECK_EQ_INT(wo[i].number, 6 - (int64_t)i); /* newest first */
    ledger_wo_free_array(wo, n);

    f.device = "lift-1";
    T_CHECK_EQ_INT(ledger_wo_list(lg, &f, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 3);
    for (size_t i = 0; i < n; i++)
        T_CHECK_STR(wo[i].device, "lift-1");
    ledger_wo_free_array(wo, n);

    f.active_only = 1;
    T_CHECK_EQ_INT(ledger_wo_list(lg, &f, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 2); /* number 1 is closed */
    ledger_wo_free_array(wo, n);

    f.device = NULL;
    f.active_only = 0;
    f.status = "in_progress";
    T_CHECK_EQ_INT(ledger_wo_list(lg, &f, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1);
    T_CHECK(n < 1 || wo[0].number == 2);
    ledger_wo_free_array(wo, n);

    f.status = NULL;
    f.active_only = 1;
    f.limit = 2;
    T_CHECK_EQ_INT(ledger_wo_list(lg, &f, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 2);
    T_CHECK(n < 2 || (wo[0].number == 6 && wo[1].number == 5));
    ledger_wo_free_array(wo, n);

    f.limit = -1;
    T_CHECK_EQ_INT(ledger_wo_list(lg, &f, &wo, &n, err, sizeof(err)), GW_EINVAL);
    ledger_close(lg);
}

T_TEST(test_reopen_keeps_data)
{
    const char *path = lt_path("reopen.db");
    ledger_t *lg = open_new("reopen.db");
    ledger_trigger_result_t r;
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    long long schema_before;
    char err[256];
    sqlite3 *db;

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    T_CHECK_EQ_INT(trigger(lg, "hq", "fire-panel", "fault", T0, &r), 0);
    ledger_close(lg);
    db = lt_raw(path);
    schema_before = lt_int(db, "PRAGMA schema_version");
    sqlite3_close(db);

    T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_wo_list(lg, NULL, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1);
    T_CHECK(n < 1 || strcmp(wo[0].id, r.id) == 0);
    ledger_wo_free_array(wo, n);
    ledger_close(lg);
    T_CHECK_EQ_INT(ledger_open(&lg, path, 0, err, sizeof(err)), 0);
    ledger_close(lg);

    db = lt_raw(path);
    T_CHECK_EQ_INT(lt_int(db, "PRAGMA schema_version"), schema_before);
    T_CHECK_EQ_INT(lt_int(db, "PRAGMA user_version"), 6);
    sqlite3_close(db);
}

T_TEST(test_readonly_while_writing)
{
    const char *path = lt_path("ro.db");
    ledger_t *rw = open_new("ro.db");
    ledger_t *ro = NULL;
    ledger_trigger_result_t r;
    ledger_trigger_t t = lt_trigger("hq", "lift-1", "vib", T0);
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    char err[256];

    T_CHECK(rw != NULL);
    if (!rw)
        return;
    T_CHECK_EQ_INT(ledger_open(&ro, path, LEDGER_OPEN_READONLY, err, sizeof(err)), 0);
    if (!ro) {
        fprintf(stderr, "%s\n", err);
        ledger_close(rw);
        return;
    }
    T_CHECK_EQ_INT(ledger_begin(rw, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(trigger(rw, "hq", "lift-1", "vib", T0, &r), 0);
    /* Uncommitted: the reader sees nothing, and is not blocked. */
    T_CHECK_EQ_INT(ledger_wo_list(ro, NULL, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 0);
    ledger_wo_free_array(wo, n);
    T_CHECK_EQ_INT(ledger_commit(rw, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_wo_list(ro, NULL, &wo, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1);
    ledger_wo_free_array(wo, n);
    /* A read-only connection refuses writes. */
    T_CHECK_EQ_INT(ledger_wo_trigger(ro, &t, &r, err, sizeof(err)), GW_ESTATE);
    T_CHECK_EQ_INT(ledger_outbox_delete(ro, 1, err, sizeof(err)), GW_ESTATE);
    T_CHECK(ledger_begin(ro, err, sizeof(err)) < 0);
    ledger_close(ro);
    ledger_close(rw);
    /* After the writer closed (no -wal, no -shm): still readable. */
    T_CHECK_EQ_INT(ledger_open(&ro, path, LEDGER_OPEN_READONLY, err, sizeof(err)), 0);
    if (ro) {
        T_CHECK_EQ_INT(ledger_wo_list(ro, NULL, &wo, &n, err, sizeof(err)), 0);
        T_CHECK_EQ_INT(n, 1);
        ledger_wo_free_array(wo, n);
        ledger_close(ro);
    }
}

T_TEST(test_transactions_and_savepoints)
{
    const char *path = lt_path("tx.db");
    ledger_t *lg = open_new("tx.db");
    ledger_trigger_result_t r;
    ledger_trigger_t bad = lt_trigger("bad", "lift-1", "vib", T0);
    char err[256];
    sqlite3 *db;

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    /* Rolled back: nothing stays. */
    T_CHECK_EQ_INT(ledger_begin(lg, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_begin(lg, err, sizeof(err)), GW_ESTATE);
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-1", "vib", T0, &r), 0);
    ledger_rollback(lg);
    T_CHECK_EQ_INT(ledger_commit(lg, err, sizeof(err)), GW_ESTATE);

    /* An op failing half-way (its outbox insert refused) inside a batch
     * undoes only its own writes. */
    db = lt_raw(path);
    T_CHECK_EQ_INT(sqlite3_exec(db,
                                "CREATE TRIGGER fail_bad BEFORE INSERT ON outbox"
                                " WHEN NEW.key LIKE 'bad:%'"
                                " BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                                NULL, NULL, NULL),
                   SQLITE_OK);
    T_CHECK_EQ_INT(ledger_begin(lg, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-1", "vib", T0, &r), 0);
    T_CHECK(ledger_wo_trigger(lg, &bad, &r, err, sizeof(err)) < 0);
    T_CHECK(strstr(err, "injected failure") != NULL);
    T_CHECK_EQ_INT(trigger(lg, "hq", "lift-2", "vib", T0, &r), 0);
    T_CHECK_EQ_INT(ledger_commit(lg, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 2);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders WHERE site='bad'"), 0);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit"), 2);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM outbox"), 2);
    /* Outside a transaction, the failing op leaves nothing either. */
    T_CHECK(ledger_wo_trigger(lg, &bad, &r, err, sizeof(err)) < 0);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit"), 2);
    sqlite3_close(db);
    ledger_close(lg);
}

int main(void)
{
    static const gw_clock_t clk = {fake_mono_ms, fake_wall_ms, NULL};

    umask(0); /* so that a mode 0600 below is the ledger's doing */
    gw_clock_set(&clk);
    lt_tmpdir();
    T_RUN(test_create_schema_wal_mode);
    T_RUN(test_open_missing_and_bad);
    T_RUN(test_trigger_opens_once);
    T_RUN(test_clear_then_retrigger);
    T_RUN(test_distinct_fingerprints);
    T_RUN(test_bad_triggers);
    T_RUN(test_touch);
    T_RUN(test_outbox);
    T_RUN(test_to_json);
    T_RUN(test_list_filters);
    T_RUN(test_reopen_keeps_data);
    T_RUN(test_readonly_while_writing);
    T_RUN(test_transactions_and_savepoints);
    lt_cleanup();
    return t_done();
}
