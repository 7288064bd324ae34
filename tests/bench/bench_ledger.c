/*
 * bench_ledger.c: how fast the ledger commits, durably, on this machine.
 *
 *   bench_ledger [PLANTROOMCTL] [DIR]
 *
 * Measures, in one run and on real files (WAL, synchronous=FULL):
 *  - baseline: bare sqlite3 inserts of comparable rows (a work order, an
 *    audit row and an outbox row each) in one transaction per 500;
 *  - work-order events/s through the ledger thread (ledger_worker): each a
 *    new order with its audit row and outbox event, batched by the thread;
 *  - work-order events/s through the API in explicit batches of 500;
 *  - rollup rows/s (1-minute and 1-hour merge) in batches of 1,000;
 *  - kpi over a year of work orders (50 a day): the API call and, given its
 *    path, `plantroomctl kpi --json` as a process.
 * Prints one line per figure. Not a test: nothing is asserted.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_worker.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_EVENTS 20000
#define N_ROLLUP 100000
#define BATCH    500
#define YEAR_WO  (365 * 50)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_ledger: %s: %s\n", what, err);
    exit(1);
}

static char dir[512];

static const char *path(const char *name)
{
    static char buf[600];

    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    unlink(buf);
    snprintf(buf + strlen(buf), 8, "-wal");
    unlink(buf);
    buf[strlen(buf) - 4] = '\0';
    return buf;
}

static double baseline(void)
{
    sqlite3 *db;
    sqlite3_stmt *wo, *au, *ob;
    char id[64], payload[700];
    double t;

    if (sqlite3_open(path("baseline.db"), &db) != SQLITE_OK)
        die("open baseline", sqlite3_errmsg(db));
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE w (id TEXT PRIMARY KEY, number INTEGER, fp TEXT, title TEXT,"
                 " status TEXT, evidence TEXT, opened_at INTEGER);"
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, wo TEXT, ts INTEGER, action TEXT);"
                 "CREATE TABLE o (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT, payload TEXT);",
                 NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO w VALUES (?1, ?2, ?3, 'title', 'open', ?4, ?2)", -1, &wo,
                       NULL);
    sqlite3_prepare_v2(db, "INSERT INTO a (wo, ts, action) VALUES (?1, ?2, 'opened')", -1, &au,
                       NULL);
    sqlite3_prepare_v2(db, "INSERT INTO o (k, payload) VALUES (?1, ?2)", -1, &ob, NULL);
    memset(payload, 'x', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';
    t = now_s();
    for (int i = 0; i < N_EVENTS; i++) {
        if (i % BATCH == 0)
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        snprintf(id, sizeof(id), "site:%026d", i);
        sqlite3_bind_text(wo, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(wo, 2, i);
        sqlite3_bind_text(wo, 3, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(wo, 4, "{\"v\":4.9}", -1, SQLITE_STATIC);
        sqlite3_step(wo);
        sqlite3_reset(wo);
        sqlite3_bind_text(au, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(au, 2, i);
        sqlite3_step(au);
        sqlite3_reset(au);
        sqlite3_bind_text(ob, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ob, 2, payload, -1, SQLITE_STATIC);
        sqlite3_step(ob);
        sqlite3_reset(ob);
        if (i % BATCH == BATCH - 1)
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    t = now_s() - t;
    sqlite3_finalize(wo);
    sqlite3_finalize(au);
    sqlite3_finalize(ob);
    sqlite3_close(db);
    return N_EVENTS / t;
}

static ledger_trigger_t trigger(int i, char *dev, size_t len)
{
    ledger_trigger_t t = {0};

    snprintf(dev, len, "device-%d", i);
    t.site = "bench";
    t.device = dev;
    t.rule = "vibration-high";
    t.title = "Lift machine vibration above 4.5 mm/s";
    t.category = "mechanical";
    t.work_type = "corrective";
    t.priority = GW_PRIO_HIGH;
    t.evidence_json = "{\"point\":\"vibration_machine\",\"value\":4.9,\"unit\":\"mm/s\"}";
    t.ts_ms = 1700000000000LL + i;
    t.building = "Tower A";
    t.floor = "R";
    return t;
}

static double through_worker(void)
{
    ledger_worker_t *w;
    char err[256], dev[32];
    double t;

    if (ledger_worker_start(&w, path("worker.db"), NULL, err, sizeof(err)) < 0)
        die("start worker", err);
    t = now_s();
    for (int i = 0; i < N_EVENTS; i++) {
        ledger_trigger_t tr = trigger(i, dev, sizeof(dev));
        ledger_op_trigger_t *op = ledger_op_trigger_new(LEDGER_OP_TRIGGER, &tr);
        ledger_worker_submit(w, &op->hdr);
    }
    if (ledger_worker_stop(w) != 0) /* returns once every op is committed */
        die("worker", "not everything committed");
    t = now_s() - t;
    return N_EVENTS / t;
}

