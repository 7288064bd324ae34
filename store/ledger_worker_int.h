/*
 * ledger_worker_int.h: what the files of the ledger thread share and
 * nobody else uses: the worker's state and the batch calls of the thread.
 * ledger_worker.c (the thread, housekeeping, life cycle) calls
 * ledger_worker_batch.c (one batch: apply, commit, post results), never
 * the reverse; ledger_worker_ops.c (the op constructors) stands alone. The
 * contract is store/ledger_worker.h; the design is at the top of
 * ledger_worker.c and in docs/architecture.md ("Durability order").
 */
#ifndef PLANTROOM_LEDGER_WORKER_INT_H
#define PLANTROOM_LEDGER_WORKER_INT_H

#include "store/ledger_worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Who owns what: the worker owns lg, ops (and every op queued in it), the
 * pending batch and the stop message; results belongs to the caller. */
struct ledger_worker {
    ledger_t *lg;
    gw_queue_t ops;
    gw_queue_t *results; /* may be NULL: results are then dropped */
    pthread_t thread;
    pthread_mutex_t mu; /* guards stopping; with cond, the retry pause */
    pthread_cond_t cond;
    int stopping;
    gw_msg_t stop_msg;       /* pushed once by ledger_worker_stop, never freed */
    atomic_size_t pending_n; /* ops taken but not yet committed */
    int64_t last_outbox_id;  /* highest outbox id posted (or present at start) */
    int has_policy;          /* a LEDGER_OP_POLICY was applied: housekeeping on */
    int64_t next_purge_ms;   /* wall time of the next retention purge */
    int64_t next_report_ms;  /* wall time of the next monthly-report check */
    int house_failures;      /* consecutive failed housekeeping runs, for the log */
    size_t lost;             /* ops given up at stop */
};

/* A list of messages with a tail, for batches and results. */
typedef struct ledger__list {
    gw_msg_t *head, *tail;
    size_t n;
} ledger__list_t;

/* Append m to l / free every message of l and empty it. */
void ledger__list_add(ledger__list_t *l, gw_msg_t *m);
void ledger__list_free(ledger__list_t *l);

/* Post an error now (not tied to a commit: it reports a failure). */
void ledger__post_error(ledger_worker_t *w, int rc, const char *msg);

/* Post the outbox rows committed since the last ones posted (written
 * outside a batch: the monthly report's event). */
void ledger__post_new_outbox(ledger_worker_t *w);

/* Apply the batch in one transaction. On 0 the batch is committed and its
 * results posted. On a negative code nothing was kept (rolled back) and the
 * reason is in err: the caller retries the same batch later. */
int ledger__apply_batch(ledger_worker_t *w, ledger__list_t *batch, char *err, size_t errlen);

#endif
