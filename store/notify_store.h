/*
 * notify_store.h: the notifier's file, state_dir/notify.db (SQLite, WAL,
 * synchronous=FULL, mode 0600 with its -wal and -shm), separate from the
 * ledger so that neither schema constrains the other (docs/hooks.md,
 * "Durability").
 *
 * The notifier keeps its working state in memory and writes it behind, in
 * order, through its store thread (store/notify_worker.h), which is the
 * only user of a notify_store_t once started; the file is read once, at
 * start (notify_store_load). The tables, all row images the notifier
 * writes whole:
 *  - seen:          work-order event ids taken in (the ledger's outbox may
 *                   hand the same event over again) and when;
 *  - alerts:        the last known state of each work order notified about;
 *  - batch:         alerts waiting in a group for its group_wait or for the
 *                   end of quiet hours;
 *  - alert_groups:  per work order and group: when first and last told,
 *                   whether escalated (repeat and escalation timing);
 *  - notifications: each message to each recipient: pending until its hook
 *                   succeeded (sent) or gave up (failed); attempts, the
 *                   time of the next try, the last error.
 * Times are wall-clock milliseconds (records people read; the notifier
 * re-anchors them on its monotonic clock at start). The tables are bounded
 * by notify_store_purge (retention days and a row count).
 *
 * All functions return 0 or a negative GW_E* code; notify_store_fault says
 * what kind of failure the last one was. One connection, one thread.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_NOTIFY_STORE_H
#define PLANTROOM_NOTIFY_STORE_H

#include "gateway/base/gw_types.h"

#include <stddef.h>
#include <stdint.h>

typedef struct notify_store notify_store_t;

/* What kind of failure a write met (for the operator: docs/operations.md,
 * "Gateway alarms"). */
typedef enum notify_fault {
    NOTIFY_FAULT_NONE = 0,    /* the last write committed */
    NOTIFY_FAULT_LOCKED,      /* another process holds the write lock */
    NOTIFY_FAULT_FULL,        /* SQLITE_FULL, ENOSPC, EDQUOT */
    NOTIFY_FAULT_READONLY,    /* SQLITE_READONLY, EROFS, EACCES, EPERM */
    NOTIFY_FAULT_IO,          /* any other I/O error */
    NOTIFY_FAULT_CORRUPT,     /* SQLITE_CORRUPT, SQLITE_NOTADB, a failed quick_check */
    NOTIFY_FAULT_UNAVAILABLE, /* no file open (could not be opened or created) */
} notify_fault_t;

/* "ok", "locked", "full", "read-only", "I/O error", "corrupt", "unavailable". */
const char *notify_fault_name(notify_fault_t f);

typedef struct notify_seen_row {
    char event_id[256];
    int64_t at_ms; /* when taken in */
} notify_seen_row_t;

typedef struct notify_alert {
    char wo_id[96];
    int64_t number;
    char priority[16];
    char category[32];
    char device[64];
    char rule[64];
    char title[640]; /* a rule's title: 159 characters of UTF-8 (GW_TITLE_MAX) */
    char status[24];
    int cleared;
    int64_t opened_ms;  /* when the notifier first heard of it */
    int64_t updated_ms; /* its last event (retention) */
} notify_alert_t;

typedef struct notify_batch_row {
    int64_t id; /* the notifier's, increasing */
    char group[64];
    char wo_id[96];
    char kind[16]; /* gw_nkind_t name */
    int64_t created_ms;
} notify_batch_row_t;

typedef struct notify_ag_row {
    char wo_id[96];
    char group[64];
    int64_t first_sent_ms, last_sent_ms;
    int escalated;
} notify_ag_row_t;

typedef struct notify_msg {
    int64_t id; /* the notifier's, increasing */
    char group[64];
    char recipient[64];
    char *message;    /* owned (malloc) */
    char *alert_json; /* owned; NULL once the message is sent or failed */
    char state[8];    /* "pending", "sent", "failed" */
    int attempts;
    int64_t next_ms; /* next try (pending) */
    int64_t created_ms, sent_ms;
    char last_error[160];
} notify_msg_t;

