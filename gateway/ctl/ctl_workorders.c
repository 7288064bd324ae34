/*
 * ctl_workorders.c: plantroomctl's work-order commands (the table
 * ctl_cmds_workorders) and the ones that read: list (a table that fits a
 * phone-width terminal, or --json; printed by ctl_wo_table.c), show (text,
 * --json, or --svg FILE: a predictive order's trend chart), export (CSV,
 * JSON). The changes people make (ack, assign, start, resolve, close,
 * cancel, note) are in ctl_wo_change.c.
 *
 * Read-only verbs open the ledger with LEDGER_OPEN_READONLY, so they work
 * while plantroomd runs. Bad input (unknown status, priority or work order)
 * exits 2 with a message naming it.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/ctl/ctl_wo.h"
#include "gateway/ctl/ctl_ledger.h"
#include "gateway/base/gw_types.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- list and export ---------------------------------------------------- */

/* Options of list and export. */
typedef struct ctl_list_opts {
    ledger_wo_filter_t f;
    int json;
    const char *format; /* export: csv or json */
    const char *out;    /* export: --out FILE */
} ctl_list_opts_t;

/* Parse list/export options. Returns -1 to go on, else an exit status. */
static int ctl_list_parse(ctl_global_t *g, int argc, char **argv, const char *verb,
                          ctl_list_opts_t *o)
{
    const char *limit = NULL, *since = NULL;
    int i = 0, m;

    while (i < argc) {
        if (ctl_opt(argc, argv, &i, "--json", NULL) > 0) {
            o->json = 1;
            continue;
        }
        if (ctl_opt(argc, argv, &i, "--active", NULL) > 0) {
            o->f.active_only = 1;
            continue;
        }
        if ((m = ctl_opt(argc, argv, &i, "--status", &o->f.status)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--device", &o->f.device)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--priority", &o->f.priority)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--category", &o->f.category)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--since", &since)) == 0 &&
            (m = ctl_opt(argc, argv, &i, "--limit", &limit)) == 0 &&
            (m = strcmp(verb, "export") == 0 ? ctl_opt(argc, argv, &i, "--format", &o->format)
                                             : 0) == 0 &&
            (m = strcmp(verb, "export") == 0 ? ctl_opt(argc, argv, &i, "--out", &o->out) : 0) ==
                0 &&
            (m = ctl_global_opt(g, argc, argv, &i)) == 0) {
            return ctl_usage_error(argv[i][0] == '-' ? "unknown option %s" : "unexpected '%s'",
                                   argv[i]);
        }
        if (m < 0)
            return CTL_EXIT_USAGE;
    }
    if (o->f.status && !ledger_status_valid(o->f.status))
        return ctl_usage_error("unknown status '%s' (open, acknowledged, in_progress, "
                               "resolved, closed, cancelled)",
                               o->f.status);
    if (o->f.priority) {
        gw_priority_t p;
        if (gw_priority_parse(o->f.priority, &p) != 0)
            return ctl_usage_error("unknown priority '%s' (critical, high, medium, low)",
                                   o->f.priority);
    }
    if (since && ctl_parse_time(since, &o->f.since_ms) != 0)
        return ctl_usage_error("bad --since '%s' (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z], Nd or Nh)",
                               since);
    if (limit) {
        char *end;
        long v;
        errno = 0;
        v = strtol(limit, &end, 10);
        if (errno || end == limit || *end || v < 1 || v > INT_MAX)
            return ctl_usage_error("bad --limit '%s' (a whole number, 1 or more)", limit);
        o->f.limit = (int)v;
    }
    if (o->format && strcmp(o->format, "csv") != 0 && strcmp(o->format, "json") != 0)
        return ctl_usage_error("unknown --format '%s' (csv or json)", o->format);
    return -1;
}

/* Read the work orders the options select. Returns 0 or an exit status. */
static int ctl_list_read(ctl_global_t *g, const ctl_list_opts_t *o, ledger_wo_t **wo, size_t *n)
{
    ledger_t *lg = NULL;
    char err[512];
    int rc;

    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    rc = ledger_wo_list(lg, &o->f, wo, n, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        ctl_error(ctl_code_for(rc), "%s", err);
        return CTL_EXIT_FAIL;
    }
    return 0;
}

