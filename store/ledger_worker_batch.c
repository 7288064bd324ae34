/*
 * ledger_worker_batch.c: one batch of the ledger thread (design at the top
 * of ledger_worker.c; docs/architecture.md, "Durability order"): the ops
 * of a batch are applied inside one transaction, each in a savepoint of
 * its own; an op that cannot succeed is dropped (and answered or
 * reported), one that fails for a reason that may pass (the storage) rolls
 * the whole batch back for a retry. Only after the COMMIT are results
 * posted: answers to changes, orders opened, errors, and the outbox rows
 * the batch wrote, in id order. An op announced before its commit
 * (ledger_worker_prov.c) is applied under the names it was announced with.
 * Also the lists and posting every file of the thread uses, and the notice
 * (once per row) that a commit went on past a damaged audit row.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_int.h"
#include "store/ledger_worker_int.h"

#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ledger__alive(ledger_worker_t *w)
{
    atomic_store(&w->progress_ms, (long long)gw_mono_ms());
}

void ledger__list_add(ledger__list_t *l, gw_msg_t *m)
{
    m->next = NULL;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    l->n++;
}

size_t ledger__weight(const gw_msg_t *m)
{
    if (m->kind == LEDGER_OP_ROLLUP) {
        size_t n = ((const ledger_op_rollup_t *)m)->n;
        return n ? n : 1;
    }
    return 1;
}

void ledger__list_free(ledger__list_t *l)
{
    gw_msg_free_list(l->head);
    memset(l, 0, sizeof(*l));
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

void ledger__post(ledger_worker_t *w, gw_msg_t *m)
{
    if (!m)
        return;
    if (w->results)
        gw_queue_push(w->results, m);
    else
        gw_msg_free(m);
}

/* After a commit: a damaged audit row appended past (see ledger_worker_int.h). */
void ledger__audit_break_note(ledger_worker_t *w)
{
    int64_t row = ledger_audit_break(w->lg);
    ledger_ev_audit_break_t *ev;

    if (!row || row == w->audit_break)
        return;
    w->audit_break = row;
    gw_log_error("ledger",
                 "ledger %s: audit row %lld has no valid hash (a damaged page or an edit): the "
                 "chain goes on past it from the hash of its content; run plantroomctl audit "
                 "verify",
                 w->path, (long long)row);
    pthread_mutex_lock(&w->mu);
    w->fig.audit_break = row;
    w->fig.audit_breaks++;
    pthread_mutex_unlock(&w->mu);
    ev = calloc(1, sizeof(*ev));
    if (!ev)
        return;
    ev->hdr.kind = LEDGER_EV_AUDIT_BREAK;
    ev->row = row;
    ledger__post(w, &ev->hdr);
}

/* Post an error now (not tied to a commit: it reports a failure). */
void ledger__post_error(ledger_worker_t *w, int rc, const char *msg)
{
    gw_msg_t *m = ledger__ev_error(rc, msg);

    if (!m)
        gw_log_error("ledger", "out of memory reporting: %s", msg);
    ledger__post(w, m);
}

/* ---- one batch ---------------------------------------------------------- */

/* Post rows after after_id, up to upto (< 0: no bound), at most limit (0:
 * all), tagged tag; *posted: how many. Returns the last id posted
 * (after_id if none) or a negative code. Rows stay in the table until
 * acknowledged, so a failure here loses nothing: they are posted by a
 * later read. */
static int64_t ledger__post_rows(ledger_worker_t *w, int64_t after_id, int64_t upto, int limit,
                                 uint64_t tag, size_t *posted)
{
    ledger_outbox_row_t *rows;
    char err[256];
    int64_t last = after_id;
    size_t n;
    int rc;

    *posted = 0;
    rc = ledger_outbox_list(w->lg, after_id, limit, &rows, &n, err, sizeof(err));
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
        ev->load_tag = tag;
        memset(&rows[i], 0, sizeof(rows[i]));
        last = ev->row.id;
        ledger__post(w, &ev->hdr);
        (*posted)++;
    }
    ledger_outbox_free_array(rows, n);
    return last;
}

int64_t ledger__post_outbox(ledger_worker_t *w, int64_t after_id, int64_t upto)
{
    size_t n;

    return ledger__post_rows(w, after_id, upto, 0, 0, &n);
}

void ledger__post_window(ledger_worker_t *w, const ledger_op_outbox_t *op)
{
    ledger_ev_outbox_loaded_t *ev = calloc(1, sizeof(*ev));
    int64_t last = op->id;
    size_t n = 0;

    if (w->lg)
        last = ledger__post_rows(w, op->id, -1, op->limit, op->tag, &n);
    if (n > 0 && last > w->last_outbox_id)
        w->last_outbox_id = last; /* posted: a commit's post starts after it */
    if (!ev) {
        gw_log_error("ledger", "out of memory answering an outbox load");
        return; /* the asker asks again */
    }
    ev->hdr.kind = LEDGER_EV_OUTBOX_LOADED;
    ev->tag = op->tag;
    ev->last_id = last < 0 ? op->id : last;
    ev->n = n;
    ev->more = !w->lg || last < 0 || n >= (size_t)op->limit;
    ledger__post(w, &ev->hdr);
}

int64_t ledger__post_new_outbox(ledger_worker_t *w)
{
    int64_t last = ledger__post_outbox(w, w->last_outbox_id, -1);

    if (last > w->last_outbox_id)
        w->last_outbox_id = last;
    return last;
}

