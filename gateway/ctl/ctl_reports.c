/*
 * ctl_reports.c: plantroomctl's questions of a property manager: kpi (over
 * a period), report (the month's report, as the daemon writes it on the
 * 1st when report.dir is set: text, --json, or --html FILE, the page with
 * charts) and devices (status and last seen, from the ledger). The numbers
 * come from store/ledger_report*.c; this file parses options and prints.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/ctl/ctl.h"
#include "gateway/ctl/ctl_ledger.h"
#include "gateway/base/gw_types.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Parse --json, the global options and the value options names[] (into
 * vals[]); anything else is a usage error. Returns -1 to go on, or an exit
 * status. */
static int ctl_parse(ctl_global_t *g, int argc, char **argv, int *json, const char *const *names,
                     const char **vals)
{
    int i = 0, m;

    while (i < argc) {
        if (ctl_opt(argc, argv, &i, "--json", NULL) > 0) {
            *json = 1;
            continue;
        }
        m = 0;
        for (size_t k = 0; names[k] && m == 0; k++)
            m = ctl_opt(argc, argv, &i, names[k], &vals[k]);
        if (m == 0)
            m = ctl_global_opt(g, argc, argv, &i);
        if (m < 0)
            return CTL_EXIT_USAGE;
        if (m > 0)
            continue;
        return ctl_usage_error(argv[i][0] == '-' ? "unknown option %s" : "unexpected '%s'",
                               argv[i]);
    }
    return -1;
}

/* Print JSON text, or render it with to_text. */
static int ctl_emit(FILE *f, const char *json_text, int json, char *(*to_text)(const char *))
{
    if (json) {
        fprintf(f, "%s\n", json_text);
    } else {
        char *text = to_text(json_text);
        if (!text) {
            ctl_error("no_memory", "out of memory");
            return -1;
        }
        fputs(text, f);
        free(text);
    }
    return 0;
}

