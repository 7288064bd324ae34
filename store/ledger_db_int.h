/*
 * ledger_db_int.h: the connection's own state (struct ledger), for the
 * files that set it up or keep state in it: ledger.c (open, close),
 * ledger_db.c (statements, transactions, accessors) and ledger_ids.c (the
 * ULID sequence). Every other file of store/ reaches the connection
 * through the accessors of ledger_int.h.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_LEDGER_DB_INT_H
#define PLANTROOM_LEDGER_DB_INT_H

#include "store/ledger_int.h"

#include <sqlite3.h>

#include <stdint.h>

/* A connection. Who owns what: lg owns db and every prepared statement. */
struct ledger {
    sqlite3 *db;
    int readonly;
    sqlite3_stmt *st[ST__COUNT]; /* prepared on first use, finalized on close */
    ledger_policy_t policy;      /* SLA, routing, retention (ledger_set_policy) */
    ledger__ulid_gen_t ulid;     /* the ULIDs made here (ids, event ids) */
    int64_t audit_break;         /* ledger_audit_break: a row the chain went on past */
    char path[];                 /* for messages */
};

/* Finalize the statements and close the SQLite handle (not lg itself). */
void ledger__close_db(ledger_t *lg);

#endif
