/*
 * drv.h: device profiles: how a device class maps onto Modbus data.
 *
 * A profile is data (a JSON file in drivers/profiles/), so a site adds a new
 * meter model without C code. It lists points: name, Modbus table, zero-based
 * address, type, byte/word order, scale and offset, unit. This module parses
 * profiles (and a device's point overrides in the site config) and decodes a
 * point's registers into an engineering value. It knows nothing of buses,
 * sockets or rules. docs/profiles.md documents the format.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_DRV_H
#define PLANTROOM_DRV_H

#include "gateway/base/gw_errlist.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef enum drv_table {
    DRV_TABLE_COIL = 0,     /* FC 01, bits, read-write */
    DRV_TABLE_DISCRETE = 1, /* FC 02, bits, read-only */
    DRV_TABLE_HOLDING = 2,  /* FC 03, registers, read-write */
    DRV_TABLE_INPUT = 3,    /* FC 04, registers, read-only */
} drv_table_t;

typedef enum drv_type {
    DRV_T_BOOL = 0,
    DRV_T_INT16,
    DRV_T_UINT16,
    DRV_T_INT32,
    DRV_T_UINT32,
    DRV_T_INT64,
    DRV_T_UINT64,
    DRV_T_FLOAT32,
    DRV_T_FLOAT64,
    DRV_T_STRING, /* `length` registers of ASCII, two characters each */
} drv_type_t;

/* Byte order within the value as the letters of its big-endian bytes: ABCD is
 * big-endian, high word first (Modbus' own order); CDAB swaps words; BADC
 * swaps bytes within words; DCBA is fully little-endian. */
typedef enum drv_order {
    DRV_ORDER_ABCD = 0,
    DRV_ORDER_CDAB,
    DRV_ORDER_BADC,
    DRV_ORDER_DCBA,
} drv_order_t;

#define DRV_NAME_MAX  64
#define DRV_UNIT_MAX  16
#define DRV_CLASS_MAX 32

/* What a counter-like value does over time (a point's "state_class",
 * docs/profiles.md "Presentation"): DRV_SC_AUTO lets the unit decide. */
typedef enum drv_state_class {
    DRV_SC_AUTO = 0,
    DRV_SC_NONE,             /* a code or a state: no statistics */
    DRV_SC_MEASUREMENT,      /* a value now (temperature, power) */
    DRV_SC_TOTAL,            /* a total that may go down (net energy) */
    DRV_SC_TOTAL_INCREASING, /* a counter that only grows, or restarts at 0 */
} drv_state_class_t;

/* What a volume or flow point measures ("medium"). */
typedef enum drv_medium {
    DRV_MEDIUM_NONE = 0,
    DRV_MEDIUM_WATER,
    DRV_MEDIUM_GAS,
} drv_medium_t;

/* Whether and how a point may be written: the point's "write" key, in its
 * profile or in the site config (docs/profiles.md, "Writable points").
 * A point without it is read-only. Limits are in engineering units. */
#define DRV_WRITE_VALUES_MAX 16
typedef struct drv_write {
    uint8_t allowed;  /* "write" given and not false */
    uint8_t range;    /* min and max given */
    uint8_t nvalues;  /* values listed; 0: none */
    uint8_t has_bits; /* bits given */
    uint32_t bits;    /* a whole value may set only these bits (control words) */
    double min, max;
    double values[DRV_WRITE_VALUES_MAX];
} drv_write_t;

typedef struct drv_point {
    char name[DRV_NAME_MAX];
    char unit[DRV_UNIT_MAX];
    drv_table_t table;
    uint16_t address; /* zero-based, as on the wire */
    drv_type_t type;
    drv_order_t order;
    uint8_t order_explicit; /* "order" was given (else a device/profile default) */
    uint8_t bit;            /* bit field: first bit (0 = least significant) */
    uint8_t bits;           /* bit field: width; 0: the whole value */
    uint16_t length;        /* string: registers */
    double scale;           /* value = raw * scale * 10^-decimals + offset */
    double offset;
    /* Scale from another point of the same device ("decimals_point"): its
     * value is a count of decimal places (level transmitters). Its index
     * among the device's points, -1: none (drv_resolve_decimals). */
    int decimals_idx;
    /* Presentation (Home Assistant and other dashboards): an explicit device
     * class ("" none: the unit decides), state class, display precision in
     * decimal places (-1: from scale and unit) and medium. */
    char device_class[DRV_CLASS_MAX];
    drv_state_class_t state_class;
    int8_t precision;
    drv_medium_t medium;
    drv_write_t write; /* read-only unless write.allowed */
} drv_point_t;

typedef struct drv_profile {
    char name[DRV_NAME_MAX];
    char manufacturer[DRV_NAME_MAX]; /* "" when the profile names none */
    char model[DRV_NAME_MAX];        /* "" when the profile names none */
    drv_order_t order;               /* default for points that give none */
    drv_point_t *points;
    size_t npoints;
} drv_profile_t;

/* Load the profile file at path. On success *out is owned by the caller
 * (drv_profile_free). On failure adds every error, prefixed with the file
 * and JSON path, to el and returns GW_ECONFIG (or GW_ENOENT, GW_ENOMEM). */
int drv_profile_load(const char *path, drv_profile_t **out, gw_errlist_t *el);
void drv_profile_free(drv_profile_t *p);

