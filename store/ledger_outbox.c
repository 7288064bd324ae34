/*
 * ledger_outbox.c: the audit trail and the outbox (store/ledger.h): every
 * change writes its audit row and, in the same transaction, an outbox event
 * carrying the work order as it is now; the outbox is read in id order and
 * a row deleted only once delivered, so that an event is published exactly
 * when its change is committed (docs/architecture.md, "Durability order").
 * The event's JSON is ledger_json.c's.
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include <sqlite3.h>

#include <stdlib.h>

/* A change by a rule: the audit row and outbox event of ledger__announce_by. */
int ledger__announce(ledger_t *lg, const char *wo_id, const char *action, const char *from_status,
                     const char *to_status, const char *detail, int64_t now, char *err,
                     size_t errlen)
{
    static const ledger_actor_t rule = {"rule", "rule"};

    return ledger__announce_by(lg, wo_id, action, from_status, to_status, detail, &rule, now, err,
                               errlen);
}

int ledger__announce_by(ledger_t *lg, const char *wo_id, const char *action,
                        const char *from_status, const char *to_status, const char *detail,
                        const ledger_actor_t *by, int64_t now, char *err, size_t errlen)
{
    ledger_wo_t wo;
    sqlite3_stmt *st = NULL;
    char *payload;
    int64_t audit_id;
    int src;
    int rc;

    {
        ledger__audit_row_t a = {.wo_id = wo_id,
                                 .ts = now,
                                 .actor = by->who,
                                 .channel = by->channel,
                                 .action = action,
                                 .from_status = from_status,
                                 .to_status = to_status,
                                 .detail = detail};
        rc = ledger__audit_append(lg, &a, err, errlen); /* the hash chain */
        if (rc < 0)
            return rc;
        audit_id = a.id;
    }

    rc = ledger__wo_get(lg, wo_id, &wo, err, errlen);
    if (rc < 0)
        return rc;
    {
        ledger__change_t c = {action, from_status, to_status, by->who, by->channel, detail};
        payload = ledger__event_json(&wo, &c, audit_id, now);
    }
    ledger__wo_clear_fields(&wo);
    if (!payload)
        return ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", ledger_path(lg));

    rc = ledger__stmt(lg, ST_OUTBOX_INSERT, &st, err, errlen);
    if (rc < 0)
        goto out_free_payload;
    src = ledger__bind(st, "ttti", "workorder", wo_id, payload, now);
    if (src != SQLITE_OK) {
        rc = ledger__dberr(lg, src, err, errlen, "bind outbox row");
        goto out_free_payload;
    }
    rc = ledger__exec(lg, st, "write outbox row", err, errlen);
out_free_payload:
    free(payload);
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
