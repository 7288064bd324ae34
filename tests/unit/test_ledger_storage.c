/*
 * test_ledger_storage.c: the ledger thread when its storage fails
 * (store/ledger_worker.h; docs/architecture.md, "When the ledger cannot
 * write"), on real SQLite files with real faults: a full file (SQLite's
 * PRAGMA max_page_count, set through the thread's test-only pages file),
 * a file of random bytes, a file damaged while open. What waits is
 * committed in order once the file takes writes again, under the event
 * ids its provisional events were announced with; the backlog stays within
 * its bound, repeatable ops going first; the outbox is acknowledged per
 * consumer and purged by age.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_worker.h"

#include "ledger_testutil.h"
#include "t.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

/* What came back on the results queue. */
typedef struct got {
    int health[16]; /* states in order */
    int nhealth;
    char moved_to[512];
    char prov_ids[200][LEDGER_EVENT_ID_MAX];
    char prov_events[200][16];
    int nprov;
    char out_ids[200][LEDGER_EVENT_ID_MAX];
    int64_t out_rows[200];
    int nout;
} got_t;

static void take(gw_queue_t *q, got_t *g, int wait_ms)
{
    for (gw_msg_t *m = gw_queue_wait_all(q, wait_ms), *next; m; m = next) {
        next = m->next;
        if (m->kind == LEDGER_EV_HEALTH && g->nhealth < 16) {
            const ledger_ev_health_t *h = (const ledger_ev_health_t *)m;
            g->health[g->nhealth++] = (int)h->state;
            if (h->moved_to[0])
                snprintf(g->moved_to, sizeof(g->moved_to), "%s", h->moved_to);
        } else if (m->kind == LEDGER_EV_PROVISIONAL && g->nprov < 200) {
            cJSON *o = cJSON_Parse(((ledger_ev_provisional_t *)m)->payload);
            T_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(o, "durable")));
            snprintf(g->prov_ids[g->nprov], LEDGER_EVENT_ID_MAX, "%s",
                     cJSON_GetStringValue(cJSON_GetObjectItem(o, "event_id")));
            snprintf(g->prov_events[g->nprov++], 16, "%s",
                     cJSON_GetStringValue(cJSON_GetObjectItem(o, "event")));
            cJSON_Delete(o);
        } else if (m->kind == LEDGER_EV_OUTBOX && g->nout < 200) {
            const ledger_outbox_row_t *r = &((const ledger_ev_outbox_t *)m)->row;
            cJSON *o = cJSON_Parse(r->payload);
            T_CHECK(cJSON_GetObjectItem(o, "durable") == NULL);
            snprintf(g->out_ids[g->nout], LEDGER_EVENT_ID_MAX, "%s",
                     cJSON_GetStringValue(cJSON_GetObjectItem(o, "event_id")));
            g->out_rows[g->nout++] = r->id;
            cJSON_Delete(o);
        }
        gw_msg_free(m);
    }
}

/* Take results until pred holds or timeout_ms passes; returns pred. */
static int take_until(gw_queue_t *q, got_t *g, int (*pred)(const got_t *, int), int arg,
                      int timeout_ms)
{
    struct timespec t0, now;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        take(q, g, 50);
        if (pred(g, arg))
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
            return 0;
    }
}

static int has_health(const got_t *g, int st)
{
    for (int i = 0; i < g->nhealth; i++) {
        if (g->health[i] == st)
            return 1;
    }
    return 0;
}

static int nprov_at_least(const got_t *g, int n)
{
    return g->nprov >= n;
}

static int nout_at_least(const got_t *g, int n)
{
    return g->nout >= n;
}

/* The thread's figures once their depth is want (it is refreshed after
 * each batch of ops taken in), or as they are after 5 s. */
static void figures_at(ledger_worker_t *w, size_t want, ledger_worker_figures_t *f)
{
    for (int i = 0; i < 500; i++) {
        ledger_worker_figures(w, f);
        if (f->depth == want)
            return;
        usleep(10 * 1000);
    }
}

static void set_pages(const char *v)
{
    FILE *f = fopen(lt_path("pages"), "w");

    fputs(v, f);
    fclose(f);
}

static void trigger(ledger_worker_t *w, int kind, const char *device, const char *rule,
                    gw_priority_t prio, int64_t ts)
{
    ledger_trigger_t t = lt_trigger("hq", device, rule, ts);
    ledger_op_trigger_t *op;

    t.priority = prio;
    op = ledger_op_trigger_new(kind, &t);
    T_CHECK(op != NULL);
    ledger_worker_submit(w, &op->hdr);
}

/* A trigger with 32 kB of evidence: more than the pages a fresh file
 * has free, so it fails on a full file. */
