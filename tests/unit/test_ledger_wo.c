/*
 * test_ledger_wo.c: people's changes to work orders (status transitions,
 * assignment, notes) with their audit rows and outbox events, SLA due times
 * and routing, audit retention, rollups and devices, KPIs and the monthly
 * report, on real SQLite files with a pinned wall clock.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"
#include "store/ledger_worker.h"

#include "gateway/base/gw_clock.h"
#include "ledger_testutil.h"
#include "t.h"

#include <cjson/cJSON.h>

#include <sys/stat.h>

#define T0   1714572000000LL /* 2024-05-01T14:00:00.000Z */
#define HOUR (3600LL * 1000)
#define DAY  (24 * HOUR)

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

static const ledger_actor_t alice = {"alice", "cli"};

static ledger_t *open_new(const char *name)
{
    ledger_t *lg = NULL;
    char err[256] = "";

    unlink(lt_path(name));
    if (ledger_open(&lg, lt_path(name), LEDGER_OPEN_CREATE, err, sizeof(err)) < 0)
        fprintf(stderr, "ledger_open: %s\n", err);
    return lg;
}

static int trig(ledger_t *lg, const char *device, const char *rule, const char *category,
                gw_priority_t prio, ledger_trigger_result_t *res)
{
    ledger_trigger_t t = lt_trigger("hq", device, rule, fake_wall);
    char err[256] = "";
    int rc;

    t.category = category;
    t.priority = prio;
    t.building = "Tower A";
    t.floor = "R";
    t.room = "Lift machine room";
    rc = ledger_wo_trigger(lg, &t, res, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "trigger: %s\n", err);
    return rc;
}

static int set_status(ledger_t *lg, const char *ref, const char *status, char *err)
{
    return ledger_wo_set_status(lg, ref, status, &alice, NULL, err, 256);
}

/* The event names in the outbox, comma-separated, oldest first. */
static void outbox_events(ledger_t *lg, char *out, size_t len)
{
    ledger_outbox_row_t *rows;
    size_t n;
    char err[256];

    out[0] = '\0';
    if (ledger_outbox_list(lg, 0, 0, &rows, &n, err, sizeof(err)) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_Parse(rows[i].payload);
        const char *ev = cJSON_GetStringValue(cJSON_GetObjectItem(o, "event"));
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "," : "", ev ? ev : "?");
        cJSON_Delete(o);
    }
    ledger_outbox_free_array(rows, n);
}

