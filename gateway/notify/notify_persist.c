/*
 * notify_persist.c: the notifier's state written behind, in order, through
 * its store thread (notify_int.h, store/notify_worker.h; design in
 * docs/hooks.md, "Durability" and "When notify.db cannot be written").
 *
 * Every change appends a row image to the open unit, stamped with the
 * unit's sequence number; after the loop iteration (a uv_check) the unit
 * goes to the thread. What the thread committed comes back as the highest
 * sequence number on disk: a message is delivered once the unit that
 * recorded it is committed (or at once while notify.db cannot be written:
 * an SMS does not wait for the disk), and event_stored answers an event
 * once the unit that took it in is committed. When more than
 * notify.queue_max changes wait (the disk has been failing for a while) or
 * a unit was lost, the whole state replaces them (an image); while an image
 * waits, at most notify.queue_max changes queue behind it and later units
 * are dropped, for the next image (made once that one is committed) holds
 * them. So memory stays bounded, order is kept, and nothing the process
 * knows is lost. The storage.notify gateway alarm
 * follows the health of the file.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void notify__p_push_cb(uv_check_t *c)
{
    gw_notify_t *n = c->data;

    uv_check_stop(c);
    notify__p_push(n);
}

/* Append op to the open unit (opening one). Returns the unit's number; on
 * out of memory the whole state is written at the next hand-over, whose
 * unit will have a number at least the one returned. */
static int64_t notify__p_op(gw_notify_t *n, gw_msg_t *op)
{
    notify__persist_t *p = &n->p;

    if (!n->stopping)
        uv_check_start(&n->push, notify__p_push_cb);
    if (op && !p->open && (p->open = notify_tx_new(p->seq_last + 1, 0)) != NULL)
        p->seq_last++;
    if (!op || !p->open) {
        gw_msg_free(op);
        p->need_image = 1;
        return p->seq_last + 1;
    }
    notify_tx_add(p->open, op);
    return p->open->seq;
}

int64_t notify__p_seen(gw_notify_t *n, const notify__seen_t *e)
{
    notify_seen_row_t r;

    snprintf(r.event_id, sizeof(r.event_id), "%s", e->id);
    r.at_ms = e->at_ms;
    return notify__p_op(n, notify_op_seen_new(&r));
}

int64_t notify__p_alert(gw_notify_t *n, notify__alert_t *a)
{
    return a->seq = notify__p_op(n, notify_op_alert_new(&a->r));
}

int64_t notify__p_ag(gw_notify_t *n, notify__alert_t *a, const notify__ag_t *g)
{
    return a->seq = notify__p_op(n, notify_op_ag_new(&g->r));
}

int64_t notify__p_batch(gw_notify_t *n, const notify__batch_t *b, int del)
{
    return notify__p_op(
        n, notify_op_batch_new(del ? NOTIFY_OP_BATCH_DEL : NOTIFY_OP_BATCH_PUT, &b->r));
}

int64_t notify__p_msg(gw_notify_t *n, notify__msg_t *m)
{
    return m->seq = notify__p_op(n, notify_op_msg_new(&m->r));
}

void notify__p_house(gw_notify_t *n, int check, int64_t wall)
{
    notify__p_op(n,
                 notify_op_house_new(wall - notify__retention_ms(n), notify__max_rows(n), check));
}

/* ---- the whole state ---------------------------------------------------------- */

