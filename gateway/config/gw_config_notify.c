/*
 * gw_config_notify.c: the "notify" object of the site config: the bounds of
 * the notifier's state in memory and in notify.db (docs/configuration.md,
 * "notify"; behaviour in docs/hooks.md, "Bounds"). The notification
 * settings themselves (hooks, recipients, groups, ...) are
 * gw_config_hooks.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_json.h"

void gw__cfg_notify_limits(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    static const char *const keys[] = {"retention_days", "max_rows", "queue_max", "max_pending",
                                       NULL};
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "notify");
    gw_notify_limits_t *l = &cfg->notify.limits;

    l->retention_days = 30;
    l->max_rows = 10000;
    l->queue_max = 10000;
    l->max_pending = 1000;
    if (!o)
        return;
    if (!cJSON_IsObject(o)) {
        gw_errlist_add(el, "notify", "must be an object");
        return;
    }
    gw_json_check_keys(o, "notify", keys, el);
    gw_json_int_to(o, "retention_days", "notify", &l->retention_days, l->retention_days, 1, 3650, 0,
                   el);
    gw_json_int_to(o, "max_rows", "notify", &l->max_rows, l->max_rows, 100, 10000000, 0, el);
    gw_json_int_to(o, "queue_max", "notify", &l->queue_max, l->queue_max, 10, 1000000, 0, el);
    gw_json_int_to(o, "max_pending", "notify", &l->max_pending, l->max_pending, 10, 100000, 0, el);
}
