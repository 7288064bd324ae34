/*
 * ledger_worker_audit.c: the ledger thread's audit ops (store/ledger_worker.h):
 * an audit row that is no work-order change (a write to a device, a refused
 * command) appended to the hash chain inside the batch's transaction, and
 * the chain's head read for publishing (north: audit/head). The chain is
 * store/ledger_audit.c's.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_int.h"
#include "store/ledger_worker_int.h"

#include "gateway/base/gw_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ledger_op_audit_t *ledger_op_audit_new(const ledger_audit_entry_t *e)
{
    size_t dlen;
    ledger_op_audit_t *op;

    if (!e || !e->actor || !e->actor[0] || !e->channel || !e->channel[0] || !e->action ||
        !e->action[0])
        return NULL;
    dlen = e->detail ? strlen(e->detail) : 0;
    op = calloc(1, sizeof(*op) + dlen + 1);
    if (!op)
        return NULL;
    op->hdr.kind = LEDGER_OP_AUDIT;
    op->ts_ms = e->ts_ms;
    snprintf(op->actor, sizeof(op->actor), "%s", e->actor);
    snprintf(op->channel, sizeof(op->channel), "%s", e->channel);
    snprintf(op->action, sizeof(op->action), "%s", e->action);
    snprintf(op->wo_id, sizeof(op->wo_id), "%s", e->wo_id ? e->wo_id : "");
    if (dlen)
        memcpy(op->detail, e->detail, dlen + 1);
    return op;
}

int ledger__apply_audit(ledger_worker_t *w, gw_msg_t *m, gw_msg_t **result, char *err,
                        size_t errlen)
{
    ledger_ev_audit_head_t *ev;
    int rc;

    if (m->kind == LEDGER_OP_AUDIT) {
        const ledger_op_audit_t *op = (const ledger_op_audit_t *)m;
        ledger_audit_entry_t e = {.wo_id = op->wo_id[0] ? op->wo_id : NULL,
                                  .ts_ms = op->ts_ms,
                                  .actor = op->actor,
                                  .channel = op->channel,
                                  .action = op->action,
                                  .detail = op->detail[0] ? op->detail : NULL};
        return ledger_audit_add(w->lg, &e, NULL, err, errlen);
    }
    /* The head as this batch leaves it: posted after the commit. */
    ev = calloc(1, sizeof(*ev));
    if (!ev)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory for the audit head");
    ev->hdr.kind = LEDGER_EV_AUDIT_HEAD;
    ev->ts_ms = gw_wall_ms();
    rc = ledger_audit_head(w->lg, &ev->head, err, errlen);
    if (rc < 0) {
        free(ev);
        return rc;
    }
    *result = &ev->hdr;
    return 0;
}
