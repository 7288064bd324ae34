/*
 * ledger_outbox.c: the audit trail and the outbox (store/ledger.h): every
 * change writes its audit row and, in the same transaction, an outbox event
 * carrying the work order as it is now, under an event id "<site>#<ULID>"
 * (given when the ledger thread announced the change before committing it,
 * else minted here); the outbox is read in id order and a row deleted only
 * once each consumer (MQTT, the notifier) has it, so that an event is
 * published exactly when its change is committed (docs/architecture.md,
 * "Durability order").
 * The event's JSON is ledger_json.c's.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A change by a rule: the audit row and outbox event of ledger__announce_by. */
int ledger__announce(ledger_t *lg, const char *wo_id, const char *action, const char *from_status,
                     const char *to_status, const char *detail, const char *event_id, int64_t now,
                     char *err, size_t errlen)
{
    static const ledger_actor_t rule = {"rule", "rule"};

    return ledger__announce_by(lg, wo_id, action, from_status, to_status, detail, &rule, event_id,
                               now, err, errlen);
}

/* The event's id: the one it was announced under, or a new one. */
static int ledger__name_event(ledger_t *lg, const ledger_wo_t *wo, const char *given,
                              char out[LEDGER_EVENT_ID_MAX], char *err, size_t errlen)
{
    char ulid[27];
    int rc;

    if (given && *given) {
        if (strlen(given) >= LEDGER_EVENT_ID_MAX)
            return ledger__fail(GW_EINVAL, err, errlen, "event id too long");
        snprintf(out, LEDGER_EVENT_ID_MAX, "%s", given);
        return 0;
    }
    rc = ledger__ulid(lg, ulid, err, errlen);
    if (rc == 0)
        ledger__event_id(wo->site, ulid, out, LEDGER_EVENT_ID_MAX);
    return rc;
}

int ledger__announce_by(ledger_t *lg, const char *wo_id, const char *action,
                        const char *from_status, const char *to_status, const char *detail,
                        const ledger_actor_t *by, const char *event_id, int64_t now, char *err,
                        size_t errlen)
{
    ledger__change_t c = {action, from_status, to_status, by->who, by->channel, detail};
    char id[LEDGER_EVENT_ID_MAX];
    ledger_wo_t wo;
    sqlite3_stmt *st = NULL;
    char *payload = NULL;
    int src;
    int rc;

    rc = ledger__wo_get(lg, wo_id, &wo, err, errlen);
    if (rc < 0)
        return rc;
    rc = ledger__name_event(lg, &wo, event_id, id, err, errlen);
    if (rc < 0)
        goto out_clear;
    {
        ledger__audit_row_t a = {.wo_id = wo_id,
                                 .ts = now,
                                 .actor = by->who,
                                 .channel = by->channel,
                                 .action = action,
                                 .from_status = from_status,
                                 .to_status = to_status,
                                 .detail = detail,
                                 .event_id = id};
        rc = ledger__audit_append(lg, &a, err, errlen); /* the hash chain */
        if (rc < 0)
            goto out_clear;
    }
    payload = ledger__event_json(&wo, &c, id, now, 0);
    if (!payload) {
        rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", ledger_path(lg));
        goto out_clear;
    }
    rc = ledger__stmt(lg, ST_OUTBOX_INSERT, &st, err, errlen);
    if (rc < 0)
        goto out_clear;
    src = ledger__bind(st, "ttti", "workorder", wo_id, payload, now);
    rc = src == SQLITE_OK ? ledger__exec(lg, st, "write outbox row", err, errlen)
                          : ledger__dberr(lg, src, err, errlen, "bind outbox row");
out_clear:
    free(payload);
    ledger__wo_clear_fields(&wo);
    return rc;
}

