/*
 * core_alarm.c: gateway alarms (gw_core.h): faults of the gateway itself,
 * not of a device: a state file moved aside as corrupt, a disk that is
 * full or read-only, a thread that stopped advancing. Each alarm has a key
 * ("storage.ledger", "thread.bus.rtu-1"), a priority and a one-line detail.
 *
 * A raised alarm is logged at error, kept here for the status answer and
 * the metrics (core_status.c), told to the listener (the north side
 * publishes it, retained, on the gateway's status topic), and opened as a
 * work order of the gateway itself (device "gateway", rule = the key,
 * category "gateway"), so that the facility manager is told through the
 * normal routes and hooks. Raising a raised alarm only refreshes its
 * detail; clearing resolves the work order's condition. docs/operations.md
 * ("Gateway alarms") lists the keys.
 *
 * After a restart the ledger may hold an active, uncleared order of an
 * alarm this run has not raised (the daemon was killed while it was up):
 * such a key is kept as an orphan (core__alarm_orphan, from the rules'
 * reconciliation with the ledger), and clearing it, when its owner sees
 * the condition gone, clears that order, so that the next fault is a new
 * "retriggered" event rather than a silent refresh. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/core/core_int.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw_alarm_t *alarm__find(gw_core_t *c, const char *key)
{
    for (size_t i = 0; i < c->nalarms; i++) {
        if (strcmp(c->alarms[i].key, key) == 0)
            return &c->alarms[i];
    }
    return NULL;
}

/* The alarm's work order: OPEN on raise, CLEAR when it clears. */
static void alarm__ledger(gw_core_t *c, const gw_alarm_t *a, int kind)
{
    const gw_config_t *cfg = c->rt->cfg;
    char title[GW_ALARM_DETAIL_MAX + 32], *evidence = NULL;
    ledger_op_trigger_t *op;
    cJSON *o;

    if (!c->ledger)
        return;
    snprintf(title, sizeof(title), "Gateway: %s", a->detail);
    o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "alarm", a->key);
        cJSON_AddStringToObject(o, "detail", a->detail);
        cJSON_AddStringToObject(o, "priority", gw_priority_name(a->priority));
        evidence = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    ledger_trigger_t t = {
        .site = cfg->site_id,
        .device = GW_ALARM_DEVICE,
        .rule = a->key,
        .title = title,
        .category = "gateway",
        .work_type = "corrective",
        .priority = a->priority,
        .evidence_json = evidence,
        .ts_ms = gw_wall_ms(),
    };
    op = ledger_op_trigger_new(kind, &t);
    if (op)
        ledger_worker_submit(c->ledger, &op->hdr);
    else
        gw_log_error("gw", "out of memory: the work order of gateway alarm %s is lost", a->key);
    free(evidence);
}

/* Index of key among the orphans, or -1. */
static int alarm__orphan_find(const gw_core_t *c, const char *key)
{
    for (size_t i = 0; i < c->norphans; i++) {
        if (strcmp(c->orphans[i], key) == 0)
            return (int)i;
    }
    return -1;
}

static void alarm__orphan_drop(gw_core_t *c, int i)
{
    if (i < 0)
        return;
    memcpy(c->orphans[i], c->orphans[--c->norphans], sizeof(c->orphans[0]));
}

void core__alarm_orphan(gw_core_t *c, const char *key)
{
    if (alarm__find(c, key) || alarm__orphan_find(c, key) >= 0 ||
        strlen(key) >= sizeof(c->orphans[0]) ||
        gw_array_grow((void **)&c->orphans, c->norphans, &c->caporphans, sizeof(c->orphans[0])) !=
            0)
        return;
    snprintf(c->orphans[c->norphans++], sizeof(c->orphans[0]), "%s", key);
    gw_log_info("gw", "gateway alarm %s: its work order is still active from before the start",
                key);
}

int gw_core_alarm_raise(gw_core_t *c, const char *key, gw_priority_t prio, const char *fmt, ...)
{
    gw_alarm_t *a = alarm__find(c, key);
    int fresh = a == NULL;
    va_list ap;

    if (fresh) {
        if (gw_array_grow((void **)&c->alarms, c->nalarms, &c->capalarms, sizeof(*c->alarms)) !=
            0) {
            gw_log_error("gw", "gateway alarm %s: out of memory", key);
            return GW_ENOMEM;
        }
        a = &c->alarms[c->nalarms++];
        memset(a, 0, sizeof(*a));
        snprintf(a->key, sizeof(a->key), "%s", key);
        a->since_ms = gw_wall_ms();
    }
    a->priority = prio;
    va_start(ap, fmt);
    vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
    va_end(ap);
    if (!fresh)
        return 0;
    alarm__orphan_drop(c, alarm__orphan_find(c, key)); /* its order is ours again */
    gw_log_error("gw", "gateway alarm %s (%s): %s", a->key, gw_priority_name(prio), a->detail);
    alarm__ledger(c, a, LEDGER_OP_TRIGGER);
    if (c->listener.alarm)
        c->listener.alarm(c->listener.arg, a, 1);
    return 1;
}

int gw_core_alarm_clear(gw_core_t *c, const char *key)
{
    gw_alarm_t *a = alarm__find(c, key), copy;
    int orphan;

    if (!a) {
        orphan = alarm__orphan_find(c, key);
        if (orphan < 0)
            return 0;
        memset(&copy, 0, sizeof(copy));
        snprintf(copy.key, sizeof(copy.key), "%s", key);
        snprintf(copy.detail, sizeof(copy.detail), "%s: condition gone since the start", key);
        alarm__orphan_drop(c, orphan);
        gw_log_notice("gw", "gateway alarm %s: condition gone; its work order is cleared", key);
        alarm__ledger(c, &copy, LEDGER_OP_CLEAR);
        return 1;
    }
    copy = *a;
    *a = c->alarms[--c->nalarms];
    gw_log_notice("gw", "gateway alarm %s cleared (it was: %s)", copy.key, copy.detail);
    alarm__ledger(c, &copy, LEDGER_OP_CLEAR);
    if (c->listener.alarm)
        c->listener.alarm(c->listener.arg, &copy, 0);
    return 1;
}

size_t gw_core_alarms(const gw_core_t *c, const gw_alarm_t **out)
{
    *out = c->alarms;
    return c->nalarms;
}
