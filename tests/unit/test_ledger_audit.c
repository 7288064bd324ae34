/*
 * test_ledger_audit.c: the audit trail as a hash chain (store/ledger_audit.c,
 * ledger_audit_verify.c), on real SQLite files with a pinned wall clock.
 * Work-order changes, writes and refusals chain; a retention purge cuts the
 * old end and verifies clean, again and again; and each way of tampering
 * that sqlite3 allows (its triggers dropped first, as an attacker would) is
 * found and named: a row deleted, changed, two rows swapped, the horizon
 * moved (the exact attack "UPDATE audit_horizon SET before_ts =
 * 9999999999999; DELETE FROM audit"), the whole trail emptied, the newest
 * status change deleted, and a head published earlier no longer in the
 * chain. A damaged hash (the triggers in place, as a bad page leaves them)
 * stops no commit: the chain goes on past it, the walk names that row
 * alone, and a purge past it verifies clean.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_clock.h"
#include "ledger_testutil.h"
#include "t.h"

#define T0  1714572000000LL /* 2024-05-01T14:00:00.000Z */
#define DAY (24LL * 3600 * 1000)

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

/* A ledger with two work orders and their life, a write and a refusal:
 * rows on days 0..3 (fake_wall ends on day 3). */
static ledger_t *populated(const char *name)
{
    ledger_t *lg = NULL;
    ledger_trigger_result_t r;
    ledger_trigger_t t;
    char err[256] = "";
    ledger_audit_entry_t w = {.actor = "ops",
                              .channel = "mqtt",
                              .action = "write",
                              .detail = "{\"device\":\"pump-1\",\"point\":\"control_word\","
                                        "\"old\":1151,\"new\":1142,\"result\":\"done\"}"};

    unlink(lt_path(name));
    fake_wall = T0;
    if (ledger_open(&lg, lt_path(name), LEDGER_OPEN_CREATE, err, sizeof(err)) < 0) {
        fprintf(stderr, "open: %s\n", err);
        return NULL;
    }
    t = lt_trigger("hq", "lift-1", "vib", fake_wall);
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), 0); /* row 1 */
    fake_wall += DAY;
    T_CHECK_EQ_INT(ledger_wo_set_status(lg, "1", "acknowledged", &alice, "seen", err, 256), 0);
    T_CHECK_EQ_INT(ledger_audit_add(lg, &w, NULL, err, sizeof(err)), 0); /* row 3 */
    fake_wall += DAY;
    t = lt_trigger("hq", "lift-2", "vib", fake_wall);
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), 0); /* row 4 */
    T_CHECK_EQ_INT(ledger_wo_assign(lg, "2", "bob", &alice, err, sizeof(err)), 0);
    fake_wall += DAY;
    w.action = "command_refused";
    w.actor = "mallory";
    w.detail = "{\"verb\":\"ack\",\"reason\":\"not authorized\"}";
    T_CHECK_EQ_INT(ledger_audit_add(lg, &w, NULL, err, sizeof(err)), 0); /* row 6 */
    T_CHECK_EQ_INT(ledger_wo_set_status(lg, "1", "in_progress", &alice, NULL, err, 256), 0);
    return lg;
}

static ledger_audit_report_t verify(ledger_t *lg, const char *head)
{
    ledger_audit_report_t rep;
    char err[256] = "";

    if (ledger_audit_verify(lg, head, &rep, err, sizeof(err)) != 0) {
        fprintf(stderr, "verify: %s\n", err);
        rep.problem = (ledger_audit_problem_t)-1;
    }
    if (rep.problem != LEDGER_AUDIT_INTACT)
        fprintf(stderr, "  verify: %s at row %lld: %s\n", ledger_audit_problem_name(rep.problem),
                (long long)rep.row, rep.reason);
    return rep;
}

/* Tamper as sqlite3 would, after dropping the triggers in the way. */
static void tamper(const char *name, const char *sql)
{
    sqlite3 *db = lt_raw(lt_path(name));
    char *msg = NULL;

    T_CHECK(db != NULL);
    if (sqlite3_exec(db,
                     "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS "
                     "audit_no_delete; DROP TRIGGER IF EXISTS audit_horizon_forward;",
                     NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "tamper %s: %s\n", sql, msg ? msg : "?");
        T_CHECK(0);
    }
    sqlite3_free(msg);
    sqlite3_close(db);
}

