/*
 * store_file.h: what every state file of the gateway needs when storage
 * fails (docs/operations.md, "When storage fails"): check a SQLite file at
 * open, and move a damaged file aside as NAME.corrupt-<UTC timestamp>
 * (never delete it: it is the evidence), so that a fresh one can start.
 * Used for ledger.db, notify.db, spool.db and rules.state. Any thread.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_STORE_FILE_H
#define PLANTROOM_STORE_FILE_H

#include <stddef.h>

/* Check the SQLite database at path: opened read-only, `PRAGMA
 * quick_check`. Returns 0 when it is sound, GW_ENOENT when there is no
 * file (or an empty one), GW_ECORRUPT when it is not a database or the
 * check fails (err says how), GW_EIO when it cannot be read, GW_ETIMEDOUT
 * when it stayed locked (5 s), GW_ENOMEM. */
int store_db_check(const char *path, char *err, size_t errlen);

/* What a long check may tell its caller (store_db_check_ex); any member
 * may be NULL. progress(arg) is called before the check and every few
 * thousand steps of it: a non-zero answer interrupts it. connection(arg, db) is called
 * with the check's connection once it is open and with NULL before it is
 * closed: between the two, another thread may sqlite3_interrupt(db) (the
 * way to stop the page-by-page part of the check, where progress is not
 * called). Both run on the checking thread. */
struct sqlite3;
typedef struct store_check_hooks {
    int (*progress)(void *arg);
    void (*connection)(void *arg, struct sqlite3 *db);
    void *arg;
} store_check_hooks_t;

/* store_db_check, with `PRAGMA integrity_check` instead when full (also
 * the indexes against their tables: slower), and the hooks (may be NULL).
 * An interrupted check returns GW_ESTATE ("interrupted"). */
int store_db_check_ex(const char *path, int full, const store_check_hooks_t *hooks, char *err,
                      size_t errlen);

/* The open marker of a state file: path + ".open", created (and fsync'd
 * with its directory) when the file is opened for writing, removed after a
 * clean close. Present at the next start, it says the last run did not
 * close the file (crash, kill, power loss): the file is checked then
 * (docs/architecture.md, "Damaged files").
 * store_marker_present: 1 when the marker exists, else 0.
 * store_marker_set: create it; 0 or GW_EIO with err.
 * store_marker_clear: remove it (a missing one is fine). */
int store_marker_present(const char *path);
int store_marker_set(const char *path, char *err, size_t errlen);
void store_marker_clear(const char *path);

/* Move path (and its -wal, -shm and -journal companions, when present)
 * aside to path.corrupt-YYYYMMDDTHHMMSSZ (a suffix -2, -3... if taken).
 * The name chosen is written to moved_to (may be NULL). Returns 0, or
 * GW_EIO with err. */
int store_file_quarantine(const char *path, char *moved_to, size_t len, char *err, size_t errlen);

/* The errno behind the last I/O error on db's main file or its journal /
 * WAL (SQLite's own errno of the failing file: ENOSPC, EROFS, EIO...), or
 * 0. sqlite3_system_errno() may have lost it to the rollback that
 * followed. Call on the connection's thread, right after the error. */
int store_db_errno(struct sqlite3 *db);

/* Set mode 0600 on path and its SQLite companions that exist (state files
 * hold site data and phone numbers). Returns 0 or GW_EIO with err. */
int store_file_private(const char *path, char *err, size_t errlen);

#endif
