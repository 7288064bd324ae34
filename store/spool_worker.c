/*
 * spool_worker.c: the telemetry spool's thread (spool_worker.h; design in
 * docs/architecture.md, "Threads", and docs/mqtt.md, "Store-and-forward").
 *
 * One pthread owns the spool_t. It blocks on its queue, applies each op in
 * order and frees it: an append (one transaction, the bound kept by
 * spool_append), a read (answered with SPOOL_EV_ROWS), a delete. When the
 * file refuses an append (disk full, read-only, I/O error) the messages
 * are dropped and counted: telemetry is what the issue of a full disk may
 * cost, not memory; work orders do not depend on the spool. The file is
 * opened at start without a check; the thread checks it (PRAGMA
 * quick_check) first when the last run did not close it (its open marker
 * spool.db.open, store_file.h), its ops waiting meanwhile, and when an op
 * met damage. A damaged file
 * is moved aside and a fresh one opened; a file that cannot be opened is
 * tried again at the next op. Each change
 * of the file's state is posted (SPOOL_EV_HEALTH): the north side raises
 * or clears the gateway alarm storage.spool.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/spool_worker.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"
#include "store/store_file.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPOOL__OP_STOP 699

/* Who owns what: the worker owns s, ops and every op queued; results is
 * the caller's. Fields without a note are the thread's alone. */
struct spool_worker {
    spool_t *s; /* NULL while the file cannot be opened */
    char path[PATH_MAX];
    gw_queue_t ops;
    gw_queue_t *results;
    pthread_t thread;
    gw_msg_t stop_msg;
    int last_rc;  /* the state last posted: 0 ok, else the error */
    int64_t lost; /* messages the file refused in this run */
    atomic_llong count, dropped;
    atomic_size_t pending; /* messages in appends queued, not yet applied */
    atomic_int quiet;      /* stopping: post nothing (the loop may be gone) */
    int check;             /* check the file at the next open: an op met damage */
    int check_first;       /* check it when the thread starts: an unclean stop */
    char why[600];         /* that check's finding */
    int marked;            /* the open marker is written (removed at stop) */
};

/* ---- ops ----------------------------------------------------------------- */

static void spool__append_free(gw_msg_t *m)
{
    spool_op_append_t *op = (spool_op_append_t *)m;

    for (size_t i = 0; i < op->n && !op->blob; i++) {
        free(op->msgs[i].topic);
        free(op->msgs[i].payload);
    }
    free(op);
}

spool_op_append_t *spool_op_append_new_packed(size_t n, size_t bytes)
{
    spool_op_append_t *op = malloc(sizeof(*op) + n * sizeof(op->msgs[0]) + bytes);

    if (!op)
        return NULL;
    memset(op, 0, sizeof(*op) + n * sizeof(op->msgs[0]));
    op->hdr.kind = SPOOL_OP_APPEND;
    op->hdr.free_fn = spool__append_free;
    op->n = n;
    op->max_rows = -1;
    op->blob = (char *)(op->msgs + n);
    return op;
}

spool_op_append_t *spool_op_append_new(size_t n)
{
    spool_op_append_t *op = calloc(1, sizeof(*op) + n * sizeof(op->msgs[0]));

    if (!op)
        return NULL;
    op->hdr.kind = SPOOL_OP_APPEND;
    op->hdr.free_fn = spool__append_free;
    op->n = n;
    op->max_rows = -1;
    return op;
}

spool_op_read_t *spool_op_read_new(int64_t after_id, size_t max, uint64_t tag)
{
    spool_op_read_t *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->hdr.kind = SPOOL_OP_READ;
    op->after_id = after_id;
    op->max = max;
    op->tag = tag;
    return op;
}

spool_op_delete_t *spool_op_delete_new(int64_t upto)
{
    spool_op_delete_t *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    op->hdr.kind = SPOOL_OP_DELETE;
    op->upto = upto;
    return op;
}

static void spool__rows_free(gw_msg_t *m)
{
    spool_ev_rows_t *ev = (spool_ev_rows_t *)m;

    spool_rows_free(ev->rows, ev->n);
    free(ev);
}

/* ---- the file ------------------------------------------------------------ */

static void spool__post(spool_worker_t *w, gw_msg_t *m)
{
    if (w->results && !atomic_load(&w->quiet))
        gw_queue_push(w->results, m);
    else
        gw_msg_free(m);
}

