/*
 * gw_config_ledger.c: the config of what the ledger does with work orders
 * and history (docs/configuration.md, "ledger" and "report"): SLA per
 * priority (the due time of a new order), routing rules (the assignee of a
 * new order by area and skill, as property managers dispatch), retention of
 * the audit trail and the rollups, and the directory of the monthly report.
 * The result is a ledger_policy_t that the daemon hands to the ledger thread
 * at start and on reload.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_json.h"

#include <stdio.h>
#include <string.h>

static void cfg__sla(ledger_policy_t *p, const cJSON *lg, gw_errlist_t *el)
{
    static const char *const keys[] = {"critical", "high", "medium", "low", NULL};
    const cJSON *sla = cJSON_GetObjectItemCaseSensitive(lg, "sla_minutes");
    long long v;

    if (!sla)
        return;
    if (!cJSON_IsObject(sla)) {
        gw_errlist_add(el, "ledger.sla_minutes", "must be an object");
        return;
    }
    gw_json_check_keys(sla, "ledger.sla_minutes", keys, el);
    for (int prio = 0; prio < 4; prio++) {
        long long def = p->sla_ms[prio] / 60000;
        gw_json_int(sla, keys[prio], "ledger.sla_minutes", &v, def, 0, 525600, 0, el);
        p->sla_ms[prio] = (int64_t)v * 60000;
    }
}

static void cfg__route(ledger_route_t *r, const cJSON *o, const char *path, gw_errlist_t *el)
{
    static const char *const keys[] = {"building", "floor", "category", "assignee", NULL};

    gw_json_check_keys(o, path, keys, el);
    gw_json_str(o, "building", path, r->building, sizeof(r->building), "", 0, el);
    gw_json_str(o, "floor", path, r->floor, sizeof(r->floor), "", 0, el);
    gw_json_str(o, "category", path, r->category, sizeof(r->category), "", 0, el);
    gw_json_str(o, "assignee", path, r->assignee, sizeof(r->assignee), NULL, 1, el);
}

static void cfg__routing(ledger_policy_t *p, const cJSON *lg, gw_errlist_t *el)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(lg, "routing");
    const cJSON *it;
    char path[64];
    int i = 0;

    if (!arr)
        return;
    if (!cJSON_IsArray(arr)) {
        gw_errlist_add(el, "ledger.routing", "must be an array");
        return;
    }
    if (cJSON_GetArraySize(arr) > LEDGER_ROUTES_MAX) {
        gw_errlist_add(el, "ledger.routing", "at most %d rules, got %d", LEDGER_ROUTES_MAX,
                       cJSON_GetArraySize(arr));
        return;
    }
    cJSON_ArrayForEach(it, arr)
    {
        gw_json_path_idx(path, sizeof(path), "ledger.routing", i++);
        if (!cJSON_IsObject(it)) {
            gw_errlist_add(el, path, "must be an object");
            continue;
        }
        cfg__route(&p->routes[p->nroutes++], it, path, el);
    }
}

/* What the ledger does while its disk fails, and how long undelivered
 * events are kept (docs/configuration.md, "ledger"; operations.md, "When
 * storage fails"). */
static void cfg__storage(ledger_policy_t *p, const cJSON *lg, gw_errlist_t *el)
{
    gw_json_int_to(lg, "queue_max_ops", "ledger", &p->queue_max_ops, p->queue_max_ops, 100, 1000000,
                   0, el);
    gw_json_int_to(lg, "outbox_retention_days", "ledger", &p->outbox_retention_days,
                   p->outbox_retention_days, 1, 3650, 0, el);
}

void gw__cfg_ledger(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    static const char *const report_keys[] = {"dir", NULL};
    ledger_policy_t *p = &cfg->ledger_policy;
    const cJSON *lg = cJSON_GetObjectItemCaseSensitive(root, "ledger");
    const cJSON *report = cJSON_GetObjectItemCaseSensitive(root, "report");
    char dir[PATH_MAX];

    ledger_policy_default(p);
    /* the report's title and event name the site (parsed before this) */
    snprintf(p->site_id, sizeof(p->site_id), "%s", cfg->site_id);
    snprintf(p->site_name, sizeof(p->site_name), "%s", cfg->site_name);
    if (!cJSON_IsObject(lg))
        lg = NULL; /* gw_config.c reports a ledger that is not an object */
    cfg__sla(p, lg, el);
    cfg__routing(p, lg, el);
    gw_json_int_to(lg, "audit_retention_days", "ledger", &p->audit_retention_days,
                   p->audit_retention_days, 1, 36500, 0, el);
    gw_json_int_to(lg, "rollup_1m_retention_days", "ledger", &p->rollup_1m_retention_days,
                   p->rollup_1m_retention_days, 1, 366, 0, el);
    gw_json_int_to(lg, "rollup_1h_retention_days", "ledger", &p->rollup_1h_retention_days,
                   p->rollup_1h_retention_days, 1, 36500, 0, el);
    cfg__storage(p, lg, el);

    if (report && !cJSON_IsObject(report)) {
        gw_errlist_add(el, "report", "must be an object");
        return;
    }
    if (!report)
        return;
    gw_json_check_keys(report, "report", report_keys, el);
    if (gw_json_str(report, "dir", "report", dir, sizeof(dir), "", 0, el) > 0 && dir[0])
        gw__cfg_resolve(p->report_dir, sizeof(p->report_dir), cfg->state_dir, dir);
}
