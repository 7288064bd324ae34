/*
 * ctl_audit.c: plantroomctl audit verify: walk the ledger's audit chain
 * (store/ledger_audit_verify.c) and say whether it is intact, or name the
 * first row that was changed, moved or deleted, a moved horizon, or a work
 * order whose newest rows are gone; with --head ID:HASH (a head published
 * earlier on <prefix>/<site>/audit/head) also whether the chain still holds
 * it. Read-only: it runs next to the daemon. docs/operations.md, "The
 * audit trail".
 *
 * Also plantroomctl check [--full]: the ledger's file itself, PRAGMA
 * quick_check (or integrity_check), the check the daemon runs in the
 * background only after an unclean stop (docs/operations.md, "When storage
 * fails"). Read-only too: it reads a snapshot while the daemon writes.
 *
 * Exit status: 0 intact, 1 the ledger could not be read, 2 usage, 3 the
 * chain is broken (the file damaged).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/ctl/ctl.h"
#include "store/store_file.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_EXIT_BROKEN 3

static void ctl_audit_json(const ledger_audit_report_t *rep)
{
    cJSON *o = cJSON_CreateObject(), *h;
    char ts[32];
    char *text;

    cJSON_AddBoolToObject(o, "ok", rep->problem == LEDGER_AUDIT_INTACT);
    cJSON_AddStringToObject(o, "problem", ledger_audit_problem_name(rep->problem));
    if (rep->problem != LEDGER_AUDIT_INTACT) {
        if (rep->row)
            cJSON_AddNumberToObject(o, "row", (double)rep->row);
        else
            cJSON_AddNullToObject(o, "row");
        cJSON_AddStringToObject(o, "reason", rep->reason);
    }
    h = cJSON_AddArrayToObject(o, "breaks");
    for (int64_t i = 0; h && i < rep->breaks && i < (int64_t)GW_ARRAY_SIZE(rep->break_rows); i++)
        cJSON_AddItemToArray(h, cJSON_CreateNumber((double)rep->break_rows[i]));
    cJSON_AddNumberToObject(o, "break_count", (double)rep->breaks);
    cJSON_AddNumberToObject(o, "rows", (double)rep->rows);
    cJSON_AddNumberToObject(o, "first_id", (double)rep->first_id);
    h = cJSON_AddObjectToObject(o, "head");
    cJSON_AddNumberToObject(h, "id", (double)rep->head.id);
    cJSON_AddStringToObject(h, "hash", rep->head.hash);
    h = cJSON_AddObjectToObject(o, "horizon");
    cJSON_AddNumberToObject(h, "before_id", (double)rep->horizon_id);
    cJSON_AddStringToObject(h, "before_ts", gw_format_iso8601(rep->horizon_ts, ts, sizeof(ts)));
    cJSON_AddNumberToObject(o, "work_orders", (double)rep->work_orders);
    text = cJSON_PrintUnformatted(o);
    printf("%s\n", text ? text : "{}");
    cJSON_free(text);
    cJSON_Delete(o);
}

/* The first rows that do not chain, "12, 40, 41". */
static const char *ctl_audit_rows(const ledger_audit_report_t *rep, char *out, size_t len)
{
    size_t n = 0;

    out[0] = '\0';
    for (int64_t i = 0; i < rep->breaks && i < (int64_t)GW_ARRAY_SIZE(rep->break_rows); i++) {
        int k = snprintf(out + n, len - n, "%s%lld", i ? ", " : "", (long long)rep->break_rows[i]);
        if (k < 0 || (size_t)k >= len - n)
            break;
        n += (size_t)k;
    }
    return out;
}

static void ctl_audit_text(const ledger_audit_report_t *rep)
{
    char list[200];

    if (rep->problem != LEDGER_AUDIT_INTACT) {
        if (rep->row)
            printf("audit chain BROKEN at row %lld (%s): %s\n", (long long)rep->row,
                   ledger_audit_problem_name(rep->problem), rep->reason);
        else
            printf("audit chain BROKEN (%s): %s\n", ledger_audit_problem_name(rep->problem),
                   rep->reason);
        if (rep->breaks > 1 || (rep->breaks == 1 && rep->break_rows[0] != rep->row))
            printf("%lld rows do not chain in all (the first ones: %s)\n", (long long)rep->breaks,
                   ctl_audit_rows(rep, list, sizeof(list)));
        else
            printf("every other row chains (%lld rows walked)\n", (long long)rep->rows);
        return;
    }
    if (rep->rows)
        printf("audit chain intact: %lld rows (%lld..%lld), head %lld %s; %lld work orders "
               "checked\n",
               (long long)rep->rows, (long long)rep->first_id, (long long)rep->head.id,
               (long long)rep->head.id, rep->head.hash, (long long)rep->work_orders);
    else
        printf("audit chain intact: no rows kept (horizon before row %lld); %lld work orders "
               "checked\n",
               (long long)rep->horizon_id, (long long)rep->work_orders);
}

