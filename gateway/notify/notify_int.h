/*
 * notify_int.h: the notifier's private state and what its files share
 * (gw_notify.h is the public side; design in docs/hooks.md).
 *
 * The working state lives in memory (notify__state_t): loaded once from
 * notify.db at start, then changed here and written behind, in order, by
 * the store thread (store/notify_worker.h): every change appends a row
 * image to the open unit (notify__persist_t), which is handed over after
 * the loop iteration. Deadlines are on the monotonic clock (gw_mono_ms);
 * wall time (gw_wall_ms) only stamps records and judges quiet hours.
 *
 * The sections below go from the bottom up: a file calls only the files
 * of the sections above its own (the map is in gw_notify.c).
 *
 * Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_NOTIFY_INT_H
#define PLANTROOM_NOTIFY_INT_H

#include "gateway/notify/gw_notify.h"
#include "gateway/notify/gw_route.h"
#include "gateway/notify/gw_tz.h"
#include "protocols/hooks/hk.h"
#include "store/notify_store.h"
#include "store/notify_worker.h"

#include <cjson/cJSON.h>
#include <limits.h>

#define GW_NOTIFY__TICK_MS        200
#define GW_NOTIFY__IDLE_TICK_MS   1000 /* the tick while nothing is held in memory */
#define GW_NOTIFY__DUE_MAX        64   /* deliveries started per tick */
#define GW_NOTIFY__MSG_MAX        2048
#define GW_NOTIFY__RECORD_WAIT_MS 2000  /* a message waits this long at most for its record */
#define GW_NOTIFY__LOCKED_MS      30000 /* a lock held this long raises the alarm */
#define GW_NOTIFY__DAY_MS         (24LL * 3600 * 1000)
#define GW_NOTIFY__LONG_AGO_MS    (3650LL * GW_NOTIFY__DAY_MS)
#define GW_NOTIFY__ALARM_KEY      "storage.notify"
#define GW_NOTIFY__REPORT_HOLD_MS (12LL * 3600 * 1000) /* quiet hours hold a report at most */

/* ---- the state in memory --------------------------------------------------- */

/* A string-keyed intrusive hash: the node is the first member of what it
 * indexes (seen ids, alerts). */
typedef struct notify__hnode {
    struct notify__hnode *hnext;
    const char *key;
} notify__hnode_t;

typedef struct notify__hmap {
    notify__hnode_t **b;
    size_t nb, n;
} notify__hmap_t;

typedef struct notify__seen {
    notify__hnode_t h;          /* key: id */
    struct notify__seen *fnext; /* oldest first */
    int64_t at_ms;              /* wall: when taken in */
    char id[];
} notify__seen_t;

/* A group told about an alert: its row and the row's times on the
 * monotonic clock. */
typedef struct notify__ag {
    notify_ag_row_t r;
    int64_t first_mono, last_mono;
    int gi; /* group index under cfg generation gen */
    unsigned gen;
} notify__ag_t;

typedef struct notify__alert {
    notify__hnode_t h; /* key: r.wo_id */
    notify_alert_t r;
    int64_t seq; /* unit of its last change: kept in memory until committed */
    notify__ag_t *ag;
    size_t nag, capag;
} notify__alert_t;

typedef struct notify__batch {
    notify_batch_row_t r;
    int64_t created_mono;
    int done; /* flushed or dropped: removed after the group's flush */
} notify__batch_t;

typedef struct notify__msg {
    notify_msg_t r;
    int64_t next_mono;   /* due (pending) */
    int64_t queued_mono; /* when queued */
    int64_t rec_seq;     /* unit that recorded it (0: loaded from the file) */
    int64_t seq;         /* unit of its last change */
    int inflight;
} notify__msg_t;

typedef struct notify__state {
    notify__hmap_t seen_map;
    notify__seen_t *seen_head, *seen_tail;
    size_t nseen;
    notify__hmap_t alert_map;
    notify__alert_t **alerts;
    size_t nalerts, capalerts;
    notify__batch_t *batch; /* by id */
    size_t nbatch, capbatch;
    notify__msg_t **msgs; /* by id */
    size_t nmsgs, capmsgs, npending;
    int64_t next_batch_id, next_msg_id;
} notify__state_t;

/* Write-behind: the open unit, what is committed, the event_stored
 * answers waiting for a commit, and the health of notify.db. */
typedef struct notify__ack {
    int64_t seq, outbox_id;
} notify__ack_t;

