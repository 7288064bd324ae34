/*
 * test_ledger_worker.c: the ledger thread (store/ledger_worker.h) on real
 * SQLite files: batching, results only after commit, flush on stop, a
 * failing op amid good ones, a locked database retried without loss,
 * start-up errors, the active orders for the rules to reconcile with, and
 * the thread's progress stamp while it waits; MQTT's outbox window (a LOAD
 * with a limit, tagged, and its end).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_worker.h"

#include "ledger_testutil.h"
#include "t.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

/* What a test saw on the results queue. */
typedef struct seen {
    int opened, outbox, errors;
    int64_t last_outbox_id;
    int out_of_order;
    int not_committed; /* an OPENED whose order a reader could not see */
    char first_error[256];
} seen_t;

/* Take results until pred is met or timeout_ms passes. reader, if given,
 * checks that each opened work order is already committed. */
static void collect(gw_queue_t *q, seen_t *s, ledger_t *reader, int (*pred)(const seen_t *),
                    int timeout_ms)
{
    struct timespec t0, now;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        gw_msg_t *m = gw_queue_wait_all(q, 100);
        while (m) {
            gw_msg_t *next = m->next;
            if (m->kind == LEDGER_EV_OPENED) {
                ledger_ev_opened_t *ev = (ledger_ev_opened_t *)m;
                s->opened++;
                if (reader) {
                    ledger_wo_filter_t f = {0};
                    ledger_wo_t *wo = NULL;
                    size_t n = 0;
                    int found = 0;
                    f.device = ev->device;
                    if (ledger_wo_list(reader, &f, &wo, &n, NULL, 0) == 0) {
                        for (size_t i = 0; i < n; i++)
                            found |= strcmp(wo[i].id, ev->res.id) == 0;
                    }
                    ledger_wo_free_array(wo, n);
                    s->not_committed += !found;
                }
            } else if (m->kind == LEDGER_EV_OUTBOX) {
                ledger_ev_outbox_t *ev = (ledger_ev_outbox_t *)m;
                s->outbox++;
                s->out_of_order += ev->row.id <= s->last_outbox_id;
                s->last_outbox_id = ev->row.id;
            } else if (m->kind == LEDGER_EV_ERROR) {
                if (!s->errors++)
                    snprintf(s->first_error, sizeof(s->first_error), "%s",
                             ((ledger_ev_error_t *)m)->msg);
            }
            gw_msg_free(m);
            m = next;
        }
        if (pred && pred(s))
            return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
            return;
    }
}

static int ten_and_ten(const seen_t *s)
{
    return s->opened >= 10 && s->outbox >= 10;
}

static ledger_worker_t *start(const char *name, gw_queue_t *results)
{
    ledger_worker_t *w = NULL;
    char err[256] = "";

    if (ledger_worker_start(&w, lt_path(name), results, err, sizeof(err)) < 0)
        fprintf(stderr, "ledger_worker_start: %s\n", err);
    return w;
}

static void submit_trigger(ledger_worker_t *w, int kind, const char *device, const char *rule,
                           int64_t ts)
{
    ledger_trigger_t t = lt_trigger("hq", device, rule, ts);
    ledger_op_trigger_t *op = ledger_op_trigger_new(kind, &t);

    T_CHECK(op != NULL);
    if (op)
        ledger_worker_submit(w, &op->hdr);
}

T_TEST(test_op_trigger_new_copies)
{
    char dev[16] = "lift-1";
    ledger_trigger_t t = lt_trigger("hq", dev, "vib", 42);
    ledger_op_trigger_t *op;

    t.description = NULL;
    op = ledger_op_trigger_new(LEDGER_OP_TRIGGER, &t);
    T_CHECK(op != NULL);
    if (!op)
        return;
    strcpy(dev, "XXXXXX");
    T_CHECK_EQ_INT(op->hdr.kind, LEDGER_OP_TRIGGER);
    T_CHECK(op->hdr.free_fn == NULL); /* one allocation: plain free */
    T_CHECK_STR(op->t.device, "lift-1");
    T_CHECK_STR(op->t.site, "hq");
    T_CHECK_STR(op->t.evidence_json, t.evidence_json);
    T_CHECK(op->t.evidence_json != t.evidence_json);
    T_CHECK(op->t.description == NULL);
    T_CHECK_EQ_INT(op->t.ts_ms, 42);
    T_CHECK_EQ_INT(op->t.priority, GW_PRIO_HIGH);
    gw_msg_free(&op->hdr);
    T_CHECK(ledger_op_trigger_new(LEDGER_OP_OUTBOX_ACK, &t) == NULL);
    T_CHECK(ledger_op_outbox_new(LEDGER_OP_TRIGGER, 1) == NULL);
}

