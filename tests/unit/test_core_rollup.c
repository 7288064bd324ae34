/*
 * test_core_rollup.c: the minute's close does not queue every point's
 * bucket at the ledger at once (gateway/core/core_rollup.c). A real core
 * (a config of 100 devices x 100 points) and a real ledger thread on a
 * SQLite file are fed readings of one minute, then of the next, which
 * closes all 10,000 buckets while the test holds the database's write lock
 * (the ledger cannot commit: a slow card): at most two drains of rows
 * (ROLLUP_DRAIN, 4,096) are handed over and the rest wait in the core,
 * where handing the buckets over as they closed queued all 10,000. Once
 * the lock is gone the closed buckets all reach rollup_1m with their values
 * while readings go on, before any flush; and the stop's flush brings the
 * open ones. Between closes the core holds one 32-byte slot a point (the
 * done slots are given back once drained), and a bucket of more samples
 * than a slot counts (65,535) goes in parts that add up in the ledger,
 * with the newest sample's time.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config.h"
#include "gateway/core/core_int.h"
#include "ledger_testutil.h"
#include "protocols/modbus/mb.h"
#include "t.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NDEV 100
#define NPTS 100
#define MIN0 1767225600000LL /* 2026-01-01T00:00Z, a minute's start */

static gw_config_t *load(void)
{
    char path[512], prof[512];
    gw_config_t *cfg = NULL;
    gw_errlist_t el;
    FILE *f;

    snprintf(prof, sizeof(prof), "%s", lt_path("p100.json"));
    f = fopen(prof, "w");
    if (!f)
        return NULL;
    fprintf(f, "{\"profile\": \"p100\", \"points\": [");
    for (int i = 0; i < NPTS; i++)
        fprintf(f, "%s{\"name\": \"p%d\", \"address\": %d}", i ? "," : "", i, i);
    fprintf(f, "]}\n");
    fclose(f);
    snprintf(path, sizeof(path), "%s", lt_path("site.json"));
    f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f,
            "{\"site\": {\"id\": \"t\"}, \"state_dir\": \"%s\", \"mqtt\": {\"enabled\": false},\n"
            " \"buses\": [{\"name\": \"b\", \"type\": \"tcp\", \"host\": \"127.0.0.1\", "
            "\"port\": 1502}],\n"
            " \"devices\": [",
            lt_tmpdir());
    for (int d = 0; d < NDEV; d++)
        fprintf(f, "%s{\"name\": \"dev-%d\", \"bus\": \"b\", \"unit_id\": %d, \"profile\": \"%s\"}",
                d ? "," : "", d, d + 1, prof);
    fprintf(f, "]}\n");
    fclose(f);
    gw_errlist_init(&el);
    if (gw_config_load(path, NULL, &cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            fprintf(stderr, "    %s\n", el.msgs[i]);
        cfg = NULL;
    }
    gw_errlist_free(&el);
    return cfg;
}

/* One good reading of device d at ts: every register holds v. */
static void feed(gw_core_t *c, int d, int64_t ts, uint16_t v)
{
    size_t nw = NPTS, nb = 1;
    mb_reading_t *r = calloc(1, sizeof(*r) + nw * sizeof(uint16_t) + nb * sizeof(uint16_t));

    if (!r)
        return;
    r->hdr.kind = MB_EV_READING;
    r->device_id = d;
    r->ts_ms = ts;
    r->mono_ms = 1000 + (ts - MIN0);
    r->nwords = nw;
    r->nblocks = nb;
    r->block_status = r->words + nw;
    for (size_t i = 0; i < nw; i++)
        r->words[i] = v;
    gw_core_on_message(c, &r->hdr);
    free(r);
}

/* count(*), sum(count) and sum(sum) of rollup_1m rows of minute ts. */
static void rows_of(const char *db, int64_t ts, long long out[3])
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;

    out[0] = out[1] = out[2] = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT count(*), sum(count), sum(sum) FROM rollup_1m WHERE ts = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, ts);
        if (sqlite3_step(st) == SQLITE_ROW)
            for (int i = 0; i < 3; i++)
                out[i] = sqlite3_column_int64(st, i);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
}

/* count(*), sum(count), sum(sum), max(last_ts) of device d's point p0 in
 * rollup_1m of minute ts. */
static void point_of(const char *db, int d, int64_t ts, long long out[4])
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    char dev[32];

    snprintf(dev, sizeof(dev), "dev-%d", d);
    out[0] = out[1] = out[2] = out[3] = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h,
                           "SELECT count(*), sum(count), sum(sum), max(last_ts) FROM rollup_1m "
                           "WHERE device = ? AND point = 'p0' AND ts = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, ts);
        if (sqlite3_step(st) == SQLITE_ROW)
            for (int i = 0; i < 4; i++)
                out[i] = sqlite3_column_int64(st, i);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
}

/* A connection holding db's write lock (until ROLLBACK). */
static sqlite3 *locked(const char *db)
{
    sqlite3 *h = NULL;

    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(h, 30000) != SQLITE_OK ||
        sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return NULL;
    }
    return h;
}

static void nap(void)
{
    nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
}

