/*
 * ledger_worker.c: the ledger thread (store/ledger_worker.h).
 *
 * One pthread owns one ledger connection. It waits on its op queue, takes
 * every op queued, and applies them as one batch: BEGIN IMMEDIATE, each op
 * (each runs in a SAVEPOINT of its own inside ledger.c, so a failing op
 * undoes only its own writes and the rest of the batch stays), COMMIT. Only
 * after the commit does it post results: errors of single ops, the work
 * orders opened, and the outbox rows written (read back by id above the
 * last one it posted, in id order), so nobody hears of a change that a
 * crash could still take back (docs/architecture.md, "Durability order").
 *
 * When the batch as a whole fails (BEGIN or COMMIT fails, or an op fails
 * with a condition that may pass: disk full, I/O error, out of memory, lock
 * busy) everything is rolled back, an error is posted and logged, and the
 * same ops, plus any that arrived meanwhile, are tried again after about a
 * second. Nothing is dropped, except at stop: after LEDGER__STOP_TRIES more
 * failed tries the thread gives up and logs how many ops it lost, so that a
 * dead disk cannot hang the daemon's shutdown.
 */
#include "store/ledger_worker.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEDGER__OP_STOP    399   /* the sentinel pushed by ledger_worker_stop */
#define LEDGER__RETRY_MS   1000  /* pause after a failed batch */
#define LEDGER__STOP_TRIES 3     /* failed batches tolerated once stopping */
#define LEDGER__LOG_EVERY  30    /* log (and report) one failed retry in this many */
#define LEDGER__HOUSE_MS   60000 /* how often to check for housekeeping */
#define LEDGER__DAY_MS     (24LL * 3600 * 1000)

/* Who owns what: the worker owns lg, ops (and every op queued in it), the
 * pending batch and the stop message; results belongs to the caller. */
struct ledger_worker {
    ledger_t *lg;
    gw_queue_t ops;
    gw_queue_t *results; /* may be NULL: results are then dropped */
    pthread_t thread;
    pthread_mutex_t mu; /* guards stopping; with cond, the retry pause */
    pthread_cond_t cond;
    int stopping;
    gw_msg_t stop_msg;       /* pushed once by ledger_worker_stop, never freed */
    atomic_size_t pending_n; /* ops taken but not yet committed */
    int64_t last_outbox_id;  /* highest outbox id posted (or present at start) */
    int has_policy;          /* a LEDGER_OP_POLICY was applied: housekeeping on */
    int64_t next_purge_ms;   /* wall time of the next retention purge */
    int64_t next_report_ms;  /* wall time of the next monthly-report check */
    int house_failures;      /* consecutive failed housekeeping runs, for the log */
    size_t lost;             /* ops given up at stop */
};

/* A list of messages with a tail, for batches and results. */
typedef struct ledger__list {
    gw_msg_t *head, *tail;
    size_t n;
} ledger__list_t;

static void ledger__list_add(ledger__list_t *l, gw_msg_t *m)
{
    m->next = NULL;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    l->n++;
}

static void ledger__list_free(ledger__list_t *l)
{
    gw_msg_free_list(l->head);
    memset(l, 0, sizeof(*l));
}

/* ---- messages ----------------------------------------------------------- */