T_TEST(test_lifecycle_with_audit_and_events)
{
    ledger_t *lg = open_new("life.db");
    ledger_trigger_result_t r;
    ledger_wo_t wo;
    char err[256] = "", evs[512];
    char *show = NULL;
    sqlite3 *db;

    if (!lg)
        return;
    fake_wall = T0;
    T_CHECK_EQ_INT(trig(lg, "lift-1", "vib", "mechanical", GW_PRIO_HIGH, &r), 0);
    fake_wall += 10 * 60000;
    T_CHECK_EQ_INT(set_status(lg, "1", "acknowledged", err), 0);
    T_CHECK_EQ_INT(ledger_wo_assign(lg, "#1", "bob", &alice, err, sizeof(err)), 0);
    fake_wall += HOUR;
    T_CHECK_EQ_INT(set_status(lg, r.id, "in_progress", err), 0);
    /* not after work started */
    T_CHECK_EQ_INT(set_status(lg, "1", "cancelled", err), GW_ESTATE);
    T_CHECK(strstr(err, "in_progress -> cancelled is not allowed") != NULL);
    T_CHECK_EQ_INT(ledger_wo_add_note(lg, "1", "bearing replaced", &alice, err, sizeof(err)), 0);
    fake_wall += HOUR;
    T_CHECK_EQ_INT(set_status(lg, "1", "resolved", err), 0);
    T_CHECK_EQ_INT(set_status(lg, "1", "closed", err), 0);
    /* final is final */
    T_CHECK_EQ_INT(set_status(lg, "1", "open", err), GW_ESTATE);
    T_CHECK(strstr(err, "closed -> open is not allowed") != NULL);
    T_CHECK_EQ_INT(ledger_wo_assign(lg, "1", "carol", &alice, err, sizeof(err)), GW_ESTATE);
    /* bad input */
    T_CHECK_EQ_INT(set_status(lg, "1", "done", err), GW_EINVAL);
    T_CHECK(strstr(err, "unknown status 'done'") != NULL);
    T_CHECK_EQ_INT(set_status(lg, "99", "acknowledged", err), GW_ENOENT);
    T_CHECK(strstr(err, "unknown work order 99") != NULL);
    T_CHECK_EQ_INT(set_status(lg, "abc", "acknowledged", err), GW_EINVAL);
    {
        ledger_actor_t bad = {"x", "fax"};
        T_CHECK_EQ_INT(ledger_wo_add_note(lg, "1", "n", &bad, err, sizeof(err)), GW_EINVAL);
    }

    T_CHECK_EQ_INT(ledger_wo_get(lg, "1", &wo, err, sizeof(err)), 0);
    T_CHECK_STR(wo.status, "closed");
    T_CHECK_STR(wo.assignee, "bob");
    T_CHECK_STR(wo.building, "Tower A");
    T_CHECK_STR(wo.floor, "R");
    T_CHECK_EQ_INT(wo.acknowledged_at, T0 + 10 * 60000);
    T_CHECK_EQ_INT(wo.started_at, T0 + 10 * 60000 + HOUR);
    T_CHECK_EQ_INT(wo.resolved_at, T0 + 10 * 60000 + 2 * HOUR);
    T_CHECK_EQ_INT(wo.closed_at, wo.resolved_at);
    T_CHECK_EQ_INT(wo.due_at, T0 + 24 * HOUR); /* default SLA for high */
    ledger_wo_free_fields(&wo);

    outbox_events(lg, evs, sizeof(evs));
    T_CHECK_STR(evs, "opened,acknowledged,assigned,started,noted,resolved,closed");

    db = lt_raw(lt_path("life.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE actor = 'alice' AND channel = "
                              "'cli'"),
                   6);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE action = 'closed' AND "
                              "from_status = 'resolved' AND to_status = 'closed'"),
                   1);
    /* The schema refuses a skipped transition and changes to the audit. */
    T_CHECK(sqlite3_exec(db, "UPDATE work_orders SET status = 'open'", NULL, NULL, NULL) !=
            SQLITE_OK);
    T_CHECK(sqlite3_exec(db, "UPDATE audit SET actor = 'eve'", NULL, NULL, NULL) != SQLITE_OK);
    T_CHECK(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, NULL) != SQLITE_OK);
    /* the horizon moves only with a purge (its first id forward) */
    T_CHECK(sqlite3_exec(db, "UPDATE audit_horizon SET before_ts = 0", NULL, NULL, NULL) !=
            SQLITE_OK);
    sqlite3_close(db);

    T_CHECK_EQ_INT(ledger_wo_show_json(lg, "1", &show, err, sizeof(err)), 0);
    if (show) {
        cJSON *o = cJSON_Parse(show);
        T_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "audit")), 7);
        T_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "notes")), 1);
        cJSON_Delete(o);
        free(show);
    }

    /* The same fault after closing opens a new order. */
    fake_wall += HOUR;
    T_CHECK_EQ_INT(trig(lg, "lift-1", "vib", "mechanical", GW_PRIO_HIGH, &r), 0);
    T_CHECK_EQ_INT(r.opened, 1);
    T_CHECK_EQ_INT(r.number, 2);
    /* and cancelling from open works */
    T_CHECK_EQ_INT(set_status(lg, "2", "cancelled", err), 0);
    ledger_close(lg);
}