static double through_api(void)
{
    ledger_t *lg;
    char err[256], dev[32];
    double t;

    if (ledger_open(&lg, path("api.db"), LEDGER_OPEN_CREATE, err, sizeof(err)) < 0)
        die("open", err);
    t = now_s();
    for (int i = 0; i < N_EVENTS; i++) {
        ledger_trigger_t tr = trigger(i, dev, sizeof(dev));
        if (i % BATCH == 0 && ledger_begin(lg, err, sizeof(err)) < 0)
            die("begin", err);
        if (ledger_wo_trigger(lg, &tr, NULL, err, sizeof(err)) < 0)
            die("trigger", err);
        if ((i % BATCH == BATCH - 1 || i == N_EVENTS - 1) &&
            ledger_commit(lg, err, sizeof(err)) < 0)
            die("commit", err);
    }
    t = now_s() - t;
    ledger_close(lg);
    return N_EVENTS / t;
}

static double rollups(void)
{
    static ledger_rollup_row_t rows[1000];
    ledger_t *lg;
    char err[256];
    double t;

    if (ledger_open(&lg, path("rollup.db"), LEDGER_OPEN_CREATE, err, sizeof(err)) < 0)
        die("open", err);
    t = now_s();
    for (int b = 0; b < N_ROLLUP / 1000; b++) {
        for (int i = 0; i < 1000; i++) {
            ledger_rollup_row_t *r = &rows[i];
            int k = b * 1000 + i;
            snprintf(r->device, sizeof(r->device), "device-%d", k % 50);
            snprintf(r->point, sizeof(r->point), "point-%d", (k / 50) % 20);
            snprintf(r->unit, sizeof(r->unit), "kWh");
            r->ts_ms = 1700000000000LL + (int64_t)(k / 1000) * 60000;
            r->min = 1;
            r->max = 2;
            r->sum = 15;
            r->count = 10;
            r->last_ts = r->ts_ms + 59000;
        }
        if (ledger_rollup_add(lg, rows, 1000, err, sizeof(err)) < 0)
            die("rollup", err);
    }
    t = now_s() - t;
    ledger_close(lg);
    return N_ROLLUP / t;
}

