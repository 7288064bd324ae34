/*
 * north_audit.c: the audit chain's head published on MQTT (north_int.h),
 * retained on <prefix>/<site>/audit/head, on every connect and once a day,
 * so that a copy of it lives outside the box: a rewrite of the whole
 * ledger (which a local check cannot see) then no longer matches what was
 * published (plantroomctl audit verify --head ID:HASH; docs/security.md).
 * The head is read by the ledger thread after a commit (LEDGER_OP_AUDIT_HEAD
 * answered by LEDGER_EV_AUDIT_HEAD). Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"

#include <stdio.h>
#include <stdlib.h>

#define NORTH_AUDIT_EVERY_MS (24ULL * 3600 * 1000)

struct north_audit {
    north_session_t *s;
    ledger_worker_t *lw;
    const gw_core_t *core;
    uv_timer_t timer;
    uint64_t published;
};

/* Ask the ledger thread for the head; it comes back as LEDGER_EV_AUDIT_HEAD. */
static void audit__ask(north_audit_t *a)
{
    gw_msg_t *m;

    if (!a->lw || !north__session_connected(a->s))
        return;
    m = calloc(1, sizeof(*m));
    if (!m)
        return;
    m->kind = LEDGER_OP_AUDIT_HEAD;
    ledger_worker_submit(a->lw, m);
}

static void audit__timer_cb(uv_timer_t *t)
{
    audit__ask(t->data);
}

static void audit__on_connected(void *arg)
{
    audit__ask(arg);
}

void north__audit_head(north_audit_t *a, const ledger_ev_audit_head_t *ev)
{
    char ts[32];
    cJSON *o;

    if (!a)
        return;
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", gw_core_config(a->core)->site_id);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(ev->ts_ms, ts, sizeof(ts)));
    cJSON_AddNumberToObject(o, "id", (double)ev->head.id);
    cJSON_AddStringToObject(o, "hash", ev->head.hash);
    cJSON_AddNumberToObject(o, "rows", (double)ev->head.rows);
    cJSON_AddNumberToObject(o, "before_id", (double)ev->head.before_id);
    north__publish_json(a->s, "audit/head", o, 1, 1);
    cJSON_Delete(o);
    a->published++;
    gw_log_info("ledger", "audit head published: row %lld %s", (long long)ev->head.id,
                ev->head.hash);
}

int north__audit_create(north_audit_t **out, uv_loop_t *loop, north_session_t *s,
                        const gw_core_t *core, ledger_worker_t *lw)
{
    north_audit_t *a = calloc(1, sizeof(*a));
    north_handler_t h = {.connected = audit__on_connected};

    *out = NULL;
    if (!a)
        return GW_ENOMEM;
    a->s = s;
    a->lw = lw;
    a->core = core;
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, audit__timer_cb, NORTH_AUDIT_EVERY_MS, NORTH_AUDIT_EVERY_MS);
    h.arg = a;
    north__session_on(s, &h);
    *out = a;
    return 0;
}

void north__audit_free(north_audit_t *a)
{
    free(a);
}
