/*
 * ledger_admin.h: what operators and monitoring need of the ledger besides
 * work orders: counts for metrics and status (ledger_stats), and an online
 * backup with SQLite's backup API (ledger_backup) that runs while plantroomd
 * writes. docs/operations.md explains backup and restore.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_LEDGER_ADMIN_H
#define PLANTROOM_LEDGER_ADMIN_H

#include "store/ledger.h"

#include <stddef.h>
#include <stdint.h>

/* Work-order statuses in the order of ledger_stats_t.by_status. */
enum { LEDGER_NSTATUS = 6 };
extern const char *const ledger_status_names[LEDGER_NSTATUS];

typedef struct ledger_stats {
    int64_t by_status[LEDGER_NSTATUS]; /* open, acknowledged, in_progress, resolved, closed,
                                          cancelled */
    int64_t outbox_rows;               /* events not yet delivered */
} ledger_stats_t;

/* Count work orders by status and the rows of the outbox. Returns 0 or a
 * negative code with the reason in err. */
int ledger_stats(ledger_t *lg, ledger_stats_t *out, char *err, size_t errlen);

/* Copy the whole ledger open as src (read-only is enough), consistently, into a new file dest
 * (mode 0600), while other connections keep reading and writing it: SQLite's
 * online backup API, in steps that yield to the writer. The copy is written
 * to "<dest>.new", checked (PRAGMA quick_check), synced, then renamed to
 * dest, so dest is either absent or complete. dest must not exist. Returns
 * 0, GW_EEXIST, or another negative code with the reason in err. *pages, if
 * given, receives the number of pages copied. */
int ledger_backup(ledger_t *src, const char *dest, int *pages, char *err, size_t errlen);

#endif