typedef struct notify__persist {
    notify_worker_t *w;
    notify_tx_t *open;   /* the unit being built, or NULL */
    int64_t seq_last;    /* of the last unit made */
    int64_t committed;   /* every unit up to this one is on disk */
    notify__ack_t *acks; /* FIFO from acks_head */
    size_t acks_head, nacks, capacks;
    notify_fault_t fault; /* NOTIFY_FAULT_NONE once a write committed */
    char fault_msg[160];
    int64_t fault_since_mono;
    char corrupt[240]; /* a damaged file moved aside at start or run time */
    int alarm_raised;
    char alarm_detail[200];
    int need_image;     /* the whole state must be written (a unit lost) */
    int64_t image_seq;  /* the last image's unit (waits while above committed) */
    size_t since_image; /* changes handed over after it */
    uint64_t write_failures, images, acks_dropped, lost;
    notify_counts_t db; /* rows in the file at the last count */
    int counted;
    int64_t purged; /* rows the last purge deleted */
} notify__persist_t;

/* Delivery attempts per hook, by name (kept across reloads). */
typedef struct notify__hookfig {
    char name[GW_NOTIFY_NAME];
    uint64_t ok, failed;
} notify__hookfig_t;

struct gw_notify {
    uint64_t delivered, failures; /* delivery attempts that succeeded, failed */
    notify__hookfig_t *hookfig;   /* the same per hook (notify_deliver.c) */
    size_t nhookfig, caphookfig;
    uv_loop_t *loop;
    uv_timer_t tick;
    uv_check_t push; /* hands the open unit over after the poll phase */
    uv_async_t wake; /* the store thread posted results */
    gw_queue_t results;
    int open_handles;
    const gw_config_t *cfg;
    unsigned cfg_gen; /* bumped on every config */
    gw_notify_env_t env;
    char path[PATH_MAX + 16];
    hk_t *hk;
    gw_tz_t *zone; /* quiet_hours.tz */
    int64_t zone_next_mono, house_next_mono;
    int stopping;
    notify__state_t s;
    notify__persist_t p;
    int64_t *last_send; /* per recipient index: monotonic ms of the last start */
    size_t nlast_send;
    uint64_t ticks, tick_us_total, tick_us_max;
    int tick_idle; /* the tick runs every GW_NOTIFY__IDLE_TICK_MS (notify_schedule.c) */
    uint64_t msgs_dropped, seen_dropped, alerts_dropped; /* past a bound */
};

/* ---- notify_lookup.c: names, the host, JSON ------------------------------- */

/* 1 when a work order of this status is finished (resolved, closed,
 * cancelled). */
int notify__is_final(const char *status);
/* Index of the group / recipient of this name in the config, or -1. */
int notify__group_idx(const gw_notify_t *n, const char *name);
int notify__recipient_idx(const gw_notify_t *n, const char *name);
/* The group index of a told group, cached per config generation. */
int notify__ag_group(const gw_notify_t *n, notify__ag_t *g);
/* The priority of this name (medium when unknown). */
gw_priority_t notify__prio(const char *name);
/* The device's location from the host; "" when unknown. */
void notify__location(gw_notify_t *n, const char *device, const char **b, const char **f,
                      const char **r);
/* The string o[key], or "" when missing or not a string. */
const char *notify__jstr(const cJSON *o, const char *key);
/* 1 when a message's alert JSON is a report's (notify_report.c), not
 * alerts. */
int notify__is_report(const char *alert_json);
/* The bounds of docs/configuration.md "notify", with their defaults. */
int64_t notify__max_rows(const gw_notify_t *n);
size_t notify__max_pending(const gw_notify_t *n);
size_t notify__queue_max(const gw_notify_t *n);
int64_t notify__retention_ms(const gw_notify_t *n);

/* ---- notify_state.c: the tables in memory ---------------------------------- */

/* Seen ids: 1 when id was taken in. Add one (NULL when out of memory);
 * forget those taken in before cutoff_ms and the oldest past max. */
int notify__seen_has(const gw_notify_t *n, const char *id);
notify__seen_t *notify__seen_add(gw_notify_t *n, const char *id, int64_t at_ms);
size_t notify__seen_trim(gw_notify_t *n, int64_t cutoff_ms, size_t max);

/* Alerts by work-order id; add copies r (NULL when out of memory); del
 * removes alerts[i] with its groups. */
