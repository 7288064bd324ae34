/*
 * ledger_rows.c: work orders read into ledger_wo_t (store/ledger.h): one
 * row to a struct, one order by id, a filtered list, and freeing them. The
 * columns are LEDGER__WO_COLS (ledger_int.h), in the order read here.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include <sqlite3.h>

#include <stdlib.h>
#include <string.h>

void ledger_wo_free_fields(ledger_wo_t *wo)
{
    ledger__wo_clear_fields(wo);
}

void ledger__wo_clear_fields(ledger_wo_t *wo)
{
    free(wo->id);
    free(wo->site);
    free(wo->device);
    free(wo->rule);
    free(wo->title);
    free(wo->description);
    free(wo->category);
    free(wo->work_type);
    free(wo->priority);
    free(wo->status);
    free(wo->evidence_json);
    free(wo->building);
    free(wo->floor);
    free(wo->room);
    free(wo->assignee);
    memset(wo, 0, sizeof(*wo));
}

/* Fill wo from a row of LEDGER__WO_COLS. Returns 0 or GW_ENOMEM (wo then empty). */
int ledger__wo_from_row(sqlite3_stmt *st, ledger_wo_t *wo)
{
    int oom = 0;

    memset(wo, 0, sizeof(*wo));
    wo->id = ledger__col_dup(st, 0, &oom);
    wo->number = sqlite3_column_int64(st, 1);
    wo->site = ledger__col_dup(st, 2, &oom);
    wo->device = ledger__col_dup(st, 3, &oom);
    wo->rule = ledger__col_dup(st, 4, &oom);
    wo->title = ledger__col_dup(st, 5, &oom);
    wo->description = ledger__col_dup(st, 6, &oom);
    wo->category = ledger__col_dup(st, 7, &oom);
    wo->work_type = ledger__col_dup(st, 8, &oom);
    wo->priority = ledger__col_dup(st, 9, &oom);
    wo->status = ledger__col_dup(st, 10, &oom);
    wo->evidence_json = ledger__col_dup(st, 11, &oom);
    wo->occurrences = sqlite3_column_int64(st, 12);
    wo->opened_at = sqlite3_column_int64(st, 13);
    wo->last_seen_at = sqlite3_column_int64(st, 14);
    wo->cleared_at = sqlite3_column_int64(st, 15); /* NULL reads as 0 */
    wo->updated_at = sqlite3_column_int64(st, 16);
    wo->building = ledger__col_dup(st, 17, &oom);
    wo->floor = ledger__col_dup(st, 18, &oom);
    wo->room = ledger__col_dup(st, 19, &oom);
    wo->assignee = ledger__col_dup(st, 20, &oom);
    wo->due_at = sqlite3_column_int64(st, 21);
    wo->acknowledged_at = sqlite3_column_int64(st, 22);
    wo->started_at = sqlite3_column_int64(st, 23);
    wo->resolved_at = sqlite3_column_int64(st, 24);
    wo->closed_at = sqlite3_column_int64(st, 25);
    if (oom) {
        ledger__wo_clear_fields(wo);
        return GW_ENOMEM;
    }
    return 0;
}

int ledger__wo_get(ledger_t *lg, const char *id, ledger_wo_t *wo, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    rc = ledger__stmt(lg, ST_GET_WO, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "t", id);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        rc = ledger__wo_from_row(st, wo);
        if (rc < 0)
            ledger__fail(rc, err, errlen, "ledger %s: out of memory", ledger_path(lg));
    } else if (src == SQLITE_DONE) {
        rc = ledger__fail(GW_ENOENT, err, errlen, "ledger %s: no work order %s", ledger_path(lg),
                          id);
    } else {
        rc = ledger__dberr(lg, src, err, errlen, "read work order");
    }
    sqlite3_reset(st);
    return rc;
}

int ledger_wo_list(ledger_t *lg, const ledger_wo_filter_t *f, ledger_wo_t **out, size_t *n,
                   char *err, size_t errlen)
{
    ledger_wo_filter_t none = {0};
    ledger_wo_t *arr = NULL;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    *out = NULL;
    *n = 0;
    if (!f)
        f = &none;
    if (f->limit < 0)
        return ledger__fail(GW_EINVAL, err, errlen, "negative limit %d", f->limit);
    rc = ledger__stmt(lg, ST_LIST_WO, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "ttiitti", f->status, f->device, (int64_t)(f->active_only != 0),
                       (int64_t)(f->limit ? f->limit : -1), f->priority, f->category, f->since_ms);
    if (src != SQLITE_OK) {
        rc = ledger__dberr(lg, src, err, errlen, "bind list filter");
        goto out_reset;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (gw_array_grow((void **)&arr, count, &cap, sizeof(*arr)) != 0) {
            rc = ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: out of memory", ledger_path(lg));
            goto out_free;
        }
        rc = ledger__wo_from_row(st, &arr[count]);
        if (rc < 0) {
            ledger__fail(rc, err, errlen, "ledger %s: out of memory", ledger_path(lg));
            goto out_free;
        }
        count++;
    }
    if (src != SQLITE_DONE) {
        rc = ledger__dberr(lg, src, err, errlen, "list work orders");
        goto out_free;
    }
    sqlite3_reset(st);
    *out = arr;
    *n = count;
    return 0;

out_free:
    ledger_wo_free_array(arr, count);
out_reset:
    sqlite3_reset(st);
    return rc;
}

void ledger_wo_free_array(ledger_wo_t *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++)
        ledger__wo_clear_fields(&arr[i]);
    free(arr);
}
