/*
 * test_ledger_migrate.c: a ledger file of every earlier schema version,
 * built from the migrations' own SQL (ledger__migration_sql) and holding a
 * work order, its audit row and an outbox row, opens as the latest version
 * with its data intact and usable by every newer operation; its audit rows
 * join the hash chain and verify intact, also when rows had been purged
 * before (the chain then records where it starts). A file newer than the
 * program is refused.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "ledger_testutil.h"
#include "t.h"

#include <sqlite3.h>

/* A file at schema version v (0: empty) with one v1 work order when v >= 1. */
static int build_old(const char *path, int v)
{
    sqlite3 *db = NULL;
    char sql[64];
    int ok = 1;

    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return 0;
    for (int i = 0; i < v && ok; i++) {
        ok = sqlite3_exec(db, ledger__migration_sql(i), NULL, NULL, NULL) == SQLITE_OK;
        if (!ok)
            fprintf(stderr, "migration %d: %s\n", i + 1, sqlite3_errmsg(db));
    }
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v);
    ok = ok && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    if (ok && v >= 1)
        ok = sqlite3_exec(db,
                          "INSERT INTO work_orders (id, number, site, fingerprint, device, rule,"
                          " title, priority, status, occurrences, opened_at, last_seen_at,"
                          " updated_at) VALUES ('hq:01OLD', 1, 'hq', 'hq/lift-1/vib', 'lift-1',"
                          " 'vib', 'Old order', 'high', 'open', 3, 1000, 2000, 2000);"
                          "INSERT INTO audit (wo_id, ts, actor, action, to_status)"
                          " VALUES ('hq:01OLD', 1000, 'rule', 'opened', 'open');"
                          "INSERT INTO outbox (channel, key, payload, created_at)"
                          " VALUES ('workorder', 'hq:01OLD', '{}', 1000);",
                          NULL, NULL, NULL) == SQLITE_OK;
    if (!ok)
        fprintf(stderr, "build v%d: %s\n", v, sqlite3_errmsg(db));
    sqlite3_close(db);
    return ok;
}

/* A v2 or v3 file whose retention had already purged: rows 1 and 2, the
 * horizon past row 1, row 1 deleted (the old trigger allows it). */
static int build_purged(const char *path, int v)
{
    sqlite3 *db = NULL;
    int ok = build_old(path, v);

    if (!ok || sqlite3_open(path, &db) != SQLITE_OK)
        return 0;
    ok = sqlite3_exec(db,
                      "INSERT INTO audit (wo_id, ts, actor, action, from_status, to_status,"
                      " channel) VALUES ('hq:01OLD', 5000, 'bob', 'noted', 'open', 'open', 'cli');"
                      "UPDATE audit_horizon SET before_ts = 2000;"
                      "DELETE FROM audit WHERE id = 1;",
                      NULL, NULL, NULL) == SQLITE_OK;
    if (!ok)
        fprintf(stderr, "purged v%d: %s\n", v, sqlite3_errmsg(db));
    sqlite3_close(db);
    return ok;
}

/* The chain verifies intact; returns its row count. */
static long long chain_intact(ledger_t *lg)
{
    ledger_audit_report_t rep;
    char err[256] = "";

    T_CHECK_EQ_INT(ledger_audit_verify(lg, NULL, &rep, err, sizeof(err)), 0);
    if (rep.problem != LEDGER_AUDIT_INTACT)
        fprintf(stderr, "verify: %s: %s\n", ledger_audit_problem_name(rep.problem), rep.reason);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_INTACT);
    return rep.rows;
}

