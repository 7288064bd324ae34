/*
 * ctl_wo.h: what the work-order files of plantroomctl share, internal to
 * them: ctl_workorders.c (the command table; list, show, export) calls the
 * table output (ctl_wo_table.c) and the verbs that change a work order
 * (ctl_wo_change.c); neither calls back.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_CTL_WO_H
#define PLANTROOM_CTL_WO_H

#include "gateway/ctl/ctl.h"

#include <stddef.h>

/* ---- ctl_wo_table.c ---- */

/* The table. Wide terminals get one row per order: NUMBER STATUS PRIO
 * DEVICE RULE OPENED OCC TITLE, the title cut to fit. Narrow ones (a phone)
 * get NUMBER STATUS PRIO OPENED OCC (about 40 columns), then device / rule
 * and the title on indented lines of their own. */
void ctl__wo_print_table(const ledger_wo_t *wo, size_t n);
/* One JSON array of ledger_wo_to_json objects, one object per line: valid
 * for any JSON parser, and still greppable. Returns 0, or GW_ENOMEM
 * (reported). */
int ctl__wo_print_json(const ledger_wo_t *wo, size_t n);

/* ---- ctl_wo_change.c: "workorders VERB NUMBER|ID ..." ---- */

int ctl__wo_ack(ctl_global_t *g, int argc, char **argv);
int ctl__wo_start(ctl_global_t *g, int argc, char **argv);
int ctl__wo_resolve(ctl_global_t *g, int argc, char **argv);
int ctl__wo_close(ctl_global_t *g, int argc, char **argv);
int ctl__wo_cancel(ctl_global_t *g, int argc, char **argv);
int ctl__wo_assign(ctl_global_t *g, int argc, char **argv);
int ctl__wo_note(ctl_global_t *g, int argc, char **argv);

#endif