T_TEST(test_batch_1000_triggers)
{
    gw_queue_t results;
    ledger_worker_t *w;
    ledger_t *reader = NULL;
    seen_t s = {0};
    char dev[16];
    sqlite3 *db;

    gw_queue_init(&results, NULL, NULL);
    w = start("batch.db", &results);
    T_CHECK(w != NULL);
    if (!w) {
        gw_queue_destroy(&results);
        return;
    }
    T_CHECK_EQ_INT(ledger_open(&reader, lt_path("batch.db"), LEDGER_OPEN_READONLY, NULL, 0), 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(dev, sizeof(dev), "dev-%d", i % 10);
        submit_trigger(w, LEDGER_OP_TRIGGER, dev, "vib", 1000 + i);
    }
    collect(&results, &s, reader, ten_and_ten, 20000);
    T_CHECK_EQ_INT(s.opened, 10);
    T_CHECK_EQ_INT(s.outbox, 10);
    T_CHECK_EQ_INT(s.not_committed, 0);
    T_CHECK_EQ_INT(s.out_of_order, 0);
    T_CHECK_EQ_INT(s.errors, 0);
    ledger_worker_stop(w);
    collect(&results, &s, NULL, NULL, 0);
    T_CHECK_EQ_INT(s.opened, 10); /* nothing more after stop */
    T_CHECK_EQ_INT(s.outbox, 10);
    ledger_close(reader);

    db = lt_raw(lt_path("batch.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 10);
    T_CHECK_EQ_INT(lt_int(db, "SELECT max(last_seen_at) FROM work_orders"), 1999);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM outbox"), 10);
    T_CHECK_EQ_INT(lt_int(db, "SELECT max(id) FROM outbox"), s.last_outbox_id);
    sqlite3_close(db);
    gw_queue_destroy(&results);
}

T_TEST(test_stop_flushes)
{
    gw_queue_t results;
    ledger_worker_t *w;
    seen_t s = {0};
    char dev[16];
    sqlite3 *db;

    gw_queue_init(&results, NULL, NULL);
    w = start("flush.db", &results);
    T_CHECK(w != NULL);
    if (!w) {
        gw_queue_destroy(&results);
        return;
    }
    for (int i = 0; i < 50; i++) {
        snprintf(dev, sizeof(dev), "dev-%d", i);
        submit_trigger(w, LEDGER_OP_TRIGGER, dev, "temp_high", 1000 + i);
    }
    submit_trigger(w, LEDGER_OP_CLEAR, "dev-0", "temp_high", 2000);
    submit_trigger(w, LEDGER_OP_TOUCH, "dev-1", "temp_high", 3000);
    ledger_worker_stop(w);
    collect(&results, &s, NULL, NULL, 0);
    T_CHECK_EQ_INT(s.opened, 50);
    T_CHECK_EQ_INT(s.outbox, 51); /* 50 opened + 1 cleared */
    T_CHECK_EQ_INT(s.errors, 0);
    db = lt_raw(lt_path("flush.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 50);
    T_CHECK_EQ_INT(lt_int(db, "SELECT cleared_at FROM work_orders WHERE device='dev-0'"), 2000);
    T_CHECK_EQ_INT(lt_int(db, "SELECT last_seen_at FROM work_orders WHERE device='dev-1'"), 3000);
    sqlite3_close(db);
    gw_queue_destroy(&results);
}

static int forty_one(const seen_t *s)
{
    return s->outbox >= 41;
}

static int forty_seven(const seen_t *s)
{
    return s->outbox >= 47;
}

/* A LOAD with a limit: its tagged rows (in id order: *first..*last) and
 * its end. Returns the rows seen, -1 when the end did not come. */
static int window_load(ledger_worker_t *w, gw_queue_t *q, int64_t after, int limit, uint64_t tag,
                       int64_t *first, int64_t *last, ledger_ev_outbox_loaded_t *end)
{
    int rows = 0, done = 0;

    *first = *last = 0;
    ledger_worker_submit(w, &ledger_op_outbox_load_new(after, limit, tag)->hdr);
    for (int i = 0; i < 100 && !done; i++) {
        for (gw_msg_t *m = gw_queue_wait_all(q, 100), *next; m; m = next) {
            next = m->next;
            if (m->kind == LEDGER_EV_OUTBOX && ((ledger_ev_outbox_t *)m)->load_tag == tag) {
                int64_t id = ((ledger_ev_outbox_t *)m)->row.id;
                T_CHECK(id > *last);
                *first = *first ? *first : id;
                *last = id;
                rows++;
            } else if (m->kind == LEDGER_EV_OUTBOX_LOADED) {
                *end = *(ledger_ev_outbox_loaded_t *)m;
                done = end->tag == tag;
            }
            gw_msg_free(m);
        }
    }
    return done ? rows : -1;
}

T_TEST(test_load_and_ack)
{
    gw_queue_t results;
    ledger_worker_t *w;
    seen_t s = {0};
    ledger_op_outbox_t *op;
    sqlite3 *db;

    gw_queue_init(&results, NULL, NULL);
    /* flush.db holds 51 outbox rows (ids 1..51) from test_stop_flushes. */
    w = start("flush.db", &results);
    T_CHECK(w != NULL);
    if (!w) {
        gw_queue_destroy(&results);
        return;
    }
    for (int64_t id = 1; id <= 10; id++) {
        op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_ACK, id);
        ledger_worker_submit(w, &op->hdr);
    }
    ledger_worker_stop(w);
    collect(&results, &s, NULL, NULL, 0);
    T_CHECK_EQ_INT(s.outbox + s.opened + s.errors, 0); /* an ACK posts nothing */

    /* A restarted daemon loads the backlog: rows in id order. */
    w = start("flush.db", &results);
    T_CHECK(w != NULL);
    if (!w) {
        gw_queue_destroy(&results);
        return;
    }
    op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_LOAD, 0);
    ledger_worker_submit(w, &op->hdr);
    collect(&results, &s, NULL, forty_one, 10000);
    T_CHECK_EQ_INT(s.outbox, 41);
    T_CHECK_EQ_INT(s.out_of_order, 0);
    T_CHECK_EQ_INT(s.last_outbox_id, 51);
    s.last_outbox_id = 0;
    op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_LOAD, 45);
    ledger_worker_submit(w, &op->hdr);
    collect(&results, &s, NULL, forty_seven, 10000);
    T_CHECK_EQ_INT(s.outbox, 47);
    T_CHECK_EQ_INT(s.out_of_order, 0);
    /* MQTT's window: at most limit rows after the id, tagged, then the end
     * saying whether more may follow */
    {
        ledger_ev_outbox_loaded_t end = {0};
        int64_t first, last;
        T_CHECK_EQ_INT(window_load(w, &results, 10, 15, 7, &first, &last, &end), 15);
        T_CHECK_EQ_INT(first, 11);
        T_CHECK_EQ_INT(last, 25);
        T_CHECK_EQ_INT(end.n, 15);
        T_CHECK_EQ_INT(end.last_id, 25);
        T_CHECK_EQ_INT(end.more, 1);
        T_CHECK_EQ_INT(window_load(w, &results, 45, 15, 8, &first, &last, &end), 6);
        T_CHECK_EQ_INT(first, 46);
        T_CHECK_EQ_INT(end.last_id, 51);
        T_CHECK_EQ_INT(end.more, 0);
        T_CHECK_EQ_INT(window_load(w, &results, 51, 15, 9, &first, &last, &end), 0);
        T_CHECK_EQ_INT(end.last_id, 51);
        T_CHECK_EQ_INT(end.more, 0);
    }
    ledger_worker_stop(w);
    collect(&results, &s, NULL, NULL, 0);
    T_CHECK_EQ_INT(s.outbox, 47);
    T_CHECK_EQ_INT(s.opened, 0);
    db = lt_raw(lt_path("flush.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM outbox"), 41);
    sqlite3_close(db);
    gw_queue_destroy(&results);
}

T_TEST(test_bad_op_keeps_batch)
{
    gw_queue_t results;
    ledger_worker_t *w;
    seen_t s = {0};
    sqlite3 *db;

    gw_queue_init(&results, NULL, NULL);
    w = start("badop.db", &results);
    T_CHECK(w != NULL);
    if (!w) {
        gw_queue_destroy(&results);
        return;
    }
    submit_trigger(w, LEDGER_OP_TRIGGER, "pump-1", "dry_run", 1);
    submit_trigger(w, LEDGER_OP_TRIGGER, "", "dry_run", 2); /* no device: refused */
    submit_trigger(w, LEDGER_OP_TRIGGER, "pump-2", "dry_run", 3);
    {
        gw_msg_t *odd = calloc(1, sizeof(*odd));
        odd->kind = 12345;
        ledger_worker_submit(w, odd);
    }
    ledger_worker_stop(w);
    collect(&results, &s, NULL, NULL, 0);
    T_CHECK_EQ_INT(s.opened, 2);
    T_CHECK_EQ_INT(s.outbox, 2);
    T_CHECK_EQ_INT(s.errors, 2);
    T_CHECK(strstr(s.first_error, "trigger hq//dry_run") != NULL);
    db = lt_raw(lt_path("badop.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 2);
    sqlite3_close(db);
    gw_queue_destroy(&results);
}

static int one_error(const seen_t *s)
{
    return s->errors >= 1;
}

static int one_opened(const seen_t *s)
{
    return s->opened >= 1 && s->outbox >= 1;
}

/* Another connection holds the write lock past the busy timeout: the batch
 * fails as a whole, is reported, and goes in once the lock is gone. */
T_TEST(test_locked_batch_is_retried)
{
    gw_queue_t results;
    ledger_worker_t *w;
    seen_t s = {0};
    sqlite3 *db;

    gw_queue_init(&results, NULL, NULL);
    w = start("locked.db", &results);
    T_CHECK(w != NULL);
    if (!w) {
        gw_queue_destroy(&results);
        return;
    }
    db = lt_raw(lt_path("locked.db"));
    T_CHECK_EQ_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    submit_trigger(w, LEDGER_OP_TRIGGER, "ahu-1", "filter_dp", 1);
    collect(&results, &s, NULL, one_error, 15000);
    T_CHECK_EQ_INT(s.errors, 1);
    T_CHECK_EQ_INT(s.opened, 0);
    T_CHECK(strstr(s.first_error, "locked") != NULL);
    T_CHECK(ledger_worker_depth(w) >= 1);
    T_CHECK_EQ_INT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    collect(&results, &s, NULL, one_opened, 15000);
    T_CHECK_EQ_INT(s.opened, 1);
    T_CHECK_EQ_INT(s.outbox, 1);
    T_CHECK_EQ_INT(ledger_worker_depth(w), 0);
    ledger_worker_stop(w);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 1);
    sqlite3_close(db);
    gw_queue_destroy(&results);
}

/* The first health event on q (its state), or -1 when none came within
 * timeout_ms; other results are freed. */
static int wait_health(gw_queue_t *q, char *detail, size_t len, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        gw_msg_t *m = gw_queue_wait_all(q, 100);
        int st = -1;
        while (m) {
            gw_msg_t *next = m->next;
            if (m->kind == LEDGER_EV_HEALTH && st < 0) {
                st = (int)((ledger_ev_health_t *)m)->state;
                if (detail)
                    snprintf(detail, len, "%s", ((ledger_ev_health_t *)m)->detail);
            }
            gw_msg_free(m);
            m = next;
        }
        if (st >= 0)
            return st;
    }
    return -1;
}

/* Start in a directory the process cannot write; as root, drop to nobody
 * in a child so that permissions apply. The thread starts all the same and
 * says the file is unavailable. Returns the child's verdict. */
static int start_in_readonly_dir(const char *dir)
{
    char path[600];
    char err[256] = "";
    ledger_worker_t *w = NULL;
    gw_queue_t q;
    int rc, st;

    gw_queue_init(&q, NULL, NULL);
    snprintf(path, sizeof(path), "%s/x.db", dir);
    rc = ledger_worker_start(&w, path, &q, err, sizeof(err));
    if (rc != 0 || !w)
        return 1;
    st = wait_health(&q, NULL, 0, 5000);
    ledger_worker_stop(w);
    gw_queue_destroy(&q);
    return st == LEDGER_STORAGE_UNAVAILABLE && strstr(err, path) != NULL ? 0 : 2;
}

/* A ledger that cannot be opened does not stop the thread: it says so
 * (LEDGER_EV_HEALTH unavailable), keeps the ops, and opens the file once it
 * can, committing what waited. */
T_TEST(test_start_unavailable_then_recovers)
{
    ledger_worker_t *w = NULL;
    gw_queue_t results;
    char err[256] = "", detail[256] = "";
    seen_t s = {0};
    FILE *f;
    sqlite3 *db;
    pid_t pid;
    int status = 0;

    T_CHECK(ledger_worker_start(&w, "", NULL, NULL, 0) == GW_EINVAL);
    gw_queue_init(&results, NULL, NULL);
    /* A path under a regular file. */
    f = fopen(lt_path("plain"), "w");
    fclose(f);
    T_CHECK_EQ_INT(ledger_worker_start(&w, lt_path("plain/x.db"), &results, err, sizeof(err)), 0);
    T_CHECK(strstr(err, "plain/x.db") != NULL);
    T_CHECK_EQ_INT(wait_health(&results, detail, sizeof(detail), 5000), LEDGER_STORAGE_UNAVAILABLE);
    T_CHECK(strstr(detail, "plain/x.db") != NULL);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0); /* nothing waited */

    /* Under a missing directory, which then appears. */
    T_CHECK_EQ_INT(ledger_worker_start(&w, lt_path("later/x.db"), &results, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(wait_health(&results, NULL, 0, 5000), LEDGER_STORAGE_UNAVAILABLE);
    submit_trigger(w, LEDGER_OP_TRIGGER, "pump-1", "dry_run", 1);
    for (int i = 0; i < 50 && ledger_worker_depth(w) == 0; i++)
        usleep(20 * 1000);
    T_CHECK_EQ_INT(ledger_worker_depth(w), 1);
    T_CHECK_EQ_INT(mkdir(lt_path("later"), 0750), 0);
    T_CHECK_EQ_INT(wait_health(&results, NULL, 0, 5000), LEDGER_STORAGE_OK);
    collect(&results, &s, NULL, NULL, 1000);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    collect(&results, &s, NULL, NULL, 0);
    db = lt_raw(lt_path("later/x.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 1);
    sqlite3_close(db);
    gw_queue_destroy(&results);

    /* A read-only directory. */
    chmod(lt_tmpdir(), 0755);
    T_CHECK_EQ_INT(mkdir(lt_path("ro"), 0555), 0);
    chmod(lt_path("ro"), 0555);
    if (geteuid() != 0) {
        T_CHECK_EQ_INT(start_in_readonly_dir(lt_path("ro")), 0);
        return;
    }
    pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        _exit(start_in_readonly_dir(lt_path("ro")));
    }
    T_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    T_CHECK(WIFEXITED(status));
    T_CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

/* Rollups and device status go in with the batch; a policy with a report
 * directory makes the thread write last month's report by itself, once. */
T_TEST(test_rollup_device_policy_report)
{
    const char *path = lt_path("house.db");
    char dir[600], month[8], file[700];
    ledger_t *lg = NULL;
    ledger_trigger_t t = lt_trigger("hq", "lift-1", "vib", 1714600000000LL); /* May 2024 */
    ledger_worker_t *w;
    ledger_op_rollup_t *ro;
    ledger_op_policy_t *po;
    ledger_policy_t p;
    char err[256];
    sqlite3 *db;

    T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, NULL, err, sizeof(err)), 0);
    ledger_close(lg);
    snprintf(dir, sizeof(dir), "%s", lt_path("reports"));
    T_CHECK_EQ_INT(mkdir(dir, 0750), 0);

    w = start("house.db", NULL);
    T_CHECK(w != NULL);
    if (!w)
        return;
    ro = ledger_op_rollup_new(2);
    T_CHECK(ro != NULL);
    for (size_t i = 0; ro && i < 2; i++) {
        ledger_rollup_row_t *r = &ro->rows[i];
        snprintf(r->device, sizeof(r->device), "meter-main");
        snprintf(r->point, sizeof(r->point), i ? "power" : "energy_total");
        snprintf(r->unit, sizeof(r->unit), i ? "kW" : "kWh");
        r->ts_ms = time(NULL) * 1000LL; /* recent: retention keeps it */
        r->min = r->max = r->sum = 5;
        r->count = 1;
        r->last_ts = r->ts_ms;
    }
    if (ro)
        ledger_worker_submit(w, &ro->hdr);
    ledger_worker_submit(
        w, &ledger_op_device_new("meter-main", "offline", time(NULL) * 1000LL, "timeout")->hdr);
    ledger_policy_default(&p);
    snprintf(p.report_dir, sizeof(p.report_dir), "%s", dir);
    po = ledger_op_policy_new(&p);
    ledger_worker_submit(w, &po->hdr);

    ledger_prev_month(time(NULL) * 1000LL, month);
    snprintf(file, sizeof(file), "%s/report-%s.json", dir, month);
    for (int i = 0; i < 100 && access(file, R_OK) != 0; i++)
        usleep(50 * 1000);
    T_CHECK(access(file, R_OK) == 0);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);

    db = lt_raw(path);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM rollup_1m"), 2);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM device_events WHERE status = 'offline'"), 1);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM reports"), 1);
    sqlite3_close(db);
}

