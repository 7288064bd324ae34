/*
 * ledger_trigger.c: what rules do to work orders (store/ledger.h): trigger
 * (open an order, or count an occurrence on the active one of the same
 * fingerprint, re-arming it when its condition had cleared), touch (refresh
 * the active order's last-seen time and evidence, raising its priority when
 * a rule asks for more urgency) and clear (note that the condition went
 * away). Each is one unit (ledger__op_begin/end) with its audit row and
 * outbox event; a new order gets its assignee from the policy's routes and
 * its due time from the SLA of its priority. Design: docs/architecture.md
 * ("Durability order").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_clock.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What ledger__find_active reads of the active order of a fingerprint. */
typedef struct ledger__active {
    int found;
    char id[96];
    int64_t number;
    int64_t occurrences;
    int cleared; /* cleared_at is set */
    char status[16];
    char priority[16];
} ledger__active_t;

static int ledger__nonempty(const char *s)
{
    return s && *s;
}

static int ledger__find_active(ledger_t *lg, const char *fp, ledger__active_t *a, char *err,
                               size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    memset(a, 0, sizeof(*a));
    rc = ledger__stmt(lg, ST_FIND_ACTIVE, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "t", fp);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        const unsigned char *status = sqlite3_column_text(st, 4);
        a->found = 1;
        snprintf(a->id, sizeof(a->id), "%s", id ? (const char *)id : "");
        a->number = sqlite3_column_int64(st, 1);
        a->occurrences = sqlite3_column_int64(st, 2);
        a->cleared = sqlite3_column_type(st, 3) != SQLITE_NULL;
        snprintf(a->status, sizeof(a->status), "%s", status ? (const char *)status : "");
        status = sqlite3_column_text(st, 5);
        snprintf(a->priority, sizeof(a->priority), "%s", status ? (const char *)status : "");
    } else if (src != SQLITE_DONE) {
        rc = ledger__dberr(lg, src, err, errlen, "find active work order");
    }
    sqlite3_reset(st);
    return rc;
}

static const char *ledger__nz(const char *s)
{
    return s && *s ? s : NULL;
}

/* The assignee of the first route matching t's location and category, or
 * NULL. An empty route field matches anything. */
static const char *ledger__route(const ledger_policy_t *p, const ledger_trigger_t *t)
{
    for (size_t i = 0; i < p->nroutes; i++) {
        const ledger_route_t *r = &p->routes[i];
        if (r->building[0] && (!t->building || strcmp(r->building, t->building) != 0))
            continue;
        if (r->floor[0] && (!t->floor || strcmp(r->floor, t->floor) != 0))
            continue;
        if (r->category[0] && (!t->category || strcmp(r->category, t->category) != 0))
            continue;
        return r->assignee[0] ? r->assignee : NULL;
    }
    return NULL;
}

static int ledger__open_new(ledger_t *lg, const ledger_trigger_t *t, const char *fp,
                            const char *evidence, ledger_trigger_result_t *r, char *err,
                            size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char ulid[27];
    int64_t number;
    int64_t now = gw_wall_ms();
    int src;
    int rc;

    rc = ledger__next_number(lg, t->site, &number, err, errlen);
    if (rc < 0)
        return rc;

    if (t->wo_ulid && strlen(t->wo_ulid) == 26) {
        memcpy(ulid, t->wo_ulid, sizeof(ulid)); /* named when it was announced */
    } else {
        rc = ledger__ulid(lg, ulid, err, errlen);
        if (rc < 0)
            return rc;
    }
    snprintf(r->id, sizeof(r->id), "%s:%s", t->site, ulid);

    rc = ledger__stmt(lg, ST_INSERT_WO, &st, err, errlen);
    if (rc < 0)
        return rc;
    /* ?1 id, ?2 number, ?3..?12 texts, ?13 ts, ?14 now, ?15..?18 texts, ?19 due */
    src = ledger__bind(st, "tittttttttttiitttti", r->id, number, t->site, fp, t->device, t->rule,
                       t->title ? t->title : t->rule, t->description, t->category,
                       t->work_type ? t->work_type : "corrective", gw_priority_name(t->priority),
                       evidence, t->ts_ms, now, ledger__nz(t->building), ledger__nz(t->floor),
                       ledger__nz(t->room), ledger__route(ledger__policy(lg), t),
                       ledger__policy(lg)->sla_ms[t->priority]
                           ? t->ts_ms + ledger__policy(lg)->sla_ms[t->priority]
                           : (int64_t)0);
    if (src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "bind work order");
    rc = ledger__exec(lg, st, "insert work order", err, errlen);
    if (rc < 0)
        return rc;
    rc = ledger__announce(lg, r->id, "opened", NULL, "open", evidence, t->event_id, now, err,
                          errlen);
    if (rc < 0)
        return rc;
    r->opened = 1;
    r->number = number;
    r->occurrences = 1;
    return 0;
}