static void big_trigger(ledger_worker_t *w, const char *device, const char *rule)
{
    static char ev[32 * 1024];
    ledger_trigger_t t = lt_trigger("hq", device, rule, 1000);
    ledger_op_trigger_t *op;

    memset(ev, 'x', sizeof(ev));
    memcpy(ev, "{\"pad\":\"", 8);
    memcpy(ev + sizeof(ev) - 3, "\"}", 3);
    t.evidence_json = ev;
    op = ledger_op_trigger_new(LEDGER_OP_TRIGGER, &t);
    T_CHECK(op != NULL);
    ledger_worker_submit(w, &op->hdr);
}

static void rollup(ledger_worker_t *w, size_t rows)
{
    ledger_op_rollup_t *op = ledger_op_rollup_new(rows);

    for (size_t i = 0; i < rows; i++) {
        snprintf(op->rows[i].device, sizeof(op->rows[i].device), "meter");
        snprintf(op->rows[i].point, sizeof(op->rows[i].point), "p%zu", i);
        op->rows[i].ts_ms = (int64_t)time(NULL) * 1000;
        op->rows[i].count = 1;
        op->rows[i].last_ts = op->rows[i].ts_ms;
    }
    ledger_worker_submit(w, &op->hdr);
}

/* A full file: ops wait, each rule change is announced at once as
 * provisional, nothing is lost; once the file takes writes again
 * everything is committed in order under the ids announced. */
T_TEST(test_full_then_recovers)
{
    const char *path = lt_path("full.db");
    ledger_worker_figures_t f;
    gw_queue_t q;
    ledger_worker_t *w = NULL;
    got_t *g = calloc(1, sizeof(*g));
    char err[256], dev[16], sql[256];
    sqlite3 *db;

    gw_queue_init(&q, NULL, NULL);
    set_pages("1"); /* PRAGMA max_page_count = the file's size now */
    T_CHECK_EQ_INT(ledger_worker_start(&w, path, &q, err, sizeof(err)), 0);
    big_trigger(w, "pump-0", "dry_run");
    for (int i = 1; i < 40; i++) {
        snprintf(dev, sizeof(dev), "pump-%d", i);
        trigger(w, LEDGER_OP_TRIGGER, dev, "dry_run", GW_PRIO_HIGH, 1000 + i);
    }
    T_CHECK(take_until(&q, g, has_health, LEDGER_STORAGE_FULL, 5000));
    T_CHECK(take_until(&q, g, nprov_at_least, 40, 5000));
    T_CHECK_EQ_INT(g->nprov, 40);
    T_CHECK_STR(g->prov_events[0], "opened");
    /* what fails now is announced at once */
    trigger(w, LEDGER_OP_CLEAR, "pump-3", "dry_run", GW_PRIO_HIGH, 5000);
    trigger(w, LEDGER_OP_TRIGGER, "pump-3", "dry_run", GW_PRIO_HIGH, 6000);
    trigger(w, LEDGER_OP_TRIGGER, "pump-4", "dry_run", GW_PRIO_HIGH, 6000); /* still holds */
    T_CHECK(take_until(&q, g, nprov_at_least, 42, 5000));
    T_CHECK_STR(g->prov_events[40], "cleared");
    T_CHECK_STR(g->prov_events[41], "retriggered");
    figures_at(w, 43, &f);
    T_CHECK_EQ_INT(f.state, LEDGER_STORAGE_FULL);
    T_CHECK_EQ_INT(f.depth, 43);
    T_CHECK(f.peak >= 43);
    T_CHECK(f.provisional >= 42);
    T_CHECK(f.failed_batches >= 1);

    set_pages("0"); /* space again */
    T_CHECK(take_until(&q, g, has_health, LEDGER_STORAGE_OK, 5000));
    T_CHECK(take_until(&q, g, nout_at_least, 42, 5000));
    T_CHECK_EQ_INT(g->nout, 42);
    for (int i = 0; i < g->nout && i < g->nprov; i++) {
        T_CHECK_STR(g->out_ids[i], g->prov_ids[i]); /* the same ids, in order */
        T_CHECK(i == 0 || g->out_rows[i] > g->out_rows[i - 1]);
    }
    T_CHECK_EQ_INT(ledger_worker_depth(w), 0);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    db = lt_raw(path);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 40);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM audit"), 42);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit WHERE event_id = '%s'", g->prov_ids[41]);
    T_CHECK_EQ_INT(lt_int(db, sql), 1);
    /* the order opened provisionally got the id announced */
    T_CHECK_EQ_INT(lt_int(db, "SELECT occurrences FROM work_orders WHERE device = 'pump-3'"), 2);
    sqlite3_close(db);
    gw_queue_destroy(&q);
    free(g);
}