/* audit verify [--json] [--head ID:HASH] */
static int ctl_audit_verify(ctl_global_t *g, int argc, char **argv)
{
    const char *head = NULL;
    ledger_audit_report_t rep;
    ledger_t *lg = NULL;
    char err[256] = "";
    int json = 0, i = 0, m, rc;

    while (i < argc) {
        if ((m = ctl_opt(argc, argv, &i, "--json", NULL)) > 0) {
            json = 1;
            continue;
        }
        if (m == 0)
            m = ctl_opt(argc, argv, &i, "--head", &head);
        if (m == 0)
            m = ctl_global_opt(g, argc, argv, &i);
        if (m < 0)
            return CTL_EXIT_USAGE;
        if (m == 0)
            return ctl_usage_error(argv[i][0] == '-' ? "unknown option %s" : "unexpected '%s'",
                                   argv[i]);
    }
    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    rc = ledger_audit_verify(lg, head, &rep, err, sizeof(err));
    ledger_close(lg);
    if (rc == GW_EINVAL)
        return ctl_usage_error("%s", err);
    if (rc < 0) {
        ctl_error(ctl_code_for(rc), "audit verify: %s", err);
        return CTL_EXIT_FAIL;
    }
    if (json)
        ctl_audit_json(&rep);
    else
        ctl_audit_text(&rep);
    return rep.problem == LEDGER_AUDIT_INTACT ? CTL_EXIT_OK : CTL_EXIT_BROKEN;
}

/* check [--full] [--json] */
static int ctl_check(ctl_global_t *g, int argc, char **argv)
{
    int64_t t0;
    char err[1024] = "", *path = NULL;
    int json = 0, full = 0, i = 0, m, rc;

    while (i < argc) {
        if ((m = ctl_opt(argc, argv, &i, "--json", NULL)) > 0) {
            json = 1;
            continue;
        }
        if ((m = ctl_opt(argc, argv, &i, "--full", NULL)) > 0) {
            full = 1;
            continue;
        }
        if (m == 0)
            m = ctl_global_opt(g, argc, argv, &i);
        if (m < 0)
            return CTL_EXIT_USAGE;
        if (m == 0)
            return ctl_usage_error(argv[i][0] == '-' ? "unknown option %s" : "unexpected '%s'",
                                   argv[i]);
    }
    if (ctl_ledger_path(g, &path) < 0)
        return CTL_EXIT_FAIL;
    t0 = gw_mono_ms();
    rc = store_db_check_ex(path, full, NULL, err, sizeof(err));
    if (rc < 0 && rc != GW_ECORRUPT) {
        ctl_error(ctl_code_for(rc), "check: %s", rc == GW_ENOENT ? "no ledger file" : err);
        free(path);
        return CTL_EXIT_FAIL;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        char *text;
        cJSON_AddBoolToObject(o, "ok", rc == 0);
        cJSON_AddStringToObject(o, "check", full ? "integrity_check" : "quick_check");
        cJSON_AddStringToObject(o, "file", path);
        cJSON_AddNumberToObject(o, "ms", (double)(gw_mono_ms() - t0));
        if (rc)
            cJSON_AddStringToObject(o, "problem", err);
        text = cJSON_PrintUnformatted(o);
        printf("%s\n", text ? text : "{}");
        cJSON_free(text);
        cJSON_Delete(o);
    } else if (rc == 0) {
        printf("%s: sound (%s, %lld ms)\n", path, full ? "integrity_check" : "quick_check",
               (long long)(gw_mono_ms() - t0));
    } else {
        printf("%s: DAMAGED: %s\n", path, err);
    }
    free(path);
    return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_BROKEN;
}

const ctl_command_t ctl_cmds_audit[] = {
    {"audit", "verify", ctl_audit_verify, "[--json] [--head ID:HASH]",
     "check the audit trail's hash chain: exit 0 intact, 3 broken (naming the first row changed, "
     "moved or deleted, or a moved horizon); --head: a head published earlier must still be in "
     "it"},
    {"check", "", ctl_check, "[--full] [--json]",
     "check the ledger's file (PRAGMA quick_check; --full: integrity_check, slower): exit 0 "
     "sound, 3 damaged; read-only, also while plantroomd runs (minutes on a large ledger)"},
    {NULL, NULL, NULL, NULL, NULL},
};