static size_t ledger__slen(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Copy s into the arena at *p; NULL stays NULL. */
static const char *ledger__scopy(char **p, const char *s)
{
    char *d;
    size_t n;

    if (!s)
        return NULL;
    n = strlen(s) + 1;
    d = *p;
    memcpy(d, s, n);
    *p += n;
    return d;
}

ledger_op_trigger_t *ledger_op_trigger_new(int kind, const ledger_trigger_t *t)
{
    ledger_op_trigger_t *op;
    size_t size;
    char *p;

    if (!t || (kind != LEDGER_OP_TRIGGER && kind != LEDGER_OP_TOUCH && kind != LEDGER_OP_CLEAR))
        return NULL;
    size = sizeof(*op) + ledger__slen(t->site) + ledger__slen(t->device) + ledger__slen(t->rule) +
           ledger__slen(t->title) + ledger__slen(t->description) + ledger__slen(t->category) +
           ledger__slen(t->work_type) + ledger__slen(t->evidence_json) + ledger__slen(t->building) +
           ledger__slen(t->floor) + ledger__slen(t->room);
    op = malloc(size);
    if (!op)
        return NULL;
    memset(op, 0, sizeof(*op));
    op->hdr.kind = kind;
    op->t = *t;
    p = (char *)(op + 1);
    op->t.site = ledger__scopy(&p, t->site);
    op->t.device = ledger__scopy(&p, t->device);
    op->t.rule = ledger__scopy(&p, t->rule);
    op->t.title = ledger__scopy(&p, t->title);
    op->t.description = ledger__scopy(&p, t->description);
    op->t.category = ledger__scopy(&p, t->category);
    op->t.work_type = ledger__scopy(&p, t->work_type);
    op->t.evidence_json = ledger__scopy(&p, t->evidence_json);
    op->t.building = ledger__scopy(&p, t->building);
    op->t.floor = ledger__scopy(&p, t->floor);
    op->t.room = ledger__scopy(&p, t->room);
    return op;
}

ledger_op_outbox_t *ledger_op_outbox_new(int kind, int64_t id)
{
    ledger_op_outbox_t *op;

    if (kind != LEDGER_OP_OUTBOX_ACK && kind != LEDGER_OP_OUTBOX_LOAD)
        return NULL;
    op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->hdr.kind = kind;
    op->id = id;
    return op;
}

ledger_op_rollup_t *ledger_op_rollup_new(size_t n)
{
    ledger_op_rollup_t *op = calloc(1, sizeof(*op) + n * sizeof(op->rows[0]));

    if (!op)
        return NULL;
    op->hdr.kind = LEDGER_OP_ROLLUP;
    op->n = n;
    return op;
}

ledger_op_device_t *ledger_op_device_new(const char *device, const char *status, int64_t ts_ms,
                                         const char *detail)
{
    ledger_op_device_t *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->hdr.kind = LEDGER_OP_DEVICE;
    snprintf(op->device, sizeof(op->device), "%s", device ? device : "");
    snprintf(op->status, sizeof(op->status), "%s", status ? status : "");
    snprintf(op->detail, sizeof(op->detail), "%s", detail ? detail : "");
    op->ts_ms = ts_ms;
    return op;
}

ledger_op_policy_t *ledger_op_policy_new(const ledger_policy_t *p)
{
    ledger_op_policy_t *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->hdr.kind = LEDGER_OP_POLICY;
    op->policy = *p;
    return op;
}

/* Copy s into dst[len]; 0, or -1 when it does not fit. */
static int ledger__fit(char *dst, size_t len, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n >= len)
        return -1;
    memcpy(dst, s ? s : "", n + 1);
    return 0;
}

ledger_op_change_t *ledger_op_change_new(ledger_change_kind_t what, const char *ref,
                                         const char *arg, const char *comment,
                                         const ledger_actor_t *by, uint64_t tag)
{
    ledger_op_change_t *op;

    if (!by || !ref || !arg)
        return NULL;
    op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->hdr.kind = LEDGER_OP_CHANGE;
    op->what = what;
    op->tag = tag;
    if (ledger__fit(op->ref, sizeof(op->ref), ref) < 0 ||
        ledger__fit(op->arg, sizeof(op->arg), arg) < 0 ||
        ledger__fit(op->comment, sizeof(op->comment), comment) < 0 ||
        ledger__fit(op->who, sizeof(op->who), by->who) < 0 ||
        ledger__fit(op->channel, sizeof(op->channel), by->channel) < 0) {
        free(op);
        return NULL;
    }
    return op;
}

/* The answer to a change op. NULL on out of memory. */
static ledger_ev_changed_t *ledger__ev_changed(const ledger_op_change_t *op, int rc,
                                               const char *msg)
{
    ledger_ev_changed_t *ev = calloc(1, sizeof(*ev));

    if (!ev)
        return NULL;
    ev->hdr.kind = LEDGER_EV_CHANGED;
    ev->tag = op->tag;
    ev->rc = rc;
    snprintf(ev->msg, sizeof(ev->msg), "%s", msg ? msg : "");
    return ev;
}

/* Apply a change op; on success its answer goes to res (posted after the
 * commit). */