T_TEST(test_sla_and_routing)
{
    ledger_t *lg = open_new("route.db");
    ledger_policy_t p;
    ledger_trigger_result_t r;
    ledger_wo_t wo;
    char err[256];

    if (!lg)
        return;
    ledger_policy_default(&p);
    p.sla_ms[GW_PRIO_CRITICAL] = HOUR;
    p.sla_ms[GW_PRIO_LOW] = 0; /* no due time */
    snprintf(p.routes[0].building, sizeof(p.routes[0].building), "Tower B");
    snprintf(p.routes[0].assignee, sizeof(p.routes[0].assignee), "tower-b-team");
    snprintf(p.routes[1].building, sizeof(p.routes[1].building), "Tower A");
    snprintf(p.routes[1].category, sizeof(p.routes[1].category), "electrical");
    snprintf(p.routes[1].assignee, sizeof(p.routes[1].assignee), "electrician");
    snprintf(p.routes[2].floor, sizeof(p.routes[2].floor), "R");
    snprintf(p.routes[2].assignee, sizeof(p.routes[2].assignee), "lift-contractor");
    p.nroutes = 3;
    ledger_set_policy(lg, &p);
    fake_wall = T0;

    T_CHECK_EQ_INT(trig(lg, "lift-1", "hot", "electrical", GW_PRIO_CRITICAL, &r), 0);
    T_CHECK_EQ_INT(ledger_wo_get(lg, r.id, &wo, err, sizeof(err)), 0);
    T_CHECK_STR(wo.assignee, "electrician");
    T_CHECK_EQ_INT(wo.due_at, T0 + HOUR);
    ledger_wo_free_fields(&wo);

    T_CHECK_EQ_INT(trig(lg, "lift-1", "vib", "mechanical", GW_PRIO_LOW, &r), 0);
    T_CHECK_EQ_INT(ledger_wo_get(lg, r.id, &wo, err, sizeof(err)), 0);
    T_CHECK_STR(wo.assignee, "lift-contractor");
    T_CHECK_EQ_INT(wo.due_at, 0);
    ledger_wo_free_fields(&wo);
    ledger_close(lg);
}

T_TEST(test_audit_retention)
{
    ledger_t *lg = open_new("purge.db");
    ledger_trigger_result_t r;
    int64_t n = -1;
    char err[256];
    sqlite3 *db;

    if (!lg)
        return;
    fake_wall = T0;
    T_CHECK_EQ_INT(trig(lg, "lift-1", "vib", "mechanical", GW_PRIO_HIGH, &r), 0);
    fake_wall = T0 + 100 * DAY;
    T_CHECK_EQ_INT(set_status(lg, "1", "acknowledged", err), 0);
    /* 181 days after the first row: it goes, the second (81 days) stays */
    fake_wall = T0 + 181 * DAY;
    T_CHECK_EQ_INT(ledger_purge(lg, fake_wall, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1);
    db = lt_raw(lt_path("purge.db"));
    /* the second row, and the record of the cut at the chain's head */
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit"), 2);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE action = 'purged'"), 1);
    T_CHECK(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, NULL) != SQLITE_OK);
    T_CHECK(sqlite3_exec(db, "UPDATE audit_horizon SET before_ts = 0", NULL, NULL, NULL) !=
            SQLITE_OK);
    T_CHECK(sqlite3_exec(db, "UPDATE audit_horizon SET before_id = 1", NULL, NULL, NULL) !=
            SQLITE_OK);
    sqlite3_close(db);
    ledger_close(lg);
}

T_TEST(test_rollups_and_devices)
{
    ledger_t *lg = open_new("rollup.db");
    ledger_rollup_row_t rows[3] = {
        {"meter", "energy", "kWh", T0, 100, 101, 201, 2, T0 + 30000},
        {"meter", "energy", "kWh", T0, 99, 102, 201, 2, T0 + 50000}, /* same minute, 2nd part */
        {"meter", "energy", "kWh", T0 + 60000, 102, 104, 309, 3, T0 + 110000},
    };
    char err[256];
    char *json = NULL;
    sqlite3 *db;

    if (!lg)
        return;
    T_CHECK_EQ_INT(ledger_rollup_add(lg, rows, 3, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_device_status(lg, "meter", "online", T0, NULL, err, sizeof(err)), 0);
    /* the same status again (a restart) keeps the first "since" */
    T_CHECK_EQ_INT(ledger_device_status(lg, "meter", "online", T0 + 5, NULL, err, sizeof(err)), 0);
    db = lt_raw(lt_path("rollup.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM rollup_1m"), 2);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count FROM rollup_1m WHERE ts = 1714572000000"), 4);
    T_CHECK_EQ_INT(lt_int(db, "SELECT min FROM rollup_1m WHERE ts = 1714572000000"), 99);
    T_CHECK_EQ_INT(lt_int(db, "SELECT max FROM rollup_1m WHERE ts = 1714572000000"), 102);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM rollup_1h"), 1);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count FROM rollup_1h"), 7);
    T_CHECK_EQ_INT(lt_int(db, "SELECT sum FROM rollup_1h"), 711);
    T_CHECK_EQ_INT(lt_int(db, "SELECT last_seen FROM devices WHERE name = 'meter'"), T0 + 110000);
    T_CHECK_EQ_INT(lt_int(db, "SELECT status_since FROM devices WHERE name = 'meter'"), T0);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM device_events"), 1);
    sqlite3_close(db);
    T_CHECK_EQ_INT(ledger_devices_json(lg, &json, err, sizeof(err)), 0);
    T_CHECK(json && strstr(json, "\"status\":\"online\"") && strstr(json, "\"points\":1"));
    free(json);
    T_CHECK(ledger_rollup_add(lg, &(ledger_rollup_row_t){"", "p", "", 0, 0, 0, 0, 1, 0}, 1, err,
                              sizeof(err)) == GW_EINVAL);
    ledger_close(lg);
}

