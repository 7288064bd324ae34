/*
 * north_nbiot_parse.c: parsing NB-IoT reports (north_nbiot.h): CTWing's
 * data, event and online reports and OneNET-style LwM2M messages, mapped by
 * the config's JSON pointers onto the points of the configured NB-IoT
 * devices (docs/mqtt.md, "NB-IoT uplinks"). Pure: no I/O, no state; the
 * unit tests and tests/fuzz/fuzz_nbiot.c drive it directly. A payload is
 * untrusted: it must be exactly one JSON object, bounded in size and depth;
 * every number is checked (integer fields whole, all in range) before it
 * is cast or stored. A refusal names the field and carries a reason that
 * the metrics count.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/north/north_nbiot.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON pointer (RFC 6901) ------------------------------------------ */

const cJSON *north__nbiot_pointer(const cJSON *root, const char *ptr, int *bad)
{
    const cJSON *cur = root;
    char tok[GW_NBIOT_PTR_MAX];

    *bad = 0;
    if (!*ptr)
        return root;
    if (*ptr != '/') {
        *bad = 1;
        return NULL;
    }
    while (*ptr == '/' && cur) {
        size_t k = 0;
        ptr++;
        while (*ptr && *ptr != '/' && k + 1 < sizeof(tok)) {
            if (*ptr == '~') {
                if (ptr[1] != '0' && ptr[1] != '1') {
                    *bad = 1;
                    return NULL;
                }
                tok[k++] = ptr[1] == '0' ? '~' : '/';
                ptr += 2;
            } else {
                tok[k++] = *ptr++;
            }
        }
        tok[k] = '\0';
        if (cJSON_IsArray(cur)) {
            char *end;
            long i;
            errno = 0;
            i = strtol(tok, &end, 10);
            if (!k || *end || errno || i < 0 || i > INT_MAX || (tok[0] == '0' && k > 1))
                return NULL;
            cur = cJSON_GetArrayItem(cur, (int)i);
        } else if (cJSON_IsObject(cur)) {
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        } else {
            return NULL;
        }
    }
    return cur;
}

/* ---- parsing ------------------------------------------------------------ */

static const char *const nb__reject_names[NB_REJECT__COUNT] = {
    [NB_REJECT_NONE] = "none",
    [NB_REJECT_NOT_JSON] = "not_json",
    [NB_REJECT_TRAILING] = "trailing_data",
    [NB_REJECT_TOO_DEEP] = "too_deep",
    [NB_REJECT_TOO_LARGE] = "too_large",
    [NB_REJECT_NOT_OBJECT] = "not_object",
    [NB_REJECT_FIELD] = "bad_field",
    [NB_REJECT_NOT_INTEGER] = "not_integer",
    [NB_REJECT_RANGE] = "out_of_range",
    [NB_REJECT_UNKNOWN] = "unknown_type",
};

const char *north__nbiot_reject_name(north_nbiot_reject_t r)
{
    return r >= 0 && r < NB_REJECT__COUNT ? nb__reject_names[r] : "unknown";
}

/* Refuse the report: r->reject and why. Returns -1. */
static int nb__refuse(north_nbiot_report_t *r, north_nbiot_reject_t reason, char *why, size_t len,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int nb__refuse(north_nbiot_report_t *r, north_nbiot_reject_t reason, char *why, size_t len,
                      const char *fmt, ...)
{
    va_list ap;

    r->reject = reason;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* An integer field key of o in [lo, hi] (gw_json_whole), required or not.
 * Returns 1 present and valid, 0 absent, -1 refused (r, why). */
static int nb__int(const cJSON *o, const char *key, long long lo, long long hi, int required,
                   long long *out, north_nbiot_report_t *r, char *why, size_t len)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!it && !required)
        return 0;
    switch (gw_json_whole(it, lo, hi, out)) {
    case 0:
        return 1;
    case -2:
        return nb__refuse(r, NB_REJECT_NOT_INTEGER, why, len,
                          "\"%s\": must be a whole number, got %.17g", key, it->valuedouble);
    case -3:
        return nb__refuse(r, NB_REJECT_RANGE, why, len, "\"%s\": must be %lld..%lld, got %.17g",
                          key, lo, hi, it->valuedouble);
    default:
        return nb__refuse(r, NB_REJECT_FIELD, why, len, "\"%s\": must be a whole number, got %s",
                          key, gw_json_type_name(it));
    }
}

