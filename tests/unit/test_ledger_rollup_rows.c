/*
 * test_ledger_rollup_rows.c: a minute's close merges its buckets 32 rows to
 * a statement (store/ledger_rollup.c); the tables it leaves must be the
 * ones that one statement a row leaves, to the bit: the same rows added in
 * one call to one ledger and one row a call to another, with the same key
 * several times within one statement's rows, hours that several minutes
 * merge into, times before 1970, and units empty or not. And since a
 * merge in the ledger thread's transaction takes no savepoint, a bad row
 * must fail it before it writes anything. Real files.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "ledger_testutil.h"
#include "t.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define NROWS 203 /* six statements of 32 and 11 rows one by one */

/* Every row of a table (or of a query) as text, doubles to the bit. */
static char *dump(sqlite3 *db, const char *sql)
{
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    sqlite3_stmt *st = NULL;

    if (!out || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return out;
    while (sqlite3_step(st) == SQLITE_ROW && len + 512 < cap)
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            if (sqlite3_column_type(st, c) == SQLITE_FLOAT)
                len += (size_t)snprintf(out + len, cap - len, "%a|", sqlite3_column_double(st, c));
            else if (sqlite3_column_type(st, c) == SQLITE_NULL)
                len += (size_t)snprintf(out + len, cap - len, "NULL|");
            else
                len += (size_t)snprintf(out + len, cap - len, "%s|", sqlite3_column_text(st, c));
            if (c + 1 == sqlite3_column_count(st))
                len += (size_t)snprintf(out + len, cap - len, "\n");
        }
    sqlite3_finalize(st);
    return out;
}

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

T_TEST(rows_in_statements_of_32_as_one_by_one)
{
    static const char *const tables[] = {
        "SELECT device, point, ts, unit, min, max, sum, count, last_ts FROM rollup_1m ORDER BY 1, "
        "2, 3",
        "SELECT device, point, ts, unit, min, max, sum, count, last_ts FROM rollup_1h ORDER BY 1, "
        "2, 3",
        "SELECT name, last_seen FROM devices ORDER BY 1"};
    static ledger_rollup_row_t rows[NROWS];
    ledger_t *many = NULL, *one = NULL;
    char err[256] = "";
    uint32_t seed = 7;
    sqlite3 *a, *b;

    for (int i = 0; i < NROWS; i++) {
        ledger_rollup_row_t *r = &rows[i];
        /* 3 devices x 4 points x 5 minutes: a key comes back within 32 rows;
         * minutes either side of an hour and of 1970 */
        int64_t minute = (int64_t)(rnd(&seed) % 5) - 2;
        snprintf(r->device, sizeof(r->device), "dev-%u", rnd(&seed) % 3);
        snprintf(r->point, sizeof(r->point), "p%u", rnd(&seed) % 4);
        snprintf(r->unit, sizeof(r->unit), "%s", rnd(&seed) % 3 ? "kW" : "");
        r->ts_ms = (i % 2 ? 3600000 : 0) + minute * 60000;
        r->min = (double)(rnd(&seed) % 1000) / 7.0 - 50;
        r->max = r->min + (double)(rnd(&seed) % 100) / 3.0;
        r->sum = r->min * 3.1 + r->max;
        r->count = 1 + rnd(&seed) % 60;
        r->last_ts = r->ts_ms + rnd(&seed) % 60000;
    }
    T_CHECK_EQ_INT(ledger_open(&many, lt_path("many.db"), LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_open(&one, lt_path("one.db"), LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    if (!many || !one)
        return;
    T_CHECK_EQ_INT(ledger_rollup_add(many, rows, NROWS, err, sizeof(err)), 0);
    for (int i = 0; i < NROWS; i++)
        T_CHECK_EQ_INT(ledger_rollup_add(one, &rows[i], 1, err, sizeof(err)), 0);
    ledger_close(many);
    ledger_close(one);

    a = lt_raw(lt_path("many.db"));
    b = lt_raw(lt_path("one.db"));
    /* at most 120 keys: most rows merged into a bucket already there */
    T_CHECK(lt_int(a, "SELECT count(*) FROM rollup_1m") <= 120);
    T_CHECK(lt_int(a, "SELECT count(*) FROM rollup_1h") >= 12);
    T_CHECK(lt_int(a, "SELECT count(*) FROM rollup_1m WHERE ts < 0") > 0);
    T_CHECK_EQ_INT(lt_int(a, "SELECT sum(count) FROM rollup_1h"),
                   lt_int(a, "SELECT sum(count) FROM rollup_1m"));
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        char *x = dump(a, tables[t]), *y = dump(b, tables[t]);
        T_CHECK(x && y && strlen(x) > 30);
        if (x && y)
            T_CHECK_STR(x, y);
        free(x);
        free(y);
    }
    sqlite3_close(a);
    sqlite3_close(b);
}

/* In the ledger thread's transaction a merge has no savepoint: a bad row
 * anywhere in it (a NaN would bind as NULL) must fail it before anything
 * is written, and the merges before it stay. */
T_TEST(a_bad_row_fails_the_merge_before_any_write)
{
    static ledger_rollup_row_t rows[100];
    ledger_t *lg = NULL;
    char err[256] = "";
    sqlite3 *db;

    for (int i = 0; i < 100; i++) {
        snprintf(rows[i].device, sizeof(rows[i].device), "dev-%d", i / 10);
        snprintf(rows[i].point, sizeof(rows[i].point), "p%d", i % 10);
        rows[i].ts_ms = 60000;
        rows[i].min = rows[i].max = rows[i].sum = i;
        rows[i].count = 1;
        rows[i].last_ts = 60000;
    }
    T_CHECK_EQ_INT(ledger_open(&lg, lt_path("bad.db"), LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    if (!lg)
        return;
    T_CHECK_EQ_INT(ledger_begin(lg, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_rollup_add(lg, rows, 50, err, sizeof(err)), 0);
    rows[90].sum = NAN; /* after two full statements' worth of rows */
    T_CHECK_EQ_INT(ledger_rollup_add(lg, rows + 50, 50, err, sizeof(err)), GW_EINVAL);
    T_CHECK(strstr(err, "dev-9/p0") != NULL);
    rows[90].sum = 90;
    rows[95].point[0] = '\0';
    T_CHECK_EQ_INT(ledger_rollup_add(lg, rows + 50, 50, err, sizeof(err)), GW_EINVAL);
    T_CHECK_EQ_INT(ledger_commit(lg, err, sizeof(err)), 0);
    ledger_close(lg);
    db = lt_raw(lt_path("bad.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM rollup_1m"), 50);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM rollup_1h"), 50);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM devices"), 5);
    sqlite3_close(db);
}

int main(void)
{
    T_RUN(rows_in_statements_of_32_as_one_by_one);
    T_RUN(a_bad_row_fails_the_merge_before_any_write);
    lt_cleanup();
    return t_done();
}
