/*
 * test_mq_spool.c: the telemetry spool (store/spool.h) on real SQLite files:
 * order, the bound and its persistent dropped counter, delete up to an id,
 * ids that never go back, and contents that survive a reopen; spooling and
 * replaying megabytes holds SQLite's memory to its small page cache; a
 * read's long rows come back whole in one block.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/spool.h"
#include "tests/unit/t.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/test_mq_spool.XXXXXX";
static char path[128];

static void append_range(spool_t *s, int from, int to, int64_t max, int64_t *dropped)
{
    spool_msg_t m[64];
    char topics[64][32], payloads[64][32];
    char err[256];
    int n = 0;

    for (int i = from; i < to; i++, n++) {
        snprintf(topics[n], sizeof(topics[n]), "t/%d", i);
        snprintf(payloads[n], sizeof(payloads[n]), "{\"i\":%d}", i);
        m[n].ts_ms = 1000 + i;
        m[n].topic = topics[n];
        m[n].payload = payloads[n];
    }
    T_CHECK_EQ_INT(spool_append(s, m, (size_t)n, max, dropped, err, sizeof(err)), 0);
}

T_TEST(order_and_delete)
{
    spool_t *s;
    spool_msg_t *rows;
    size_t n;
    char err[256];

    T_CHECK_EQ_INT(spool_open(&s, path, err, sizeof(err)), 0);
    append_range(s, 0, 10, -1, NULL);
    T_CHECK_EQ_INT(spool_count(s), 10);
    T_CHECK_EQ_INT(spool_read(s, 0, 4, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 4);
    T_CHECK_STR(rows[0].topic, "t/0");
    T_CHECK_STR(rows[3].payload, "{\"i\":3}");
    T_CHECK_EQ_INT(rows[3].ts_ms, 1003);
    int64_t last = rows[3].id;
    spool_rows_free(rows, n);
    T_CHECK_EQ_INT(spool_delete_upto(s, last, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(spool_count(s), 6);
    T_CHECK_EQ_INT(spool_read(s, 0, 100, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 6);
    T_CHECK_STR(rows[0].topic, "t/4");
    T_CHECK(rows[0].id > last);
    spool_rows_free(rows, n);
    T_CHECK_EQ_INT(spool_delete_upto(s, INT64_MAX, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(spool_count(s), 0);
    /* ids never go back, even on an empty table */
    append_range(s, 100, 101, -1, NULL);
    T_CHECK_EQ_INT(spool_read(s, 0, 10, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1);
    T_CHECK(rows[0].id > last + 6);
    spool_rows_free(rows, n);
    T_CHECK_EQ_INT(spool_delete_upto(s, INT64_MAX, err, sizeof(err)), 0);
    spool_close(s);
}

