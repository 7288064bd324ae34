# SPDX-License-Identifier: Apache-2.0
"""Home Assistant's rules for MQTT discovery configs, as data, and a checker.

The tables are copied from Home Assistant core (home-assistant/core on
GitHub, 2025 releases):
- SENSOR_UNITS, SENSOR_STATE_CLASSES: homeassistant/components/sensor/const.py,
  DEVICE_CLASS_UNITS and DEVICE_CLASS_STATE_CLASSES (the classes a gateway
  can plausibly give; the unit spellings from homeassistant/const.py UnitOf*),
  NON_NUMERIC_DEVICE_CLASSES;
- BINARY_SENSOR_CLASSES: homeassistant/components/binary_sensor/__init__.py,
  BinarySensorDeviceClass;
- number entities take the sensor's numeric device classes and units
  (homeassistant/components/number/const.py mirrors them);
- TOPIC: homeassistant/components/mqtt/discovery.py, TOPIC_MATCHER
  (node_id and object_id are [a-zA-Z0-9_-]+);
- the required keys of each platform: homeassistant/components/mqtt/<platform>.py
  schemas (sensor/binary_sensor: state_topic; number/select: command_topic;
  select: options; number: min < max, step >= 0.001; switch: device class
  outlet or switch);
- what an entity does with a rendered empty payload: sensor (numeric),
  binary_sensor, number and select ignore it ("Ignore empty state",
  "Empty template output"), so a template that renders nothing leaves the
  state as it was.
"""
import re

TOPIC = re.compile(r"^(?P<prefix>[^/]+)/(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?"
                   r"(?P<object_id>[a-zA-Z0-9_-]+)/config$")

COMPONENTS = {"sensor", "binary_sensor", "number", "switch", "select"}
REQUIRED = {"sensor": {"state_topic"}, "binary_sensor": {"state_topic"},
            "number": {"command_topic"}, "switch": set(), "select": {"command_topic", "options"}}

STATE_CLASSES = {"measurement", "total", "total_increasing"}
ALL_SC = set(STATE_CLASSES)
NON_NUMERIC_DEVICE_CLASSES = {"date", "enum", "timestamp"}

ENERGY = {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal",
          "Gcal"}
PRESSURE = {"mPa", "Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "inH₂O", "psi"}
VOLUME = {"ft³", "CCF", "MCF", "m³", "L", "mL", "gal", "fl. oz."}
LENGTH = {"mm", "cm", "m", "km", "in", "ft", "yd", "mi", "nmi"}

SENSOR_UNITS = {
    "apparent_power": {"mVA", "VA", "kVA"},
    "battery": {"%"},
    "current": {"mA", "A"},
    "distance": LENGTH,
    "duration": {"d", "h", "min", "s", "ms"},
    "energy": ENERGY,
    "energy_storage": ENERGY,
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "gas": {"CCF", "ft³", "m³"},
    "humidity": {"%"},
    "illuminance": {"lx"},
    "moisture": {"%"},
    "power": {"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"},
    "power_factor": {"%", None},
    "pressure": PRESSURE,
    "reactive_energy": {"varh", "kvarh"},
    "reactive_power": {"mvar", "var", "kvar"},
    "signal_strength": {"dB", "dBm"},
    "temperature": {"°C", "°F", "K"},
    "voltage": {"µV", "μV", "mV", "V", "kV", "MV"},
    "volume": VOLUME,
    "volume_flow_rate": {"m³/h", "m³/min", "m³/s", "ft³/min", "L/h", "L/min", "L/s", "gal/h",
                         "gal/min", "gal/d", "mL/s"},
    "volume_storage": VOLUME,
    "water": {"CCF", "ft³", "m³", "gal", "L"},
    "weight": {"g", "kg", "mg", "µg", "μg", "oz", "lb", "st"},
}

SENSOR_STATE_CLASSES = {
    "apparent_power": {"measurement"}, "battery": {"measurement"}, "current": {"measurement"},
    "distance": ALL_SC, "duration": ALL_SC, "energy": {"total", "total_increasing"},
    "energy_storage": {"measurement"}, "frequency": {"measurement"},
    "gas": {"total", "total_increasing"}, "humidity": {"measurement"},
    "illuminance": {"measurement"}, "moisture": {"measurement"},
    "power": {"measurement"}, "power_factor": {"measurement"}, "pressure": {"measurement"},
    "reactive_energy": {"total", "total_increasing"}, "reactive_power": {"measurement"},
    "signal_strength": {"measurement"}, "temperature": {"measurement"},
    "voltage": {"measurement"}, "volume": {"total", "total_increasing"},
    "volume_flow_rate": {"measurement"}, "volume_storage": {"measurement"},
    "water": {"total", "total_increasing"}, "weight": ALL_SC,
    "date": set(), "enum": set(), "timestamp": set(),
}

BINARY_SENSOR_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
    "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
    "tamper", "update", "vibration", "window"}


