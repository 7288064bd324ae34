/*
 * ledger.h: the work-order ledger, a SQLite file in WAL mode.
 *
 * What it holds (docs/architecture.md, "Durability order"):
 *  - work orders, one active order at most per fingerprint (site/device/rule):
 *    a trigger while one is active counts an occurrence instead of opening a
 *    second order;
 *  - the audit trail of every change (append-only);
 *  - the outbox: events to publish, written in the same transaction as the
 *    change they announce and deleted only once delivered.
 *
 * A ledger_t is one SQLite connection: use it from one thread at a time. The
 * daemon uses it only on the ledger thread (ledger_worker.h); plantroomctl
 * opens its own connection. All functions return 0 or a negative GW_E* code
 * and, given err, write a one-line reason there.
 */
#ifndef PLANTROOM_LEDGER_H
#define PLANTROOM_LEDGER_H

#include "gateway/gw_types.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ledger ledger_t;

enum {
    LEDGER_OPEN_CREATE = 1 << 0,   /* create the file (mode 0600) and schema if missing */
    LEDGER_OPEN_READONLY = 1 << 1, /* plantroomctl's read-only verbs */
};

/* Open (and with LEDGER_OPEN_CREATE create and migrate) the ledger at path.
 * Sets WAL, foreign keys, synchronous=FULL and a busy timeout. On success
 * *out owns the connection; close it with ledger_close. */
int ledger_open(ledger_t **out, const char *path, int flags, char *err, size_t errlen);
void ledger_close(ledger_t *lg);

/* Explicit transactions, so the ledger thread can batch many changes into
 * one commit. Calls outside a transaction are committed on their own. */
int ledger_begin(ledger_t *lg, char *err, size_t errlen);
int ledger_commit(ledger_t *lg, char *err, size_t errlen);
void ledger_rollback(ledger_t *lg);

/* A rule fired (or keeps firing). Strings are borrowed for the call. */
typedef struct ledger_trigger {
    const char *site;
    const char *device;
    const char *rule;
    const char *title;
    const char *description; /* may be NULL */
    const char *category;    /* "mechanical", "electrical", "fire", "plumbing", ... */
    const char *work_type;   /* "corrective", "preventive", "emergency" */
    gw_priority_t priority;
    const char *evidence_json; /* a JSON object's text, may be NULL */
    int64_t ts_ms;             /* when the condition was seen */
} ledger_trigger_t;

typedef struct ledger_trigger_result {
    int opened;        /* 1: a new work order; 0: an active one was touched */
    char id[96];       /* the work order's id ("<site>:<ULID>") */
    int64_t number;    /* its short number for humans */
    int64_t occurrences;
} ledger_trigger_result_t;

/* OPEN: open a work order for the fingerprint unless an active one
 * (open, acknowledged, in_progress) exists. A new order gets an audit row
 * and an outbox event "opened". On an active one whose condition had cleared
 * since, occurrences is incremented, cleared_at reset, and an audit row and
 * an outbox event "retriggered" written; otherwise only last_seen_at and the
 * evidence are refreshed. */
int ledger_wo_trigger(ledger_t *lg, const ledger_trigger_t *t, ledger_trigger_result_t *res,
                      char *err, size_t errlen);

/* UPDATE: the condition still holds: refresh last_seen_at and evidence of the
 * active work order of the fingerprint, if any. No audit row, no event. */
int ledger_wo_touch(ledger_t *lg, const ledger_trigger_t *t, char *err, size_t errlen);

/* RESOLVE: the condition cleared. Sets cleared_at on the active order of the
 * fingerprint (its status stays: people close work orders, not rules), with
 * an audit row and an outbox event "cleared". No active order: returns 0. */
int ledger_wo_clear(ledger_t *lg, const char *site, const char *device, const char *rule,
                    int64_t ts_ms, const char *evidence_json, char *err, size_t errlen);

/* A work order as read back. Strings owned by the struct. */
typedef struct ledger_wo {
    char *id;
    int64_t number;
    char *site, *device, *rule, *title, *description, *category, *work_type;
    char *priority; /* name, as gw_priority_name */
    char *status;   /* open, acknowledged, in_progress, resolved, closed, cancelled */
    char *evidence_json;
    int64_t occurrences;
    int64_t opened_at, last_seen_at, cleared_at, updated_at; /* ms; cleared_at 0 if not */
} ledger_wo_t;

typedef struct ledger_wo_filter {
    const char *status; /* NULL: any */
    const char *device; /* NULL: any */
    int active_only;    /* 1: open, acknowledged, in_progress */
    int limit;          /* 0: no limit */
} ledger_wo_filter_t;

/* List work orders, newest first. *out is an array of *n entries that the
 * caller frees with ledger_wo_free_array. */
int ledger_wo_list(ledger_t *lg, const ledger_wo_filter_t *f, ledger_wo_t **out, size_t *n,
                   char *err, size_t errlen);
void ledger_wo_free_array(ledger_wo_t *arr, size_t n);

/* The JSON text of one work order (the object used by plantroomctl --json and
 * in outbox events): id, number, site, status, priority, device, rule, title,
 * description, category, work_type, evidence (object), occurrences, and
 * opened_at, last_seen_at, cleared_at, updated_at as ISO-8601 UTC strings
 * (cleared_at null when not cleared). Caller frees with free(). */
char *ledger_wo_to_json(const ledger_wo_t *wo);

/* One event waiting to be published. */
typedef struct ledger_outbox_row {
    int64_t id;    /* increasing: publish in id order */
    char *channel; /* "workorder" */
    char *key;     /* the work order id the event is about */
    char *payload; /* JSON text, complete: the daemon publishes it as is */
    int64_t created_at;
} ledger_outbox_row_t;

/* Rows with id > after_id, oldest first, at most limit (0: all). Free with
 * ledger_outbox_free_array. */
int ledger_outbox_list(ledger_t *lg, int64_t after_id, int limit, ledger_outbox_row_t **out,
                       size_t *n, char *err, size_t errlen);
void ledger_outbox_free_array(ledger_outbox_row_t *arr, size_t n);
/* Delete a delivered row; a missing row is not an error. */
int ledger_outbox_delete(ledger_t *lg, int64_t id, char *err, size_t errlen);

#endif