static int notify__p_build(const gw_notify_t *n, notify_image_t *img)
{
    const notify__state_t *s = &n->s;
    size_t nag = 0, k = 0;

    memset(img, 0, sizeof(*img));
    for (size_t i = 0; i < s->nalerts; i++)
        nag += s->alerts[i]->nag;
    img->seen = calloc(s->nseen + 1, sizeof(*img->seen));
    img->alerts = calloc(s->nalerts + 1, sizeof(*img->alerts));
    img->ag = calloc(nag + 1, sizeof(*img->ag));
    img->batch = calloc(s->nbatch + 1, sizeof(*img->batch));
    img->msgs = calloc(s->nmsgs + 1, sizeof(*img->msgs));
    if (!img->seen || !img->alerts || !img->ag || !img->batch || !img->msgs)
        return GW_ENOMEM;
    for (const notify__seen_t *e = s->seen_head; e; e = e->fnext, img->nseen++) {
        snprintf(img->seen[img->nseen].event_id, sizeof(img->seen[0].event_id), "%s", e->id);
        img->seen[img->nseen].at_ms = e->at_ms;
    }
    for (size_t i = 0; i < s->nalerts; i++) {
        img->alerts[img->nalerts++] = s->alerts[i]->r;
        for (size_t j = 0; j < s->alerts[i]->nag; j++)
            img->ag[k++] = s->alerts[i]->ag[j].r;
    }
    img->nag = k;
    for (size_t i = 0; i < s->nbatch; i++) {
        if (!s->batch[i].done)
            img->batch[img->nbatch++] = s->batch[i].r;
    }
    for (size_t i = 0; i < s->nmsgs; i++, img->nmsgs++) {
        if (notify_msg_copy(&img->msgs[i], &s->msgs[i]->r) != 0)
            return GW_ENOMEM;
    }
    return 0;
}

/* Hand the whole state over in a unit that drops every one before it. */
static void notify__p_image(gw_notify_t *n)
{
    notify__persist_t *p = &n->p;
    size_t waiting = notify_worker_depth(p->w);
    notify_image_t img;
    notify_tx_t *tx = NULL;
    gw_msg_t *op = NULL;

    if (notify__p_build(n, &img) == 0 && (op = notify_op_image_new(&img)) != NULL)
        tx = notify_tx_new(p->seq_last + 1, 1);
    notify_image_free(&img);
    if (!tx) {
        gw_msg_free(op);
        p->need_image = 1;
        return;
    }
    p->seq_last++;
    notify_tx_add(tx, op);
    notify_worker_submit(p->w, tx);
    p->image_seq = p->seq_last;
    p->since_image = 0;
    p->need_image = 0;
    if (p->images++ % 100 == 0) /* the first, then one in 100 */
        gw_log_warn("notify",
                    "notify.db: %zu changes were waiting: the whole state (%zu alerts, %zu "
                    "messages, %zu event ids) replaces them (%llu times so far)",
                    waiting, n->s.nalerts, n->s.nmsgs, n->s.nseen, (unsigned long long)p->images);
}

void notify__p_push(gw_notify_t *n)
{
    notify__persist_t *p = &n->p;
    int image_waits = p->image_seq > p->committed;

    if (!p->w)
        return;
    if (p->open) {
        if (image_waits && p->since_image >= notify__queue_max(n)) {
            /* an image waits with enough behind it: the next image, made
             * once that one is committed, covers this unit */
            gw_msg_free(&p->open->hdr);
            p->need_image = 1;
        } else {
            p->since_image += p->open->n;
            notify_worker_submit(p->w, p->open);
        }
        p->open = NULL;
    }
    if (!image_waits && (p->need_image || notify_worker_depth(p->w) > notify__queue_max(n)))
        notify__p_image(n);
}

size_t notify__p_depth(const gw_notify_t *n)
{
    return notify_worker_depth(n->p.w);
}

/* ---- answers and results -------------------------------------------------------- */

static void notify__p_stored(gw_notify_t *n, int64_t outbox_id)
{
    if (n->env.event_stored && !n->stopping)
        n->env.event_stored(n->env.arg, outbox_id);
}