static int ctl_wo_list(ctl_global_t *g, int argc, char **argv)
{
    ctl_list_opts_t o = {0};
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    int rc;

    rc = ctl_list_parse(g, argc, argv, "list", &o);
    if (rc >= 0)
        return rc;
    rc = ctl_list_read(g, &o, &wo, &n);
    if (rc)
        return rc;
    if (o.json)
        rc = ctl__wo_print_json(wo, n);
    else if (n == 0)
        printf("no work orders\n");
    else
        ctl__wo_print_table(wo, n);
    ledger_wo_free_array(wo, n);
    if (fflush(stdout) != 0 || rc < 0)
        return CTL_EXIT_FAIL;
    return CTL_EXIT_OK;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break; a leading = + - @ gets a ' so that spreadsheets do not run it. */
static void ctl_csv_field(FILE *f, const char *s, int last)
{
    int formula;

    if (!s)
        s = "";
    formula = s[0] && strchr("=+-@", s[0]) != NULL;
    if (strpbrk(s, ",\"\r\n") || formula) {
        fputc('"', f);
        if (formula)
            fputc('\'', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

static void ctl_csv_time(FILE *f, int64_t ms, int last)
{
    char buf[32] = "";
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms && gmtime_r(&t, &tm))
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    ctl_csv_field(f, buf, last);
}

static void ctl_export_csv(FILE *f, const ledger_wo_t *wo, size_t n)
{
    fputs("id,number,site,status,priority,category,work_type,device,rule,title,building,floor,"
          "room,assignee,occurrences,opened_at,due_at,acknowledged_at,started_at,resolved_at,"
          "closed_at,last_seen_at,on_time\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const ledger_wo_t *w = &wo[i];
        char num[32], occ[32];
        const char *on_time = "";
        snprintf(num, sizeof(num), "%lld", (long long)w->number);
        snprintf(occ, sizeof(occ), "%lld", (long long)w->occurrences);
        if (w->due_at && w->resolved_at)
            on_time = w->resolved_at <= w->due_at ? "yes" : "no";
        ctl_csv_field(f, w->id, 0);
        ctl_csv_field(f, num, 0);
        ctl_csv_field(f, w->site, 0);
        ctl_csv_field(f, w->status, 0);
        ctl_csv_field(f, w->priority, 0);
        ctl_csv_field(f, w->category, 0);
        ctl_csv_field(f, w->work_type, 0);
        ctl_csv_field(f, w->device, 0);
        ctl_csv_field(f, w->rule, 0);
        ctl_csv_field(f, w->title, 0);
        ctl_csv_field(f, w->building, 0);
        ctl_csv_field(f, w->floor, 0);
        ctl_csv_field(f, w->room, 0);
        ctl_csv_field(f, w->assignee, 0);
        ctl_csv_field(f, occ, 0);
        ctl_csv_time(f, w->opened_at, 0);
        ctl_csv_time(f, w->due_at, 0);
        ctl_csv_time(f, w->acknowledged_at, 0);
        ctl_csv_time(f, w->started_at, 0);
        ctl_csv_time(f, w->resolved_at, 0);
        ctl_csv_time(f, w->closed_at, 0);
        ctl_csv_time(f, w->last_seen_at, 0);
        ctl_csv_field(f, on_time, 1);
    }
}

static int ctl_wo_export(ctl_global_t *g, int argc, char **argv)
{
    ctl_list_opts_t o = {0};
    ledger_wo_t *wo = NULL;
    size_t n = 0;
    FILE *f;
    int rc;

    rc = ctl_list_parse(g, argc, argv, "export", &o);
    if (rc >= 0)
        return rc;
    if (!o.format)
        o.format = o.json ? "json" : "csv";
    rc = ctl_list_read(g, &o, &wo, &n);
    if (rc)
        return rc;
    f = ctl_open_out(o.out);
    if (!f) {
        ledger_wo_free_array(wo, n);
        return CTL_EXIT_FAIL;
    }
    if (strcmp(o.format, "csv") == 0) {
        ctl_export_csv(f, wo, n);
    } else {
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
            char *one = ledger_wo_to_json(&wo[i]);
            fprintf(f, "%s\n  %s", i ? "," : "", one ? one : "null");
            free(one);
        }
        fputs(n ? "\n]\n" : "]\n", f);
    }
    ledger_wo_free_array(wo, n);
    return ctl_close_out(f, o.out) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

/* ---- show and changes --------------------------------------------------- */

static void ctl_show_time(const char *label, const cJSON *v)
{
    if (cJSON_IsString(v))
        printf("  %-16s %s\n", label, v->valuestring);
}

static void ctl_show_text(const char *json)
{
    cJSON *o = cJSON_Parse(json);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "work_order");
    const cJSON *it;
    static const char *const fields[] = {"id",        "status", "priority", "category",
                                         "work_type", "device", "rule",     "building",
                                         "floor",     "room",   "assignee", "occurrences"};
    static const char *const times[] = {"opened_at",    "due_at",      "acknowledged_at",
                                        "started_at",   "resolved_at", "closed_at",
                                        "last_seen_at", "cleared_at"};

    if (!o)
        return;
    printf("Work order %.0f: %s\n", cJSON_GetNumberValue(cJSON_GetObjectItem(w, "number")),
           cJSON_GetStringValue(cJSON_GetObjectItem(w, "title")));
    for (size_t i = 0; i < GW_ARRAY_SIZE(fields); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(w, fields[i]);
        if (cJSON_IsString(v))
            printf("  %-16s %s\n", fields[i], v->valuestring);
        else if (cJSON_IsNumber(v))
            printf("  %-16s %.0f\n", fields[i], v->valuedouble);
    }
    for (size_t i = 0; i < GW_ARRAY_SIZE(times); i++)
        ctl_show_time(times[i], cJSON_GetObjectItemCaseSensitive(w, times[i]));
    it = cJSON_GetObjectItemCaseSensitive(w, "evidence");
    if (cJSON_IsObject(it)) {
        char *ev = cJSON_PrintUnformatted(it);
        printf("  %-16s %s\n", "evidence", ev ? ev : "");
        free(ev);
    }
    printf("History\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "audit"))
    {
        const char *from = cJSON_GetStringValue(cJSON_GetObjectItem(it, "from"));
        const char *to = cJSON_GetStringValue(cJSON_GetObjectItem(it, "to"));
        const char *detail = cJSON_GetStringValue(cJSON_GetObjectItem(it, "detail"));
        printf("  %s  %-12s by %s (%s)", cJSON_GetStringValue(cJSON_GetObjectItem(it, "ts")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "action")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "actor")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "channel")));
        if (from && to && strcmp(from, to) != 0)
            printf(" %s -> %s", from, to);
        if (detail && detail[0] != '{')
            printf(": %s", detail);
        putchar('\n');
    }
    printf("Notes\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "notes"))
        printf("  %s  %s: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(it, "ts")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "actor")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "text")));
    cJSON_Delete(o);
}

/* The trend chart of a predictive order into path. Returns an exit status. */
static int ctl_wo_svg(ledger_t *lg, const char *ref, const char *path)
{
    char err[512];
    char *json_text = NULL, *svg;
    int rc;

    rc = ledger_trend_json(lg, ref, ctl_now_ms(), &json_text, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "plantroomctl: %s\n", err);
        return ctl_exit_for(rc);
    }
    svg = ledger_trend_svg(json_text);
    free(json_text);
    if (!svg) {
        fprintf(stderr, "plantroomctl: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    rc = ctl_write_file(path, svg);
    free(svg);
    return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

static int ctl_wo_show(ctl_global_t *g, int argc, char **argv)
{
    const char *ref = NULL, *svg = NULL;
    ledger_t *lg = NULL;
    char err[512];
    char *json_text = NULL;
    int json = 0, i = 0, m, rc;

    while (i < argc) {
        if (ctl_opt(argc, argv, &i, "--json", NULL) > 0) {
            json = 1;
            continue;
        }
        if ((m = ctl_opt(argc, argv, &i, "--svg", &svg)) != 0 ||
            (m = ctl_global_opt(g, argc, argv, &i)) != 0) {
            if (m < 0)
                return CTL_EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-' || ref)
            return ctl_usage_error(argv[i][0] == '-' ? "unknown option %s" : "unexpected '%s'",
                                   argv[i]);
        ref = argv[i++];
    }
    if (!ref)
        return ctl_usage_error("%s", "show needs a work order (number or id)");
    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    if (svg) {
        rc = ctl_wo_svg(lg, ref, svg);
        ledger_close(lg);
        return rc;
    }
    rc = ledger_wo_show_json(lg, ref, &json_text, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        ctl_error(ctl_code_for(rc), "%s", err);
        return ctl_exit_for(rc);
    }
    if (json)
        printf("%s\n", json_text);
    else
        ctl_show_text(json_text);
    free(json_text);
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

#define CTL_FILTERS                                                                                \
    "[--status S] [--device D] [--priority P] [--category C] [--since T] [--active] [--limit N]"

const ctl_command_t ctl_cmds_workorders[] = {
    {"workorders", "list", ctl_wo_list, "[--json] " CTL_FILTERS,
     "list work orders, newest first (T: YYYY-MM-DD[THH:MM[:SS]][Z], or 7d / 12h ago)"},
    {"workorders", "show", ctl_wo_show, "NUMBER|ID [--json] [--svg FILE]",
     "one work order with its evidence, history (audit trail) and notes; --svg FILE: the chart "
     "of a predictive order (daily level, fitted trend, limit, predicted crossing)"},
    {"workorders", "export", ctl_wo_export,
     "[--format csv|json] [--json] [--out FILE] " CTL_FILTERS,
     "export work orders as CSV (default) or JSON"},
    {"workorders", "ack", ctl__wo_ack, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "acknowledge an open work order"},
    {"workorders", "assign", ctl__wo_assign, "NUMBER|ID ASSIGNEE [--by WHO] [--json]",
     "set who does the work"},
    {"workorders", "start", ctl__wo_start, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "work started on an acknowledged order (in_progress)"},
    {"workorders", "resolve", ctl__wo_resolve, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "the work is done (resolved)"},
    {"workorders", "close", ctl__wo_close, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "completion confirmed: close a resolved order (final)"},
    {"workorders", "cancel", ctl__wo_cancel, "NUMBER|ID [--by WHO] [--comment TEXT] [--json]",
     "cancel an open or acknowledged order (final; not after work started)"},
    {"workorders", "note", ctl__wo_note, "NUMBER|ID TEXT [--by WHO] [--json]",
     "add a note to a work order"},
    {NULL, NULL, NULL, NULL, NULL},
};