T_TEST(bound_drops_oldest_and_counts_across_reopen)
{
    spool_t *s;
    spool_msg_t *rows;
    size_t n;
    int64_t dropped = -1;
    char err[256];

    T_CHECK_EQ_INT(spool_open(&s, path, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(spool_dropped(s), 0);
    append_range(s, 0, 8, 5, &dropped);
    T_CHECK_EQ_INT(dropped, 3);
    append_range(s, 8, 10, 5, &dropped);
    T_CHECK_EQ_INT(dropped, 2);
    T_CHECK_EQ_INT(spool_count(s), 5);
    T_CHECK_EQ_INT(spool_dropped(s), 5);
    spool_close(s);

    T_CHECK_EQ_INT(spool_open(&s, path, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(spool_count(s), 5);
    T_CHECK_EQ_INT(spool_dropped(s), 5);
    T_CHECK_EQ_INT(spool_read(s, 0, 10, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 5);
    T_CHECK_STR(rows[0].topic, "t/5"); /* the newest five survive */
    T_CHECK_STR(rows[4].topic, "t/9");
    spool_rows_free(rows, n);
    spool_close(s);
}

/* 4 MB of telemetry (an outage's worth at a large site) in and out: the
 * spool's connection keeps its page cache small (128 KiB): SQLite's
 * memory stays under 1 MB, where its default cache (2,000 KiB) held
 * more than 2 MB after the replay. */
T_TEST(memory_stays_small_through_an_outage)
{
    static char payload[2501];
    spool_msg_t m[50];
    spool_msg_t *rows;
    spool_t *s;
    size_t n;
    char err[256];
    int64_t after = 0, before;

    memset(payload, 'x', sizeof(payload) - 1);
    T_CHECK_EQ_INT(spool_open(&s, path, err, sizeof(err)), 0);
    before = spool_count(s);
    for (int i = 0; i < 50; i++)
        m[i] = (spool_msg_t){
            .ts_ms = 1000 + i, .topic = "plantroom/t/telemetry/dev", .payload = payload};
    for (int k = 0; k < 32; k++)
        T_CHECK_EQ_INT(spool_append(s, m, 50, -1, NULL, err, sizeof(err)), 0);
    do {
        T_CHECK_EQ_INT(spool_read(s, after, 200, &rows, &n, err, sizeof(err)), 0);
        if (n)
            after = rows[n - 1].id;
        spool_rows_free(rows, n);
    } while (n);
    T_CHECK_EQ_INT(spool_count(s), 1600 + before);
    T_CHECK(sqlite3_memory_used() < 1024 * 1024);
    T_CHECK_EQ_INT(spool_delete_upto(s, INT64_MAX, err, sizeof(err)), 0);
    spool_close(s);
}

/* A read of long rows: the rows and their strings come back in one block
 * that grew several times while the rows were read (the strings found by
 * offset until it stops moving); every row intact, in order. */
T_TEST(long_rows_read_in_one_block)
{
    enum { N = 60 };
    static char payloads[N][3300];
    char topics[N][48];
    spool_msg_t m[N], *rows;
    spool_t *s;
    size_t n;
    char err[256];

    T_CHECK_EQ_INT(spool_open(&s, path, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(spool_delete_upto(s, INT64_MAX, err, sizeof(err)), 0);
    for (int i = 0; i < N; i++) {
        size_t len = 1000 + 37 * (size_t)i;
        int k = snprintf(payloads[i], sizeof(payloads[i]), "{\"i\":%d,\"x\":\"", i);
        memset(payloads[i] + k, 'a' + i % 26, len - (size_t)k - 2);
        memcpy(payloads[i] + len - 2, "\"}", 3);
        snprintf(topics[i], sizeof(topics[i]), "plantroom/site/devices/dev-%d/telemetry", i);
        m[i] = (spool_msg_t){.ts_ms = 5000 + i, .topic = topics[i], .payload = payloads[i]};
    }
    T_CHECK_EQ_INT(spool_append(s, m, N, -1, NULL, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(spool_read(s, 0, N, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, N);
    for (size_t i = 0; i < n; i++) {
        T_CHECK_STR(rows[i].topic, topics[i]);
        T_CHECK_STR(rows[i].payload, payloads[i]);
        T_CHECK_EQ_INT(rows[i].ts_ms, 5000 + (int64_t)i);
        /* the strings follow the rows, in the same block, in order */
        T_CHECK((char *)rows[i].topic >= (char *)(rows + n));
        T_CHECK(rows[i].payload > rows[i].topic);
        if (i)
            T_CHECK(rows[i].topic > rows[i - 1].payload);
    }
    spool_rows_free(rows, n);
    T_CHECK_EQ_INT(spool_delete_upto(s, INT64_MAX, err, sizeof(err)), 0);
    spool_close(s);
}

T_TEST(open_fails_with_reason)
{
    spool_t *s = (spool_t *)1;
    char err[256] = "";
    T_CHECK(spool_open(&s, "/nonexistent-dir/x/spool.db", err, sizeof(err)) < 0);
    T_CHECK(s == NULL);
    T_CHECK(strstr(err, "spool") != NULL);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 2;
    snprintf(path, sizeof(path), "%s/spool.db", dir);
    T_RUN(order_and_delete);
    unlink(path);
    T_RUN(bound_drops_oldest_and_counts_across_reopen);
    T_RUN(memory_stays_small_through_an_outage);
    T_RUN(long_rows_read_in_one_block);
    T_RUN(open_fails_with_reason);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 2;
    return t_done();
}
