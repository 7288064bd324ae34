/*
 * gw_config_util.c: what the section parsers of the site config share:
 * the name rule (names end up in MQTT topics and fingerprints), resolving a
 * relative path against a directory, reading lists of strings and of
 * priorities, and finding a device or a point by name (gw_config.h,
 * gw_config_int.h).
 *
 * It sits below every other file of gateway/config/: the root parser
 * (gw_config.c) calls the sections (gw_config_<section>.c), and both call
 * only this file, so the calls between them form no circle
 * (docs/architecture.md, "Modules").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_errlist.h"
#include "gateway/base/gw_json.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* A name used in topics and fingerprints: letters, digits, '-', '_', '.'. */
void gw__cfg_check_name(const char *name, const char *path, gw_errlist_t *el)
{
    if (!*name)
        return;
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') {
            gw_errlist_add(el, path,
                           "\"%s\": only letters, digits, '-', '_' and '.' are allowed "
                           "(it is used in MQTT topics)",
                           name);
            return;
        }
    }
}

/* dst = base/rel unless rel is absolute. */
void gw__cfg_resolve(char *dst, size_t len, const char *base, const char *rel)
{
    if (rel[0] == '/' || !base || !*base)
        snprintf(dst, len, "%s", rel);
    else
        snprintf(dst, len, "%s/%s", base, rel);
}

/* Read an array of strings obj[key] into dst (n rows of width bytes).
 * Returns the count (0 when absent). */
int gw__cfg_strs(const cJSON *obj, const char *key, const char *path, char *dst, size_t width,
                 int max, gw_errlist_t *el)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key), *it;
    char p[256];
    int n = 0;

    if (!arr)
        return 0;
    gw_json_path_key(p, sizeof(p), path, key);
    if (!cJSON_IsArray(arr)) {
        gw_errlist_add(el, p, "must be an array of strings");
        return 0;
    }
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it)) {
            gw_errlist_add(el, p, "must be an array of strings");
            return n;
        }
        if (n == max) {
            gw_errlist_add(el, p, "at most %d entries", max);
            return n;
        }
        if (strlen(it->valuestring) >= width) {
            gw_errlist_add(el, p, "\"%s\" is longer than %zu bytes", it->valuestring, width - 1);
            continue;
        }
        snprintf(dst + (size_t)n * width, width, "%s", it->valuestring);
        n++;
    }
    return n;
}

/* Bit mask of priority names in obj[key]; def when absent. */
unsigned gw__cfg_prios(const cJSON *obj, const char *key, const char *path, unsigned def,
                       gw_errlist_t *el)
{
    char names[4][16], p[256];
    unsigned mask = 0;
    gw_priority_t pr;
    int n;

    if (!cJSON_GetObjectItemCaseSensitive(obj, key))
        return def;
    n = gw__cfg_strs(obj, key, path, &names[0][0], sizeof(names[0]), 4, el);
    for (int i = 0; i < n; i++) {
        if (gw_priority_parse(names[i], &pr) != 0)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key),
                           "must list critical, high, medium or low, got \"%s\"", names[i]);
        else
            mask |= 1u << pr;
    }
    return mask;
}

int gw_config_device_index(const gw_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ndevices; i++) {
        if (strcmp(cfg->devices[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

int gw_device_point_index(const gw_device_cfg_t *dev, const char *name)
{
    for (size_t i = 0; i < dev->npoints; i++) {
        if (strcmp(dev->points[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}
