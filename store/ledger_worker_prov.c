/*
 * ledger_worker_prov.c: provisional events (ledger_worker_int.h; design in
 * docs/architecture.md, "When the ledger cannot write", and docs/mqtt.md,
 * "Provisional events").
 *
 * While the ledger cannot commit, a fire zone that goes to alarm must still
 * reach MQTT and the hooks. So each rule's op that waits (trigger, touch,
 * clear) is looked at once, in order, and when its commit would write an
 * event (opened, retriggered, priority_raised, cleared), that event is
 * posted now as LEDGER_EV_PROVISIONAL with "durable":false. The op keeps
 * the event id it was announced under (and, for a new order, the id the
 * order will get), so that the committed copy carries the same event id
 * and consumers, who drop repeats by event id, announce it once.
 *
 * To say what the commit will do, the thread keeps a view per fingerprint:
 * the ledger's active order as read when the fingerprint first came up
 * (reads still work on a full or read-only disk), with each announced op
 * applied as ledger_trigger.c would apply it. The view lives until
 * everything that waited is committed. What it cannot know (a person's
 * change waiting in the same backlog) may make the commit differ: then the
 * committed event, under the same id, is the truth, and an event announced
 * that the commit did not write stays announced.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger_worker_int.h"

#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *prov__dup(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* Replace *field with a copy of s (NULL or "" keeps it). */
static void prov__set(char **field, const char *s)
{
    char *d;

    if (!s || !*s || !(d = strdup(s)))
        return;
    free(*field);
    *field = d;
}

/* Read the active order of e's fingerprint from the ledger, if any. */
static void prov__read_active(ledger_worker_t *w, ledger__prov_entry_t *e,
                              const ledger_trigger_t *t)
{
    ledger_wo_filter_t f = {.device = t->device, .active_only = 1};
    ledger_wo_t *arr = NULL;
    size_t n = 0;

    if (!w->lg || ledger_wo_list(w->lg, &f, &arr, &n, NULL, 0) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(arr[i].site, t->site) == 0 && strcmp(arr[i].rule, t->rule) == 0) {
            e->wo = arr[i]; /* takes its strings */
            memset(&arr[i], 0, sizeof(arr[i]));
            e->active = 1;
            break;
        }
    }
    ledger_wo_free_array(arr, n);
}

static ledger__prov_entry_t *prov__entry(ledger_worker_t *w, const ledger_trigger_t *t)
{
    ledger__prov_entry_t *e;
    char *fp = ledger__fingerprint(t->site, t->device, t->rule);

    if (!fp)
        return NULL;
    for (size_t i = 0; i < w->nprov; i++) {
        if (strcmp(w->prov[i].fp, fp) == 0) {
            free(fp);
            return &w->prov[i];
        }
    }
    if (gw_array_grow((void **)&w->prov, w->nprov, &w->capprov, sizeof(*w->prov)) != 0) {
        free(fp);
        return NULL;
    }
    e = &w->prov[w->nprov++];
    memset(e, 0, sizeof(*e));
    e->fp = fp;
    prov__read_active(w, e, t);
    return e;
}

/* A new order as ledger__open_new would write it (no number yet). */
static int prov__new_order(ledger_worker_t *w, ledger__prov_entry_t *e, ledger_op_trigger_t *op,
                           const char *evidence, int64_t now)
{
    const ledger_trigger_t *t = &op->t;
    char id[128];
    int64_t sla;

    if (ledger__ulid_next(&w->ulid, op->wo_ulid, NULL, 0) < 0)
        return -1;
    ledger__wo_clear_fields(&e->wo);
    snprintf(id, sizeof(id), "%s:%s", t->site, op->wo_ulid);
    e->wo.id = strdup(id);
    e->wo.site = strdup(t->site);
    e->wo.device = strdup(t->device);
    e->wo.rule = strdup(t->rule);
    e->wo.title = strdup(t->title ? t->title : t->rule);
    e->wo.description = prov__dup(t->description);
    e->wo.category = prov__dup(t->category);
    e->wo.work_type = strdup(t->work_type ? t->work_type : "corrective");
    e->wo.priority = strdup(gw_priority_name(t->priority));
    e->wo.status = strdup("open");
    e->wo.evidence_json = prov__dup(evidence);
    e->wo.building = prov__dup(t->building);
    e->wo.floor = prov__dup(t->floor);
    e->wo.room = prov__dup(t->room);
    e->wo.occurrences = 1;
    e->wo.opened_at = e->wo.last_seen_at = t->ts_ms;
    e->wo.updated_at = now;
    sla = (unsigned)t->priority <= GW_PRIO_LOW ? w->policy.sla_ms[t->priority] : 0;
    e->wo.due_at = w->has_policy && sla ? t->ts_ms + sla : 0;
    e->active = 1;
    return e->wo.id && e->wo.site && e->wo.status ? 0 : -1;
}

