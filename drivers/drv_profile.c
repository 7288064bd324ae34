/*
 * drv_profile.c: parse device profiles and point definitions (drv.h); the
 * names, widths and address notation they use are drv_point.c's. The format
 * is docs/profiles.md.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "drivers/drv_int.h"
#include "gateway/base/gw_json.h"
#include "gateway/base/gw_types.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Look name up in names; returns its index or -1. */
static int drv__lookup(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

/* Read an enum-valued string key; leaves *dst unchanged when absent. */
static int drv__enum(const cJSON *obj, const char *key, const char *path, const char *const *names,
                     size_t n, int *dst, gw_errlist_t *el)
{
    char buf[32], p[256], list[128] = "";
    int rc = gw_json_str(obj, key, path, buf, sizeof(buf), NULL, 0, el);
    int idx;

    if (rc <= 0)
        return rc;
    idx = drv__lookup(buf, names, n);
    if (idx < 0) {
        for (size_t i = 0; i < n; i++) {
            strncat(list, names[i], sizeof(list) - strlen(list) - 1);
            if (i + 1 < n)
                strncat(list, ", ", sizeof(list) - strlen(list) - 1);
        }
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key),
                       "must be one of %s, got \"%s\"", list, buf);
        return -1;
    }
    *dst = idx;
    return 1;
}

static const char *const point_keys[] = {
    "name",           "table",        "address",     "type",      "order",  "scale",
    "offset",         "unit",         "description", "bit",       "bits",   "length",
    "decimals_point", "device_class", "state_class", "precision", "medium", "write",
    NULL};

/* "address": a zero-based number, or a one-based "4xxxx" string that also
 * names the table. Returns 1 when present and valid. */
static int drv__address(const cJSON *obj, const char *path, int required, drv_point_t *pt,
                        int *table_from_addr, gw_errlist_t *el)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, "address");
    drv_table_t t;
    long long v;
    char p[256];

    if (cJSON_IsString(a)) {
        if (drv_parse_modicon(a->valuestring, &t, &pt->address) != 0) {
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "address"),
                           "\"%s\" is not a one-based register number (40001..49999, "
                           "30001.., 10001.., 00001.., or six digits 400001..465536); give a "
                           "zero-based number for the address as sent",
                           a->valuestring);
            return -1;
        }
        pt->table = t;
        *table_from_addr = 1;
        return 1;
    }
    if (gw_json_int(obj, "address", path, &v, pt->address, 0, 65535, required, el) > 0) {
        pt->address = (uint16_t)v;
        return 1;
    }
    return 0;
}

/* Checks of bit fields, strings and the decimals point. */
static void drv__point_checks(const cJSON *obj, const char *path, drv_point_t *pt,
                              char *decimals_name, gw_errlist_t *el)
{
    long long v;
    char p[256];
    int is_reg = pt->table == DRV_TABLE_HOLDING || pt->table == DRV_TABLE_INPUT;

    if (gw_json_int(obj, "bit", path, &v, pt->bit, 0, 15, 0, el) > 0) {
        pt->bit = (uint8_t)v;
        if (!pt->bits)
            pt->bits = 1;
    }
    if (gw_json_int(obj, "bits", path, &v, pt->bits ? pt->bits : 1, 1, 16, 0, el) > 0)
        pt->bits = (uint8_t)v;
    if (pt->bits) {
        if (!is_reg || (pt->type != DRV_T_BOOL && pt->type != DRV_T_UINT16))
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "bit"),
                           "a bit field needs a holding or input register and type bool or "
                           "uint16, got %s %s",
                           drv_table_name(pt->table), drv_type_name(pt->type));
        else if (pt->bit + pt->bits > 16)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "bits"),
                           "bits %u..%u run past bit 15", pt->bit, pt->bit + pt->bits - 1);
        else if (pt->type == DRV_T_BOOL && pt->bits != 1)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "bits"),
                           "a bool point is one bit, got %u", pt->bits);
    }
    if (gw_json_int(obj, "length", path, &v, pt->length, 1, 125, 0, el) > 0)
        pt->length = (uint16_t)v;
    if (pt->type == DRV_T_STRING && !pt->length)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "length"),
                       "is required for a string point (registers, two characters each)");
    if (pt->type == DRV_T_STRING && !is_reg)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "type"),
                       "a string point needs a holding or input register");
    {
        char dn[DRV_NAME_MAX];
        if (gw_json_str(obj, "decimals_point", path, dn, sizeof(dn), NULL, 0, el) > 0 &&
            decimals_name)
            memcpy(decimals_name, dn, sizeof(dn));
    }
}