/* Post the file's state when it changed (or a file was moved aside). */
static void spool__health(spool_worker_t *w, int rc, const char *detail, const char *moved)
{
    spool_ev_health_t *ev;

    if (rc == w->last_rc && !(moved && *moved))
        return;
    if (rc < 0 && w->last_rc == 0)
        gw_log_warn("mqtt", "%s: telemetry that the spool cannot take is dropped and counted",
                    detail);
    else if (rc == 0 && w->last_rc < 0)
        gw_log_notice("mqtt", "spool %s takes writes again", w->path);
    w->last_rc = rc;
    ev = calloc(1, sizeof(*ev));
    if (!ev)
        return;
    ev->hdr.kind = SPOOL_EV_HEALTH;
    ev->rc = rc;
    snprintf(ev->detail, sizeof(ev->detail), "%s", detail ? detail : "");
    snprintf(ev->moved_to, sizeof(ev->moved_to), "%s", moved ? moved : "");
    spool__post(w, &ev->hdr);
}

/* Move the damaged file aside; 0 or GW_EIO (logged). */
static int spool__quarantine(spool_worker_t *w, const char *why, char *moved, size_t len)
{
    char err[512];

    if (store_file_quarantine(w->path, moved, len, err, sizeof(err)) != 0) {
        gw_log_error("mqtt", "%s: %s", why, err);
        return GW_EIO;
    }
    gw_log_error("mqtt", "%s: moved aside to %s; a fresh spool starts", why, moved);
    return 0;
}

/* Open w->s when it is not: the file checked first, moved aside when
 * damaged. The outcome is posted. */
static void spool__ensure_open(spool_worker_t *w)
{
    char why[600], err[512] = "", moved[512] = "";
    int rc;

    if (w->s)
        return;
    rc = w->check ? store_db_check(w->path, why, sizeof(why)) : 0;
    if (rc == GW_ECORRUPT && spool__quarantine(w, why, moved, sizeof(moved)) != 0) {
        spool__health(w, GW_EIO, why, NULL);
        return;
    }
    rc = spool_open(&w->s, w->path, err, sizeof(err));
    if (rc == GW_ECORRUPT && !moved[0] && spool__quarantine(w, err, moved, sizeof(moved)) == 0)
        rc = spool_open(&w->s, w->path, err, sizeof(err));
    if (rc < 0) {
        w->s = NULL;
        spool__health(w, rc, err, moved);
        return;
    }
    w->check = 0;
    if (!w->marked && store_marker_set(w->path, err, sizeof(err)) == 0)
        w->marked = 1;
    err[0] = '\0';
    if (moved[0])
        snprintf(err, sizeof(err), "spool %s was damaged", w->path);
    spool__health(w, 0, err, moved);
}

/* An op met a damaged file: close it and open again (moved aside). */
static void spool__recover(spool_worker_t *w)
{
    spool_close(w->s);
    w->s = NULL;
    w->check = 1;
    spool__ensure_open(w);
}

/* ---- the thread ---------------------------------------------------------- */

static void spool__append(spool_worker_t *w, spool_op_append_t *op)
{
    char err[512] = "";
    int64_t dropped = 0;
    int rc = GW_EIO;

    spool__ensure_open(w);
    if (w->s) {
        rc = spool_append(w->s, op->msgs, op->n, op->max_rows, &dropped, err, sizeof(err));
        if (rc == GW_ECORRUPT) {
            spool__recover(w);
            if (w->s)
                rc = spool_append(w->s, op->msgs, op->n, op->max_rows, &dropped, err, sizeof(err));
        }
    }
    if (rc < 0) {
        w->lost += (int64_t)op->n;
        if (w->s)
            spool__health(w, rc, err, NULL);
        return;
    }
    spool__health(w, 0, NULL, NULL);
}

static void spool__read(spool_worker_t *w, const spool_op_read_t *op)
{
    spool_ev_rows_t *ev = calloc(1, sizeof(*ev));
    char err[512];

    if (!ev)
        return;
    ev->hdr.kind = SPOOL_EV_ROWS;
    ev->hdr.free_fn = spool__rows_free;
    ev->tag = op->tag;
    ev->rc = w->s ? spool_read(w->s, op->after_id, op->max, &ev->rows, &ev->n, err, sizeof(err))
                  : GW_EIO;
    if (ev->rc == GW_ECORRUPT)
        spool__recover(w);
    spool__post(w, &ev->hdr);
}

