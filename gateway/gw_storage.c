/*
 * gw_storage.c: what the daemon shows and raises when its storage fails
 * (gw_daemon_int.h; docs/operations.md, "When storage fails").
 *
 * The ledger thread posts the state of its file whenever it changes
 * (LEDGER_EV_HEALTH): full, read-only, I/O errors, locked, cannot be
 * opened, or a damaged file moved aside. Here that becomes the gateway
 * alarm storage.ledger (critical: logged, in status and metrics, published
 * retained, and a work order of the gateway, which itself waits in the
 * ledger's backlog and is announced provisionally like any other). The
 * alarm clears when the state is ok again, except that a ledger moved
 * aside as damaged stays an alarm until the daemon restarts: its
 * evidence needs a person.
 *
 * A commit that went on past a damaged audit row (its hash not a hash)
 * becomes the gateway alarm storage.audit (high), once per row; it stays
 * until the daemon restarts, as the chain stays broken there.
 *
 * The ledger thread's figures (backlog depth and bound, drops, provisional
 * events, files moved aside, outbox rows purged) are a service source: the
 * "storage" member of the status answer and plantroom_ledger_* metrics.
 * Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/gw_daemon_int.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define STORAGE_LEDGER_KEY "storage.ledger"
#define STORAGE_AUDIT_KEY  "storage.audit"

static const char *storage__base(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s", path);
    return basename(buf);
}

/* What failed, after the "ledger <path>: " in the error (the alarm names
 * the file already). */
static const char *storage__why(const char *detail, const char *path)
{
    char head[PATH_MAX + 16];
    const char *p;

    snprintf(head, sizeof(head), "ledger %s: ", path);
    p = strstr(detail, head);
    return p ? p + strlen(head) : detail;
}

void gw__storage_ledger_health(gw_daemon_t *d, const ledger_ev_health_t *ev)
{
    const char *path = gw_core_config(d->core)->ledger_path;
    const char *why = storage__why(ev->detail, path);
    char buf[PATH_MAX], moved[256];
    const char *name = storage__base(path, buf, sizeof(buf));
    size_t max_ops = 0;
    ledger_worker_figures_t f;

    if (ev->moved_to[0])
        snprintf(d->ledger_corrupt, sizeof(d->ledger_corrupt),
                 "%s was corrupt: moved aside to %s; a fresh ledger started", name,
                 storage__base(ev->moved_to, moved, sizeof(moved)));
    if (d->ledger) {
        ledger_worker_figures(d->ledger, &f);
        max_ops = f.max_ops;
    }
    switch (ev->state) {
    case LEDGER_STORAGE_OK:
        if (d->ledger_corrupt[0])
            gw_core_alarm_raise(d->core, STORAGE_LEDGER_KEY, GW_PRIO_CRITICAL, "%s",
                                d->ledger_corrupt);
        else
            gw_core_alarm_clear(d->core, STORAGE_LEDGER_KEY);
        return;
    case LEDGER_STORAGE_UNAVAILABLE:
        gw_core_alarm_raise(d->core, STORAGE_LEDGER_KEY, GW_PRIO_CRITICAL,
                            "%s cannot be opened: work orders wait in memory (at most %zu ops): "
                            "%.100s",
                            name, max_ops, why);
        return;
    default:
        gw_core_alarm_raise(d->core, STORAGE_LEDGER_KEY, GW_PRIO_CRITICAL,
                            "%s %s: work orders wait in memory (at most %zu ops): %.100s", name,
                            ledger_storage_state_name(ev->state), max_ops, why);
        return;
    }
}

void gw__storage_audit_break(gw_daemon_t *d, const ledger_ev_audit_break_t *ev)
{
    gw_core_alarm_raise(d->core, STORAGE_AUDIT_KEY, GW_PRIO_HIGH,
                        "audit chain broken at row %lld (its hash is damaged): commits go on, "
                        "chained past it; run plantroomctl audit verify",
                        (long long)ev->row);
}

