/*
 * drv_meta.c: what a point says about itself beyond decoding (drv.h): the
 * syntax of its name, and its presentation keys (device class, state
 * class, display precision, medium) that dashboards such as Home Assistant
 * use. drv_profile.c and the NB-IoT point parser read them with these;
 * the format is docs/profiles.md ("Point names", "Presentation").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "drivers/drv_int.h"
#include "gateway/base/gw_json.h"
#include "gateway/base/gw_types.h"

#include <stdio.h>
#include <string.h>

static const char *const sc_names[DRV_SC_TOTAL_INCREASING + 1] = {"auto", "none", "measurement",
                                                                  "total", "total_increasing"};
static const char *const medium_names[DRV_MEDIUM_GAS + 1] = {"none", "water", "gas"};

const char *drv_state_class_name(drv_state_class_t sc)
{
    return (unsigned)sc < GW_ARRAY_SIZE(sc_names) ? sc_names[sc] : "?";
}

const char *drv_medium_name(drv_medium_t m)
{
    return (unsigned)m < GW_ARRAY_SIZE(medium_names) ? medium_names[m] : "?";
}

static int meta__name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

int drv_name_check(const char *name, char *why, size_t whylen)
{
    size_t n = strlen(name);

    if (n == 0 || n >= DRV_NAME_MAX) {
        snprintf(why, whylen, "must be 1 to %d characters long, got %zu", DRV_NAME_MAX - 1, n);
        return GW_EINVAL;
    }
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) {
        snprintf(why, whylen, "must start with an ASCII letter, not '%c'", name[0]);
        return GW_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (meta__name_char((char)c))
            continue;
        if (c == ' ')
            snprintf(why, whylen, "has a space at position %zu", i + 1);
        else if (c < 0x20 || c >= 0x7f)
            snprintf(why, whylen, "has the byte 0x%02x at position %zu", c, i + 1);
        else
            snprintf(why, whylen, "has '%c' at position %zu", c, i + 1);
        return GW_EINVAL;
    }
    return 0;
}

/* A string key whose value must be one of names; *dst unchanged if absent. */
static void meta__enum(const cJSON *obj, const char *key, const char *path,
                       const char *const *names, size_t first, size_t n, int *dst, gw_errlist_t *el)
{
    char buf[32], p[300];

    if (gw_json_str(obj, key, path, buf, sizeof(buf), NULL, 0, el) <= 0)
        return;
    for (size_t i = first; i < n; i++) {
        if (strcmp(buf, names[i]) == 0) {
            *dst = (int)i;
            return;
        }
    }
    char list[128] = "";
    for (size_t i = first; i < n; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"",
                 i > first ? ", " : "", names[i]);
    gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key), "must be one of %s, got \"%s\"",
                   list, buf);
}

int drv_point_parse_hints(const cJSON *obj, const char *path, drv_point_t *pt, gw_errlist_t *el)
{
    size_t before = el->n;
    char cls[DRV_CLASS_MAX], p[300];
    int v;

    if (gw_json_str(obj, "device_class", path, cls, sizeof(cls), NULL, 0, el) > 0) {
        size_t i = 0;
        while (cls[i] && ((cls[i] >= 'a' && cls[i] <= 'z') || cls[i] == '_'))
            i++;
        if (!cls[0] || cls[i])
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "device_class"),
                           "\"%s\": a device class is lower-case letters and '_' "
                           "(Home Assistant's names: \"smoke\", \"problem\", \"energy\", ...)",
                           cls);
        else
            memcpy(pt->device_class, cls, sizeof(cls));
    }
    v = (int)pt->state_class;
    meta__enum(obj, "state_class", path, sc_names, DRV_SC_NONE, GW_ARRAY_SIZE(sc_names), &v, el);
    pt->state_class = (drv_state_class_t)v;
    v = (int)pt->medium;
    meta__enum(obj, "medium", path, medium_names, DRV_MEDIUM_WATER, GW_ARRAY_SIZE(medium_names), &v,
               el);
    pt->medium = (drv_medium_t)v;
    if (gw_json_int_to(obj, "precision", path, &v, pt->precision, 0, 6, 0, el) > 0)
        pt->precision = (int8_t)v;
    return el->n == before ? 0 : GW_ECONFIG;
}