/* A year of orders, 50 a day, in varied states, written directly. */
static void year_of_orders(const char *file)
{
    ledger_t *lg;
    sqlite3 *db;
    sqlite3_stmt *st;
    char err[256], id[64], fp[64];
    static const char *const cats[] = {"mechanical", "electrical", "fire", "plumbing"};
    static const char *const floors[] = {"B1", "G", "1", "2", "R"};
    int64_t start = 1700000000000LL;

    if (ledger_open(&lg, file, LEDGER_OPEN_CREATE, err, sizeof(err)) < 0)
        die("open", err);
    ledger_close(lg);
    sqlite3_open(file, &db);
    sqlite3_prepare_v2(db,
                       "INSERT INTO work_orders (id, number, site, fingerprint, device, rule,"
                       " title, category, priority, status, occurrences, opened_at, last_seen_at,"
                       " updated_at, building, floor, due_at, acknowledged_at, started_at,"
                       " resolved_at, closed_at) VALUES (?1, ?2, 'bench', ?3, ?4, 'r', 't', ?5,"
                       " 'high', 'closed', 1, ?6, ?6, ?6, 'Tower A', ?7, ?6 + 86400000,"
                       " ?6 + 600000, ?6 + 1200000, ?8, ?8)",
                       -1, &st, NULL);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (int i = 0; i < YEAR_WO; i++) {
        int64_t opened = start + (int64_t)i * (86400000LL / 50);
        snprintf(id, sizeof(id), "bench:%026d", i);
        snprintf(fp, sizeof(fp), "bench/d%d/r/%d", i % 200, i);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, i + 1);
        sqlite3_bind_text(st, 3, fp, -1, SQLITE_TRANSIENT);
        snprintf(fp, sizeof(fp), "d%d", i % 200);
        sqlite3_bind_text(st, 4, fp, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, cats[i % 4], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, opened);
        sqlite3_bind_text(st, 7, floors[i % 5], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, opened + (i % 50 == 0 ? 2 : 1) * 3600000LL * (1 + i % 30));
        if (sqlite3_step(st) != SQLITE_DONE)
            die("insert year", sqlite3_errmsg(db));
        sqlite3_reset(st);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void kpi(const char *ctl)
{
    const char *file = path("year.db");
    ledger_t *lg;
    char err[256], cmd[1400];
    char *json;
    double t;

    year_of_orders(file);
    if (ledger_open(&lg, file, LEDGER_OPEN_READONLY, err, sizeof(err)) < 0)
        die("open", err);
    t = now_s();
    if (ledger_kpi_json(lg, 1700000000000LL, 1700000000000LL + 366 * 86400000LL,
                        1700000000000LL + 400 * 86400000LL, &json, err, sizeof(err)) < 0)
        die("kpi", err);
    t = now_s() - t;
    ledger_close(lg);
    printf("kpi over a year (%d work orders), API call:   %8.3f s\n", YEAR_WO, t);
    free(json);
    if (!ctl)
        return;
    snprintf(cmd, sizeof(cmd),
             "%s --ledger %s kpi --from 2023-11-14 --to 2024-11-14 --json >/dev/null", ctl, file);
    t = now_s();
    if (system(cmd) != 0)
        die("plantroomctl kpi", cmd);
    t = now_s() - t;
    printf("kpi over a year, `plantroomctl kpi --json`:     %8.3f s\n", t);
}

int main(int argc, char **argv)
{
    double base, worker, api, roll;

    snprintf(dir, sizeof(dir), "%s", argc > 2 ? argv[2] : "/tmp/plantroom-bench-XXXXXX");
    if (argc <= 2 && !mkdtemp(dir))
        die("mkdtemp", dir);
    mkdir(dir, 0700);
    printf("ledger benchmark in %s (WAL, synchronous=FULL), %d events, batches of %d\n", dir,
           N_EVENTS, BATCH);
    base = baseline();
    printf("baseline: bare sqlite3, 3 rows per event:       %8.0f events/s\n", base);
    worker = through_worker();
    printf("work orders through the ledger thread:          %8.0f events/s (%.0f%% of baseline)\n",
           worker, 100.0 * worker / base);
    api = through_api();
    printf("work orders through the API, batches of %d:    %8.0f events/s (%.0f%% of baseline)\n",
           BATCH, api, 100.0 * api / base);
    roll = rollups();
    printf("rollup rows (1 min + 1 h merge), batches of 1000: %6.0f rows/s\n", roll);
    kpi(argc > 1 ? argv[1] : NULL);
    if (argc <= 2) { /* our own scratch directory: leave nothing behind */
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_ledger: could not remove %s\n", dir);
    }
    return 0;
}
