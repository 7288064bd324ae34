/*
 * notify_worker_ops.c: the ops and units the notifier hands its store
 * thread (store/notify_worker.h): copies of row images, freed by the thread
 * once applied (or dropped).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/notify_worker.h"

#include <stdlib.h>
#include <string.h>

#define NW__NEW(type, k)                                                                           \
    type *op = calloc(1, sizeof(*op));                                                             \
    if (!op)                                                                                       \
        return NULL;                                                                               \
    op->hdr.kind = (k)

gw_msg_t *notify_op_seen_new(const notify_seen_row_t *row)
{
    NW__NEW(notify_op_seen_t, NOTIFY_OP_SEEN);
    op->row = *row;
    return &op->hdr;
}

gw_msg_t *notify_op_alert_new(const notify_alert_t *row)
{
    NW__NEW(notify_op_alert_t, NOTIFY_OP_ALERT);
    op->row = *row;
    return &op->hdr;
}

gw_msg_t *notify_op_batch_new(int kind, const notify_batch_row_t *row)
{
    NW__NEW(notify_op_batch_t, kind);
    op->row = *row;
    return &op->hdr;
}

gw_msg_t *notify_op_ag_new(const notify_ag_row_t *row)
{
    NW__NEW(notify_op_ag_t, NOTIFY_OP_AG);
    op->row = *row;
    return &op->hdr;
}

static void nw__msg_free(gw_msg_t *m)
{
    notify_op_msg_t *op = (notify_op_msg_t *)m;
    notify_msg_clear(&op->row);
    free(op);
}

gw_msg_t *notify_op_msg_new(const notify_msg_t *row)
{
    NW__NEW(notify_op_msg_t, NOTIFY_OP_MSG);
    if (notify_msg_copy(&op->row, row) != 0) {
        free(op);
        return NULL;
    }
    op->hdr.free_fn = nw__msg_free;
    return &op->hdr;
}

gw_msg_t *notify_op_house_new(int64_t cutoff_ms, int64_t max_rows, int check)
{
    NW__NEW(notify_op_house_t, NOTIFY_OP_HOUSE);
    op->cutoff_ms = cutoff_ms;
    op->max_rows = max_rows;
    op->check = check;
    return &op->hdr;
}

static void nw__image_free(gw_msg_t *m)
{
    notify_op_image_t *op = (notify_op_image_t *)m;
    notify_image_free(&op->img);
    free(op);
}

gw_msg_t *notify_op_image_new(notify_image_t *img)
{
    NW__NEW(notify_op_image_t, NOTIFY_OP_IMAGE);
    op->img = *img;
    memset(img, 0, sizeof(*img));
    op->hdr.free_fn = nw__image_free;
    return &op->hdr;
}

static void nw__tx_free(gw_msg_t *m)
{
    notify_tx_t *tx = (notify_tx_t *)m;
    gw_msg_free_list(tx->head);
    free(tx);
}

notify_tx_t *notify_tx_new(int64_t seq, int reset)
{
    notify_tx_t *tx = calloc(1, sizeof(*tx));

    if (!tx)
        return NULL;
    tx->hdr.kind = NOTIFY_TX;
    tx->hdr.free_fn = nw__tx_free;
    tx->seq = seq;
    tx->reset = reset;
    return tx;
}

void notify_tx_add(notify_tx_t *tx, gw_msg_t *op)
{
    op->next = NULL;
    if (tx->tail)
        tx->tail->next = op;
    else
        tx->head = op;
    tx->tail = op;
    tx->n++;
}