/* The bound: repeatable ops go first (rollups, counted with their rows),
 * work-order ops never for them; past the bound with nothing else left,
 * the newest work-order op is refused and counted. Refreshes of the same
 * condition fold into one. */
T_TEST(test_bound_drops_repeatable_first)
{
    ledger_worker_figures_t f;
    ledger_worker_t *w = NULL;
    gw_queue_t q;
    got_t *g = calloc(1, sizeof(*g));
    char err[256], dev[16];
    sqlite3 *db;

    gw_queue_init(&q, NULL, NULL);
    set_pages("1");
    T_CHECK_EQ_INT(ledger_worker_start(&w, lt_path("bound.db"), &q, err, sizeof(err)), 0);
    ledger_worker_set_max_ops(w, 100);
    big_trigger(w, "lift-1", "vib"); /* needs new pages: the file is full */
    T_CHECK(take_until(&q, g, has_health, LEDGER_STORAGE_FULL, 5000));
    for (int i = 0; i < 10; i++) /* the same condition still holding */
        trigger(w, LEDGER_OP_TOUCH, "lift-1", "vib", GW_PRIO_HIGH, 2000 + i);
    for (int i = 0; i < 10; i++)
        rollup(w, 5); /* 50 */
    for (int i = 0; i < 60; i++) {
        snprintf(dev, sizeof(dev), "pump-%d", i);
        trigger(w, LEDGER_OP_TRIGGER, dev, "dry_run", GW_PRIO_HIGH, 3000);
    }
    T_CHECK(take_until(&q, g, nprov_at_least, 61, 5000));
    figures_at(w, 97, &f);
    T_CHECK_EQ_INT(f.coalesced, 9);
    T_CHECK(f.depth <= 100);
    T_CHECK(f.dropped >= 2); /* rollups, oldest first */
    T_CHECK_EQ_INT(f.rows_dropped, f.dropped * 5);
    T_CHECK_EQ_INT(f.refused, 0);
    for (int i = 60; i < 110; i++) {
        snprintf(dev, sizeof(dev), "pump-%d", i);
        trigger(w, LEDGER_OP_TRIGGER, dev, "dry_run", GW_PRIO_HIGH, 3000);
    }
    T_CHECK(take_until(&q, g, nprov_at_least, 111, 5000));
    figures_at(w, 100, &f);
    T_CHECK_EQ_INT(f.depth, 100);
    T_CHECK_EQ_INT(f.dropped, 10); /* every rollup */
    T_CHECK_EQ_INT(f.refused, 12); /* 1 + 1 + 110 work-order ops, 100 kept */
    T_CHECK_EQ_INT(f.provisional, 111);

    set_pages("0");
    T_CHECK(take_until(&q, g, has_health, LEDGER_STORAGE_OK, 5000));
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    db = lt_raw(lt_path("bound.db"));
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 99);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM rollup_1m"), 0);
    sqlite3_close(db);
    gw_queue_destroy(&q);
    free(g);
}

/* A ledger of random bytes at start: moved aside (kept, with the same
 * bytes), a fresh one created, the health event says where it went. */
T_TEST(test_random_bytes_at_start)
{
    const char *path = lt_path("random.db");
    unsigned char junk[8192], back[8192];
    ledger_worker_t *w = NULL;
    gw_queue_t q;
    got_t *g = calloc(1, sizeof(*g));
    char err[256];
    struct stat st;
    FILE *f;
    sqlite3 *db;

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(rand() & 0xff);
    memcpy(junk, "garbage!", 8);
    f = fopen(path, "wb");
    fwrite(junk, 1, sizeof(junk), f);
    fclose(f);
    gw_queue_init(&q, NULL, NULL);
    set_pages("0");
    T_CHECK_EQ_INT(ledger_worker_start(&w, path, &q, err, sizeof(err)), 0);
    T_CHECK(strstr(err, "damaged") != NULL);
    take(&q, g, 100);
    T_CHECK_EQ_INT(g->health[0], LEDGER_STORAGE_OK);
    T_CHECK(strstr(g->moved_to, "random.db.corrupt-") != NULL);
    f = fopen(g->moved_to, "rb");
    T_CHECK(f && fread(back, 1, sizeof(back), f) == sizeof(back));
    if (f)
        fclose(f);
    T_CHECK(memcmp(junk, back, sizeof(junk)) == 0);
    trigger(w, LEDGER_OP_TRIGGER, "lift-1", "vib", GW_PRIO_HIGH, 1);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    T_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    db = lt_raw(path);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders"), 1);
    sqlite3_close(db);
    gw_queue_destroy(&q);
    free(g);
}

/* Damaged while open: the next batch meets it, the file goes aside, the
 * batch is applied to a fresh file, whose outbox ids go on above those
 * already posted. */
