/*
 * north_nbiot.h: parsing NB-IoT reports (north_nbiot_parse.c), visible so
 * that unit tests can drive it without a broker. What is done with a
 * report (north_nbiot.c) is in north_int.h.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_NORTH_NBIOT_H
#define PLANTROOM_NORTH_NBIOT_H

#include "gateway/config/gw_config.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* One value taken from a report, for point `point` of the device. */
typedef struct north_nbiot_val {
    size_t point;
    double value; /* as reported: scale and offset not applied */
} north_nbiot_val_t;

/* Why a report was refused, counted per reason (metrics "nbiot.rejected_by"). */
typedef enum north_nbiot_reject {
    NB_REJECT_NONE = 0,
    NB_REJECT_NOT_JSON,    /* not JSON, or empty */
    NB_REJECT_TRAILING,    /* one JSON value followed by more bytes */
    NB_REJECT_TOO_DEEP,    /* nested deeper than NB_MAX_DEPTH */
    NB_REJECT_TOO_LARGE,   /* more than NB_MAX_PAYLOAD bytes */
    NB_REJECT_NOT_OBJECT,  /* the top level (or "msg") is not an object */
    NB_REJECT_FIELD,       /* a field missing or of the wrong type */
    NB_REJECT_NOT_INTEGER, /* an integer field holding a fraction */
    NB_REJECT_RANGE,       /* a number outside its field's range */
    NB_REJECT_UNKNOWN,     /* an unknown messageType or type */
    NB_REJECT__COUNT
} north_nbiot_reject_t;

#define NB_MAX_PAYLOAD (64 * 1024)
#define NB_MAX_DEPTH   32
/* A reported value beyond this magnitude is refused as out of range: no
 * meter reads it, and scale and offset keep it finite. */
#define NB_MAX_VALUE 1e15

/* "not_json", "trailing_data", ...: the name of a reason in metrics. */
const char *north__nbiot_reject_name(north_nbiot_reject_t r);

typedef struct north_nbiot_report {
    int dev;        /* index in cfg->nbiot.devs, -1: no configured device */
    int64_t ts_ms;  /* the device's own time */
    uint64_t key;   /* equal for a redelivery of the same report */
    int online;     /* -1: not an online/offline message; 0/1 */
    int event_type; /* CTWing eventReport: 1 info, 2 warning, 3 fault; else 0 */
    north_nbiot_val_t vals[64];
    size_t nvals;
    north_nbiot_reject_t reject; /* why it was refused (parse returned -1) */
} north_nbiot_report_t;

/* Resolve a JSON pointer (RFC 6901) in root. Returns the item, or NULL when
 * absent; sets *bad when the pointer itself is malformed (not starting with
 * '/', or a '~' not followed by 0 or 1). */
const cJSON *north__nbiot_pointer(const cJSON *root, const char *ptr, int *bad);

/* Parse a CTWing or OneNET payload of plen bytes against cfg's nbiot
 * devices into *r. The payload must be exactly one JSON object (nothing
 * after it), at most NB_MAX_PAYLOAD bytes and NB_MAX_DEPTH levels deep;
 * integer fields must hold whole numbers in their range, checked before any
 * cast. Returns 0, or -1 with r->reject set and the reason (naming the
 * field) in why. Never reads past plen. */
int north__nbiot_parse(const gw_config_t *cfg, const char *payload, size_t plen,
                       north_nbiot_report_t *r, char *why, size_t len);

#endif
