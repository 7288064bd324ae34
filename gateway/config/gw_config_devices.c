/*
 * gw_config_devices.c: the "buses" and "devices" sections of the site
 * config: bus endpoints and timing, devices with their profile and point
 * overrides (gw_config.h; keys in docs/configuration.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const bus_keys[] = {"name",
                                       "type",
                                       "host",
                                       "port",
                                       "timeout_ms",
                                       "pause_ms",
                                       "max_gap",
                                       "reconnect_max_ms",
                                       "device",
                                       "baud",
                                       "parity",
                                       "data_bits",
                                       "stop_bits",
                                       "rs485",
                                       "connect_pause_ms",
                                       NULL};

/* The serial keys of an "rtu" bus. */
static void cfg__bus_serial(gw_bus_cfg_t *b, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    char parity[8], p[256];

    gw_json_str(obj, "device", path, b->device, sizeof(b->device), NULL, 1, el);
    gw_json_int_to(obj, "baud", path, &b->baud, 9600, 300, 4000000, 0, el);
    gw_json_str(obj, "parity", path, parity, sizeof(parity), "none", 0, el);
    if (strcmp(parity, "none") == 0 || strcmp(parity, "N") == 0)
        b->parity = 'N';
    else if (strcmp(parity, "even") == 0 || strcmp(parity, "E") == 0)
        b->parity = 'E';
    else if (strcmp(parity, "odd") == 0 || strcmp(parity, "O") == 0)
        b->parity = 'O';
    else
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "parity"),
                       "must be one of none, even, odd, got \"%s\"", parity);
    gw_json_int_to(obj, "data_bits", path, &b->data_bits, 8, 5, 8, 0, el);
    gw_json_int_to(obj, "stop_bits", path, &b->stop_bits, 1, 1, 2, 0, el);
    gw_json_bool(obj, "rs485", path, &b->rs485, 0, el);
}

void gw__cfg_bus(gw_bus_cfg_t *b, const cJSON *obj, const char *path, gw_errlist_t *el)
{
    char p[256];

    gw_json_check_keys(obj, path, bus_keys, el);
    gw_json_str(obj, "name", path, b->name, sizeof(b->name), NULL, 1, el);
    gw__cfg_check_name(b->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    gw_json_str(obj, "type", path, b->type, sizeof(b->type), "tcp", 0, el);
    if (strcmp(b->type, "tcp") == 0 || strcmp(b->type, "rtu-tcp") == 0) {
        gw_json_str(obj, "host", path, b->host, sizeof(b->host), NULL, 1, el);
        gw_json_int_to(obj, "port", path, &b->port, 502, 1, 65535, 0, el);
        if (cJSON_GetObjectItemCaseSensitive(obj, "device"))
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "device"),
                           "is for \"rtu\" buses; a \"%s\" bus takes host and port", b->type);
    } else if (strcmp(b->type, "rtu") == 0) {
        cfg__bus_serial(b, obj, path, el);
        if (cJSON_GetObjectItemCaseSensitive(obj, "host"))
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "host"),
                           "is for \"tcp\" buses; an \"rtu\" bus takes device");
    } else {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "type"),
                       "must be \"tcp\", \"rtu\" or \"rtu-tcp\", got \"%s\"", b->type);
    }
    gw_json_int_to(obj, "connect_pause_ms", path, &b->connect_pause_ms, 0, 0, 10000, 0, el);
    gw_json_int_to(obj, "timeout_ms", path, &b->timeout_ms, 1000, 10, 60000, 0, el);
    gw_json_int_to(obj, "pause_ms", path, &b->pause_ms, 0, 0, 10000, 0, el);
    gw_json_int_to(obj, "max_gap", path, &b->max_gap, 8, 0, 124, 0, el);
    gw_json_int_to(obj, "reconnect_max_ms", path, &b->reconnect_max_ms, 30000, 100, 600000, 0, el);
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

/* The profile named by a device, loaded once per config: devices of one
 * model share it (cfg->profiles owns it). NULL when it cannot be loaded
 * (its errors added to el; not kept, so that every device naming it
 * reports them). */
static const drv_profile_t *cfg__profile(gw_config_t *cfg, const char *name, gw_errlist_t *el)
{
    char file[PATH_MAX];
    gw_profile_cache_t *pc;
    drv_profile_t *prof = NULL;

    cfg__profile_path(cfg, name, file, sizeof(file));
    for (pc = cfg->profiles; pc; pc = pc->next) {
        if (strcmp(pc->file, file) == 0)
            return pc->prof;
    }
    if (drv_profile_load(file, &prof, el) != 0)
        return NULL;
    pc = malloc(sizeof(*pc) + strlen(file) + 1);
    if (!pc) {
        drv_profile_free(prof);
        gw_errlist_add(el, file, "out of memory");
        return NULL;
    }
    strcpy(pc->file, file);
    pc->prof = prof;
    pc->next = cfg->profiles;
    cfg->profiles = pc;
    return prof;
}

/* Give the device its own copy of a shared points table before it changes
 * it (byte_order, point overrides). */
static int cfg__own_points(gw_device_cfg_t *d, const char *path, gw_errlist_t *el)
{
    drv_point_t *own;

    if (!d->points_shared)
        return 0;
    own = malloc((d->npoints ? d->npoints : 1) * sizeof(*own));
    if (!own) {
        gw_errlist_add(el, path, "out of memory");
        return GW_ENOMEM;
    }
    memcpy(own, d->points, d->npoints * sizeof(*own));
    d->points = own;
    d->points_shared = 0;
    return 0;
}