T_TEST(chain_intact_and_head)
{
    ledger_t *lg = populated("intact.db");
    ledger_audit_report_t rep;
    ledger_audit_head_t head;
    char err[256], expect[100];

    if (!lg)
        return;
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_INTACT);
    T_CHECK_EQ_INT(rep.rows, 7);
    T_CHECK_EQ_INT(rep.first_id, 1);
    T_CHECK_EQ_INT(rep.work_orders, 2);
    T_CHECK_EQ_INT(ledger_audit_head(lg, &head, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(head.id, 7);
    T_CHECK_EQ_INT(strlen(head.hash), 64);
    /* the head published earlier is still there */
    snprintf(expect, sizeof(expect), "%lld:%s", (long long)head.id, head.hash);
    T_CHECK_EQ_INT(verify(lg, expect).problem, LEDGER_AUDIT_INTACT);
    T_CHECK(ledger_audit_verify(lg, "7:zz", &rep, err, sizeof(err)) == GW_EINVAL);
    /* rows of every kind: the write and the refusal are about no order */
    {
        sqlite3 *db = lt_raw(lt_path("intact.db"));
        T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE wo_id IS NULL"), 2);
        T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE length(hash) = 64"), 7);
        /* the triggers still refuse the plain edits */
        T_CHECK(sqlite3_exec(db, "UPDATE audit SET actor = 'x' WHERE id = 2", 0, 0, 0) != 0);
        T_CHECK(sqlite3_exec(db, "DELETE FROM audit WHERE id = 2", 0, 0, 0) != 0);
        T_CHECK(sqlite3_exec(db,
                             "UPDATE audit_horizon SET before_ts = 9999999999999;"
                             " DELETE FROM audit",
                             0, 0, 0) != 0);
        T_CHECK_EQ_INT(lt_int(db, "SELECT before_ts FROM audit_horizon"), 0);
        T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit"), 7);
        sqlite3_close(db);
    }
    T_CHECK_EQ_INT(verify(lg, NULL).problem, LEDGER_AUDIT_INTACT);
    ledger_close(lg);
}

T_TEST(purges_cut_the_old_end_and_verify_clean)
{
    ledger_t *lg = populated("purge.db");
    ledger_policy_t p;
    ledger_audit_report_t rep;
    char err[256];
    int64_t n = -1;

    if (!lg)
        return;
    ledger_policy_default(&p);
    p.audit_retention_days = 1;
    ledger_set_policy(lg, &p);
    /* day 3.5, retention 1 day: the rows of days 0..2 go (1..5) */
    fake_wall = T0 + 3 * DAY + DAY / 2;
    T_CHECK_EQ_INT(ledger_purge(lg, fake_wall, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 5);
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_INTACT);
    T_CHECK_EQ_INT(rep.first_id, 6);
    T_CHECK_EQ_INT(rep.horizon_id, 6);
    T_CHECK_EQ_INT(rep.rows, 3); /* 6, 7 and the record of the cut */
    /* a second purge, and a purge of everything: still one chain */
    fake_wall += 3 * DAY;
    T_CHECK_EQ_INT(ledger_purge(lg, fake_wall, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 3);
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_INTACT);
    T_CHECK_EQ_INT(rep.rows, 1);
    T_CHECK_EQ_INT(rep.first_id, 9); /* ids never repeat */
    T_CHECK_EQ_INT(ledger_purge(lg, fake_wall, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 0); /* nothing older: no new record */
    T_CHECK_EQ_INT(verify(lg, NULL).rows, 1);
    /* new rows after the cuts chain on */
    T_CHECK_EQ_INT(ledger_wo_set_status(lg, "2", "acknowledged", &alice, NULL, err, 256), 0);
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_INTACT);
    T_CHECK_EQ_INT(rep.head.id, 10);
    ledger_close(lg);
}

/* Each tampering is found, named, and the row is the right one. */
static void expect_broken(const char *name, const char *sql, ledger_audit_problem_t want,
                          int64_t row)
{
    ledger_t *lg = populated(name);
    ledger_audit_report_t rep;

    if (!lg)
        return;
    ledger_close(lg);
    tamper(name, sql);
    T_CHECK_EQ_INT(ledger_open(&lg, lt_path(name), LEDGER_OPEN_READONLY, NULL, 0), 0);
    if (!lg)
        return;
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, want);
    T_CHECK_EQ_INT(rep.row, row);
    T_CHECK(rep.reason[0] != '\0');
    ledger_close(lg);
}

