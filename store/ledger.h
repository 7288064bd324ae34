/*
 * ledger.h: the work-order ledger, a SQLite file in WAL mode.
 *
 * What it holds (docs/architecture.md, "Durability order"):
 *  - work orders, one active order at most per fingerprint (site/device/rule):
 *    a trigger while one is active counts an occurrence instead of opening a
 *    second order;
 *  - the audit trail of every change (append-only);
 *  - the outbox: events to publish, written in the same transaction as the
 *    change they announce and deleted only once every consumer (MQTT, the
 *    notifier) has acknowledged it, or once older than the retention;
 *  - people's changes (status, assignee, notes: ledger_wo_set_status and
 *    friends), each with its audit row and outbox event in one transaction;
 *  - telemetry rollups (1 minute, 1 hour) and device status, for trends,
 *    `plantroomctl devices` and the monthly report (ledger_report.c).
 *
 * A ledger_t is one SQLite connection: use it from one thread at a time. The
 * daemon uses it only on the ledger thread (ledger_worker.h); plantroomctl
 * opens its own connection. All functions return 0 or a negative GW_E* code
 * and, given err, write a one-line reason there.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_LEDGER_H
#define PLANTROOM_LEDGER_H

#include "gateway/base/gw_types.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ledger ledger_t;

enum {
    LEDGER_OPEN_CREATE = 1 << 0,   /* create the file (mode 0600) and schema if missing */
    LEDGER_OPEN_READONLY = 1 << 1, /* plantroomctl's read-only verbs */
};

/* Open (and with LEDGER_OPEN_CREATE create and migrate) the ledger at path.
 * Sets WAL, foreign keys, synchronous=FULL and a busy timeout. On success
 * *out owns the connection; close it with ledger_close. */
int ledger_open(ledger_t **out, const char *path, int flags, char *err, size_t errlen);
void ledger_close(ledger_t *lg);

/* Explicit transactions, so the ledger thread can batch many changes into
 * one commit. Calls outside a transaction are committed on their own. */
int ledger_begin(ledger_t *lg, char *err, size_t errlen);
int ledger_commit(ledger_t *lg, char *err, size_t errlen);
void ledger_rollback(ledger_t *lg);

/* A rule fired (or keeps firing). Strings are borrowed for the call. */
typedef struct ledger_trigger {
    const char *site;
    const char *device;
    const char *rule;
    const char *title;
    const char *description; /* may be NULL */
    const char *category;    /* "mechanical", "electrical", "fire", "plumbing", ... */
    const char *work_type;   /* "corrective", "preventive", "emergency" */
    gw_priority_t priority;
    const char *evidence_json; /* a JSON object's text, may be NULL */
    int64_t ts_ms;             /* when the condition was seen */
    /* The device's location from its config; each may be NULL or "". */
    const char *building;
    const char *floor;
    const char *room;
    /* Names given before the change is committed (the ledger thread's
     * provisional events, docs/mqtt.md "Provisional events"); NULL: minted
     * here. event_id: the id of the event this change writes (at most one:
     * opened, retriggered, priority_raised or cleared); wo_ulid: the ULID
     * part of the id of an order this trigger opens. */
    const char *event_id;
    const char *wo_ulid;
} ledger_trigger_t;

/* An event id is "<site>#<ULID>" (docs/mqtt.md): at most this long. */
#define LEDGER_EVENT_ID_MAX 96

/* ---- policy: SLA, routing, retention, reports --------------------------- */

#define LEDGER_ROUTES_MAX 32

/* A routing rule: a new work order whose location and category match gets
 * assignee. An empty field matches anything; the first match wins. */
typedef struct ledger_route {
    char building[64];
    char floor[32];
    char category[32];
    char assignee[64];
} ledger_route_t;