T_TEST(test_damaged_while_open)
{
    const char *path = lt_path("live.db");
    char junk[4096], err[256];
    ledger_worker_t *w = NULL;
    gw_queue_t q;
    got_t *g = calloc(1, sizeof(*g));
    sqlite3 *db;
    int fd;

    gw_queue_init(&q, NULL, NULL);
    T_CHECK_EQ_INT(ledger_worker_start(&w, path, &q, err, sizeof(err)), 0);
    trigger(w, LEDGER_OP_TRIGGER, "lift-1", "vib", GW_PRIO_HIGH, 1);
    T_CHECK(take_until(&q, g, nout_at_least, 1, 5000));
    /* Everything into the main file (the thread's cache is then read
     * again), then the main file overwritten, as a failing card would. */
    db = lt_raw(path);
    T_CHECK(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    memset(junk, 0x5a, sizeof(junk));
    fd = open(path, O_WRONLY);
    T_CHECK(fd >= 0);
    for (off_t off = 0; fd >= 0 && off < 64 * 4096; off += (off_t)sizeof(junk))
        T_CHECK(pwrite(fd, junk, sizeof(junk), off) == (ssize_t)sizeof(junk));
    close(fd);
    trigger(w, LEDGER_OP_TRIGGER, "lift-2", "vib", GW_PRIO_HIGH, 2);
    T_CHECK(take_until(&q, g, nout_at_least, 2, 8000));
    T_CHECK(strstr(g->moved_to, "live.db.corrupt-") != NULL);
    T_CHECK(g->nout == 2 && g->out_rows[1] > g->out_rows[0]);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    db = lt_raw(path);
    T_CHECK_EQ_INT(lt_int(db, "SELECT count(*) FROM work_orders WHERE device = 'lift-2'"), 1);
    sqlite3_close(db);
    gw_queue_destroy(&q);
    free(g);
}

/* Each consumer acknowledges on its own; the row goes when both have it.
 * Rows past the retention go whatever their acknowledgements. */
T_TEST(test_outbox_consumers_and_purge)
{
    const char *path = lt_path("acks.db");
    ledger_trigger_t t = lt_trigger("hq", "lift-1", "vib", 1);
    ledger_outbox_row_t *rows = NULL;
    ledger_t *lg = NULL;
    int64_t purged = -1;
    size_t n = 0;
    char err[256];

    T_CHECK_EQ_INT(ledger_open(&lg, path, LEDGER_OPEN_CREATE, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_wo_trigger(lg, &t, NULL, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_wo_clear(lg, "hq", "lift-1", "vib", 2, NULL, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_outbox_list(lg, 0, 0, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 2);
    T_CHECK_EQ_INT(ledger_outbox_ack(lg, rows[0].id, LEDGER_CONSUMER_MQTT, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_outbox_ack(lg, rows[0].id, LEDGER_CONSUMER_MQTT, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(ledger_outbox_ack(lg, rows[1].id, LEDGER_CONSUMER_NOTIFY, err, sizeof(err)), 0);
    T_CHECK(ledger_outbox_ack(lg, rows[1].id, 8, err, sizeof(err)) == GW_EINVAL);
    ledger_outbox_free_array(rows, n);
    T_CHECK_EQ_INT(ledger_outbox_list(lg, 0, 0, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 2);
    T_CHECK(n == 2 && rows[0].acked == LEDGER_CONSUMER_MQTT);
    T_CHECK(n == 2 && rows[1].acked == LEDGER_CONSUMER_NOTIFY);
    T_CHECK_EQ_INT(ledger_outbox_ack(lg, rows[0].id, LEDGER_CONSUMER_NOTIFY, err, sizeof(err)), 0);
    ledger_outbox_free_array(rows, n);
    T_CHECK_EQ_INT(ledger_outbox_list(lg, 0, 0, &rows, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n, 1); /* both had the first: gone */
    ledger_outbox_free_array(rows, n);
    /* the second, never taken by MQTT, goes with age */
    T_CHECK_EQ_INT(ledger_outbox_purge(lg, 0, &purged, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(purged, 0);
    T_CHECK_EQ_INT(ledger_outbox_purge(lg, INT64_MAX, &purged, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(purged, 1);
    ledger_close(lg);
}

int main(void)
{
    lt_tmpdir();
    setenv("PLANTROOM_TEST_LEDGER_PAGES_FILE", lt_path("pages"), 1);
    T_RUN(test_full_then_recovers);
    T_RUN(test_bound_drops_repeatable_first);
    T_RUN(test_random_bytes_at_start);
    T_RUN(test_damaged_while_open);
    T_RUN(test_outbox_consumers_and_purge);
    lt_cleanup();
    return t_done();
}