notify__alert_t *notify__alert_find(const gw_notify_t *n, const char *wo_id);
notify__alert_t *notify__alert_add(gw_notify_t *n, const notify_alert_t *r);
void notify__alert_del(gw_notify_t *n, size_t i);
/* 1 when the alert is not cleared and not final. */
int notify__alert_active(const notify__alert_t *a);
/* The group row of a for group (NULL: none); add one (NULL: out of memory). */
notify__ag_t *notify__ag_find(notify__alert_t *a, const char *group);
notify__ag_t *notify__ag_add(notify__alert_t *a, const notify_ag_row_t *r);

/* Batch rows (by id). find: the row of (group, wo_id, kind) not done.
 * add: a new row (its id assigned), NULL when out of memory. sweep: drop
 * the done rows. 1 when some row refers to wo_id. */
notify__batch_t *notify__batch_find(const gw_notify_t *n, const char *group, const char *wo_id,
                                    const char *kind);
notify__batch_t *notify__batch_add(gw_notify_t *n, const char *group, const char *wo_id,
                                   const char *kind, int64_t wall, int64_t mono);
void notify__batch_sweep(gw_notify_t *n);
int notify__batch_refers(const gw_notify_t *n, const char *wo_id);

/* Messages (by id). add takes m's strings over and assigns its id when 0
 * (NULL when out of memory: m is then cleared); del frees msgs[i]. */
notify__msg_t *notify__msg_add(gw_notify_t *n, notify_msg_t *m);
void notify__msg_del(gw_notify_t *n, size_t i);
/* Mark a message done (state "sent" or "failed"): the pending count
 * follows, the alert JSON is freed (history keeps the text). */
void notify__msg_done(gw_notify_t *n, notify__msg_t *m, const char *state);

void notify__state_free(gw_notify_t *n);

/* ---- notify_persist.c: write-behind through the store thread ------------------ */

/* Stamp and queue a row image in the open unit; each returns the unit's
 * sequence number (0 when out of memory: the whole state is then written
 * at the next hand-over). */
int64_t notify__p_seen(gw_notify_t *n, const notify__seen_t *e);
int64_t notify__p_alert(gw_notify_t *n, notify__alert_t *a);
int64_t notify__p_ag(gw_notify_t *n, notify__alert_t *a, const notify__ag_t *g);
int64_t notify__p_batch(gw_notify_t *n, const notify__batch_t *b, int del);
int64_t notify__p_msg(gw_notify_t *n, notify__msg_t *m);
/* Queue housekeeping: check the file (check 1), purge by retention. */
void notify__p_house(gw_notify_t *n, int check, int64_t wall);
/* Answer event_stored(outbox_id) once everything queued so far is
 * committed (at once when it is). outbox_id 0: nothing to answer. At most
 * notify.max_rows answers wait; past that the oldest is dropped (the
 * ledger offers its row again at the next start). */
void notify__p_ack(gw_notify_t *n, int64_t outbox_id);
/* Hand the open unit to the store thread; past notify.queue_max waiting
 * changes (or after a lost unit), hand the whole state (an image) too;
 * while an image waits, drop units past notify.queue_max behind it (the
 * next image holds them). */
void notify__p_push(gw_notify_t *n);
/* 1 when the unit seq is committed, or when notify.db cannot be written
 * now (messages then go out from memory). */
int notify__p_recorded(const gw_notify_t *n, int64_t seq);
/* One result of the store thread. */
void notify__p_result(gw_notify_t *n, const gw_msg_t *m);
/* Raise, refresh or clear the storage.notify alarm (and a lock held too
 * long). */
void notify__p_alarm(gw_notify_t *n);
/* Changes handed to the store thread and not yet written. */
size_t notify__p_depth(const gw_notify_t *n);

/* ---- notify_load.c: notify.db at start ------------------------------------- */

/* The monotonic time of a wall-clock stamp in the past (anchor of a wait);
 * a stamp in the future (the clock was set back) counts as long ago:
 * whatever waits on it is due. */
int64_t notify__anchor(int64_t stored_wall, int64_t now_wall, int64_t now_mono);
/* The monotonic time of a stored wall-clock deadline: due now when past or
 * more than max_ahead ahead (the clock was set back). */
int64_t notify__deadline(int64_t stored_wall, int64_t max_ahead, int64_t now_wall,
                         int64_t now_mono);
/* Check, quarantine if damaged, open and load notify.db into the state,
 * re-anchored on the monotonic clock. *st: the open file, or NULL when
 * none could be opened (the notifier then works from memory). Returns 0,
 * or GW_ENOMEM with err. */
int notify__load(gw_notify_t *n, notify_store_t **st, char *err, size_t errlen);

/* ---- notify_text.c: the alert JSON, hook templates, webhook bodies -------- */

