/*
 * gw_config_int.h: internal to gateway/config/, the files that parse the
 * site config. Two layers, so that the calls between the files form no
 * circle:
 *   - gw_config_util.c: helpers the parsers share (names, paths, lists of
 *     strings and priorities; the lookups gw_config_device_index and
 *     gw_device_point_index of gw_config.h). It calls no other file of
 *     gateway/config/.
 *   - gw_config_<section>.c: one section each (buses and devices, rules,
 *     mqtt, nbiot, ledger, control and metrics, notifications). They call
 *     the util only, never each other or the root.
 * gw_config.c (the root: top level, site, log, paths, cross references)
 * calls the sections in order.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_CONFIG_INT_H
#define PLANTROOM_GW_CONFIG_INT_H

#include "gateway/config/gw_config.h"

#include <cjson/cJSON.h>

#ifndef PLANTROOM_PROFILES_DIR
#define PLANTROOM_PROFILES_DIR "/usr/share/plantroom/profiles"
#endif

/* ---- gw_config_util.c -------------------------------------------------- */

/* Add an error at path unless name uses only letters, digits, '-', '_', '.'
 * (names end up in MQTT topics and fingerprints). */
void gw__cfg_check_name(const char *name, const char *path, gw_errlist_t *el);
/* dst = base/rel, unless rel is absolute or base empty. */
void gw__cfg_resolve(char *dst, size_t len, const char *base, const char *rel);
/* Read the array of strings obj[key] (at JSON path `path`) into dst: at
 * most max rows of width bytes each. Returns the count (0 when absent);
 * errors (not strings, too many, too long) are added to el. */
int gw__cfg_strs(const cJSON *obj, const char *key, const char *path, char *dst, size_t width,
                 int max, gw_errlist_t *el);
/* The bit mask (bit per gw_priority_t) of the priority names listed in
 * obj[key]; def when the key is absent. */
unsigned gw__cfg_prios(const cJSON *obj, const char *key, const char *path, unsigned def,
                       gw_errlist_t *el);

/* ---- the sections, called by gw_config.c -------------------------------- */

/* Parse one element of "buses", "devices" or "rules" at JSON path `path`. */
void gw__cfg_bus(gw_bus_cfg_t *b, const cJSON *obj, const char *path, gw_errlist_t *el);
void gw__cfg_device(gw_config_t *cfg, gw_device_cfg_t *d, const cJSON *obj, const char *path,
                    gw_errlist_t *el);
void gw__cfg_rule(gw_rule_cfg_t *r, const cJSON *obj, const char *path, gw_errlist_t *el);
/* Resolve every trend's "with" (names of trend rules of the same device)
 * into wear_lead / wear, once the rules' devices are known; errors name the
 * key path (gw_config_rules.c). */
void gw__cfg_rules_wear(gw_config_t *cfg, gw_errlist_t *el);
/* The "rules_state" section (gw_config_rules.c); after the paths. */
void gw__cfg_rules_state(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el);
/* The "control" and "metrics" sections (gw_config_service.c); needs
 * cfg->state_dir resolved. */
void gw__cfg_service(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el);
/* The ledger's policy (SLA, routing, retention) and "report" (gw_config_ledger.c);
 * after cfg__paths, so that state_dir is known. */
void gw__cfg_ledger(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el);

/* Parse the "mqtt" section (gw_config_mqtt.c); needs site.id and config_dir. */
void gw__cfg_mqtt(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el);
/* Parse the "nbiot" section (gw_config_nbiot.c), after "devices": appends
 * its devices to cfg->devices. gw__cfg_nbiot_free frees what it owns. */
void gw__cfg_nbiot(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el);
void gw__cfg_nbiot_free(gw_config_t *cfg);
/* After devices are read: check the mqtt section's references to them. */
void gw__cfg_mqtt_check(gw_config_t *cfg, gw_errlist_t *el);
/* gw_config_time.c: the "time" section (clock steps, bounds on outside
 * timestamps) and the "liveness" section (overdue devices, stuck threads). */
void gw__cfg_time(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el);
void gw__cfg_liveness(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el);
/* gw_config_hooks.c: "hooks", "recipients", "groups", "routes",
 * "quiet_hours", "inhibit_rules" into cfg->notify, references resolved; and its free. */
void gw__cfg_notify(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el);
void gw__cfg_notify_free(gw_notify_cfg_t *n);
/* The "notify" object (gw_config_notify.c): the notifier's bounds. */
void gw__cfg_notify_limits(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el);

#endif