/* The checks every rule-driven call makes on its fingerprint parts. */
static int ledger__check_fp(const char *site, const char *device, const char *rule, char *err,
                            size_t errlen)
{
    if (!ledger__nonempty(site) || !ledger__nonempty(device) || !ledger__nonempty(rule))
        return ledger__fail(GW_EINVAL, err, errlen, "work order needs a site, device and rule");
    /* "<site>:<26-char ULID>" must fit ledger_trigger_result_t.id. */
    if (strlen(site) + 1 + 26 >= sizeof(((ledger_trigger_result_t *)0)->id))
        return ledger__fail(GW_EINVAL, err, errlen, "site name \"%.20s...\" is too long", site);
    return 0;
}

int ledger_wo_trigger(ledger_t *lg, const ledger_trigger_t *t, ledger_trigger_result_t *res,
                      char *err, size_t errlen)
{
    ledger_trigger_result_t r;
    ledger__active_t a;
    sqlite3_stmt *st = NULL;
    char *fp = NULL;
    char *evidence = NULL;
    int own_tx = 0;
    int src;
    int rc;

    memset(&r, 0, sizeof(r));
    if (!t)
        return ledger__fail(GW_EINVAL, err, errlen, "no trigger given");
    rc = ledger__check_fp(t->site, t->device, t->rule, err, errlen);
    if (rc < 0)
        return rc;
    if ((unsigned)t->priority > GW_PRIO_LOW)
        return ledger__fail(GW_EINVAL, err, errlen, "invalid priority %d", (int)t->priority);
    fp = ledger__fingerprint(t->site, t->device, t->rule);
    if (!fp || ledger__evidence_normalize(t->evidence_json, &evidence) < 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", ledger_path(lg));
        goto out_free;
    }
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        goto out_free;

    rc = ledger__find_active(lg, fp, &a, err, errlen);
    if (rc < 0)
        goto out_end;
    if (!a.found) {
        rc = ledger__open_new(lg, t, fp, evidence, &r, err, errlen);
        goto out_end;
    }
    memcpy(r.id, a.id, sizeof(r.id));
    r.number = a.number;
    r.occurrences = a.occurrences;
    if (a.cleared) {
        int64_t now = gw_wall_ms();
        rc = ledger__stmt(lg, ST_RETRIGGER, &st, err, errlen);
        if (rc < 0)
            goto out_end;
        src = ledger__bind(st, "titi", a.id, t->ts_ms, evidence, now);
        rc = src == SQLITE_OK ? ledger__exec(lg, st, "retrigger work order", err, errlen)
                              : ledger__dberr(lg, src, err, errlen, "bind retrigger");
        if (rc < 0)
            goto out_end;
        rc = ledger__announce(lg, a.id, "retriggered", a.status, a.status, evidence, t->event_id,
                              now, err, errlen);
        r.occurrences++;
    } else {
        rc = ledger__stmt(lg, ST_REFRESH, &st, err, errlen);
        if (rc < 0)
            goto out_end;
        src = ledger__bind(st, "tit", fp, t->ts_ms, evidence);
        rc = src == SQLITE_OK ? ledger__exec(lg, st, "refresh work order", err, errlen)
                              : ledger__dberr(lg, src, err, errlen, "bind refresh");
    }
out_end:
    rc = ledger__op_end(lg, own_tx, rc, err, errlen);
    if (rc == 0 && res)
        *res = r;
out_free:
    free(evidence);
    free(fp);
    return rc;
}

/* A rule asks for a more urgent priority than the active order of fp has (a
 * predicted failure drawing near): raise it, with an audit row and an event
 * "priority_raised". Never lowers: people may have raised it themselves. */
