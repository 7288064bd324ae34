/*
 * ledger_worker_int.h: what the files of the ledger thread share and
 * nobody else uses: the worker's state and the calls between its files.
 *
 *   ledger_worker.c        the thread, its life cycle, housekeeping
 *   ledger_worker_file.c   opening the file: quarantine, reopen, marker
 *   ledger_worker_queue.c  the bounded backlog: merge, coalesce, drop; reads
 *   ledger_worker_check.c  the file's check, on a thread of its own
 *   ledger_worker_prov.c   provisional events of ops that wait
 *   ledger_worker_batch.c  one batch: apply, commit, post results
 *   ledger_worker_ops.c    the op constructors (alone)
 *
 * Each file calls only the ones below it in this list. The contract is
 * store/ledger_worker.h; the design is at the top of ledger_worker.c and in
 * docs/architecture.md ("Durability order", "When the ledger cannot
 * write").
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_LEDGER_WORKER_INT_H
#define PLANTROOM_LEDGER_WORKER_INT_H

#include "store/ledger_int.h"
#include "store/ledger_worker.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER__OP_CHECKED      398 /* the checker's wake-up (a plain gw_msg_t) */
#define LEDGER__MAX_OPS_DEFAULT 10000
#define LEDGER__MAX_OPS_MIN     100

/* Stamp the thread's progress (ledger_worker_progress_ms). */
void ledger__alive(ledger_worker_t *w);

/* A list of messages with a tail, for the backlog, batches and results. */
typedef struct ledger__list {
    gw_msg_t *head, *tail;
    size_t n;
} ledger__list_t;

/* What the thread believes of one fingerprint while ops wait: the ledger's
 * active order (read once) with the waiting ops applied, so that each
 * provisional event says what its commit will say (ledger_worker_prov.c). */
typedef struct ledger__prov_entry {
    char *fp;
    int active; /* an active order exists (or will, once committed) */
    ledger_wo_t wo;
} ledger__prov_entry_t;

/* Who owns what: the worker owns lg, ops (and every op queued in it), the
 * backlog, the provisional view and the stop message; results belongs to
 * the caller. Fields without a note are the thread's alone (after start). */
struct ledger_worker {
    ledger_t *lg; /* NULL while the file cannot be opened */
    gw_queue_t ops;
    gw_queue_t *results; /* may be NULL: results are then dropped */
    pthread_t thread;
    gw_msg_t stop_msg; /* pushed once by ledger_worker_stop, never freed */
    char path[PATH_MAX];

    /* the backlog: ops taken from the queue, not yet committed, in order */
    ledger__list_t backlog;
    size_t weight;            /* its size against the bound: a rollup counts its rows */
    atomic_size_t pending;    /* weight, for the submitting threads */
    atomic_size_t max_ops;    /* the bound (ledger_worker_set_max_ops) */
    atomic_llong progress_ms; /* gw_mono_ms of the last sign of life (ledger__alive) */

    /* storage state */
    int failing;                  /* the last batch failed: retry at retry_at */
    int64_t retry_at;             /* monotonic ms */
    int failures;                 /* consecutive failed batches */
    ledger_storage_state_t state; /* as last posted */
    ledger__ulid_gen_t ulid;      /* provisional names */
    ledger__prov_entry_t *prov;   /* the provisional view, reset once all is committed */
    size_t nprov, capprov;
    int64_t seq_floor; /* outbox ids of a fresh file start above this */

