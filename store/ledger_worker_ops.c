/*
 * ledger_worker_ops.c: the operations the loop submits to the ledger thread
 * (store/ledger_worker.h), each one allocation owning copies of its
 * strings, so that the loop can forget its own once submitted. The thread
 * that applies them is ledger_worker.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_worker.h"

#include <stdint.h>
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

ledger_op_outbox_t *ledger_op_outbox_load_new(int64_t after_id, int limit, uint64_t tag)
{
    ledger_op_outbox_t *op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_LOAD, after_id);

    if (op) {
        op->limit = limit > 0 ? limit : 1;
        op->tag = tag;
    }
    return op;
}

ledger_op_rollup_t *ledger_op_rollup_new(size_t n)
{
    ledger_op_rollup_t *op = calloc(1, sizeof(*op) + n * sizeof(op->rows[0]));

    if (!op)
        return NULL;
    op->hdr.kind = LEDGER_OP_ROLLUP;
    op->n = n;
    op->rows = (ledger_rollup_row_t *)(op + 1);
    return op;
}

/* The names' block is addressed by 16-bit offsets. */
#define LEDGER__PACKED_NAMES_MAX 65535u
#define LEDGER__PACKED_ONE                                                                         \
    (sizeof(((ledger_rollup_row_t *)0)->device) + sizeof(((ledger_rollup_row_t *)0)->point) +      \
     sizeof(((ledger_rollup_row_t *)0)->unit))

ledger_op_rollup_t *ledger_op_rollup_packed_new(size_t rows, size_t names)
{
    ledger_op_rollup_t *op;

    if (names < LEDGER__PACKED_ONE)
        names = LEDGER__PACKED_ONE;
    if (names > LEDGER__PACKED_NAMES_MAX)
        names = LEDGER__PACKED_NAMES_MAX;
    if (rows > SIZE_MAX / sizeof(op->packed[0]) / 2)
        return NULL;
    op = malloc(sizeof(*op) + rows * sizeof(op->packed[0]) + names);
    if (!op)
        return NULL;
    memset(op, 0, sizeof(*op));
    op->hdr.kind = LEDGER_OP_ROLLUP;
    op->packed = (ledger_rollup_packed_t *)(op + 1);
    op->names = (char *)(op->packed + rows);
    op->cap_rows = rows;
    op->cap_names = names;
    return op;
}

/* src cut to fit a field of cap bytes (as snprintf "%s" would) at the end
 * of op's names; its offset. The caller checked the room. */
static uint16_t ledger__put_name(ledger_op_rollup_t *op, const char *src, size_t cap)
{
    size_t n = strnlen(src, cap - 1), at = op->names_len;

    memcpy(op->names + at, src, n);
    op->names[at + n] = '\0';
    op->names_len += n + 1;
    return (uint16_t)at;
}

int ledger_op_rollup_put(ledger_op_rollup_t *op, const char *device, const char *point,
                         const char *unit, const ledger_rollup_packed_t *nums)
{
    const ledger_rollup_row_t *r = NULL;
    ledger_rollup_packed_t *p;
    size_t need = 0;
    int same = 0;

    if (!op->packed || op->n == op->cap_rows)
        return -1;
    /* a device's buckets come together: its name once for the run */
    if (op->n > 0)
        same =
            strncmp(op->names + op->packed[op->n - 1].dev, device, sizeof(r->device) - 1) == 0 &&
            strnlen(device, sizeof(r->device) - 1) == strlen(op->names + op->packed[op->n - 1].dev);
    if (!same)
        need += strnlen(device, sizeof(r->device) - 1) + 1;
    need += strnlen(point, sizeof(r->point) - 1) + 1 + strnlen(unit, sizeof(r->unit) - 1) + 1;
    if (op->names_len + need > op->cap_names)
        return -1;
    p = &op->packed[op->n];
    *p = *nums;
    p->dev = same ? op->packed[op->n - 1].dev : ledger__put_name(op, device, sizeof(r->device));
    p->pt = ledger__put_name(op, point, sizeof(r->point));
    ledger__put_name(op, unit, sizeof(r->unit));
    op->n++;
    return 0;
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