/* People's changes through the thread (as commands over MQTT arrive):
 * answered after commit, refusals answered with their reason and not
 * reported as ledger errors. */
T_TEST(test_change_ops)
{
    static const ledger_actor_t op_by = {"dispatcher", "mqtt"};
    gw_queue_t results;
    ledger_worker_t *w;
    ledger_ev_changed_t got[4];
    int ngot = 0, errors = 0, outbox = 0;
    sqlite3 *db;

    gw_queue_init(&results, NULL, NULL);
    w = start("change.db", &results);
    T_CHECK(w != NULL);
    if (!w) {
        gw_queue_destroy(&results);
        return;
    }
    submit_trigger(w, LEDGER_OP_TRIGGER, "lift-1", "vib", 1);
    ledger_worker_submit(
        w,
        &ledger_op_change_new(LEDGER_CHANGE_STATUS, "1", "acknowledged", "on it", &op_by, 11)->hdr);
    ledger_worker_submit(
        w, &ledger_op_change_new(LEDGER_CHANGE_STATUS, "1", "closed", NULL, &op_by, 12)->hdr);
    ledger_worker_submit(
        w, &ledger_op_change_new(LEDGER_CHANGE_ASSIGN, "#1", "bob", NULL, &op_by, 13)->hdr);
    ledger_worker_submit(
        w, &ledger_op_change_new(LEDGER_CHANGE_NOTE, "7", "hello", NULL, &op_by, 14)->hdr);
    T_CHECK(ledger_op_change_new(LEDGER_CHANGE_NOTE, "1", "x", NULL, NULL, 1) == NULL);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);

    for (gw_msg_t *m = gw_queue_take_all(&results), *next; m; m = next) {
        next = m->next;
        if (m->kind == LEDGER_EV_CHANGED && ngot < 4)
            got[ngot++] = *(ledger_ev_changed_t *)m;
        errors += m->kind == LEDGER_EV_ERROR;
        outbox += m->kind == LEDGER_EV_OUTBOX;
        gw_msg_free(m);
    }
    T_CHECK_EQ_INT(errors, 0);
    T_CHECK_EQ_INT(outbox, 3); /* opened, acknowledged, assigned */
    T_CHECK_EQ_INT(ngot, 4);
    for (int i = 0; i < ngot; i++) {
        switch (got[i].tag) {
        case 11:
            T_CHECK_EQ_INT(got[i].rc, 0);
            T_CHECK_STR(got[i].status, "acknowledged");
            T_CHECK_EQ_INT(got[i].number, 1);
            break;
        case 12:
            T_CHECK_EQ_INT(got[i].rc, GW_ESTATE);
            T_CHECK(strstr(got[i].msg, "acknowledged -> closed is not allowed") != NULL);
            break;
        case 13:
            T_CHECK_EQ_INT(got[i].rc, 0);
            break;
        case 14:
            T_CHECK_EQ_INT(got[i].rc, GW_ENOENT);
            T_CHECK(strstr(got[i].msg, "unknown work order 7") != NULL);
            break;
        default:
            T_CHECK(!"unexpected tag");
        }
    }
    db = lt_raw(lt_path("change.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit WHERE channel = 'mqtt'"), 2);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders WHERE assignee = 'bob'"), 1);
    sqlite3_close(db);
    gw_queue_destroy(&results);
}

