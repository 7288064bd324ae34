/*
 * test_notify_store.c: notify.db (store/notify_store.h) and its store thread
 * (store/notify_worker.h) on real SQLite files: row images survive a
 * reopen and the start's load keeps what the notifier needs; a file of the
 * first schema is migrated; retention purges by age and by count but never
 * a pending message or the batch; the files are 0600. The thread commits
 * units in order and says up to which; a full, read-only or failing disk
 * (tests/hooks/fault_vfs.h) or a lock held by another connection is named,
 * retried in order without loss, and a reset unit drops what it replaces;
 * a corrupt file is moved aside and a fresh one started; a thread started
 * without a file opens one once it can; stopping on a dead disk gives up.
 * And the re-anchoring of stored times on the monotonic clock
 * (gateway/notify/notify_load.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "../hooks/fault_vfs.h"
#include "gateway/notify/notify_int.h"
#include "ledger_testutil.h"
#include "store/notify_store.h"
#include "store/notify_worker.h"
#include "t.h"

#include <sys/stat.h>

/* ---- helpers ------------------------------------------------------------------ */

static notify_alert_t alert(const char *id, const char *status, int cleared, int64_t updated)
{
    notify_alert_t a = {.number = 12, .cleared = cleared, .opened_ms = 1000, .updated_ms = updated};
    snprintf(a.wo_id, sizeof(a.wo_id), "%s", id);
    snprintf(a.status, sizeof(a.status), "%s", status);
    snprintf(a.title, sizeof(a.title), "电梯困人");
    return a;
}

static notify_msg_t msg(int64_t id, const char *state, int64_t created)
{
    notify_msg_t m = {.id = id, .next_ms = created, .created_ms = created};
    snprintf(m.group, sizeof(m.group), "oncall");
    snprintf(m.recipient, sizeof(m.recipient), "alice");
    snprintf(m.state, sizeof(m.state), "%s", state);
    m.message = "[S] NEW #12";
    m.alert_json = "{\"v\":1}";
    return m;
}

