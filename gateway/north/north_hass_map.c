/*
 * north_hass_map.c: which Home Assistant entity a point becomes (docs/mqtt.md,
 * "Home Assistant discovery"): its component (sensor, binary_sensor, number,
 * switch, select), Home Assistant's spelling of its unit, the device class and
 * state class that go with that unit in Home Assistant's tables, and a display
 * precision. Pure: no session, no I/O; north_hass.c builds the payloads.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/north/north_int.h"

#include <math.h>
#include <string.h>

/* A device class and the state classes Home Assistant allows with it
 * (homeassistant/components/sensor/const.py, DEVICE_CLASS_STATE_CLASSES),
 * for the classes the unit table below can give. */
enum { SC_M = 1, SC_T = 2, SC_TI = 4, SC_ALL = 7 };

/* plantroom unit -> Home Assistant unit, device class ("" none; "@" the
 * point's medium decides), state class by default, precision of a float. */
static const struct hass_unit {
    const char *unit, *ha, *cls;
    drv_state_class_t sc;
    int allowed; /* SC_* the class allows */
    int precision;
} units[] = {
    {"degC", "°C", "temperature", DRV_SC_MEASUREMENT, SC_M, 1},
    {"degF", "°F", "temperature", DRV_SC_MEASUREMENT, SC_M, 1},
    {"K", "K", "temperature", DRV_SC_MEASUREMENT, SC_M, 1},
    {"mV", "mV", "voltage", DRV_SC_MEASUREMENT, SC_M, 0},
    {"V", "V", "voltage", DRV_SC_MEASUREMENT, SC_M, 1},
    {"kV", "kV", "voltage", DRV_SC_MEASUREMENT, SC_M, 2},
    {"mA", "mA", "current", DRV_SC_MEASUREMENT, SC_M, 0},
    {"A", "A", "current", DRV_SC_MEASUREMENT, SC_M, 2},
    {"W", "W", "power", DRV_SC_MEASUREMENT, SC_M, 0},
    {"kW", "kW", "power", DRV_SC_MEASUREMENT, SC_M, 2},
    {"MW", "MW", "power", DRV_SC_MEASUREMENT, SC_M, 3},
    {"VA", "VA", "apparent_power", DRV_SC_MEASUREMENT, SC_M, 0},
    {"kVA", "kVA", "apparent_power", DRV_SC_MEASUREMENT, SC_M, 2},
    {"var", "var", "reactive_power", DRV_SC_MEASUREMENT, SC_M, 0},
    {"kvar", "kvar", "reactive_power", DRV_SC_MEASUREMENT, SC_M, 2},
    {"Wh", "Wh", "energy", DRV_SC_TOTAL_INCREASING, SC_T | SC_TI, 0},
    {"kWh", "kWh", "energy", DRV_SC_TOTAL_INCREASING, SC_T | SC_TI, 2},
    {"MWh", "MWh", "energy", DRV_SC_TOTAL_INCREASING, SC_T | SC_TI, 3},
    {"varh", "varh", "reactive_energy", DRV_SC_TOTAL_INCREASING, SC_T | SC_TI, 0},
    {"kvarh", "kvarh", "reactive_energy", DRV_SC_TOTAL_INCREASING, SC_T | SC_TI, 2},
    {"Hz", "Hz", "frequency", DRV_SC_MEASUREMENT, SC_M, 2},
    {"m3", "m³", "@", DRV_SC_TOTAL_INCREASING, SC_T | SC_TI, 3},
    {"L", "L", "@", DRV_SC_TOTAL_INCREASING, SC_T | SC_TI, 1},
    {"m3/h", "m³/h", "volume_flow_rate", DRV_SC_MEASUREMENT, SC_M, 2},
    {"L/min", "L/min", "volume_flow_rate", DRV_SC_MEASUREMENT, SC_M, 1},
    {"L/h", "L/h", "volume_flow_rate", DRV_SC_MEASUREMENT, SC_M, 0},
    {"bar", "bar", "pressure", DRV_SC_MEASUREMENT, SC_M, 2},
    {"mbar", "mbar", "pressure", DRV_SC_MEASUREMENT, SC_M, 0},
    {"Pa", "Pa", "pressure", DRV_SC_MEASUREMENT, SC_M, 0},
    {"hPa", "hPa", "pressure", DRV_SC_MEASUREMENT, SC_M, 1},
    {"kPa", "kPa", "pressure", DRV_SC_MEASUREMENT, SC_M, 1},
    {"psi", "psi", "pressure", DRV_SC_MEASUREMENT, SC_M, 1},
    {"ms", "ms", "duration", DRV_SC_MEASUREMENT, SC_ALL, 0},
    {"s", "s", "duration", DRV_SC_MEASUREMENT, SC_ALL, 0},
    {"min", "min", "duration", DRV_SC_MEASUREMENT, SC_ALL, 0},
    {"h", "h", "duration", DRV_SC_MEASUREMENT, SC_ALL, 1},
    {"d", "d", "duration", DRV_SC_MEASUREMENT, SC_ALL, 1},
    {"mm", "mm", "distance", DRV_SC_MEASUREMENT, SC_ALL, 0},
    {"cm", "cm", "distance", DRV_SC_MEASUREMENT, SC_ALL, 1},
    {"m", "m", "distance", DRV_SC_MEASUREMENT, SC_ALL, 2},
    {"km", "km", "distance", DRV_SC_MEASUREMENT, SC_ALL, 2},
    {"g", "g", "weight", DRV_SC_MEASUREMENT, SC_ALL, 0},
    {"kg", "kg", "weight", DRV_SC_MEASUREMENT, SC_ALL, 1},
    {"lx", "lx", "illuminance", DRV_SC_MEASUREMENT, SC_M, 0},
    {"dBm", "dBm", "signal_strength", DRV_SC_MEASUREMENT, SC_M, 0},
    {"%", "%", "", DRV_SC_MEASUREMENT, SC_ALL, 1},
    {"rpm", "rpm", "", DRV_SC_MEASUREMENT, SC_ALL, 0},
    {"mm/s", "mm/s", "", DRV_SC_MEASUREMENT, SC_ALL, 2},
};

