/*
 * notify_worker.h: the notifier's store thread: notify.db written behind,
 * in order, off the loop (docs/hooks.md, "Durability").
 *
 * The notifier keeps its state in memory and describes each change as row
 * images (ops). The ops of one loop iteration travel as one transaction
 * unit (notify_tx_t) with an increasing sequence number; the thread takes
 * every unit queued, applies them in one SQLite transaction (BEGIN
 * IMMEDIATE ... COMMIT, synchronous=FULL), and only after the commit posts
 * NOTIFY_EV_COMMITTED with the highest sequence number it holds: everything
 * up to it is on disk. A unit is never split.
 *
 * When a batch fails (disk full, read-only, I/O error, a lock held by
 * another process) it is rolled back, NOTIFY_EV_FAILED says what kind of
 * failure it was (every try; the log has the first, each change of kind,
 * then one in 30), and the same batch, with whatever arrived meanwhile, is
 * tried again after 0.5 s, doubling to 5 s: nothing is reordered. The caller
 * bounds what waits: a unit marked `reset` makes the thread drop every unit
 * before it (the caller sends its whole state in it, NOTIFY_OP_IMAGE).
 *
 * A file found corrupt (SQLITE_CORRUPT, SQLITE_NOTADB, or the quick_check
 * of NOTIFY_OP_HOUSE) is closed, moved aside (store_file_quarantine) and
 * replaced by a fresh one; the batch is dropped and NOTIFY_EV_REOPENED asks
 * the caller for its whole state. Started without a file (it could not be
 * opened), the thread tries to open one every retry, moving aside first
 * whatever is at the path (the caller never loaded it), and posts
 * NOTIFY_EV_REOPENED once it has one.
 *
 * Message kinds 500-599 belong to this module.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_NOTIFY_WORKER_H
#define PLANTROOM_NOTIFY_WORKER_H

#include "gateway/base/gw_queue.h"
#include "store/notify_store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct notify_worker notify_worker_t;

/* Ops, inside a unit. */
enum {
    NOTIFY_OP_SEEN = 500, /* notify_op_seen_t */
    NOTIFY_OP_ALERT,      /* notify_op_alert_t */
    NOTIFY_OP_BATCH_PUT,  /* notify_op_batch_t */
    NOTIFY_OP_BATCH_DEL,  /* notify_op_batch_t: row.id */
    NOTIFY_OP_AG,         /* notify_op_ag_t */
    NOTIFY_OP_MSG,        /* notify_op_msg_t */
    NOTIFY_OP_HOUSE,      /* notify_op_house_t: check the file, purge; post NOTIFY_EV_COUNTS */
    NOTIFY_OP_IMAGE,      /* notify_op_image_t: the caller's whole state */
    NOTIFY_TX = 530,      /* notify_tx_t: the unit submitted */
};

/* Results (posted to the results queue). */
enum {
    NOTIFY_EV_COMMITTED = 550, /* notify_ev_t: seq */
    NOTIFY_EV_FAILED,          /* notify_ev_t: fault, msg */
    NOTIFY_EV_REOPENED,        /* notify_ev_t: fault (CORRUPT, or NONE), msg: where the old
                                * file went ("" when there was none) */
    NOTIFY_EV_COUNTS,          /* notify_ev_t: counts, deleted (after a NOTIFY_OP_HOUSE) */
};

typedef struct notify_op_seen {
    gw_msg_t hdr;
    notify_seen_row_t row;
} notify_op_seen_t;

typedef struct notify_op_alert {
    gw_msg_t hdr;
    notify_alert_t row;
} notify_op_alert_t;

typedef struct notify_op_batch {
    gw_msg_t hdr;
    notify_batch_row_t row;
} notify_op_batch_t;

typedef struct notify_op_ag {
    gw_msg_t hdr;
    notify_ag_row_t row;
} notify_op_ag_t;

typedef struct notify_op_msg {
    gw_msg_t hdr;
    notify_msg_t row; /* strings owned by the op */
} notify_op_msg_t;

typedef struct notify_op_house {
    gw_msg_t hdr;
    int64_t cutoff_ms; /* retention: notify_store_purge */
    int64_t max_rows;
    int check; /* 1: store_db_check the file first */
} notify_op_house_t;

typedef struct notify_op_image {
    gw_msg_t hdr;
    notify_image_t img; /* owned by the op */
} notify_op_image_t;

typedef struct notify_tx {
    gw_msg_t hdr;
    int64_t seq; /* increasing */
    int reset;   /* 1: drop every unit before this one */
    size_t n;    /* ops */
    gw_msg_t *head, *tail;
} notify_tx_t;

typedef struct notify_ev {
    gw_msg_t hdr;
    int64_t seq; /* COMMITTED: everything up to it is committed */
    notify_fault_t fault;
    char msg[4200];
    notify_counts_t counts; /* COUNTS */
    int64_t deleted;        /* COUNTS: rows the purge deleted */
} notify_ev_t;

/* Op constructors: copies of the rows (a message's strings too). NULL on
 * out of memory. A batch delete takes only the id. */
gw_msg_t *notify_op_seen_new(const notify_seen_row_t *row);
gw_msg_t *notify_op_alert_new(const notify_alert_t *row);
gw_msg_t *notify_op_batch_new(int kind, const notify_batch_row_t *row);
gw_msg_t *notify_op_ag_new(const notify_ag_row_t *row);
gw_msg_t *notify_op_msg_new(const notify_msg_t *row);
gw_msg_t *notify_op_house_new(int64_t cutoff_ms, int64_t max_rows, int check);
/* Takes img over (it is emptied). */
gw_msg_t *notify_op_image_new(notify_image_t *img);

/* A unit; add ops with notify_tx_add (the unit owns them). Free an unsent
 * one with gw_msg_free. */
notify_tx_t *notify_tx_new(int64_t seq, int reset);
void notify_tx_add(notify_tx_t *tx, gw_msg_t *op);

/* Start the thread on the file at path. st: the file, opened and loaded by
 * the caller (the thread owns it from now), or NULL when it could not be
 * (the thread tries again; see above). Results go to results. Returns 0 or
 * a negative code with err. */
int notify_worker_start(notify_worker_t **out, const char *path, notify_store_t *st,
                        gw_queue_t *results, char *err, size_t errlen);
/* Queue a unit; the worker owns it. Thread-safe. */
void notify_worker_submit(notify_worker_t *w, notify_tx_t *tx);
/* Commit every unit queued so far, stop the thread, close the file; frees
 * w. A failing disk is tried 3 more times, then what did not go in is
 * lost (logged). Returns 0 when everything was committed, else GW_EIO. */
int notify_worker_stop(notify_worker_t *w);
/* Ops submitted and not yet committed (nor dropped by a reset). */
size_t notify_worker_depth(notify_worker_t *w);

#endif