T_TEST(tampering_is_found_and_named)
{
    /* a row deleted in the middle: the next one no longer chains */
    expect_broken("del.db", "DELETE FROM audit WHERE id = 3", LEDGER_AUDIT_MISSING, 3);
    /* a row changed */
    expect_broken("chg.db", "UPDATE audit SET actor = 'bob' WHERE id = 2", LEDGER_AUDIT_CHANGED, 2);
    expect_broken("det.db", "UPDATE audit SET detail = '{\"new\":1151}' WHERE id = 3",
                  LEDGER_AUDIT_CHANGED, 3);
    /* two rows swapped, hashes and all */
    expect_broken("swap.db",
                  "UPDATE audit SET id = -1 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3;"
                  " UPDATE audit SET id = 3 WHERE id = -1",
                  LEDGER_AUDIT_CHANGED, 2);
    /* the horizon moved and everything deleted */
    expect_broken("horizon.db",
                  "UPDATE audit_horizon SET before_ts = 9999999999999; DELETE FROM audit",
                  LEDGER_AUDIT_HORIZON, 1);
    /* ... with before_id as well: no purge explains it */
    expect_broken("horizon2.db",
                  "UPDATE audit_horizon SET before_ts = 9999999999999, before_id = 99;"
                  " DELETE FROM audit",
                  LEDGER_AUDIT_HORIZON, 99);
    /* the first rows deleted and the horizon moved past them by hand */
    expect_broken("horizon3.db",
                  "UPDATE audit_horizon SET before_id = 3; DELETE FROM audit WHERE id < 3",
                  LEDGER_AUDIT_HORIZON, 3);
    /* everything deleted, the horizon left as new: the orders lost their rows */
    expect_broken("wipe.db", "DELETE FROM audit", LEDGER_AUDIT_WORK_ORDER, 1);
    /* the newest status change deleted from the end: the order says more */
    expect_broken("tail.db", "DELETE FROM audit WHERE id = 7", LEDGER_AUDIT_WORK_ORDER, 7);
    /* a row without its hash */
    expect_broken("nohash.db", "UPDATE audit SET hash = NULL WHERE id = 5", LEDGER_AUDIT_UNHASHED,
                  5);
}

T_TEST(a_published_head_catches_a_rewrite)
{
    ledger_t *lg = populated("head.db");
    ledger_audit_head_t head;
    ledger_audit_report_t rep;
    char err[256], expect[100];
    ledger_audit_entry_t w = {.actor = "ops", .channel = "control", .action = "write"};

    if (!lg)
        return;
    T_CHECK_EQ_INT(ledger_audit_add(lg, &w, NULL, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_audit_head(lg, &head, err, sizeof(err)), 0);
    snprintf(expect, sizeof(expect), "%lld:%s", (long long)head.id, head.hash);
    ledger_close(lg);
    /* the last row (no work order behind it) deleted: only the head sees it */
    tamper("head.db", "DELETE FROM audit WHERE id = 8");
    T_CHECK_EQ_INT(ledger_open(&lg, lt_path("head.db"), LEDGER_OPEN_READONLY, NULL, 0), 0);
    if (!lg)
        return;
    T_CHECK_EQ_INT(verify(lg, NULL).problem, LEDGER_AUDIT_INTACT);
    rep = verify(lg, expect);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_HEAD);
    T_CHECK_EQ_INT(rep.row, 8);
    ledger_close(lg);
}

/* Damage as a bad page or a bit flip would: the triggers stay. */
static void damage(const char *name, const char *sql)
{
    sqlite3 *db = lt_raw(lt_path(name));
    char all[512], *msg = NULL;

    T_CHECK(db != NULL);
    snprintf(all, sizeof(all),
             "DROP TRIGGER audit_no_update; %s; CREATE TRIGGER audit_no_update BEFORE UPDATE ON"
             " audit WHEN OLD.hash IS NOT NULL BEGIN SELECT RAISE(ABORT, 'audit is"
             " append-only'); END;",
             sql);
    if (sqlite3_exec(db, all, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "damage %s: %s\n", sql, msg ? msg : "?");
        T_CHECK(0);
    }
    sqlite3_free(msg);
    sqlite3_close(db);
}

static ledger_t *reopen(const char *name, int flags)
{
    ledger_t *lg = NULL;
    char err[256] = "";

    if (ledger_open(&lg, lt_path(name), flags, err, sizeof(err)) != 0)
        fprintf(stderr, "open %s: %s\n", name, err);
    return lg;
}

