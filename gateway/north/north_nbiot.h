/*
 * north_nbiot.h: parsing NB-IoT reports (north_nbiot_parse.c), visible so
 * that unit tests can drive it without a broker. What is done with a
 * report (north_nbiot.c) is in north_int.h.
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

typedef struct north_nbiot_report {
    int dev;        /* index in cfg->nbiot.devs, -1: no configured device */
    int64_t ts_ms;  /* the device's own time */
    uint64_t key;   /* equal for a redelivery of the same report */
    int online;     /* -1: not an online/offline message; 0/1 */
    int event_type; /* CTWing eventReport: 1 info, 2 warning, 3 fault; else 0 */
    north_nbiot_val_t vals[64];
    size_t nvals;
} north_nbiot_report_t;

/* Resolve a JSON pointer (RFC 6901) in root. Returns the item, or NULL when
 * absent; sets *bad when the pointer itself is malformed (not starting with
 * '/', or a '~' not followed by 0 or 1). */
const cJSON *north__nbiot_pointer(const cJSON *root, const char *ptr, int *bad);

/* Parse a CTWing or OneNET payload of plen bytes against cfg's nbiot
 * devices into *r. Returns 0, or -1 with the reason (naming the field) in
 * why. Never reads past plen. */
int north__nbiot_parse(const gw_config_t *cfg, const char *payload, size_t plen,
                       north_nbiot_report_t *r, char *why, size_t len);

#endif