/* Apply a device's "points": override a profile point by name, or add one;
 * then resolve the "decimals_point" names the overrides gave. */
static void cfg__device_points(gw_device_cfg_t *d, const cJSON *pts, const char *path,
                               drv_order_t order, gw_errlist_t *el)
{
    const cJSON *it;
    int i = 0;
    char p[256], ip[300];
    size_t n = d->npoints + (size_t)cJSON_GetArraySize(pts);
    drv_point_t *grown = realloc(d->points, (n ? n : 1) * sizeof(*grown));
    char(*names)[DRV_NAME_MAX] = calloc(n ? n : 1, sizeof(*names));

    if (grown)
        d->points = grown;
    if (!grown || !names) {
        free(names);
        gw_errlist_add(el, path, "out of memory");
        return;
    }
    gw_json_path_key(p, sizeof(p), path, "points");
    cJSON_ArrayForEach(it, pts)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
        int idx = cJSON_IsString(nm) ? gw_device_point_index(d, nm->valuestring) : -1;
        gw_json_path_idx(ip, sizeof(ip), p, i++);
        if (idx >= 0) {
            drv_point_parse(it, ip, order, 1, &d->points[idx], names[idx], el);
        } else if (drv_point_parse(it, ip, order, 0, &d->points[d->npoints], names[d->npoints],
                                   el) == 0) {
            d->npoints++;
        }
    }
    drv_resolve_decimals(d->points, d->npoints, (const char(*)[DRV_NAME_MAX])names, path, el);
    free(names);
}

static const char *const device_keys[] = {
    "name",     "bus",        "unit_id",       "profile",    "points",  "interval_ms",
    "location", "byte_order", "offline_after", "timeout_ms", "retries", "backoff_max_ms",
    NULL};

static const char *const order_names[] = {"ABCD", "CDAB", "BADC", "DCBA"};

/* The device's "byte_order": the default of its points (overrides the
 * profile's). Returns 1 when given. */
static int cfg__device_order(const cJSON *obj, const char *path, drv_order_t *order,
                             gw_errlist_t *el)
{
    char buf[16], p[256];

    if (gw_json_str(obj, "byte_order", path, buf, sizeof(buf), NULL, 0, el) <= 0)
        return 0;
    for (size_t i = 0; i < GW_ARRAY_SIZE(order_names); i++) {
        if (strcmp(buf, order_names[i]) == 0) {
            *order = (drv_order_t)i;
            return 1;
        }
    }
    gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "byte_order"),
                   "must be one of ABCD, CDAB, BADC, DCBA, got \"%s\"", buf);
    return 0;
}

void gw__cfg_device(gw_config_t *cfg, gw_device_cfg_t *d, const cJSON *obj, const char *path,
                    gw_errlist_t *el)
{
    static const char *const loc_keys[] = {"building", "floor", "room", NULL};
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(obj, "points");
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(obj, "location");
    drv_order_t order = DRV_ORDER_ABCD, dev_order = DRV_ORDER_ABCD;
    int have_order;
    char p[256], lp[256];

    gw_json_check_keys(obj, path, device_keys, el);
    gw_json_str(obj, "name", path, d->name, sizeof(d->name), NULL, 1, el);
    gw__cfg_check_name(d->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    gw_json_str(obj, "bus", path, d->bus, sizeof(d->bus), NULL, 1, el);
    gw_json_int_to(obj, "unit_id", path, &d->unit_id, 1, 0, 247, 0, el);
    gw_json_int_to(obj, "interval_ms", path, &d->interval_ms, 1000, 50, 3600000, 0, el);
    gw_json_int_to(obj, "offline_after", path, &d->offline_after, 3, 1, 100, 0, el);
    gw_json_int_to(obj, "timeout_ms", path, &d->timeout_ms, 0, 10, 60000, 0, el);
    gw_json_int_to(obj, "retries", path, &d->retries, 1, 0, 5, 0, el);
    gw_json_int_to(obj, "backoff_max_ms", path, &d->backoff_max_ms, 60000, 100, 3600000, 0, el);
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
        size_t before = el->n;
        const drv_profile_t *prof = cfg__profile(cfg, d->profile, el);
        if (prof) {
            order = prof->order;
            memcpy(d->manufacturer, prof->manufacturer, sizeof(d->manufacturer));
            memcpy(d->model, prof->model, sizeof(d->model));
            d->points = prof->points; /* shared until changed below */
            d->npoints = prof->npoints;
            d->points_shared = 1;
        } else {
            /* name the device key that led to the bad profile */
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "profile"),
                           "profile \"%s\" could not be loaded (%zu errors above)", d->profile,
                           el->n - before);
        }
    }
    /* A device's byte_order beats its profile's for points that name none. */
    have_order = cfg__device_order(obj, path, &dev_order, el);
    if ((have_order || pts) && cfg__own_points(d, path, el) != 0)
        return;
    if (have_order) {
        order = dev_order;
        for (size_t i = 0; i < d->npoints; i++) {
            if (!d->points[i].order_explicit)
                d->points[i].order = order;
        }
    }
    d->order = order;
    if (pts && !cJSON_IsArray(pts))
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "points"), "must be an array");
    else if (pts)
        cfg__device_points(d, pts, path, order, el);
    if (d->npoints == 0 && d->name[0])
        gw_errlist_add(el, path, "device \"%s\" has no points: give a \"profile\" or \"points\"",
                       d->name);
}
