/*
 * north_nbiot_parse.c: parsing NB-IoT reports (north_nbiot.h): CTWing's
 * data, event and online reports and OneNET-style LwM2M messages, mapped by
 * the config's JSON pointers onto the points of the configured NB-IoT
 * devices (docs/mqtt.md, "NB-IoT uplinks"). Pure: no I/O, no state; the
 * unit tests drive it directly. A malformed payload is refused with the
 * reason naming the field.
 */
#include "gateway/base/gw_json.h"
#include "gateway/north/north_nbiot.h"

#include <errno.h>
#include <math.h>
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
            if (!k || *end || errno || i < 0 || (tok[0] == '0' && k > 1))
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

/* A value for a point: a number or a boolean. */
static int nb__value(const cJSON *it, double *out)
{
    if (cJSON_IsNumber(it) && isfinite(it->valuedouble)) {
        *out = it->valuedouble;
        return 0;
    }
    if (cJSON_IsBool(it)) {
        *out = cJSON_IsTrue(it) ? 1.0 : 0.0;
        return 0;
    }
    return -1;
}

/* A millisecond timestamp: a whole positive number. */
static int nb__ts(const cJSON *o, const char *key, int64_t *out, char *why, size_t len)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble <= 0 ||
        it->valuedouble != floor(it->valuedouble) || it->valuedouble > 9e15) {
        snprintf(why, len, "\"%s\": must be a timestamp in ms since 1970, got %s", key,
                 gw_json_type_name(it));
        return -1;
    }
    *out = (int64_t)it->valuedouble;
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
        if (nb__value(it, &r->vals[r->nvals].value) != 0) {
            snprintf(why, len, "\"%s\": must be a number or a boolean, got %s", nd->where[i],
                     gw_json_type_name(it));
            return -1;
        }
        r->vals[r->nvals++].point = i;
    }
    return 0;
}

static int nb__ctwing(const gw_config_t *cfg, const cJSON *o, north_nbiot_report_t *r, char *why,
                      size_t len)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "messageType");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "deviceId");
    const cJSON *imei = cJSON_GetObjectItemCaseSensitive(o, "IMEI");
    const cJSON *sn = cJSON_GetObjectItemCaseSensitive(o, "upPacketSN");
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(o, "eventType");
    uint64_t seq;

    if (!cJSON_IsString(mt)) {
        snprintf(why, len, "\"messageType\": must be a string, got %s", gw_json_type_name(mt));
        return -1;
    }
    if (!cJSON_IsString(id) || !id->valuestring[0]) {
        snprintf(why, len, "\"deviceId\": must be a non-empty string, got %s",
                 gw_json_type_name(id));
        return -1;
    }
    if (nb__ts(o, "timestamp", &r->ts_ms, why, len) != 0)
        return -1;
    if (sn && !cJSON_IsNumber(sn)) {
        snprintf(why, len, "\"upPacketSN\": must be a number, got %s", gw_json_type_name(sn));
        return -1;
    }
    r->dev = nb__find(cfg, GW_NBIOT_CTWING, id->valuestring);
    if (r->dev < 0 && cJSON_IsString(imei))
        r->dev = nb__find(cfg, GW_NBIOT_CTWING, imei->valuestring);
    seq = sn && sn->valuedouble >= 0 ? (uint64_t)sn->valuedouble : (uint64_t)r->ts_ms;
    r->key = nb__hash(mt->valuestring, seq * 2 + (sn && sn->valuedouble >= 0));
    if (strcmp(mt->valuestring, "deviceOnlineOfflineReport") == 0) {
        if (!cJSON_IsNumber(et) || (et->valueint != 0 && et->valueint != 1)) {
            snprintf(why, len, "\"eventType\": must be 1 (online) or 0 (offline), got %s",
                     gw_json_type_name(et));
            return -1;
        }
        r->online = et->valueint;
        return 0;
    }
    if (strcmp(mt->valuestring, "eventReport") == 0) {
        if (!cJSON_IsNumber(et) || et->valueint < 1 || et->valueint > 3) {
            snprintf(why, len, "\"eventType\": must be 1, 2 or 3, got %s", gw_json_type_name(et));
            return -1;
        }
        r->event_type = et->valueint;
    } else if (strcmp(mt->valuestring, "dataReport") == 0) {
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(o, "payload");
        if (!cJSON_IsObject(pl)) {
            snprintf(why, len, "\"payload\": must be an object, got %s", gw_json_type_name(pl));
            return -1;
        }
    } else {
        snprintf(why, len, "\"messageType\": unknown \"%.40s\"", mt->valuestring);
        return -1;
    }
    return r->dev < 0 ? 0 : nb__ctwing_points(cfg, o, r, why, len);
}