static int64_t count(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

static int mode_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

/* Results of a worker seen so far. */
typedef struct seen_ev {
    int64_t committed;
    notify_fault_t fault;
    int failed, reopened, counts;
    char msg[4200];
} seen_ev_t;

/* Take results for up to ms, until pred holds. */
static int wait_ev(gw_queue_t *q, seen_ev_t *s, int ms, int (*pred)(const seen_ev_t *, int64_t),
                   int64_t arg)
{
    for (int waited = 0; waited <= ms && !pred(s, arg); waited += 20) {
        gw_msg_t *l = gw_queue_wait_all(q, 20);
        while (l) {
            gw_msg_t *next = l->next;
            const notify_ev_t *ev = (const notify_ev_t *)l;
            if (l->kind == NOTIFY_EV_COMMITTED && ev->seq > s->committed)
                s->committed = ev->seq;
            if (l->kind == NOTIFY_EV_FAILED) {
                s->failed++;
                s->fault = ev->fault;
            }
            if (l->kind == NOTIFY_EV_REOPENED) {
                s->reopened++;
                snprintf(s->msg, sizeof(s->msg), "%s", ev->msg);
            }
            s->counts += l->kind == NOTIFY_EV_COUNTS;
            gw_msg_free(l);
            l = next;
        }
    }
    return pred(s, arg);
}

static int committed_at_least(const seen_ev_t *s, int64_t seq)
{
    return s->committed >= seq;
}

static int failed_with(const seen_ev_t *s, int64_t fault)
{
    return s->failed > 0 && s->fault == (notify_fault_t)fault;
}

static int failed_more_than(const seen_ev_t *s, int64_t n)
{
    return s->failed > n;
}

static int counted(const seen_ev_t *s, int64_t n)
{
    return s->counts >= n;
}

static int reopened(const seen_ev_t *s, int64_t n)
{
    return s->reopened >= n;
}

/* A unit holding one seen id. */
static notify_tx_t *unit_seen(int64_t seq, int reset, const char *id)
{
    notify_tx_t *tx = notify_tx_new(seq, reset);
    notify_seen_row_t r = {.at_ms = 1000};

    snprintf(r.event_id, sizeof(r.event_id), "%s", id);
    notify_tx_add(tx, notify_op_seen_new(&r));
    return tx;
}

static notify_store_t *open_store(const char *path)
{
    notify_store_t *s = NULL;
    char err[256];

    if (notify_store_open(&s, path, NULL, err, sizeof(err)) != 0)
        fprintf(stderr, "  open %s: %s\n", path, err);
    return s;
}

/* ---- the file ------------------------------------------------------------------ */

T_TEST(rows_survive_a_reopen_and_load_keeps_what_is_needed)
{
    const char *path = lt_path("rows.db");
    notify_store_t *s = open_store(path);
    notify_seen_row_t seen = {"s:WO1#1", 1000};
    notify_alert_t a1 = alert("wo1", "open", 0, 1000), a2 = alert("wo2", "closed", 0, 1000),
                   a3 = alert("wo3", "resolved", 1, 1000);
    notify_batch_row_t b = {.id = 7, .group = "oncall", .wo_id = "wo3", .kind = "resolved"};
    notify_ag_row_t g1 = {"wo1", "oncall", 3000, 5000, 0}, g2 = {"wo2", "oncall", 1, 2, 1};
    notify_msg_t m1 = msg(4, "pending", 5000), m2 = msg(5, "sent", 5000);
    notify_image_t img;
    char err[256], p[600];

    T_CHECK(s != NULL);
    T_CHECK_EQ_INT(notify_store_begin(s), 0);
    T_CHECK_EQ_INT(notify_store_put_seen(s, &seen), 0);
    T_CHECK_EQ_INT(notify_store_put_seen(s, &seen), 0); /* kept once */
    T_CHECK_EQ_INT(notify_store_put_alert(s, &a1), 0);
    T_CHECK_EQ_INT(notify_store_put_alert(s, &a2), 0);
    T_CHECK_EQ_INT(notify_store_put_alert(s, &a3), 0);
    T_CHECK_EQ_INT(notify_store_put_batch(s, &b), 0);
    T_CHECK_EQ_INT(notify_store_put_ag(s, &g1), 0);
    T_CHECK_EQ_INT(notify_store_put_ag(s, &g2), 0);
    T_CHECK_EQ_INT(notify_store_put_msg(s, &m1), 0);
    T_CHECK_EQ_INT(notify_store_put_msg(s, &m2), 0);
    T_CHECK_EQ_INT(notify_store_commit(s), 0);
    T_CHECK_EQ_INT(mode_of(path), 0600);
    snprintf(p, sizeof(p), "%s-wal", path);
    T_CHECK_EQ_INT(mode_of(p), 0600);
    snprintf(p, sizeof(p), "%s-shm", path);
    T_CHECK_EQ_INT(mode_of(p), 0600);
    notify_store_close(s);

    s = open_store(path);
    T_CHECK_EQ_INT(notify_store_load(s, &img, err, sizeof(err)), 0);
    T_CHECK(img.nseen == 1 && strcmp(img.seen[0].event_id, "s:WO1#1") == 0);
    /* wo1 open; wo3 finished but a resolve notice waits for it; wo2 closed */
    T_CHECK_EQ_INT(img.nalerts, 2);
    T_CHECK(img.nalerts == 2 && strcmp(img.alerts[0].title, "电梯困人") == 0);
    T_CHECK(img.nag == 1 && img.ag[0].first_sent_ms == 3000 && img.ag[0].last_sent_ms == 5000);
    T_CHECK(img.nbatch == 1 && img.batch[0].id == 7 && img.max_batch_id == 7);
    T_CHECK(img.nmsgs == 1 && img.msgs[0].id == 4 &&
            strcmp(img.msgs[0].message, "[S] NEW #12") == 0);
    T_CHECK_EQ_INT(img.max_msg_id, 5);
    notify_image_free(&img);
    notify_store_close(s);
}

T_TEST(a_file_of_the_first_schema_is_migrated)
{
    const char *path = lt_path("v0.db");
    sqlite3 *db;
    notify_store_t *s;
    notify_image_t img;
    char err[256];

    sqlite3_open(path, &db);
    sqlite3_exec(db,
                 "CREATE TABLE seen (event_id TEXT PRIMARY KEY, at INTEGER NOT NULL);"
                 "CREATE TABLE alerts (wo_id TEXT PRIMARY KEY, number INTEGER, priority TEXT,"
                 " category TEXT, device TEXT, rule TEXT, title TEXT, status TEXT, cleared "
                 "INTEGER, opened_ms INTEGER);"
                 "INSERT INTO alerts (wo_id, number, status, cleared, opened_ms)"
                 " VALUES ('old', 3, 'open', 0, 5);",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    s = open_store(path);
    T_CHECK(s != NULL);
    T_CHECK_EQ_INT(notify_store_load(s, &img, err, sizeof(err)), 0);
    T_CHECK(img.nalerts == 1 && img.alerts[0].number == 3 && img.alerts[0].updated_ms == 0);
    notify_image_free(&img);
    notify_store_close(s);
    T_CHECK_EQ_INT(count(path, "PRAGMA user_version"), 1);
}

T_TEST(purge_by_age_and_count_never_a_pending_message)
{
    const char *path = lt_path("purge.db");
    notify_store_t *s = open_store(path);
    int64_t deleted = 0;
    notify_counts_t c;

    T_CHECK_EQ_INT(notify_store_begin(s), 0);
    for (int i = 0; i < 50; i++) {
        char id[32];
        notify_seen_row_t r = {.at_ms = 1000 + i * 100};
        notify_alert_t a;
        notify_msg_t m = msg(i + 1, i % 10 == 0 ? "pending" : "sent", 1000 + i * 100);
        snprintf(r.event_id, sizeof(r.event_id), "e%d", i);
        notify_store_put_seen(s, &r);
        snprintf(id, sizeof(id), "wo%d", i);
        a = alert(id, i % 2 ? "closed" : "open", 0, 1000 + i * 100);
        notify_store_put_alert(s, &a);
        notify_ag_row_t g = {.first_sent_ms = 1, .last_sent_ms = 1};
        snprintf(g.wo_id, sizeof(g.wo_id), "%s", id);
        snprintf(g.group, sizeof(g.group), "oncall");
        notify_store_put_ag(s, &g);
        notify_store_put_msg(s, &m);
    }
    /* a resolve notice still waits for an old finished alert: kept */
    notify_batch_row_t b = {.id = 1, .group = "oncall", .wo_id = "wo1", .kind = "resolved"};
    notify_store_put_batch(s, &b);
    T_CHECK_EQ_INT(notify_store_commit(s), 0);
    /* older than 3000 go; then at most 10 of each kind */
    T_CHECK_EQ_INT(notify_store_begin(s), 0);
    T_CHECK_EQ_INT(notify_store_purge(s, 3000, 10, &deleted), 0);
    T_CHECK_EQ_INT(notify_store_commit(s), 0);
    T_CHECK(deleted > 0);
    T_CHECK_EQ_INT(notify_store_counts(s, &c), 0);
    T_CHECK_EQ_INT(c.seen, 10);
    T_CHECK_EQ_INT(count(path, "SELECT min(at) FROM seen"), 1000 + 40 * 100);
    /* 25 open alerts stay; of the closed ones only the 10 newest, and wo1 */
    T_CHECK_EQ_INT(c.alerts, 25 + 10 + 1);
    T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM alerts WHERE wo_id = 'wo1'"), 1);
    T_CHECK_EQ_INT(c.alert_groups, c.alerts);
    T_CHECK_EQ_INT(c.pending, 5); /* every pending message stays */
    T_CHECK_EQ_INT(c.notifications, 5 + 10);
    T_CHECK_EQ_INT(c.batch, 1);
    T_CHECK(c.file_bytes > 0);
    notify_store_close(s);
}

/* ---- the thread ---------------------------------------------------------------- */

T_TEST(units_are_committed_in_order)
{
    const char *path = lt_path("worker.db");
    gw_queue_t q;
    notify_worker_t *w;
    seen_ev_t s = {0};
    char err[256];

    gw_queue_init(&q, NULL, NULL);
    T_CHECK_EQ_INT(notify_worker_start(&w, path, open_store(path), &q, err, sizeof(err)), 0);
    notify_worker_submit(w, unit_seen(1, 0, "a"));
    notify_worker_submit(w, unit_seen(2, 0, "b"));
    notify_tx_t *tx = notify_tx_new(3, 0);
    notify_alert_t a = alert("wo1", "open", 0, 1);
    notify_msg_t m = msg(9, "pending", 1);
    notify_tx_add(tx, notify_op_alert_new(&a));
    notify_tx_add(tx, notify_op_msg_new(&m));
    notify_tx_add(tx, notify_op_house_new(0, 1000, 1));
    notify_worker_submit(w, tx);
    T_CHECK(wait_ev(&q, &s, 30000, committed_at_least, 3));
    /* the thread posts COMMITTED, then takes the units off its backlog */
    for (int i = 0; i < 1500 && notify_worker_depth(w) != 0; i++)
        usleep(20000);
    T_CHECK_EQ_INT(notify_worker_depth(w), 0);
    T_CHECK_EQ_INT(notify_worker_stop(w), 0);
    T_CHECK(wait_ev(&q, &s, 30000, counted, 1)); /* after the housekeeping op */
    T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM seen"), 2);
    T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM notifications WHERE id = 9"), 1);
    gw_queue_destroy(&q);
}

T_TEST(a_failing_disk_is_named_and_retried_in_order)
{
    static const struct {
        fault_vfs_mode_t mode;
        notify_fault_t fault;
    } cases[] = {{FAULT_VFS_FULL, NOTIFY_FAULT_FULL},
                 {FAULT_VFS_READONLY, NOTIFY_FAULT_READONLY},
                 {FAULT_VFS_IO, NOTIFY_FAULT_IO}};

    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        char name[32], err[256];
        snprintf(name, sizeof(name), "fail%zu.notify.db", i);
        const char *path = lt_path(name);
        gw_queue_t q;
        notify_worker_t *w;
        seen_ev_t s = {0};
        gw_queue_init(&q, NULL, NULL);
        T_CHECK_EQ_INT(notify_worker_start(&w, path, open_store(path), &q, err, sizeof(err)), 0);
        fault_vfs_set(cases[i].mode);
        notify_worker_submit(w, unit_seen(1, 0, "first"));
        T_CHECK(wait_ev(&q, &s, 30000, failed_with, cases[i].fault));
        notify_worker_submit(w, unit_seen(2, 0, "second"));
        T_CHECK(notify_worker_depth(w) == 2);
        fault_vfs_set(FAULT_VFS_NONE);
        T_CHECK(wait_ev(&q, &s, 30000, committed_at_least, 2));
        T_CHECK_EQ_INT(notify_worker_stop(w), 0);
        T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM seen"), 2);
        T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM seen WHERE event_id = 'first'"), 1);
        gw_queue_destroy(&q);
    }
}

T_TEST(a_lock_held_elsewhere_is_named_and_a_reset_replaces_what_waits)
{
    const char *path = lt_path("lock.notify.db");
    gw_queue_t q;
    notify_worker_t *w;
    seen_ev_t s = {0};
    sqlite3 *db;
    char err[256];
    notify_image_t img = {0};

    gw_queue_init(&q, NULL, NULL);
    T_CHECK_EQ_INT(notify_worker_start(&w, path, open_store(path), &q, err, sizeof(err)), 0);
    sqlite3_open(path, &db);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    notify_worker_submit(w, unit_seen(1, 0, "lost-1"));
    notify_worker_submit(w, unit_seen(2, 0, "lost-2"));
    T_CHECK(wait_ev(&q, &s, 30000, failed_with, NOTIFY_FAULT_LOCKED));
    /* the caller's whole state replaces the two units */
    img.seen = calloc(1, sizeof(*img.seen));
    img.nseen = 1;
    snprintf(img.seen[0].event_id, sizeof(img.seen[0].event_id), "kept");
    notify_tx_t *tx = notify_tx_new(3, 1);
    notify_tx_add(tx, notify_op_image_new(&img));
    notify_worker_submit(w, tx);
    /* taken at the next try: the image alone waits, still locked out */
    for (int i = 0; i < 500 && notify_worker_depth(w) != 1; i++)
        wait_ev(&q, &s, 10, failed_more_than, INT64_MAX);
    T_CHECK_EQ_INT(notify_worker_depth(w), 1);
    T_CHECK_EQ_INT(s.fault, NOTIFY_FAULT_LOCKED);
    T_CHECK_EQ_INT(s.committed, 0);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    T_CHECK(wait_ev(&q, &s, 30000, committed_at_least, 3));
    T_CHECK_EQ_INT(notify_worker_stop(w), 0);
    T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM seen"), 1);
    T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM seen WHERE event_id = 'kept'"), 1);
    gw_queue_destroy(&q);
}

static void scribble(const char *path)
{
    FILE *f = fopen(path, "r+b");
    unsigned char junk[4096];

    if (!f)
        return;
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)rand();
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    for (long k = 0; k < n; k += (long)sizeof(junk))
        fwrite(junk, 1, sizeof(junk), f);
    fclose(f);
}

