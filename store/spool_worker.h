/*
 * spool_worker.h: the telemetry spool (spool.h) on a thread of its own, so
 * that no spool I/O runs on the loop thread: a slow or failing flash card
 * delays no poll and no rule (docs/architecture.md, "Threads").
 *
 * The same hand-off as the ledger thread (ledger_worker.h): the loop
 * submits ops to the thread's queue; the thread applies them in order and
 * posts what the loop asked for (rows to replay) and the state of the file
 * (ok, or what failed) to the results queue. The spool stays bounded
 * (spool.h): appends that the file refuses (disk full, read-only) are
 * dropped and counted, never kept in memory. A damaged file is moved aside
 * (store_file.h) and a fresh one started, at open and at run time; a file
 * that cannot be opened is tried again at the next append.
 *
 * Message kinds 600-699 belong to this module.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_SPOOL_WORKER_H
#define PLANTROOM_SPOOL_WORKER_H

#include "gateway/base/gw_queue.h"
#include "store/spool.h"

#include <stddef.h>
#include <stdint.h>

typedef struct spool_worker spool_worker_t;

enum {
    SPOOL_OP_APPEND = 600, /* spool_op_append_t: append, keep the bound */
    SPOOL_OP_READ,         /* spool_op_read_t: answered by SPOOL_EV_ROWS */
    SPOOL_OP_DELETE,       /* spool_op_delete_t: delete rows up to an id */
    SPOOL_EV_ROWS = 650,   /* spool_ev_rows_t */
    SPOOL_EV_HEALTH,       /* spool_ev_health_t: the file's state changed */
};

/* Messages to append; the op owns their strings (spool_op_append_new), or
 * they lie in its own allocation (spool_op_append_new_packed). */
typedef struct spool_op_append {
    gw_msg_t hdr;
    int64_t max_rows; /* the bound (spool_append) */
    size_t n;
    char *blob;         /* packed: room for the strings, after msgs; else NULL */
    spool_msg_t msgs[]; /* n, allocated with the op */
} spool_op_append_t;

typedef struct spool_op_read {
    gw_msg_t hdr;
    int64_t after_id;
    size_t max;
    uint64_t tag; /* echoed in the answer */
} spool_op_read_t;

typedef struct spool_op_delete {
    gw_msg_t hdr;
    int64_t upto;
} spool_op_delete_t;

/* Rows read (owned; freed with the message). rc < 0: the read failed. */
typedef struct spool_ev_rows {
    gw_msg_t hdr;
    uint64_t tag;
    int rc;
    size_t n;
    spool_msg_t *rows;
} spool_ev_rows_t;

/* Posted when the file's state changes: ok, or rc (-ENOSPC, -EROFS,
 * GW_EIO, ...) with a detail; moved_to when a damaged file went aside. */
typedef struct spool_ev_health {
    gw_msg_t hdr;
    int rc;
    char detail[256];
    char moved_to[512];
} spool_ev_health_t;

/* An append op with room for n messages (zeroed; fill topic and payload
 * with malloc'd strings, which the op then owns). NULL on out of memory. */
spool_op_append_t *spool_op_append_new(size_t n);
/* The same with room for `bytes` of strings in the op's one allocation
 * (op->blob): point topic and payload into it; nothing else to free. */
spool_op_append_t *spool_op_append_new_packed(size_t n, size_t bytes);
/* A read or delete op. NULL on out of memory. */
spool_op_read_t *spool_op_read_new(int64_t after_id, size_t max, uint64_t tag);
spool_op_delete_t *spool_op_delete_new(int64_t upto);

/* Open the spool at path on the calling thread, without a check (a file
 * SQLite cannot open is moved aside and a fresh one created; either way the
 * state is posted to results), then start the thread, which checks the
 * file first (PRAGMA quick_check; a damaged one moved aside) when its open
 * marker path.open says the last run did not close it. The marker is
 * written at open and removed by spool_worker_stop. Returns 0, or
 * GW_EINVAL / GW_ENOMEM; a file that cannot be opened is no error: it is
 * posted, and tried again. */
int spool_worker_start(spool_worker_t **out, const char *path, gw_queue_t *results);
/* Queue an op; the worker owns it. Thread-safe. */
void spool_worker_submit(spool_worker_t *w, gw_msg_t *op);
/* Apply everything queued, stop the thread, close the file, free w.
 * Nothing is posted to results any more from the call on. */
void spool_worker_stop(spool_worker_t *w);
/* Thread-safe snapshots: rows in the file; rows dropped (past the bound,
 * persistent in the file, plus those the file refused in this run);
 * messages queued in appends not yet applied. */
int64_t spool_worker_count(spool_worker_t *w);
int64_t spool_worker_dropped(spool_worker_t *w);
size_t spool_worker_pending(spool_worker_t *w);

#endif