/* What the site's config says about work orders and retention. */
typedef struct ledger_policy {
    int64_t sla_ms[4]; /* due time after opening, per gw_priority_t; 0: no due time */
    ledger_route_t routes[LEDGER_ROUTES_MAX];
    size_t nroutes;
    int audit_retention_days;     /* audit rows older than this may be purged (>= 1) */
    int rollup_1m_retention_days; /* 1-minute rollups */
    int rollup_1h_retention_days; /* 1-hour rollups and device events */
    int outbox_retention_days;    /* outbox rows older than this are purged, acknowledged or not */
    int queue_max_ops;            /* the ledger thread's bound (ledger_worker_set_max_ops) */
    char report_dir[4096];        /* "" : no automatic monthly report */
    char site_id[64];             /* for the report's title and event ("": from the ledger) */
    char site_name[128];
} ledger_policy_t;

/* The defaults: SLA critical 4 h, high 24 h, medium 72 h, low 168 h; no
 * routes; audit 180 days, 1-minute rollups 8 days, 1-hour rollups 400 days;
 * outbox 30 days; a backlog of 10000 ops; no report directory. */
void ledger_policy_default(ledger_policy_t *p);
/* Use p (copied) for the work orders opened from now on and for purges. */
void ledger_set_policy(ledger_t *lg, const ledger_policy_t *p);
/* The path lg was opened with (owned by lg). */
const char *ledger_path(const ledger_t *lg);

typedef struct ledger_trigger_result {
    int opened;     /* 1: a new work order; 0: an active one was touched */
    char id[96];    /* the work order's id ("<site>:<ULID>") */
    int64_t number; /* its short number for humans */
    int64_t occurrences;
} ledger_trigger_result_t;

/* OPEN: open a work order for the fingerprint unless an active one
 * (open, acknowledged, in_progress) exists. A new order gets an audit row
 * and an outbox event "opened". On an active one whose condition had cleared
 * since, occurrences is incremented, cleared_at reset, and an audit row and
 * an outbox event "retriggered" written; otherwise only last_seen_at and the
 * evidence are refreshed. */
int ledger_wo_trigger(ledger_t *lg, const ledger_trigger_t *t, ledger_trigger_result_t *res,
                      char *err, size_t errlen);

/* UPDATE: the condition still holds: refresh last_seen_at and evidence of the
 * active work order of the fingerprint, if any (no audit row, no event).
 * When t->priority is more urgent than the order's (a predicted failure
 * drawing near), the priority is raised, with an audit row and an outbox
 * event "priority_raised"; it is never lowered. */
int ledger_wo_touch(ledger_t *lg, const ledger_trigger_t *t, char *err, size_t errlen);

/* RESOLVE: the condition cleared. Sets cleared_at on the active order of the
 * fingerprint (its status stays: people close work orders, not rules), with
 * an audit row and an outbox event "cleared". No active order: returns 0. */
int ledger_wo_clear(ledger_t *lg, const char *site, const char *device, const char *rule,
                    int64_t ts_ms, const char *evidence_json, char *err, size_t errlen);

/* A work order as read back. Strings owned by the struct. */
typedef struct ledger_wo {
    char *id;
    int64_t number;
    char *site, *device, *rule, *title, *description, *category, *work_type;
    char *priority; /* name, as gw_priority_name */
    char *status;   /* open, acknowledged, in_progress, resolved, closed, cancelled */
    char *evidence_json;
    int64_t occurrences;
    int64_t opened_at, last_seen_at, cleared_at, updated_at; /* ms; cleared_at 0 if not */
    char *building, *floor, *room; /* NULL when the device has no location */
    char *assignee;                /* NULL when nobody */
    /* ms; 0 when not (yet) */
    int64_t due_at, acknowledged_at, started_at, resolved_at, closed_at;
} ledger_wo_t;

typedef struct ledger_wo_filter {
    const char *status;   /* NULL: any */
    const char *device;   /* NULL: any */
    int active_only;      /* 1: open, acknowledged, in_progress */
    int limit;            /* 0: no limit */
    const char *priority; /* NULL: any */
    const char *category; /* NULL: any */
    int64_t since_ms;     /* opened at or after; 0: any */
} ledger_wo_filter_t;

