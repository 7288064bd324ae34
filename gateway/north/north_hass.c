/*
 * north_hass.c: Home Assistant MQTT discovery (docs/mqtt.md, "Home
 * Assistant"). With mqtt.homeassistant.enabled, every point of every device
 * is announced on connect as a retained sensor config, so that a stock Home
 * Assistant shows it without hand configuration: its state comes from the
 * device's telemetry topic through a value_template, its availability from
 * the gateway's and the device's status topics. Loop thread only.
 */
#include "gateway/base/gw_log.h"
#include "gateway/north/north_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct north_hass {
    north_session_t *s;
    const gw_core_t *core;
};

/* Home Assistant's unit spelling and device class for plantroom's units. */
static void hass__unit(const char *unit, const char **ha_unit, const char **cls,
                       const char **state_class)
{
    static const struct {
        const char *unit, *ha, *cls, *state_class;
    } map[] = {
        {"degC", "°C", "temperature", "measurement"}, {"V", "V", "voltage", "measurement"},
        {"A", "A", "current", "measurement"},         {"W", "W", "power", "measurement"},
        {"kW", "kW", "power", "measurement"},         {"kWh", "kWh", "energy", "total_increasing"},
        {"Hz", "Hz", "frequency", "measurement"},     {"m3", "m³", "water", "total_increasing"},
        {"bar", "bar", "pressure", "measurement"},    {"kPa", "kPa", "pressure", "measurement"},
    };

    *ha_unit = unit[0] ? unit : NULL;
    *cls = NULL;
    *state_class = unit[0] ? "measurement" : NULL;
    for (size_t i = 0; i < GW_ARRAY_SIZE(map); i++) {
        if (strcmp(unit, map[i].unit) == 0) {
            *ha_unit = map[i].ha;
            *cls = map[i].cls;
            *state_class = map[i].state_class;
            return;
        }
    }
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

static void hass__device(north_hass_t *h, cJSON *o, const gw_device_cfg_t *dc)
{
    const gw_config_t *c = gw_core_config(h->core);
    cJSON *dev = cJSON_AddObjectToObject(o, "device");
    cJSON *ids = cJSON_AddArrayToObject(dev, "identifiers");
    char id[160];

    snprintf(id, sizeof(id), "plantroom_%s_%s", c->site_id, dc->name);
    cJSON_AddItemToArray(ids, cJSON_CreateString(id));
    cJSON_AddStringToObject(dev, "name", dc->name);
    cJSON_AddStringToObject(dev, "manufacturer", "plantroom");
    cJSON_AddStringToObject(dev, "model", dc->bus_idx < 0 ? "NB-IoT" : dc->profile);
    if (dc->room[0] || dc->floor[0]) {
        char area[128];
        snprintf(area, sizeof(area), "%s%s%s", dc->floor, dc->floor[0] && dc->room[0] ? " " : "",
                 dc->room);
        cJSON_AddStringToObject(dev, "suggested_area", area);
    }
    cJSON_AddStringToObject(dev, "via_device", c->site_id);
}

/* One point's discovery config. */
static void hass__point(north_hass_t *h, const gw_device_cfg_t *dc, const drv_point_t *pt)
{
    const gw_config_t *c = gw_core_config(h->core);
    const char *unit, *cls, *state_class;
    char topic[512], suffix[160], buf[384];
    cJSON *o = cJSON_CreateObject();
    char *text;

    cJSON_AddStringToObject(o, "name", pt->name);
    snprintf(buf, sizeof(buf), "plantroom_%s_%s_%s", c->site_id, dc->name, pt->name);
    cJSON_AddStringToObject(o, "unique_id", buf);
    snprintf(suffix, sizeof(suffix), "devices/%s/telemetry", dc->name);
    north__topic(h->s, buf, sizeof(buf), suffix);
    cJSON_AddStringToObject(o, "state_topic", buf);
    snprintf(buf, sizeof(buf), "{{ value_json.points['%s'].value }}", pt->name);
    cJSON_AddStringToObject(o, "value_template", buf);
    hass__unit(pt->unit, &unit, &cls, &state_class);
    if (unit)
        cJSON_AddStringToObject(o, "unit_of_measurement", unit);
    if (cls)
        cJSON_AddStringToObject(o, "device_class", cls);
    if (state_class)
        cJSON_AddStringToObject(o, "state_class", state_class);
    hass__availability(h, o, dc->name);
    hass__device(h, o, dc);
    /* node id and object id: letters, digits, '_' and '-' only */
    snprintf(topic, sizeof(topic), "%s/sensor/plantroom_%s/%s_%s/config", c->mqtt.hass_prefix,
             c->site_id, dc->name, pt->name);
    for (char *p = topic + strlen(c->mqtt.hass_prefix) + 8; *p; p++) {
        if (*p == '.')
            *p = '_';
    }
    text = cJSON_PrintUnformatted(o);
    if (text && north__publish(h->s, topic, text, strlen(text), 1, 1, 0, buf, sizeof(buf)) != 0)
        gw_log_debug("mqtt", "%s", buf);
    free(text);
    cJSON_Delete(o);
}

/* Session handler: announce every point on each connect. */
static void hass__announce(void *arg)
{
    north_hass_t *h = arg;
    const gw_config_t *c = gw_core_config(h->core);
    size_t n = 0;

    if (!c->mqtt.hass || !north__session_connected(h->s))
        return;
    for (size_t i = 0; i < c->ndevices; i++) {
        for (size_t j = 0; j < c->devices[i].npoints; j++, n++)
            hass__point(h, &c->devices[i], &c->devices[i].points[j]);
    }
    gw_log_info("mqtt", "Home Assistant discovery: %zu sensors announced under %s/sensor/", n,
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
