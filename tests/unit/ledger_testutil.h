/*
 * ledger_testutil.h: what the ledger tests share: a scratch directory made
 * with mkdtemp and removed afterwards, paths in it, a trigger to vary, and a
 * raw SQLite connection for looking under the ledger's API. Real files, no
 * mocks.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_LEDGER_TESTUTIL_H
#define PLANTROOM_LEDGER_TESTUTIL_H

#include "store/ledger.h"

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char lt_dir[256];

static int lt__rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Make the scratch directory (once per process); exits on failure. */
static inline const char *lt_tmpdir(void)
{
    if (!lt_dir[0]) {
        snprintf(lt_dir, sizeof(lt_dir), "/tmp/plantroom-ledger-XXXXXX");
        if (!mkdtemp(lt_dir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return lt_dir;
}

/* Remove the scratch directory, unless $LT_KEEP is set (for debugging). */
static inline void lt_cleanup(void)
{
    if (getenv("LT_KEEP"))
        fprintf(stderr, "kept %s\n", lt_dir);
    else if (lt_dir[0])
        nftw(lt_dir, lt__rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* A path in the scratch directory, in a static ring of 32 buffers: copy it
 * to keep it across many calls. */
static inline const char *lt_path(const char *name)
{
    static char bufs[32][512];
    static int next;
    char *b = bufs[next++ % 32];

    snprintf(b, sizeof(bufs[0]), "%s/%s", lt_tmpdir(), name);
    return b;
}

static inline ledger_trigger_t lt_trigger(const char *site, const char *device, const char *rule,
                                          int64_t ts_ms)
{
    ledger_trigger_t t = {0};

    t.site = site;
    t.device = device;
    t.rule = rule;
    t.title = "Vibration above zone C/D";
    t.description = "ISO 10816-1 class I";
    t.category = "mechanical";
    t.work_type = "corrective";
    t.priority = GW_PRIO_HIGH;
    t.evidence_json = "{\"v_rms\":4.9,\"limit\":4.5}";
    t.ts_ms = ts_ms;
    return t;
}

/* A raw connection to look at what the API does not show. */
static inline sqlite3 *lt_raw(const char *path)
{
    sqlite3 *db = NULL;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "raw open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* The first column of the first row of sql, as an integer (-1 on error). */
static inline long long lt_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "lt_int(%s): %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

#endif