static int ledger__raise_priority(ledger_t *lg, const char *fp, gw_priority_t want,
                                  const char *event_id, char *err, size_t errlen)
{
    ledger__active_t a;
    gw_priority_t cur;
    sqlite3_stmt *st = NULL;
    char detail[64];
    int64_t now;
    int src, rc;

    rc = ledger__find_active(lg, fp, &a, err, errlen);
    if (rc < 0 || !a.found || gw_priority_parse(a.priority, &cur) != 0 || want >= cur)
        return rc;
    now = gw_wall_ms();
    src = sqlite3_prepare_v2(ledger__db(lg),
                             "UPDATE work_orders SET priority = ?2, updated_at = ?3"
                             " WHERE id = ?1",
                             -1, &st, NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "tti", a.id, gw_priority_name(want), now);
    if (src == SQLITE_OK)
        src = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(ledger__db(lg));
    sqlite3_finalize(st);
    if (src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "raise priority");
    snprintf(detail, sizeof(detail), "{\"from\":\"%s\",\"to\":\"%s\"}", a.priority,
             gw_priority_name(want));
    return ledger__announce(lg, a.id, "priority_raised", a.status, a.status, detail, event_id, now,
                            err, errlen);
}

int ledger_wo_touch(ledger_t *lg, const ledger_trigger_t *t, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char *fp = NULL;
    char *evidence = NULL;
    int own_tx = 0;
    int src;
    int rc;

    if (!t)
        return ledger__fail(GW_EINVAL, err, errlen, "no trigger given");
    rc = ledger__check_fp(t->site, t->device, t->rule, err, errlen);
    if (rc < 0)
        return rc;
    if (ledger__readonly(lg))
        return ledger__fail(GW_ESTATE, err, errlen, "ledger %s is open read-only", ledger_path(lg));
    fp = ledger__fingerprint(t->site, t->device, t->rule);
    if (!fp || ledger__evidence_normalize(t->evidence_json, &evidence) < 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", ledger_path(lg));
        goto out_free;
    }
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        goto out_free;
    rc = ledger__stmt(lg, ST_REFRESH, &st, err, errlen);
    if (rc < 0)
        goto out_end;
    src = ledger__bind(st, "tit", fp, t->ts_ms, evidence);
    rc = src == SQLITE_OK ? ledger__exec(lg, st, "touch work order", err, errlen)
                          : ledger__dberr(lg, src, err, errlen, "bind touch");
    if (rc < 0)
        goto out_end;
    rc = ledger__raise_priority(lg, fp, t->priority, t->event_id, err, errlen);
out_end:
    rc = ledger__op_end(lg, own_tx, rc, err, errlen);
out_free:
    free(evidence);
    free(fp);
    return rc;
}

int ledger_wo_clear(ledger_t *lg, const char *site, const char *device, const char *rule,
                    int64_t ts_ms, const char *evidence_json, char *err, size_t errlen)
{
    ledger_trigger_t t = {.site = site,
                          .device = device,
                          .rule = rule,
                          .ts_ms = ts_ms,
                          .evidence_json = evidence_json};

    return ledger__wo_clear(lg, &t, err, errlen);
}

int ledger__wo_clear(ledger_t *lg, const ledger_trigger_t *t, char *err, size_t errlen)
{
    ledger__active_t a;
    sqlite3_stmt *st = NULL;
    char *fp = NULL;
    char *evidence = NULL;
    int64_t now;
    int own_tx = 0;
    int src;
    int rc;

    rc = ledger__check_fp(t->site, t->device, t->rule, err, errlen);
    if (rc < 0)
        return rc;
    fp = ledger__fingerprint(t->site, t->device, t->rule);
    if (!fp || ledger__evidence_normalize(t->evidence_json, &evidence) < 0) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", ledger_path(lg));
        goto out_free;
    }
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        goto out_free;
    rc = ledger__find_active(lg, fp, &a, err, errlen);
    /* No active order, or its condition already cleared: nothing to say. */
    if (rc < 0 || !a.found || a.cleared)
        goto out_end;
    now = gw_wall_ms();
    rc = ledger__stmt(lg, ST_CLEAR, &st, err, errlen);
    if (rc < 0)
        goto out_end;
    src = ledger__bind(st, "titi", a.id, t->ts_ms, evidence, now);
    rc = src == SQLITE_OK ? ledger__exec(lg, st, "clear work order", err, errlen)
                          : ledger__dberr(lg, src, err, errlen, "bind clear");
    if (rc < 0)
        goto out_end;
    rc = ledger__announce(lg, a.id, "cleared", a.status, a.status, evidence, t->event_id, now, err,
                          errlen);
out_end:
    rc = ledger__op_end(lg, own_tx, rc, err, errlen);
out_free:
    free(evidence);
    free(fp);
    return rc;
}
