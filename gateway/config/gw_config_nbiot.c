/*
 * gw_config_nbiot.c: the "nbiot" section of the site config: the MQTT
 * topics that carry NB-IoT reports and the devices they feed, with, per
 * point, where its value is in a report (a JSON pointer, RFC 6901, for
 * CTWing; an LwM2M path such as "3303_0_5700" for OneNET). Each device is
 * appended to devices[] with no bus, so that rules and the point table use
 * it like a Modbus device (gw_config.h; docs/configuration.md, "nbiot").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const nbiot_keys[] = {"topics", "devices", NULL};
static const char *const dev_keys[] = {"name",    "format", "id", "report_period_s",
                                       "grace_s", "points", NULL};
static const char *const point_keys[] = {"name",      "unit",   "pointer",      "path",
                                         "scale",     "offset", "device_class", "state_class",
                                         "precision", "medium", "type",         NULL};

static void cfg__nb_topics(gw_nbiot_cfg_t *nb, const cJSON *arr, gw_errlist_t *el)
{
    const cJSON *it;
    int i = 0;
    char p[64];

    if (!cJSON_IsArray(arr)) {
        gw_errlist_add(el, "nbiot.topics", "must be an array of topic filters");
        return;
    }
    cJSON_ArrayForEach(it, arr)
    {
        gw_json_path_idx(p, sizeof(p), "nbiot.topics", i++);
        if (!cJSON_IsString(it) || !it->valuestring[0])
            gw_errlist_add(el, p, "must be a non-empty string");
        else if (strlen(it->valuestring) >= sizeof(nb->topics[0]))
            gw_errlist_add(el, p, "too long: at most %zu characters", sizeof(nb->topics[0]) - 1);
        else if (nb->ntopics == GW_NBIOT_TOPICS)
            gw_errlist_add(el, p, "at most %d topics", GW_NBIOT_TOPICS);
        else
            snprintf(nb->topics[nb->ntopics++], sizeof(nb->topics[0]), "%s", it->valuestring);
    }
}

static void cfg__nb_point(gw_nbiot_dev_cfg_t *nd, drv_point_t *pt, char *where, const cJSON *o,
                          const char *path, gw_errlist_t *el)
{
    const char *key = nd->format == GW_NBIOT_CTWING ? "pointer" : "path";
    char p[300];

    gw_json_check_keys(o, path, point_keys, el);
    if (gw_json_str(o, "name", path, pt->name, sizeof(pt->name), NULL, 1, el) > 0) {
        char why[96];
        if (drv_name_check(pt->name, why, sizeof(why)) != 0)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "name"),
                           "point name \"%s\" %s: a point name is a letter, then letters, "
                           "digits, '_' or '-' (docs/profiles.md, \"Point names\")",
                           pt->name, why);
    }
    pt->precision = -1;
    pt->decimals_idx = -1;
    pt->type = DRV_T_FLOAT64; /* a report's value is a JSON number or boolean */
    if (gw_json_str(o, "type", path, p, sizeof(p), NULL, 0, el) > 0) {
        if (strcmp(p, "bool") == 0)
            pt->type = DRV_T_BOOL;
        else if (strcmp(p, "float64") != 0)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "type"),
                           "must be \"float64\" (a number) or \"bool\" (on/off)");
    }
    drv_point_parse_hints(o, path, pt, el);
    gw_json_str(o, "unit", path, pt->unit, sizeof(pt->unit), "", 0, el);
    gw_json_num(o, "scale", path, &pt->scale, 1.0, 0, el);
    gw_json_num(o, "offset", path, &pt->offset, 0.0, 0, el);
    if (cJSON_GetObjectItemCaseSensitive(o, nd->format == GW_NBIOT_CTWING ? "path" : "pointer"))
        gw_errlist_add(el, path, "a %s device's points give \"%s\"",
                       nd->format == GW_NBIOT_CTWING ? "ctwing" : "onenet", key);
    if (gw_json_str(o, key, path, where, GW_NBIOT_PTR_MAX, NULL, 1, el) > 0 &&
        nd->format == GW_NBIOT_CTWING && where[0] != '/')
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key),
                       "must be a JSON pointer starting with '/', got \"%s\"", where);
}

static void cfg__nb_format(gw_nbiot_dev_cfg_t *nd, const cJSON *o, const char *path,
                           gw_errlist_t *el)
{
    char f[16], p[160];

    nd->format = GW_NBIOT_CTWING;
    if (gw_json_str(o, "format", path, f, sizeof(f), NULL, 1, el) <= 0)
        return;
    if (strcmp(f, "onenet") == 0)
        nd->format = GW_NBIOT_ONENET;
    else if (strcmp(f, "ctwing") != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "format"),
                       "must be \"ctwing\" or \"onenet\", got \"%s\"", f);
}

