/*
 * ctl_main.c: plantroomctl's entry point: global options and dispatch to
 * the areas' command tables (ctl.h). The helpers the areas share are below
 * it: the command line in ctl_util.c, the ledger in ctl_ledger.c.
 *
 *   plantroomctl [--config FILE] [--state-dir DIR] [--ledger PATH] NOUN VERB [options]
 *   plantroomctl help [NOUN [VERB]]
 *
 * "--help" after a command prints that command's usage (exit 0), whatever
 * else is on the line. With "--json" anywhere, errors are one JSON object
 * on stderr (ctl_util.c).
 *
 * Read-only verbs open the ledger with LEDGER_OPEN_READONLY: SQLite's WAL
 * lets them read while plantroomd writes. Every verb has --json, since other
 * systems script this tool (docs/architecture.md, "Integration").
 *
 * Exit status: 0 done, 1 failed (ledger or config missing or unreadable),
 * 2 usage error (unknown command or option, bad value), 3 the audit chain
 * is broken (audit verify).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/ctl/ctl.h"

#include <stdio.h>
#include <string.h>

/* Every area's commands; an area adds its table here and in ctl.h. */
static const ctl_command_t *const ctl_tables[] = {
    ctl_cmds_workorders, ctl_cmds_replay, ctl_cmds_status, ctl_cmds_reports, ctl_cmds_audit, NULL,
};

/* 1 when --json is among the arguments (before a "--"). */
static int ctl_wants_json(int argc, char **argv)
{
    for (int k = 1; k < argc && strcmp(argv[k], "--") != 0; k++) {
        if (strcmp(argv[k], "--json") == 0)
            return 1;
    }
    return 0;
}

/* 1 when the command's arguments ask for its help (before a "--"). */
static int ctl_wants_help(int argc, char **argv)
{
    for (int k = 0; k < argc && strcmp(argv[k], "--") != 0; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
            return 1;
    }
    return 0;
}

/* Run command c on its arguments (after NOUN [VERB]); --help anywhere
 * among them prints its usage instead. */
static int ctl_run(const ctl_command_t *c, ctl_global_t *g, int argc, char **argv, int json)
{
    ctl_set_context(c, json);
    if (ctl_wants_help(argc, argv)) {
        ctl_help_cmd(c);
        return CTL_EXIT_OK;
    }
    return c->run(g, argc, argv);
}

int main(int argc, char **argv)
{
    ctl_global_t g = {0};
    const char *noun, *verb;
    int noun_known = 0, json = ctl_wants_json(argc, argv);
    int i = 1, m;

    ctl_set_commands(ctl_tables);
    ctl_set_context(NULL, json);
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ctl_usage(stdout);
            return CTL_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("plantroomctl %s\n", PLANTROOM_VERSION);
            return CTL_EXIT_OK;
        }
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        m = ctl_global_opt(&g, argc, argv, &i);
        if (m < 0)
            return CTL_EXIT_USAGE;
        if (m == 0 && strcmp(argv[i], "--json") == 0)
            return ctl_usage_error("%s goes after the command (plantroomctl NOUN VERB --json)",
                                   argv[i]);
        if (m == 0)
            return ctl_usage_error("unknown option %s", argv[i]);
    }
    if (i >= argc)
        return ctl_usage_error("%s", "no command given");
    noun = argv[i];
    verb = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(noun, "help") == 0)
        return ctl_help_topic(argc - i - 1, argv + i + 1);
    CTL_FOR_EACH_COMMAND(ctl_tables, c)
    {
        if (strcmp(noun, c->noun) != 0)
            continue;
        noun_known = 1;
        if (!c->verb || !c->verb[0]) /* no verb: "replay", "status", "kpi", "backup FILE" */
            return ctl_run(c, &g, argc - i - 1, argv + i + 1, json);
        if (verb && strcmp(verb, c->verb) == 0)
            return ctl_run(c, &g, argc - i - 2, argv + i + 2, json);
    }
    if (!noun_known)
        return ctl_usage_error("unknown command '%s'", noun);
    if (!verb || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        if (verb) /* "workorders --help": the noun's verbs */
            return ctl_help_topic(1, argv + i);
        return ctl_usage_error("%s needs a verb", noun);
    }
    return ctl_usage_error("unknown verb '%s'", verb);
}