static int ledger__apply_change(ledger_worker_t *w, ledger_op_change_t *op, ledger__list_t *res,
                                char *err, size_t errlen)
{
    ledger_actor_t by = {op->who, op->channel};
    ledger_ev_changed_t *ev;
    ledger_wo_t wo;
    int rc;

    if (op->what == LEDGER_CHANGE_STATUS)
        rc = ledger_wo_set_status(w->lg, op->ref, op->arg, &by, op->comment[0] ? op->comment : NULL,
                                  err, errlen);
    else if (op->what == LEDGER_CHANGE_ASSIGN)
        rc = ledger_wo_assign(w->lg, op->ref, op->arg, &by, err, errlen);
    else if (op->what == LEDGER_CHANGE_NOTE)
        rc = ledger_wo_add_note(w->lg, op->ref, op->arg, &by, err, errlen);
    else
        rc = ledger__fail(GW_EINVAL, err, errlen, "unknown change kind %d", (int)op->what);
    if (rc < 0)
        return rc;
    ev = ledger__ev_changed(op, 0, "ok");
    if (!ev) /* the change is in; only the answer is lost */
        return 0;
    if (ledger_wo_get(w->lg, op->ref, &wo, NULL, 0) == 0) {
        snprintf(ev->id, sizeof(ev->id), "%s", wo.id);
        ev->number = wo.number;
        snprintf(ev->status, sizeof(ev->status), "%s", wo.status);
        ledger_wo_free_fields(&wo);
    }
    ledger__list_add(res, &ev->hdr);
    return 0;
}

static void ledger__ev_outbox_free(gw_msg_t *m)
{
    ledger_ev_outbox_t *ev = (ledger_ev_outbox_t *)m;

    free(ev->row.channel);
    free(ev->row.key);
    free(ev->row.payload);
    free(ev);
}

/* An error result. NULL on out of memory (the error is then only logged). */
static gw_msg_t *ledger__ev_error(int rc, const char *msg)
{
    ledger_ev_error_t *ev = calloc(1, sizeof(*ev));

    if (!ev)
        return NULL;
    ev->hdr.kind = LEDGER_EV_ERROR;
    ev->rc = rc;
    snprintf(ev->msg, sizeof(ev->msg), "%s", msg);
    return &ev->hdr;
}

static void ledger__post(ledger_worker_t *w, gw_msg_t *m)
{
    if (!m)
        return;
    if (w->results)
        gw_queue_push(w->results, m);
    else
        gw_msg_free(m);
}

/* Post an error now (not tied to a commit: it reports a failure). */
static void ledger__post_error(ledger_worker_t *w, int rc, const char *msg)
{
    gw_msg_t *m = ledger__ev_error(rc, msg);

    if (!m)
        gw_log_error("ledger", "out of memory reporting: %s", msg);
    ledger__post(w, m);
}

/* ---- one batch ---------------------------------------------------------- */

/* Post outbox rows with after_id < id <= upto (upto < 0: no bound) as
 * LEDGER_EV_OUTBOX, in id order. Returns the highest id posted (after_id if
 * none) or a negative code. Rows stay in the table until acknowledged, so a
 * failure here loses nothing: they are posted by a later read. */
static int64_t ledger__post_outbox(ledger_worker_t *w, int64_t after_id, int64_t upto)
{
    ledger_outbox_row_t *rows;
    char err[256];
    int64_t last = after_id;
    size_t n;
    int rc;

    rc = ledger_outbox_list(w->lg, after_id, 0, &rows, &n, err, sizeof(err));
    if (rc < 0) {
        gw_log_error("ledger", "reading the outbox back: %s", err);
        ledger__post_error(w, rc, err);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        ledger_ev_outbox_t *ev;
        if (upto >= 0 && rows[i].id > upto)
            break;
        ev = calloc(1, sizeof(*ev));
        if (!ev) {
            gw_log_error("ledger", "out of memory posting outbox row %lld", (long long)rows[i].id);
            break;
        }
        ev->hdr.kind = LEDGER_EV_OUTBOX;
        ev->hdr.free_fn = ledger__ev_outbox_free;
        ev->row = rows[i]; /* the event takes the row's strings */
        memset(&rows[i], 0, sizeof(rows[i]));
        last = ev->row.id;
        ledger__post(w, &ev->hdr);
    }
    ledger_outbox_free_array(rows, n);
    return last;
}

/* Apply one op inside the batch's transaction. Results that are due after
 * the commit go to *res. Returns 0, or the op's error code; err says why. */
