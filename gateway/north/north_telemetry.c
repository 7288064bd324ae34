/*
 * north_telemetry.c: telemetry on change (docs/mqtt.md, "Telemetry"). Loop
 * thread only.
 *
 * A device's message goes out when a point's quality changed, or its value
 * moved past the point's deadband since the last message, or the device's
 * heartbeat period passed (with mqtt.telemetry.on_change; else after every
 * poll). Each message carries every point. What cannot be published now is
 * buffered and replayed by north_buffer.c.
 *
 * The message is written straight into a buffer kept from one poll to the
 * next (base/gw_jwrite.h): no tree, no allocation once the buffer has the
 * size of the largest message, the poll's time formatted once, and the
 * same bytes cJSON printed before (tests/unit/test_tel_json.c).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
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
    gw_jw_t w;       /* the message, written here (kept: no allocation per poll) */
    gw_jw_time_t tc; /* the last time formatted */
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
    int due = dev->cfg->bus_idx < 0;

    if (!rt->cfg->mqtt.on_change)
        return 1; /* every poll goes out: nothing to compare, no per-point state (0.5 MB) */
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

/* One point's member: "name":{"value":..,"unit":..,"quality":..[,"error":..],"ts":..},
 * written into room reserved once for all of it. */
static void tel__point(gw_jw_t *w, gw_jw_time_t *tc, const drv_point_t *pc, const gw_point_rt_t *pr)
{
    const gw_sample_t *s = &pr->last;
    const char *q = gw_quality_name(s->quality), *ts = gw_jw_time(tc, s->ts_ms);
    const char *err = pr->exception ? mb_exception_name(pr->exception) : NULL;
    int text = s->quality == GW_Q_GOOD && pr->text;
    size_t nl = strlen(pc->name), ul = strlen(pc->unit), tl = text ? strlen(pr->text) : 0;
    size_t el = err ? strlen(err) : 0, ql = strlen(q);
    char *o = gw_jw_room(w, 6 * (nl + ul + tl + el) + ql + tc->len + GW_JW_NUM_MAX + 80);

    if (!o)
        return;
    o = gw_jw_put_str(o, pc->name, nl);
    o = gw_jw_put_lit(o, ":{\"value\":");
    if (text)
        o = gw_jw_put_str(o, pr->text, tl);
    else if (s->quality == GW_Q_GOOD)
        o += gw_jw_number(o, s->value);
    else
        o = gw_jw_put_lit(o, "null");
    o = gw_jw_put_lit(o, ",\"unit\":");
    o = gw_jw_put_str(o, pc->unit, ul);
    o = gw_jw_put_lit(o, ",\"quality\":\"");
    o = gw_jw_put(o, q, ql);
    if (err) { /* the Modbus exception, by name */
        o = gw_jw_put_lit(o, "\",\"error\":");
        o = gw_jw_put_str(o, err, el);
        o = gw_jw_put_lit(o, ",\"ts\":\"");
    } else {
        o = gw_jw_put_lit(o, "\",\"ts\":\"");
    }
    o = gw_jw_put(o, ts, tc->len);
    o = gw_jw_put_lit(o, "\"}");
    gw_jw_commit(w, o);
}

int north__tel_payload(gw_jw_t *w, gw_jw_time_t *tc, const char *site, const gw_device_rt_t *dev,
                       const gw_point_rt_t *points, int64_t ts_ms)
{
    const char *ts;

    gw_jw_reset(w);
    gw_jw_lit(w, "{\"v\":1,\"site\":");
    gw_jw_str(w, site);
    gw_jw_lit(w, ",\"device\":");
    gw_jw_str(w, dev->cfg->name);
    gw_jw_lit(w, ",\"ts\":\"");
    ts = gw_jw_time(tc, ts_ms);
    gw_jw_raw(w, ts, tc->len);
    gw_jw_lit(w, "\",\"points\":{");
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        if (i)
            gw_jw_lit(w, ",");
        tel__point(w, tc, &dev->cfg->points[i], &points[dev->first_point + i]);
    }
    gw_jw_lit(w, "}}");
    return w->oom ? GW_ENOMEM : 0;
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
    gw_jw_init(&t->w);
    gw_jw_time_init(&t->tc);
    *out = t;
    return 0;
}

void north__tel_device(north_tel_t *t, const gw_device_rt_t *dev, int64_t ts_ms)
{
    const gw_runtime_t *rt;
    char topic[384], suffix[160];

    if (!t)
        return; /* MQTT disabled */
    if (!tel__due(t, dev, gw_mono_ms())) {
        t->suppressed++;
        return;
    }
    rt = gw_core_runtime(t->core);
    if (north__tel_payload(&t->w, &t->tc, rt->cfg->site_id, dev, rt->points, ts_ms) != 0) {
        gw_log_error("mqtt", "telemetry of %s: out of memory", dev->cfg->name);
        gw_jw_free(&t->w);
        return;
    }
    snprintf(suffix, sizeof(suffix), "devices/%s/telemetry", dev->cfg->name);
    north__topic(t->s, topic, sizeof(topic), suffix);
    north__buf_publish_n(t->buf, topic, t->w.buf, t->w.len, ts_ms);
}

void north__tel_refresh(north_tel_t *t)
{
    if (t && t->pub_quality)
        memset(t->pub_quality, 0xff, t->rt_npoints); /* as never published */
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
    gw_jw_free(&t->w);
    free(t);
}
