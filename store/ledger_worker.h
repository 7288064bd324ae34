/*
 * ledger_worker.h: the ledger thread.
 *
 * The loop thread never touches SQLite. It submits operations here; the
 * ledger thread keeps them in a bounded backlog, applies them in order in
 * transactions of up to a thousand (BEGIN IMMEDIATE ... COMMIT,
 * synchronous=FULL), and only after a commit posts what the loop must know
 * to the results queue: the outbox rows it wrote (to publish) and the work
 * orders it opened (to log). Batching keeps a slow flash card from stalling
 * the loop and amortises fsync.
 *
 * When the storage fails (disk full, read-only, I/O errors, a damaged or
 * missing file) nothing stops: the ops wait in the backlog, bounded by
 * ledger_worker_set_max_ops (repeatable ops are coalesced or dropped first,
 * work-order ops never; every drop is counted), and are committed in order
 * once the file takes writes again; a damaged file is moved aside and a
 * fresh one started. The loop hears of each change of state
 * (LEDGER_EV_HEALTH), and every work-order event that waits is announced at
 * once as provisional (LEDGER_EV_PROVISIONAL, "durable":false) under the
 * event id its committed copy will carry. docs/architecture.md,
 * "Durability order" and "When the ledger cannot write".
 *
 * Between batches the thread keeps house once it has a policy
 * (LEDGER_OP_POLICY): retention purge once a day (audit, rollups, outbox
 * rows past their age), and the monthly report into the policy's
 * report_dir once a month has ended (checked every minute, written once per
 * month: the reports table remembers).
 *
 * Message kinds 300-399 belong to this module.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_LEDGER_WORKER_H
#define PLANTROOM_LEDGER_WORKER_H

#include "gateway/base/gw_queue.h"
#include "store/ledger.h"
#include "store/ledger_admin.h"

typedef struct ledger_worker ledger_worker_t;

/* Operations (submitted by the loop). */
enum {
    LEDGER_OP_TRIGGER = 300, /* ledger_op_trigger_t: ledger_wo_trigger */
    LEDGER_OP_TOUCH,         /* ledger_op_trigger_t: ledger_wo_touch */
    LEDGER_OP_CLEAR,         /* ledger_op_trigger_t (site, device, rule, ts, evidence) */
    LEDGER_OP_OUTBOX_ACK,    /* ledger_op_outbox_t: a consumer has a row (deleted once all have) */
    LEDGER_OP_OUTBOX_LOAD,   /* ledger_op_outbox_t: post every row with id > after_id;
                              * after_id at or above what was posted already (INT64_MAX):
                              * post only rows nobody posted yet (written by plantroomctl);
                              * with a limit: at most that many rows, tagged, then
                              * LEDGER_EV_OUTBOX_LOADED (a window of MQTT's) */
    LEDGER_OP_ROLLUP,        /* ledger_op_rollup_t: ledger_rollup_add */
    LEDGER_OP_DEVICE,        /* ledger_op_device_t: ledger_device_status */
    LEDGER_OP_POLICY,        /* ledger_op_policy_t: ledger_set_policy, and start housekeeping */
    LEDGER_OP_CHANGE,        /* ledger_op_change_t: a person's change (status, assign, note),
                              * e.g. a command over MQTT; answered by LEDGER_EV_CHANGED */
    LEDGER_OP_AUDIT,         /* ledger_op_audit_t: an audit row that is no work-order change
                              * (a write, a refused command): ledger_audit_add */
    LEDGER_OP_AUDIT_HEAD,    /* a plain gw_msg_t (calloc'd): post LEDGER_EV_AUDIT_HEAD */
    LEDGER_OP_STATS = 320,   /* a plain gw_msg_t (calloc'd): post LEDGER_EV_STATS */
    LEDGER_OP_ACTIVE = 330,  /* ledger_op_active_t: post LEDGER_EV_ACTIVE, every active
                              * work order (for the rules to reconcile with) */
};

