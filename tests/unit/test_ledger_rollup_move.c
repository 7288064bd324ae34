/*
 * test_ledger_rollup_move.c: schema v6's online move of the rollups
 * (store/ledger_rollup_move.c) on real SQLite files of schema v5 holding
 * 40,000 rollup rows (bench_rollup_keys opens a million): the open only
 * renames (the old rows are all still in the old tables after it), the
 * move keeps every row exactly once (counts, sums, mins, maxes, last_ts
 * compared with the v5 file's), reads (monthly report with its energy
 * section, devices, a per-day aggregate) answer the same before, during
 * and after the move, a bucket written to both tables merges, a process
 * killed with SIGKILL mid-move resumes without loss or duplicate, a full
 * disk fails a batch without change and the move goes on once there is
 * space, and the ledger thread moves everything by itself, showing the
 * rows left in its figures.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"
#include "store/ledger_worker.h"

#include "ledger_testutil.h"
#include "t.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T0    1772323200000LL /* 2026-03-01T00:00:00Z */
#define MONTH "2026-03"
#define NOW   (T0 + 40LL * 86400000)

static int64_t mono_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A v5 file with n rows in each rollup table: 50 devices x 20 points, one
 * kWh counter per device (point p0) rising hour by hour; values are
 * multiples of 0.25 so that sums in any order are exact. */
