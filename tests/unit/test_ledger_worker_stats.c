/*
 * test_ledger_worker_stats.c: the ledger thread answers the service's
 * count request (LEDGER_OP_STATS, every 5 s) only when the file changed
 * since its last answer: a write of its own or a commit of another
 * connection (plantroomctl) brings new counts, nothing else does. Real
 * files, a real thread.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_admin.h"
#include "store/ledger_worker.h"

#include "ledger_testutil.h"
#include "t.h"

/* Ask for the counts, then for the active orders (answered after a commit,
 * so after any answer to the counts): the counts posted, or NULL. */
static ledger_ev_stats_t *ask(ledger_worker_t *w, gw_queue_t *q)
{
    gw_msg_t *op = calloc(1, sizeof(*op));
    ledger_op_active_t *barrier = ledger_op_active_new(1);
    ledger_ev_stats_t *got = NULL;
    int done = 0;

    T_CHECK(op && barrier);
    if (!op || !barrier)
        return NULL;
    op->kind = LEDGER_OP_STATS;
    ledger_worker_submit(w, op);
    ledger_worker_submit(w, &barrier->hdr);
    for (int i = 0; i < 300 && !done; i++) { /* 30 s */
        gw_msg_t *m = gw_queue_wait_all(q, 100);
        while (m) {
            gw_msg_t *next = m->next;
            done |= m->kind == LEDGER_EV_ACTIVE;
            if (m->kind == LEDGER_EV_STATS && !got)
                got = (ledger_ev_stats_t *)m;
            else
                gw_msg_free(m);
            m = next;
        }
    }
    T_CHECK(done);
    return got;
}

/* Open a work order and wait for the thread's notice (committed). */
static void open_order(ledger_worker_t *w, gw_queue_t *q, const char *device)
{
    ledger_trigger_t t = lt_trigger("hq", device, "vib", 1000);
    ledger_op_trigger_t *op = ledger_op_trigger_new(LEDGER_OP_TRIGGER, &t);
    int opened = 0;

    T_CHECK(op != NULL);
    if (!op)
        return;
    ledger_worker_submit(w, &op->hdr);
    for (int i = 0; i < 300 && !opened; i++) {
        gw_msg_t *m = gw_queue_wait_all(q, 100);
        while (m) {
            gw_msg_t *next = m->next;
            opened |= m->kind == LEDGER_EV_OPENED;
            gw_msg_free(m);
            m = next;
        }
    }
    T_CHECK(opened);
}

static int64_t open_count(ledger_ev_stats_t *ev)
{
    int64_t n = ev ? ev->stats.by_status[0] : -1;

    gw_msg_free(ev ? &ev->hdr : NULL);
    return n;
}

T_TEST(counts_answered_only_after_a_change)
{
    gw_queue_t q;
    ledger_worker_t *w = NULL;
    ledger_t *other = NULL;
    ledger_trigger_t t = lt_trigger("hq", "pump-9", "vib", 2000);
    ledger_trigger_result_t res;
    char err[256] = "";

    gw_queue_init(&q, NULL, NULL);
    T_CHECK_EQ_INT(ledger_worker_start(&w, lt_path("stats.db"), &q, err, sizeof(err)), 0);
    if (!w)
        return;
    open_order(w, &q, "lift-1");
    T_CHECK_EQ_INT(open_count(ask(w, &q)), 1);
    /* nothing written since: no answer, the loop keeps what it has */
    T_CHECK(ask(w, &q) == NULL);
    T_CHECK(ask(w, &q) == NULL);
    /* another connection commits (plantroomctl) */
    T_CHECK_EQ_INT(ledger_open(&other, lt_path("stats.db"), 0, err, sizeof(err)), 0);
    if (other) {
        T_CHECK_EQ_INT(ledger_wo_trigger(other, &t, &res, err, sizeof(err)), 0);
        ledger_close(other);
    }
    T_CHECK_EQ_INT(open_count(ask(w, &q)), 2);
    T_CHECK(ask(w, &q) == NULL);
    /* the thread writes itself */
    open_order(w, &q, "lift-2");
    T_CHECK_EQ_INT(open_count(ask(w, &q)), 3);
    T_CHECK_EQ_INT(ledger_worker_stop(w), 0);
    gw_queue_destroy(&q);
}

int main(void)
{
    lt_tmpdir();
    T_RUN(counts_answered_only_after_a_change);
    lt_cleanup();
    return t_done();
}