/* List work orders, newest first. *out is an array of *n entries that the
 * caller frees with ledger_wo_free_array. */
int ledger_wo_list(ledger_t *lg, const ledger_wo_filter_t *f, ledger_wo_t **out, size_t *n,
                   char *err, size_t errlen);
void ledger_wo_free_array(ledger_wo_t *arr, size_t n);

/* The JSON text of one work order (the object used by plantroomctl --json and
 * in outbox events): id, number, site, status, priority, device, rule, title,
 * description, category, work_type, evidence (object), occurrences, and
 * opened_at, last_seen_at, cleared_at, updated_at as ISO-8601 UTC strings
 * (cleared_at null when not cleared). Caller frees with free(). */
char *ledger_wo_to_json(const ledger_wo_t *wo);

/* ---- people's changes --------------------------------------------------- */

/* The statuses, in lifecycle order, and the allowed transitions:
 * open -> acknowledged -> in_progress -> resolved -> closed, and cancelled
 * from open or acknowledged (not after work started). closed and cancelled
 * are final. The schema enforces the same with a trigger. */
extern const char *const ledger_statuses[6];
/* 1 when s is one of ledger_statuses. */
int ledger_status_valid(const char *s);
/* 1 when from -> to is allowed. */
int ledger_transition_ok(const char *from, const char *to);

/* Who changes something and through what: actor is a person or system name
 * (non-empty), channel one of "cli", "mqtt", "rule". */
typedef struct ledger_actor {
    const char *who;
    const char *channel;
} ledger_actor_t;

/* Read one work order by ref: its id ("<site>:<ULID>") or its short number
 * ("42" or "#42"). GW_ENOENT "no work order 42" when there is none, GW_EINVAL
 * when ref is neither form or a number is ambiguous (several sites). Free
 * with ledger_wo_free_fields. */
int ledger_wo_get(ledger_t *lg, const char *ref, ledger_wo_t *out, char *err, size_t errlen);
void ledger_wo_free_fields(ledger_wo_t *wo);

/* Move a work order to status (and stamp acknowledged_at, started_at,
 * resolved_at or closed_at). comment (may be NULL) goes into the audit row.
 * An audit row and an outbox event (acknowledged, started, resolved, closed,
 * cancelled) are written in the same transaction. GW_EINVAL for an unknown
 * status or actor/channel, GW_ENOENT for an unknown work order, GW_ESTATE
 * "closed -> open is not allowed" for a transition that is not allowed. */
int ledger_wo_set_status(ledger_t *lg, const char *ref, const char *status,
                         const ledger_actor_t *by, const char *comment, char *err, size_t errlen);
/* Set the assignee (non-empty); event "assigned". Not on a final order. */
int ledger_wo_assign(ledger_t *lg, const char *ref, const char *assignee, const ledger_actor_t *by,
                     char *err, size_t errlen);
/* Add a note (non-empty text); event "noted". Allowed in every status. */
int ledger_wo_add_note(ledger_t *lg, const char *ref, const char *text, const ledger_actor_t *by,
                       char *err, size_t errlen);
/* The JSON text of a work order with its audit trail and notes:
 * {"work_order":{...},"audit":[{ts,actor,channel,action,from,to,detail}],
 * "notes":[{ts,actor,channel,text}]}. Caller frees. Errors as ledger_wo_get. */
int ledger_wo_show_json(ledger_t *lg, const char *ref, char **out, char *err, size_t errlen);

/* ---- telemetry rollups and devices ------------------------------------- */

/* One closed 1-minute bucket of one point (good samples only). */
typedef struct ledger_rollup_row {
    char device[64];
    char point[64];
    char unit[16];
    int64_t ts_ms; /* start of the minute */
    double min, max, sum;
    int64_t count;
    int64_t last_ts; /* the newest sample in the bucket */
} ledger_rollup_row_t;