static int ctl_kpi(ctl_global_t *g, int argc, char **argv)
{
    static const char *const names[] = {"--from", "--to", NULL};
    const char *vals[2] = {NULL, NULL};
    int64_t now = ctl_now_ms(), from = now - 30LL * 86400000, to = now + 1;
    ledger_t *lg = NULL;
    char err[512];
    char *json_text = NULL;
    int json = 0, rc;

    rc = ctl_parse(g, argc, argv, &json, names, vals);
    if (rc >= 0)
        return rc;
    if (vals[0] && ctl_parse_time(vals[0], &from) != 0)
        return ctl_usage_error("bad --from '%s' (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z], Nd or Nh)",
                               vals[0]);
    if (vals[1] && ctl_parse_time(vals[1], &to) != 0)
        return ctl_usage_error("bad --to '%s' (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z], Nd or Nh)",
                               vals[1]);
    if (to <= from)
        return ctl_usage_error("%s", "--to must be after --from");
    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    rc = ledger_kpi_json(lg, from, to, now, &json_text, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        ctl_error(ctl_code_for(rc), "%s", err);
        return ctl_exit_for(rc);
    }
    rc = ctl_emit(stdout, json_text, json, ledger_kpi_text);
    free(json_text);
    return rc == 0 && fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

/* The report as an HTML page in path. Returns an exit status. */
static int ctl_report_html(const char *json_text, const char *path)
{
    char *html = ledger_report_html(json_text);
    int rc;

    if (!html) {
        fprintf(stderr, "plantroomctl: out of memory\n");
        return CTL_EXIT_FAIL;
    }
    rc = ctl_write_file(path, html);
    free(html);
    return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

static int ctl_report(ctl_global_t *g, int argc, char **argv)
{
    static const char *const names[] = {"--month", "--out", "--html", NULL};
    const char *vals[3] = {NULL, NULL, NULL};
    ledger_t *lg = NULL;
    char err[512];
    char *json_text = NULL;
    FILE *f;
    int json = 0, rc;

    rc = ctl_parse(g, argc, argv, &json, names, vals);
    if (rc >= 0)
        return rc;
    if (!vals[0])
        return ctl_usage_error("%s", "report needs --month YYYY-MM");
    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    rc = ledger_report_json(lg, vals[0], ctl_now_ms(), &json_text, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        if (rc == GW_EINVAL)
            return ctl_usage_error("%s", err);
        ctl_error(ctl_code_for(rc), "%s", err);
        return CTL_EXIT_FAIL;
    }
    if (vals[2]) {
        rc = ctl_report_html(json_text, vals[2]);
        if (rc != CTL_EXIT_OK || (!json && !vals[1])) {
            free(json_text);
            return rc; /* the page only, unless --json or --out asks for more */
        }
    }
    f = ctl_open_out(vals[1]);
    if (!f) {
        free(json_text);
        return CTL_EXIT_FAIL;
    }
    rc = ctl_emit(f, json_text, json, ledger_report_text);
    free(json_text);
    if (ctl_close_out(f, vals[1]) != 0 || rc < 0)
        return CTL_EXIT_FAIL;
    return CTL_EXIT_OK;
}

static void ctl_local(const cJSON *v, char *buf, size_t len)
{
    struct tm tm;
    time_t t;

    snprintf(buf, len, "-");
    if (!cJSON_IsString(v))
        return;
    memset(&tm, 0, sizeof(tm));
    if (!strptime(v->valuestring, "%Y-%m-%dT%H:%M:%S", &tm))
        return;
    t = timegm(&tm);
    if (localtime_r(&t, &tm))
        strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int ctl_devices(ctl_global_t *g, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    const char *vals[1] = {NULL};
    ledger_t *lg = NULL;
    char err[512];
    char *json_text = NULL;
    cJSON *arr, *it;
    int json = 0, rc;

    rc = ctl_parse(g, argc, argv, &json, names, vals);
    if (rc >= 0)
        return rc;
    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    rc = ledger_devices_json(lg, &json_text, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        ctl_error(ctl_code_for(rc), "%s", err);
        return CTL_EXIT_FAIL;
    }
    if (json) {
        printf("%s\n", json_text);
        free(json_text);
        return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    }
    arr = cJSON_Parse(json_text);
    free(json_text);
    if (cJSON_GetArraySize(arr) == 0)
        printf("no devices recorded yet\n");
    else
        printf("%-20s %-8s %-19s  %-19s  %6s\n", "DEVICE", "STATUS", "SINCE", "LAST SEEN",
               "POINTS");
    cJSON_ArrayForEach(it, arr)
    {
        char since[32], seen[32];
        ctl_local(cJSON_GetObjectItem(it, "status_since"), since, sizeof(since));
        ctl_local(cJSON_GetObjectItem(it, "last_seen"), seen, sizeof(seen));
        printf("%-20s %-8s %-19s  %-19s  %6.0f\n",
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")),
               cJSON_GetStringValue(cJSON_GetObjectItem(it, "status")), since, seen,
               cJSON_GetNumberValue(cJSON_GetObjectItem(it, "points")));
    }
    cJSON_Delete(arr);
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_cmds_reports[] = {
    {"kpi", NULL, ctl_kpi, "[--from T] [--to T] [--json]",
     "work-order KPIs of orders opened in the period (default: the last 30 days): opened, "
     "closed, on-time rate against the SLA (target 98 %), mean time to acknowledge and to "
     "resolve, by category and location"},
    {"report", NULL, ctl_report, "--month YYYY-MM [--json] [--out FILE] [--html FILE]",
     "the month's maintenance report: KPIs, late orders, repeat offenders, availability, "
     "energy per meter, predictions; --html FILE writes it as a page with charts"},
    {"devices", NULL, ctl_devices, "[--json]",
     "devices as the ledger saw them: status (online/offline), since when, last reading"},
    {NULL, NULL, NULL, NULL, NULL},
};
