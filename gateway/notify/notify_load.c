/*
 * notify_load.c: notify.db at start (notify_int.h; design in docs/hooks.md,
 * "Durability" and "Clocks"): the file is checked (store_db_check), moved
 * aside when it is damaged or unreadable (store_file_quarantine: it is
 * evidence, never deleted), opened (created 0600) and read once into
 * memory. Its times are wall-clock stamps; the notifier's waits run on the
 * monotonic clock, so each is re-anchored: a stamp in the past keeps its
 * age, a stamp in the future (the wall clock was set back since) counts as
 * due, and a retry more than its longest backoff ahead is due too (a
 * report held by quiet hours: more than GW_NOTIFY__REPORT_HOLD_MS). When no
 * file can be opened, the notifier starts empty and works from memory; the
 * store thread keeps trying.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "store/store_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t notify__anchor(int64_t stored_wall, int64_t now_wall, int64_t now_mono)
{
    int64_t age = now_wall - stored_wall;

    return age < 0 ? now_mono - GW_NOTIFY__LONG_AGO_MS : now_mono - age;
}

int64_t notify__deadline(int64_t stored_wall, int64_t max_ahead, int64_t now_wall, int64_t now_mono)
{
    int64_t rem = stored_wall - now_wall;

    if (rem < 0 || rem > max_ahead)
        rem = 0;
    return now_mono + rem;
}

/* The longest a pending message may wait: its recipient's longest retry;
 * a report also the quiet hours (held until the morning across a
 * restart). */
static int64_t notify__max_wait(const gw_notify_t *n, const notify_msg_t *m)
{
    int ri = notify__recipient_idx(n, m->recipient);
    int64_t wait = 0;

    if (ri >= 0)
        wait = n->cfg->notify.hooks[n->cfg->notify.recipients[ri].hook_idx].backoff_max_ms;
    if (notify__is_report(m->alert_json) && wait < GW_NOTIFY__REPORT_HOLD_MS)
        wait = GW_NOTIFY__REPORT_HOLD_MS;
    return wait;
}

/* Take the image's rows into the state (the messages' strings too). */
static int notify__adopt(gw_notify_t *n, notify_image_t *img, int64_t wall, int64_t mono)
{
    for (size_t i = 0; i < img->nseen; i++) {
        if (!notify__seen_add(n, img->seen[i].event_id, img->seen[i].at_ms))
            return GW_ENOMEM;
    }
    for (size_t i = 0; i < img->nalerts; i++) {
        if (!notify__alert_add(n, &img->alerts[i]))
            return GW_ENOMEM;
    }
    for (size_t i = 0; i < img->nag; i++) {
        notify__alert_t *a = notify__alert_find(n, img->ag[i].wo_id);
        notify__ag_t *g = a ? notify__ag_add(a, &img->ag[i]) : NULL;
        if (a && !g)
            return GW_ENOMEM;
        if (g) {
            g->first_mono = notify__anchor(g->r.first_sent_ms, wall, mono);
            g->last_mono = notify__anchor(g->r.last_sent_ms, wall, mono);
        }
    }
    for (size_t i = 0; i < img->nbatch; i++) {
        const notify_batch_row_t *r = &img->batch[i];
        notify__batch_t *b = notify__batch_add(n, r->group, r->wo_id, r->kind, r->created_ms,
                                               notify__anchor(r->created_ms, wall, mono));
        if (!b)
            return GW_ENOMEM;
        b->r.id = r->id;
    }
    n->s.next_batch_id = img->max_batch_id;
    n->s.next_msg_id = img->max_msg_id;
    for (size_t i = 0; i < img->nmsgs; i++) {
        int64_t due =
            notify__deadline(img->msgs[i].next_ms, notify__max_wait(n, &img->msgs[i]), wall, mono);
        notify__msg_t *m = notify__msg_add(n, &img->msgs[i]);
        if (!m)
            return GW_ENOMEM;
        m->next_mono = due;
        m->queued_mono = mono;
    }
    return 0;
}

/* Move a damaged or unreadable file aside. 0, or GW_EIO (it stays). */
static int notify__aside(gw_notify_t *n, const char *why)
{
    char moved[4200], err[512];

    if (store_file_quarantine(n->path, moved, sizeof(moved), err, sizeof(err)) < 0) {
        gw_log_error("notify", "notify.db: %s; and it cannot be moved aside: %s", why, err);
        snprintf(n->p.fault_msg, sizeof(n->p.fault_msg), "%s", why);
        n->p.fault = NOTIFY_FAULT_UNAVAILABLE;
        return GW_EIO;
    }
    gw_log_error("notify", "notify.db: %s: moved aside to %s; starting a fresh one", why, moved);
    snprintf(n->p.corrupt, sizeof(n->p.corrupt), "%s", moved);
    return 0;
}

/* Open and read the file; a damaged one is moved aside and a fresh one
 * started. *st NULL (and p.fault set) when none could be opened. */
static int notify__open(gw_notify_t *n, notify_store_t **st, notify_image_t *img)
{
    char err[512];
    notify_fault_t fault = NOTIFY_FAULT_UNAVAILABLE;
    int rc = store_db_check(n->path, err, sizeof(err));

    *st = NULL;
    if ((rc == GW_ECORRUPT || rc == GW_EIO) && notify__aside(n, err) < 0)
        return 0;
    for (int tries = 0; tries < 2; tries++) {
        rc = notify_store_open(st, n->path, &fault, err, sizeof(err));
        if (rc == 0 && (rc = notify_store_load(*st, img, err, sizeof(err))) == 0)
            return 0;
        if (rc == GW_ENOMEM)
            return rc;
        if (*st)
            fault = notify_store_fault(*st);
        notify_store_close(*st);
        *st = NULL;
        if (fault != NOTIFY_FAULT_CORRUPT || notify__aside(n, err) < 0)
            break;
    }
    gw_log_error("notify", "notify.db: %s: notifying from memory until it can be written", err);
    n->p.fault = fault == NOTIFY_FAULT_NONE ? NOTIFY_FAULT_UNAVAILABLE : fault;
    snprintf(n->p.fault_msg, sizeof(n->p.fault_msg), "%s", err);
    return 0;
}

int notify__load(gw_notify_t *n, notify_store_t **st, char *err, size_t errlen)
{
    notify_image_t img = {0};
    int64_t wall = gw_wall_ms(), mono = gw_mono_ms();
    int rc = notify__open(n, st, &img);

    if (rc == 0)
        rc = notify__adopt(n, &img, wall, mono);
    notify_image_free(&img);
    if (rc < 0) {
        snprintf(err, errlen, "notify: out of memory loading notify.db");
        notify_store_close(*st);
        *st = NULL;
        return rc;
    }
    if (n->p.fault != NOTIFY_FAULT_NONE)
        n->p.fault_since_mono = mono;
    if (*st)
        gw_log_info("notify",
                    "notify.db loaded: %zu event ids, %zu alerts, %zu waiting in groups, %zu "
                    "messages pending",
                    n->s.nseen, n->s.nalerts, n->s.nbatch, n->s.npending);
    return 0;
}
