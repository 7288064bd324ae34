/*
 * notify_state.c: the notifier's tables in memory (notify_int.h; design in
 * docs/hooks.md, "Durability"): the seen event ids (a hash set with the
 * oldest first, for retention), the alerts by work-order id (a hash, each
 * with the groups told), the batch rows and the messages by id. Plain
 * containers: what a change means, and writing it behind, is the callers'
 * business.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a string-keyed hash ---------------------------------------------------- */

static size_t notify__hash(const char *s, size_t nb)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h & (nb - 1));
}

static int notify__hmap_put(notify__hmap_t *m, notify__hnode_t *x)
{
    if (m->n + 1 > m->nb) { /* grow to keep chains short */
        size_t nb = m->nb ? m->nb * 2 : 64;
        notify__hnode_t **b = calloc(nb, sizeof(*b));
        if (!b)
            return GW_ENOMEM;
        for (size_t i = 0; i < m->nb; i++) {
            while (m->b[i]) {
                notify__hnode_t *e = m->b[i];
                size_t k = notify__hash(e->key, nb);
                m->b[i] = e->hnext;
                e->hnext = b[k];
                b[k] = e;
            }
        }
        free(m->b);
        m->b = b;
        m->nb = nb;
    }
    size_t k = notify__hash(x->key, m->nb);
    x->hnext = m->b[k];
    m->b[k] = x;
    m->n++;
    return 0;
}

