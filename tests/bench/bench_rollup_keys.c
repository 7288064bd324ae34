/*
 * bench_rollup_keys.c: what the ledger's rollup keys cost, on real files.
 *
 *   bench_rollup_keys DIR minutes [MINUTES]   the minute's close
 *   bench_rollup_keys DIR ready [ROWS]        an upgrade's start
 *
 * minutes: a new ledger takes MINUTES (default 30) minutes of 200 devices x
 * 100 points (20,000 buckets a minute into rollup_1m and rollup_1h, through
 * ledger_rollup_add in ops of 512 rows, 8 to a transaction, as the ledger
 * thread takes the loop's drains) and prints the thread CPU of each
 * minute's close: the mean of the first five and of the last five minutes
 * (with history). Names are dev-1 ... dev-200 and p0 ... p99 (a config's
 * order, not their text's); minutes-padded: device-000, point-000 ..., the
 * names of the figures before 2026-12-07's issue15-idle.
 * ready: a schema v5 file with ROWS (default 1,000,000) rollup rows, half
 * in each table, then on copies of it: the synchronous migration that was
 * withdrawn (both tables copied in one transaction, commit 592aaf0) timed
 * with sqlite3, and ledger_worker_start (open, migrate; no check there
 * since lead7-start: the point where the daemon can poll and tell systemd
 * it is ready) timed, then the
 * background move until the thread's figures show no row left.
 * Link it against the ledger library of any version to compare (see
 * docs/performance.md, "Ledger"). Not a test: nothing is asserted.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"
#include "store/ledger_worker.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T0 1772323200000LL /* 2026-03-01T00:00:00Z */

static double clk(clockid_t c)
{
    struct timespec t;

    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_rollup_keys: %s: %s\n", what, err);
    exit(1);
}

static void minutes(const char *dir, int n, int pad)
{
    static ledger_rollup_row_t rows[20000];
    char path[600], err[256];
    double first = 0, last = 0;
    ledger_t *lg = NULL;

    snprintf(path, sizeof(path), "%s/minutes.db", dir);
    unlink(path);
    if (ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)) < 0)
        die("open", err);
    for (int m = 0; m < n; m++) {
        double t;
        for (int i = 0; i < 20000; i++) {
            ledger_rollup_row_t *r = &rows[i];
            /* names as a site's config has them: in the order of the
             * config, not of their text (dev-1, dev-2, ... dev-10) */
            snprintf(r->device, sizeof(r->device), pad ? "device-%03d" : "dev-%d", i / 100 + !pad);
            snprintf(r->point, sizeof(r->point), pad ? "point-%03d" : "p%d", i % 100);
            snprintf(r->unit, sizeof(r->unit), "C");
            r->ts_ms = T0 + (int64_t)m * 60000;
            r->min = i + m;
            r->max = i + m + 3;
            r->sum = (i + m) * 60.0 + 90;
            r->count = 60;
            r->last_ts = r->ts_ms + 59000;
        }
        t = clk(CLOCK_THREAD_CPUTIME_ID);
        /* as the ledger thread takes a drain: ops of 512 rows, each in a
         * savepoint of its own, 8 to a transaction */
        for (int i = 0; i < 20000; i += 512) {
            if (i % 4096 == 0 && ledger_begin(lg, err, sizeof(err)) < 0)
                die("begin", err);
            if (ledger_rollup_add(lg, rows + i, i + 512 > 20000 ? 20000 - i : 512, err,
                                  sizeof(err)) < 0)
                die("rollup", err);
            if ((i + 512 >= 20000 || (i + 512) % 4096 == 0) &&
                ledger_commit(lg, err, sizeof(err)) < 0)
                die("commit", err);
        }
        t = (clk(CLOCK_THREAD_CPUTIME_ID) - t) * 1000;
        if (m < 5)
            first += t / 5;
        if (m >= n - 5)
            last += t / 5;
    }
    ledger_close(lg);
    printf("minute's close (20,000 buckets), CPU ms: first 5 minutes %.1f, minutes %d-%d %.1f\n",
           first, n - 4, n, last);
}