    int64_t last_outbox_id; /* highest outbox id posted (or present at start) */
    int64_t load_after;     /* a LOAD asked while the file was not open (-1: none) */
    ledger_policy_t policy; /* the last LEDGER_OP_POLICY, applied at every open */
    int has_policy;         /* a LEDGER_OP_POLICY was applied: housekeeping on */
    int64_t next_purge_ms;  /* wall time of the next retention purge */
    int64_t next_report_ms; /* wall time of the next monthly-report check */
    int house_failures;     /* consecutive failed housekeeping runs, for the log */
    size_t lost;            /* ops given up at stop */
    int64_t move_left;      /* rollup rows to move (ledger_rollup_move; -1 unknown, 0 none) */
    int64_t move_retry_at;  /* monotonic ms: the next move batch after a failure */
    int move_failures;      /* consecutive failed move batches */
    int64_t audit_break;    /* the damaged audit row last posted (0: none) */
    int stats_posted;       /* counts were posted at stats_marks (0: count at the next ask) */
    int64_t stats_marks[2]; /* ledger__write_marks when they were */

    /* the file's check (ledger_worker_check.c) */
    int marked;        /* the open marker was written (removed at a clean stop) */
    int check_due;     /* a check must end sound before the marker may go */
    int check_tried;   /* the check for an unclean stop was started once */
    int check_running; /* check_thread runs (joined by the ledger thread) */
    pthread_t check_thread;
    atomic_int check_done;   /* set by the checker as it ends */
    atomic_int check_cancel; /* set to interrupt it */
    int check_rc;            /* its result: read after the join */
    char check_err[600];
    int64_t check_started;     /* monotonic ms */
    int64_t check_next_ms;     /* monotonic ms: no check for a batch's damaged page before */
    char check_hold[PATH_MAX]; /* test-only: the check waits while this file exists */
    pthread_mutex_t check_mu;  /* guards check_db (the checker, the stopper) */
    sqlite3 *check_db;         /* the checker's connection while it is open, else NULL */

    /* test-only: a file holding PRAGMA max_page_count (docs/configuration.md,
     * "Test-only settings"); "" when unused */
    char pages_file[PATH_MAX];
    long long pages_applied;

    pthread_mutex_t mu;            /* guards fig */
    ledger_worker_figures_t fig;   /* figures for other threads */
    atomic_uint_least64_t dropped; /* dropped by submit (any thread) */
    atomic_uint_least64_t rows_dropped;
};

/* ---- ledger_worker_batch.c ---------------------------------------------- */

/* The weight of an op against the bound: its rollup rows, else 1. */
size_t ledger__weight(const gw_msg_t *m);
/* Append m to l / free every message of l and empty it. */
void ledger__list_add(ledger__list_t *l, gw_msg_t *m);
void ledger__list_free(ledger__list_t *l);
/* Post a message to the results (freed when there are none). */
void ledger__post(ledger_worker_t *w, gw_msg_t *m);
/* Post an error now (not tied to a commit: it reports a failure). */
void ledger__post_error(ledger_worker_t *w, int rc, const char *msg);
/* Post outbox rows with after_id < id <= upto (upto < 0: no bound) as
 * LEDGER_EV_OUTBOX, in id order. Returns the highest id posted (after_id
 * if none) or a negative code. */
int64_t ledger__post_outbox(ledger_worker_t *w, int64_t after_id, int64_t upto);
/* Answer a LOAD with a limit: at most op->limit rows after op->id, tagged,
 * then LEDGER_EV_OUTBOX_LOADED (also when the file is not open: nothing
 * read, "more" set, so that the asker asks again). */
void ledger__post_window(ledger_worker_t *w, const ledger_op_outbox_t *op);
/* Post the outbox rows committed and not posted yet (written outside a
 * batch: the monthly report's event by housekeeping, rows written by
 * plantroomctl), after the last one posted. Returns as ledger__post_outbox. */
int64_t ledger__post_new_outbox(ledger_worker_t *w);
/* After a commit: post LEDGER_EV_AUDIT_BREAK when the chain went on past a
 * damaged row not posted yet (once per row), and count it. */
void ledger__audit_break_note(ledger_worker_t *w);
/* Apply an audit op (LEDGER_OP_AUDIT, LEDGER_OP_AUDIT_HEAD) inside the
 * batch's transaction (ledger_worker_audit.c); a result due after the
 * commit (the head) is put in *result. */