/* The same bucket packed, as the daemon hands a minute's buckets to the
 * ledger thread: the numbers, and where the names are in a block of text
 * that goes with the rows (each NUL-terminated; the unit right after the
 * point). 48 bytes a row and its names, not 192. */
typedef struct ledger_rollup_packed {
    int64_t ts_ms; /* start of the minute */
    double min, max, sum;
    int64_t last_ts; /* the newest sample in the bucket */
    uint32_t count;
    uint16_t dev; /* the device's name: names + dev */
    uint16_t pt;  /* the point's name: names + pt, then its unit */
} ledger_rollup_packed_t;

/* Merge rows into the 1-minute and 1-hour rollups (min of mins, max of
 * maxes, sums and counts added: a bucket submitted twice in parts is still
 * right) and move each device's last_seen forward. Every row is checked
 * first (device, point, count > 0, no NaN: GW_EINVAL, nothing written).
 * Its own transaction, or inside the caller's without a savepoint of its
 * own (ledger_rollup.c says why). */
int ledger_rollup_add(ledger_t *lg, const ledger_rollup_row_t *rows, size_t n, char *err,
                      size_t errlen);
/* The same for n packed rows whose names are in names. */
int ledger_rollup_add_packed(ledger_t *lg, const ledger_rollup_packed_t *rows, size_t n,
                             const char *names, char *err, size_t errlen);
/* Record a device status change ("online", "offline") with a detail (may be
 * NULL): the devices table and a device_events row. */
int ledger_device_status(ledger_t *lg, const char *device, const char *status, int64_t ts_ms,
                         const char *detail, char *err, size_t errlen);
/* JSON array of devices: name, status, status_since, last_seen (ISO-8601 or
 * null), points (how many have rollups). Caller frees. */
int ledger_devices_json(ledger_t *lg, char **out, char *err, size_t errlen);

/* Schema v6 moves the rollups into time-first tables online: move up to
 * max_rows of the rows still in the old tables into the new ones (merged
 * into a bucket already there), in one transaction (or a savepoint of the
 * caller's), and drop the old tables once they are empty. *left: the rows
 * left as last known on entry (< 0: unknown, counted here), the rows left
 * after on return (0: nothing left, the migration is over; it may be
 * larger than the truth after a purge; counted also when the batch then
 * fails). Returns 0, or a negative code with nothing changed (rolled
 * back). */
int ledger_rollup_move(ledger_t *lg, int max_rows, int64_t *left, char *err, size_t errlen);

/* Delete what the policy's retention lets go, as of now_ms: audit rows,
 * rollups, device events. *deleted (may be NULL) counts rows removed. */
int ledger_purge(ledger_t *lg, int64_t now_ms, int64_t *deleted, char *err, size_t errlen);

/* ---- KPIs and the monthly report (ledger_report.c) ---------------------- */

/* KPIs of work orders opened in [from_ms, to_ms), as of now_ms: opened,
 * closed, cancelled, on-time rate against the SLA (target 98 %), mean time
 * to acknowledge and to resolve, overall and by category and by location
 * (building/floor). JSON text, caller frees. */
int ledger_kpi_json(ledger_t *lg, int64_t from_ms, int64_t to_ms, int64_t now_ms, char **out,
                    char *err, size_t errlen);
/* The report of month YYYY-MM (local time), as of now_ms: KPIs (with the
 * areas well above the others flagged), work orders by status, the worst
 * late orders, top devices by faults (repeat offenders), device
 * availability, energy per kWh meter (per day, against the previous month
 * and the same month a year before), energy anomalies, and the predictive
 * orders with their chart data. The sections and their definitions are in
 * docs/operations.md, "Monthly report". JSON text, caller frees. GW_EINVAL
 * for a bad month. */
int ledger_report_json(ledger_t *lg, const char *month, int64_t now_ms, char **out, char *err,
                       size_t errlen);