static double kpi_num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(o, a), b);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

T_TEST(test_kpi_and_report)
{
    ledger_t *lg = open_new("kpi.db");
    ledger_trigger_result_t r;
    char err[256];
    char *json = NULL;
    int64_t from, to;

    if (!lg)
        return;
    /* 2024-05: four orders (high: due after 24 h).
     * 1: ack after 1 h, resolved after 2 h: on time.
     * 2: resolved after 30 h: late.
     * 3: open, past due at "now": late.
     * 4: cancelled: neither. */
    T_CHECK_EQ_INT(ledger__month_range("2024-05", &from, &to), 0);
    fake_wall = from + DAY;
    for (int i = 0; i < 4; i++) {
        char rule[8];
        snprintf(rule, sizeof(rule), "r%d", i);
        T_CHECK_EQ_INT(trig(lg, i < 3 ? "lift-1" : "lift-2", rule,
                            i % 2 ? "electrical" : "mechanical", GW_PRIO_HIGH, &r),
                       0);
    }
    fake_wall += HOUR;
    T_CHECK_EQ_INT(set_status(lg, "1", "acknowledged", err), 0);
    T_CHECK_EQ_INT(set_status(lg, "2", "acknowledged", err), 0);
    T_CHECK_EQ_INT(set_status(lg, "1", "in_progress", err), 0);
    T_CHECK_EQ_INT(set_status(lg, "2", "in_progress", err), 0);
    fake_wall += HOUR;
    T_CHECK_EQ_INT(set_status(lg, "1", "resolved", err), 0);
    T_CHECK_EQ_INT(set_status(lg, "1", "closed", err), 0);
    T_CHECK_EQ_INT(set_status(lg, "4", "cancelled", err), 0);
    fake_wall += 28 * HOUR;
    T_CHECK_EQ_INT(set_status(lg, "2", "resolved", err), 0);

    T_CHECK_EQ_INT(ledger_kpi_json(lg, from, to, fake_wall, &json, err, sizeof(err)), 0);
    if (json) {
        cJSON *o = cJSON_Parse(json);
        T_CHECK_EQ_INT(kpi_num(o, "overall", "opened"), 4);
        T_CHECK_EQ_INT(kpi_num(o, "overall", "closed"), 1);
        T_CHECK_EQ_INT(kpi_num(o, "overall", "cancelled"), 1);
        T_CHECK_EQ_INT(kpi_num(o, "overall", "on_time"), 1);
        T_CHECK_EQ_INT(kpi_num(o, "overall", "late"), 2);
        T_CHECK_NEAR(kpi_num(o, "overall", "on_time_rate"), 1.0 / 3.0, 1e-9);
        T_CHECK_NEAR(kpi_num(o, "overall", "mean_time_to_acknowledge_s"), 3600, 1e-6);
        T_CHECK_NEAR(kpi_num(o, "overall", "mean_time_to_resolve_s"), (2 * 3600 + 30 * 3600) / 2,
                     1e-6);
        T_CHECK_NEAR(cJSON_GetObjectItem(o, "target_on_time_rate")->valuedouble, 0.98, 1e-9);
        T_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "by_category")), 2);
        T_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "by_location")), 1);
        cJSON_Delete(o);
    }
    {
        char *text = ledger_kpi_text(json);
        T_CHECK(text && strstr(text, "33.3 %") && strstr(text, "NOT met"));
        free(text);
    }
    free(json);
    json = NULL;
    T_CHECK_EQ_INT(ledger_kpi_json(lg, to, from, fake_wall, &json, err, sizeof(err)), GW_EINVAL);
    /* an empty period: zeros, no rate */
    T_CHECK_EQ_INT(ledger_kpi_json(lg, to, to + DAY, fake_wall, &json, err, sizeof(err)), 0);
    if (json) {
        cJSON *o = cJSON_Parse(json);
        T_CHECK_EQ_INT(kpi_num(o, "overall", "opened"), 0);
        T_CHECK(
            cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "overall"), "on_time_rate")));
        T_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "by_category")), 0);
        cJSON_Delete(o);
    }
    free(json);
    json = NULL;

    {
        ledger_rollup_row_t e[2] = {
            {"meter-main", "energy_total", "kWh", from + DAY, 1000, 1010, 4020, 4, from + DAY},
            {"meter-main", "energy_total", "kWh", from + 9 * DAY, 1500, 1520, 3020, 2, from},
        };
        T_CHECK_EQ_INT(ledger_rollup_add(lg, e, 2, err, sizeof(err)), 0);
    }
    T_CHECK_EQ_INT(ledger_report_json(lg, "2024-05", fake_wall, &json, err, sizeof(err)), 0);
    if (json) {
        cJSON *o = cJSON_Parse(json);
        cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "top_devices"), 0);
        cJSON *en = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "energy"), 0);
        T_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(top, "device")), "lift-1");
        T_CHECK_EQ_INT(cJSON_GetObjectItem(top, "work_orders")->valuedouble, 3);
        T_CHECK(en != NULL);
        if (en)
            T_CHECK_NEAR(cJSON_GetObjectItem(en, "use")->valuedouble, 520, 1e-9);
        T_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "by_status")), 4);
        cJSON_Delete(o);
    }
    free(json);
    T_CHECK_EQ_INT(ledger_report_json(lg, "2024-13", fake_wall, &json, err, sizeof(err)),
                   GW_EINVAL);
    T_CHECK_EQ_INT(ledger_report_json(lg, "2024-5", fake_wall, &json, err, sizeof(err)), GW_EINVAL);

    /* written once, as .json and .txt */
    T_CHECK_EQ_INT(ledger_report_write(lg, lt_tmpdir(), "2024-05", fake_wall, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_report_write(lg, lt_tmpdir(), "2024-05", fake_wall, err, sizeof(err)), 1);
    T_CHECK(access(lt_path("report-2024-05.json"), R_OK) == 0);
    T_CHECK(access(lt_path("report-2024-05.txt"), R_OK) == 0);
    {
        char m[8];
        ledger_prev_month(from + DAY, m);
        T_CHECK_STR(m, "2024-04");
    }
    ledger_close(lg);
}

