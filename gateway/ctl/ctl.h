/*
 * ctl.h: what the files of plantroomctl share: global options, the command
 * table row, exit codes and helpers. Each area (workorders, ...) keeps its
 * commands in its own file as a table ending in a NULL row, listed in
 * ctl_main.c's ctl_tables.
 *
 * The files form layers, so that no two call each other in a circle:
 * ctl_main.c (dispatch) calls the areas (ctl_workorders.c, ctl_reports.c,
 * ctl_status.c, ctl_replay.c), which call the shared helpers: the command
 * line in ctl_util.c (options, usage, help) and the ledger in ctl_ledger.c
 * (where it is, opening it, times, output files). The usage lists every
 * command, yet the helpers must not reach up to the areas' tables: main
 * hands them over with ctl_set_commands before it dispatches.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_CTL_H
#define PLANTROOM_CTL_H

#include "store/ledger.h"

#include <stdio.h>

#ifndef PLANTROOM_VERSION
#define PLANTROOM_VERSION "0.1.0"
#endif

enum { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

/* Where the config and the ledger are when no option or variable says. */
#define CTL_DEFAULT_CONFIG    "/etc/plantroom/plantroom.json"
#define CTL_DEFAULT_STATE_DIR "/var/lib/plantroom"
#define CTL_DEFAULT_LEDGER    "ledger.db"

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
extern const ctl_command_t ctl_cmds_audit[]; /* ctl_audit.c: audit verify */

/* Every command of tables, a NULL-ended list of command tables (NULL: none). */
#define CTL_FOR_EACH_COMMAND(tables, c)                                                            \
    for (const ctl_command_t *const *t_ = (tables); t_ && *t_; t_++)                               \
        for (const ctl_command_t *c = *t_; c->noun; c++)

/* ---- the command line (ctl_util.c) ---- */

/* The command tables the usage and the help list: main's, set before it
 * dispatches. */
void ctl_set_commands(const ctl_command_t *const *tables);
/* The command being run (NULL: none yet) and whether --json is on the
 * command line: errors then go to stderr as one JSON object. */
void ctl_set_context(const ctl_command_t *c, int json);
/* Print the usage: every command with its options and summary. */
void ctl_usage(FILE *out);
/* Print the usage of command c (its options and summary) on stdout. */
void ctl_help_cmd(const ctl_command_t *c);
/* "plantroomctl help [NOUN [VERB]]": the usage, a noun's verbs or one
 * verb's; returns CTL_EXIT_OK, or CTL_EXIT_USAGE (reported) when unknown. */
int ctl_help_topic(int argc, char **argv);
/* Report a usage error (fmt has one %s for what): the message and a
 * one-line hint to the command's --help, or with --json a JSON error of
 * code "usage"; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, const char *what);
/* Report an error on stderr: "plantroomctl: <message>", or with --json
 * {"error":{"code":code,"message":...}}. code is one of the stable codes
 * of docs/operations.md ("plantroomctl"). */
void ctl_error(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The stable code of a negative GW_E* result ("not_found", "not_allowed",
 * "invalid", "ledger", ...; "failed" for the rest). */
const char *ctl_code_for(int rc);
/* Match argv[*i] against option name ("--name", or "--name VALUE" /
 * "--name=VALUE" when val is given). Returns 1 and advances *i when it
 * matches, 0 when not, -1 when its value is missing (reported). */
int ctl_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* The options every command accepts (--config, --state-dir, --ledger). */
int ctl_global_opt(ctl_global_t *g, int argc, char **argv, int *i);

/* ---- the ledger (ctl_ledger.c; more in ctl_ledger.h) ---- */

/* Resolve the ledger path and open it read-only; prints the reason on
 * failure and returns a negative code. */
int ctl_open_ledger(const ctl_global_t *g, ledger_t **lg);
/* The ledger's path as every verb resolves it, without opening it (*path
 * malloc'd: the caller frees it). 0, or a negative code (printed). */
int ctl_ledger_path(const ctl_global_t *g, char **path);

#endif
