/*
 * ledger_int.h: what the files of store/ share and nobody else may use.
 *
 * ledger.c owns the connection, the schema and the work-order operations;
 * ledger_json.c turns rows into JSON; ledger_worker.c runs the ledger thread
 * on top of the public API plus the few helpers below. The public contract
 * is store/ledger.h; the design is docs/architecture.md ("Durability order").
 */
#ifndef PLANTROOM_LEDGER_INT_H
#define PLANTROOM_LEDGER_INT_H

#include "store/ledger.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* The statuses in which a work order is active: at most one per fingerprint
 * (the partial unique index of schema v1 enforces it). */
#define LEDGER__ACTIVE_SQL "('open','acknowledged','in_progress')"

/* Write a one-line reason into err (tolerates err == NULL); returns rc so
 * that callers can write "return ledger__fail(rc, err, errlen, ...)". */
int ledger__fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 1 while an explicit transaction (ledger_begin) is open on lg. SQLite ends
 * a transaction by itself on some errors (disk full, I/O error, out of
 * memory): the worker checks this after each operation. */
int ledger__in_tx(ledger_t *lg);

/* 1 if rc (as returned by a ledger function) may go away when the same work
 * is tried again later: disk full, I/O error, out of memory, lock busy. */
int ledger__transient(int rc);

/* Highest outbox row id present now (0 when empty). */
int ledger__outbox_max_id(ledger_t *lg, int64_t *out, char *err, size_t errlen);

/* Return the value of evidence text as stored: compact JSON of the object,
 * or, when the text is not a JSON object, {"unparsed":"<text>"} so that no
 * evidence is lost and every payload stays valid JSON. NULL or "" in: no
 * evidence (*out = NULL, returns 0). *out is malloc'd; GW_ENOMEM on out of memory. */
int ledger__evidence_normalize(const char *in, char **out);

/* The outbox payload of one event about wo: {"v":1,"event_id":...,
 * "event":...,"ts":...,"work_order":{...}}. NULL on out of memory. */
char *ledger__event_json(const ledger_wo_t *wo, const char *event, int64_t audit_id, int64_t ts_ms);

/* The SQLite connection of lg, for ledger_admin.c (stats, backup). */
struct sqlite3 *ledger__db(ledger_t *lg);

/* Free the strings of one work order and zero it. */
void ledger__wo_clear_fields(ledger_wo_t *wo);

#endif