/* Results (posted to the results queue after commit). */
enum {
    LEDGER_EV_OUTBOX = 350,  /* ledger_ev_outbox_t: publish this event */
    LEDGER_EV_OPENED,        /* ledger_ev_opened_t: a work order was opened */
    LEDGER_EV_ERROR,         /* ledger_ev_error_t: an operation failed */
    LEDGER_EV_CHANGED,       /* ledger_ev_changed_t: the outcome of a LEDGER_OP_CHANGE */
    LEDGER_EV_PROVISIONAL,   /* ledger_ev_provisional_t: an event not yet committed */
    LEDGER_EV_HEALTH,        /* ledger_ev_health_t: the storage's state changed */
    LEDGER_EV_AUDIT_HEAD,    /* ledger_ev_audit_head_t: the audit chain's head, after commit */
    LEDGER_EV_AUDIT_BREAK,   /* ledger_ev_audit_break_t: the chain went on past a damaged row */
    LEDGER_EV_OUTBOX_LOADED, /* ledger_ev_outbox_loaded_t: the end of a LOAD with a limit */
    LEDGER_EV_STATS = 370,   /* ledger_ev_stats_t: counts, for status and metrics */
    LEDGER_EV_ACTIVE = 371,  /* ledger_ev_active_t: the answer to LEDGER_OP_ACTIVE */
};

/* What the ledger's file does now. */
typedef enum ledger_storage_state {
    LEDGER_STORAGE_OK = 0,
    LEDGER_STORAGE_FULL,        /* SQLITE_FULL, ENOSPC */
    LEDGER_STORAGE_READONLY,    /* SQLITE_READONLY, EROFS */
    LEDGER_STORAGE_IOERR,       /* other I/O errors, out of memory */
    LEDGER_STORAGE_BUSY,        /* locked by another process past the busy timeout */
    LEDGER_STORAGE_UNAVAILABLE, /* cannot be opened or created */
} ledger_storage_state_t;

/* "ok", "full", "read-only", "io-error", "busy", "unavailable". */
const char *ledger_storage_state_name(ledger_storage_state_t st);

/* Posted when the state changes, and when a damaged file was moved aside
 * (moved_to non-empty; state is then the new file's). */
typedef struct ledger_ev_health {
    gw_msg_t hdr;
    ledger_storage_state_t state;
    char detail[256];   /* the error, "" when ok */
    char moved_to[512]; /* where a damaged ledger went, "" when none */
} ledger_ev_health_t;

/* A work-order event announced before its commit: the outbox payload it
 * will have, with "durable":false (docs/mqtt.md, "Provisional events").
 * channel is "workorder". */
typedef struct ledger_ev_provisional {
    gw_msg_t hdr;
    char channel[16];
    char payload[]; /* JSON text */
} ledger_ev_provisional_t;

/* For status and metrics (ledger_worker_figures). Counts since start. */
typedef struct ledger_worker_figures {
    ledger_storage_state_t state;
    char detail[256];
    size_t depth;           /* ops waiting now (queued and in the backlog) */
    size_t max_ops;         /* the bound */
    size_t peak;            /* the highest depth seen */
    uint64_t dropped;       /* repeatable ops dropped past the bound (rollups, device, acks) */
    uint64_t rows_dropped;  /* of them: rollup rows */
    uint64_t coalesced;     /* refreshes folded into a newer one */
    uint64_t refused;       /* work-order ops refused: the backlog was full of them */
    uint64_t provisional;   /* events announced before their commit */
    uint64_t quarantined;   /* damaged files moved aside */
    uint64_t outbox_purged; /* outbox rows deleted past their age */
    uint64_t failed_batches;
    int64_t
        move_left; /* rollup rows still to move to the v6 tables (0: none, -1: not counted yet) */
    uint64_t move_batches;   /* batches of the move committed */
    uint64_t move_failed;    /* batches of the move that failed (tried again later) */
    int checking;            /* a check of the file runs now (in the background) */
    uint64_t checks_started; /* checks of the file started: after an unclean stop, a damaged page */
    uint64_t checks_done;    /* of them: run to their end (sound or damaged) */
    int64_t check_ms;        /* how long the last one ran */
    char check_result[16];   /* the last one: "" none, running, ok, damaged, interrupted, failed */
    int64_t audit_break;     /* the newest damaged audit row appended past (0: none) */
    uint64_t audit_breaks;   /* such rows met since start */
} ledger_worker_figures_t;
typedef struct ledger_op_active {
    gw_msg_t hdr;
    uint64_t tag; /* the submitter's, echoed */
} ledger_op_active_t;