int ledger_outbox_list(ledger_t *lg, int64_t after_id, int limit, ledger_outbox_row_t **out,
                       size_t *n, char *err, size_t errlen)
{
    ledger_outbox_row_t *arr = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    *out = NULL;
    *n = 0;
    if (limit < 0)
        return ledger__fail(GW_EINVAL, err, errlen, "negative limit %d", limit);
    rc = ledger__stmt(lg, ST_OUTBOX_LIST, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "ii", after_id, (int64_t)(limit ? limit : -1));
    if (src != SQLITE_OK) {
        rc = ledger__dberr(lg, src, err, errlen, "bind outbox list");
        goto out_reset;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        ledger_outbox_row_t *row;
        int oom = 0;
        if (gw_array_grow((void **)&arr, count, &cap, sizeof(*arr)) != 0) {
            rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", ledger_path(lg));
            goto out_free;
        }
        row = &arr[count++];
        row->id = sqlite3_column_int64(st, 0);
        row->channel = ledger__col_dup(st, 1, &oom);
        row->key = ledger__col_dup(st, 2, &oom);
        row->payload = ledger__col_dup(st, 3, &oom);
        row->created_at = sqlite3_column_int64(st, 4);
        row->acked = sqlite3_column_int(st, 5);
        if (oom) {
            rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", ledger_path(lg));
            goto out_free;
        }
    }
    if (src != SQLITE_DONE) {
        rc = ledger__dberr(lg, src, err, errlen, "list outbox");
        goto out_free;
    }
    sqlite3_reset(st);
    *out = arr;
    *n = count;
    return 0;

out_free:
    ledger_outbox_free_array(arr, count);
out_reset:
    sqlite3_reset(st);
    return rc;
}

void ledger_outbox_free_array(ledger_outbox_row_t *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++) {
        free(arr[i].channel);
        free(arr[i].key);
        free(arr[i].payload);
    }
    free(arr);
}

int ledger_outbox_delete(ledger_t *lg, int64_t id, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    if (ledger__readonly(lg))
        return ledger__fail(GW_ESTATE, err, errlen, "ledger %s is open read-only", ledger_path(lg));
    rc = ledger__stmt(lg, ST_OUTBOX_DELETE, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "i", id);
    if (src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "bind outbox delete");
    return ledger__exec(lg, st, "delete outbox row", err, errlen);
}

int ledger_outbox_ack(ledger_t *lg, int64_t id, int consumer, char *err, size_t errlen)
{
    static const int ids[] = {ST_OUTBOX_ACK, ST_OUTBOX_DONE};
    sqlite3_stmt *st = NULL;
    int own_tx = 0;
    int src;
    int rc;

    if (consumer <= 0 || (consumer & ~LEDGER_CONSUMERS))
        return ledger__fail(GW_EINVAL, err, errlen, "unknown outbox consumer %d", consumer);
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < GW_ARRAY_SIZE(ids) && rc == 0; i++) {
        rc = ledger__stmt(lg, ids[i], &st, err, errlen);
        if (rc < 0)
            break;
        src = ledger__bind(st, "ii", id, (int64_t)(i == 0 ? consumer : LEDGER_CONSUMERS));
        rc = src == SQLITE_OK ? ledger__exec(lg, st, "acknowledge outbox row", err, errlen)
                              : ledger__dberr(lg, src, err, errlen, "bind outbox ack");
    }
    return ledger__op_end(lg, own_tx, rc, err, errlen);
}

int ledger_outbox_purge(ledger_t *lg, int64_t before_ms, int64_t *purged, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    if (purged)
        *purged = 0;
    if (ledger__readonly(lg))
        return ledger__fail(GW_ESTATE, err, errlen, "ledger %s is open read-only", ledger_path(lg));
    src = sqlite3_prepare_v2(ledger__db(lg), "DELETE FROM outbox WHERE created_at < ?1", -1, &st,
                             NULL);
    if (src == SQLITE_OK)
        src = ledger__bind(st, "i", before_ms);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    rc = src == SQLITE_DONE ? 0 : ledger__dberr(lg, src, err, errlen, "purge the outbox");
    if (rc == 0 && purged)
        *purged = sqlite3_changes(ledger__db(lg));
    sqlite3_finalize(st);
    return rc;
}

int ledger__outbox_max_id(ledger_t *lg, int64_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    rc = ledger__stmt(lg, ST_OUTBOX_MAX, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = ledger__dberr(lg, src, err, errlen, "read outbox position");
    sqlite3_reset(st);
    return rc;
}