static const char *const kind_names[] = {"sensor", "binary_sensor", "number", "switch", "select"};

const char *north__hass_kind_name(north_hass_kind_t k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "sensor";
}

static const struct hass_unit *map__unit(const char *unit)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(unit, units[i].unit) == 0)
            return &units[i];
    }
    return NULL;
}

/* Display precision: the point's own, else what its scale shows (0.1 -> 1,
 * 0.005 -> 3), a float's by its unit, 2 for a point scaled by another's
 * decimals. */
static int map__precision(const drv_point_t *pt, const struct hass_unit *u)
{
    double s = fabs(pt->scale);
    int d;

    if (pt->precision >= 0)
        return pt->precision;
    if (pt->type == DRV_T_STRING)
        return -1;
    if (pt->decimals_idx >= 0)
        return 2;
    if (pt->type == DRV_T_FLOAT32 || pt->type == DRV_T_FLOAT64)
        return u ? u->precision : 2;
    if (s >= 1.0 && s == floor(s) && pt->offset == floor(pt->offset))
        return 0;
    d = s > 0 ? (int)ceil(-log10(s) - 1e-9) : 0;
    return d < 0 ? 0 : d > 6 ? 6 : d;
}

static const char *map__state_class(drv_state_class_t sc)
{
    switch (sc) {
    case DRV_SC_MEASUREMENT:
        return "measurement";
    case DRV_SC_TOTAL:
        return "total";
    case DRV_SC_TOTAL_INCREASING:
        return "total_increasing";
    default:
        return NULL;
    }
}

static int map__sc_bit(drv_state_class_t sc)
{
    return sc == DRV_SC_MEASUREMENT ? SC_M : sc == DRV_SC_TOTAL ? SC_T : SC_TI;
}

/* Device class of a volume by medium: water and gas have their own. */
static const char *map__volume_class(const drv_point_t *pt)
{
    if (pt->medium == DRV_MEDIUM_WATER)
        return "water";
    if (pt->medium == DRV_MEDIUM_GAS && strcmp(pt->unit, "m3") == 0)
        return "gas"; /* Home Assistant's gas class takes m³, not L */
    return "volume";
}

void north__hass_classify(const drv_point_t *pt, north_hass_kind_t writable, north_hass_entity_t *e)
{
    const struct hass_unit *u = map__unit(pt->unit);
    drv_state_class_t sc = pt->state_class;

    memset(e, 0, sizeof(*e));
    e->precision = -1;
    if (writable != NORTH_HASS_SENSOR)
        e->kind = writable;
    else if (pt->type == DRV_T_BOOL)
        e->kind = NORTH_HASS_BINARY;
    else
        e->kind = NORTH_HASS_SENSOR;
    if (e->kind == NORTH_HASS_BINARY) {
        e->device_class = pt->device_class[0] ? pt->device_class : NULL;
        return;
    }
    if (e->kind == NORTH_HASS_SWITCH)
        return; /* a switch's classes are outlet and switch: none of a point's */
    e->unit = pt->unit[0] ? (u ? u->ha : pt->unit) : NULL;
    e->precision = map__precision(pt, u);
    if (pt->device_class[0])
        e->device_class = pt->device_class;
    else if (u && u->cls[0])
        e->device_class = u->cls[0] == '@' ? map__volume_class(pt) : u->cls;
    if (sc == DRV_SC_AUTO)
        sc = u ? u->sc : pt->unit[0] ? DRV_SC_MEASUREMENT : DRV_SC_NONE;
    if (pt->type == DRV_T_STRING)
        sc = DRV_SC_NONE;
    e->state_class = e->kind == NORTH_HASS_SENSOR ? map__state_class(sc) : NULL;
    /* a state class the unit's class does not allow: keep the statistics,
     * drop the class (Home Assistant refuses the pair) */
    if (e->state_class && u && !pt->device_class[0] && !(u->allowed & map__sc_bit(sc)))
        e->device_class = NULL;
}
