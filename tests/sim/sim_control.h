/*
 * sim_control.h: how tests and demos steer plantroom-sim while it runs.
 *
 * One syntax for both sources: "DEVICE.POINT=VALUE" in engineering units
 * (lift-1.vibration_machine=5.2), or a scripted fault of a device
 * (lift-2.fault=silent, lift-2.fault=exception:2, lift-2.fault=slow:800,
 * lift-2.fault=disconnect, lift-2.fault=garbage, lift-2.fault=none). --set assignments fill the
 * command-line layer once at start. The control file holds one assignment per line, with
 * '#' comments and blank lines; sim_control_poll() re-reads it whenever its
 * identity, size or mtime changes. A reload parses the whole file into a
 * fresh layer and then swaps it in (mosquitto-style), so a line removed from
 * the file releases its point; a bad line is logged with file and line
 * number and skipped, the rest still applies. A missing file is an empty
 * one. Writers should replace the file by rename for atomic updates, though
 * an in-place rewrite is picked up on the next poll as well.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_SIM_CONTROL_H
#define PLANTROOM_SIM_CONTROL_H

#include <stddef.h>
#include <sys/stat.h>

#include "tests/sim/sim_model.h"

typedef struct sim_control {
    const char *path; /* not owned; NULL when no control file is used */
    int seen;         /* 1 once polled; 2 when the file existed at last poll */
    struct stat last; /* identity of the file at the last reload */
} sim_control_t;

/* Parse one line. Returns 1 with *dev, *idx and *value set for an
 * assignment, 2 with *dev and *fault set for a fault ("DEVICE.fault=KIND",
 * sim_fault_parse), 0 for a blank or comment-only line, or
 * GW_EINVAL/GW_ENOENT with a reason in msg. The value is range-checked
 * against the point. */
int sim_control_parse(sim_world_t *w, const char *line, sim_device_t **dev, int *idx, double *value,
                      sim_fault_t *fault, char *msg, size_t msglen);

/* Apply one --set argument to the command-line layer. Returns 0 or a
 * negative code with a reason in msg (a blank argument is an error). */
int sim_control_set_cli(sim_world_t *w, const char *arg, char *msg, size_t msglen);

/* Check the control file and reload it if it changed (always on the first
 * call). Returns 0, or GW_ENOMEM / GW_EIO after logging; on error the
 * previous file layer stays in force. */
int sim_control_poll(sim_control_t *c, sim_world_t *w);

#endif
