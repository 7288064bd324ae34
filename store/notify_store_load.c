/*
 * notify_store_load.c: the start's read of notify.db (notify_store.h): the
 * notifier keeps its working state in memory and reads the file only here,
 * once, before its store thread starts (docs/hooks.md, "Durability").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/notify_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void nsl__col(sqlite3_stmt *st, int i, char *dst, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

typedef void (*nsl__row_fn)(sqlite3_stmt *st, void *row);

/* Run sql and append one element of size elem per row, filled by fn.
 * 0 or a negative code. */
static int nsl__query(notify_store_t *s, const char *sql, size_t elem, nsl__row_fn fn, void **arr,
                      size_t *n)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

    *arr = NULL;
    *n = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (gw_array_grow(arr, *n, &cap, elem) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        memset((char *)*arr + *n * elem, 0, elem);
        fn(st, (char *)*arr + *n * elem);
        (*n)++;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : notify_store__fail(s, rc);
}

static void nsl__seen(sqlite3_stmt *st, void *row)
{
    notify_seen_row_t *r = row;
    nsl__col(st, 0, r->event_id, sizeof(r->event_id));
    r->at_ms = sqlite3_column_int64(st, 1);
}

static void nsl__alert(sqlite3_stmt *st, void *row)
{
    notify_alert_t *a = row;
    nsl__col(st, 0, a->wo_id, sizeof(a->wo_id));
    a->number = sqlite3_column_int64(st, 1);
    nsl__col(st, 2, a->priority, sizeof(a->priority));
    nsl__col(st, 3, a->category, sizeof(a->category));
    nsl__col(st, 4, a->device, sizeof(a->device));
    nsl__col(st, 5, a->rule, sizeof(a->rule));
    nsl__col(st, 6, a->title, sizeof(a->title));
    nsl__col(st, 7, a->status, sizeof(a->status));
    a->cleared = sqlite3_column_int(st, 8);
    a->opened_ms = sqlite3_column_int64(st, 9);
    a->updated_ms = sqlite3_column_int64(st, 10);
}

static void nsl__batch(sqlite3_stmt *st, void *row)
{
    notify_batch_row_t *b = row;
    b->id = sqlite3_column_int64(st, 0);
    nsl__col(st, 1, b->group, sizeof(b->group));
    nsl__col(st, 2, b->wo_id, sizeof(b->wo_id));
    nsl__col(st, 3, b->kind, sizeof(b->kind));
    b->created_ms = sqlite3_column_int64(st, 4);
}

static void nsl__ag(sqlite3_stmt *st, void *row)
{
    notify_ag_row_t *g = row;
    nsl__col(st, 0, g->wo_id, sizeof(g->wo_id));
    nsl__col(st, 1, g->group, sizeof(g->group));
    g->first_sent_ms = sqlite3_column_int64(st, 2);
    g->last_sent_ms = sqlite3_column_int64(st, 3);
    g->escalated = sqlite3_column_int(st, 4);
}

/* Strings are duplicated; a failed strdup leaves message NULL, which the
 * caller sees (notify_store_load checks). */
static void nsl__msg(sqlite3_stmt *st, void *row)
{
    notify_msg_t *m = row;
    const unsigned char *t;

    m->id = sqlite3_column_int64(st, 0);
    nsl__col(st, 1, m->group, sizeof(m->group));
    nsl__col(st, 2, m->recipient, sizeof(m->recipient));
    t = sqlite3_column_text(st, 3);
    m->message = strdup(t ? (const char *)t : "");
    t = sqlite3_column_text(st, 4);
    m->alert_json = strdup(t && t[0] ? (const char *)t : "{}");
    nsl__col(st, 5, m->state, sizeof(m->state));
    m->attempts = sqlite3_column_int(st, 6);
    m->next_ms = sqlite3_column_int64(st, 7);
    m->created_ms = sqlite3_column_int64(st, 8);
    m->sent_ms = sqlite3_column_int64(st, 9);
    nsl__col(st, 10, m->last_error, sizeof(m->last_error));
}

#define NSL__KEPT                                                                                  \
    "(status NOT IN ('resolved', 'closed', 'cancelled') OR wo_id IN (SELECT wo_id FROM batch))"

static int nsl__max(notify_store_t *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

    *out = 0;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : notify_store__fail(s, rc);
}

int notify_store_load(notify_store_t *s, notify_image_t *img, char *err, size_t errlen)
{
    int rc;

    memset(img, 0, sizeof(*img));
    rc = nsl__query(s, "SELECT event_id, at FROM seen ORDER BY at, rowid", sizeof(*img->seen),
                    nsl__seen, (void **)&img->seen, &img->nseen);
    if (rc == 0)
        rc = nsl__query(s,
                        "SELECT wo_id, number, priority, category, device, rule, title, status,"
                        " cleared, opened_ms, updated_ms FROM alerts WHERE " NSL__KEPT,
                        sizeof(*img->alerts), nsl__alert, (void **)&img->alerts, &img->nalerts);
    if (rc == 0)
        rc = nsl__query(s, "SELECT id, grp, wo_id, kind, created_ms FROM batch ORDER BY id",
                        sizeof(*img->batch), nsl__batch, (void **)&img->batch, &img->nbatch);
    if (rc == 0)
        rc = nsl__query(
            s,
            "SELECT wo_id, grp, first_sent_ms, last_sent_ms, escalated"
            " FROM alert_groups WHERE wo_id IN (SELECT wo_id FROM alerts WHERE " NSL__KEPT ")",
            sizeof(*img->ag), nsl__ag, (void **)&img->ag, &img->nag);
    if (rc == 0)
        rc = nsl__query(s,
                        "SELECT id, grp, recipient, message, alert_json, state, attempts, next_ms,"
                        " created_ms, coalesce(sent_ms, 0), coalesce(last_error, '')"
                        " FROM notifications WHERE state = 'pending' ORDER BY id",
                        sizeof(*img->msgs), nsl__msg, (void **)&img->msgs, &img->nmsgs);
    for (size_t i = 0; rc == 0 && i < img->nmsgs; i++) {
        if (!img->msgs[i].message || !img->msgs[i].alert_json)
            rc = GW_ENOMEM;
    }
    if (rc == 0)
        rc = nsl__max(s, "SELECT coalesce(max(id), 0) FROM batch", &img->max_batch_id);
    if (rc == 0)
        rc = nsl__max(s, "SELECT coalesce(max(id), 0) FROM notifications", &img->max_msg_id);
    if (rc < 0) {
        snprintf(err, errlen, "%s: reading: %s", s->path,
                 rc == GW_ENOMEM ? "out of memory" : notify_store_errmsg(s));
        notify_image_free(img);
    }
    return rc;
}
