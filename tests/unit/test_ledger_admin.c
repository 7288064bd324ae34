/*
 * test_ledger_admin.c: ledger counts and the online backup
 * (store/ledger_admin.h) on real SQLite files, the backup taken while
 * another connection keeps writing, as plantroomd does.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_admin.h"

#include "ledger_testutil.h"
#include "t.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define T0     1714572000000LL
#define WRITES 300

static ledger_t *open_rw(const char *path)
{
    ledger_t *lg = NULL;
    char err[256] = "";

    if (ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)) < 0)
        fprintf(stderr, "ledger_open: %s\n", err);
    return lg;
}

static int trig(ledger_t *lg, const char *device, int64_t ts)
{
    ledger_trigger_t t = lt_trigger("hq", device, "vib", ts);
    ledger_trigger_result_t r;
    char err[256] = "";
    int rc = ledger_wo_trigger(lg, &t, &r, err, sizeof(err));

    if (rc < 0)
        fprintf(stderr, "trigger: %s\n", err);
    return rc;
}

T_TEST(test_stats_counts_by_status_and_outbox)
{
    const char *path = lt_path("stats.db");
    ledger_t *lg = open_rw(path);
    ledger_stats_t st;
    char err[256];
    sqlite3 *raw;

    T_CHECK(lg != NULL);
    if (!lg)
        return;
    T_CHECK_EQ_INT(ledger_stats(lg, &st, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(st.by_status[0], 0);
    T_CHECK_EQ_INT(st.outbox_rows, 0);
    T_CHECK_EQ_INT(trig(lg, "lift-1", T0), 0);
    T_CHECK_EQ_INT(trig(lg, "lift-2", T0), 0);
    T_CHECK_EQ_INT(trig(lg, "pump-1", T0), 0);
    raw = lt_raw(path);
    T_CHECK(raw &&
            sqlite3_exec(raw,
                         /* through the allowed transitions (the schema
                          * refuses a jump from open to closed) */
                         "UPDATE work_orders SET status='acknowledged' WHERE device='pump-1';"
                         "UPDATE work_orders SET status='in_progress' WHERE device='pump-1';"
                         "UPDATE work_orders SET status='resolved' WHERE device='pump-1';"
                         "UPDATE work_orders SET status='closed' WHERE device='pump-1';"
                         "DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox);",
                         NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(raw);
    T_CHECK_EQ_INT(ledger_stats(lg, &st, err, sizeof(err)), 0);
    T_CHECK_STR(ledger_status_names[0], "open");
    T_CHECK_STR(ledger_status_names[4], "closed");
    T_CHECK_EQ_INT(st.by_status[0], 2);
    T_CHECK_EQ_INT(st.by_status[4], 1);
    T_CHECK_EQ_INT(st.by_status[1] + st.by_status[2] + st.by_status[3] + st.by_status[5], 0);
    T_CHECK_EQ_INT(st.outbox_rows, 2);
    ledger_close(lg);
}

/* The writer: one work order per transaction, as fast as it can. */
static atomic_int writes_done;

static void *writer(void *arg)
{
    ledger_t *lg = open_rw(arg);
    char device[32];

    for (int i = 0; lg && i < WRITES; i++) {
        snprintf(device, sizeof(device), "dev-%d", i);
        if (trig(lg, device, T0 + i) != 0)
            break;
        atomic_fetch_add(&writes_done, 1);
    }
    ledger_close(lg);
    return NULL;
}

T_TEST(test_backup_while_another_connection_writes)
{
    char src[512], dst[512], tmp[600];
    ledger_t *lg = NULL, *ro = NULL, *copy = NULL;
    pthread_t th;
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    char err[256];
    int pages = 0, backups = 0;
    struct stat sb;
    sqlite3 *raw;

    snprintf(src, sizeof(src), "%s", lt_path("live.db"));
    lg = open_rw(src); /* create the schema before the writer starts */
    T_CHECK(lg != NULL);
    ledger_close(lg);
    T_CHECK_EQ_INT(ledger_open(&ro, src, LEDGER_OPEN_READONLY, err, sizeof(err)), 0);
    if (!ro)
        return;
    pthread_create(&th, NULL, writer, src);
    /* Back up repeatedly while the writer runs: each copy is consistent. */
    do {
        snprintf(dst, sizeof(dst), "%s", lt_path(backups % 2 ? "copy-b.db" : "copy-a.db"));
        unlink(dst);
        T_CHECK_EQ_INT(ledger_backup(ro, dst, &pages, err, sizeof(err)), 0);
        T_CHECK(pages > 0);
        raw = lt_raw(dst);
        /* every order came with its audit row and its event, or not at all */
        T_CHECK_EQ_INT(lt_int(raw, "SELECT COUNT(*) FROM work_orders"),
                       lt_int(raw, "SELECT COUNT(*) FROM audit"));
        T_CHECK_EQ_INT(lt_int(raw, "SELECT COUNT(*) FROM work_orders"),
                       lt_int(raw, "SELECT COUNT(*) FROM outbox"));
        sqlite3_close(raw);
        backups++;
    } while (atomic_load(&writes_done) < WRITES && backups < 1000);
    pthread_join(th, NULL);
    T_CHECK_EQ_INT(atomic_load(&writes_done), WRITES);

    /* A last copy after the writer is done has everything, in one file. */
    snprintf(dst, sizeof(dst), "%s", lt_path("final.db"));
    T_CHECK_EQ_INT(ledger_backup(ro, dst, NULL, err, sizeof(err)), 0);
    T_CHECK(stat(dst, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    snprintf(tmp, sizeof(tmp), "%s-wal", dst);
    T_CHECK(access(tmp, F_OK) != 0);
    snprintf(tmp, sizeof(tmp), "%s.new", dst);
    T_CHECK(access(tmp, F_OK) != 0);
    raw = lt_raw(dst);
    T_CHECK_EQ_INT(lt_int(raw, "SELECT COUNT(*) FROM work_orders"), WRITES);
    sqlite3_close(raw);
    /* It opens as a ledger and lists. */
    T_CHECK_EQ_INT(ledger_open(&copy, dst, LEDGER_OPEN_READONLY, err, sizeof(err)), 0);
    if (copy) {
        T_CHECK_EQ_INT(ledger_wo_list(copy, NULL, &wo, &n, err, sizeof(err)), 0);
        T_CHECK_EQ_INT(n, WRITES);
        ledger_wo_free_array(wo, n);
        ledger_close(copy);
    }
    /* Never overwrites; a missing directory fails and leaves nothing. */
    T_CHECK_EQ_INT(ledger_backup(ro, dst, NULL, err, sizeof(err)), GW_EEXIST);
    T_CHECK(strstr(err, "already exists") != NULL);
    snprintf(tmp, sizeof(tmp), "%s/no/such/dir/x.db", lt_tmpdir());
    T_CHECK(ledger_backup(ro, tmp, NULL, err, sizeof(err)) < 0);
    T_CHECK(access(tmp, F_OK) != 0);
    fprintf(stderr, "%d consistent backups taken during %d writes\n", backups, WRITES);
    ledger_close(ro);
}

int main(void)
{
    T_RUN(test_stats_counts_by_status_and_outbox);
    T_RUN(test_backup_while_another_connection_writes);
    lt_cleanup();
    return t_done();
}
