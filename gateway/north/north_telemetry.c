/*
 * north_telemetry.c: telemetry on change (docs/mqtt.md, "Telemetry"). Loop
 * thread only.
 *
 * A device's message goes out when a point's quality changed, or its value
 * moved past the point's deadband since the last message, or the device's
 * heartbeat period passed (with mqtt.telemetry.on_change; else after every
 * poll). Each message carries every point. What cannot be published now is
 * buffered and replayed by north_buffer.c.
 */
#include "gateway/base/gw_clock.h"
#include "gateway/north/north_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct north_tel {
    north_session_t *s;
    const gw_core_t *core;
    north_buf_t *buf;
    /* on change, per point / per device of rt (rebuilt when rt changes) */
    const gw_runtime_t *rt; /* with its sizes: a freed runtime's address may be reused */
    size_t rt_npoints, rt_ndevices;
    double *pub_value, *deadband;
    unsigned char *pub_quality; /* 0xff: never published */
    uint64_t *pub_text;         /* hash of a text point's last published text */
    int64_t *dev_pub_ms;
    int *heartbeat_ms;
    uint64_t suppressed;
};

/* ---- per-point state ---------------------------------------------------- */

static void tel__free_points(north_tel_t *n)
{
    free(n->pub_value);
    free(n->deadband);
    free(n->pub_quality);
    free(n->pub_text);
    n->pub_text = NULL;
    free(n->dev_pub_ms);
    free(n->heartbeat_ms);
    n->pub_value = n->deadband = NULL;
    n->pub_quality = NULL;
    n->dev_pub_ms = NULL;
    n->heartbeat_ms = NULL;
    n->rt = NULL;
}

static void tel__apply_overrides(north_tel_t *n, const gw_runtime_t *rt)
{
    const gw_mqtt_cfg_t *q = &rt->cfg->mqtt;

    /* device entries first, then point entries win over them */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < q->ntel; i++) {
            const gw_mqtt_tel_override_t *t = &q->tel[i];
            int di = gw_config_device_index(rt->cfg, t->device);
            if (di < 0 || (pass == 0) != (t->point[0] == '\0'))
                continue;
            const gw_device_rt_t *dev = &rt->devs[di];
            if (t->heartbeat_ms >= 0)
                n->heartbeat_ms[di] = t->heartbeat_ms;
            for (size_t j = 0; j < dev->cfg->npoints && t->deadband >= 0; j++) {
                if (!t->point[0] || strcmp(dev->cfg->points[j].name, t->point) == 0)
                    n->deadband[dev->first_point + j] = t->deadband;
            }
        }
    }
}

static int tel__build_points(north_tel_t *n, const gw_runtime_t *rt)
{
    size_t np = rt->npoints + 1, nd = rt->cfg->ndevices + 1;

    tel__free_points(n);
    n->pub_value = calloc(np, sizeof(double));
    n->deadband = calloc(np, sizeof(double));
    n->pub_quality = malloc(np);
    n->pub_text = calloc(np, sizeof(uint64_t));
    n->dev_pub_ms = calloc(nd, sizeof(int64_t));
    n->heartbeat_ms = calloc(nd, sizeof(int));
    if (!n->pub_value || !n->deadband || !n->pub_quality || !n->pub_text || !n->dev_pub_ms ||
        !n->heartbeat_ms) {
        tel__free_points(n);
        return GW_ENOMEM;
    }
    memset(n->pub_quality, 0xff, np);
    for (size_t i = 0; i < rt->npoints; i++)
        n->deadband[i] = rt->cfg->mqtt.deadband;
    for (size_t i = 0; i < rt->cfg->ndevices; i++)
        n->heartbeat_ms[i] = rt->cfg->mqtt.heartbeat_ms;
    tel__apply_overrides(n, rt);
    n->rt = rt;
    n->rt_npoints = rt->npoints;
    n->rt_ndevices = rt->cfg->ndevices;
    return 0;
}

static uint64_t tel__hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h | 1; /* never 0, the "no text" mark */
}

