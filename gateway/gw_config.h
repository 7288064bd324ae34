/*
 * gw_config.h: the site configuration (JSON), parsed and validated whole.
 *
 * gw_config_load reads the file, resolves each device's profile and point
 * overrides, checks every key (type, bounds, references between buses,
 * devices, points and rules) and reports every problem with its JSON path.
 * A loaded config is immutable: reload parses a new one, validates it, then
 * swaps (as mosquitto does). docs/configuration.md documents every key.
 */
#ifndef PLANTROOM_GW_CONFIG_H
#define PLANTROOM_GW_CONFIG_H

#include "drivers/drv.h"
#include "gateway/gw_errlist.h"
#include "gateway/gw_log.h"
#include "gateway/gw_notify_cfg.h"
#include "gateway/gw_types.h"
#include "rules/rule.h"
#include "store/ledger.h"

#include <limits.h>

#define GW_NAME_MAX 64

typedef struct gw_bus_cfg {
    char name[GW_NAME_MAX];
    char type[8]; /* "tcp", "rtu" or "rtu-tcp" */
    char host[128];
    int port;
    /* type "rtu": the serial port and its framing */
    char device[PATH_MAX];
    int baud;
    char parity; /* 'N', 'E', 'O' */
    int data_bits, stop_bits;
    int rs485;
    int connect_pause_ms; /* pause after (re)connecting */
    int timeout_ms;
    int pause_ms;
    int reconnect_max_ms;
    int max_gap; /* registers a request may bridge between two points */
} gw_bus_cfg_t;

typedef struct gw_device_cfg {
    char name[GW_NAME_MAX];
    char bus[GW_NAME_MAX];
    int bus_idx;
    int unit_id;
    int interval_ms;
    int offline_after;  /* failed polls before the device is offline */
    int timeout_ms;     /* response timeout, 0: the bus's */
    int retries;        /* extra attempts after a garbled answer */
    int backoff_max_ms; /* cap of the probe interval while offline */
    drv_order_t order;  /* byte_order: default of its points */
    char profile[256];  /* as given: a name in profiles_dir or a path */
    char building[64], floor[32], room[64];
    drv_point_t *points; /* owned */
    size_t npoints;
} gw_device_cfg_t;

typedef struct gw_rule_cfg {
    char name[GW_NAME_MAX];
    char device[GW_NAME_MAX];
    char point[DRV_NAME_MAX];
    int device_idx;
    int point_idx; /* index in the device's points */
    rule_kind_t kind;
    rule_cfg_t rule;   /* kind, alarm and the kind's parameters (rules/rule.h) */
    char iso10816[24]; /* trend: the zone table chosen ("10816-1:I"), "" none */
    gw_priority_t priority;
    char category[32];
    char work_type[16];
    char title[160];
} gw_rule_cfg_t;

typedef struct gw_mqtt_cfg {
    int enabled;
    char uri[256];
    char client_id[128];
    char prefix[64];
    char username[128];
    char password_file[PATH_MAX];
    int keepalive_s;
    int reconnect_min_ms;
    int reconnect_max_ms;
} gw_mqtt_cfg_t;

/* The control socket and the metrics endpoint (gw_config_service.c; the
 * "control" and "metrics" sections). Applied at start only. */
typedef struct gw_service_cfg {
    int control_enabled;
    int control_explicit;          /* "control.socket" was given */
    char control_socket[PATH_MAX]; /* absolute after load */
    char control_group[32];        /* "" : the daemon's own group */
    int metrics_enabled;
    char metrics_address[64]; /* a loopback address */
    int metrics_port;
} gw_service_cfg_t;

typedef struct gw_config {
    char path[PATH_MAX];       /* the file it came from */
    char config_dir[PATH_MAX]; /* its directory, absolute: relative paths start here */
    char site_id[GW_NAME_MAX];
    char site_name[128];
    gw_log_level_t log_level;
    char state_dir[PATH_MAX];    /* absolute after load */
    char ledger_path[PATH_MAX];  /* absolute after load */
    char profiles_dir[PATH_MAX]; /* absolute after load */
    gw_mqtt_cfg_t mqtt;
    gw_bus_cfg_t *buses;
    size_t nbuses;
    gw_device_cfg_t *devices;
    size_t ndevices;
    gw_rule_cfg_t *rules;
    size_t nrules;
    /* "rules_state" (gw_config_rules.c): where rule state persists */
    char rules_state_path[PATH_MAX]; /* absolute after load */
    int rules_state_save_s;          /* seconds between saves */
    gw_service_cfg_t service;
    /* ledger.sla_minutes, ledger.routing, ledger.*_retention_days, report.dir
     * (gw_config_ledger.c): handed to the ledger thread */
    ledger_policy_t ledger_policy;
    /* notifications: hooks, recipients, groups, routes, quiet hours
     * (gw_notify_cfg.h, gw_config_hooks.c) */
    gw_notify_cfg_t notify;
} gw_config_t;

/* Overrides from the command line or environment. NULL fields: none.
 * The state directory is --state-dir, else $PLANTROOM_STATE_DIR, else
 * systemd's $STATE_DIRECTORY (its first entry), else the file's state_dir. */
typedef struct gw_config_overrides {
    const char *state_dir;
    const char *log_level; /* --log-level: wins over log.level, also on reload */
} gw_config_overrides_t;

/* Load and validate the config at path. On success *out is owned by the
 * caller (gw_config_free) and returns 0. Otherwise every problem is added
 * to el ("devices[2].interval_ms: must be at least 50, got 5") and
 * GW_ECONFIG is returned. */
int gw_config_load(const char *path, const gw_config_overrides_t *ov, gw_config_t **out,
                   gw_errlist_t *el);
void gw_config_free(gw_config_t *cfg);

/* Index of the named device or point, or -1. */
int gw_config_device_index(const gw_config_t *cfg, const char *name);
int gw_device_point_index(const gw_device_cfg_t *dev, const char *name);

/* 1 when two rule configs are the same rule (device, name, point, kind) with
 * the same learning parameters (rule_learn_hash), so that a reload or a
 * restart keeps its state: what it learned, and its pending/firing state,
 * which the new alarm parameters then judge (docs/architecture.md, "Rules:
 * state across reloads and restarts"). */
int gw_rule_cfg_equal(const gw_rule_cfg_t *a, const gw_rule_cfg_t *b);

#endif