/* Render KPI or report JSON as text for people. Caller frees. NULL on bad
 * input or out of memory. */
char *ledger_kpi_text(const char *kpi_json);
char *ledger_report_text(const char *report_json);
/* Render report JSON as one self-contained HTML page (inline CSS and SVG
 * charts, no script, nothing fetched; readable on a phone, printable).
 * Caller frees. NULL on bad input or out of memory. */
char *ledger_report_html(const char *report_json);
/* The chart data of one predictive (trend) work order, ref as for
 * ledger_wo_get, as of now_ms: the same object as an entry of the report's
 * "predictive" array. GW_EINVAL "not a predictive (trend) order" when its
 * evidence holds no prediction. JSON text, caller frees. */
int ledger_trend_json(ledger_t *lg, const char *ref, int64_t now_ms, char **out, char *err,
                      size_t errlen);
/* That entry as a standalone SVG file's text (the report's chart). Caller
 * frees. NULL on bad input or out of memory. */
char *ledger_trend_svg(const char *trend_json);
/* Write the report of month into dir as report-YYYY-MM.json, .txt and
 * .html (each: write .new, fsync, rename), then, in one transaction, note
 * it in the ledger (so that it is written once) and write an outbox row on
 * channel "report" (event "report", the summary, the text and the HTML),
 * so that it is handed to MQTT and the notifier once, durably, like a
 * work-order event. Returns 0, 1 when already written (nothing done), or a
 * negative code. */
int ledger_report_write(ledger_t *lg, const char *dir, const char *month, int64_t now_ms, char *err,
                        size_t errlen);
/* The month ("YYYY-MM", local time) before the one holding now_ms. */
void ledger_prev_month(int64_t now_ms, char out[8]);

/* The consumers of the outbox, as bits: a row is deleted once all of
 * LEDGER_CONSUMERS have acknowledged it. */
enum {
    LEDGER_CONSUMER_MQTT = 1,   /* the broker's PUBACK */
    LEDGER_CONSUMER_NOTIFY = 2, /* the notifier stored the event in notify.db */
    LEDGER_CONSUMERS = 3,
};

/* One event waiting to be published. */
typedef struct ledger_outbox_row {
    int64_t id;    /* increasing: publish in id order */
    char *channel; /* "workorder", or "report" (a monthly report written) */
    char *key;     /* the work order id the event is about ("report:YYYY-MM") */
    char *payload; /* JSON text, complete: the daemon publishes it as is */
    int64_t created_at;
    int acked; /* LEDGER_CONSUMER_* bits of the consumers that have it */
} ledger_outbox_row_t;

/* Rows with id > after_id, oldest first, at most limit (0: all). Free with
 * ledger_outbox_free_array. */
int ledger_outbox_list(ledger_t *lg, int64_t after_id, int limit, ledger_outbox_row_t **out,
                       size_t *n, char *err, size_t errlen);
void ledger_outbox_free_array(ledger_outbox_row_t *arr, size_t n);
/* Delete a delivered row; a missing row is not an error. */
int ledger_outbox_delete(ledger_t *lg, int64_t id, char *err, size_t errlen);
/* consumer (LEDGER_CONSUMER_* bits) has row id; the row is deleted once
 * every consumer has it. A missing row is not an error. */
int ledger_outbox_ack(ledger_t *lg, int64_t id, int consumer, char *err, size_t errlen);
/* Delete the outbox rows created before before_ms, acknowledged or not
 * (nobody takes them any more: MQTT disabled, a consumer broken for weeks).
 * *purged (may be NULL) gets how many. */
int ledger_outbox_purge(ledger_t *lg, int64_t before_ms, int64_t *purged, char *err, size_t errlen);

/* ---- the audit trail: a hash chain (ledger_audit.c) ----------------------
 * Every row carries SHA-256(previous hash || its content); retention cuts
 * the chain from its old end and records the cut in it. docs/security.md
 * says what that protects against. */