static int ledger__apply(ledger_worker_t *w, gw_msg_t *m, ledger__list_t *res, char *err,
                         size_t errlen)
{
    ledger_op_trigger_t *op = (ledger_op_trigger_t *)m;
    ledger_trigger_result_t r;
    ledger_ev_opened_t *ev;
    int rc;

    switch (m->kind) {
    case LEDGER_OP_TRIGGER:
        rc = ledger_wo_trigger(w->lg, &op->t, &r, err, errlen);
        if (rc < 0 || !r.opened)
            return rc;
        ev = calloc(1, sizeof(*ev));
        if (!ev) /* the order is in; only the notice is lost */
            return ledger__fail(GW_ENOMEM, err, errlen, "out of memory noting opened %s", r.id);
        ev->hdr.kind = LEDGER_EV_OPENED;
        ev->res = r;
        snprintf(ev->device, sizeof(ev->device), "%s", op->t.device);
        snprintf(ev->rule, sizeof(ev->rule), "%s", op->t.rule);
        ledger__list_add(res, &ev->hdr);
        return 0;
    case LEDGER_OP_TOUCH:
        return ledger_wo_touch(w->lg, &op->t, err, errlen);
    case LEDGER_OP_CLEAR:
        return ledger_wo_clear(w->lg, op->t.site, op->t.device, op->t.rule, op->t.ts_ms,
                               op->t.evidence_json, err, errlen);
    case LEDGER_OP_OUTBOX_ACK:
        return ledger_outbox_delete(w->lg, ((ledger_op_outbox_t *)m)->id, err, errlen);
    case LEDGER_OP_OUTBOX_LOAD:
        return 0; /* read after the commit */
    case LEDGER_OP_STATS: {
        ledger_ev_stats_t *st = calloc(1, sizeof(*st));
        if (!st)
            return ledger__fail(GW_ENOMEM, err, errlen, "out of memory for stats");
        st->hdr.kind = LEDGER_EV_STATS;
        rc = ledger_stats(w->lg, &st->stats, err, errlen);
        if (rc < 0) {
            free(st);
            return rc;
        }
        ledger__list_add(res, &st->hdr);
        return 0;
    }
    case LEDGER_OP_ROLLUP:
        return ledger_rollup_add(w->lg, ((ledger_op_rollup_t *)m)->rows,
                                 ((ledger_op_rollup_t *)m)->n, err, errlen);
    case LEDGER_OP_DEVICE: {
        ledger_op_device_t *d = (ledger_op_device_t *)m;
        return ledger_device_status(w->lg, d->device, d->status, d->ts_ms,
                                    d->detail[0] ? d->detail : NULL, err, errlen);
    }
    case LEDGER_OP_POLICY:
        ledger_set_policy(w->lg, &((ledger_op_policy_t *)m)->policy);
        w->has_policy = 1;
        return 0;
    case LEDGER_OP_CHANGE:
        return ledger__apply_change(w, (ledger_op_change_t *)m, res, err, errlen);
    default:
        return ledger__fail(GW_EINVAL, err, errlen, "unknown ledger op kind %d", m->kind);
    }
}

/* Name an op in messages: "trigger site/device/rule". */
static void ledger__describe(const gw_msg_t *m, const char *reason, char *out, size_t outlen)
{
    const ledger_op_trigger_t *op = (const ledger_op_trigger_t *)m;
    static const char *const names[] = {"trigger", "touch", "clear"};

    if (m->kind >= LEDGER_OP_TRIGGER && m->kind <= LEDGER_OP_CLEAR)
        snprintf(out, outlen, "%s %s/%s/%s: %s", names[m->kind - LEDGER_OP_TRIGGER],
                 op->t.site ? op->t.site : "?", op->t.device ? op->t.device : "?",
                 op->t.rule ? op->t.rule : "?", reason);
    else
        snprintf(out, outlen, "op %d: %s", m->kind, reason);
}

/* Apply the batch in one transaction. On 0 the batch is committed and its
 * results posted. On a negative code nothing was kept (rolled back) and the
 * reason is in err: the caller retries the same batch later. */
