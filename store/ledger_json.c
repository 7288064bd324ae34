/*
 * ledger_json.c: the JSON faces of the ledger (store/ledger.h): one work
 * order as plantroomctl --json (with "v":1 first, as the MQTT payloads) and
 * the outbox events show it, the outbox
 * event envelope, and the normal form in which evidence is stored.
 *
 * Times leave as ISO-8601 UTC strings (gw_format_iso8601). The event
 * envelope is {"v":1,"event_id":"<site>#<ULID>","event":...,"ts":...,
 * "work_order":{...}}: event_id is unique per change and the same on a
 * provisional event (announced before its commit, "durable":false) and
 * its committed copy, so that a consumer receiving a duplicate can drop it
 * (docs/mqtt.md, "Work-order events").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_clock.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each adder returns 0, or -1 when cJSON ran out of memory. */
static int json__str(cJSON *o, const char *key, const char *val)
{
    cJSON *item = val ? cJSON_AddStringToObject(o, key, val) : cJSON_AddNullToObject(o, key);
    return item ? 0 : -1;
}

static int json__num(cJSON *o, const char *key, int64_t val)
{
    return cJSON_AddNumberToObject(o, key, (double)val) ? 0 : -1;
}

/* ms since the epoch as an ISO-8601 string; 0 as null when zero_is_null. */
static int json__time(cJSON *o, const char *key, int64_t ms, int zero_is_null)
{
    char buf[32];

    if (ms == 0 && zero_is_null)
        return cJSON_AddNullToObject(o, key) ? 0 : -1;
    return json__str(o, key, gw_format_iso8601(ms, buf, sizeof(buf)));
}

/* Evidence text as a JSON value: the object it holds, null when absent,
 * and {"unparsed": text} for text that is not a JSON object. */
static cJSON *json__evidence(const char *text)
{
    cJSON *v;
    cJSON *wrap;

    if (!text)
        return cJSON_CreateNull();
    v = cJSON_ParseWithOpts(text, NULL, 1);
    if (v && cJSON_IsObject(v))
        return v;
    cJSON_Delete(v);
    wrap = cJSON_CreateObject();
    if (wrap && !cJSON_AddStringToObject(wrap, "unparsed", text)) {
        cJSON_Delete(wrap);
        return NULL;
    }
    return wrap;
}

cJSON *ledger__wo_json(const ledger_wo_t *wo)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *ev;

    if (!o)
        return NULL;
    if (json__str(o, "id", wo->id) || json__num(o, "number", wo->number) ||
        json__str(o, "site", wo->site) || json__str(o, "status", wo->status) ||
        json__str(o, "priority", wo->priority) || json__str(o, "device", wo->device) ||
        json__str(o, "rule", wo->rule) || json__str(o, "title", wo->title) ||
        json__str(o, "description", wo->description) || json__str(o, "category", wo->category) ||
        json__str(o, "work_type", wo->work_type))
        goto out_delete;
    ev = json__evidence(wo->evidence_json);
    if (!ev)
        goto out_delete;
    if (!cJSON_AddItemToObject(o, "evidence", ev)) {
        cJSON_Delete(ev);
        goto out_delete;
    }
    if (json__num(o, "occurrences", wo->occurrences) ||
        json__time(o, "opened_at", wo->opened_at, 0) ||
        json__time(o, "last_seen_at", wo->last_seen_at, 0) ||
        json__time(o, "cleared_at", wo->cleared_at, 1) ||
        json__time(o, "updated_at", wo->updated_at, 0) || json__str(o, "building", wo->building) ||
        json__str(o, "floor", wo->floor) || json__str(o, "room", wo->room) ||
        json__str(o, "assignee", wo->assignee) || json__time(o, "due_at", wo->due_at, 1) ||
        json__time(o, "acknowledged_at", wo->acknowledged_at, 1) ||
        json__time(o, "started_at", wo->started_at, 1) ||
        json__time(o, "resolved_at", wo->resolved_at, 1) ||
        json__time(o, "closed_at", wo->closed_at, 1))
        goto out_delete;
    return o;

out_delete:
    cJSON_Delete(o);
    return NULL;
}

char *ledger_wo_to_json(const ledger_wo_t *wo)
{
    cJSON *o, *top;
    char *s = NULL;

    if (!wo)
        return NULL;
    o = ledger__wo_json(wo);
    top = cJSON_CreateObject();
    /* "v" first, as in every MQTT payload (docs/mqtt.md); then the fields. */
    if (!o || !top || json__num(top, "v", 1))
        goto out_delete;
    while (o->child) {
        cJSON *it = cJSON_DetachItemViaPointer(o, o->child);
        if (!cJSON_AddItemToObject(top, it->string, it)) {
            cJSON_Delete(it);
            goto out_delete;
        }
    }
    s = cJSON_PrintUnformatted(top);
out_delete:
    cJSON_Delete(o);
    cJSON_Delete(top);
    return s;
}

char *ledger__event_json(const ledger_wo_t *wo, const ledger__change_t *c, const char *event_id,
                         int64_t ts_ms, int provisional)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *w;
    char *s = NULL;

    if (!o)
        return NULL;
    if (json__num(o, "v", 1) || json__str(o, "event_id", event_id) ||
        json__str(o, "event", c->action) || json__time(o, "ts", ts_ms, 0) ||
        json__str(o, "actor", c->actor) || json__str(o, "channel", c->channel) ||
        json__str(o, "from", c->from_status) || json__str(o, "to", c->to_status))
        goto out_delete;
    if (provisional && !cJSON_AddFalseToObject(o, "durable"))
        goto out_delete;
    w = ledger__wo_json(wo);
    if (!w)
        goto out_delete;
    if (!cJSON_AddItemToObject(o, "work_order", w)) {
        cJSON_Delete(w);
        goto out_delete;
    }
    /* A provisional new order has no number yet: it is given at commit. */
    if (provisional && wo->number == 0) {
        cJSON *nul = cJSON_CreateNull();
        if (!nul || !cJSON_ReplaceItemInObjectCaseSensitive(w, "number", nul)) {
            cJSON_Delete(nul);
            goto out_delete;
        }
    }
    s = cJSON_PrintUnformatted(o);
out_delete:
    cJSON_Delete(o);
    return s;
}

int ledger__evidence_normalize(const char *in, char **out)
{
    cJSON *v;

    *out = NULL;
    if (!in || !*in)
        return 0;
    v = json__evidence(in);
    if (!v)
        return GW_ENOMEM;
    *out = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    return *out ? 0 : GW_ENOMEM;
}