/* A row that is not a work-order change: a write to a device, a refused
 * command. Strings borrowed; wo_id and detail may be NULL. */
typedef struct ledger_audit_entry {
    const char *wo_id;   /* NULL or "": not about a work order */
    int64_t ts_ms;       /* 0: now */
    const char *actor;   /* who: a broker user, a Unix user, "ledger" */
    const char *channel; /* "mqtt", "control", "cli", "rule", "ledger" */
    const char *action;  /* "write", "command_refused", ... */
    const char *detail;  /* JSON text, may be NULL */
} ledger_audit_entry_t;

/* Append e to the chain (its own transaction, or a savepoint in the
 * caller's). *id_out (may be NULL): its id. */
int ledger_audit_add(ledger_t *lg, const ledger_audit_entry_t *e, int64_t *id_out, char *err,
                     size_t errlen);

/* The chain's head: its newest row. */
typedef struct ledger_audit_head {
    int64_t id;        /* 0: no rows */
    char hash[65];     /* hex, "" with no rows */
    int64_t rows;      /* rows kept */
    int64_t before_id; /* the horizon: the rows before it were purged */
} ledger_audit_head_t;
int ledger_audit_head(ledger_t *lg, ledger_audit_head_t *out, char *err, size_t errlen);

/* The audit row this connection last appended past although its stored
 * hash is not a hash (a damaged page, a hand edit): the chain went on from
 * the hash of that row's content (docs/operations.md, "The audit trail":
 * a broken chain does not stop commits). 0: none since the file was
 * opened. The ledger thread turns a new value into the gateway alarm
 * storage.audit. */
int64_t ledger_audit_break(const ledger_t *lg);

/* What ledger_audit_verify found. */
typedef enum ledger_audit_problem {
    LEDGER_AUDIT_INTACT = 0,
    LEDGER_AUDIT_CHANGED,    /* a row's content (or its place) does not match its hash */
    LEDGER_AUDIT_MISSING,    /* rows are gone between two kept ones (row: the first gone) */
    LEDGER_AUDIT_UNHASHED,   /* a row without a valid hash */
    LEDGER_AUDIT_HORIZON,    /* the horizon differs from the last cut the chain records */
    LEDGER_AUDIT_WORK_ORDER, /* a work order whose rows are missing (deleted at the end) */
    LEDGER_AUDIT_HEAD,       /* the chain does not hold the head given to compare with */
} ledger_audit_problem_t;

typedef struct ledger_audit_report {
    ledger_audit_problem_t problem; /* LEDGER_AUDIT_INTACT: all is well */
    int64_t row;                    /* the first broken or missing row; 0: none */
    char reason[400];               /* for people, naming the row */
    int64_t rows, first_id;         /* rows walked; the first one's id (0: none) */
    ledger_audit_head_t head;
    int64_t horizon_ts, horizon_id; /* the horizon as stored */
    int64_t work_orders;            /* work orders cross-checked */
    int64_t breaks;                 /* rows that do not chain (changed, unhashed, after a gap) */
    int64_t break_rows[8];          /* the first of them (as row above) */
} ledger_audit_report_t;

/* Walk the chain from the horizon's anchor to the head and cross-check the
 * horizon and the work orders; with expect_head ("ID:HEX", a head
 * published earlier; may be NULL) check the chain still holds it. rep
 * names the first problem; the walk goes on past a row that does not
 * chain (from its stored hash, or from the hash of its content when the
 * stored one is not a hash, as the appender does), so that every later
 * row is checked too and counted in breaks when it does not chain.
 * Returns 0 when the walk was done (rep says what it found), or a negative
 * code when the ledger could not be read. */
int ledger_audit_verify(ledger_t *lg, const char *expect_head, ledger_audit_report_t *rep,
                        char *err, size_t errlen);
/* "intact", "changed", "missing", ... */
const char *ledger_audit_problem_name(ledger_audit_problem_t p);

#endif