/* One active work order (open, acknowledged, in_progress), as the rules
 * need it: its fingerprint, whether its condition has cleared, and when. */
typedef struct ledger_active_order {
    char site[64], device[64], rule[64];
    int cleared;          /* cleared_at is set: the condition had gone */
    int64_t opened_at;    /* ms, wall clock */
    int64_t last_seen_at; /* ms, wall clock */
} ledger_active_order_t;

/* Posted after the batch that read it committed, so it reflects every op
 * submitted before the question. An order whose site, device or rule does
 * not fit the fields is left out. */
typedef struct ledger_ev_active {
    gw_msg_t hdr;
    uint64_t tag;
    size_t n;
    ledger_active_order_t orders[]; /* n, allocated with the event */
} ledger_ev_active_t;

typedef struct ledger_ev_stats {
    gw_msg_t hdr;
    ledger_stats_t stats;
} ledger_ev_stats_t;

/* The strings of a trigger op are owned by the op (one allocation with the
 * struct: use ledger_op_trigger_new). The names are set by the ledger
 * thread when it announces the op's event before committing it. */
typedef struct ledger_op_trigger {
    gw_msg_t hdr;
    ledger_trigger_t t;
    char event_id[LEDGER_EVENT_ID_MAX]; /* "" : none given yet */
    char wo_ulid[27];                   /* "" : none given yet */
    int announced;                      /* the thread looked at it while failing */
} ledger_op_trigger_t;

typedef struct ledger_op_outbox {
    gw_msg_t hdr;
    int64_t id;   /* ACK: the row; LOAD: after_id */
    int consumer; /* ACK: LEDGER_CONSUMER_* bits (LEDGER_CONSUMERS: delete it outright) */
    int limit;    /* LOAD: at most this many rows, answered by LEDGER_EV_OUTBOX_LOADED (0: all) */
    uint64_t tag; /* LOAD with a limit: carried by its rows and its LOADED event */
} ledger_op_outbox_t;

typedef struct ledger_op_rollup {
    gw_msg_t hdr;
    size_t n;
    ledger_rollup_row_t *rows;      /* n rows (ledger_op_rollup_new), or NULL */
    ledger_rollup_packed_t *packed; /* or n packed rows (ledger_op_rollup_packed_new) */
    char *names;                    /* packed: their names */
    size_t cap_rows, names_len, cap_names;
} ledger_op_rollup_t;

typedef struct ledger_op_device {
    gw_msg_t hdr;
    char device[64];
    char status[16];
    int64_t ts_ms;
    char detail[160]; /* "" : none */
} ledger_op_device_t;

typedef struct ledger_op_policy {
    gw_msg_t hdr;
    ledger_policy_t policy;
} ledger_op_policy_t;

/* What a LEDGER_OP_CHANGE does. */
typedef enum ledger_change_kind {
    LEDGER_CHANGE_STATUS, /* arg: the new status; comment optional */
    LEDGER_CHANGE_ASSIGN, /* arg: the assignee */
    LEDGER_CHANGE_NOTE,   /* arg: the note's text */
} ledger_change_kind_t;

typedef struct ledger_op_change {
    gw_msg_t hdr;
    ledger_change_kind_t what;
    uint64_t tag;      /* the submitter's, echoed in LEDGER_EV_CHANGED */
    char ref[96];      /* work order number or id */
    char arg[512];     /* status, assignee or note */
    char comment[256]; /* "" : none */
    char who[64];      /* actor */
    char channel[8];   /* "cli", "mqtt", "rule" */
} ledger_op_change_t;