#ifndef BENCH_MINUTES_ONLY /* a library from before schema v6 has no move figures */
/* Migration v6 of commit 592aaf0 (withdrawn): both tables copied at open. */
static const char sync_v6[] =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE rollup_1m_v6 ("
    " device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, unit TEXT,"
    " min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL, PRIMARY KEY (ts, device, point)) WITHOUT ROWID;"
    "INSERT INTO rollup_1m_v6 SELECT device, point, ts, unit, min, max, sum, count, last_ts"
    " FROM rollup_1m;"
    "DROP TABLE rollup_1m; ALTER TABLE rollup_1m_v6 RENAME TO rollup_1m;"
    "CREATE TABLE rollup_1h_v6 ("
    " device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, unit TEXT,"
    " min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL, PRIMARY KEY (ts, device, point)) WITHOUT ROWID;"
    "INSERT INTO rollup_1h_v6 SELECT device, point, ts, unit, min, max, sum, count, last_ts"
    " FROM rollup_1h;"
    "DROP TABLE rollup_1h; ALTER TABLE rollup_1h_v6 RENAME TO rollup_1h;"
    "CREATE INDEX rollup_1h_series ON rollup_1h(device, point, ts);"
    "PRAGMA user_version=6; COMMIT;";

static void build_v5(const char *path, long rows)
{
    sqlite3 *db = NULL;
    char sql[1000];
    int ok;

    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("build", path);
    ok = sqlite3_exec(db, "PRAGMA journal_mode=WAL; BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (int i = 0; i < 5 && ok; i++)
        ok = sqlite3_exec(db, ledger__migration_sql(i), NULL, NULL, NULL) == SQLITE_OK;
    for (int h = 0; h < 2 && ok; h++) {
        /* 1,000 series (50 devices x 20 points), time after time */
        snprintf(sql, sizeof(sql),
                 "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < %ld)"
                 " INSERT INTO rollup_%s SELECT 'device-' || (n %% 50), 'point-' || (n / 50 %% 20),"
                 " %lld + (n / 1000) * %d, 'C', n %% 97, n %% 97 + 3, n * 0.25, 60,"
                 " %lld + (n / 1000) * %d + 59000 FROM i",
                 rows / 2 - 1, h ? "1h" : "1m", T0, h ? 3600000 : 60000, T0, h ? 3600000 : 60000);
        ok = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    }
    ok = ok && sqlite3_exec(db, "PRAGMA user_version=5; COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok)
        die("build", sqlite3_errmsg(db));
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_close(db);
}

static void copy(const char *from, const char *to)
{
    char cmd[1400];

    snprintf(cmd, sizeof(cmd), "rm -f '%s' '%s-wal' '%s-shm' && cp '%s' '%s'", to, to, to, from,
             to);
    if (system(cmd) != 0)
        die("copy", to);
}

static void ready(const char *dir, long rows)
{
    char v5[600], a[600], b[600], err[512];
    ledger_worker_figures_t f;
    ledger_worker_t *w = NULL;
    sqlite3 *db = NULL;
    double t, c;

    snprintf(v5, sizeof(v5), "%s/v5.db", dir);
    snprintf(a, sizeof(a), "%s/sync.db", dir);
    snprintf(b, sizeof(b), "%s/online.db", dir);
    build_v5(v5, rows);
    printf("v5 ledger with %ld rollup rows\n", rows);

    copy(v5, a);
    if (sqlite3_open(a, &db) != SQLITE_OK)
        die("open", a);
    t = clk(CLOCK_MONOTONIC);
    c = clk(CLOCK_PROCESS_CPUTIME_ID);
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, sync_v6, NULL, NULL, NULL) != SQLITE_OK)
        die("synchronous migration", sqlite3_errmsg(db));
    printf("withdrawn synchronous migration (before READY): wall %.2f s, CPU %.2f s\n",
           clk(CLOCK_MONOTONIC) - t, clk(CLOCK_PROCESS_CPUTIME_ID) - c);
    sqlite3_close(db);

    copy(v5, b);
    t = clk(CLOCK_MONOTONIC);
    c = clk(CLOCK_PROCESS_CPUTIME_ID);
    if (ledger_worker_start(&w, b, NULL, err, sizeof(err)) < 0)
        die("worker", err);
    printf("ledger_worker_start (open, migrate; then READY): wall %.3f s, CPU %.3f s\n",
           clk(CLOCK_MONOTONIC) - t, clk(CLOCK_PROCESS_CPUTIME_ID) - c);
    for (;;) {
        ledger_worker_figures(w, &f);
        if (f.move_left == 0 || clk(CLOCK_MONOTONIC) - t > 600)
            break;
        usleep(20000);
    }
    printf("background move: %s after wall %.2f s, CPU %.2f s, %llu batches\n",
           f.move_left == 0 ? "done" : "NOT done", clk(CLOCK_MONOTONIC) - t,
           clk(CLOCK_PROCESS_CPUTIME_ID) - c, (unsigned long long)f.move_batches);
    ledger_worker_stop(w);
}
#endif

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(
            stderr,
            "usage: bench_rollup_keys DIR minutes|minutes-padded [MINUTES] | DIR ready [ROWS]\n");
        return 2;
    }
    if (strcmp(argv[2], "minutes") == 0 || strcmp(argv[2], "minutes-padded") == 0)
        minutes(argv[1], argc > 3 ? atoi(argv[3]) : 30, strcmp(argv[2], "minutes-padded") == 0);
#ifndef BENCH_MINUTES_ONLY
    else
        ready(argv[1], argc > 3 ? atol(argv[3]) : 1000000);
#endif
    return 0;
}
