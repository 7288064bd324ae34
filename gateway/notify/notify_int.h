/*
 * notify_int.h: the notifier's private state and what its files share
 * (gw_notify.h is the public side; design in docs/hooks.md).
 *
 * State is in notify.db (store/notify_store.h), not in memory: only the
 * events of the current loop iteration, the deliveries in flight and the
 * rate limiter's last-send times live in struct gw_notify.
 *
 * The sections below go from the bottom up: a file calls only the files
 * of the sections above its own (the map is in gw_notify.c).
 *
 * Loop thread only.
 */
#ifndef PLANTROOM_NOTIFY_INT_H
#define PLANTROOM_NOTIFY_INT_H

#include "gateway/notify/gw_notify.h"
#include "gateway/notify/gw_route.h"
#include "protocols/hooks/hk.h"
#include "store/notify_store.h"

#include <cjson/cJSON.h>

#define GW_NOTIFY__TICK_MS 200
#define GW_NOTIFY__DUE_MAX 64 /* messages looked at per tick */
#define GW_NOTIFY__MSG_MAX 2048

/* Events that arrived during this loop iteration, taken in together. */
typedef struct gw_notify__ev {
    struct gw_notify__ev *next;
    char payload[]; /* the outbox row's JSON */
} gw_notify__ev_t;

struct gw_notify {
    uint64_t delivered, failures; /* delivery attempts that succeeded, failed */
    uv_loop_t *loop;
    uv_timer_t tick;
    uv_check_t take_in; /* runs after the loop's poll phase: takes in `pending` */
    gw_notify__ev_t *pending, **pending_tail;
    int open_handles;
    const gw_config_t *cfg;
    gw_notify_env_t env;
    notify_store_t *st;
    hk_t *hk;
    int stopping;
    int64_t *inflight; /* notification ids being delivered */
    size_t ninflight, capinflight;
    int64_t *last_send; /* per recipient index: wall ms of the last start */
    size_t nlast_send;
    unsigned tick_failures; /* consecutive failed ticks, to log few of them */
};

/* ---- notify_lookup.c: names, the host, JSON ------------------------------- */

/* 1 when a work order of this status is finished (resolved, closed,
 * cancelled). */
int notify__is_final(const char *status);
/* Index of the group / recipient of this name in the config, or -1. */
int notify__group_idx(const gw_notify_t *n, const char *name);
int notify__recipient_idx(const gw_notify_t *n, const char *name);
/* The priority of this name (medium when unknown). */
gw_priority_t notify__prio(const char *name);
/* The device's location from the host; "" when unknown. */
void notify__location(gw_notify_t *n, const char *device, const char **b, const char **f,
                      const char **r);
/* The string o[key], or "" when missing or not a string. */
const char *notify__jstr(const cJSON *o, const char *key);

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
                           const notify_alert_t *alerts, size_t k);
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

/* Start the due pending messages (at most GW_NOTIFY__DUE_MAX a tick) that
 * are not in flight and whose recipient's rate limit allows; each outcome
 * is recorded when its hook ends. Returns 0 or the store's negative code. */
int notify__deliver(gw_notify_t *n, int64_t now);

/* ---- notify_flush.c: batches flushed into messages ------------------------ */

/* Flush every group whose group_wait has passed: queue one message per
 * member, drop what no longer matters or is muted, keep what quiet hours
 * hold. Inside the caller's transaction. Returns 0 or a negative code. */
int notify__flush(gw_notify_t *n, int64_t now);

/* ---- notify_report.c: the monthly report --------------------------------- */

/* Take in a report event (outbox channel "report") inside the caller's
 * transaction: once per event_id, one message per member of the groups of
 * the routes listing the category "report", due now or when quiet hours
 * end (at most 12 h later). Returns 0 or a negative code. */
int notify__report_take(gw_notify_t *n, const cJSON *ev, int64_t now);

/* ---- notify_ingest.c: work-order events taken in ------------------------- */

/* Keep a copy of an outbox row's JSON and take it in after this loop
 * iteration's poll phase, with the others of the iteration. */
void notify__event_add(gw_notify_t *n, const char *payload);
/* Take in every pending event, all in one transaction. Returns 0, or the
 * negative code when notify.db cannot be written: the events then stay
 * pending, in order, for the next try. */
int notify__take_in(gw_notify_t *n);
/* Free the events not taken in (at the end). */
void notify__events_free(gw_notify_t *n);

/* ---- notify_schedule.c: the tick ----------------------------------------- */

/* The timer's callback (t->data is the notifier): take in what is pending,
 * flush batches, queue repeats and escalations, deliver due messages. */
void notify__tick_cb(uv_timer_t *t);

#endif