/* Parse one point object at JSON path `path` into *pt, starting from *pt's
 * current contents when `merge` is set (a site config overriding a profile
 * point by name) or from defaults otherwise. A "decimals_point" name is
 * copied to decimals_name (DRV_NAME_MAX bytes; may be NULL) for
 * drv_resolve_decimals. Returns 0 or GW_ECONFIG with errors added to el. */
int drv_point_parse(const cJSON *obj, const char *path, drv_order_t default_order, int merge,
                    drv_point_t *pt, char *decimals_name, gw_errlist_t *el);

/* Resolve "decimals_point" names: names[i] (DRV_NAME_MAX bytes, "" for
 * none) is the name point i gave; its decimals_idx becomes that point's
 * index. The named point must be another plain number point of pts. Errors
 * name "<path>.points[\"<point>\"].decimals_point". Returns 0 or
 * GW_ECONFIG. */
int drv_resolve_decimals(drv_point_t *pts, size_t n, const char (*names)[DRV_NAME_MAX],
                         const char *path, gw_errlist_t *el);

/* Check a point name against the allowed syntax (docs/profiles.md, "Point
 * names"): 1..63 characters, an ASCII letter first, then ASCII letters,
 * digits, '_' and '-'. The name becomes part of MQTT topics, Home Assistant
 * object ids and templates, and Prometheus labels. Returns 0, or GW_EINVAL
 * with the reason in why (a sentence naming the bad character). */
int drv_name_check(const char *name, char *why, size_t whylen);

/* Parse a point's presentation keys ("device_class", "state_class",
 * "precision", "medium") from obj into pt, leaving absent ones as they are.
 * For point parsers outside drivers/ (NB-IoT points). Returns 0 or
 * GW_ECONFIG with errors named "<path>.<key>" added to el. */
int drv_point_parse_hints(const cJSON *obj, const char *path, drv_point_t *pt, gw_errlist_t *el);

/* Names of the state classes and media as the format spells them. */
const char *drv_state_class_name(drv_state_class_t sc);
const char *drv_medium_name(drv_medium_t m);

/* Registers (or bits, for coil and discrete tables) that the point spans. */
unsigned drv_point_width(const drv_point_t *pt);

/* Decode a point from its words (one uint16 per register, or per bit for the
 * bit tables), starting at the point's first word. Returns 0 and sets *value,
 * or GW_EINVAL when the raw value is not a number (NaN/Inf float) or the
 * scaled value is not finite (a huge scale or offset). A string
 * point's value is its length in characters (drv_decode_string has the
 * text). drv_decode_scaled also divides by 10^decimals (0..9) before the
 * offset: value = raw * scale * 10^-decimals + offset. */
int drv_decode(const drv_point_t *pt, const uint16_t *words, double *value);
int drv_decode_scaled(const drv_point_t *pt, const uint16_t *words, int decimals, double *value);

/* Decode a string point into buf (NUL-terminated, at most len-1 bytes):
 * two characters per register, high byte first (ABCD, CDAB) or low byte
 * first (BADC, DCBA); stops at the first NUL, drops trailing spaces, and
 * shows other non-printable bytes as '?'. Returns the text's length. */
size_t drv_decode_string(const drv_point_t *pt, const uint16_t *words, char *buf, size_t len);

/* Encode an engineering value for a write: raw = (value - offset) / scale,
 * rounded for integer types, laid out in the point's byte order into
 * drv_point_width(pt) words (one 0/1 word for a bool). Returns 0, or
 * GW_EINVAL with a reason in err: not finite, out of the type's range
 * (checked before any cast; a float32 beyond +-FLT_MAX included), or a
 * point that cannot be written as a whole (string, bit field, scale from
 * another point). It does not look at pt->write: drv_write_check does. */
int drv_encode(const drv_point_t *pt, double value, uint16_t *words, char *err, size_t errlen);

/* Parse a point's "write" key (drv_write.c): false, true (a bool point:
 * 0 or 1), or an object with "min" and "max", "values" (at most
 * DRV_WRITE_VALUES_MAX allowed values) and/or "bits" (the bit numbers a
 * whole value may set: a control word). Checks that the point can be
 * written at all (a coil or a whole holding-register value). Absent: *w is
 * left as it is (a site config inherits its profile's). Returns 0, or
 * GW_ECONFIG with errors named "<path>.write..." added to el. */
int drv_write_parse(const cJSON *obj, const char *path, const drv_point_t *pt, drv_write_t *w,
                    gw_errlist_t *el);

/* May value be written to pt? 0, or GW_EPERM (the point does not opt in)
 * or GW_EINVAL (not finite, below min, above max, not an allowed value,
 * bits outside the allowed ones, not 0/1 for a bool) with the reason in
 * err. drv_encode still checks the type's own range. */
int drv_write_check(const drv_point_t *pt, double value, char *err, size_t errlen);

/* Parse an address in one-based "Modicon" notation: "40002" (holding,
 * sent as 1), "30001" input, "10001" discrete, "00001" coil, or six digits
 * ("400001".."465536"). Returns 0 with *table and *addr set, or
 * GW_EINVAL. */
int drv_parse_modicon(const char *text, drv_table_t *table, uint16_t *addr);

const char *drv_table_name(drv_table_t t);
const char *drv_type_name(drv_type_t t);
const char *drv_order_name(drv_order_t o);

#endif