static int nb__onenet(const gw_config_t *cfg, const cJSON *o, north_nbiot_report_t *r, char *why,
                      size_t len)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "dev_id");
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(o, "ds_id");
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(o, "value");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
    char id[64];
    double v;

    if (!cJSON_IsNumber(type) || (type->valuedouble != 1 && type->valuedouble != 2)) {
        snprintf(why, len, "\"type\": must be 1 (data point) or 2 (online/offline), got %s",
                 gw_json_type_name(type));
        return -1;
    }
    if (cJSON_IsString(dev) && dev->valuestring[0])
        snprintf(id, sizeof(id), "%.60s", dev->valuestring);
    else if (cJSON_IsNumber(dev) && dev->valuedouble == floor(dev->valuedouble))
        snprintf(id, sizeof(id), "%.0f", dev->valuedouble);
    else {
        snprintf(why, len, "\"dev_id\": must be a string or a whole number, got %s",
                 gw_json_type_name(dev));
        return -1;
    }
    if (nb__ts(o, "at", &r->ts_ms, why, len) != 0)
        return -1;
    r->dev = nb__find(cfg, GW_NBIOT_ONENET, id);
    if (type->valuedouble == 2) {
        if (!cJSON_IsNumber(st) || (st->valueint != 0 && st->valueint != 1)) {
            snprintf(why, len, "\"status\": must be 1 (online) or 0 (offline), got %s",
                     gw_json_type_name(st));
            return -1;
        }
        r->online = st->valueint;
        r->key = nb__hash("status", (uint64_t)r->ts_ms);
        return 0;
    }
    if (!cJSON_IsString(ds) || !ds->valuestring[0]) {
        snprintf(why, len, "\"ds_id\": must be a non-empty string, got %s", gw_json_type_name(ds));
        return -1;
    }
    if (nb__value(val, &v) != 0) {
        snprintf(why, len, "\"value\": must be a number or a boolean, got %s",
                 gw_json_type_name(val));
        return -1;
    }
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

int north__nbiot_parse(const gw_config_t *cfg, const char *payload, size_t plen,
                       north_nbiot_report_t *r, char *why, size_t len)
{
    cJSON *root;
    const cJSON *o, *msg;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    r->dev = -1;
    r->online = -1;
    if (plen == 0) {
        snprintf(why, len, "empty payload");
        return -1;
    }
    root = cJSON_ParseWithLength(payload, plen);
    if (!root) {
        snprintf(why, len, "not JSON (near byte %td)",
                 cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - payload : (ptrdiff_t)0);
        return -1;
    }
    o = root;
    if (!cJSON_IsObject(o)) {
        snprintf(why, len, "the top level must be an object, got %s", gw_json_type_name(o));
        goto out;
    }
    msg = cJSON_GetObjectItemCaseSensitive(o, "msg"); /* OneNET push wraps it */
    if (msg && !cJSON_GetObjectItemCaseSensitive(o, "messageType")) {
        if (!cJSON_IsObject(msg)) {
            snprintf(why, len, "\"msg\": must be an object, got %s", gw_json_type_name(msg));
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
        snprintf(why, len, "neither \"messageType\" (CTWing) nor \"type\"/\"ds_id\" (OneNET)");
out:
    cJSON_Delete(root);
    return rc;
}
