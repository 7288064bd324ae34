/*
 * gw_config_util.c: what the section parsers of the site config share:
 * the name rule (names end up in MQTT topics and fingerprints), resolving a
 * relative path against a directory, and finding a device or a point by
 * name (gw_config.h, gw_config_int.h).
 *
 * It sits below every other file of gateway/config/: the root parser
 * (gw_config.c) calls the sections (gw_config_<section>.c), and both call
 * only this file, so the calls between them form no circle
 * (docs/architecture.md, "Modules").
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_errlist.h"

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