/* Deep copy of src into dst (strings duplicated). 0 or GW_ENOMEM (dst then
 * holds no allocation). */
int notify_msg_copy(notify_msg_t *dst, const notify_msg_t *src);
/* Free what m owns (not m itself). */
void notify_msg_clear(notify_msg_t *m);

/* The notifier's whole state as rows: what notify_store_load reads, what
 * notify_store_write_image writes. Every array is malloc'd; free with
 * notify_image_free. */
typedef struct notify_image {
    notify_seen_row_t *seen; /* oldest first */
    size_t nseen;
    notify_alert_t *alerts;
    size_t nalerts;
    notify_batch_row_t *batch; /* by id */
    size_t nbatch;
    notify_ag_row_t *ag;
    size_t nag;
    notify_msg_t *msgs; /* by id */
    size_t nmsgs;
    int64_t max_batch_id, max_msg_id; /* the highest ids in the file */
} notify_image_t;

void notify_image_free(notify_image_t *img);

/* Rows in the file (status and metrics), and its size with the WAL. */
typedef struct notify_counts {
    int64_t seen, alerts, batch, alert_groups, notifications, pending;
    int64_t file_bytes;
} notify_counts_t;

/* Open (creating, mode 0600) and migrate the file at path. Returns 0, or a
 * negative code with err; notify_store_fault-like kind in *fault (may be
 * NULL). The caller checks a file it did not create with store_db_check
 * (store/store_file.h) first. */
int notify_store_open(notify_store_t **out, const char *path, notify_fault_t *fault, char *err,
                      size_t errlen);
void notify_store_close(notify_store_t *s);

/* Read what the notifier keeps in memory: every seen id, the alerts not
 * final (or referenced by the batch) with their alert_groups rows, the
 * batch, the pending messages, and the highest ids. 0 or a negative code
 * with err (img is then empty). */
int notify_store_load(notify_store_t *s, notify_image_t *img, char *err, size_t errlen);

int notify_store_begin(notify_store_t *s);
int notify_store_commit(notify_store_t *s);
void notify_store_rollback(notify_store_t *s);

/* Row images, inside a transaction: seen ids are kept (insert or ignore),
 * the others replace the row of the same key. */
int notify_store_put_seen(notify_store_t *s, const notify_seen_row_t *r);
int notify_store_put_alert(notify_store_t *s, const notify_alert_t *a);
int notify_store_put_batch(notify_store_t *s, const notify_batch_row_t *b);
int notify_store_del_batch(notify_store_t *s, int64_t id);
int notify_store_put_ag(notify_store_t *s, const notify_ag_row_t *g);
int notify_store_put_msg(notify_store_t *s, const notify_msg_t *m);
/* Make the file hold img: seen ids added, alerts and messages replaced,
 * the batch and alert_groups tables replaced whole. */
int notify_store_write_image(notify_store_t *s, const notify_image_t *img);

/* Retention: delete seen ids taken in before cutoff_ms, finished alerts
 * (cleared or resolved/closed/cancelled, not in the batch) last changed
 * before it with their alert_groups, and sent or failed messages created
 * before it; then keep at most max_rows of each of those (the newest).
 * Pending messages and the batch are never purged. *deleted (may be
 * NULL): rows deleted. Inside a transaction. */
int notify_store_purge(notify_store_t *s, int64_t cutoff_ms, int64_t max_rows, int64_t *deleted);
int notify_store_counts(notify_store_t *s, notify_counts_t *c);

/* The kind of the last failure, and SQLite's message for it. */
notify_fault_t notify_store_fault(notify_store_t *s);
const char *notify_store_errmsg(notify_store_t *s);

#endif
