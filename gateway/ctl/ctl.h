/*
 * ctl.h: what the files of plantroomctl share: global options, the command
 * table row, exit codes and helpers. Each area (workorders, ...) keeps its
 * commands in its own file as a table ending in a NULL row, listed in
 * ctl_main.c's ctl_tables.
 */
#ifndef PLANTROOM_CTL_H
#define PLANTROOM_CTL_H

#include "store/ledger.h"

#include <stdio.h>

#ifndef PLANTROOM_VERSION
#define PLANTROOM_VERSION "0.1.0"
#endif

enum { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

typedef struct ctl_global {
    const char *config;
    const char *state_dir;
    const char *ledger;
} ctl_global_t;

typedef struct ctl_command {
    const char *noun; /* NULL ends a table */
    const char *verb; /* "": the noun alone is the command (status, backup FILE) */
    int (*run)(ctl_global_t *g, int argc, char **argv);
    const char *options; /* usage after "NOUN VERB" */
    const char *summary;
} ctl_command_t;

/* The areas' command tables. A row whose verb is NULL is a command of its
 * noun alone ("plantroomctl kpi --from ..."): it gets every argument after
 * the noun. */
extern const ctl_command_t ctl_cmds_workorders[];
extern const ctl_command_t ctl_cmds_replay[]; /* ctl_replay.c; verb "": no verb */
extern const ctl_command_t ctl_cmds_status[];
extern const ctl_command_t ctl_cmds_reports[];

/* Report a usage error (fmt has one %s for what) with the usage; returns
 * CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, const char *what);
/* Match argv[*i] against option name ("--name", or "--name VALUE" /
 * "--name=VALUE" when val is given). Returns 1 and advances *i when it
 * matches, 0 when not, -1 when its value is missing (reported). */
int ctl_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* The options every command accepts (--config, --state-dir, --ledger). */
int ctl_global_opt(ctl_global_t *g, int argc, char **argv, int *i);
/* Resolve the ledger path and open it read-only; prints the reason on
 * failure and returns a negative code. */
int ctl_open_ledger(const ctl_global_t *g, ledger_t **lg);

#endif