/* One nbiot device: its nbiot entry nd and its devices[] entry d. */
static void cfg__nb_device(gw_nbiot_dev_cfg_t *nd, gw_device_cfg_t *d, const cJSON *o,
                           const char *path, gw_errlist_t *el)
{
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(o, "points");
    const cJSON *it;
    long long v;
    int i = 0;
    char p[160], pp[200];

    gw_json_check_keys(o, path, dev_keys, el);
    gw_json_str(o, "name", path, nd->name, sizeof(nd->name), NULL, 1, el);
    gw__cfg_check_name(nd->name, gw_json_path_key(p, sizeof(p), path, "name"), el);
    cfg__nb_format(nd, o, path, el);
    gw_json_str(o, "id", path, nd->id, sizeof(nd->id), NULL, 1, el);
    gw_json_int(o, "report_period_s", path, &v, 3600, 1, 7 * 86400, 0, el);
    nd->report_period_ms = v * 1000;
    gw_json_int(o, "grace_s", path, &v, 60, 0, 86400, 0, el);
    nd->grace_ms = v * 1000;
    snprintf(d->name, sizeof(d->name), "%s", nd->name);
    d->bus_idx = -1;
    d->interval_ms = (int)(nd->report_period_ms > 3600000 ? 3600000 : nd->report_period_ms);
    d->offline_after = 1;
    if (!cJSON_IsArray(pts) || cJSON_GetArraySize(pts) == 0) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "points"),
                       "must be a non-empty array");
        return;
    }
    d->points = calloc((size_t)cJSON_GetArraySize(pts), sizeof(*d->points));
    nd->where = calloc((size_t)cJSON_GetArraySize(pts), sizeof(*nd->where));
    if (!d->points || !nd->where) {
        gw_errlist_add(el, path, "out of memory");
        return;
    }
    gw_json_path_key(p, sizeof(p), path, "points");
    cJSON_ArrayForEach(it, pts)
    {
        gw_json_path_idx(pp, sizeof(pp), p, i++);
        if (!cJSON_IsObject(it)) {
            gw_errlist_add(el, pp, "must be an object");
            continue;
        }
        cfg__nb_point(nd, &d->points[d->npoints], nd->where[d->npoints], it, pp, el);
        d->npoints++;
    }
}

void gw__cfg_nbiot(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    const cJSON *nb = cJSON_GetObjectItemCaseSensitive(root, "nbiot");
    const cJSON *devs, *topics, *it;
    gw_device_cfg_t *grown;
    size_t n;
    int i = 0;
    char p[64];

    if (!nb)
        return;
    if (!cJSON_IsObject(nb)) {
        gw_errlist_add(el, "nbiot", "must be an object");
        return;
    }
    gw_json_check_keys(nb, "nbiot", nbiot_keys, el);
    topics = cJSON_GetObjectItemCaseSensitive(nb, "topics");
    devs = cJSON_GetObjectItemCaseSensitive(nb, "devices");
    if (topics)
        cfg__nb_topics(&cfg->nbiot, topics, el);
    if (!devs)
        return;
    if (!cJSON_IsArray(devs)) {
        gw_errlist_add(el, "nbiot.devices", "must be an array");
        return;
    }
    n = (size_t)cJSON_GetArraySize(devs);
    cfg->nbiot.devs = calloc(n + 1, sizeof(*cfg->nbiot.devs));
    grown = realloc(cfg->devices, (cfg->ndevices + n + 1) * sizeof(*grown));
    if (!cfg->nbiot.devs || !grown) {
        gw_errlist_add(el, "nbiot.devices", "out of memory");
        if (grown)
            cfg->devices = grown;
        return;
    }
    cfg->devices = grown;
    cJSON_ArrayForEach(it, devs)
    {
        gw_json_path_idx(p, sizeof(p), "nbiot.devices", i++);
        if (!cJSON_IsObject(it)) {
            gw_errlist_add(el, p, "must be an object");
            continue;
        }
        gw_nbiot_dev_cfg_t *nd = &cfg->nbiot.devs[cfg->nbiot.ndevs++];
        gw_device_cfg_t *d = &cfg->devices[cfg->ndevices];
        memset(d, 0, sizeof(*d));
        nd->device_idx = (int)cfg->ndevices++;
        cfg__nb_device(nd, d, it, p, el);
    }
    if (cfg->nbiot.ndevs && !cfg->nbiot.ntopics)
        gw_errlist_add(el, "nbiot.topics", "is required when there are nbiot devices");
}

void gw__cfg_nbiot_free(gw_config_t *cfg)
{
    for (size_t i = 0; i < cfg->nbiot.ndevs; i++)
        free(cfg->nbiot.devs[i].where);
    free(cfg->nbiot.devs);
    cfg->nbiot.devs = NULL;
    cfg->nbiot.ndevs = 0;
}