/* Posted after the change is committed (rc 0), or at once when it was
 * refused: rc GW_EINVAL (bad status, ref, actor), GW_ENOENT (no such order),
 * GW_ESTATE (transition not allowed), with the reason in msg. A change that
 * failed for a transient reason (disk, lock) is retried with its batch, not
 * answered until it went in. */
typedef struct ledger_ev_changed {
    gw_msg_t hdr;
    uint64_t tag;
    int rc;
    char msg[256];
    char id[96]; /* the order's id when rc is 0 */
    int64_t number;
    char status[16]; /* its status after the change */
} ledger_ev_changed_t;

/* An audit row to append (ledger_op_audit_new); the strings are copies. */
typedef struct ledger_op_audit {
    gw_msg_t hdr;
    int64_t ts_ms; /* when it happened (0: when written) */
    char actor[64];
    char channel[16];
    char action[32];
    char wo_id[96]; /* "" : none */
    char detail[];  /* JSON text, "" : none; allocated with the op */
} ledger_op_audit_t;

typedef struct ledger_ev_audit_head {
    gw_msg_t hdr;
    ledger_audit_head_t head;
    int64_t ts_ms; /* when it was read */
} ledger_ev_audit_head_t;

/* Posted once per damaged audit row that a commit appended past
 * (ledger_audit_break): the chain is broken at row, new rows go on. */
typedef struct ledger_ev_audit_break {
    gw_msg_t hdr;
    int64_t row;
} ledger_ev_audit_break_t;

typedef struct ledger_ev_outbox {
    gw_msg_t hdr;
    ledger_outbox_row_t row; /* strings owned; freed by gw_msg_free */
    uint64_t load_tag;       /* the LOAD with a limit it answers (0: posted after a commit) */
} ledger_ev_outbox_t;

/* The end of a LOAD with a limit: n rows were posted, the last being
 * last_id; more: the limit was reached (rows may follow), or the file was
 * not open (nothing read: ask again). */
typedef struct ledger_ev_outbox_loaded {
    gw_msg_t hdr;
    uint64_t tag;
    int64_t last_id;
    size_t n;
    int more;
} ledger_ev_outbox_loaded_t;

typedef struct ledger_ev_opened {
    gw_msg_t hdr;
    ledger_trigger_result_t res;
    char device[64];
    char rule[64];
} ledger_ev_opened_t;

typedef struct ledger_ev_error {
    gw_msg_t hdr;
    int rc;
    char msg[256];
} ledger_ev_error_t;

/* Build a trigger/touch/clear op (kind one of LEDGER_OP_TRIGGER, _TOUCH,
 * _CLEAR) holding copies of t's strings. Returns NULL on out of memory. */
ledger_op_trigger_t *ledger_op_trigger_new(int kind, const ledger_trigger_t *t);
/* Build an ACK (for every consumer at once) or LOAD op. NULL on out of
 * memory. */
ledger_op_outbox_t *ledger_op_outbox_new(int kind, int64_t id);
/* An ACK of row id by consumer (LEDGER_CONSUMER_*). NULL on out of memory. */
ledger_op_outbox_t *ledger_op_outbox_ack_new(int64_t id, int consumer);
/* A LOAD of at most limit (> 0) rows after after_id, tagged tag (> 0).
 * NULL on out of memory. */
ledger_op_outbox_t *ledger_op_outbox_load_new(int64_t after_id, int limit, uint64_t tag);
/* Ask for the active work orders (LEDGER_EV_ACTIVE with tag). NULL on out
 * of memory. */
ledger_op_active_t *ledger_op_active_new(uint64_t tag);

/* A rollup op with room for n rows (n set, rows zeroed), a device status op,
 * a policy op (p copied). NULL on out of memory. */
ledger_op_rollup_t *ledger_op_rollup_new(size_t n);
/* A packed rollup op with room for rows rows and names bytes of their
 * names (at least 146: one row's), n = 0. NULL on out of memory. Everything
 * is in the one allocation the op's consumer frees. */
