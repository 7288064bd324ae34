/*
 * notify_lookup.c: the small lookups every part of the notifier shares
 * (notify_int.h; design in docs/hooks.md): a group or recipient by name in
 * the current config (names are looked up again after a reload), a
 * priority by name, a device's location from the host, a string of a JSON
 * object, whether a work order's status is final, whether a message is a
 * report, the configured bounds.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/notify/notify_int.h"

#include <string.h>

static const char *const notify__final[] = {"resolved", "closed", "cancelled"};

int notify__is_final(const char *status)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(notify__final); i++) {
        if (strcmp(status, notify__final[i]) == 0)
            return 1;
    }
    return 0;
}

int notify__group_idx(const gw_notify_t *n, const char *name)
{
    for (size_t i = 0; i < n->cfg->notify.ngroups; i++) {
        if (strcmp(n->cfg->notify.groups[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

int notify__recipient_idx(const gw_notify_t *n, const char *name)
{
    for (size_t i = 0; i < n->cfg->notify.nrecipients; i++) {
        if (strcmp(n->cfg->notify.recipients[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

gw_priority_t notify__prio(const char *name)
{
    gw_priority_t p = GW_PRIO_MEDIUM;
    gw_priority_parse(name, &p);
    return p;
}

void notify__location(gw_notify_t *n, const char *device, const char **b, const char **f,
                      const char **r)
{
    *b = *f = *r = "";
    if (n->env.device_location)
        n->env.device_location(n->env.arg, device, b, f, r);
}

const char *notify__jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int notify__is_report(const char *alert_json)
{
    static const char head[] = "{\"v\":1,\"kind\":\"report\"";

    return alert_json && strncmp(alert_json, head, sizeof(head) - 1) == 0;
}

int notify__ag_group(const gw_notify_t *n, notify__ag_t *g)
{
    if (g->gen != n->cfg_gen) {
        g->gi = notify__group_idx(n, g->r.group);
        g->gen = n->cfg_gen;
    }
    return g->gi;
}

/* ---- bounds (docs/configuration.md, "notify") --------------------------- */

int64_t notify__max_rows(const gw_notify_t *n)
{
    return n->cfg->notify.limits.max_rows > 0 ? n->cfg->notify.limits.max_rows : 10000;
}

size_t notify__max_pending(const gw_notify_t *n)
{
    return n->cfg->notify.limits.max_pending > 0 ? (size_t)n->cfg->notify.limits.max_pending : 1000;
}

size_t notify__queue_max(const gw_notify_t *n)
{
    return n->cfg->notify.limits.queue_max > 0 ? (size_t)n->cfg->notify.limits.queue_max : 10000;
}

int64_t notify__retention_ms(const gw_notify_t *n)
{
    int days = n->cfg->notify.limits.retention_days > 0 ? n->cfg->notify.limits.retention_days : 30;
    return days * GW_NOTIFY__DAY_MS;
}