/* 1 when dev's telemetry is due now (and remembers it as published). */
static int tel__due(north_tel_t *n, const gw_device_rt_t *dev, int64_t now)
{
    const gw_runtime_t *rt = gw_core_runtime(n->core);
    size_t di = (size_t)(dev - rt->devs);
    /* an NB-IoT report (no bus) is rare and always worth a message */
    int due = !rt->cfg->mqtt.on_change || dev->cfg->bus_idx < 0;

    if ((n->rt != rt || n->rt_npoints != rt->npoints || n->rt_ndevices != rt->cfg->ndevices) &&
        tel__build_points(n, rt) != 0)
        return 1;
    if (n->heartbeat_ms[di] > 0 && now - n->dev_pub_ms[di] >= n->heartbeat_ms[di])
        due = 1;
    for (size_t i = 0; i < dev->cfg->npoints && !due; i++) {
        uint32_t pid = dev->first_point + (uint32_t)i;
        const gw_sample_t *s = &rt->points[pid].last;
        if (n->pub_quality[pid] != (unsigned char)s->quality)
            due = 1;
        else if (rt->points[pid].text && tel__hash(rt->points[pid].text) != n->pub_text[pid])
            due = 1;
        else if (s->quality == GW_Q_GOOD && fabs(s->value - n->pub_value[pid]) > n->deadband[pid])
            due = 1;
    }
    if (!due)
        return 0;
    n->dev_pub_ms[di] = now;
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        uint32_t pid = dev->first_point + (uint32_t)i;
        n->pub_quality[pid] = (unsigned char)rt->points[pid].last.quality;
        n->pub_value[pid] = rt->points[pid].last.value;
        n->pub_text[pid] = rt->points[pid].text ? tel__hash(rt->points[pid].text) : 0;
    }
    return 1;
}

/* ---- the message ------------------------------------------------------ */

static char *tel__payload(const gw_runtime_t *rt, const gw_device_rt_t *dev, int64_t ts_ms)
{
    char ts[32];
    cJSON *o, *pts;
    char *text;

    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", rt->cfg->site_id);
    cJSON_AddStringToObject(o, "device", dev->cfg->name);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(ts_ms, ts, sizeof(ts)));
    pts = cJSON_AddObjectToObject(o, "points");
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        const gw_point_rt_t *pr = &rt->points[dev->first_point + i];
        const gw_sample_t *s = &pr->last;
        cJSON *p = cJSON_AddObjectToObject(pts, dev->cfg->points[i].name);
        if (s->quality == GW_Q_GOOD && pr->text)
            cJSON_AddStringToObject(p, "value", pr->text);
        else if (s->quality == GW_Q_GOOD)
            cJSON_AddNumberToObject(p, "value", s->value);
        else
            cJSON_AddNullToObject(p, "value");
        cJSON_AddStringToObject(p, "unit", dev->cfg->points[i].unit);
        cJSON_AddStringToObject(p, "quality", gw_quality_name(s->quality));
        if (pr->exception) /* the Modbus exception, by name */
            cJSON_AddStringToObject(p, "error", mb_exception_name(pr->exception));
        cJSON_AddStringToObject(p, "ts", gw_format_iso8601(s->ts_ms, ts, sizeof(ts)));
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

int north__tel_create(north_tel_t **out, north_session_t *s, const gw_core_t *core,
                      north_buf_t *buf)
{
    north_tel_t *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (!t)
        return GW_ENOMEM;
    t->s = s;
    t->core = core;
    t->buf = buf;
    *out = t;
    return 0;
}

void north__tel_device(north_tel_t *t, const gw_device_rt_t *dev, int64_t ts_ms)
{
    char topic[384], suffix[160];
    char *text;

    if (!t)
        return; /* MQTT disabled */
    if (!tel__due(t, dev, gw_mono_ms())) {
        t->suppressed++;
        return;
    }
    snprintf(suffix, sizeof(suffix), "devices/%s/telemetry", dev->cfg->name);
    north__topic(t->s, topic, sizeof(topic), suffix);
    text = tel__payload(gw_core_runtime(t->core), dev, ts_ms);
    if (!text)
        return;
    north__buf_publish(t->buf, topic, text, ts_ms);
    free(text);
}

uint64_t north__tel_suppressed(const north_tel_t *t)
{
    return t ? t->suppressed : 0;
}

void north__tel_free(north_tel_t *t)
{
    if (!t)
        return;
    tel__free_points(t);
    free(t);
}
