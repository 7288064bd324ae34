/*
 * gw_config.h: the site configuration (JSON), parsed and validated whole.
 *
 * gw_config_load reads the file, resolves each device's profile and point
 * overrides, checks every key (type, bounds, references between buses,
 * devices, points and rules) and reports every problem with its JSON path.
 * A loaded config is immutable: reload parses a new one, validates it, then
 * swaps (as mosquitto does). docs/configuration.md documents every key.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_CONFIG_H
#define PLANTROOM_GW_CONFIG_H

#include "drivers/drv.h"
#include "gateway/base/gw_errlist.h"
#include "gateway/base/gw_log.h"
#include "gateway/config/gw_config_hooks.h"
#include "gateway/base/gw_types.h"
#include "rules/rule.h"
#include "store/ledger.h"

#include <limits.h>

#define GW_NAME_MAX 64
/* Characters (UTF-8 code points, not bytes) of a rule's title. */
#define GW_TITLE_MAX 159

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
    char manufacturer[DRV_NAME_MAX], model[DRV_NAME_MAX]; /* the profile's, "" none */
    char building[64], floor[32], room[64];
    /* Its points: owned, or (points_shared) the profile's table, which the
     * devices of one profile without byte_order or point overrides share
     * and which the config owns (gw_config_t.profiles). Read-only either
     * way once loaded. */
    drv_point_t *points;
    size_t npoints;
    int points_shared;
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
    char title[GW_TITLE_MAX * 4 + 1]; /* GW_TITLE_MAX characters of UTF-8 */
    /* trend "with" (gw_config_rules.c): other trend rules of the device that
     * share this rule's order (rules/rule.h, "Wear") */
    char with[RULE_WEAR_MAX - 1][GW_NAME_MAX];
    int nwith;
    int wear_lead;           /* index in rules of the rule whose order this one's actions
                                go to (itself when it has "with"); -1: its own order */
    int wear[RULE_WEAR_MAX]; /* with "with": the combination's rules, itself first */
    int nwear;
} gw_rule_cfg_t;

/* mqtt section (gw_config_mqtt.c, docs/configuration.md "mqtt"). Plain
 * arrays, no pointers: a reload compares two of these with memcmp. */
#define GW_MQTT_TEL_OVERRIDES 64
#define GW_MQTT_SENDERS       32
#define GW_CMD_KEY_MIN        16 /* bytes of an HMAC key */
#define GW_CMD_KEY_MAX        128
enum {
    GW_CMD_ACK = 1,
    GW_CMD_ASSIGN = 2,
    GW_CMD_START = 4,
    GW_CMD_RESOLVE = 8,
    GW_CMD_SETPOINT = 16
};

/* GW_CMD_* bit of a command verb ("ack", "assign", "start", "resolve",
 * "setpoint"), or 0. The config (mqtt.commands.senders) and the command
 * handler (gateway/north/gw_commands.c) both name verbs this way. Defined
 * in gw_config_mqtt.c. */
unsigned gw__cmd_verb_bit(const char *verb);