int drv_point_parse(const cJSON *obj, const char *path, drv_order_t default_order, int merge,
                    drv_point_t *pt, char *decimals_name, gw_errlist_t *el)
{
    size_t before = el->n;
    long long addr;
    int v, have_addr;
    char p[256];

    if (!cJSON_IsObject(obj)) {
        gw_errlist_add(el, path, "must be an object");
        return GW_ECONFIG;
    }
    int table_from_addr = 0, table_given;
    char tname[16];

    if (!merge) {
        memset(pt, 0, sizeof(*pt));
        pt->table = DRV_TABLE_HOLDING;
        pt->type = DRV_T_UINT16;
        pt->order = default_order;
        pt->scale = 1.0;
        pt->decimals_idx = -1;
        pt->precision = -1;
    }
    gw_json_check_keys(obj, path, point_keys, el);
    if (!merge && gw_json_str(obj, "name", path, pt->name, sizeof(pt->name), NULL, 1, el) > 0) {
        char why[96];
        if (drv_name_check(pt->name, why, sizeof(why)) != 0)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "name"),
                           "point name \"%s\" %s: a point name is a letter, then letters, "
                           "digits, '_' or '-' (docs/profiles.md, \"Point names\")",
                           pt->name, why);
    }
    drv_point_parse_hints(obj, path, pt, el);
    {
        char unit[DRV_UNIT_MAX];
        if (gw_json_str(obj, "unit", path, unit, sizeof(unit), NULL, 0, el) > 0)
            memcpy(pt->unit, unit, sizeof(unit));
    }
    v = (int)pt->table;
    table_given =
        drv__enum(obj, "table", path, drv__table_names, GW_ARRAY_SIZE(drv__table_names), &v, el);
    pt->table = (drv_table_t)v;
    snprintf(tname, sizeof(tname), "%s", drv_table_name(pt->table));
    v = (int)pt->type;
    drv__enum(obj, "type", path, drv__type_names, GW_ARRAY_SIZE(drv__type_names), &v, el);
    pt->type = (drv_type_t)v;
    v = (int)pt->order;
    if (drv__enum(obj, "order", path, drv__order_names, GW_ARRAY_SIZE(drv__order_names), &v, el) >
        0)
        pt->order_explicit = 1;
    pt->order = (drv_order_t)v;
    have_addr = drv__address(obj, path, !merge, pt, &table_from_addr, el);
    if (table_from_addr && table_given > 0 && strcmp(tname, drv_table_name(pt->table)) != 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "table"),
                       "\"%s\" contradicts the address, which names the %s table", tname,
                       drv_table_name(pt->table));
    (void)have_addr;
    (void)addr;
    if ((pt->table == DRV_TABLE_COIL || pt->table == DRV_TABLE_DISCRETE) && table_from_addr &&
        !cJSON_GetObjectItemCaseSensitive(obj, "type"))
        pt->type = DRV_T_BOOL;
    drv__point_checks(obj, path, pt, decimals_name, el);
    gw_json_num(obj, "scale", path, &pt->scale, pt->scale, 0, el);
    gw_json_num(obj, "offset", path, &pt->offset, pt->offset, 0, el);
    if (pt->scale == 0.0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "scale"), "must not be 0");
    if ((pt->table == DRV_TABLE_COIL || pt->table == DRV_TABLE_DISCRETE) && pt->type != DRV_T_BOOL)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "type"),
                       "must be \"bool\" for a %s point, got \"%s\"", drv_table_name(pt->table),
                       drv_type_name(pt->type));
    if ((unsigned)pt->address + drv_point_width(pt) > 65536)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "address"),
                       "%s at %u runs past register 65535", drv_type_name(pt->type), pt->address);
    if (el->n == before)
        drv_write_parse(obj, path, pt, &pt->write, el);
    return el->n == before ? 0 : GW_ECONFIG;
}

int drv_resolve_decimals(drv_point_t *pts, size_t n, const char (*names)[DRV_NAME_MAX],
                         const char *path, gw_errlist_t *el)
{
    size_t before = el->n;
    char p[400];

    for (size_t i = 0; i < n; i++) {
        size_t j;
        if (!names[i][0])
            continue;
        snprintf(p, sizeof(p), "%s.points[\"%s\"].decimals_point", path, pts[i].name);
        for (j = 0; j < n && strcmp(pts[j].name, names[i]) != 0; j++)
            ;
        if (j == n || j == i)
            gw_errlist_add(el, p, "\"%s\" is not another point of the device", names[i]);
        else if (names[j][0] || pts[j].decimals_idx >= 0 || pts[j].type == DRV_T_STRING)
            gw_errlist_add(el, p, "\"%s\" must be a plain number point", names[i]);
        else
            pts[i].decimals_idx = (int)j;
    }
    return el->n == before ? 0 : GW_ECONFIG;
}

