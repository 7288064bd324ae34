/*
 * north_nbiot.c: NB-IoT uplinks: reports that a carrier platform (CTWing) or
 * an LwM2M bridge (OneNET style) pushes over MQTT, parsed by
 * north_nbiot_parse.c and applied to the points of the configured NB-IoT
 * devices through the core (docs/mqtt.md, "NB-IoT uplinks"). Loop thread
 * only.
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
 *
 * A report's timestamp comes from the device's clock and is bounded before
 * it is used (docs/mqtt.md, "NB-IoT uplinks"): more than time.max_future_s
 * ahead of the gateway's wall clock, it is taken at the time it arrived
 * (clamped, counted), so that a device whose clock says 2200 neither makes
 * every later report "late" nor blinds its rules; older than
 * time.max_age_s, it is refused (counted). Its monotonic time, what rules
 * order and time by, is now less its age.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"
#include "gateway/north/north_nbiot.h"

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

struct north_nbiot {
    north_session_t *s;
    gw_core_t *core;
    north_buf_t *buf;
    const gw_runtime_t *rt; /* devs was built for this runtime (and size) */
    size_t rt_ndevs;
    nb__dev_t *devs; /* one per cfg->nbiot.devs */
    uv_timer_t stale_timer;
    uint64_t accepted, duplicates, rejected, unknown, late, stale;
    uint64_t ts_clamped, ts_too_old;        /* timestamps out of bounds */
    uint64_t rejected_by[NB_REJECT__COUNT]; /* rejected, by reason */
};
/* ---- state ------------------------------------------------------------- */

