/*
 * gw_config_hooks.h: the notification part of the site config: "hooks",
 * "recipients", "groups", "routes", "quiet_hours" and "inhibit_rules" (parsed by
 * gw_config_hooks.c; keys in docs/configuration.md, behaviour in
 * docs/hooks.md). Immutable once loaded, like the rest of gw_config_t.
 *
 * Secrets live here: recipients' phone numbers (address) and hooks' tokens
 * or passwords (secret, read from secret_file). Nothing may log them.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_CONFIG_HOOKS_H
#define PLANTROOM_GW_CONFIG_HOOKS_H

#include <limits.h>
#include <stddef.h>

#define GW_HOOK_MAX_ARGS 24
#define GW_HOOK_MAX_KV   16
#define GW_NOTIFY_MAX    16 /* members of a group, items of a route's lists */
#define GW_NOTIFY_NAME   64

typedef enum gw_hook_kind { GW_HOOK_EXEC = 0, GW_HOOK_WEBHOOK = 1 } gw_hook_kind_t;
typedef enum gw_hook_auth { GW_AUTH_NONE = 0, GW_AUTH_BASIC, GW_AUTH_BEARER } gw_hook_auth_t;

typedef struct gw_kv {
    char key[64];
    char value[256]; /* a template: placeholders as in argv */
} gw_kv_t;

typedef struct gw_hook_cfg {
    char name[GW_NOTIFY_NAME];
    gw_hook_kind_t kind;
    /* exec */
    char argv[GW_HOOK_MAX_ARGS]
             [256]; /* templates, e.g. {"gammu-smsd-inject","TEXT","{phone}",...} */
    int nargv;
    /* webhook */
    char url[512];
    int form; /* 1: form fields; 0: JSON body */
    gw_kv_t fields[GW_HOOK_MAX_KV];
    int nfields;
    gw_kv_t headers[GW_HOOK_MAX_KV];
    int nheaders;
    gw_hook_auth_t auth;
    char username[128];
    char secret[256]; /* password (basic) or token (bearer): SECRET */
    char ca_file[PATH_MAX];
    /* both */
    int timeout_ms;
    int max_attempts;   /* then the notification is given up (state failed) */
    int backoff_ms;     /* first retry after this, doubling */
    int backoff_max_ms; /* up to this */
    int max_segments;   /* SMS segments a message may take; 0: no limit */
    /* exec: stdin is a mail message (MIME: To, From, Subject, the text and,
     * for a report, the HTML page) instead of the alert JSON */
    int stdin_mail;
    char mail_from[128];
} gw_hook_cfg_t;

typedef struct gw_recipient_cfg {
    char name[GW_NOTIFY_NAME]; /* what logs show */
    char hook[GW_NOTIFY_NAME];
    int hook_idx;
    char address[128];   /* phone number (E.164) or mail address ("email"): SECRET */
    int min_interval_ms; /* rate limit: at most one message per this */
} gw_recipient_cfg_t;

typedef struct gw_group_cfg {
    char name[GW_NOTIFY_NAME];
    int members[GW_NOTIFY_MAX]; /* recipient indexes */
    int nmembers;
    int group_wait_ms;      /* fold alerts arriving within this into one message */
    int repeat_interval_ms; /* re-notify an open, unacknowledged order; 0: never */
    int escalate_after_ms;  /* unacknowledged this long after the first message: escalate */
    char escalate_to[GW_NOTIFY_NAME];
    int escalate_idx; /* -1: none */
    int send_resolved;
} gw_group_cfg_t;

typedef struct gw_route_cfg {
    unsigned priorities; /* bit per gw_priority_t; 0: any */
    char categories[GW_NOTIFY_MAX][32];
    int ncategories; /* 0: any */
    char buildings[GW_NOTIFY_MAX][64];
    int nbuildings; /* 0: any */
    char devices[GW_NOTIFY_MAX][GW_NOTIFY_NAME];
    int ndevices; /* 0: any */
    int groups[GW_NOTIFY_MAX];
    int ngroups;
    int cont; /* 1: later routes are tried too; 0: the first match wins */
} gw_route_cfg_t;

typedef struct gw_quiet_cfg {
    int enabled;
    int start_s, end_s;         /* seconds after local midnight; start > end spans midnight */
    unsigned weekdays;          /* bit per tm_wday (0 = Sunday) of the day the window starts */
    char tz[64];                /* IANA zone name; "" = the system's */
    unsigned bypass_priorities; /* bit per gw_priority_t */
    char bypass_categories[GW_NOTIFY_MAX][32];
    int nbypass_categories;
} gw_quiet_cfg_t;

/* While a work order of a source rule (on a source device) is active, the
 * alerts of the target devices (and rules) are muted: a fire panel's fault
 * mutes its zones' derived alerts. Empty lists match any; empty
 * target_devices means the source's own device. */
typedef struct gw_inhibit_cfg {
    char source_rules[GW_NOTIFY_MAX][GW_NOTIFY_NAME];
    int nsource_rules;
    char source_devices[GW_NOTIFY_MAX][GW_NOTIFY_NAME];
    int nsource_devices;
    char target_devices[GW_NOTIFY_MAX][GW_NOTIFY_NAME];
    int ntarget_devices;
    char target_rules[GW_NOTIFY_MAX][GW_NOTIFY_NAME];
    int ntarget_rules;
} gw_inhibit_cfg_t;

/* The bounds of the notifier's state ("notify", gw_config_notify.c;
 * docs/configuration.md). */
typedef struct gw_notify_limits {
    int retention_days; /* seen ids, finished alerts, sent/failed messages kept this long */
    int max_rows;       /* ... and at most this many rows of each */
    int queue_max;      /* changes waiting for notify.db before the whole state replaces them */
    int max_pending;    /* messages waiting to be delivered */
} gw_notify_limits_t;

typedef struct gw_notify_cfg {
    gw_hook_cfg_t *hooks;
    size_t nhooks;
    gw_recipient_cfg_t *recipients;
    size_t nrecipients;
    gw_group_cfg_t *groups;
    size_t ngroups;
    gw_route_cfg_t *routes;
    size_t nroutes;
    gw_quiet_cfg_t quiet;
    gw_inhibit_cfg_t *inhibits;
    size_t ninhibits;
    gw_notify_limits_t limits;
} gw_notify_cfg_t;

#endif
