/*
 * drv_write.c: which points may be written and with what (drv.h,
 * drv_write_t): the "write" key of a point in a profile or the site config
 * (docs/profiles.md, "Writable points"), and the check of a value against
 * it before anything is encoded or sent. A point is read-only unless it
 * opts in; a number point opts in with bounds (min and max), a list of
 * values, or the bits a control word may set.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "drivers/drv.h"
#include "gateway/base/gw_json.h"
#include "gateway/base/gw_types.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const write_keys[] = {"min", "max", "values", "bits", NULL};

/* Why pt cannot be written at all, or NULL. */
static const char *drv__unwritable(const drv_point_t *pt)
{
    if (pt->table == DRV_TABLE_DISCRETE || pt->table == DRV_TABLE_INPUT)
        return "a discrete input or input register is read-only";
    if (pt->type == DRV_T_STRING)
        return "a string point cannot be written";
    if (pt->bits)
        return "a bit field cannot be written (write the whole register)";
    return NULL;
}

static int drv__is_int(drv_type_t t)
{
    return t != DRV_T_FLOAT32 && t != DRV_T_FLOAT64 && t != DRV_T_STRING && t != DRV_T_BOOL;
}

/* "values": finite numbers, at most DRV_WRITE_VALUES_MAX. */
static void drv__write_values(const cJSON *v, const char *path, drv_write_t *w, gw_errlist_t *el)
{
    const cJSON *it;
    char p[300];

    gw_json_path_key(p, sizeof(p), path, "values");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 ||
        cJSON_GetArraySize(v) > DRV_WRITE_VALUES_MAX) {
        gw_errlist_add(el, p, "must be an array of 1 to %d numbers", DRV_WRITE_VALUES_MAX);
        return;
    }
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
            gw_errlist_add(el, p, "must hold numbers only, got %s", gw_json_type_name(it));
            return;
        }
        w->values[w->nvalues++] = it->valuedouble;
    }
}

/* "bits": the bit numbers (0..31) a whole value may set. */
static void drv__write_bits(const cJSON *v, const char *path, const drv_point_t *pt, drv_write_t *w,
                            gw_errlist_t *el)
{
    const cJSON *it;
    char p[300];
    long long b;

    gw_json_path_key(p, sizeof(p), path, "bits");
    if (!drv__is_int(pt->type) || pt->scale != 1.0 || pt->offset != 0.0) {
        gw_errlist_add(el, p, "is for whole-number points without scale or offset (control words)");
        return;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1) {
        gw_errlist_add(el, p, "must be a non-empty array of bit numbers 0..31");
        return;
    }
    cJSON_ArrayForEach(it, v)
    {
        if (gw_json_whole(it, 0, 31, &b) != 0) {
            gw_errlist_add(el, p, "must hold bit numbers 0..31 only");
            return;
        }
        w->bits |= 1u << b;
    }
    w->has_bits = 1;
}

/* The object form: min and max, values, bits; at least one of them. */
static void drv__write_object(const cJSON *wj, const char *path, const drv_point_t *pt,
                              drv_write_t *w, gw_errlist_t *el)
{
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(wj, "values");
    const cJSON *bits = cJSON_GetObjectItemCaseSensitive(wj, "bits");
    int has_min, has_max;

    gw_json_check_keys(wj, path, write_keys, el);
    has_min = gw_json_num(wj, "min", path, &w->min, 0, 0, el) > 0;
    has_max = gw_json_num(wj, "max", path, &w->max, 0, 0, el) > 0;
    if (has_min != has_max)
        gw_errlist_add(el, path, "give both \"min\" and \"max\", or neither");
    else if (has_min && !(w->min <= w->max))
        gw_errlist_add(el, path, "\"min\" %g is above \"max\" %g", w->min, w->max);
    else
        w->range = (uint8_t)has_min;
    if (values)
        drv__write_values(values, path, w, el);
    if (bits)
        drv__write_bits(bits, path, pt, w, el);
    if (!has_min && !has_max && !values && !bits)
        gw_errlist_add(el, path,
                       "a writable number point needs \"min\" and \"max\", \"values\" or \"bits\"");
}

