/*
 * ledger_int.h: what the files of store/ share and nobody else may use.
 *
 * ledger_db.c owns the statements and transactions of a connection (its
 * state, struct ledger, is in ledger_db_int.h, for the few files that need
 * it); ledger.c opens and closes it, ledger_schema.c migrates it; the work
 * orders are ledger_ids.c, ledger_rows.c, ledger_outbox.c, ledger_trigger.c
 * and ledger_wo.c (the list and their order is at the top of ledger.c);
 * ledger_json.c turns rows into JSON; ledger_worker*.c run the ledger
 * thread on top of the public API plus the few helpers below. The public
 * contract is store/ledger.h; the design is docs/architecture.md
 * ("Durability order").
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_LEDGER_INT_H
#define PLANTROOM_LEDGER_INT_H

#include "store/ledger.h"

#include <sqlite3.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* The statuses in which a work order is active: at most one per fingerprint
 * (the partial unique index of schema v1 enforces it). */
#define LEDGER__ACTIVE_SQL "('open','acknowledged','in_progress')"

/* The columns of a work order, in the order ledger__wo_from_row reads them. */
#define LEDGER__WO_COLS                                                                            \
    "id, number, site, device, rule, title, description, category, work_type, priority, status, "  \
    "evidence, occurrences, opened_at, last_seen_at, cleared_at, updated_at, building, floor, "    \
    "room, assignee, due_at, acknowledged_at, started_at, resolved_at, closed_at"

/* Rows in one statement of ST_ROLLUP_1M_N / ST_ROLLUP_1H_N (9 parameters
 * each, parameter 9 * i + 1 the first of row i). */
#define LEDGER__ROLLUP_ROWS 32

/* The prepared statements of a connection; their SQL is ledger_db.c's table. */
enum ledger__stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_FIND_ACTIVE,
    ST_NEXT_NUMBER,
    ST_INSERT_WO,
    ST_RETRIGGER,
    ST_REFRESH,
    ST_CLEAR,
    ST_OUTBOX_INSERT,
    ST_AUDIT_TAIL,
    ST_AUDIT_APPEND,
    ST_GET_WO,
    ST_LIST_WO,
    ST_OUTBOX_LIST,
    ST_OUTBOX_DELETE,
    ST_OUTBOX_MAX,
    ST_OUTBOX_ACK,
    ST_OUTBOX_DONE,
    ST_GET_WO_NUMBER,
    ST_SET_STATUS,
    ST_ASSIGN,
    ST_NOTE,
    ST_ROLLUP_1M,
    ST_ROLLUP_1H,
    ST_ROLLUP_1M_N, /* LEDGER__ROLLUP_ROWS rows in one statement */
    ST_ROLLUP_1H_N, /* the same; the hour's start bound, not computed */
    ST_DEVICE_SEEN,
    ST_DEVICE_STATUS,
    ST_DEVICE_EVENT,
    ST_DATA_VERSION,
    ST__COUNT
};

/* What an audit row and outbox event say about a change. */
typedef struct ledger__change {
    const char *action; /* the event name: opened, acknowledged, assigned, ... */
    const char *from_status, *to_status;
    const char *actor, *channel;
    const char *detail; /* the audit row's detail (evidence, comment, note, assignee) */
} ledger__change_t;

/* Schema: how many migrations there are, and the SQL of migration v (from
 * user_version v to v + 1), so that tests can build files of old versions. */
int ledger__schema_version(void);
const char *ledger__migration_sql(int v);
/* Apply the migrations the file lacks, all in one transaction (at open). A
 * read-only connection only checks that the schema is the one this program
 * knows. */
int ledger__migrate(ledger_t *lg, char *err, size_t errlen);
/* The old rollup tables of the online move (ledger_rollup_move.c): 1 while
 * they exist, 0 once dropped, or a negative code. */
int ledger__rollup_old(ledger_t *lg, char *err, size_t errlen);
/* At open: drop the old rollup tables at once when they hold nothing (a new
 * file). 0 or a negative code. */
int ledger__rollup_move_open(ledger_t *lg, char *err, size_t errlen);

/* What moves when the file changes: marks[0] with every row this
 * connection writes, marks[1] with every commit of another connection
 * (plantroomctl). 0, or a negative code. */
int ledger__write_marks(ledger_t *lg, int64_t marks[2]);

/* The connection's parts for the other files of store/. */
sqlite3 *ledger__db(ledger_t *lg);
int ledger__readonly(const ledger_t *lg);
const ledger_policy_t *ledger__policy(const ledger_t *lg);

