/*
 * gw_nbiot.c: NB-IoT uplinks: reports that a carrier platform (CTWing) or
 * an LwM2M bridge (OneNET style) pushes over MQTT, mapped onto the points of
 * the configured NB-IoT devices (docs/mqtt.md, "NB-IoT uplinks"). Loop
 * thread only.
 *
 * A report is taken at the device's own timestamp. A redelivered report
 * (same device and sequence number, or the same timestamp when there is no
 * sequence) is dropped by a short per-device memory of recent keys. A late
 * report (older than the points' latest values) does not overwrite them: it
 * is published as its own telemetry message marked "late". A device whose
 * report period (plus grace) passes without a report goes stale: its points
 * get quality stale and its status offline. A malformed payload is rejected
 * with a logged reason naming the field, and counted; it never stops the
 * daemon.
 */
#include "gateway/base/gw_clock.h"
#include "gateway/gw_daemon_int.h"
#include "gateway/base/gw_log.h"
#include "gateway/north/gw_nbiot.h"
#include "gateway/base/gw_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_KEYS           32  /* recent report keys remembered per device */
#define NB_STALE_CHECK_MS 500 /* how often report periods are checked */
#define NB_LOG_REJECTS    50  /* rejects logged at warn; the rest at debug */

typedef struct nb__dev {
    int64_t last_rx_ms; /* monotonic, last accepted report (or start) */
    int stale;
    uint64_t keys[NB_KEYS];
    size_t nkeys, keypos;
} nb__dev_t;

struct gw_nbiot {
    gw_daemon_t *d;
    const gw_runtime_t *rt; /* devs was built for this runtime (and size) */
    size_t rt_ndevs;
    nb__dev_t *devs; /* one per cfg->nbiot.devs */
    uv_timer_t stale_timer;
    uint64_t accepted, duplicates, rejected, unknown, late, stale;
};

/* ---- JSON pointer (RFC 6901) ------------------------------------------ */