static int ledger__apply_batch(ledger_worker_t *w, ledger__list_t *batch, char *err, size_t errlen)
{
    ledger__list_t res = {0};
    char why[200];
    char msg[256];
    int64_t before = w->last_outbox_id;
    int64_t last;
    int rc;

    rc = ledger_begin(w->lg, err, errlen);
    if (rc < 0)
        return rc;
    for (gw_msg_t *m = batch->head; m; m = m->next) {
        rc = ledger__apply(w, m, &res, why, sizeof(why));
        if (rc == 0)
            continue;
        ledger__describe(m, why, msg, sizeof(msg));
        if (ledger__transient(rc) || !ledger__in_tx(w->lg)) {
            /* Not this op's fault, or SQLite ended the transaction itself:
             * the whole batch is retried. */
            ledger__fail(rc, err, errlen, "%s", msg);
            goto out_rollback;
        }
        /* This op cannot succeed: drop it, keep the others. A refused
         * change is the asker's business, answered, not a ledger error. */
        if (m->kind == LEDGER_OP_CHANGE) {
            ledger_ev_changed_t *ch = ledger__ev_changed((ledger_op_change_t *)m, rc, why);
            if (ch)
                ledger__list_add(&res, &ch->hdr);
            continue;
        }
        gw_log_error("ledger", "%s", msg);
        gw_msg_t *ev = ledger__ev_error(rc, msg);
        if (ev)
            ledger__list_add(&res, ev);
    }
    rc = ledger_commit(w->lg, err, errlen);
    if (rc < 0)
        goto out_rollback;

    /* Committed: nothing waits any more, and now the loop may hear of it. */
    atomic_store(&w->pending_n, 0);
    for (gw_msg_t *m = res.head, *next; m; m = next) {
        next = m->next;
        ledger__post(w, m);
    }
    memset(&res, 0, sizeof(res));
    /* A LOAD asks for rows older than this batch; the batch's own rows
     * follow, once. */
    for (gw_msg_t *m = batch->head; m; m = m->next) {
        if (m->kind == LEDGER_OP_OUTBOX_LOAD && ((ledger_op_outbox_t *)m)->id < before)
            ledger__post_outbox(w, ((ledger_op_outbox_t *)m)->id, before);
    }
    last = ledger__post_outbox(w, before, -1);
    if (last > w->last_outbox_id)
        w->last_outbox_id = last;
    return 0;

out_rollback:
    ledger_rollback(w->lg);
    ledger__list_free(&res);
    return rc;
}

/* ---- the thread --------------------------------------------------------- */