int ledger__apply_audit(ledger_worker_t *w, gw_msg_t *m, gw_msg_t **result, char *err,
                        size_t errlen);
/* Apply the batch in one transaction. On 0 the batch is committed, its
 * weight counted off the backlog's and its results posted. On a negative
 * code nothing was kept (rolled back) and the reason is in err: the caller
 * retries the same batch later. */
int ledger__apply_batch(ledger_worker_t *w, ledger__list_t *batch, char *err, size_t errlen);

/* ---- ledger_worker_prov.c ----------------------------------------------- */

/* Announce m's event now, when it is a rule's op (trigger, touch, clear)
 * not yet looked at: post LEDGER_EV_PROVISIONAL and give m the event id (and
 * the id of the order it opens) that its commit will use. */
void ledger__prov_announce(ledger_worker_t *w, gw_msg_t *m);
/* Forget the view (everything waiting was committed). */
void ledger__prov_reset(ledger_worker_t *w);

/* ---- ledger_worker_queue.c ---------------------------------------------- */

/* 1 for the ops that may be dropped past the bound (rollup, device, ack). */
int ledger__droppable(int kind);
/* Take the list in from the queue: reads (stats, loads) and the policy are
 * done at once, writes join the backlog within the bound; while failing,
 * their events are announced. Returns 1 when the stop message was among
 * them (ops after it are dropped). */
int ledger__merge(ledger_worker_t *w, gw_msg_t *in);
/* Announce every op of the backlog not yet announced (a batch just
 * failed). */
void ledger__announce_backlog(ledger_worker_t *w);
/* Move the first n ops of the backlog to chunk / put chunk back in front. */
void ledger__take_chunk(ledger_worker_t *w, size_t n, ledger__list_t *chunk);
void ledger__put_back(ledger_worker_t *w, ledger__list_t *chunk);
/* The chunk was committed: free it and count it off. */
void ledger__done_chunk(ledger_worker_t *w, ledger__list_t *chunk);
/* Refresh the figures other threads read (depth, peak). */
void ledger__fig_depth(ledger_worker_t *w);

/* ---- ledger_worker_check.c ---------------------------------------------- */

/* Start the check of the file on its own thread (nothing when one runs or
 * the file is not open); why goes to the log. */
void ledger__check_start(ledger_worker_t *w, const char *why);
/* A batch met a damaged page: check the file (at most once a minute). */
void ledger__check_damaged(ledger_worker_t *w);
/* Between batches: take the result of a check that ended; a damaged file
 * is moved aside and a fresh one opened. */
void ledger__check_poll(ledger_worker_t *w);
/* Interrupt a check that runs and wait for its thread (at stop). */
void ledger__check_stop(ledger_worker_t *w);

/* ---- ledger_worker_file.c ----------------------------------------------- */

/* Open w->path (creating it) into w->lg: a damaged file is moved aside and
 * a fresh one started (posted as LEDGER_EV_HEALTH with moved_to). Returns
 * 0, or a negative code with err (w->lg stays NULL). */
int ledger__file_open(ledger_worker_t *w, char *err, size_t errlen);
/* The check found the file damaged (why): close it, move it aside, open a
 * fresh one. Returns as ledger__file_open. */
int ledger__file_recover(ledger_worker_t *w, const char *why, char *err, size_t errlen);
/* Before a batch: the test-only max_page_count, when configured. */
void ledger__file_test_pages(ledger_worker_t *w);
/* The state of the storage an error code means. */
ledger_storage_state_t ledger__state_of(int rc);
/* Post LEDGER_EV_HEALTH when the state differs from the last one posted
 * (or moved_to is given), and keep it in the figures. */
void ledger__set_state(ledger_worker_t *w, ledger_storage_state_t st, const char *detail,
                       const char *moved_to);

#endif