/* The rows of a table as one text, to compare two ledgers. */
static char *table_text(sqlite3 *db, const char *table)
{
    char sql[256];
    sqlite3_stmt *st = NULL;
    char *out = NULL;

    snprintf(sql, sizeof(sql),
             "SELECT group_concat(device || '|' || point || '|' || ts || '|' || coalesce(unit, "
             "'-') || '|' || min || '|' || max || '|' || sum || '|' || count || '|' || last_ts, "
             "';') FROM (SELECT * FROM %s ORDER BY device, point, ts)",
             table);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_text(st, 0))
        out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

/* Packed rows (how the daemon hands a minute's buckets over) land in the
 * ledger exactly as the same rows unpacked: names cut as the row's fields
 * cut them, a device's name stored once for its run, an op that is full
 * (of rows or of names) refuses the next row. */
T_TEST(test_rollups_packed)
{
    ledger_t *plain = open_new("plain.db"), *packed = open_new("packed.db");
    char longdev[100], longpt[100], longunit[40], err[256];
    ledger_rollup_row_t rows[5];
    ledger_op_rollup_t *op = ledger_op_rollup_packed_new(5, 400), *small;
    ledger_rollup_packed_t nums = {0};
    char *a, *b;
    sqlite3 *db;

    memset(longdev, 'd', sizeof(longdev) - 1);
    memset(longpt, 'p', sizeof(longpt) - 1);
    memset(longunit, 'u', sizeof(longunit) - 1);
    longdev[sizeof(longdev) - 1] = longpt[sizeof(longpt) - 1] = longunit[sizeof(longunit) - 1] = 0;
    T_CHECK(plain && packed && op);
    if (!plain || !packed || !op)
        return;
    memset(rows, 0, sizeof(rows));
    for (int i = 0; i < 5; i++) {
        const char *dev = i < 2 ? "meter" : i < 4 ? longdev : "pump";
        snprintf(rows[i].device, sizeof(rows[i].device), "%s", dev);
        snprintf(rows[i].point, sizeof(rows[i].point), "%s", i == 3 ? longpt : "flow");
        snprintf(rows[i].unit, sizeof(rows[i].unit), "%s", i == 3 ? longunit : i ? "m3/h" : "");
        rows[i].ts_ms = T0 + (i % 2) * 60000;
        rows[i].min = -1.5 * i;
        rows[i].max = 2.25 * i;
        rows[i].sum = 10.125 + i;
        rows[i].count = 3 + i;
        rows[i].last_ts = rows[i].ts_ms + 1000 * i;
        nums.ts_ms = rows[i].ts_ms;
        nums.min = rows[i].min;
        nums.max = rows[i].max;
        nums.sum = rows[i].sum;
        nums.count = (uint32_t)rows[i].count;
        nums.last_ts = rows[i].last_ts;
        T_CHECK_EQ_INT(ledger_op_rollup_put(op, dev, i == 3 ? longpt : "flow",
                                            i == 3 ? longunit
                                            : i    ? "m3/h"
                                                   : "",
                                            &nums),
                       0);
    }
    T_CHECK_EQ_INT(op->n, 5);
    T_CHECK_EQ_INT(op->packed[1].dev, op->packed[0].dev); /* meter once */
    T_CHECK(op->packed[2].dev != op->packed[1].dev);      /* then the long name */
    T_CHECK_EQ_INT(strlen(op->names + op->packed[2].dev), 63);
    T_CHECK_EQ_INT(ledger_op_rollup_put(op, "pump", "flow", "", &nums), -1); /* 5 rows: full */
    small = ledger_op_rollup_packed_new(8, 0); /* room for one row's longest names */
    T_CHECK(small && ledger_op_rollup_put(small, longdev, longpt, longunit, &nums) == 0);
    T_CHECK(small && ledger_op_rollup_put(small, "x", "y", "", &nums) == -1);
    T_CHECK_EQ_INT(ledger_rollup_add(plain, rows, 5, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_rollup_add_packed(packed, op->packed, op->n, op->names, err, sizeof(err)),
                   0);
    for (int t = 0; t < 2; t++) {
        const char *table = t ? "rollup_1h" : "rollup_1m";
        db = lt_raw(lt_path("plain.db"));
        a = table_text(db, table);
        sqlite3_close(db);
        db = lt_raw(lt_path("packed.db"));
        b = table_text(db, table);
        T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM devices"), 3);
        sqlite3_close(db);
        T_CHECK(a && b && strcmp(a, b) == 0);
        T_CHECK(a && strstr(a, "|-|") == NULL); /* "" is stored as "", not NULL */
        free(a);
        free(b);
    }
    gw_msg_free(&op->hdr);
    gw_msg_free(small ? &small->hdr : NULL);
    ledger_close(plain);
    ledger_close(packed);
}

int main(void)
{
    gw_clock_t clk = {fake_mono_ms, fake_wall_ms, NULL};

    setenv("TZ", "UTC", 1);
    gw_clock_set(&clk);
    lt_tmpdir();
    T_RUN(test_lifecycle_with_audit_and_events);
    T_RUN(test_sla_and_routing);
    T_RUN(test_audit_retention);
    T_RUN(test_rollups_and_devices);
    T_RUN(test_rollups_packed);
    T_RUN(test_kpi_and_report);
    lt_cleanup();
    return t_done();
}
