/*
 * test_ledger_migrate.c: a ledger file of every earlier schema version,
 * built from the migrations' own SQL (ledger__migration_sql) and holding a
 * work order, its audit row and an outbox row, opens as the latest version
 * with its data intact and usable by every newer operation. A file newer
 * than the program is refused.
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
    T_RUN(test_newer_file_refused);
    lt_cleanup();
    return t_done();
}