static const char *const profile_keys[] = {"profile",      "description", "byte_order", "points",
                                           "manufacturer", "model",       "medium",     NULL};

/* Profile-wide presentation: manufacturer, model, and the medium that its
 * volume and flow points measure unless a point says otherwise. */
static void drv__profile_meta(const cJSON *root, const char *path, drv_profile_t *p,
                              drv_medium_t *medium, gw_errlist_t *el)
{
    char m[16], mp[300];

    gw_json_str(root, "manufacturer", path, p->manufacturer, sizeof(p->manufacturer), "", 0, el);
    gw_json_str(root, "model", path, p->model, sizeof(p->model), "", 0, el);
    *medium = DRV_MEDIUM_NONE;
    if (gw_json_str(root, "medium", path, m, sizeof(m), NULL, 0, el) <= 0)
        return;
    if (strcmp(m, drv_medium_name(DRV_MEDIUM_WATER)) == 0)
        *medium = DRV_MEDIUM_WATER;
    else if (strcmp(m, drv_medium_name(DRV_MEDIUM_GAS)) == 0)
        *medium = DRV_MEDIUM_GAS;
    else
        gw_errlist_add(el, gw_json_path_key(mp, sizeof(mp), path, "medium"),
                       "must be \"water\" or \"gas\", got \"%s\"", m);
}

int drv_profile_load(const char *path, drv_profile_t **out, gw_errlist_t *el)
{
    size_t before = el->n;
    drv_profile_t *p = NULL;
    const cJSON *points, *it;
    cJSON *root;
    char(*names)[DRV_NAME_MAX] = NULL; /* decimals_point names, per point */
    int v = DRV_ORDER_ABCD, i = 0;
    drv_medium_t medium;
    char ip[300];

    *out = NULL;
    root = gw_json_parse_file(path, el);
    if (!root)
        return GW_ECONFIG;
    p = calloc(1, sizeof(*p));
    if (!p)
        goto out_nomem;
    gw_json_check_keys(root, path, profile_keys, el);
    gw_json_str(root, "profile", path, p->name, sizeof(p->name), NULL, 1, el);
    drv__enum(root, "byte_order", path, drv__order_names, GW_ARRAY_SIZE(drv__order_names), &v, el);
    p->order = (drv_order_t)v;
    drv__profile_meta(root, path, p, &medium, el);
    points = cJSON_GetObjectItemCaseSensitive(root, "points");
    if (!cJSON_IsArray(points) || cJSON_GetArraySize(points) == 0) {
        gw_errlist_add(el, gw_json_path_key(ip, sizeof(ip), path, "points"),
                       "must be a non-empty array");
        goto out_fail;
    }
    p->points = calloc((size_t)cJSON_GetArraySize(points), sizeof(*p->points));
    names = calloc((size_t)cJSON_GetArraySize(points), sizeof(*names));
    if (!p->points || !names)
        goto out_nomem;
    cJSON_ArrayForEach(it, points)
    {
        char base[256];
        gw_json_path_idx(ip, sizeof(ip), gw_json_path_key(base, sizeof(base), path, "points"), i++);
        if (drv_point_parse(it, ip, p->order, 0, &p->points[p->npoints], names[p->npoints], el) !=
            0)
            continue;
        if (!p->points[p->npoints].medium)
            p->points[p->npoints].medium = medium;
        for (size_t j = 0; j < p->npoints; j++) {
            if (strcmp(p->points[j].name, p->points[p->npoints].name) == 0) {
                gw_errlist_add(el, ip, "duplicate point name \"%s\"", p->points[j].name);
                break;
            }
        }
        p->npoints++;
    }
    if (el->n == before)
        drv_resolve_decimals(p->points, p->npoints, (const char(*)[DRV_NAME_MAX])names, path, el);
    if (el->n != before)
        goto out_fail;
    free(names);
    cJSON_Delete(root);
    *out = p;
    return 0;

out_nomem:
    gw_errlist_add(el, path, "out of memory");
out_fail:
    free(names);
    cJSON_Delete(root);
    drv_profile_free(p);
    return GW_ECONFIG;
}

void drv_profile_free(drv_profile_t *p)
{
    if (!p)
        return;
    free(p->points);
    free(p);
}