/* Apply op to the view as the ledger will; the event it writes (or NULL)
 * and its from/to statuses and detail. */
static const char *prov__apply(ledger_worker_t *w, ledger__prov_entry_t *e, ledger_op_trigger_t *op,
                               const char *evidence, int64_t now, const char **detail)
{
    const ledger_trigger_t *t = &op->t;
    gw_priority_t cur;

    *detail = evidence;
    if (op->hdr.kind == LEDGER_OP_TRIGGER) {
        if (!e->active)
            return prov__new_order(w, e, op, evidence, now) == 0 ? "opened" : NULL;
        prov__set(&e->wo.evidence_json, evidence);
        if (t->ts_ms > e->wo.last_seen_at)
            e->wo.last_seen_at = t->ts_ms;
        if (!e->wo.cleared_at)
            return NULL; /* the condition still holds: a refresh */
        e->wo.cleared_at = 0;
        e->wo.occurrences++;
        e->wo.updated_at = now;
        return "retriggered";
    }
    if (!e->active)
        return NULL;
    if (op->hdr.kind == LEDGER_OP_CLEAR) {
        if (e->wo.cleared_at)
            return NULL;
        e->wo.cleared_at = t->ts_ms;
        e->wo.updated_at = now;
        prov__set(&e->wo.evidence_json, evidence);
        return "cleared";
    }
    /* LEDGER_OP_TOUCH: a refresh, raising the priority when asked for more */
    prov__set(&e->wo.evidence_json, evidence);
    if (t->ts_ms > e->wo.last_seen_at)
        e->wo.last_seen_at = t->ts_ms;
    if (gw_priority_parse(e->wo.priority, &cur) != 0 || t->priority >= cur)
        return NULL;
    prov__set(&e->wo.priority, gw_priority_name(t->priority));
    e->wo.updated_at = now;
    *detail = NULL; /* the ledger's detail names both priorities; not needed here */
    return "priority_raised";
}

static void prov__post(ledger_worker_t *w, const char *payload)
{
    size_t len = strlen(payload) + 1;
    ledger_ev_provisional_t *ev = malloc(sizeof(*ev) + len);

    if (!ev) {
        gw_log_error("ledger", "out of memory: a provisional event was not announced");
        return;
    }
    memset(ev, 0, sizeof(*ev));
    ev->hdr.kind = LEDGER_EV_PROVISIONAL;
    snprintf(ev->channel, sizeof(ev->channel), "workorder");
    memcpy(ev->payload, payload, len);
    pthread_mutex_lock(&w->mu); /* counted before anyone can see it */
    w->fig.provisional++;
    pthread_mutex_unlock(&w->mu);
    ledger__post(w, &ev->hdr);
}

void ledger__prov_announce(ledger_worker_t *w, gw_msg_t *m)
{
    ledger_op_trigger_t *op = (ledger_op_trigger_t *)m;
    ledger__prov_entry_t *e;
    char *evidence = NULL, *payload;
    const char *action, *detail, *before;
    char ulid[27], from[16] = "";
    int64_t now = gw_wall_ms();

    if (m->kind < LEDGER_OP_TRIGGER || m->kind > LEDGER_OP_CLEAR || op->announced)
        return;
    op->announced = 1;
    if (!op->t.site || !op->t.device || !op->t.rule || !*op->t.site || !*op->t.device ||
        !*op->t.rule || !(e = prov__entry(w, &op->t)))
        return; /* refused at commit anyway, or out of memory */
    before = e->active ? e->wo.status : NULL;
    if (before)
        snprintf(from, sizeof(from), "%s", before);
    if (ledger__evidence_normalize(op->t.evidence_json, &evidence) < 0)
        return;
    action = prov__apply(w, e, op, evidence, now, &detail);
    if (!action || ledger__ulid_next(&w->ulid, ulid, NULL, 0) < 0) {
        free(evidence);
        return;
    }
    ledger__event_id(op->t.site, ulid, op->event_id, sizeof(op->event_id));
    {
        ledger__change_t c = {action, from[0] ? from : NULL, e->wo.status, "rule", "rule", detail};
        payload = ledger__event_json(&e->wo, &c, op->event_id, now, 1);
    }
    free(evidence);
    if (!payload)
        return;
    gw_log_notice("ledger", "%s of %s/%s announced before its commit (event %s)", action,
                  op->t.device, op->t.rule, op->event_id);
    prov__post(w, payload);
    free(payload);
}

void ledger__prov_reset(ledger_worker_t *w)
{
    for (size_t i = 0; i < w->nprov; i++) {
        free(w->prov[i].fp);
        ledger__wo_clear_fields(&w->prov[i].wo);
    }
    free(w->prov);
    w->prov = NULL;
    w->nprov = w->capprov = 0;
}