/* A value for a point: a number within +-NB_MAX_VALUE, or a boolean as 1/0.
 * Returns 0, or -1 refused naming `name`. */
static int nb__value(const cJSON *it, const char *name, double *out, north_nbiot_report_t *r,
                     char *why, size_t len)
{
    if (cJSON_IsBool(it)) {
        *out = cJSON_IsTrue(it) ? 1.0 : 0.0;
        return 0;
    }
    if (!cJSON_IsNumber(it))
        return nb__refuse(r, NB_REJECT_FIELD, why, len,
                          "\"%s\": must be a number or a boolean, got %s", name,
                          gw_json_type_name(it));
    if (!isfinite(it->valuedouble) || fabs(it->valuedouble) > NB_MAX_VALUE)
        return nb__refuse(r, NB_REJECT_RANGE, why, len,
                          "\"%s\": %.17g is out of range (at most %g either way)", name,
                          it->valuedouble, NB_MAX_VALUE);
    *out = it->valuedouble;
    return 0;
}

/* A millisecond timestamp: a whole number, 1 ms .. year 2255. */
static int nb__ts(const cJSON *o, const char *key, int64_t *out, north_nbiot_report_t *r, char *why,
                  size_t len)
{
    long long v;

    if (nb__int(o, key, 1, 9000000000000000LL, 1, &v, r, why, len) != 1) {
        if (r->reject == NB_REJECT_FIELD)
            snprintf(why, len, "\"%s\": must be a timestamp in ms since 1970, got %s", key,
                     gw_json_type_name(cJSON_GetObjectItemCaseSensitive(o, key)));
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

static uint64_t nb__hash(const char *s, uint64_t h)
{
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static int nb__find(const gw_config_t *cfg, gw_nbiot_format_t f, const char *id)
{
    for (size_t i = 0; i < cfg->nbiot.ndevs; i++) {
        if (cfg->nbiot.devs[i].format == f && strcmp(cfg->nbiot.devs[i].id, id) == 0)
            return (int)i;
    }
    return -1;
}

/* CTWing: map each point's pointer; all must be numbers or booleans. */
static int nb__ctwing_points(const gw_config_t *cfg, const cJSON *root, north_nbiot_report_t *r,
                             char *why, size_t len)
{
    const gw_nbiot_dev_cfg_t *nd = &cfg->nbiot.devs[r->dev];
    const gw_device_cfg_t *dc = &cfg->devices[nd->device_idx];
    int bad;

    for (size_t i = 0; i < dc->npoints && r->nvals < GW_ARRAY_SIZE(r->vals); i++) {
        const cJSON *it = north__nbiot_pointer(root, nd->where[i], &bad);
        if (!it)
            continue; /* this report does not carry that point */
        if (nb__value(it, nd->where[i], &r->vals[r->nvals].value, r, why, len) != 0)
            return -1;
        r->vals[r->nvals++].point = i;
    }
    return 0;
}

#define NB_MAX_SN 9007199254740991LL /* 2^53 - 1: every whole double below is exact */

/* The kind of a CTWing message: event type and online state. */
static int nb__ctwing_kind(const cJSON *o, const char *mt, north_nbiot_report_t *r, char *why,
                           size_t len)
{
    long long et = 0;

    if (strcmp(mt, "deviceOnlineOfflineReport") == 0) {
        if (nb__int(o, "eventType", 0, 1, 1, &et, r, why, len) != 1) {
            if (r->reject == NB_REJECT_RANGE || r->reject == NB_REJECT_FIELD)
                snprintf(why, len, "\"eventType\": must be 1 (online) or 0 (offline)");
            return -1;
        }
        r->online = (int)et;
        return 1;
    }
    if (strcmp(mt, "eventReport") == 0) {
        if (nb__int(o, "eventType", 1, 3, 1, &et, r, why, len) != 1)
            return -1;
        r->event_type = (int)et;
    } else if (strcmp(mt, "dataReport") == 0) {
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(o, "payload");
        if (!cJSON_IsObject(pl))
            return nb__refuse(r, NB_REJECT_FIELD, why, len,
                              "\"payload\": must be an object, got %s", gw_json_type_name(pl));
    } else {
        return nb__refuse(r, NB_REJECT_UNKNOWN, why, len, "\"messageType\": unknown \"%.40s\"", mt);
    }
    return 0;
}

static int nb__ctwing(const gw_config_t *cfg, const cJSON *o, north_nbiot_report_t *r, char *why,
                      size_t len)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "messageType");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "deviceId");
    const cJSON *imei = cJSON_GetObjectItemCaseSensitive(o, "IMEI");
    long long sn = -1;
    int has_sn, rc;

    if (!cJSON_IsString(mt))
        return nb__refuse(r, NB_REJECT_FIELD, why, len, "\"messageType\": must be a string, got %s",
                          gw_json_type_name(mt));
    if (!cJSON_IsString(id) || !id->valuestring[0])
        return nb__refuse(r, NB_REJECT_FIELD, why, len,
                          "\"deviceId\": must be a non-empty string, got %s",
                          gw_json_type_name(id));
    if (nb__ts(o, "timestamp", &r->ts_ms, r, why, len) != 0)
        return -1;
    /* -1 (or absent): the platform gave no sequence number */
    has_sn = nb__int(o, "upPacketSN", -1, NB_MAX_SN, 0, &sn, r, why, len);
    if (has_sn < 0)
        return -1;
    r->dev = nb__find(cfg, GW_NBIOT_CTWING, id->valuestring);
    if (r->dev < 0 && cJSON_IsString(imei))
        r->dev = nb__find(cfg, GW_NBIOT_CTWING, imei->valuestring);
    r->key = nb__hash(mt->valuestring, sn >= 0 ? (uint64_t)sn * 2 + 1 : (uint64_t)r->ts_ms * 2);
    rc = nb__ctwing_kind(o, mt->valuestring, r, why, len);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return r->dev < 0 ? 0 : nb__ctwing_points(cfg, o, r, why, len);
}

