/*
 * ctl_ledger.h: what plantroomctl's ledger files share (ctl_workorders.c,
 * ctl_wo_change.c, ctl_reports.c): opening the ledger for writing, parsing
 * times, writing output to stdout or a file, and the exit status of a
 * ledger error. Defined in ctl_ledger.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_CTL_LEDGER_H
#define PLANTROOM_CTL_LEDGER_H

#include "gateway/ctl/ctl.h"

#include <stdint.h>
#include <stdio.h>

/* Open the ledger read-write (WAL, busy timeout: works while plantroomd
 * runs). Prints the reason on failure and returns a negative code. */
int ctl_open_ledger_rw(const ctl_global_t *g, ledger_t **lg);
/* Parse a time: "YYYY-MM-DD" (local midnight), "YYYY-MM-DDTHH:MM[:SS]"
 * (local), the same ending in "Z" (UTC), or "Nd" / "Nh" (that long ago).
 * Returns 0 and sets *ms, or -1. */
int ctl_parse_time(const char *s, int64_t *ms);
/* The wall clock in ms. */
int64_t ctl_now_ms(void);
/* The exit status for a ledger error code: 2 for bad input (GW_EINVAL,
 * GW_ENOENT, GW_ESTATE), else 1. */
int ctl_exit_for(int rc);
/* Open --out FILE (or stdout when path is NULL); prints the reason and
 * returns NULL on failure. ctl_close_out closes it and returns 0, or -1 if
 * writing failed (reported). */
FILE *ctl_open_out(const char *path);
int ctl_close_out(FILE *f, const char *path);
/* Write text to path whole (path.new, then renamed over path): a reader
 * never sees half a page. Returns 0, or -1 (reported). */
int ctl_write_file(const char *path, const char *text);

#endif