static int build_v5(const char *path, int n)
{
    sqlite3 *db = NULL;
    char sql[1200];
    int ok = 1;

    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return 0;
    ok = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (int i = 0; i < 5 && ok; i++)
        ok = sqlite3_exec(db, ledger__migration_sql(i), NULL, NULL, NULL) == SQLITE_OK;
    for (int h = 0; h < 2 && ok; h++) {
        snprintf(sql, sizeof(sql),
                 "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < %d)"
                 " INSERT INTO rollup_%s SELECT 'dev-' || (n %% 50), 'p' || (n / 50 %% 20),"
                 " %lld + (n / 1000) * %d, CASE WHEN n / 50 %% 20 = 0 THEN 'kWh' ELSE 'C' END,"
                 " (n / 1000) * 10 + n %% 50 * 0.25, (n / 1000) * 10 + n %% 50 * 0.25 + 5,"
                 " n * 0.25 + 0.5, 3 + n %% 7, %lld + (n / 1000) * %d + 59000 FROM i",
                 n - 1, h ? "1h" : "1m", T0, h ? 3600000 : 60000, T0, h ? 3600000 : 60000);
        ok = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    }
    ok = ok && sqlite3_exec(db,
                            "INSERT INTO devices (name, status, last_seen)"
                            " SELECT DISTINCT device, 'online', 1 FROM rollup_1h;"
                            "PRAGMA user_version=5; COMMIT",
                            NULL, NULL, NULL) == SQLITE_OK;
    if (!ok)
        fprintf(stderr, "build v5: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return ok;
}

/* Every row of one rollup (old and new tables) summed up, as text. */
static void fold(sqlite3 *db, const char *t, char *out, size_t len)
{
    char sql[700];
    sqlite3_stmt *st = NULL;
    int old = (int)lt_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'rollup_1h_v5'");

    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) || '/' || total(sum) || '/' || SUM(count) || '/' || total(min)"
             " || '/' || total(max) || '/' || SUM(last_ts) || '/' || COUNT(DISTINCT device ||"
             " point || ts) FROM (SELECT * FROM rollup_%s%s%s%s)",
             t, old ? " UNION ALL SELECT * FROM rollup_" : "", old ? t : "", old ? "_v5" : "");
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    else
        fprintf(stderr, "fold: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

static void folds(const char *path, char *f1m, char *f1h, size_t len)
{
    sqlite3 *db = lt_raw(path);

    fold(db, "1m", f1m, len);
    fold(db, "1h", f1h, len);
    sqlite3_close(db);
}

/* What readers answer: the month's report, the devices, daily means. */
static char *reads(ledger_t *lg)
{
    char *rep = NULL, *dev = NULL, *all = NULL, err[256];
    long long daily;
    size_t len;

    if (ledger_report_json(lg, MONTH, NOW, &rep, err, sizeof(err)) < 0 ||
        ledger_devices_json(lg, &dev, err, sizeof(err)) < 0) {
        fprintf(stderr, "reads: %s\n", err);
        free(rep);
        return NULL;
    }
    daily = lt_int(ledger__db(lg), "SELECT SUM(m) FROM (SELECT CAST(SUM(sum) * 4 / SUM(count)"
                                   " AS INTEGER) AS m FROM rollup_1h_all WHERE device = 'dev-7'"
                                   " GROUP BY point, ts / 86400000)");
    len = strlen(rep) + strlen(dev) + 32;
    all = malloc(len);
    snprintf(all, len, "%s\n%s\n%lld", rep, dev, daily);
    free(rep);
    free(dev);
    return all;
}

static int old_rows(ledger_t *lg)
{
    return (int)lt_int(ledger__db(lg), "SELECT (SELECT COUNT(*) FROM rollup_1m_v5)"
                                       " + (SELECT COUNT(*) FROM rollup_1h_v5)");
}

T_TEST(test_open_at_once_move_keeps_every_row)
{
    const char *path = lt_path("v5-big.db");
    char b1m[200], b1h[200], a1m[200], a1h[200], err[256];
    char *before = NULL, *during = NULL, *after = NULL;
    ledger_t *lg = NULL;
    int64_t left = -1, t, prev;
    int batches = 0;

    T_CHECK(build_v5(path, 20000));
    folds(path, b1m, b1h, sizeof(b1m));
    t = mono_ms();
    T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    fprintf(stderr, "open of a v5 ledger with 40,000 rollup rows: %lld ms\n",
            (long long)(mono_ms() - t));
    if (!lg) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    /* the open copied nothing: every row still in the old tables */
    T_CHECK_EQ_INT(old_rows(lg), 40000);
    T_CHECK_EQ_INT(lt_int(ledger__db(lg), "SELECT COUNT(*) FROM rollup_1h"), 0);
    T_CHECK_EQ_INT(lt_int(ledger__db(lg), "PRAGMA user_version"), 6);
    before = reads(lg);
    T_CHECK(before && strstr(before, "\"kWh\"") != NULL);
    for (prev = INT64_MAX; left != 0 && batches < 1000; batches++) {
        T_CHECK_EQ_INT(ledger_rollup_move(lg, 2000, &left, err, sizeof(err)), 0);
        T_CHECK(left < prev);
        prev = left;
        if (batches == 12) { /* 1h all moved, 1m partly */
            T_CHECK_EQ_INT(left, old_rows(lg));
            during = reads(lg);
            T_CHECK(during && strcmp(before, during) == 0);
        }
    }
    T_CHECK_EQ_INT(batches, 21); /* the last finds nothing and drops the old tables */
    T_CHECK_EQ_INT(
        lt_int(ledger__db(lg), "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%_v5'"), 0);
    after = reads(lg);
    T_CHECK(after && strcmp(before, after) == 0);
    ledger_close(lg);
    folds(path, a1m, a1h, sizeof(a1m));
    T_CHECK_STR(a1m, b1m);
    T_CHECK_STR(a1h, b1h);
    free(before);
    free(during);
    free(after);
}

/* A bucket written after the upgrade while its older part waits in the old
 * table: readers see the merge, and so does the new table after the move. */
T_TEST(test_bucket_in_both_tables_merges)
{
    const char *path = lt_path("v5-merge.db");
    /* dev-1/p0 (kWh) at hour 0: the v5 row has min 0.25, max 5.25, sum 0.75, count 4 */
    ledger_rollup_row_t r = {"dev-1", "p0", "kWh", T0 + 120000, 0.0, 99.0, 10.0, 2, T0 + 130000};
    ledger_t *lg = NULL;
    int64_t left = -1;
    char err[256];
    const char *q =
        "SELECT min || '/' || max || '/' || sum || '/' || count || '/' || last_ts"
        " FROM rollup_1h WHERE device = 'dev-1' AND point = 'p0' AND ts = 1772323200000";

    T_CHECK(build_v5(path, 2000));
    T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    if (!lg)
        return;
    T_CHECK_EQ_INT(ledger_rollup_add(lg, &r, 1, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(lt_int(ledger__db(lg), "SELECT SUM(sum) * 100 / SUM(count) FROM rollup_1h_all"
                                          " WHERE device = 'dev-1' AND point = 'p0' AND ts = "
                                          "1772323200000"),
                   1075 / 6);
    while (left != 0)
        T_CHECK_EQ_INT(ledger_rollup_move(lg, 300, &left, err, sizeof(err)), 0);
    {
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(ledger__db(lg), q, -1, &st, NULL);
        T_CHECK(sqlite3_step(st) == SQLITE_ROW);
        T_CHECK_STR((const char *)sqlite3_column_text(st, 0), "0.0/99.0/10.75/6/1772323330000");
        sqlite3_finalize(st);
    }
    T_CHECK_EQ_INT(lt_int(ledger__db(lg), "SELECT COUNT(*) FROM rollup_1h"), 2000);
    ledger_close(lg);
}

/* SIGKILL at any moment of the move: every row is in exactly one table. */
T_TEST(test_kill_mid_move_resumes)
{
    const char *path = lt_path("v5-kill.db");
    char b1m[200], b1h[200], a1m[200], a1h[200], err[256];
    ledger_t *lg = NULL;
    int64_t left = -1;
    int kills = 0;

    T_CHECK(build_v5(path, 20000));
    folds(path, b1m, b1h, sizeof(b1m));
    for (int round = 0; round < 4; round++) {
        pid_t pid = fork();
        sqlite3 *db;
        long long moved = 0;
        int64_t until = mono_ms() + 60000;

        if (pid == 0) {
            int64_t l = -1;
            if (ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)) < 0)
                _exit(2);
            while (l != 0)
                if (ledger_rollup_move(lg, 250, &l, err, sizeof(err)) < 0)
                    _exit(3);
            _exit(0);
        }
        /* kill it once it has moved some rows (more each round) */
        db = lt_raw(path);
        while (mono_ms() < until && moved <= round * 6000) {
            usleep(2000);
            moved = lt_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'rollup_1h'") &&
                            lt_int(db, "PRAGMA user_version") == 6
                        ? lt_int(db, "SELECT (SELECT COUNT(*) FROM rollup_1h) +"
                                     " (SELECT COUNT(*) FROM rollup_1m)")
                        : 0;
        }
        sqlite3_close(db);
        kills += kill(pid, SIGKILL) == 0;
        waitpid(pid, NULL, 0);
        folds(path, a1m, a1h, sizeof(a1m));
        T_CHECK_STR(a1m, b1m);
        T_CHECK_STR(a1h, b1h);
    }
    T_CHECK(kills >= 1);
    T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    if (!lg)
        return;
    while (left != 0)
        T_CHECK_EQ_INT(ledger_rollup_move(lg, 2000, &left, err, sizeof(err)), 0);
    ledger_close(lg);
    folds(path, a1m, a1h, sizeof(a1m));
    T_CHECK_STR(a1m, b1m);
    T_CHECK_STR(a1h, b1h);
}

/* No room for a batch: it fails whole, nothing changes, and the move goes
 * on once there is room. */
T_TEST(test_full_disk_fails_a_batch_whole)
{
    const char *path = lt_path("v5-full.db");
    char b1m[200], b1h[200], a1m[200], a1h[200], err[256];
    ledger_t *lg = NULL;
    int64_t left = -1;

    T_CHECK(build_v5(path, 20000));
    folds(path, b1m, b1h, sizeof(b1m));
    T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    if (!lg)
        return;
    T_CHECK(sqlite3_exec(ledger__db(lg), "PRAGMA max_page_count = 1", NULL, NULL, NULL) ==
            SQLITE_OK);
    T_CHECK(ledger_rollup_move(lg, 2000, &left, err, sizeof(err)) < 0);
    T_CHECK(strstr(err, "full") != NULL);
    T_CHECK_EQ_INT(old_rows(lg), 40000);
    T_CHECK(sqlite3_exec(ledger__db(lg), "PRAGMA max_page_count = 2147483646", NULL, NULL, NULL) ==
            SQLITE_OK);
    left = -1;
    while (left != 0)
        T_CHECK_EQ_INT(ledger_rollup_move(lg, 2000, &left, err, sizeof(err)), 0);
    ledger_close(lg);
    folds(path, a1m, a1h, sizeof(a1m));
    T_CHECK_STR(a1m, b1m);
    T_CHECK_STR(a1h, b1h);
}

static int wait_figures(ledger_worker_t *w, int (*ok)(const ledger_worker_figures_t *),
                        ledger_worker_figures_t *f)
{
    for (int64_t until = mono_ms() + 60000; mono_ms() < until; usleep(20000)) {
        ledger_worker_figures(w, f);
        if (ok(f))
            return 1;
    }
    return 0;
}

static int move_failed(const ledger_worker_figures_t *f)
{
    return f->move_failed >= 2;
}

static int move_done(const ledger_worker_figures_t *f)
{
    return f->move_left == 0;
}

static void set_pages(const char *v)
{
    FILE *f = fopen(lt_path("pages"), "w");

    fputs(v, f);
    fclose(f);
}

/* The ledger thread moves the rows while idle: with the disk full it
 * retries (the storage state of work orders stays ok), then finishes. */
T_TEST(test_thread_moves_and_retries)
{
    const char *path = lt_path("v5-thread.db");
    char b1m[200], b1h[200], a1m[200], a1h[200], err[256];
    ledger_worker_figures_t f;
    ledger_worker_t *w = NULL;

    T_CHECK(build_v5(path, 20000));
    folds(path, b1m, b1h, sizeof(b1m));
    set_pages("1"); /* PRAGMA max_page_count = the file's size */
    T_CHECK_EQ_INT(ledger_worker_start(&w, path, NULL, err, sizeof(err)), 0);
    if (!w)
        return;
    T_CHECK(wait_figures(w, move_failed, &f));
    T_CHECK_EQ_INT(f.move_left, 40000);
    T_CHECK_EQ_INT(f.state, LEDGER_STORAGE_OK);
    set_pages("0");
    T_CHECK(wait_figures(w, move_done, &f));
    T_CHECK(f.move_batches >= 20);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    folds(path, a1m, a1h, sizeof(a1m));
    T_CHECK_STR(a1m, b1m);
    T_CHECK_STR(a1h, b1h);
}

int main(void)
{
    lt_tmpdir();
    setenv("PLANTROOM_TEST_LEDGER_PAGES_FILE", lt_path("pages"), 1);
    T_RUN(test_open_at_once_move_keeps_every_row);
    T_RUN(test_bucket_in_both_tables_merges);
    T_RUN(test_kill_mid_move_resumes);
    T_RUN(test_full_disk_fails_a_batch_whole);
    T_RUN(test_thread_moves_and_retries);
    lt_cleanup();
    return t_done();
}