T_TEST(minute_close_is_handed_over_in_chunks)
{
    gw_config_t *cfg = load();
    gw_core_t *c = NULL;
    ledger_worker_t *w = NULL;
    gw_queue_t results;
    uv_loop_t loop;
    char err[256] = "", db[512];
    sqlite3 *lock;
    size_t depth_max = 0;
    long long got[3];
    int tries = 0;

    T_CHECK(cfg != NULL);
    if (!cfg)
        return;
    uv_loop_init(&loop);
    gw_queue_init(&results, NULL, NULL);
    snprintf(db, sizeof(db), "%s", lt_path("ledger.db"));
    T_CHECK_EQ_INT(ledger_worker_start(&w, db, &results, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(gw_core_create(&c, &loop, cfg, err, sizeof(err)), 0);
    if (!w || !c) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    gw_core_set_ledger(c, w);
    /* minute 0: 3 readings of every device (values 1, 2, 3) */
    for (int k = 1; k <= 3; k++)
        for (int d = 0; d < NDEV; d++)
            feed(c, d, MIN0 + k * 1000, (uint16_t)k);
    /* minute 1, the ledger unable to commit: every reading closes its
     * device's 100 buckets */
    lock = locked(db);
    T_CHECK(lock != NULL);
    for (int d = 0; d < NDEV; d++) {
        size_t depth;
        feed(c, d, MIN0 + 60000 + 1000, 7);
        depth = ledger_worker_depth(w);
        depth_max = depth > depth_max ? depth : depth_max;
        nap();
    }
    T_CHECK(depth_max <= 2 * 4096 + NDEV + 8);
    T_CHECK(NDEV * NPTS - core__rollup_waiting(c) <= 2 * 4096);
    T_CHECK_EQ_INT(core__rollup_slot_bytes(c), 2 * 32 * NDEV * NPTS); /* open and waiting */
    sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(lock);
    /* readings go on in minute 1: the waiting buckets reach the ledger */
    do {
        for (int d = 0; d < NDEV; d++) {
            size_t depth;
            feed(c, d, MIN0 + 60000 + 2000 + tries * 10, 7);
            depth = ledger_worker_depth(w);
            depth_max = depth > depth_max ? depth : depth_max;
        }
        nap();
        rows_of(db, MIN0, got);
    } while (got[0] < NDEV * NPTS && ++tries < 1500);
    T_CHECK_EQ_INT(core__rollup_waiting(c), 0);
    T_CHECK_EQ_INT(core__rollup_slot_bytes(c), 32 * NDEV * NPTS); /* done slots given back */
    T_CHECK(depth_max <= 2 * 4096 + NDEV + 8);
    T_CHECK_EQ_INT(got[0], NDEV * NPTS);
    T_CHECK_EQ_INT(got[1], 3LL * NDEV * NPTS);           /* 3 samples a bucket */
    T_CHECK_EQ_INT(got[2], (1 + 2 + 3LL) * NDEV * NPTS); /* their sum */
    /* the stop's flush: minute 1's open buckets */
    gw_core_shutdown(c);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    rows_of(db, MIN0 + 60000, got);
    T_CHECK_EQ_INT(got[0], NDEV * NPTS);
    T_CHECK_EQ_INT(got[1], (1LL + tries + 1) * NDEV * NPTS);
    gw_core_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    gw_queue_destroy(&results); /* the ledger's events, unread */
}

/* 70,000 readings of one device within one minute (more than a slot
 * counts), then one of the next minute: the ledger's row of the first
 * minute has every sample, their sum and the newest sample's time. */
T_TEST(a_bucket_past_the_slot_count_goes_in_parts)
{
    gw_config_t *cfg = load();
    gw_core_t *c = NULL;
    ledger_worker_t *w = NULL;
    gw_queue_t results;
    uv_loop_t loop;
    char err[256] = "", db[512];
    long long got[4];
    const long long n = 70000;

    T_CHECK(cfg != NULL);
    if (!cfg)
        return;
    uv_loop_init(&loop);
    gw_queue_init(&results, NULL, NULL);
    snprintf(db, sizeof(db), "%s", lt_path("parts.db"));
    T_CHECK_EQ_INT(ledger_worker_start(&w, db, &results, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(gw_core_create(&c, &loop, cfg, err, sizeof(err)), 0);
    if (!w || !c) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    gw_core_set_ledger(c, w);
    for (long long k = 0; k < n; k++) /* times 0.000 .. 59.999 s into the minute */
        feed(c, 5, MIN0 + k * 59999 / (n - 1), (uint16_t)(k % 3));
    feed(c, 5, MIN0 + 60000, 1);
    gw_core_shutdown(c);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    point_of(db, 5, MIN0, got);
    T_CHECK_EQ_INT(got[0], 1); /* one row: the parts merged */
    T_CHECK_EQ_INT(got[1], n);
    T_CHECK_EQ_INT(got[2], (n / 3) * 3 + (n % 3 == 2 ? 1 : 0)); /* 0+1+2 every three */
    T_CHECK_EQ_INT(got[3], MIN0 + 59999);
    point_of(db, 5, MIN0 + 60000, got);
    T_CHECK_EQ_INT(got[1], 1);
    T_CHECK_EQ_INT(got[3], MIN0 + 60000);
    gw_core_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    gw_queue_destroy(&results);
}

int main(void)
{
    T_RUN(minute_close_is_handed_over_in_chunks);
    T_RUN(a_bucket_past_the_slot_count_goes_in_parts);
    lt_cleanup();
    return t_done();
}