T_TEST(a_damaged_newest_hash_does_not_stop_commits)
{
    ledger_t *lg = populated("dmg.db");
    ledger_audit_report_t rep;
    ledger_trigger_result_t r;
    ledger_trigger_t t;
    ledger_policy_t p;
    char err[256] = "";
    int64_t n = -1;

    if (!lg)
        return;
    ledger_close(lg);
    damage("dmg.db", "UPDATE audit SET hash = 'not a hash' WHERE id = 7");
    lg = reopen("dmg.db", LEDGER_OPEN_CREATE);
    T_CHECK(lg != NULL);
    if (!lg)
        return;
    T_CHECK_EQ_INT(ledger_audit_break(lg), 0);
    /* a new work order and a change commit, chained past row 7 */
    fake_wall = T0 + 4 * DAY;
    t = lt_trigger("hq", "pump-1", "dry_run", fake_wall);
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), 0); /* row 8 */
    if (err[0])
        fprintf(stderr, "  trigger: %s\n", err);
    T_CHECK_EQ_INT(ledger_audit_break(lg), 7);
    T_CHECK_EQ_INT(ledger_wo_set_status(lg, "3", "acknowledged", &alice, NULL, err, 256), 0);
    T_CHECK_EQ_INT(ledger_audit_break(lg), 7); /* still the same break, once */
    /* the walk names row 7 alone and checks 8 and 9 */
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_UNHASHED);
    T_CHECK_EQ_INT(rep.row, 7);
    T_CHECK_EQ_INT(rep.breaks, 1);
    T_CHECK_EQ_INT(rep.break_rows[0], 7);
    T_CHECK_EQ_INT(rep.rows, 9);
    T_CHECK_EQ_INT(rep.head.id, 9);
    ledger_close(lg);

    /* a bit flip in an older row: the next rows chained from its true
     * hash, which its content still gives: only row 3 is named (and 7) */
    damage("dmg.db", "UPDATE audit SET hash = 'g' || substr(hash, 2) WHERE id = 3");
    lg = reopen("dmg.db", LEDGER_OPEN_CREATE);
    if (!lg)
        return;
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_UNHASHED);
    T_CHECK_EQ_INT(rep.row, 3);
    T_CHECK_EQ_INT(rep.breaks, 2);
    T_CHECK_EQ_INT(rep.break_rows[1], 7);

    /* a purge past the damaged rows anchors on the same rule: intact */
    ledger_policy_default(&p);
    p.audit_retention_days = 1;
    ledger_set_policy(lg, &p);
    fake_wall = T0 + 4 * DAY + DAY / 2;
    T_CHECK_EQ_INT(ledger_purge(lg, fake_wall, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 7);
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_INTACT);
    T_CHECK_EQ_INT(rep.breaks, 0);
    T_CHECK_EQ_INT(rep.first_id, 8);
    ledger_close(lg);
}

T_TEST(a_damaged_or_missing_horizon_does_not_stop_commits)
{
    ledger_t *lg = populated("hz.db");
    ledger_audit_report_t rep;
    ledger_trigger_result_t r;
    ledger_trigger_t t;
    ledger_policy_t p;
    char err[256] = "";
    int64_t n = -1;
    sqlite3 *db;

    if (!lg)
        return;
    ledger_policy_default(&p);
    p.audit_retention_days = 1;
    ledger_set_policy(lg, &p);
    fake_wall = T0 + 3 * DAY + DAY / 2;
    T_CHECK_EQ_INT(ledger_purge(lg, fake_wall, &n, err, sizeof(err)), 0); /* rows 1..5 */
    ledger_close(lg);
    /* the anchor damaged: named, and the walk takes the one the cut records */
    db = lt_raw(lt_path("hz.db"));
    T_CHECK(db != NULL);
    T_CHECK_EQ_INT(sqlite3_exec(db,
                                "DROP TRIGGER audit_horizon_forward;"
                                " UPDATE audit_horizon SET anchor = 'zz' || substr(anchor, 3)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
    sqlite3_close(db);
    lg = reopen("hz.db", LEDGER_OPEN_CREATE);
    if (!lg)
        return;
    t = lt_trigger("hq", "pump-1", "dry_run", fake_wall);
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, &r, err, sizeof(err)), 0);
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_HORIZON);
    T_CHECK_EQ_INT(rep.breaks, 0);
    T_CHECK_EQ_INT(rep.rows, 4); /* 6, 7, the cut's record, the new order */
    ledger_close(lg);
    /* the horizon row gone: commits go on, verify names it */
    db = lt_raw(lt_path("hz.db"));
    T_CHECK(db != NULL);
    T_CHECK_EQ_INT(sqlite3_exec(db, "DROP TRIGGER audit_horizon_keep; DELETE FROM audit_horizon",
                                NULL, NULL, NULL),
                   SQLITE_OK);
    sqlite3_close(db);
    lg = reopen("hz.db", LEDGER_OPEN_CREATE);
    if (!lg)
        return;
    T_CHECK_EQ_INT(ledger_wo_set_status(lg, "3", "acknowledged", &alice, NULL, err, 256), 0);
    rep = verify(lg, NULL);
    T_CHECK_EQ_INT(rep.problem, LEDGER_AUDIT_HORIZON);
    T_CHECK_EQ_INT(rep.head.id, 10);
    ledger_close(lg);
}

int main(void)
{
    gw_clock_t clk = {.mono_ms = fake_mono_ms, .wall_ms = fake_wall_ms};

    lt_tmpdir();
    gw_clock_set(&clk);
    T_RUN(chain_intact_and_head);
    T_RUN(purges_cut_the_old_end_and_verify_clean);
    T_RUN(tampering_is_found_and_named);
    T_RUN(a_published_head_catches_a_rewrite);
    T_RUN(a_damaged_newest_hash_does_not_stop_commits);
    T_RUN(a_damaged_or_missing_horizon_does_not_stop_commits);
    lt_cleanup();
    return t_done();
}
