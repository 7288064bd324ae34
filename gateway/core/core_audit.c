/*
 * core_audit.c: the core's rows in the ledger's audit trail (store/
 * ledger_audit.c, docs/security.md): a write's outcome (gw_core.c) and a
 * step of the wall clock (core_live.c). The row goes to the ledger thread
 * like every other ledger operation; nothing waits for it. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/core/core_int.h"

#include <stdlib.h>

void core__audit(gw_core_t *c, const char *actor, const char *channel, const char *action,
                 const cJSON *detail)
{
    ledger_audit_entry_t e = {.actor = actor, .channel = channel, .action = action};
    ledger_op_audit_t *op = NULL;
    char *text = NULL;

    if (!c->ledger)
        return;
    if (detail && !(text = cJSON_PrintUnformatted(detail)))
        goto lost;
    e.detail = text;
    op = ledger_op_audit_new(&e);
    free(text);
    if (!op)
        goto lost;
    ledger_worker_submit(c->ledger, &op->hdr);
    return;
lost:
    gw_log_error("gw", "out of memory: the audit row %s by %s is lost", action, actor);
}