ledger_op_rollup_t *ledger_op_rollup_packed_new(size_t rows, size_t names);
/* Add a bucket to a packed op: nums' numbers (its dev and pt are set
 * here), the names cut as ledger_rollup_row_t's fields would be. 0, or -1
 * when the op has no room left for it (submit it and start another). */
int ledger_op_rollup_put(ledger_op_rollup_t *op, const char *device, const char *point,
                         const char *unit, const ledger_rollup_packed_t *nums);
ledger_op_device_t *ledger_op_device_new(const char *device, const char *status, int64_t ts_ms,
                                         const char *detail);
ledger_op_policy_t *ledger_op_policy_new(const ledger_policy_t *p);
/* A change op; strings are copied. comment may be NULL; ref, arg and by
 * may not. NULL on out of memory, a missing argument or a string too long
 * for its field. */
ledger_op_change_t *ledger_op_change_new(ledger_change_kind_t what, const char *ref,
                                         const char *arg, const char *comment,
                                         const ledger_actor_t *by, uint64_t tag);

/* An audit op holding copies of e's strings (actor, channel and action
 * required; too long ones are cut). NULL on out of memory or a missing
 * field. */
ledger_op_audit_t *ledger_op_audit_new(const ledger_audit_entry_t *e);

/* Open the ledger at path (creating it) on the calling thread, then start
 * the thread. The file is not checked here: when the last run did not
 * close it (its open marker path.open is there), PRAGMA quick_check runs
 * on a thread of its own while the ledger works (figures: checking,
 * checks_*). A file SQLite cannot open as a ledger, or one the check finds
 * damaged, is moved aside as path.corrupt-<UTC> and a fresh one created
 * (posted as LEDGER_EV_HEALTH with moved_to); a file that cannot be opened
 * is tried again every second by the thread, the ops waiting meanwhile.
 * Either is posted to results as LEDGER_EV_HEALTH (and written to err,
 * which then is non-empty although 0 is returned). Returns 0, or a
 * negative code for a missing path or out of memory. */
int ledger_worker_start(ledger_worker_t **out, const char *path, gw_queue_t *results, char *err,
                        size_t errlen);
/* Queue an op; the worker owns it. Thread-safe. A repeatable op (rollup,
 * device status, ack) is dropped at once, and counted, when the bound is
 * reached. */
void ledger_worker_submit(ledger_worker_t *w, gw_msg_t *op);
/* The bound of the backlog in ops (a rollup row counts as one); at least
 * 100. Thread-safe; the default is 10000. */
void ledger_worker_set_max_ops(ledger_worker_t *w, size_t max_ops);
/* A snapshot of the thread's figures. Thread-safe. */
void ledger_worker_figures(ledger_worker_t *w, ledger_worker_figures_t *out);
/* Apply every op queued so far, commit, stop the thread (and interrupt a
 * check that runs) and close the ledger; the open marker goes when nothing
 * was lost and no check is left due. Safe to call once; frees w. Returns
 * 0 when everything submitted
 * was committed, or GW_EIO when the thread gave up on a failing batch at
 * stop (the ops of it are lost; the thread logged how many). */
int ledger_worker_stop(ledger_worker_t *w);
/* Ops waiting now (for status and metrics). */
size_t ledger_worker_depth(ledger_worker_t *w);
/* Liveness: the monotonic time (gw_mono_ms) at which the thread last
 * showed progress. It stamps it at every turn, before every op of a batch
 * and while it waits (at least once a second), so a stamp that stops
 * moving means the thread is stuck in a call (a disk that hangs). Any
 * thread may read it. */
int64_t ledger_worker_progress_ms(ledger_worker_t *w);
/* The longest a healthy ledger thread goes without a stamp: a statement
 * waiting for a lock held by another connection (plantroomctl) for the
 * ledger's 5 s busy timeout, twice, plus a second. */
#define LEDGER_WORKER_STALL_BOUND_MS 11000

#endif
