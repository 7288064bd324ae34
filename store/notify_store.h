/*
 * notify_store.h: the notifier's durable state, in its own SQLite file
 * (state_dir/notify.db, WAL, synchronous=FULL, mode 0600), separate from the
 * ledger so that neither schema constrains the other (docs/hooks.md,
 * "Durability").
 *
 * Tables, created with CREATE TABLE IF NOT EXISTS at open:
 *  - seen:          work-order event ids already taken in (the ledger's
 *                   outbox may hand the same event over again);
 *  - alerts:        the last known state of each work order notified about;
 *  - batch:         alerts waiting in a group for its group_wait or for the
 *                   end of quiet hours;
 *  - alert_groups:  per work order and group: when first and last sent,
 *                   whether escalated (repeat and escalation timing);
 *  - notifications: each message to each recipient: pending until the hook
 *                   succeeded (then sent) or gave up (failed); attempts and
 *                   the time of the next try.
 *
 * A notify_store_t is one connection, used from the loop thread only (the
 * writes are small and rare: a handful per notification). All functions
 * return 0 or a negative GW_E* code with a reason in err where taken.
 */
#ifndef PLANTROOM_NOTIFY_STORE_H
#define PLANTROOM_NOTIFY_STORE_H

#include "gateway/base/gw_types.h"

#include <stddef.h>
#include <stdint.h>

typedef struct notify_store notify_store_t;

int notify_store_open(notify_store_t **out, const char *path, char *err, size_t errlen);
void notify_store_close(notify_store_t *s);
int notify_store_begin(notify_store_t *s);
int notify_store_commit(notify_store_t *s);
void notify_store_rollback(notify_store_t *s);
/* The last SQLite error, for logs. */
const char *notify_store_errmsg(notify_store_t *s);

/* Record event_id as taken in. Returns 1 when it was new, 0 when already
 * seen, or a negative code. Entries older than 30 days are pruned at open. */
int notify_seen(notify_store_t *s, const char *event_id, int64_t now_ms);

typedef struct notify_alert {
    char wo_id[96];
    int64_t number;
    char priority[16];
    char category[32];
    char device[64];
    char rule[64];
    char title[256];
    char status[24];
    int cleared;
    int64_t opened_ms;
} notify_alert_t;

/* Insert or replace the alert of a->wo_id. */
int notify_alert_put(notify_store_t *s, const notify_alert_t *a);
/* 0 and *a filled, GW_ENOENT, or an error. */
int notify_alert_get(notify_store_t *s, const char *wo_id, notify_alert_t *a);

/* Alerts not cleared and not final (open, acknowledged, in_progress).
 * Caller frees *rows. */
int notify_alert_list_active(notify_store_t *s, notify_alert_t **rows, size_t *n);

typedef struct notify_batch_row {
    int64_t id;
    char group[64];
    char wo_id[96];
    char kind[16];
    int64_t created_ms;
} notify_batch_row_t;

/* Queue an alert in a group's batch (once per group, work order, kind). */
int notify_batch_add(notify_store_t *s, const char *group, const char *wo_id, const char *kind,
                     int64_t now_ms);
/* Every batch row, by group then id. Caller frees *rows with free(). */
int notify_batch_list(notify_store_t *s, notify_batch_row_t **rows, size_t *n);
int notify_batch_del(notify_store_t *s, int64_t id);

typedef struct notify_ag_row {
    char wo_id[96];
    char group[64];
    int64_t first_sent_ms, last_sent_ms;
    int escalated;
} notify_ag_row_t;

/* The alert was sent to group at now_ms (first_sent kept if set). */
int notify_ag_sent(notify_store_t *s, const char *wo_id, const char *group, int64_t now_ms);
int notify_ag_escalated(notify_store_t *s, const char *wo_id, const char *group);
/* Rows of alerts not cleared and not final (status open, acknowledged,
 * in_progress); wo_id NULL: all such alerts, else that work order's rows
 * whatever its state. Caller frees *rows. */
int notify_ag_list(notify_store_t *s, const char *wo_id, notify_ag_row_t **rows, size_t *n);

typedef struct notify_msg {
    int64_t id;
    char group[64];
    char recipient[64];
    char message[2048];
    char *alert_json; /* owned: free with notify_msg_free_array */
    int attempts;
    int64_t next_ms;
} notify_msg_t;

int notify_msg_add(notify_store_t *s, const char *group, const char *recipient, const char *message,
                   const char *alert_json, int64_t now_ms, int64_t *id);
/* Pending messages due at now_ms, oldest first, at most limit. */
int notify_msg_due(notify_store_t *s, int64_t now_ms, int limit, notify_msg_t **rows, size_t *n);
void notify_msg_free_array(notify_msg_t *rows, size_t n);
int notify_msg_sent(notify_store_t *s, int64_t id, int attempts, int64_t now_ms);
int notify_msg_retry(notify_store_t *s, int64_t id, int attempts, int64_t next_ms,
                     const char *error);
int notify_msg_failed(notify_store_t *s, int64_t id, int attempts, const char *error);

#endif