T_TEST(test_every_version_migrates)
{
    static const ledger_actor_t by = {"alice", "cli"};
    int latest = ledger__schema_version();

    T_CHECK(latest >= 3);
    for (int v = 0; v < latest; v++) {
        char name[32];
        const char *path;
        ledger_t *lg = NULL;
        ledger_wo_t wo;
        char err[256] = "";
        sqlite3 *db;

        snprintf(name, sizeof(name), "v%d.db", v);
        path = lt_path(name);
        T_CHECK(build_old(path, v));
        T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
        if (!lg) {
            fprintf(stderr, "v%d: %s\n", v, err);
            continue;
        }
        if (v >= 1) {
            T_CHECK_EQ_INT(ledger_wo_get(lg, "1", &wo, err, sizeof(err)), 0);
            T_CHECK_STR(wo.title, "Old order");
            T_CHECK_EQ_INT(wo.occurrences, 3);
            T_CHECK(wo.building == NULL && wo.assignee == NULL && wo.due_at == 0);
            ledger_wo_free_fields(&wo);
            /* newer operations work on the old order */
            T_CHECK_EQ_INT(
                ledger_wo_set_status(lg, "1", "acknowledged", &by, NULL, err, sizeof(err)), 0);
            T_CHECK_EQ_INT(ledger_wo_add_note(lg, "#1", "checked", &by, err, sizeof(err)), 0);
            T_CHECK_EQ_INT(chain_intact(lg), 3);
        }
        {
            ledger_rollup_row_t r = {"meter", "energy", "kWh", 60000, 1, 2, 3, 2, 61000};
            T_CHECK_EQ_INT(ledger_rollup_add(lg, &r, 1, err, sizeof(err)), 0);
        }
        ledger_close(lg);

        db = lt_raw(path);
        T_CHECK_EQ_INT(lt_int(db, "PRAGMA user_version"), latest);
        if (v >= 1) {
            T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE channel = 'rule'"), 1);
            T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE channel = 'cli'"), 2);
            T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM outbox"), 3);
        }
        T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM rollup_1h"), 1);
        if (v >= 1) /* every row chained, ids kept (event ids name them) */
            T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE length(hash) = 64 AND"
                                      " id IN (1, 2, 3)"),
                           3);
        sqlite3_close(db);
    }
}

T_TEST(test_purged_files_start_their_chain)
{
    static const ledger_actor_t by = {"alice", "cli"};

    for (int v = 2; v < 4; v++) {
        char name[32], err[256] = "";
        const char *path;
        ledger_t *lg = NULL;
        sqlite3 *db;

        snprintf(name, sizeof(name), "purged-v%d.db", v);
        path = lt_path(name);
        T_CHECK(build_purged(path, v));
        T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
        if (!lg) {
            fprintf(stderr, "v%d: %s\n", v, err);
            continue;
        }
        /* row 2, then the record of where the chain starts */
        T_CHECK_EQ_INT(chain_intact(lg), 2);
        T_CHECK_EQ_INT(ledger_wo_set_status(lg, "1", "acknowledged", &by, NULL, err, 256), 0);
        T_CHECK_EQ_INT(chain_intact(lg), 3);
        ledger_close(lg);
        db = lt_raw(path);
        T_CHECK_EQ_INT(lt_int(db, "SELECT before_id FROM audit_horizon"), 2);
        T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE action = 'chain_started'"), 1);
        T_CHECK_EQ_INT(lt_int(db, "SELECT max(id) FROM audit"), 4);
        sqlite3_close(db);
    }
}

T_TEST(test_newer_file_refused)
{
    const char *path = lt_path("future.db");
    ledger_t *lg = NULL;
    char err[256] = "";
    sqlite3 *db;
    char sql[64];

    T_CHECK(build_old(path, ledger__schema_version()));
    db = lt_raw(path);
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", ledger__schema_version() + 1);
    T_CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    T_CHECK(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)) < 0);
    T_CHECK(strstr(err, "newer than this program") != NULL);
}

int main(void)
{
    lt_tmpdir();
    T_RUN(test_every_version_migrates);
    T_RUN(test_purged_files_start_their_chain);
    T_RUN(test_newer_file_refused);
    lt_cleanup();
    return t_done();
}