/* The cached statement id, reset and unbound. */
int ledger__stmt(ledger_t *lg, int id, sqlite3_stmt **out, char *err, size_t errlen);
/* Bind parameters from fmt: 't' text (NULL binds NULL), 'i' int64_t, 'd'
 * double. Returns a SQLite code. */
int ledger__bind(sqlite3_stmt *st, const char *fmt, ...);
/* Step a bound statement to its end, reset it; 0 or a code with err set. */
int ledger__exec(ledger_t *lg, sqlite3_stmt *st, const char *what, char *err, size_t errlen);
/* Run one of the parameterless statements (transaction control). */
int ledger__run(ledger_t *lg, int id, char *err, size_t errlen);
/* A SQLite result code as the project's code (0 for OK, ROW and DONE). */
int ledger__code(int src);
/* A SQLite failure as a project code with "ledger <path>: what: msg". */
int ledger__dberr(ledger_t *lg, int src, char *err, size_t errlen, const char *what);
/* A malloc'd copy of a text column (NULL stays NULL; sets *oom on failure). */
char *ledger__col_dup(sqlite3_stmt *st, int col, int *oom);
/* Fill wo from a row of the work-order columns. */
int ledger__wo_from_row(sqlite3_stmt *st, ledger_wo_t *wo);
/* Read the work order with this id. */
int ledger__wo_get(ledger_t *lg, const char *id, ledger_wo_t *wo, char *err, size_t errlen);
/* One mutating operation: its own transaction, or a savepoint inside the
 * caller's; end keeps the writes when rc is 0, else undoes them. */
int ledger__op_begin(ledger_t *lg, int *own_tx, char *err, size_t errlen);
int ledger__op_end(ledger_t *lg, int own_tx, int rc, char *err, size_t errlen);
/* Write the audit row of a change and its outbox event carrying the work
 * order as it is now. ledger__announce: by the rule engine. event_id: the
 * id the event was announced under before it was committed (a provisional
 * event of the ledger thread), or NULL to mint "<site>#<ULID>" here. */
int ledger__announce(ledger_t *lg, const char *wo_id, const char *action, const char *from_status,
                     const char *to_status, const char *detail, const char *event_id, int64_t now,
                     char *err, size_t errlen);
int ledger__announce_by(ledger_t *lg, const char *wo_id, const char *action,
                        const char *from_status, const char *to_status, const char *detail,
                        const ledger_actor_t *by, const char *event_id, int64_t now, char *err,
                        size_t errlen);
/* ledger_wo_clear taking the fingerprint, time, evidence and event id from
 * t (the ledger thread's form). */
int ledger__wo_clear(ledger_t *lg, const ledger_trigger_t *t, char *err, size_t errlen);

/* ---- the audit chain (ledger_audit.c, ledger_audit_verify.c) ----------- */

#define LEDGER__HASH_LEN 32 /* SHA-256 */

/* One audit row as hashed and stored. Strings borrowed. */
typedef struct ledger__audit_row {
    int64_t id;        /* set by ledger__audit_append */
    const char *wo_id; /* NULL: not about a work order (a write, a refused command) */
    int64_t ts;
    const char *actor, *channel, *action;
    const char *from_status, *to_status, *detail; /* each may be NULL */
    /* the id of the event the change was announced under (unique; NULL for
     * rows that announce nothing). Stored beside the row, not hashed: it is
     * how a provisional event finds its committed copy, not a record. */
    const char *event_id;
} ledger__audit_row_t;

/* The audit horizon: rows before before_id were purged; the first kept row
 * chains from anchor (all zero bytes when there is none). */
typedef struct ledger__horizon {
    int64_t before_ts, before_id;
    char anchor[2 * LEDGER__HASH_LEN + 1]; /* hex, "" when none */
    uint8_t anchor_bin[LEDGER__HASH_LEN];
    int anchor_bad; /* anchor is not 64 hex digits */
    int missing;    /* the table has no row */
} ledger__horizon_t;

/* hash = SHA-256(prev || the row's content, each field length-prefixed).
 * 0 or GW_ENOMEM / GW_EIO. */
int ledger__audit_hash(const uint8_t prev[LEDGER__HASH_LEN], const ledger__audit_row_t *r,
                       uint8_t out[LEDGER__HASH_LEN]);
/* n bytes as 2n lowercase hex digits and a NUL; and back (0, or -1 when s
 * is not exactly 2n hex digits). */
void ledger__hex(const uint8_t *b, size_t n, char *out);
int ledger__unhex(const char *s, uint8_t *out, size_t n);
/* The horizon; an anchor that is not a hash reads as all zero bytes (and
 * anchor_bad is set), for the appender and the walk alike. */
