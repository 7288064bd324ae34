/*
 * spool.h: the telemetry spool: telemetry messages that could not reach the
 * MQTT broker, kept in their own SQLite file (state_dir/spool.db by default,
 * separate from the work-order ledger) until they are replayed.
 *
 * Rows are kept oldest first (id order) within a bound: appending past it
 * deletes the oldest rows and adds their number to a persistent "dropped"
 * counter, so the count survives a restart and can be published. WAL with
 * synchronous=NORMAL: a committed append survives a crash of the process.
 * Not thread-safe: one thread uses a spool (in the daemon the spool's own
 * thread, spool_worker.h). docs/mqtt.md, "Store-and-forward", explains how
 * the daemon uses it. Errors name what the storage did: -ENOSPC, -EROFS,
 * GW_ECORRUPT, GW_EIO, else GW_EDB.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_SPOOL_H
#define PLANTROOM_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct spool spool_t;

/* One message. In spool_append the strings are the caller's; rows from
 * spool_read own theirs (spool_rows_free). */
typedef struct spool_msg {
    int64_t id; /* set by the spool; ignored by spool_append */
    int64_t ts_ms;
    char *topic;
    char *payload;
} spool_msg_t;

/* Open (creating) the spool at path. Returns 0, or a negative GW_E* code
 * with the reason in err. */
int spool_open(spool_t **out, const char *path, char *err, size_t errlen);
void spool_close(spool_t *s);

/* Append n messages in one transaction, then keep at most max_rows rows
 * (max_rows < 0: no bound), deleting the oldest. *dropped (may be NULL) gets
 * how many were deleted. Returns 0 or a negative code with err. */
int spool_append(spool_t *s, const spool_msg_t *msgs, size_t n, int64_t max_rows, int64_t *dropped,
                 char *err, size_t errlen);

/* Read up to max rows with id > after_id, oldest first, into a new array
 * (*rows, *n; free with spool_rows_free): the rows and their strings are
 * one allocation. Returns 0 or a negative code. */
int spool_read(spool_t *s, int64_t after_id, size_t max, spool_msg_t **rows, size_t *n, char *err,
               size_t errlen);
void spool_rows_free(spool_msg_t *rows, size_t n);

/* Delete every row with id <= id. Returns 0 or a negative code. */
int spool_delete_upto(spool_t *s, int64_t id, char *err, size_t errlen);

/* Rows now; rows dropped past the bound since the file was created. */
int64_t spool_count(spool_t *s);
int64_t spool_dropped(spool_t *s);

#endif