T_TEST(a_corrupt_file_is_moved_aside_and_replaced)
{
    const char *path = lt_path("corrupt.notify.db");
    char wal[600], err[256];
    gw_queue_t q;
    notify_worker_t *w;
    seen_ev_t s = {0};
    struct stat sb;
    notify_tx_t *tx;

    gw_queue_init(&q, NULL, NULL);
    T_CHECK_EQ_INT(notify_worker_start(&w, path, open_store(path), &q, err, sizeof(err)), 0);
    notify_worker_submit(w, unit_seen(1, 0, "before"));
    T_CHECK(wait_ev(&q, &s, 30000, committed_at_least, 1));
    /* the card returns garbage: the file and its WAL */
    snprintf(wal, sizeof(wal), "%s-wal", path);
    scribble(path);
    scribble(wal);
    tx = notify_tx_new(2, 0);
    notify_tx_add(tx, notify_op_house_new(0, 1000, 1));
    notify_worker_submit(w, tx);
    T_CHECK(wait_ev(&q, &s, 30000, reopened, 1));
    T_CHECK(strstr(s.msg, "corrupt.notify.db.corrupt-") != NULL);
    T_CHECK(s.msg[0] && stat(s.msg, &sb) == 0);
    notify_worker_submit(w, unit_seen(3, 1, "after"));
    T_CHECK(wait_ev(&q, &s, 30000, committed_at_least, 3));
    T_CHECK_EQ_INT(notify_worker_stop(w), 0);
    T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM seen WHERE event_id = 'after'"), 1);
    T_CHECK_EQ_INT(mode_of(path), 0600);
    gw_queue_destroy(&q);
}