static notify__hnode_t *notify__hmap_get(const notify__hmap_t *m, const char *key)
{
    if (!m->nb)
        return NULL;
    for (notify__hnode_t *e = m->b[notify__hash(key, m->nb)]; e; e = e->hnext) {
        if (strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static void notify__hmap_del(notify__hmap_t *m, notify__hnode_t *x)
{
    notify__hnode_t **pp = &m->b[notify__hash(x->key, m->nb)];

    for (; *pp; pp = &(*pp)->hnext) {
        if (*pp == x) {
            *pp = x->hnext;
            m->n--;
            return;
        }
    }
}

/* ---- seen ids ----------------------------------------------------------------- */

int notify__seen_has(const gw_notify_t *n, const char *id)
{
    return notify__hmap_get(&n->s.seen_map, id) != NULL;
}

notify__seen_t *notify__seen_add(gw_notify_t *n, const char *id, int64_t at_ms)
{
    size_t len = strlen(id) + 1;
    notify__seen_t *e = malloc(sizeof(*e) + len);

    if (!e)
        return NULL;
    memcpy(e->id, id, len);
    e->h.key = e->id;
    e->at_ms = at_ms;
    e->fnext = NULL;
    if (notify__hmap_put(&n->s.seen_map, &e->h) != 0) {
        free(e);
        return NULL;
    }
    if (n->s.seen_tail)
        n->s.seen_tail->fnext = e;
    else
        n->s.seen_head = e;
    n->s.seen_tail = e;
    n->s.nseen++;
    return e;
}

size_t notify__seen_trim(gw_notify_t *n, int64_t cutoff_ms, size_t max)
{
    size_t k = 0;

    while (n->s.seen_head && (n->s.seen_head->at_ms < cutoff_ms || n->s.nseen > max)) {
        notify__seen_t *e = n->s.seen_head;
        n->s.seen_head = e->fnext;
        if (!n->s.seen_head)
            n->s.seen_tail = NULL;
        notify__hmap_del(&n->s.seen_map, &e->h);
        n->s.nseen--;
        free(e);
        k++;
    }
    return k;
}

/* ---- alerts and the groups told ---------------------------------------------- */

notify__alert_t *notify__alert_find(const gw_notify_t *n, const char *wo_id)
{
    return (notify__alert_t *)notify__hmap_get(&n->s.alert_map, wo_id);
}

notify__alert_t *notify__alert_add(gw_notify_t *n, const notify_alert_t *r)
{
    notify__alert_t *a;

    if (gw_array_grow((void **)&n->s.alerts, n->s.nalerts, &n->s.capalerts, sizeof(*n->s.alerts)) !=
        0)
        return NULL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->r = *r;
    a->h.key = a->r.wo_id;
    if (notify__hmap_put(&n->s.alert_map, &a->h) != 0) {
        free(a);
        return NULL;
    }
    n->s.alerts[n->s.nalerts++] = a;
    return a;
}

void notify__alert_del(gw_notify_t *n, size_t i)
{
    notify__alert_t *a = n->s.alerts[i];

    notify__hmap_del(&n->s.alert_map, &a->h);
    n->s.alerts[i] = n->s.alerts[--n->s.nalerts];
    free(a->ag);
    free(a);
}

int notify__alert_active(const notify__alert_t *a)
{
    return !a->r.cleared && !notify__is_final(a->r.status);
}

notify__ag_t *notify__ag_find(notify__alert_t *a, const char *group)
{
    for (size_t i = 0; i < a->nag; i++) {
        if (strcmp(a->ag[i].r.group, group) == 0)
            return &a->ag[i];
    }
    return NULL;
}

notify__ag_t *notify__ag_add(notify__alert_t *a, const notify_ag_row_t *r)
{
    notify__ag_t *g;

    if (gw_array_grow((void **)&a->ag, a->nag, &a->capag, sizeof(*a->ag)) != 0)
        return NULL;
    g = &a->ag[a->nag++];
    memset(g, 0, sizeof(*g));
    g->r = *r;
    g->gi = -1;
    return g;
}

/* ---- the batch ------------------------------------------------------------------ */

notify__batch_t *notify__batch_find(const gw_notify_t *n, const char *group, const char *wo_id,
                                    const char *kind)
{
    for (size_t i = 0; i < n->s.nbatch; i++) {
        notify__batch_t *b = &n->s.batch[i];
        if (!b->done && strcmp(b->r.wo_id, wo_id) == 0 && strcmp(b->r.group, group) == 0 &&
            strcmp(b->r.kind, kind) == 0)
            return b;
    }
    return NULL;
}

notify__batch_t *notify__batch_add(gw_notify_t *n, const char *group, const char *wo_id,
                                   const char *kind, int64_t wall, int64_t mono)
{
    notify__batch_t *b;

    if (gw_array_grow((void **)&n->s.batch, n->s.nbatch, &n->s.capbatch, sizeof(*n->s.batch)) != 0)
        return NULL;
    b = &n->s.batch[n->s.nbatch++];
    memset(b, 0, sizeof(*b));
    b->r.id = ++n->s.next_batch_id;
    snprintf(b->r.group, sizeof(b->r.group), "%s", group);
    snprintf(b->r.wo_id, sizeof(b->r.wo_id), "%s", wo_id);
    snprintf(b->r.kind, sizeof(b->r.kind), "%s", kind);
    b->r.created_ms = wall;
    b->created_mono = mono;
    return b;
}

void notify__batch_sweep(gw_notify_t *n)
{
    size_t k = 0;

    for (size_t i = 0; i < n->s.nbatch; i++) {
        if (!n->s.batch[i].done)
            n->s.batch[k++] = n->s.batch[i];
    }
    n->s.nbatch = k;
}

int notify__batch_refers(const gw_notify_t *n, const char *wo_id)
{
    for (size_t i = 0; i < n->s.nbatch; i++) {
        if (!n->s.batch[i].done && strcmp(n->s.batch[i].r.wo_id, wo_id) == 0)
            return 1;
    }
    return 0;
}

/* ---- messages ---------------------------------------------------------------- */

notify__msg_t *notify__msg_add(gw_notify_t *n, notify_msg_t *m)
{
    notify__msg_t *x;

    if (gw_array_grow((void **)&n->s.msgs, n->s.nmsgs, &n->s.capmsgs, sizeof(*n->s.msgs)) != 0 ||
        !(x = calloc(1, sizeof(*x)))) {
        notify_msg_clear(m);
        return NULL;
    }
    if (!m->id)
        m->id = ++n->s.next_msg_id;
    x->r = *m;
    memset(m, 0, sizeof(*m));
    n->s.msgs[n->s.nmsgs++] = x;
    if (strcmp(x->r.state, "pending") == 0)
        n->s.npending++;
    return x;
}

void notify__msg_del(gw_notify_t *n, size_t i)
{
    notify__msg_t *x = n->s.msgs[i];

    if (strcmp(x->r.state, "pending") == 0)
        n->s.npending--;
    notify_msg_clear(&x->r);
    free(x);
    memmove(&n->s.msgs[i], &n->s.msgs[i + 1], (n->s.nmsgs - i - 1) * sizeof(*n->s.msgs));
    n->s.nmsgs--;
}

void notify__msg_done(gw_notify_t *n, notify__msg_t *m, const char *state)
{
    if (strcmp(m->r.state, "pending") == 0)
        n->s.npending--;
    snprintf(m->r.state, sizeof(m->r.state), "%s", state);
    free(m->r.alert_json);
    m->r.alert_json = NULL;
}

void notify__state_free(gw_notify_t *n)
{
    notify__seen_trim(n, INT64_MAX, 0);
    while (n->s.nalerts)
        notify__alert_del(n, n->s.nalerts - 1);
    while (n->s.nmsgs)
        notify__msg_del(n, n->s.nmsgs - 1);
    free(n->s.seen_map.b);
    free(n->s.alert_map.b);
    free(n->s.alerts);
    free(n->s.batch);
    free(n->s.msgs);
    memset(&n->s, 0, sizeof(n->s));
}
