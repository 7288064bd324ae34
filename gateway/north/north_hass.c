/*
 * north_hass.c: Home Assistant MQTT discovery (docs/mqtt.md, "Home
 * Assistant discovery"). With mqtt.homeassistant.enabled, the gateway
 * announces itself as a device (a connectivity binary_sensor on its status
 * topic) and every point of every device as a retained entity config under
 * it (via_device): a sensor, a binary_sensor for on/off points, or, for
 * points that may be written from Home Assistant, a number, switch or
 * select. north_hass_map.c decides the kind, unit, classes and precision.
 * States come from the device's telemetry topic through a value_template
 * that renders nothing for a late or replayed message (which Home
 * Assistant ignores), so a state never goes back in time. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PLANTROOM_VERSION
#define PLANTROOM_VERSION "0.1.0"
#endif

struct north_hass {
    north_session_t *s;
    const gw_core_t *core;
};

/* The value template of a point: its value from a live telemetry message;
 * nothing from a late or replayed one or one without the point. A binary
 * point renders ON/OFF, a missing value (quality not good) "None". */
static void hass__template(char *buf, size_t len, const char *point, int onoff)
{
    snprintf(buf, len,
             "{%% set p = value_json.points.get('%s') %%}"
             "{%% if p is not none and not value_json.get('late') and "
             "not value_json.get('replayed') %%}%s{%% endif %%}",
             point,
             onoff ? "{{ 'None' if p.value is none else ('ON' if p.value else 'OFF') }}"
                   : "{{ p.value }}");
}

static void hass__availability(north_hass_t *h, cJSON *o, const char *device)
{
    cJSON *av = cJSON_AddArrayToObject(o, "availability");
    char topic[384], suffix[160];

    for (int i = 0; i < 2; i++) {
        cJSON *a = cJSON_CreateObject();
        snprintf(suffix, sizeof(suffix), "devices/%s/status", device);
        north__topic(h->s, topic, sizeof(topic), i == 0 ? "status" : suffix);
        cJSON_AddStringToObject(a, "topic", topic);
        cJSON_AddStringToObject(a, "value_template", "{{ value_json.status }}");
        cJSON_AddStringToObject(a, "payload_available", "online");
        cJSON_AddStringToObject(a, "payload_not_available", "offline");
        cJSON_AddItemToArray(av, a);
    }
    cJSON_AddStringToObject(o, "availability_mode", "all");
}

/* Who publishes these configs (Home Assistant logs it with each entity). */
static void hass__origin(cJSON *o)
{
    cJSON *org = cJSON_AddObjectToObject(o, "origin");

    cJSON_AddStringToObject(org, "name", "plantroom");
    cJSON_AddStringToObject(org, "sw_version", PLANTROOM_VERSION);
}

static void hass__gateway_id(const gw_config_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "plantroom_%s", c->site_id);
}

/* The device block of a point's config: the field device, reached through
 * the gateway device (announced by hass__gateway). */
static void hass__device(north_hass_t *h, cJSON *o, const gw_device_cfg_t *dc)
{
    const gw_config_t *c = gw_core_config(h->core);
    cJSON *dev = cJSON_AddObjectToObject(o, "device");
    cJSON *ids = cJSON_AddArrayToObject(dev, "identifiers");
    const char *area = dc->room[0] ? dc->room : dc->floor[0] ? dc->floor : dc->building;
    char id[160];

    snprintf(id, sizeof(id), "plantroom_%s_%s", c->site_id, dc->name);
    cJSON_AddItemToArray(ids, cJSON_CreateString(id));
    cJSON_AddStringToObject(dev, "name", dc->name);
    if (dc->manufacturer[0])
        cJSON_AddStringToObject(dev, "manufacturer", dc->manufacturer);
    cJSON_AddStringToObject(dev, "model",
                            dc->model[0]      ? dc->model
                            : dc->bus_idx < 0 ? "NB-IoT device"
                            : dc->profile[0]  ? dc->profile
                                              : "Modbus device");
    if (area[0])
        cJSON_AddStringToObject(dev, "suggested_area", area);
    hass__gateway_id(c, id, sizeof(id));
    cJSON_AddStringToObject(dev, "via_device", id);
}

/* <ha prefix>/<component>/plantroom_<site>/<object>/config, with any '.'
 * of the site or object made '_' (Home Assistant allows [a-zA-Z0-9_-]). */
static void hass__config_topic(north_hass_t *h, char *buf, size_t len, north_hass_kind_t k,
                               const char *object)
{
    const gw_config_t *c = gw_core_config(h->core);
    size_t start;

    snprintf(buf, len, "%s/%s/", c->mqtt.hass_prefix, north__hass_kind_name(k));
    start = strlen(buf);
    snprintf(buf + start, len - start, "plantroom_%s/%s/config", c->site_id, object);
    for (char *p = buf + start; *p; p++) {
        if (*p == '.')
            *p = '_';
    }
}

static void hass__send(north_hass_t *h, const char *topic, cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    char err[160];

    if (north__publish(h->s, topic, text ? text : "", text ? strlen(text) : 0, 1, 1, 0, err,
                       sizeof(err)) != 0)
        gw_log_debug("mqtt", "%s", err);
    free(text);
}

/* The gateway itself: a device with a connectivity binary_sensor fed by the
 * gateway status topic, so that every field device's via_device resolves. */