T_TEST(without_a_file_the_thread_opens_one_later)
{
    char dir[600], path[700], err[256];
    gw_queue_t q;
    notify_worker_t *w;
    seen_ev_t s = {0};

    snprintf(dir, sizeof(dir), "%s", lt_path("later"));
    snprintf(path, sizeof(path), "%s/notify.db", dir);
    gw_queue_init(&q, NULL, NULL);
    T_CHECK_EQ_INT(notify_worker_start(&w, path, NULL, &q, err, sizeof(err)), 0);
    notify_worker_submit(w, unit_seen(1, 0, "waits"));
    T_CHECK(!wait_ev(&q, &s, 300, reopened, 1));
    mkdir(dir, 0750);
    T_CHECK(wait_ev(&q, &s, 30000, reopened, 1));
    notify_worker_submit(w, unit_seen(2, 1, "image"));
    T_CHECK(wait_ev(&q, &s, 30000, committed_at_least, 2));
    T_CHECK_EQ_INT(notify_worker_stop(w), 0);
    T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM seen"), 1);
    gw_queue_destroy(&q);
}

T_TEST(stopping_on_a_dead_disk_gives_up)
{
    const char *path = lt_path("dead.notify.db");
    gw_queue_t q;
    notify_worker_t *w;
    seen_ev_t s = {0};
    char err[256];

    gw_queue_init(&q, NULL, NULL);
    T_CHECK_EQ_INT(notify_worker_start(&w, path, open_store(path), &q, err, sizeof(err)), 0);
    fault_vfs_set(FAULT_VFS_IO);
    notify_worker_submit(w, unit_seen(1, 0, "never"));
    T_CHECK(wait_ev(&q, &s, 30000, failed_with, NOTIFY_FAULT_IO));
    T_CHECK_EQ_INT(notify_worker_stop(w), GW_EIO);
    fault_vfs_set(FAULT_VFS_NONE);
    T_CHECK_EQ_INT(count(path, "SELECT count(*) FROM seen"), 0);
    gw_queue_destroy(&q);
}

