/*
 * gw_config_rules.c: the "rules" section of the site config: rule kind,
 * parameters and work-order metadata (gw_config.h; keys in
 * docs/configuration.md).
 */
#include "gateway/gw_config_int.h"
#include "gateway/gw_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const rule_keys[] = {"name",     "device",     "point",  "kind",      "above",
                                        "below",    "hysteresis", "for_ms", "update_ms", "priority",
                                        "category", "work_type",  "title",  NULL};

void gw__cfg_rule(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    char p[256], kind[32], prio[16], err[160];
    double above, below;
    int has_above, has_below;
    long long v;

    gw_json_check_keys(obj, path, rule_keys, el);
    gw_json_str(obj, "name", path, r->name, sizeof(r->name), NULL, 1, el);
    gw__cfg_check_name(r->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    gw_json_str(obj, "device", path, r->device, sizeof(r->device), NULL, 1, el);
    gw_json_str(obj, "point", path, r->point, sizeof(r->point), NULL, 1, el);
    gw_json_str(obj, "kind", path, kind, sizeof(kind), "threshold", 0, el);
    if (strcmp(kind, "threshold") != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "kind"),
                       "must be \"threshold\", got \"%s\"", kind);
    r->kind = RULE_THRESHOLD;
    has_above = gw_json_num(obj, "above", path, &above, 0, 0, el) > 0;
    has_below = gw_json_num(obj, "below", path, &below, 0, 0, el) > 0;
    if (has_above == has_below)
        gw_errlist_add(el, path, "a threshold rule needs exactly one of \"above\" or \"below\"");
    r->threshold.above = has_above;
    r->threshold.limit = has_above ? above : below;
    gw_json_num(obj, "hysteresis", path, &r->threshold.hysteresis, 0, 0, el);
    gw_json_int(obj, "for_ms", path, &v, 0, 0, 30LL * 86400 * 1000, 0, el);
    r->threshold.for_ms = v;
    gw_json_int(obj, "update_ms", path, &v, 60000, 0, 30LL * 86400 * 1000, 0, el);
    r->threshold.update_ms = v;
    if (rule_threshold_validate(&r->threshold, err, sizeof(err)) != 0)
        gw_errlist_add(el, path, "%s", err);
    if (gw_json_str(obj, "priority", path, prio, sizeof(prio), "medium", 0, el) >= 0 &&
        gw_priority_parse(prio, &r->priority) != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "priority"),
                       "must be one of critical, high, medium, low, got \"%s\"", prio);
    gw_json_str(obj, "category", path, r->category, sizeof(r->category), "mechanical", 0, el);
    gw_json_str(obj, "work_type", path, r->work_type, sizeof(r->work_type), "corrective", 0, el);
    if (strcmp(r->work_type, "corrective") && strcmp(r->work_type, "preventive") &&
        strcmp(r->work_type, "emergency"))
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "work_type"),
                       "must be one of corrective, preventive, emergency, got \"%s\"",
                       r->work_type);
    gw_json_str(obj, "title", path, r->title, sizeof(r->title), "", 0, el);
    if (!r->title[0])
        snprintf(r->title, sizeof(r->title), "%s: %s %s %g", r->device, r->point,
                 has_above ? "above" : "below", r->threshold.limit);
}
