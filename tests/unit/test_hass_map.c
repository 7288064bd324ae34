/*
 * test_hass_map.c: point names (drv_name_check and the error a profile point
 * gets), presentation keys (drv_point_parse_hints, a profile's medium and
 * manufacturer), and what a point becomes in Home Assistant
 * (north__hass_classify): component, unit spelling, device class by unit
 * and medium, state class and display precision.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "drivers/drv.h"
#include "gateway/base/gw_types.h"
#include "gateway/north/north_int.h"
#include "tests/unit/t.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int has_error(const gw_errlist_t *el, const char *needle)
{
    for (size_t i = 0; i < el->n; i++) {
        if (strstr(el->msgs[i], needle))
            return 1;
    }
    return 0;
}

static int parse(const char *json, drv_point_t *pt, gw_errlist_t *el)
{
    cJSON *o = cJSON_Parse(json);
    int rc = drv_point_parse(o, "p.json.points[0]", DRV_ORDER_ABCD, 0, pt, NULL, el);
    cJSON_Delete(o);
    return rc;
}

T_TEST(point_names)
{
    static const char *const good[] = {"a", "motor_temperature", "zone_1_fire", "L1-voltage",
                                       "x123"};
    static const char *const bad[] = {"",    "flow rate", "it's", "1st",         "_x",   "a.b",
                                      "a/b", "a+b",       "a#",   "caf\xc3\xa9", "{{x}}"};
    char why[96], long_name[80];

    for (size_t i = 0; i < GW_ARRAY_SIZE(good); i++)
        T_CHECK(drv_name_check(good[i], why, sizeof(why)) == 0);
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++)
        T_CHECK(drv_name_check(bad[i], why, sizeof(why)) == GW_EINVAL);
    drv_name_check("flow rate", why, sizeof(why));
    T_CHECK_STR(why, "has a space at position 5");
    drv_name_check("it's", why, sizeof(why));
    T_CHECK_STR(why, "has ''' at position 3");
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    T_CHECK(drv_name_check(long_name, why, sizeof(why)) == GW_EINVAL);
    long_name[63] = '\0';
    T_CHECK(drv_name_check(long_name, why, sizeof(why)) == 0);
}

T_TEST(bad_point_name_is_a_config_error)
{
    drv_point_t p;
    gw_errlist_t el;

    gw_errlist_init(&el);
    T_CHECK(parse("{\"name\":\"flow rate\",\"address\":0}", &p, &el) == GW_ECONFIG);
    T_CHECK(has_error(&el, "p.json.points[0].name: point name \"flow rate\" has a space"));
    T_CHECK(has_error(&el, "\"Point names\""));
    gw_errlist_free(&el);
}

T_TEST(presentation_keys)
{
    drv_point_t p;
    gw_errlist_t el;

    gw_errlist_init(&el);
    T_CHECK(parse("{\"name\":\"v\",\"address\":0}", &p, &el) == 0);
    T_CHECK(p.precision == -1 && p.state_class == DRV_SC_AUTO && !p.device_class[0]);
    T_CHECK(parse("{\"name\":\"v\",\"address\":0,\"device_class\":\"smoke\",\"state_class\":"
                  "\"total_increasing\",\"precision\":3,\"medium\":\"gas\"}",
                  &p, &el) == 0);
    T_CHECK_STR(p.device_class, "smoke");
    T_CHECK(p.state_class == DRV_SC_TOTAL_INCREASING && p.precision == 3);
    T_CHECK(p.medium == DRV_MEDIUM_GAS);
    T_CHECK(parse("{\"name\":\"v\",\"address\":0,\"device_class\":\"Smoke!\",\"state_class\":"
                  "\"rising\",\"precision\":7,\"medium\":\"oil\"}",
                  &p, &el) == GW_ECONFIG);
    T_CHECK(has_error(&el, "points[0].device_class: \"Smoke!\": a device class is lower-case"));
    T_CHECK(has_error(&el, "points[0].state_class: must be one of \"none\", \"measurement\""));
    T_CHECK(has_error(&el, "points[0].precision"));
    T_CHECK(has_error(&el, "points[0].medium: must be one of \"water\", \"gas\", got \"oil\""));
    gw_errlist_free(&el);
}

T_TEST(profile_medium_and_maker)
{
    char path[] = "/tmp/test_hass_map_XXXXXX";
    int fd = mkstemp(path);
    const char *text = "{\"profile\":\"gas_meter\",\"manufacturer\":\"Elster\",\"model\":\"BK-G4\","
                       "\"medium\":\"gas\",\"points\":[{\"name\":\"volume\",\"address\":0,"
                       "\"unit\":\"m3\"},{\"name\":\"tap\",\"address\":1,\"unit\":\"m3\","
                       "\"medium\":\"water\"}]}";
    drv_profile_t *prof = NULL;
    gw_errlist_t el;

    T_CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    gw_errlist_init(&el);
    T_CHECK(drv_profile_load(path, &prof, &el) == 0);
    if (prof) {
        T_CHECK_STR(prof->manufacturer, "Elster");
        T_CHECK_STR(prof->model, "BK-G4");
        T_CHECK(prof->points[0].medium == DRV_MEDIUM_GAS);
        T_CHECK(prof->points[1].medium == DRV_MEDIUM_WATER);
    }
    drv_profile_free(prof);
    gw_errlist_free(&el);
    unlink(path);
}

static north_hass_entity_t classify(const char *json)
{
    north_hass_entity_t e;
    drv_point_t p;
    gw_errlist_t el;

    gw_errlist_init(&el);
    if (parse(json, &p, &el) != 0)
        fprintf(stderr, "%s: %s\n", json, el.n ? el.msgs[0] : "?");
    gw_errlist_free(&el);
    north__hass_classify(&p, NORTH_HASS_SENSOR, &e);
    return e;
}

#define T_ENTITY(json, kind_, cls, unit_, sc, prec)                                                \
    do {                                                                                           \
        north_hass_entity_t e_ = classify(json);                                                   \
        T_CHECK_STR(north__hass_kind_name(e_.kind), kind_);                                        \
        T_CHECK_STR(e_.device_class ? e_.device_class : "-", cls);                                 \
        T_CHECK_STR(e_.unit ? e_.unit : "-", unit_);                                               \
        T_CHECK_STR(e_.state_class ? e_.state_class : "-", sc);                                    \
        T_CHECK_EQ_INT(e_.precision, prec);                                                        \
    } while (0)

T_TEST(entities_by_unit_and_hints)
{
    T_ENTITY("{\"name\":\"f\",\"address\":0,\"type\":\"bool\",\"bit\":3,\"device_class\":"
             "\"problem\"}",
             "binary_sensor", "problem", "-", "-", -1);
    T_ENTITY("{\"name\":\"e\",\"address\":0,\"type\":\"float32\",\"unit\":\"Wh\"}", "sensor",
             "energy", "Wh", "total_increasing", 0);
    T_ENTITY("{\"name\":\"e\",\"address\":0,\"type\":\"float32\",\"unit\":\"MWh\"}", "sensor",
             "energy", "MWh", "total_increasing", 3);
    T_ENTITY("{\"name\":\"e\",\"address\":0,\"type\":\"float32\",\"unit\":\"kvarh\"}", "sensor",
             "reactive_energy", "kvarh", "total_increasing", 2);
    T_ENTITY("{\"name\":\"q\",\"address\":0,\"scale\":0.01,\"unit\":\"m3/h\"}", "sensor",
             "volume_flow_rate", "m³/h", "measurement", 2);
    T_ENTITY("{\"name\":\"v\",\"address\":0,\"type\":\"uint32\",\"scale\":0.001,\"unit\":\"m3\"}",
             "sensor", "volume", "m³", "total_increasing", 3);
    T_ENTITY("{\"name\":\"v\",\"address\":0,\"unit\":\"m3\",\"medium\":\"gas\"}", "sensor", "gas",
             "m³", "total_increasing", 0);
    T_ENTITY("{\"name\":\"v\",\"address\":0,\"unit\":\"m3\",\"medium\":\"water\"}", "sensor",
             "water", "m³", "total_increasing", 0);
    /* Home Assistant's gas class takes no litres */
    T_ENTITY("{\"name\":\"v\",\"address\":0,\"unit\":\"L\",\"medium\":\"gas\"}", "sensor", "volume",
             "L", "total_increasing", 0);
    T_ENTITY("{\"name\":\"h\",\"address\":0,\"type\":\"uint32\",\"unit\":\"h\",\"state_class\":"
             "\"total_increasing\"}",
             "sensor", "duration", "h", "total_increasing", 0);
    T_ENTITY("{\"name\":\"c\",\"address\":0,\"type\":\"uint32\",\"state_class\":"
             "\"total_increasing\"}",
             "sensor", "-", "-", "total_increasing", 0);
    T_ENTITY("{\"name\":\"t\",\"address\":0,\"type\":\"int16\",\"scale\":0.1,\"unit\":\"degC\"}",
             "sensor", "temperature", "°C", "measurement", 1);
    T_ENTITY("{\"name\":\"s\",\"address\":0,\"scale\":0.005,\"unit\":\"%\"}", "sensor", "-", "%",
             "measurement", 3);
    T_ENTITY("{\"name\":\"code\",\"address\":0}", "sensor", "-", "-", "-", 0);
    T_ENTITY("{\"name\":\"x\",\"address\":0,\"unit\":\"furlong\"}", "sensor", "-", "furlong",
             "measurement", 0);
    /* a state class the class does not allow: the class goes, not the unit */
    T_ENTITY("{\"name\":\"p\",\"address\":0,\"unit\":\"W\",\"state_class\":\"total\"}", "sensor",
             "-", "W", "total", 0);
    T_ENTITY("{\"name\":\"p\",\"address\":0,\"type\":\"float32\",\"unit\":\"hPa\","
             "\"device_class\":\"atmospheric_pressure\",\"precision\":0}",
             "sensor", "atmospheric_pressure", "hPa", "measurement", 0);
}

int main(void)
{
    T_RUN(point_names);
    T_RUN(bad_point_name_is_a_config_error);
    T_RUN(presentation_keys);
    T_RUN(profile_medium_and_maker);
    T_RUN(entities_by_unit_and_hints);
    return t_done();
}