typedef struct gw_mqtt_tel_override {
    char device[GW_NAME_MAX];
    char point[DRV_NAME_MAX]; /* "": every point of the device */
    double deadband;          /* < 0: not given */
    int heartbeat_ms;         /* < 0: not given */
} gw_mqtt_tel_override_t;

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
    int version; /* 4 (MQTT 3.1.1) or 5 */
    int tls;     /* uri is ssl:// or mqtts:// */
    char ca_file[PATH_MAX], cert_file[PATH_MAX], key_file[PATH_MAX];
    int tls_verify; /* check the broker's certificate and host name */
    /* telemetry: publish on change past a deadband, else every heartbeat */
    int on_change;
    int tel_qos; /* live telemetry QoS, 0 or 1 */
    double deadband;
    int heartbeat_ms;
    gw_mqtt_tel_override_t tel[GW_MQTT_TEL_OVERRIDES];
    size_t ntel;
    /* store-and-forward of telemetry while the broker is away */
    int buf_memory;   /* messages kept in memory before spilling */
    int buf_max;      /* messages kept in all (memory + spool); oldest dropped past it */
    int buf_flush_ms; /* spill memory to the spool at least this often (0: only when full) */
    int replay_per_s; /* replay rate after a reconnect */
    int metrics_ms;   /* period of the metrics message */
    char spool_path[PATH_MAX];
    /* bytes of publishes paho may hold before telemetry waits */
    int queue_max_bytes;
    /* work-order events published and not yet acknowledged, at most (the
     * rest wait in the ledger's outbox and are loaded as PUBACKs come) */
    int outbox_window;
    /* commands over MQTT: who may send which verbs (GW_CMD_* bits). The
     * sender is the broker user in the topic (commands/<sender>/<verb>);
     * a sender with a key must sign (HMAC-SHA256, docs/mqtt.md). */
    int commands;
    struct {
        char name[64];
        unsigned verbs;
        char key_file[256];                /* "" : unsigned commands */
        unsigned char key[GW_CMD_KEY_MAX]; /* read at load; never logged */
        size_t key_len;
    } senders[GW_MQTT_SENDERS];
    size_t nsenders;
    int replay_window_ms; /* signed commands: |now - ts| at most this */
    /* Home Assistant MQTT discovery */
    int hass;
    char hass_prefix[64];
    char hass_sender[64]; /* broker user of Home Assistant's commands, "" none */
} gw_mqtt_cfg_t;

/* nbiot section (gw_config_nbiot.c, docs/configuration.md "nbiot"): devices
 * whose reports arrive over MQTT. Each is also a device in devices[] (bus
 * "", no Modbus), so the point table and rules treat it like any other. */
#define GW_NBIOT_TOPICS  8
#define GW_NBIOT_PTR_MAX 256

typedef enum gw_nbiot_format { GW_NBIOT_CTWING = 0, GW_NBIOT_ONENET } gw_nbiot_format_t;

typedef struct gw_nbiot_dev_cfg {
    char name[GW_NAME_MAX];
    int device_idx; /* in devices[] */
    gw_nbiot_format_t format;
    char id[128];             /* CTWing deviceId or IMEI; OneNET dev_id */
    int64_t report_period_ms; /* stale when no report for period + grace */
    int64_t grace_ms;
    char (*where)[GW_NBIOT_PTR_MAX]; /* per point: JSON pointer (CTWing) or ds_id (OneNET); owned */
} gw_nbiot_dev_cfg_t;

typedef struct gw_nbiot_cfg {
    char topics[GW_NBIOT_TOPICS][256];
    size_t ntopics;
    gw_nbiot_dev_cfg_t *devs; /* owned */
    size_t ndevs;
} gw_nbiot_cfg_t;

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

/* The "time" section (gw_config_time.c): clock steps and the bounds on
 * timestamps given from outside (NB-IoT reports, rules.state). */
typedef struct gw_time_cfg {
    int64_t step_threshold_ms; /* a wall-clock step this big or more is logged and counted */
    int64_t max_future_ms;     /* a timestamp further ahead of the wall clock is clamped */
    int64_t max_age_ms;        /* a report older than this is refused */
} gw_time_cfg_t;

/* The "liveness" section (gw_config_time.c): when a device whose bus thread
 * reports nothing is offline, and when a thread is stuck. */
typedef struct gw_liveness_cfg {
    int missed_polls;        /* poll intervals (plus one timeout per device of the bus) */
    int64_t thread_stall_ms; /* a thread without progress this long is stuck */
} gw_liveness_cfg_t;

/* A profile file loaded once for every device that names it (its points
 * table shared by those that do not change it). */
typedef struct gw_profile_cache {
    struct gw_profile_cache *next;
    drv_profile_t *prof;
    char file[]; /* the resolved path */
} gw_profile_cache_t;

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
    gw_nbiot_cfg_t nbiot;
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
     * (gw_config_hooks.h, gw_config_hooks.c) */
    gw_notify_cfg_t notify;
    /* "time" and "liveness" (gw_config_time.c) */
    gw_time_cfg_t time;
    gw_liveness_cfg_t liveness;
    gw_profile_cache_t *profiles; /* owned: the profiles loaded */
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
