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
 * check fails (err says how), GW_EIO when it cannot be read. */
int store_db_check(const char *path, char *err, size_t errlen);

/* Move path (and its -wal, -shm and -journal companions, when present)
 * aside to path.corrupt-YYYYMMDDTHHMMSSZ (a suffix -2, -3... if taken).
 * The name chosen is written to moved_to (may be NULL). Returns 0, or
 * GW_EIO with err. */
int store_file_quarantine(const char *path, char *moved_to, size_t len, char *err, size_t errlen);

/* The errno behind the last I/O error on db's main file or its journal /
 * WAL (SQLite's own errno of the failing file: ENOSPC, EROFS, EIO...), or
 * 0. sqlite3_system_errno() may have lost it to the rollback that
 * followed. Call on the connection's thread, right after the error. */
struct sqlite3;
int store_db_errno(struct sqlite3 *db);

/* Set mode 0600 on path and its SQLite companions that exist (state files
 * hold site data and phone numbers). Returns 0 or GW_EIO with err. */
int store_file_private(const char *path, char *err, size_t errlen);

#endif
