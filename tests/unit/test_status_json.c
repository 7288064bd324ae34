/*
 * test_status_json.c: the status's "devices" written as text
 * (core__status_device in gateway/core/core_status.c, which keeps the
 * answer to `plantroomctl status` of a large site from building a cJSON
 * tree of every point) is byte for byte what the cJSON tree it replaced
 * printed: random devices (names, buses, units and errors with quotes,
 * backslashes, control characters and UTF-8; every status and quality;
 * values of every kind including NaN, the infinities, -0 and denormals;
 * times of 0 (null), old, new; ages) against that tree builder, kept here
 * as the reference. The whole array is checked too, as a raw item printed
 * inside its parent object, which is how the status carries it.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_jwrite.h"
#include "gateway/core/core_int.h"
#include "t.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- random ------------------------------------------------------------- */

static uint64_t t_rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return t_rng;
}

static double rnd_value(void)
{
    uint64_t u = rnd();
    double d;

    switch (rnd() % 8) {
    case 0:
        memcpy(&d, &u, sizeof(d));
        return d;
    case 1:
        return (double)(int64_t)(rnd() % 200001 - 100000) / 10.0;
    case 2:
        return (double)(rnd() % 65536);
    case 3:
        return ldexp((double)(rnd() >> 12), -1074); /* denormals */
    case 4:
        return (double[]){NAN, INFINITY, -INFINITY, -0.0, 0.0}[rnd() % 5];
    case 5:
        return (double)(float)((double)(rnd() % 100000) / 100.0);
    default:
        return ldexp((double)(rnd() >> 11), (int)(rnd() % 120) - 60);
    }
}

static void rnd_name(char *s, size_t len)
{
    static const char pool[] = "abcxyz_019 -.\"\\/\x01\n\t\xc3\xa9";
    size_t n = rnd() % len;

    for (size_t i = 0; i < n; i++)
        s[i] = pool[rnd() % (sizeof(pool) - 1)];
    s[n] = '\0';
}

static int64_t rnd_time(void)
{
    return rnd() % 4 == 0 ? 0 : (int64_t)(rnd() % 4102444800000ULL);
}

/* ---- the reference: the cJSON tree the status built before -------------- */

static void ref_time(cJSON *o, const char *key, int64_t ms)
{
    char ts[32];

    if (ms > 0)
        cJSON_AddStringToObject(o, key, gw_format_iso8601(ms, ts, sizeof(ts)));
    else
        cJSON_AddNullToObject(o, key);
}

static const char *ref_status(gw_dev_status_t s)
{
    return s == GW_DEV_ONLINE ? "online" : s == GW_DEV_OFFLINE ? "offline" : "unknown";
}

static cJSON *ref_device(const gw_runtime_t *rt, const gw_device_rt_t *dev, int64_t now_mono)
{
    cJSON *o = cJSON_CreateObject(), *pts;
    int64_t last_poll = 0;

    cJSON_AddStringToObject(o, "name", dev->cfg->name);
    cJSON_AddStringToObject(o, "bus", dev->cfg->bus);
    cJSON_AddNumberToObject(o, "unit_id", dev->cfg->unit_id);
    cJSON_AddStringToObject(o, "status", ref_status(dev->status));
    cJSON_AddBoolToObject(o, "online", dev->status == GW_DEV_ONLINE);
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        if (rt->points[dev->first_point + i].last.ts_ms > last_poll)
            last_poll = rt->points[dev->first_point + i].last.ts_ms;
    }
    ref_time(o, "last_poll", last_poll);
    ref_time(o, "last_ok", dev->last_ok_ms);
    if (dev->last_ok_mono)
        cJSON_AddNumberToObject(o, "last_ok_age_s",
                                (double)(now_mono - dev->last_ok_mono) / 1000.0);
    else
        cJSON_AddNullToObject(o, "last_ok_age_s");
    cJSON_AddBoolToObject(o, "overdue", dev->overdue);
    cJSON_AddNumberToObject(o, "polls", (double)dev->polls);
    cJSON_AddNumberToObject(o, "errors", (double)dev->errors);
    cJSON_AddNumberToObject(o, "consecutive_failures", dev->fails);
    if (dev->last_err[0])
        cJSON_AddStringToObject(o, "last_error", dev->last_err);
    else
        cJSON_AddNullToObject(o, "last_error");
    pts = cJSON_AddArrayToObject(o, "points");
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        const gw_sample_t *s = &rt->points[dev->first_point + i].last;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "name", dev->cfg->points[i].name);
        if (s->quality == GW_Q_GOOD)
            cJSON_AddNumberToObject(p, "value", s->value);
        else
            cJSON_AddNullToObject(p, "value");
        cJSON_AddStringToObject(p, "unit", dev->cfg->points[i].unit);
        cJSON_AddStringToObject(p, "quality", gw_quality_name(s->quality));
        ref_time(p, "ts", s->ts_ms);
        cJSON_AddItemToArray(pts, p);
    }
    return o;
}

/* ---- a random site ------------------------------------------------------ */

#define T_NDEV 12
#define T_NPTS 30

static gw_device_cfg_t t_cfgs[T_NDEV];
static drv_point_t t_pts[T_NDEV][T_NPTS];
static gw_device_rt_t t_devs[T_NDEV];
static gw_point_rt_t t_points[T_NDEV * T_NPTS];
static gw_config_t t_config;
static gw_runtime_t t_rt;