static void spool__apply(spool_worker_t *w, gw_msg_t *m)
{
    char err[512];

    switch (m->kind) {
    case SPOOL_OP_APPEND:
        spool__append(w, (spool_op_append_t *)m);
        atomic_fetch_sub(&w->pending, ((spool_op_append_t *)m)->n);
        break;
    case SPOOL_OP_READ:
        spool__read(w, (spool_op_read_t *)m);
        break;
    case SPOOL_OP_DELETE:
        if (w->s && spool_delete_upto(w->s, ((spool_op_delete_t *)m)->upto, err, sizeof(err)) < 0)
            spool__health(w, GW_EIO, err, NULL);
        break;
    default:
        break;
    }
    atomic_store(&w->count, w->s ? spool_count(w->s) : 0);
    atomic_store(&w->dropped, (w->s ? spool_dropped(w->s) : 0) + w->lost);
}

static void *spool__thread(void *arg)
{
    spool_worker_t *w = arg;
    int stop = 0;

    /* After an unclean stop the file is checked here, not in the daemon's
     * start: a large spool delays only the spool's ops, which wait. */
    if (w->check_first && w->s && store_db_check(w->path, w->why, sizeof(w->why)) == GW_ECORRUPT) {
        gw_log_error("mqtt", "%s", w->why);
        spool__recover(w); /* checked again, moved aside, a fresh one */
        atomic_store(&w->count, w->s ? spool_count(w->s) : 0);
        atomic_store(&w->dropped, w->s ? spool_dropped(w->s) : 0);
    }

    while (!stop) {
        gw_msg_t *m = gw_queue_wait_all(&w->ops, -1);
        while (m) {
            gw_msg_t *next = m->next;
            if (m == &w->stop_msg) {
                stop = 1;
            } else {
                if (!stop)
                    spool__apply(w, m);
                gw_msg_free(m);
            }
            m = next;
        }
    }
    return NULL;
}

/* ---- life cycle ----------------------------------------------------------- */

int spool_worker_start(spool_worker_t **out, const char *path, gw_queue_t *results)
{
    spool_worker_t *w;

    *out = NULL;
    if (!path || !*path || strlen(path) >= PATH_MAX)
        return GW_EINVAL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return GW_ENOMEM;
    snprintf(w->path, sizeof(w->path), "%s", path);
    w->results = results;
    w->stop_msg.kind = SPOOL__OP_STOP;
    atomic_init(&w->count, 0);
    atomic_init(&w->dropped, 0);
    atomic_init(&w->pending, 0);
    atomic_init(&w->quiet, 0);
    if (gw_queue_init(&w->ops, NULL, NULL) < 0) {
        free(w);
        return GW_ENOMEM;
    }
    /* opened here unchecked; checked by the thread when the last run did
     * not close it (its open marker, store_file.h) */
    w->check_first = store_marker_present(path);
    spool__ensure_open(w);
    atomic_store(&w->count, w->s ? spool_count(w->s) : 0);
    atomic_store(&w->dropped, w->s ? spool_dropped(w->s) : 0);
    if (pthread_create(&w->thread, NULL, spool__thread, w) != 0) {
        spool_close(w->s);
        gw_queue_destroy(&w->ops);
        free(w);
        return GW_ENOMEM;
    }
    pthread_setname_np(w->thread, "spool");
    *out = w;
    return 0;
}

void spool_worker_submit(spool_worker_t *w, gw_msg_t *op)
{
    if (!op)
        return;
    if (op->kind == SPOOL_OP_APPEND)
        atomic_fetch_add(&w->pending, ((spool_op_append_t *)op)->n);
    gw_queue_push(&w->ops, op);
}

void spool_worker_stop(spool_worker_t *w)
{
    int clean;

    if (!w)
        return;
    /* The daemon stops the spool after its loop is closed: what the thread
     * would post now has no reader, and waking a closed loop aborts. */
    atomic_store(&w->quiet, 1);
    gw_queue_push(&w->ops, &w->stop_msg);
    pthread_join(w->thread, NULL);
    clean = w->s && w->marked; /* a clean close: no check at the next start */
    spool_close(w->s);
    if (clean)
        store_marker_clear(w->path);
    gw_queue_destroy(&w->ops);
    free(w);
}

int64_t spool_worker_count(spool_worker_t *w)
{
    return w ? atomic_load(&w->count) : 0;
}

int64_t spool_worker_dropped(spool_worker_t *w)
{
    return w ? atomic_load(&w->dropped) : 0;
}

size_t spool_worker_pending(spool_worker_t *w)
{
    return w ? atomic_load(&w->pending) : 0;
}