/* OneNET's dev_id: a string, or a whole number. */
static int nb__onenet_id(const cJSON *o, char *id, size_t idlen, north_nbiot_report_t *r, char *why,
                         size_t len)
{
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "dev_id");
    long long v;

    if (cJSON_IsString(dev) && dev->valuestring[0]) {
        snprintf(id, idlen, "%.60s", dev->valuestring);
        return 0;
    }
    if (cJSON_IsNumber(dev)) {
        if (nb__int(o, "dev_id", 0, NB_MAX_SN, 1, &v, r, why, len) != 1)
            return -1;
        snprintf(id, idlen, "%lld", v);
        return 0;
    }
    return nb__refuse(r, NB_REJECT_FIELD, why, len,
                      "\"dev_id\": must be a string or a whole number, got %s",
                      gw_json_type_name(dev));
}

static int nb__onenet(const gw_config_t *cfg, const cJSON *o, north_nbiot_report_t *r, char *why,
                      size_t len)
{
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(o, "ds_id");
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(o, "value");
    long long type = 0, st = 0;
    char id[64];
    double v;

    if (nb__int(o, "type", 1, 2, 1, &type, r, why, len) != 1) {
        if (r->reject == NB_REJECT_RANGE)
            r->reject = NB_REJECT_UNKNOWN;
        snprintf(why, len, "\"type\": must be 1 (data point) or 2 (online/offline), got %s",
                 gw_json_type_name(cJSON_GetObjectItemCaseSensitive(o, "type")));
        return -1;
    }
    if (nb__onenet_id(o, id, sizeof(id), r, why, len) != 0 ||
        nb__ts(o, "at", &r->ts_ms, r, why, len) != 0)
        return -1;
    r->dev = nb__find(cfg, GW_NBIOT_ONENET, id);
    if (type == 2) {
        if (nb__int(o, "status", 0, 1, 1, &st, r, why, len) != 1)
            return -1;
        r->online = (int)st;
        r->key = nb__hash("status", (uint64_t)r->ts_ms);
        return 0;
    }
    if (!cJSON_IsString(ds) || !ds->valuestring[0])
        return nb__refuse(r, NB_REJECT_FIELD, why, len,
                          "\"ds_id\": must be a non-empty string, got %s", gw_json_type_name(ds));
    if (nb__value(val, "value", &v, r, why, len) != 0)
        return -1;
    r->key = nb__hash(ds->valuestring, (uint64_t)r->ts_ms);
    if (r->dev < 0)
        return 0;
    const gw_nbiot_dev_cfg_t *nd = &cfg->nbiot.devs[r->dev];
    const gw_device_cfg_t *dc = &cfg->devices[nd->device_idx];
    for (size_t i = 0; i < dc->npoints && r->nvals < GW_ARRAY_SIZE(r->vals); i++) {
        if (strcmp(nd->where[i], ds->valuestring) == 0) {
            r->vals[r->nvals].point = i;
            r->vals[r->nvals++].value = v;
        }
    }
    return 0;
}

