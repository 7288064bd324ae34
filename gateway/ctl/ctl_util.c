/*
 * ctl_util.c: plantroomctl's command line, shared by every area (ctl.h):
 * matching options (ctl_opt, the global ones), the usage with every
 * command, the help of one verb, and usage errors.
 *
 * The usage lists the commands of every area, and the areas call the usage
 * (on a usage error): for this file not to depend on the areas, main hands
 * it their tables with ctl_set_commands (see ctl.h for the layers).
 */
#include "gateway/ctl/ctl.h"

#include <stdio.h>
#include <string.h>

/* The tables main dispatches to (ctl_main.c). */
static const ctl_command_t *const *ctl_commands;

void ctl_set_commands(const ctl_command_t *const *tables)
{
    ctl_commands = tables;
}

void ctl_usage(FILE *out)
{
    fprintf(out, "usage: plantroomctl [--config FILE] [--state-dir DIR] [--ledger PATH] "
                 "COMMAND ...\n"
                 "       plantroomctl --help | --version\n\ncommands:\n");
    CTL_FOR_EACH_COMMAND(ctl_commands, c)
    fprintf(out, "  %s%s%s %s\n      %s\n", c->noun, c->verb && c->verb[0] ? " " : "",
            c->verb ? c->verb : "", c->options, c->summary);
    fprintf(out, "\nThe ledger is --ledger PATH, else \"ledger\".\"path\" of the config (default "
                 "ledger.db)\nunder the state directory: --state-dir, $PLANTROOM_STATE_DIR, the "
                 "config's \"state_dir\",\nor " CTL_DEFAULT_STATE_DIR ". The config is --config, "
                 "$PLANTROOM_CONFIG or\n" CTL_DEFAULT_CONFIG ".\n"
                 "Exit status: 0 done, 1 failed, 2 usage error, 3 audit chain broken.\n");
}

/* Report a usage error and return the exit status for it. */
int ctl_usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "plantroomctl: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    ctl_usage(stderr);
    return CTL_EXIT_USAGE;
}

/* Match argv[*i] against option name ("--name", and "--name=value" when it
 * takes a value). Returns 1 and advances *i past it (and its value) when it
 * matches, 0 when not, -1 when its value is missing (reported). */
int ctl_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return 0;
    if (!val)
        return a[n] == '\0' ? ((*i)++, 1) : 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        (*i)++;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        ctl_usage_error("option %s needs a value", name);
        return -1;
    }
    *val = argv[*i + 1];
    *i += 2;
    return 1;
}

/* The options every command accepts, before or after NOUN VERB. */
int ctl_global_opt(ctl_global_t *g, int argc, char **argv, int *i)
{
    int m;

    if ((m = ctl_opt(argc, argv, i, "--config", &g->config)) != 0)
        return m;
    if ((m = ctl_opt(argc, argv, i, "--state-dir", &g->state_dir)) != 0)
        return m;
    return ctl_opt(argc, argv, i, "--ledger", &g->ledger);
}

/* The usage of one verb, as "--help" after it asks. */
int ctl_help(const char *noun, const char *verb)
{
    CTL_FOR_EACH_COMMAND(ctl_commands, c)
    {
        if (strcmp(c->noun, noun) == 0 && c->verb && strcmp(c->verb, verb) == 0)
            printf("usage: plantroomctl %s %s %s\n  %s\n", c->noun, c->verb, c->options,
                   c->summary);
    }
    return CTL_EXIT_OK;
}