const cJSON *gw__nbiot_pointer(const cJSON *root, const char *ptr, int *bad)
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
static int nb__ctwing_points(const gw_config_t *cfg, const cJSON *root, gw_nbiot_report_t *r,
                             char *why, size_t len)
{
    const gw_nbiot_dev_cfg_t *nd = &cfg->nbiot.devs[r->dev];
    const gw_device_cfg_t *dc = &cfg->devices[nd->device_idx];
    int bad;

    for (size_t i = 0; i < dc->npoints && r->nvals < GW_ARRAY_SIZE(r->vals); i++) {
        const cJSON *it = gw__nbiot_pointer(root, nd->where[i], &bad);
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

static int nb__ctwing(const gw_config_t *cfg, const cJSON *o, gw_nbiot_report_t *r, char *why,
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

static int nb__onenet(const gw_config_t *cfg, const cJSON *o, gw_nbiot_report_t *r, char *why,
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

int gw__nbiot_parse(const gw_config_t *cfg, const char *payload, size_t plen, gw_nbiot_report_t *r,
                    char *why, size_t len)
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

/* ---- state ------------------------------------------------------------- */

static int nb__sync(gw_nbiot_t *nb)
{
    const gw_runtime_t *rt = nb->d->rt;
    int64_t now = gw_mono_ms();

    if (nb->rt == rt && nb->rt_ndevs == rt->cfg->nbiot.ndevs)
        return 0;
    free(nb->devs);
    nb->devs = calloc(rt->cfg->nbiot.ndevs + 1, sizeof(*nb->devs));
    if (!nb->devs) {
        nb->rt = NULL;
        return GW_ENOMEM;
    }
    for (size_t i = 0; i < rt->cfg->nbiot.ndevs; i++)
        nb->devs[i].last_rx_ms = now; /* the period starts now */
    nb->rt = rt;
    nb->rt_ndevs = rt->cfg->nbiot.ndevs;
    return 0;
}

static int nb__seen(nb__dev_t *s, uint64_t key)
{
    for (size_t i = 0; i < s->nkeys; i++) {
        if (s->keys[i] == key)
            return 1;
    }
    s->keys[s->keypos] = key;
    s->keypos = (s->keypos + 1) % NB_KEYS;
    if (s->nkeys < NB_KEYS)
        s->nkeys++;
    return 0;
}

static void nb__set_status(gw_daemon_t *d, gw_device_rt_t *dev, gw_dev_status_t st, const char *err)
{
    if (err)
        snprintf(dev->last_err, sizeof(dev->last_err), "%s", err);
    if (dev->status == st)
        return;
    dev->status = st;
    if (st == GW_DEV_ONLINE)
        gw_log_notice("nbiot", "device %s online", dev->cfg->name);
    else
        gw_log_warn("nbiot", "device %s offline: %s", dev->cfg->name, dev->last_err);
    gw__publish_device_status(d, dev);
}

/* Publish the late values of a report as their own message. */
static void nb__publish_late(gw_daemon_t *d, const gw_device_rt_t *dev, const gw_nbiot_report_t *r,
                             const unsigned char *late)
{
    char ts[32], topic[384], suffix[160];
    cJSON *o = cJSON_CreateObject(), *pts;
    char *text;

    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", d->rt->cfg->site_id);
    cJSON_AddStringToObject(o, "device", dev->cfg->name);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(r->ts_ms, ts, sizeof(ts)));
    cJSON_AddBoolToObject(o, "late", 1);
    pts = cJSON_AddObjectToObject(o, "points");
    for (size_t i = 0; i < r->nvals; i++) {
        const drv_point_t *pt = &dev->cfg->points[r->vals[i].point];
        if (!late[i])
            continue;
        cJSON *p = cJSON_AddObjectToObject(pts, pt->name);
        cJSON_AddNumberToObject(p, "value", r->vals[i].value * pt->scale + pt->offset);
        cJSON_AddStringToObject(p, "unit", pt->unit);
        cJSON_AddStringToObject(p, "quality", "good");
        cJSON_AddStringToObject(p, "ts", ts);
    }
    snprintf(suffix, sizeof(suffix), "devices/%s/telemetry", dev->cfg->name);
    gw__topic(d, topic, sizeof(topic), suffix);
    text = cJSON_PrintUnformatted(o);
    if (text)
        gw__publish_telemetry_text(d, topic, text, r->ts_ms);
    free(text);
    cJSON_Delete(o);
}

static void nb__apply(gw_nbiot_t *nb, const gw_nbiot_report_t *r)
{
    gw_daemon_t *d = nb->d;
    const gw_nbiot_dev_cfg_t *nd = &d->rt->cfg->nbiot.devs[r->dev];
    gw_device_rt_t *dev = &d->rt->devs[nd->device_idx];
    unsigned char late[GW_ARRAY_SIZE(r->vals)] = {0};
    int fresh = 0, nlate = 0;

    nb->devs[r->dev].last_rx_ms = gw_mono_ms();
    nb->devs[r->dev].stale = 0;
    dev->last_ok_ms = r->ts_ms;
    if (r->online == 0) {
        nb__set_status(d, dev, GW_DEV_OFFLINE, "the platform reported the device offline");
        return;
    }
    if (r->event_type)
        gw_log(r->event_type == 3   ? GW_LOG_WARN
               : r->event_type == 2 ? GW_LOG_NOTICE
                                    : GW_LOG_INFO,
               "nbiot", "device %s: event report, type %d", dev->cfg->name, r->event_type);
    for (size_t i = 0; i < r->nvals; i++) {
        const drv_point_t *pt = &dev->cfg->points[r->vals[i].point];
        gw_point_rt_t *p = &d->rt->points[dev->first_point + r->vals[i].point];
        if (p->last.quality == GW_Q_GOOD && r->ts_ms < p->last.ts_ms) {
            late[i] = 1;
            nlate++;
            continue;
        }
        p->last.ts_ms = r->ts_ms;
        p->last.value = r->vals[i].value * pt->scale + pt->offset;
        p->last.quality = GW_Q_GOOD;
        fresh = 1;
    }
    nb__set_status(d, dev, GW_DEV_ONLINE, NULL);
    if (nlate) {
        nb->late++;
        nb__publish_late(d, dev, r, late);
    }
    if (fresh) {
        gw__run_rules(d, (uint32_t)nd->device_idx);
        gw__publish_telemetry(d, dev, r->ts_ms);
    }
}

static void nb__reject(gw_nbiot_t *nb, const mq_message_t *m, const char *why)
{
    nb->rejected++;
    gw_log(nb->rejected <= NB_LOG_REJECTS ? GW_LOG_WARN : GW_LOG_DEBUG, "nbiot",
           "report on %s rejected: %s%s", m->topic, why,
           nb->rejected == NB_LOG_REJECTS ? " (further rejects are logged at debug)" : "");
}

void gw__nbiot_on_message(gw_daemon_t *d, const mq_message_t *m)
{
    gw_nbiot_t *nb = d->nbiot;
    gw_nbiot_report_t r;
    char why[200];

    if (!nb || nb__sync(nb) != 0)
        return;
    if (gw__nbiot_parse(d->rt->cfg, m->payload, m->len, &r, why, sizeof(why)) != 0) {
        nb__reject(nb, m, why);
        return;
    }
    if (r.dev < 0) {
        nb->unknown++;
        gw_log_debug("nbiot", "report on %s for no configured device: ignored", m->topic);
        return;
    }
    if (nb__seen(&nb->devs[r.dev], r.key)) {
        nb->duplicates++;
        gw_log_debug("nbiot", "device %s: duplicate report dropped",
                     d->rt->cfg->nbiot.devs[r.dev].name);
        return;
    }
    nb->accepted++;
    nb__apply(nb, &r);
}

static void nb__stale_cb(uv_timer_t *t)
{
    gw_nbiot_t *nb = t->data;
    gw_daemon_t *d = nb->d;
    int64_t now = gw_mono_ms();
    char err[128];

    if (nb__sync(nb) != 0)
        return;
    for (size_t i = 0; i < d->rt->cfg->nbiot.ndevs; i++) {
        const gw_nbiot_dev_cfg_t *nd = &d->rt->cfg->nbiot.devs[i];
        gw_device_rt_t *dev = &d->rt->devs[nd->device_idx];
        if (nb->devs[i].stale ||
            now - nb->devs[i].last_rx_ms <= nd->report_period_ms + nd->grace_ms)
            continue;
        nb->devs[i].stale = 1;
        nb->stale++;
        for (size_t j = 0; j < dev->cfg->npoints; j++)
            d->rt->points[dev->first_point + j].last.quality = GW_Q_STALE;
        snprintf(err, sizeof(err), "no report for %lld s (expected every %lld s)",
                 (long long)((now - nb->devs[i].last_rx_ms) / 1000),
                 (long long)(nd->report_period_ms / 1000));
        nb__set_status(d, dev, GW_DEV_OFFLINE, err);
        gw__run_rules(d, (uint32_t)nd->device_idx);
        gw__publish_telemetry(d, dev, gw_wall_ms());
    }
}

/* ---- public (gw_daemon_int.h) ------------------------------------------ */

int gw__nbiot_init(gw_daemon_t *d, char *err, size_t errlen)
{
    gw_nbiot_t *nb;

    if (d->nbiot)
        return 0;
    nb = calloc(1, sizeof(*nb));
    if (!nb) {
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    nb->d = d;
    uv_timer_init(&d->loop, &nb->stale_timer);
    nb->stale_timer.data = nb;
    uv_timer_start(&nb->stale_timer, nb__stale_cb, NB_STALE_CHECK_MS, NB_STALE_CHECK_MS);
    d->nbiot = nb;
    return 0;
}

void gw__nbiot_free(gw_daemon_t *d)
{
    if (!d->nbiot)
        return;
    free(d->nbiot->devs);
    free(d->nbiot);
    d->nbiot = NULL;
}

void gw__nbiot_on_connected(gw_daemon_t *d)
{
    const gw_nbiot_cfg_t *c = &d->rt->cfg->nbiot;
    char err[256];

    for (size_t i = 0; i < c->ntopics; i++) {
        if (mq_subscribe(d->mq, c->topics[i], 1, err, sizeof(err)) != 0)
            gw_log_error("nbiot", "%s", err);
        else
            gw_log_info("nbiot", "subscribed to %s", c->topics[i]);
    }
}

cJSON *gw__nbiot_metrics(gw_daemon_t *d)
{
    gw_nbiot_t *nb = d->nbiot;
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "accepted", nb ? (double)nb->accepted : 0);
    cJSON_AddNumberToObject(o, "duplicates", nb ? (double)nb->duplicates : 0);
    cJSON_AddNumberToObject(o, "rejected", nb ? (double)nb->rejected : 0);
    cJSON_AddNumberToObject(o, "unknown_device", nb ? (double)nb->unknown : 0);
    cJSON_AddNumberToObject(o, "late", nb ? (double)nb->late : 0);
    cJSON_AddNumberToObject(o, "went_stale", nb ? (double)nb->stale : 0);
    return o;
}
