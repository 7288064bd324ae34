/*
 * notify_store_int.h: what the two files of notify.db share (notify_store.c:
 * open, writes, purge; notify_store_load.c: the start's load) and nobody
 * else uses. The contract is store/notify_store.h.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_NOTIFY_STORE_INT_H
#define PLANTROOM_NOTIFY_STORE_INT_H

#include "store/notify_store.h"

#include <sqlite3.h>

enum { NS_SEEN, NS_ALERT, NS_BATCH_PUT, NS_BATCH_DEL, NS_AG, NS_MSG, NS__N };

struct notify_store {
    sqlite3 *db;
    char path[4096];
    sqlite3_stmt *st[NS__N];   /* prepared once, on first use */
    int last_rc, last_sys;     /* of the last failure: SQLite's code, errno */
    char last_msg[256];        /* ... and SQLite's message */
    notify_fault_t last_fault; /* ... and what kind it was */
};

/* Remember the failure of the last call (for notify_store_fault); returns
 * the project code (GW_ENOMEM or GW_EDB). */
int notify_store__fail(notify_store_t *s, int rc);

#endif