/* ---- stored times on the monotonic clock -------------------------------------------- */

T_TEST(stored_times_are_reanchored)
{
    const int64_t wall = 1767225600000LL, mono = 5000;

    /* a stamp 3 s old is 3 s old on the monotonic clock */
    T_CHECK_EQ_INT(notify__anchor(wall - 3000, wall, mono), mono - 3000);
    /* a stamp in the future (the clock was set back since): long ago, due */
    T_CHECK(notify__anchor(wall + 8 * 3600 * 1000LL, wall, mono) <= mono - 365 * GW_NOTIFY__DAY_MS);
    /* a retry 2 s ahead stays 2 s ahead; past is due; beyond its longest
     * backoff (the clock was set back) is due */
    T_CHECK_EQ_INT(notify__deadline(wall + 2000, 600000, wall, mono), mono + 2000);
    T_CHECK_EQ_INT(notify__deadline(wall - 2000, 600000, wall, mono), mono);
    T_CHECK_EQ_INT(notify__deadline(wall + 8 * 3600 * 1000LL, 600000, wall, mono), mono);
}

int main(void)
{
    if (fault_vfs_register("notify.db") != 0)
        return 1;
    T_RUN(rows_survive_a_reopen_and_load_keeps_what_is_needed);
    T_RUN(a_file_of_the_first_schema_is_migrated);
    T_RUN(purge_by_age_and_count_never_a_pending_message);
    T_RUN(units_are_committed_in_order);
    T_RUN(a_failing_disk_is_named_and_retried_in_order);
    T_RUN(a_lock_held_elsewhere_is_named_and_a_reset_replaces_what_waits);
    T_RUN(a_corrupt_file_is_moved_aside_and_replaced);
    T_RUN(without_a_file_the_thread_opens_one_later);
    T_RUN(stopping_on_a_dead_disk_gives_up);
    T_RUN(stored_times_are_reanchored);
    lt_cleanup();
    return t_done();
}