/* Read every active work order for LEDGER_OP_ACTIVE; the answer goes to
 * res (posted after the commit). */
static int ledger__apply_active(ledger_worker_t *w, const ledger_op_active_t *op,
                                ledger__list_t *res, char *err, size_t errlen)
{
    ledger_wo_filter_t f = {.active_only = 1};
    ledger_ev_active_t *ev;
    ledger_wo_t *wo;
    size_t n;
    int rc = ledger_wo_list(w->lg, &f, &wo, &n, err, errlen);

    if (rc < 0)
        return rc;
    ev = calloc(1, sizeof(*ev) + (n ? n : 1) * sizeof(ev->orders[0]));
    if (!ev) {
        ledger_wo_free_array(wo, n);
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory listing active orders");
    }
    ev->hdr.kind = LEDGER_EV_ACTIVE;
    ev->tag = op->tag;
    for (size_t i = 0; i < n; i++) {
        ledger_active_order_t *o = &ev->orders[ev->n];
        if (!wo[i].site || !wo[i].device || !wo[i].rule || strlen(wo[i].site) >= sizeof(o->site) ||
            strlen(wo[i].device) >= sizeof(o->device) || strlen(wo[i].rule) >= sizeof(o->rule))
            continue;
        snprintf(o->site, sizeof(o->site), "%s", wo[i].site);
        snprintf(o->device, sizeof(o->device), "%s", wo[i].device);
        snprintf(o->rule, sizeof(o->rule), "%s", wo[i].rule);
        o->cleared = wo[i].cleared_at != 0;
        o->opened_at = wo[i].opened_at;
        o->last_seen_at = wo[i].last_seen_at;
        ev->n++;
    }
    ledger_wo_free_array(wo, n);
    ledger__list_add(res, &ev->hdr);
    return 0;
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

    if (m->kind >= LEDGER_OP_TRIGGER && m->kind <= LEDGER_OP_CLEAR) {
        /* the names its provisional event was announced under, if any */
        op->t.event_id = op->event_id[0] ? op->event_id : NULL;
        op->t.wo_ulid = op->wo_ulid[0] ? op->wo_ulid : NULL;
    }
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
        return ledger__wo_clear(w->lg, &op->t, err, errlen);
    case LEDGER_OP_OUTBOX_ACK: {
        ledger_op_outbox_t *ack = (ledger_op_outbox_t *)m;
        return ack->consumer == LEDGER_CONSUMERS
                   ? ledger_outbox_delete(w->lg, ack->id, err, errlen)
                   : ledger_outbox_ack(w->lg, ack->id, ack->consumer, err, errlen);
    }
    case LEDGER_OP_ROLLUP: {
        const ledger_op_rollup_t *ro = (const ledger_op_rollup_t *)m;
        return ro->packed
                   ? ledger_rollup_add_packed(w->lg, ro->packed, ro->n, ro->names, err, errlen)
                   : ledger_rollup_add(w->lg, ro->rows, ro->n, err, errlen);
    }
    case LEDGER_OP_DEVICE: {
        ledger_op_device_t *d = (ledger_op_device_t *)m;
        return ledger_device_status(w->lg, d->device, d->status, d->ts_ms,
                                    d->detail[0] ? d->detail : NULL, err, errlen);
    }
    case LEDGER_OP_CHANGE:
        return ledger__apply_change(w, (ledger_op_change_t *)m, res, err, errlen);
    case LEDGER_OP_ACTIVE:
        return ledger__apply_active(w, (ledger_op_active_t *)m, res, err, errlen);
    case LEDGER_OP_AUDIT:
    case LEDGER_OP_AUDIT_HEAD: {
        gw_msg_t *head = NULL;
        rc = ledger__apply_audit(w, m, &head, err, errlen);
        if (head)
            ledger__list_add(res, head);
        return rc;
    }
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
int ledger__apply_batch(ledger_worker_t *w, ledger__list_t *batch, char *err, size_t errlen)
{
    ledger__list_t res = {0};
    char why[200];
    char msg[256];
    int64_t before = w->last_outbox_id;
    int64_t last;
    int rc;

    if (!w->lg)
        return ledger__fail(GW_EIO, err, errlen, "ledger %s is not open", w->path);
    rc = ledger_begin(w->lg, err, errlen);
    if (rc < 0)
        return rc;
    for (gw_msg_t *m = batch->head; m; m = m->next) {
        ledger__alive(w);
        rc = ledger__apply(w, m, &res, why, sizeof(why));
        if (rc == 0)
            continue;
        ledger__describe(m, why, msg, sizeof(msg));
        if (ledger__transient(rc) || rc == GW_ECORRUPT || !ledger__in_tx(w->lg)) {
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

    /* Committed: it waits no more, and now the loop may hear of it. */
    for (gw_msg_t *m = batch->head; m; m = m->next)
        w->weight -= ledger__weight(m);
    atomic_store(&w->pending, w->weight);
    for (gw_msg_t *m = res.head, *next; m; m = next) {
        next = m->next;
        ledger__post(w, m);
    }
    memset(&res, 0, sizeof(res));
    ledger__audit_break_note(w);
    last = ledger__post_outbox(w, before, -1);
    if (last > w->last_outbox_id)
        w->last_outbox_id = last;
    return 0;

out_rollback:
    ledger_rollback(w->lg);
    ledger__list_free(&res);
    return rc;
}
