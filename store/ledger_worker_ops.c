/*
 * ledger_worker_ops.c: the operations the loop submits to the ledger thread
 * (store/ledger_worker.h), each one allocation owning copies of its
 * strings, so that the loop can forget its own once submitted. The thread
 * that applies them is ledger_worker.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    op->consumer = kind == LEDGER_OP_OUTBOX_ACK ? LEDGER_CONSUMERS : 0;
    return op;
}

ledger_op_outbox_t *ledger_op_outbox_ack_new(int64_t id, int consumer)
{
    ledger_op_outbox_t *op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_ACK, id);

    if (op)
        op->consumer = consumer;
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

ledger_op_active_t *ledger_op_active_new(uint64_t tag)
{
    ledger_op_active_t *op = calloc(1, sizeof(*op));

    if (op) {
        op->hdr.kind = LEDGER_OP_ACTIVE;
        op->tag = tag;
    }
    return op;
}