/* LEDGER_OP_ACTIVE: every active order with whether its condition cleared,
 * posted after the batch that read it committed; the progress stamp moves
 * while the thread has nothing to do. */
T_TEST(test_active_orders_and_progress)
{
    gw_queue_t q;
    ledger_worker_t *w;
    ledger_op_active_t *op;
    ledger_ev_active_t *ev = NULL;
    int64_t p0, p1;
    struct timespec ts = {1, 300 * 1000 * 1000};

    gw_queue_init(&q, NULL, NULL);
    w = start("active.db", &q);
    T_CHECK(w != NULL);
    if (!w)
        return;
    submit_trigger(w, LEDGER_OP_TRIGGER, "lift-1", "vib", 1000);
    submit_trigger(w, LEDGER_OP_TRIGGER, "lift-2", "vib", 1000);
    submit_trigger(w, LEDGER_OP_CLEAR, "lift-2", "vib", 2000);
    op = ledger_op_active_new(7);
    T_CHECK(op != NULL);
    ledger_worker_submit(w, &op->hdr);
    for (int i = 0; i < 50 && !ev; i++) {
        gw_msg_t *m = gw_queue_wait_all(&q, 100);
        while (m) {
            gw_msg_t *next = m->next;
            if (m->kind == LEDGER_EV_ACTIVE && !ev)
                ev = (ledger_ev_active_t *)m;
            else
                gw_msg_free(m);
            m = next;
        }
    }
    T_CHECK(ev != NULL);
    if (ev) {
        T_CHECK_EQ_INT(ev->tag, 7);
        T_CHECK_EQ_INT(ev->n, 2);
        for (size_t i = 0; i < ev->n; i++) {
            T_CHECK_STR(ev->orders[i].site, "hq");
            T_CHECK_STR(ev->orders[i].rule, "vib");
            T_CHECK_EQ_INT(ev->orders[i].cleared, strcmp(ev->orders[i].device, "lift-2") == 0);
            T_CHECK(ev->orders[i].opened_at > 0);
        }
        gw_msg_free(&ev->hdr);
    }
    p0 = ledger_worker_progress_ms(w);
    nanosleep(&ts, NULL);
    p1 = ledger_worker_progress_ms(w);
    T_CHECK(p1 > p0); /* it woke up at least once in 1.3 s of nothing */
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    gw_queue_destroy(&q);
}

int main(void)
{
    lt_tmpdir();
    T_RUN(test_op_trigger_new_copies);
    T_RUN(test_batch_1000_triggers);
    T_RUN(test_stop_flushes);
    T_RUN(test_load_and_ack);
    T_RUN(test_bad_op_keeps_batch);
    T_RUN(test_locked_batch_is_retried);
    T_RUN(test_rollup_device_policy_report);
    T_RUN(test_change_ops);
    T_RUN(test_start_unavailable_then_recovers);
    T_RUN(test_active_orders_and_progress);
    lt_cleanup();
    return t_done();
}