def check_config(topic, cfg, device_ids):
    """Problems (strings) of one discovery config against the rules above.
    device_ids: every device identifier announced (for via_device)."""
    errs = []
    m = TOPIC.match(topic)
    if not m:
        return [f"{topic}: not a discovery topic (node and object ids are [a-zA-Z0-9_-])"]
    comp = m["component"]
    if comp not in COMPONENTS:
        errs.append(f"{topic}: component {comp} not offered")
        return errs
    for k in REQUIRED[comp] | {"unique_id", "device", "origin"}:
        if k not in cfg:
            errs.append(f"{topic}: {k} is required")
    dev = cfg.get("device", {})
    if not dev.get("identifiers"):
        errs.append(f"{topic}: device without identifiers")
    via = dev.get("via_device")
    if via is not None and via not in device_ids:
        errs.append(f"{topic}: via_device {via!r} names no announced device")
    if not cfg.get("origin", {}).get("name"):
        errs.append(f"{topic}: origin needs a name")
    dc, unit, sc = cfg.get("device_class"), cfg.get("unit_of_measurement"), cfg.get("state_class")
    prec = cfg.get("suggested_display_precision")
    if comp == "binary_sensor":
        if dc is not None and dc not in BINARY_SENSOR_CLASSES:
            errs.append(f"{topic}: {dc!r} is not a binary_sensor device class")
        if unit is not None or sc is not None or prec is not None:
            errs.append(f"{topic}: a binary_sensor has no unit, state_class or precision")
        return errs
    if comp in ("sensor", "number") and dc is not None:
        if dc not in SENSOR_UNITS and dc not in NON_NUMERIC_DEVICE_CLASSES:
            errs.append(f"{topic}: {dc!r} is not a {comp} device class here")
        elif dc in SENSOR_UNITS and unit not in SENSOR_UNITS[dc]:
            errs.append(f"{topic}: unit {unit!r} is not valid with device class {dc!r}")
    if comp == "sensor":
        if sc is not None and sc not in STATE_CLASSES:
            errs.append(f"{topic}: {sc!r} is not a state class")
        if sc is not None and dc in SENSOR_STATE_CLASSES and sc not in SENSOR_STATE_CLASSES[dc]:
            errs.append(f"{topic}: state class {sc!r} is not valid with device class {dc!r}")
        if dc in NON_NUMERIC_DEVICE_CLASSES and (sc or unit or prec is not None):
            errs.append(f"{topic}: a non-numeric sensor has no state class, unit or precision")
    if prec is not None and (not isinstance(prec, int) or prec < 0):
        errs.append(f"{topic}: suggested_display_precision must be an int >= 0")
    if comp == "number" and not cfg.get("min", 1) < cfg.get("max", 100):
        errs.append(f"{topic}: min must be below max")
    if comp == "number" and cfg.get("step", 1) < 0.001:
        errs.append(f"{topic}: step must be at least 0.001")
    if comp in ("number", "switch", "select") and "state_class" in cfg:
        errs.append(f"{topic}: a {comp} has no state_class")
    if comp == "switch" and cfg.get("device_class") not in (None, "outlet", "switch"):
        errs.append(f"{topic}: a switch's device class is outlet or switch")
    if comp == "select" and not cfg.get("options"):
        errs.append(f"{topic}: a select needs options")
    return errs


def numeric_sensor(cfg):
    """Whether Home Assistant expects a number (and so ignores an empty state):
    sensor/__init__.py _numeric_state_expected."""
    if cfg.get("device_class") in NON_NUMERIC_DEVICE_CLASSES:
        return False
    return any(cfg.get(k) is not None for k in ("state_class", "unit_of_measurement",
                                                "suggested_display_precision",
                                                "device_class"))