int ledger__audit_horizon(ledger_t *lg, ledger__horizon_t *h, char *err, size_t errlen);
/* The hash the row after the newest row below id `below` chains from, and
 * that row's id (*id; the horizon's before_id - 1 and anchor when there is
 * none). A row whose stored hash is not a hash (a damaged page, a hand
 * edit) counts as if it held the hash of its own content over the link
 * before it: the chain goes on past it, and ledger_audit_verify, which
 * continues the same way, names that row alone. *bad (may be NULL): the
 * oldest of the rows that lacked a valid hash at the end of that range (0:
 * none; the horizon's before_id when its anchor is not a hash). */
int ledger__audit_link(ledger_t *lg, int64_t below, int64_t *id, uint8_t hash[LEDGER__HASH_LEN],
                       int64_t *bad, char *err, size_t errlen);
/* Remember the row the appender last went on past (ledger_audit_break). */
void ledger__set_audit_break(ledger_t *lg, int64_t row);
/* Append r after the chain's newest row (its id: the next one; r->id is
 * set), inside the caller's transaction. */
int ledger__audit_append(ledger_t *lg, ledger__audit_row_t *r, char *err, size_t errlen);
/* Cut the chain's old end: rows before the first one at or after
 * cutoff_ts go, the horizon moves, and a "purged" row records the cut.
 * *n (not NULL) is set to the rows deleted. Inside the caller's
 * transaction. */
int ledger__audit_purge(ledger_t *lg, int64_t cutoff_ts, int64_t now, int64_t *n, char *err,
                        size_t errlen);
/* Migration: hash rows written before the chain existed (in id order) and,
 * when rows had been purged before, record where the chain starts. *yes:
 * some row has no hash yet. */
int ledger__audit_unchained(ledger_t *lg, int *yes, char *err, size_t errlen);
int ledger__audit_chain_existing(ledger_t *lg, char *err, size_t errlen);
/* Columns id, wo_id, ts, actor, channel, action, from_status, to_status,
 * detail (0..8) of st into r (strings point into st). */
void ledger__audit_row_read(sqlite3_stmt *st, ledger__audit_row_t *r);

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

/* A ULID generator: ids strictly increase within one (ledger_ids.c). */
typedef struct ledger__ulid_gen {
    int64_t ms;       /* time part of the last ULID made */
    uint8_t rand[10]; /* its random part, incremented within one ms */
} ledger__ulid_gen_t;
int ledger__ulid_next(ledger__ulid_gen_t *g, char out[27], char *err, size_t errlen);

/* The names of a work order (ledger_ids.c): its fingerprint (malloc'd, or
 * NULL on out of memory), its ULID (out[27]) from the connection's
 * generator, and the number the next order of site gets. An event's id is
 * "<site>#<ULID>" (ledger__event_id; len >= LEDGER_EVENT_ID_MAX). */
char *ledger__fingerprint(const char *site, const char *device, const char *rule);
int ledger__ulid(ledger_t *lg, char out[27], char *err, size_t errlen);
void ledger__event_id(const char *site, const char *ulid, char *out, size_t len);
int ledger__next_number(ledger_t *lg, const char *site, int64_t *out, char *err, size_t errlen);

/* Highest outbox row id present now (0 when empty). */
int ledger__outbox_max_id(ledger_t *lg, int64_t *out, char *err, size_t errlen);

/* Return the value of evidence text as stored: compact JSON of the object,
 * or, when the text is not a JSON object, {"unparsed":"<text>"} so that no
 * evidence is lost and every payload stays valid JSON. NULL or "" in: no
 * evidence (*out = NULL, returns 0). *out is malloc'd; GW_ENOMEM on out of memory. */
int ledger__evidence_normalize(const char *in, char **out);

/* The outbox payload of one event about wo: {"v":1,"event_id":...,
 * "event":...,"ts":...,"actor":...,"channel":...,"from":...,"to":...,
 * "work_order":{...}}. provisional: announced before it is committed:
 * "durable":false is added and a number of 0 is null. NULL on out of
 * memory. */
char *ledger__event_json(const ledger_wo_t *wo, const ledger__change_t *c, const char *event_id,
                         int64_t ts_ms, int provisional);
/* The work order as a cJSON object (ledger_json.c); NULL on out of memory. */
struct cJSON *ledger__wo_json(const ledger_wo_t *wo);

/* Free the strings of one work order and zero it. */
void ledger__wo_clear_fields(ledger_wo_t *wo);

/* ms since the epoch of local midnight starting month "YYYY-MM" and the
 * next month; GW_EINVAL when month is malformed. */
int ledger__month_range(const char *month, int64_t *from_ms, int64_t *to_ms);
/* 1 when the ledger holds a work order or rollup dated before ts_ms. */
int ledger__has_data_before(ledger_t *lg, int64_t ts_ms);

#endif