void gw__storage_status_json(void *arg, cJSON *res)
{
    gw_daemon_t *d = arg;
    cJSON *o = cJSON_AddObjectToObject(res, "storage"), *l;
    ledger_worker_figures_t f;

    if (!o || !d->ledger)
        return;
    ledger_worker_figures(d->ledger, &f);
    l = cJSON_AddObjectToObject(o, "ledger");
    cJSON_AddStringToObject(l, "state", ledger_storage_state_name(f.state));
    cJSON_AddStringToObject(l, "detail", f.detail);
    cJSON_AddNumberToObject(l, "queue_depth", (double)f.depth);
    cJSON_AddNumberToObject(l, "queue_max", (double)f.max_ops);
    cJSON_AddNumberToObject(l, "queue_peak", (double)f.peak);
    cJSON_AddNumberToObject(l, "dropped", (double)f.dropped);
    cJSON_AddNumberToObject(l, "rollup_rows_dropped", (double)f.rows_dropped);
    cJSON_AddNumberToObject(l, "coalesced", (double)f.coalesced);
    cJSON_AddNumberToObject(l, "refused", (double)f.refused);
    cJSON_AddNumberToObject(l, "provisional_events", (double)f.provisional);
    cJSON_AddNumberToObject(l, "failed_batches", (double)f.failed_batches);
    cJSON_AddNumberToObject(l, "quarantined", (double)f.quarantined);
    cJSON_AddNumberToObject(l, "outbox_purged", (double)f.outbox_purged);
    cJSON_AddNumberToObject(l, "rollup_move_left", (double)f.move_left);
    cJSON_AddNumberToObject(l, "rollup_move_failed", (double)f.move_failed);
    cJSON_AddBoolToObject(l, "checking", f.checking);
    cJSON_AddNumberToObject(l, "checks_started", (double)f.checks_started);
    cJSON_AddNumberToObject(l, "checks_done", (double)f.checks_done);
    cJSON_AddStringToObject(l, "check_result", f.check_result);
    cJSON_AddNumberToObject(l, "check_ms", (double)f.check_ms);
    cJSON_AddNumberToObject(l, "audit_break_row", (double)f.audit_break);
    cJSON_AddNumberToObject(l, "audit_breaks", (double)f.audit_breaks);
}

static void storage__metric(FILE *o, const char *name, const char *type, const char *help, double v)
{
    fprintf(o, "# HELP %s %s\n# TYPE %s %s\n%s %.0f\n", name, help, name, type, name, v);
}

void gw__storage_metrics_text(void *arg, FILE *o)
{
    gw_daemon_t *d = arg;
    ledger_worker_figures_t f;

    if (!d->ledger)
        return;
    ledger_worker_figures(d->ledger, &f);
    storage__metric(o, "plantroom_ledger_storage_ok", "gauge",
                    "1 while the ledger's file takes writes, 0 while it is full, read-only, "
                    "failing or cannot be opened.",
                    f.state == LEDGER_STORAGE_OK);
    storage__metric(o, "plantroom_ledger_queue_max", "gauge",
                    "Bound of the ops waiting for the ledger (ledger.queue_max_ops).",
                    (double)f.max_ops);
    storage__metric(o, "plantroom_ledger_queue_peak", "gauge",
                    "Highest number of ops that waited for the ledger since start.",
                    (double)f.peak);
    storage__metric(o, "plantroom_ledger_ops_dropped_total", "counter",
                    "Repeatable ops (rollups, device status, acknowledgements) dropped past the "
                    "bound.",
                    (double)f.dropped);
    storage__metric(o, "plantroom_ledger_rollup_rows_dropped_total", "counter",
                    "Telemetry rollup rows among the dropped ops.", (double)f.rows_dropped);
    storage__metric(o, "plantroom_ledger_ops_coalesced_total", "counter",
                    "Refreshes of a work order folded into a newer one while waiting.",
                    (double)f.coalesced);
    storage__metric(o, "plantroom_ledger_ops_refused_total", "counter",
                    "Work-order ops refused because the backlog held nothing else up to the "
                    "bound.",
                    (double)f.refused);
    storage__metric(o, "plantroom_ledger_provisional_events_total", "counter",
                    "Work-order events announced before their commit (\"durable\":false).",
                    (double)f.provisional);
    storage__metric(o, "plantroom_ledger_failed_batches_total", "counter",
                    "Ledger transactions that failed as a whole and were tried again.",
                    (double)f.failed_batches);
    storage__metric(o, "plantroom_ledger_quarantined_total", "counter",
                    "Damaged ledger files moved aside since start.", (double)f.quarantined);
    storage__metric(o, "plantroom_ledger_outbox_purged_total", "counter",
                    "Outbox events deleted past ledger.outbox_retention_days.",
                    (double)f.outbox_purged);
    storage__metric(o, "plantroom_ledger_checking", "gauge",
                    "1 while PRAGMA quick_check of the ledger runs in the background (after "
                    "an unclean stop, or a damaged page met).",
                    f.checking);
    storage__metric(o, "plantroom_ledger_checks_total", "counter",
                    "Checks of the ledger's file started since start.", (double)f.checks_started);
    storage__metric(o, "plantroom_ledger_audit_break_row", "gauge",
                    "The newest damaged audit row the chain went on past (0: none this run; "
                    "plantroomctl audit verify).",
                    (double)f.audit_break);
    storage__metric(o, "plantroom_ledger_rollup_move_left", "gauge",
                    "Rollup rows still to move to the schema v6 tables (0: none).",
                    (double)f.move_left);
}