void notify__p_ack(gw_notify_t *n, int64_t outbox_id)
{
    notify__persist_t *p = &n->p;
    int64_t seq = p->open ? p->open->seq : p->seq_last;

    if (outbox_id <= 0)
        return;
    if (seq <= p->committed && !p->need_image) {
        notify__p_stored(n, outbox_id);
        return;
    }
    if (p->nacks - p->acks_head >= (size_t)notify__max_rows(n)) {
        p->acks_head++; /* the ledger offers that row again at the next start */
        p->acks_dropped++;
    }
    if (p->acks_head > 0 && p->nacks == p->capacks) {
        memmove(p->acks, p->acks + p->acks_head, (p->nacks - p->acks_head) * sizeof(*p->acks));
        p->nacks -= p->acks_head;
        p->acks_head = 0;
    }
    if (gw_array_grow((void **)&p->acks, p->nacks, &p->capacks, sizeof(*p->acks)) != 0) {
        p->acks_dropped++;
        return;
    }
    p->acks[p->nacks].seq = p->need_image ? p->seq_last + 1 : seq;
    p->acks[p->nacks++].outbox_id = outbox_id;
}

int notify__p_recorded(const gw_notify_t *n, int64_t seq)
{
    return seq <= n->p.committed || n->p.fault != NOTIFY_FAULT_NONE;
}

void notify__p_alarm(gw_notify_t *n)
{
    notify__persist_t *p = &n->p;
    char d[200] = "", tmp[sizeof(p->corrupt)];

    if (p->fault != NOTIFY_FAULT_NONE &&
        (p->fault != NOTIFY_FAULT_LOCKED ||
         gw_mono_ms() - p->fault_since_mono >= GW_NOTIFY__LOCKED_MS))
        snprintf(d, sizeof(d), "notify.db %s (%s): alerts go out from memory, recorded later",
                 notify_fault_name(p->fault), p->fault_msg);
    else if (p->corrupt[0]) {
        snprintf(tmp, sizeof(tmp), "%s", p->corrupt);
        snprintf(d, sizeof(d), "notify.db corrupt: moved aside to %s; a fresh file is in use",
                 basename(tmp));
    }
    if (d[0] && (!p->alarm_raised || strcmp(d, p->alarm_detail) != 0)) {
        snprintf(p->alarm_detail, sizeof(p->alarm_detail), "%s", d);
        p->alarm_raised = 1;
        if (n->env.alarm)
            n->env.alarm(n->env.arg, GW_NOTIFY__ALARM_KEY, 1, d);
    } else if (!d[0] && p->alarm_raised) {
        p->alarm_raised = 0;
        p->alarm_detail[0] = '\0';
        if (n->env.alarm)
            n->env.alarm(n->env.arg, GW_NOTIFY__ALARM_KEY, 0, NULL);
    }
}

static void notify__p_committed(gw_notify_t *n, int64_t seq)
{
    notify__persist_t *p = &n->p;

    if (seq > p->committed)
        p->committed = seq;
    p->fault = NOTIFY_FAULT_NONE;
    while (p->acks_head < p->nacks && p->acks[p->acks_head].seq <= p->committed)
        notify__p_stored(n, p->acks[p->acks_head++].outbox_id);
    if (p->acks_head == p->nacks)
        p->acks_head = p->nacks = 0;
    if (p->need_image)
        notify__p_push(n); /* the image that waited is in: the next one now */
}

void notify__p_result(gw_notify_t *n, const gw_msg_t *m)
{
    const notify_ev_t *ev = (const notify_ev_t *)m;
    notify__persist_t *p = &n->p;

    switch (m->kind) {
    case NOTIFY_EV_COMMITTED:
        notify__p_committed(n, ev->seq);
        break;
    case NOTIFY_EV_FAILED:
        if (p->fault != ev->fault)
            p->fault_since_mono = gw_mono_ms();
        p->fault = ev->fault;
        snprintf(p->fault_msg, sizeof(p->fault_msg), "%s", ev->msg);
        p->write_failures++;
        break;
    case NOTIFY_EV_REOPENED:
        if (ev->fault == NOTIFY_FAULT_CORRUPT)
            snprintf(p->corrupt, sizeof(p->corrupt), "%s", ev->msg);
        p->image_seq = 0; /* the thread dropped whatever waited, an image too */
        p->need_image = 1;
        notify__p_push(n);
        break;
    case NOTIFY_EV_COUNTS:
        p->db = ev->counts;
        p->counted = 1;
        p->purged = ev->deleted;
        return;
    default:
        return;
    }
    notify__p_alarm(n);
}