static int nb__sync(north_nbiot_t *nb)
{
    const gw_runtime_t *rt = gw_core_runtime(nb->core);
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

/* Publish the late values of a report as their own message. */
static void nb__publish_late(north_nbiot_t *nb, const gw_device_rt_t *dev,
                             const north_nbiot_report_t *r, const unsigned char *late)
{
    char ts[32], topic[384], suffix[160];
    cJSON *o = cJSON_CreateObject(), *pts;
    char *text;

    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", gw_core_config(nb->core)->site_id);
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
    north__topic(nb->s, topic, sizeof(topic), suffix);
    text = cJSON_PrintUnformatted(o);
    if (text)
        north__buf_publish(nb->buf, topic, text, r->ts_ms);
    free(text);
    cJSON_Delete(o);
}

static void nb__apply(north_nbiot_t *nb, const north_nbiot_report_t *r, int64_t mono)
{
    const gw_runtime_t *rt = gw_core_runtime(nb->core);
    const gw_nbiot_dev_cfg_t *nd = &rt->cfg->nbiot.devs[r->dev];
    const gw_device_rt_t *dev = &rt->devs[nd->device_idx];
    unsigned char late[GW_ARRAY_SIZE(r->vals)] = {0};
    int fresh = 0, nlate = 0;

    nb->devs[r->dev].last_rx_ms = gw_mono_ms();
    nb->devs[r->dev].stale = 0;
    gw_core_device_seen(nb->core, (size_t)nd->device_idx, r->ts_ms, mono);
    if (r->online == 0) {
        gw_core_device_status(nb->core, (size_t)nd->device_idx, GW_DEV_OFFLINE,
                              "the platform reported the device offline");
        return;
    }
    if (r->event_type)
        gw_log(r->event_type == 3   ? GW_LOG_WARN
               : r->event_type == 2 ? GW_LOG_NOTICE
                                    : GW_LOG_INFO,
               "nbiot", "device %s: event report, type %d", dev->cfg->name, r->event_type);
    for (size_t i = 0; i < r->nvals; i++) {
        const drv_point_t *pt = &dev->cfg->points[r->vals[i].point];
        uint32_t pid = dev->first_point + (uint32_t)r->vals[i].point;
        const gw_sample_t *last = &rt->points[pid].last;
        gw_sample_t s = {.point_id = pid, .ts_ms = r->ts_ms, .quality = GW_Q_GOOD, .mono_ms = mono};
        if (last->quality == GW_Q_GOOD && r->ts_ms < last->ts_ms) {
            late[i] = 1;
            nlate++;
            continue;
        }
        s.value = r->vals[i].value * pt->scale + pt->offset;
        gw_core_point_set(nb->core, pid, &s);
        fresh = 1;
    }
    gw_core_device_status(nb->core, (size_t)nd->device_idx, GW_DEV_ONLINE, NULL);
    if (nlate) {
        nb->late++;
        nb__publish_late(nb, dev, r, late);
    }
    if (fresh)
        gw_core_device_updated(nb->core, (size_t)nd->device_idx, r->ts_ms);
}

static void nb__reject(north_nbiot_t *nb, const mq_message_t *m, north_nbiot_reject_t reason,
                       const char *why)
{
    nb->rejected++;
    if (reason > NB_REJECT_NONE && reason < NB_REJECT__COUNT)
        nb->rejected_by[reason]++;
    gw_log(nb->rejected <= NB_LOG_REJECTS ? GW_LOG_WARN : GW_LOG_DEBUG, "nbiot",
           "report on %s rejected: %s%s", m->topic, why,
           nb->rejected == NB_LOG_REJECTS ? " (further rejects are logged at debug)" : "");
}

/* Bound the report's timestamp (see the top); 0 with *mono set, or -1 when
 * the report is refused. */
static int nb__bound_ts(north_nbiot_t *nb, const gw_config_t *cfg, north_nbiot_report_t *r,
                        int64_t *mono)
{
    int64_t wall = gw_wall_ms(), now = gw_mono_ms();
    const char *dev = cfg->nbiot.devs[r->dev].name;
    char ts[32];

    if (r->ts_ms > wall + cfg->time.max_future_ms) {
        nb->ts_clamped++;
        gw_log(nb->ts_clamped <= NB_LOG_REJECTS ? GW_LOG_WARN : GW_LOG_DEBUG, "nbiot",
               "device %s: report stamped %s, %.0f s ahead of the gateway's clock: taken at its "
               "arrival",
               dev, gw_format_iso8601(r->ts_ms, ts, sizeof(ts)),
               (double)(r->ts_ms - wall) / 1000.0);
        r->ts_ms = wall;
    }
    if (r->ts_ms < wall - cfg->time.max_age_ms) {
        nb->ts_too_old++;
        gw_log(nb->ts_too_old <= NB_LOG_REJECTS ? GW_LOG_WARN : GW_LOG_DEBUG, "nbiot",
               "device %s: report stamped %s, older than time.max_age_s (%lld s): refused", dev,
               gw_format_iso8601(r->ts_ms, ts, sizeof(ts)),
               (long long)(cfg->time.max_age_ms / 1000));
        return -1;
    }
    *mono = r->ts_ms >= wall ? now : now - (wall - r->ts_ms);
    return 0;
}

/* Session handler: every message no part before took is a report. */
static int nb__on_message(void *arg, const mq_message_t *m)
{
    north_nbiot_t *nb = arg;
    const gw_config_t *cfg = gw_core_config(nb->core);
    north_nbiot_report_t r;
    char why[200];
    int64_t mono;

    if (nb__sync(nb) != 0)
        return 1;
    if (north__nbiot_parse(cfg, m->payload, m->len, &r, why, sizeof(why)) != 0) {
        nb__reject(nb, m, r.reject, why);
        return 1;
    }
    if (r.dev < 0) {
        nb->unknown++;
        gw_log_debug("nbiot", "report on %s for no configured device: ignored", m->topic);
        return 1;
    }
    if (nb__seen(&nb->devs[r.dev], r.key)) {
        nb->duplicates++;
        gw_log_debug("nbiot", "device %s: duplicate report dropped", cfg->nbiot.devs[r.dev].name);
        return 1;
    }
    if (nb__bound_ts(nb, cfg, &r, &mono) != 0)
        return 1;
    nb->accepted++;
    nb__apply(nb, &r, mono);
    return 1;
}

static void nb__stale_cb(uv_timer_t *t)
{
    north_nbiot_t *nb = t->data;
    const gw_config_t *cfg = gw_core_config(nb->core);
    int64_t now = gw_mono_ms();
    char err[128];

    if (nb__sync(nb) != 0)
        return;
    for (size_t i = 0; i < cfg->nbiot.ndevs; i++) {
        const gw_nbiot_dev_cfg_t *nd = &cfg->nbiot.devs[i];
        if (nb->devs[i].stale ||
            now - nb->devs[i].last_rx_ms <= nd->report_period_ms + nd->grace_ms)
            continue;
        nb->devs[i].stale = 1;
        nb->stale++;
        gw_core_device_mark(nb->core, (size_t)nd->device_idx, GW_Q_STALE);
        snprintf(err, sizeof(err), "no report for %lld s (expected every %lld s)",
                 (long long)((now - nb->devs[i].last_rx_ms) / 1000),
                 (long long)(nd->report_period_ms / 1000));
        gw_core_device_status(nb->core, (size_t)nd->device_idx, GW_DEV_OFFLINE, err);
        gw_core_device_updated(nb->core, (size_t)nd->device_idx, gw_wall_ms());
    }
}

static void nb__on_connected(void *arg)
{
    north_nbiot_t *nb = arg;
    const gw_nbiot_cfg_t *c = &gw_core_config(nb->core)->nbiot;
    char err[256];

    for (size_t i = 0; i < c->ntopics; i++) {
        if (north__subscribe(nb->s, c->topics[i], 1, "nbiot", err, sizeof(err)) != 0)
            gw_log_error("nbiot", "%s", err);
    }
}

/* ---- API (north_int.h) -------------------------------------------------- */

int north__nbiot_create(north_nbiot_t **out, uv_loop_t *loop, north_session_t *s, gw_core_t *core,
                        north_buf_t *buf)
{
    north_nbiot_t *nb = calloc(1, sizeof(*nb));
    north_handler_t h = {.connected = nb__on_connected, .message = nb__on_message};

    *out = NULL;
    if (!nb)
        return GW_ENOMEM;
    nb->s = s;
    nb->core = core;
    nb->buf = buf;
    uv_timer_init(loop, &nb->stale_timer);
    nb->stale_timer.data = nb;
    uv_timer_start(&nb->stale_timer, nb__stale_cb, NB_STALE_CHECK_MS, NB_STALE_CHECK_MS);
    h.arg = nb;
    north__session_on(s, &h);
    *out = nb;
    return 0;
}

void north__nbiot_free(north_nbiot_t *nb)
{
    if (!nb)
        return;
    free(nb->devs);
    free(nb);
}

cJSON *north__nbiot_metrics(const north_nbiot_t *nb)
{
    cJSON *o = cJSON_CreateObject(), *by;

    cJSON_AddNumberToObject(o, "accepted", nb ? (double)nb->accepted : 0);
    cJSON_AddNumberToObject(o, "duplicates", nb ? (double)nb->duplicates : 0);
    cJSON_AddNumberToObject(o, "rejected", nb ? (double)nb->rejected : 0);
    cJSON_AddNumberToObject(o, "unknown_device", nb ? (double)nb->unknown : 0);
    cJSON_AddNumberToObject(o, "late", nb ? (double)nb->late : 0);
    cJSON_AddNumberToObject(o, "went_stale", nb ? (double)nb->stale : 0);
    cJSON_AddNumberToObject(o, "ts_clamped_future", nb ? (double)nb->ts_clamped : 0);
    cJSON_AddNumberToObject(o, "ts_too_old", nb ? (double)nb->ts_too_old : 0);
    by = cJSON_AddObjectToObject(o, "rejected_by");
    for (int r = NB_REJECT_NONE + 1; r < NB_REJECT__COUNT; r++)
        cJSON_AddNumberToObject(by, north__nbiot_reject_name(r),
                                nb ? (double)nb->rejected_by[r] : 0);
    return o;
}

void north__nbiot_metrics_text(const north_nbiot_t *nb, FILE *o)
{
    static const char *const outcome[] = {"accepted", "duplicate", "rejected", "unknown_device",
                                          "too_old"};
    uint64_t n[] = {nb ? nb->accepted : 0, nb ? nb->duplicates : 0, nb ? nb->rejected : 0,
                    nb ? nb->unknown : 0, nb ? nb->ts_too_old : 0};

    fprintf(o, "# HELP plantroom_nbiot_reports_total NB-IoT reports received, by outcome "
               "(accepted; duplicate, malformed, for no configured device or stamped older than "
               "time.max_age_s: dropped).\n# TYPE plantroom_nbiot_reports_total counter\n");
    for (size_t i = 0; i < GW_ARRAY_SIZE(outcome); i++)
        fprintf(o, "plantroom_nbiot_reports_total{outcome=\"%s\"} %llu\n", outcome[i],
                (unsigned long long)n[i]);
    fprintf(o,
            "# HELP plantroom_nbiot_late_reports_total Accepted reports older than the "
            "points' latest values (published as late telemetry).\n"
            "# TYPE plantroom_nbiot_late_reports_total counter\n"
            "plantroom_nbiot_late_reports_total %llu\n",
            (unsigned long long)(nb ? nb->late : 0));
    fprintf(o,
            "# HELP plantroom_nbiot_clamped_total Accepted reports stamped more than "
            "time.max_future_s ahead, taken at their arrival.\n"
            "# TYPE plantroom_nbiot_clamped_total counter\nplantroom_nbiot_clamped_total %llu\n",
            (unsigned long long)(nb ? nb->ts_clamped : 0));
    fprintf(o,
            "# HELP plantroom_nbiot_went_stale_total Times an NB-IoT device's report period "
            "(plus grace) passed without a report.\n"
            "# TYPE plantroom_nbiot_went_stale_total counter\n"
            "plantroom_nbiot_went_stale_total %llu\n",
            (unsigned long long)(nb ? nb->stale : 0));
    fprintf(o, "# HELP plantroom_nbiot_rejected_total NB-IoT reports refused, by reason.\n"
               "# TYPE plantroom_nbiot_rejected_total counter\n");
    for (int r = NB_REJECT_NONE + 1; r < NB_REJECT__COUNT; r++)
        fprintf(o, "plantroom_nbiot_rejected_total{reason=\"%s\"} %llu\n",
                north__nbiot_reject_name(r), nb ? (unsigned long long)nb->rejected_by[r] : 0ULL);
}