/* Wait ms, or less if stop is requested while waiting. */
static void ledger__pause(ledger_worker_t *w, int ms)
{
    struct timespec deadline;
    int was_stopping;

    deadline = gw_mono_deadline(ms);
    pthread_mutex_lock(&w->mu);
    was_stopping = w->stopping;
    while (w->stopping == was_stopping) {
        if (pthread_cond_timedwait(&w->cond, &w->mu, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->mu);
}

/* Purge once a day; write last month's report once it has ended (and the
 * ledger holds data from before its end, so that a new install does not
 * write an empty report of a month it never saw). Failures are logged and
 * tried again at the next check; nothing else depends on them. */
static void ledger__housekeeping(ledger_worker_t *w)
{
    const ledger_policy_t *p = ledger__policy(w->lg);
    int64_t now = gw_wall_ms();
    int64_t deleted = 0, from, to;
    char month[8];
    char err[256];
    int rc = 0;

    if (!w->has_policy || (now < w->next_purge_ms && now < w->next_report_ms))
        return;
    if (now >= w->next_purge_ms) {
        rc = ledger_purge(w->lg, now, &deleted, err, sizeof(err));
        if (rc == 0) {
            w->next_purge_ms = now + LEDGER__DAY_MS;
            if (deleted)
                gw_log_info("ledger", "retention: %lld old rows purged", (long long)deleted);
        }
    }
    if (rc == 0 && now >= w->next_report_ms) {
        w->next_report_ms = now + LEDGER__HOUSE_MS;
        ledger_prev_month(now, month);
        if (p->report_dir[0] && ledger__month_range(month, &from, &to) == 0 &&
            ledger__has_data_before(w->lg, to)) {
            rc = ledger_report_write(w->lg, p->report_dir, month, now, err, sizeof(err));
            if (rc == 0)
                gw_log_notice("ledger", "monthly report %s written to %s", month, p->report_dir);
            rc = rc > 0 ? 0 : rc;
        }
    }
    if (rc < 0) {
        if (w->house_failures++ % LEDGER__LOG_EVERY == 0)
            gw_log_error("ledger", "housekeeping: %s", err);
        if (w->house_failures == 1)
            ledger__post_error(w, rc, err);
        w->next_report_ms = now + LEDGER__HOUSE_MS;
        return;
    }
    w->house_failures = 0;
}

/* Move the taken messages into the batch; returns 1 if the stop message
 * was among them (ops queued after it are a caller's bug, and dropped). */
static int ledger__take(ledger_worker_t *w, gw_msg_t *in, ledger__list_t *batch)
{
    int stop = 0;

    while (in) {
        gw_msg_t *next = in->next;
        if (in == &w->stop_msg)
            stop = 1;
        else if (stop)
            gw_msg_free(in);
        else
            ledger__list_add(batch, in);
        in = next;
    }
    atomic_store(&w->pending_n, batch->n);
    return stop;
}

static void *ledger__thread(void *arg)
{
    ledger_worker_t *w = arg;
    ledger__list_t batch = {0};
    char err[256];
    int failures = 0, failures_stopping = 0;
    int stop = 0;
    int rc;

    while (!stop || batch.n) {
        if (!stop) {
            /* Block only when there is nothing left to retry. */
            gw_msg_t *in =
                batch.n ? gw_queue_take_all(&w->ops) : gw_queue_wait_all(&w->ops, LEDGER__HOUSE_MS);
            stop = ledger__take(w, in, &batch);
        }
        if (!batch.n) {
            if (!stop)
                ledger__housekeeping(w);
            continue;
        }
        rc = ledger__apply_batch(w, &batch, err, sizeof(err));
        if (rc == 0) {
            if (failures)
                gw_log_notice("ledger", "committed again after %d failed tries", failures);
            failures = 0;
            ledger__list_free(&batch);
            atomic_store(&w->pending_n, 0);
            if (!stop)
                ledger__housekeeping(w);
            continue;
        }
        failures++;
        /* The log and the loop hear of the first failure and then of one in
         * LEDGER__LOG_EVERY: a dead disk does not flood either. */
        if (failures == 1 || failures % LEDGER__LOG_EVERY == 0) {
            gw_log_error("ledger", "batch of %zu ops not committed (try %d): %s; retrying", batch.n,
                         failures, err);
            ledger__post_error(w, rc, err);
        }
        if (stop && ++failures_stopping >= LEDGER__STOP_TRIES) {
            gw_log_error("ledger", "stopping: %zu ops lost, never committed: %s", batch.n, err);
            w->lost = batch.n;
            ledger__list_free(&batch);
            atomic_store(&w->pending_n, 0);
            break;
        }
        ledger__pause(w, LEDGER__RETRY_MS);
    }
    return NULL;
}

/* ---- life cycle --------------------------------------------------------- */

int ledger_worker_start(ledger_worker_t **out, const char *path, gw_queue_t *results, char *err,
                        size_t errlen)
{
    ledger_worker_t *w;
    pthread_condattr_t ca;
    int rc;

    *out = NULL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return ledger__fail(GW_ENOMEM, err, errlen, "ledger worker: out of memory");
    w->results = results;
    w->stop_msg.kind = LEDGER__OP_STOP;
    atomic_init(&w->pending_n, 0);
    rc = gw_queue_init(&w->ops, NULL, NULL);
    if (rc < 0) {
        ledger__fail(rc, err, errlen, "ledger worker: cannot create its queue");
        goto out_free;
    }
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger worker: cannot create a mutex");
        goto out_destroy_queue;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger worker: cannot create a condvar");
        goto out_destroy_mutex;
    }
    rc = ledger_open(&w->lg, path, LEDGER_OPEN_CREATE, err, errlen);
    if (rc < 0)
        goto out_destroy_cond;
    rc = ledger__outbox_max_id(w->lg, &w->last_outbox_id, err, errlen);
    if (rc < 0)
        goto out_close_ledger;
    rc = pthread_create(&w->thread, NULL, ledger__thread, w);
    if (rc != 0) {
        rc = ledger__fail(-rc, err, errlen, "ledger worker: cannot start thread: %s", strerror(rc));
        goto out_close_ledger;
    }
    *out = w;
    return 0;

out_close_ledger:
    ledger_close(w->lg);
out_destroy_cond:
    pthread_cond_destroy(&w->cond);
out_destroy_mutex:
    pthread_mutex_destroy(&w->mu);
out_destroy_queue:
    gw_queue_destroy(&w->ops);
out_free:
    free(w);
    return rc;
}

void ledger_worker_submit(ledger_worker_t *w, gw_msg_t *op)
{
    if (op)
        gw_queue_push(&w->ops, op);
}

int ledger_worker_stop(ledger_worker_t *w)
{
    size_t lost;

    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cond); /* cut a retry pause short */
    pthread_mutex_unlock(&w->mu);
    /* Behind every op submitted so far: the thread applies them all first. */
    gw_queue_push(&w->ops, &w->stop_msg);
    pthread_join(w->thread, NULL);
    lost = w->lost;
    ledger_close(w->lg);
    gw_queue_destroy(&w->ops); /* ops submitted after stop, if any */
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return lost ? GW_EIO : 0;
}

size_t ledger_worker_depth(ledger_worker_t *w)
{
    return gw_queue_depth(&w->ops) + atomic_load(&w->pending_n);
}