int drv_write_parse(const cJSON *obj, const char *path, const drv_point_t *pt, drv_write_t *w,
                    gw_errlist_t *el)
{
    const cJSON *wj = cJSON_GetObjectItemCaseSensitive(obj, "write");
    size_t before = el->n;
    const char *why;
    char p[300];

    gw_json_path_key(p, sizeof(p), path, "write");
    if (!wj) {
        /* inherited from the profile: still writable as the site defines it? */
        why = w->allowed ? drv__unwritable(pt) : NULL;
        if (why) {
            gw_errlist_add(el, p, "%s (the profile lets it be written; the site config changed it)",
                           why);
            return GW_ECONFIG;
        }
        return 0;
    }
    memset(w, 0, sizeof(*w));
    if (cJSON_IsFalse(wj))
        return 0;
    why = drv__unwritable(pt);
    if (why) {
        gw_errlist_add(el, p, "%s", why);
        return GW_ECONFIG;
    }
    if (cJSON_IsTrue(wj)) {
        if (pt->type != DRV_T_BOOL)
            gw_errlist_add(el, p,
                           "true is for bool points; a number point needs an object with "
                           "\"min\" and \"max\", \"values\" or \"bits\"");
    } else if (cJSON_IsObject(wj)) {
        if (pt->type == DRV_T_BOOL)
            gw_errlist_add(el, p, "a bool point takes true (0 or 1) or false");
        else
            drv__write_object(wj, p, pt, w, el);
    } else {
        gw_errlist_add(el, p, "must be true, false or an object, got %s", gw_json_type_name(wj));
    }
    if (el->n != before) {
        memset(w, 0, sizeof(*w));
        return GW_ECONFIG;
    }
    w->allowed = 1;
    return 0;
}

/* Is value one of the listed values? */
static int drv__listed(const drv_write_t *w, double value)
{
    for (unsigned i = 0; i < w->nvalues; i++) {
        if (w->values[i] == value)
            return 1;
    }
    return 0;
}

int drv_write_check(const drv_point_t *pt, double value, char *err, size_t errlen)
{
    const drv_write_t *w = &pt->write;
    const char *why = drv__unwritable(pt);

    if (why || !w->allowed) {
        snprintf(err, errlen, "%s is not writable: %s", pt->name,
                 why ? why : "neither its profile nor the site config allows writes to it");
        return GW_EPERM;
    }
    if (!isfinite(value)) {
        snprintf(err, errlen, "%s: the value is not a finite number", pt->name);
        return GW_EINVAL;
    }
    if (pt->type == DRV_T_BOOL && value != 0.0 && value != 1.0) {
        snprintf(err, errlen, "%s: %g refused: a bool point takes 0 or 1", pt->name, value);
        return GW_EINVAL;
    }
    if (w->range && value < w->min) {
        snprintf(err, errlen, "%s: %g refused: below the minimum %g", pt->name, value, w->min);
        return GW_EINVAL;
    }
    if (w->range && value > w->max) {
        snprintf(err, errlen, "%s: %g refused: above the maximum %g", pt->name, value, w->max);
        return GW_EINVAL;
    }
    if (w->nvalues && !drv__listed(w, value)) {
        snprintf(err, errlen, "%s: %g refused: not one of the %u allowed values", pt->name, value,
                 (unsigned)w->nvalues);
        return GW_EINVAL;
    }
    if (w->has_bits) {
        /* a whole value of 32 bits at most, range-checked before the cast */
        if (!(value >= 0 && value <= 4294967295.0) || value != floor(value) ||
            ((uint32_t)value & ~w->bits) != 0) {
            snprintf(err, errlen, "%s: %g refused: sets bits outside the allowed 0x%x", pt->name,
                     value, (unsigned)w->bits);
            return GW_EINVAL;
        }
    }
    return 0;
}