static void hass__gateway(north_hass_t *h)
{
    const gw_config_t *c = gw_core_config(h->core);
    cJSON *o = cJSON_CreateObject(), *dev, *ids;
    char id[160], topic[512];

    hass__gateway_id(c, id, sizeof(id));
    cJSON_AddStringToObject(o, "name", "Connectivity");
    snprintf(topic, sizeof(topic), "%s_gateway", id);
    cJSON_AddStringToObject(o, "unique_id", topic);
    cJSON_AddStringToObject(o, "device_class", "connectivity");
    cJSON_AddStringToObject(o, "entity_category", "diagnostic");
    north__topic(h->s, topic, sizeof(topic), "status");
    cJSON_AddStringToObject(o, "state_topic", topic);
    cJSON_AddStringToObject(o, "value_template",
                            "{{ 'ON' if value_json.status == 'online' else 'OFF' }}");
    cJSON_AddStringToObject(o, "payload_on", "ON");
    cJSON_AddStringToObject(o, "payload_off", "OFF");
    dev = cJSON_AddObjectToObject(o, "device");
    ids = cJSON_AddArrayToObject(dev, "identifiers");
    cJSON_AddItemToArray(ids, cJSON_CreateString(id));
    cJSON_AddStringToObject(dev, "name", c->site_name[0] ? c->site_name : c->site_id);
    cJSON_AddStringToObject(dev, "manufacturer", "plantroom");
    cJSON_AddStringToObject(dev, "model", "plantroomd gateway");
    cJSON_AddStringToObject(dev, "sw_version", PLANTROOM_VERSION);
    hass__origin(o);
    hass__config_topic(h, topic, sizeof(topic), NORTH_HASS_BINARY, "gateway");
    hass__send(h, topic, o);
    cJSON_Delete(o);
}

/* The entity fields that depend on its kind. */
static void hass__entity(cJSON *o, const north_hass_entity_t *e)
{
    if (e->unit)
        cJSON_AddStringToObject(o, "unit_of_measurement", e->unit);
    if (e->device_class)
        cJSON_AddStringToObject(o, "device_class", e->device_class);
    if (e->state_class)
        cJSON_AddStringToObject(o, "state_class", e->state_class);
    if (e->precision >= 0 && e->kind == NORTH_HASS_SENSOR)
        cJSON_AddNumberToObject(o, "suggested_display_precision", e->precision);
    if (e->kind == NORTH_HASS_BINARY) {
        cJSON_AddStringToObject(o, "payload_on", "ON");
        cJSON_AddStringToObject(o, "payload_off", "OFF");
    }
}

/* One point's discovery config; the topics of the other kinds are cleared
 * (a point that was a sensor in an older release, or a setpoint that is no
 * longer writable, leaves no stale entity). */
static void hass__point(north_hass_t *h, const gw_device_cfg_t *dc, const drv_point_t *pt)
{
    const gw_config_t *c = gw_core_config(h->core);
    north_hass_entity_t e;
    char topic[512], suffix[160], buf[512], object[160];
    cJSON *o = cJSON_CreateObject();

    north__hass_classify(pt, north__hass_writable(c, pt), &e);
    cJSON_AddStringToObject(o, "name", pt->name);
    snprintf(buf, sizeof(buf), "plantroom_%s_%s_%s", c->site_id, dc->name, pt->name);
    cJSON_AddStringToObject(o, "unique_id", buf);
    snprintf(suffix, sizeof(suffix), "devices/%s/telemetry", dc->name);
    north__topic(h->s, buf, sizeof(buf), suffix);
    cJSON_AddStringToObject(o, "state_topic", buf);
    hass__template(buf, sizeof(buf), pt->name,
                   e.kind == NORTH_HASS_BINARY || e.kind == NORTH_HASS_SWITCH);
    cJSON_AddStringToObject(o, "value_template", buf);
    hass__entity(o, &e);
    if (e.kind >= NORTH_HASS_NUMBER) {
        snprintf(suffix, sizeof(suffix), "commands/%s/setpoint", c->mqtt.hass_sender);
        north__topic(h->s, topic, sizeof(topic), suffix);
        north__hass_command(o, topic, dc->name, pt, &e);
    }
    hass__availability(h, o, dc->name);
    hass__device(h, o, dc);
    hass__origin(o);
    snprintf(object, sizeof(object), "%s_%s", dc->name, pt->name);
    for (int k = NORTH_HASS_SENSOR; k <= NORTH_HASS_SELECT; k++) {
        hass__config_topic(h, topic, sizeof(topic), (north_hass_kind_t)k, object);
        hass__send(h, topic, k == (int)e.kind ? o : NULL);
    }
    cJSON_Delete(o);
}

/* Session handler: announce the gateway and every point on each connect. */
static void hass__announce(void *arg)
{
    north_hass_t *h = arg;
    const gw_config_t *c = gw_core_config(h->core);
    size_t n = 0;

    if (!c->mqtt.hass || !north__session_connected(h->s))
        return;
    hass__gateway(h);
    for (size_t i = 0; i < c->ndevices; i++) {
        for (size_t j = 0; j < c->devices[i].npoints; j++, n++)
            hass__point(h, &c->devices[i], &c->devices[i].points[j]);
    }
    gw_log_info("mqtt", "Home Assistant discovery: %zu entities announced under %s/", n,
                c->mqtt.hass_prefix);
}

int north__hass_create(north_hass_t **out, north_session_t *s, const gw_core_t *core)
{
    north_hass_t *h = calloc(1, sizeof(*h));
    north_handler_t hd = {.connected = hass__announce};

    *out = NULL;
    if (!h)
        return GW_ENOMEM;
    h->s = s;
    h->core = core;
    hd.arg = h;
    north__session_on(s, &hd);
    *out = h;
    return 0;
}

void north__hass_free(north_hass_t *h)
{
    free(h);
}