/* Placeholders of hook templates. */
typedef struct notify__ph {
    const gw_notify_t *n;
    const gw_recipient_cfg_t *r;
    const notify_msg_t *m;
    const cJSON *first; /* the first alert of the message */
    const cJSON *doc;
    char buf[64];
    char nums[256];
} notify__ph_t;

/* The JSON every hook receives (no phone numbers in it): k alerts of group,
 * items[i] and alerts[i] describing the same one. */
cJSON *notify__alerts_json(gw_notify_t *n, const char *group, const gw_nitem_t *items,
                           const notify_alert_t *const *alerts, size_t k);
/* The alert JSON for the hook's environment when it differs from the
 * stored one: a report's without its text and HTML (an environment variable
 * holds at most 128 KiB). malloc'd; NULL when the stored one serves. */
char *notify__alert_env(const notify__ph_t *p);
/* tpl with its placeholders ({phone}, {email}, {message}, {number},
 * {report_html}, ...) filled from p; malloc'd, NULL when out of memory. */
char *notify__expand(const char *tpl, notify__ph_t *p);
/* The body of a webhook: form fields, or the alert JSON with the recipient,
 * address and message added; malloc'd, NULL when out of memory. */
char *notify__http_body(const gw_hook_cfg_t *h, notify__ph_t *p);

/* ---- notify_mail.c: a message as a mail ----------------------------------- */

/* The MIME message an exec hook with "stdin": "mail" reads for the message
 * p->m to p->r (p->doc its parsed alert JSON): a report with its text, HTML
 * and the page attached, or an alert as plain text. malloc'd, NULL when out
 * of memory. */
char *notify__mail(const notify__ph_t *p, const gw_hook_cfg_t *h);

/* ---- notify_deliver.c: messages delivered through hooks ------------------- */

/* Queue a message in memory and in notify.db (m's strings taken over),
 * queued at mono and due at due_mono (monotonic; m->next_ms is the same
 * due time on the wall clock, for the record); past notify.max_pending,
 * the oldest pending message is given up. */
void notify__msg_queue(gw_notify_t *n, notify_msg_t *m, int64_t mono, int64_t due_mono);
/* Start the due pending messages (at most GW_NOTIFY__DUE_MAX) that are
 * recorded (or waited long enough), not in flight, and whose recipient's
 * rate limit allows; each outcome is recorded when its hook ends. */
void notify__deliver(gw_notify_t *n, int64_t mono, int64_t wall);

/* ---- notify_flush.c: batches flushed into messages ------------------------ */

/* Put an alert in a group's batch (once per group, work order and kind),
 * in memory and written behind. */
void notify__batch_queue(gw_notify_t *n, const char *group, const char *wo_id, const char *kind,
                         int64_t wall, int64_t mono);

/* Flush every group whose group_wait has passed: queue one message per
 * member, drop what no longer matters or is muted, keep what quiet hours
 * hold. */
void notify__flush(gw_notify_t *n, int64_t mono, int64_t wall);

/* ---- notify_ingest.c: work-order events taken in ------------------------- */

/* Take one outbox row's JSON in: seen id, alert state, batch rows; answer
 * event_stored(outbox_id) once that is committed (at once for a
 * duplicate already committed, or a row the notifier ignores). */
void notify__ingest(gw_notify_t *n, int64_t outbox_id, const char *payload);

/* ---- notify_report.c: the monthly report --------------------------------- */

/* Take one outbox row of channel "report" in: once per event_id, one
 * message per member of the groups of the routes listing the category
 * "report", due now or when the quiet hours end (at most
 * GW_NOTIFY__REPORT_HOLD_MS later); answer event_stored(outbox_id) once
 * the seen id and the messages are committed (as notify__ingest). */
void notify__report_take(gw_notify_t *n, int64_t outbox_id, const char *payload);

/* ---- notify_schedule.c: the tick ----------------------------------------- */

/* The timer's callback (t->data is the notifier): flush batches, queue
 * repeats and escalations, deliver due messages, prune what is committed,
 * keep house daily. */
void notify__tick_cb(uv_timer_t *t);
/* The store thread's results (a->data is the notifier). */
void notify__wake_cb(uv_async_t *a);
/* Something came in (an event, a config): the tick runs at its full rate
 * again if it was idle. */
void notify__tick_busy(gw_notify_t *n);
/* Housekeeping now: retention in memory, purge and check of the file, the
 * zone read again. */
void notify__housekeeping(gw_notify_t *n);

#endif
