/*
 * gw_config_devices.c: the "buses" and "devices" sections of the site
 * config: bus endpoints and timing, devices with their profile and point
 * overrides (gw_config.h; keys in docs/configuration.md).
 */
#include "gateway/gw_config_int.h"
#include "gateway/gw_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const bus_keys[] = {
    "name", "type", "host", "port", "timeout_ms", "pause_ms", "max_gap", "reconnect_max_ms", NULL};

void gw__cfg_bus(gw_bus_cfg_t *b, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    long long v;
    char p[256];

    gw_json_check_keys(obj, path, bus_keys, el);
    gw_json_str(obj, "name", path, b->name, sizeof(b->name), NULL, 1, el);
    gw__cfg_check_name(b->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    gw_json_str(obj, "type", path, b->type, sizeof(b->type), "tcp", 0, el);
    if (strcmp(b->type, "tcp") != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "type"),
                       "must be \"tcp\" (serial RTU buses are not supported yet), got \"%s\"",
                       b->type);
    gw_json_str(obj, "host", path, b->host, sizeof(b->host), NULL, 1, el);
    gw_json_int(obj, "port", path, &v, 502, 1, 65535, 0, el);
    b->port = (int)v;
    gw_json_int(obj, "timeout_ms", path, &v, 1000, 10, 60000, 0, el);
    b->timeout_ms = (int)v;
    gw_json_int(obj, "pause_ms", path, &v, 0, 0, 10000, 0, el);
    b->pause_ms = (int)v;
    gw_json_int(obj, "max_gap", path, &v, 8, 0, 124, 0, el);
    b->max_gap = (int)v;
    gw_json_int(obj, "reconnect_max_ms", path, &v, 30000, 100, 600000, 0, el);
    b->reconnect_max_ms = (int)v;
}

/* The profile named by a device: a path to a .json file, or a name looked
 * up in profiles_dir. */
static void cfg__profile_path(const gw_config_t *cfg, const char *name, char *dst, size_t len)
{
    if (strchr(name, '/') || strstr(name, ".json"))
        gw__cfg_resolve(dst, len, cfg->config_dir, name);
    else
        snprintf(dst, len, "%s/%s.json", cfg->profiles_dir, name);
}

/* Apply a device's "points": override a profile point by name, or add one. */
static void cfg__device_points(gw_device_cfg_t *d, const cJSON *pts, const char *path,
                               drv_order_t order, gw_errlist_t *el)
{
    const cJSON *it;
    int i = 0;
    char p[256], ip[300];
    size_t n = d->npoints + (size_t)cJSON_GetArraySize(pts);
    drv_point_t *grown = realloc(d->points, (n ? n : 1) * sizeof(*grown));

    if (!grown) {
        gw_errlist_add(el, path, "out of memory");
        return;
    }
    d->points = grown;
    gw_json_path_key(p, sizeof(p), path, "points");
    cJSON_ArrayForEach(it, pts)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
        int idx = cJSON_IsString(nm) ? gw_device_point_index(d, nm->valuestring) : -1;
        gw_json_path_idx(ip, sizeof(ip), p, i++);
        if (idx >= 0) {
            drv_point_parse(it, ip, order, 1, &d->points[idx], el);
        } else if (drv_point_parse(it, ip, order, 0, &d->points[d->npoints], el) == 0) {
            d->npoints++;
        }
    }
}

static const char *const device_keys[] = {"name",          "bus",         "unit_id",  "profile",
                                          "points",        "interval_ms", "location", "byte_order",
                                          "offline_after", NULL};

void gw__cfg_device(gw_config_t *cfg, gw_device_cfg_t *d, const cJSON *obj, const char *path,
                    gw_errlist_t *el)
{
    static const char *const loc_keys[] = {"building", "floor", "room", NULL};
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(obj, "points");
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(obj, "location");
    drv_order_t order = DRV_ORDER_ABCD;
    long long v;
    char p[256], lp[256];

    gw_json_check_keys(obj, path, device_keys, el);
    gw_json_str(obj, "name", path, d->name, sizeof(d->name), NULL, 1, el);
    gw__cfg_check_name(d->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    gw_json_str(obj, "bus", path, d->bus, sizeof(d->bus), NULL, 1, el);
    gw_json_int(obj, "unit_id", path, &v, 1, 0, 247, 0, el);
    d->unit_id = (int)v;
    gw_json_int(obj, "interval_ms", path, &v, 1000, 50, 3600000, 0, el);
    d->interval_ms = (int)v;
    gw_json_int(obj, "offline_after", path, &v, 3, 1, 100, 0, el);
    d->offline_after = (int)v;
    if (loc && cJSON_IsObject(loc)) {
        gw_json_path_key(lp, sizeof(lp), path, "location");
        gw_json_check_keys(loc, lp, loc_keys, el);
        gw_json_str(loc, "building", lp, d->building, sizeof(d->building), "", 0, el);
        gw_json_str(loc, "floor", lp, d->floor, sizeof(d->floor), "", 0, el);
        gw_json_str(loc, "room", lp, d->room, sizeof(d->room), "", 0, el);
    } else if (loc) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "location"), "must be an object");
    }
    if (gw_json_str(obj, "profile", path, d->profile, sizeof(d->profile), "", 0, el) > 0) {
        char file[PATH_MAX];
        drv_profile_t *prof = NULL;
        size_t before = el->n;
        cfg__profile_path(cfg, d->profile, file, sizeof(file));
        if (drv_profile_load(file, &prof, el) == 0) {
            order = prof->order;
            d->points = prof->points; /* take the array */
            d->npoints = prof->npoints;
            prof->points = NULL;
            drv_profile_free(prof);
        } else {
            /* name the device key that led to the bad profile */
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "profile"),
                           "profile \"%s\" could not be loaded (%zu errors above)", d->profile,
                           el->n - before);
        }
    }
    if (pts && !cJSON_IsArray(pts))
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "points"), "must be an array");
    else if (pts)
        cfg__device_points(d, pts, path, order, el);
    if (d->npoints == 0 && d->name[0])
        gw_errlist_add(el, path, "device \"%s\" has no points: give a \"profile\" or \"points\"",
                       d->name);
}