static const north_nbiot_reject_t nb__json_reject[] = {
    [GW_JSON_OK] = NB_REJECT_NONE,
    [GW_JSON_EMPTY] = NB_REJECT_NOT_JSON,
    [GW_JSON_TOO_LONG] = NB_REJECT_TOO_LARGE,
    [GW_JSON_TOO_DEEP] = NB_REJECT_TOO_DEEP,
    [GW_JSON_SYNTAX] = NB_REJECT_NOT_JSON,
    [GW_JSON_TRAILING] = NB_REJECT_TRAILING,
};

int north__nbiot_parse(const gw_config_t *cfg, const char *payload, size_t plen,
                       north_nbiot_report_t *r, char *why, size_t len)
{
    gw_json_refusal_t jr;
    cJSON *root;
    const cJSON *o, *msg;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    r->dev = -1;
    r->online = -1;
    root = gw_json_parse_strict(payload, plen, NB_MAX_PAYLOAD, NB_MAX_DEPTH, &jr, why, len);
    if (!root) {
        r->reject = nb__json_reject[jr];
        if (jr == GW_JSON_EMPTY)
            snprintf(why, len, "empty payload");
        return -1;
    }
    o = root;
    if (!cJSON_IsObject(o)) {
        nb__refuse(r, NB_REJECT_NOT_OBJECT, why, len, "the top level must be an object, got %s",
                   gw_json_type_name(o));
        goto out;
    }
    msg = cJSON_GetObjectItemCaseSensitive(o, "msg"); /* OneNET push wraps it */
    if (msg && !cJSON_GetObjectItemCaseSensitive(o, "messageType")) {
        if (!cJSON_IsObject(msg)) {
            nb__refuse(r, NB_REJECT_NOT_OBJECT, why, len, "\"msg\": must be an object, got %s",
                       gw_json_type_name(msg));
            goto out;
        }
        o = msg;
    }
    if (cJSON_GetObjectItemCaseSensitive(o, "messageType"))
        rc = nb__ctwing(cfg, o, r, why, len);
    else if (cJSON_GetObjectItemCaseSensitive(o, "ds_id") ||
             cJSON_GetObjectItemCaseSensitive(o, "type"))
        rc = nb__onenet(cfg, o, r, why, len);
    else
        nb__refuse(r, NB_REJECT_UNKNOWN, why, len,
                   "neither \"messageType\" (CTWing) nor \"type\"/\"ds_id\" (OneNET)");
out:
    cJSON_Delete(root);
    if (rc != 0)
        r->nvals = 0;
    return rc;
}