static void site_fill(size_t ndev)
{
    uint32_t first = 0;

    memset(t_cfgs, 0, sizeof(t_cfgs));
    memset(t_devs, 0, sizeof(t_devs));
    memset(t_points, 0, sizeof(t_points));
    for (size_t d = 0; d < ndev; d++) {
        gw_device_cfg_t *c = &t_cfgs[d];
        gw_device_rt_t *r = &t_devs[d];
        int64_t ts = rnd_time();
        rnd_name(c->name, 20);
        rnd_name(c->bus, 12);
        c->unit_id = (int)(rnd() % 248);
        c->points = t_pts[d];
        c->npoints = rnd() % (T_NPTS + 1);
        r->cfg = c;
        r->first_point = first;
        r->status = (gw_dev_status_t)(rnd() % 3);
        r->last_ok_ms = rnd_time();
        r->last_ok_mono = rnd() % 3 ? (int64_t)(rnd() % 1000000000) : 0;
        r->polls = rnd() % 3 ? rnd() : rnd() % 1000;
        r->errors = rnd() % 100000;
        r->fails = (int)(rnd() % 1000);
        r->overdue = (int)(rnd() % 2);
        if (rnd() % 2)
            rnd_name(r->last_err, sizeof(r->last_err));
        else
            r->last_err[0] = '\0';
        for (size_t i = 0; i < c->npoints; i++) {
            gw_sample_t *s = &t_points[first + i].last;
            rnd_name(t_pts[d][i].name, 16);
            rnd_name(t_pts[d][i].unit, 8);
            s->quality = (gw_quality_t)(rnd() % 3 ? GW_Q_GOOD : rnd() % 4);
            s->value = rnd_value();
            s->ts_ms = rnd() % 5 ? ts : rnd_time();
        }
        first += (uint32_t)c->npoints;
    }
    t_config.devices = t_cfgs;
    t_config.ndevices = ndev;
    t_rt.cfg = &t_config;
    t_rt.devs = t_devs;
    t_rt.points = t_points;
    t_rt.npoints = first;
}

T_TEST(devices_against_the_cjson_tree)
{
    gw_jw_t w;
    gw_jw_time_t tc;
    long bad = 0;

    gw_jw_init(&w);
    for (int i = 0; i < 400; i++) {
        int64_t now = (int64_t)(rnd() % 2000000000);
        site_fill(1 + rnd() % T_NDEV);
        for (size_t d = 0; d < t_config.ndevices; d++) {
            cJSON *ref = ref_device(&t_rt, &t_devs[d], now);
            char *text = cJSON_PrintUnformatted(ref);
            gw_jw_reset(&w);
            gw_jw_time_init(&tc);
            core__status_device(&w, &tc, &t_rt, &t_devs[d], now);
            if (!text || w.oom || strcmp(text, w.buf) != 0 || strlen(text) != w.len) {
                if (bad++ == 0)
                    fprintf(stderr, "cJSON:   %s\nwritten: %s\n", text ? text : "-", w.buf);
            }
            free(text);
            cJSON_Delete(ref);
        }
    }
    T_CHECK_EQ_INT(bad, 0);
    gw_jw_free(&w);
}

/* The array as the status carries it: a raw item among other members,
 * printed with its parent, against the tree of the same members. The
 * time cache is shared by all the devices of one answer. */
T_TEST(array_as_a_raw_item_prints_as_the_tree)
{
    long bad = 0;

    for (int i = 0; i < 100; i++) {
        int64_t now = (int64_t)(rnd() % 2000000000);
        cJSON *ref = cJSON_CreateObject(), *mine = cJSON_CreateObject(), *arr, *raw;
        char *a, *b;
        gw_jw_t w;
        gw_jw_time_t tc;

        site_fill(rnd() % (T_NDEV + 1));
        cJSON_AddStringToObject(ref, "site", "s");
        cJSON_AddStringToObject(mine, "site", "s");
        arr = cJSON_AddArrayToObject(ref, "devices");
        gw_jw_init(&w);
        gw_jw_time_init(&tc);
        gw_jw_lit(&w, "[");
        for (size_t d = 0; d < t_config.ndevices; d++) {
            cJSON_AddItemToArray(arr, ref_device(&t_rt, &t_devs[d], now));
            if (d)
                gw_jw_lit(&w, ",");
            core__status_device(&w, &tc, &t_rt, &t_devs[d], now);
        }
        gw_jw_lit(&w, "]");
        raw = cJSON_CreateRaw(w.buf);
        gw_jw_free(&w);
        cJSON_AddItemToObject(mine, "devices", raw);
        cJSON_AddArrayToObject(ref, "rules");
        cJSON_AddArrayToObject(mine, "rules");
        a = cJSON_PrintUnformatted(ref);
        b = cJSON_PrintUnformatted(mine);
        if (!a || !b || strcmp(a, b) != 0) {
            if (bad++ == 0)
                fprintf(stderr, "tree: %s\nraw:  %s\n", a ? a : "-", b ? b : "-");
        }
        free(a);
        free(b);
        cJSON_Delete(ref);
        cJSON_Delete(mine);
    }
    T_CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    T_RUN(devices_against_the_cjson_tree);
    T_RUN(array_as_a_raw_item_prints_as_the_tree);
    return t_done();
}
