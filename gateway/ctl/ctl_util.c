/*
 * ctl_util.c: plantroomctl's command line, shared by every area (ctl.h):
 * matching options (ctl_opt, the global ones), the usage with every
 * command, the help of one verb ("VERB --help", "help NOUN [VERB]"), and
 * errors: a usage error is its message and a one-line hint to the verb's
 * --help; with --json every error is one JSON object on stderr,
 * {"error":{"code":"<stable code>","message":"..."}} (the codes are in
 * docs/operations.md, "plantroomctl").
 *
 * The usage lists the commands of every area, and the areas call the usage
 * (on a usage error): for this file not to depend on the areas, main hands
 * it their tables with ctl_set_commands (see ctl.h for the layers).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/ctl/ctl.h"

#include <cjson/cJSON.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tables main dispatches to (ctl_main.c). */
static const ctl_command_t *const *ctl_commands;
/* The command being run (NULL before dispatch) and whether --json was
 * given: what the errors look like. */
static const ctl_command_t *ctl_current;
static int ctl_json_errors;

void ctl_set_commands(const ctl_command_t *const *tables)
{
    ctl_commands = tables;
}

void ctl_set_context(const ctl_command_t *c, int json)
{
    ctl_current = c;
    ctl_json_errors = json;
}

/* "noun verb", "noun" when the noun alone is the command. */
static void ctl_name(const ctl_command_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", c->noun, c->verb && c->verb[0] ? " " : "", c->verb ? c->verb : "");
}

void ctl_usage(FILE *out)
{
    fprintf(out, "usage: plantroomctl [--config FILE] [--state-dir DIR] [--ledger PATH] "
                 "COMMAND ...\n"
                 "       plantroomctl --help | --version | help [NOUN [VERB]]\n\ncommands:\n");
    CTL_FOR_EACH_COMMAND(ctl_commands, c)
    fprintf(out, "  %s%s%s %s\n      %s\n", c->noun, c->verb && c->verb[0] ? " " : "",
            c->verb ? c->verb : "", c->options, c->summary);
    fprintf(out, "\nThe ledger is --ledger PATH, else \"ledger\".\"path\" of the config (default "
                 "ledger.db)\nunder the state directory: --state-dir, $PLANTROOM_STATE_DIR, the "
                 "config's \"state_dir\",\nor " CTL_DEFAULT_STATE_DIR ". The config is --config, "
                 "$PLANTROOM_CONFIG or\n" CTL_DEFAULT_CONFIG ".\n"
                 "Exit status: 0 done, 1 failed, 2 usage error, 3 audit chain broken.\n");
}

const char *ctl_code_for(int rc)
{
    switch (rc) {
    case GW_ENOENT:
        return "not_found";
    case GW_ESTATE:
        return "not_allowed";
    case GW_EINVAL:
        return "invalid";
    case GW_EEXIST:
        return "exists";
    case GW_ENOMEM:
        return "no_memory";
    case GW_EIO:
        return "io";
    case GW_ETIMEDOUT:
        return "timeout";
    case GW_ECONFIG:
        return "config";
    case GW_EDB:
    case GW_ECORRUPT:
        return "ledger";
    case GW_EPROTO:
        return "protocol";
    default:
        return "failed";
    }
}

static void ctl_verror(const char *code, const char *fmt, va_list ap)
{
    char msg[1024];
    cJSON *o, *e;
    char *text = NULL;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (!ctl_json_errors) {
        fprintf(stderr, "plantroomctl: %s\n", msg);
        return;
    }
    o = cJSON_CreateObject();
    e = o ? cJSON_AddObjectToObject(o, "error") : NULL;
    if (e && cJSON_AddStringToObject(e, "code", code) && cJSON_AddStringToObject(e, "message", msg))
        text = cJSON_PrintUnformatted(o);
    if (text)
        fprintf(stderr, "%s\n", text);
    else /* out of memory: still one JSON object */
        fprintf(stderr, "{\"error\":{\"code\":\"no_memory\",\"message\":\"out of memory\"}}\n");
    free(text);
    cJSON_Delete(o);
}

void ctl_error(const char *code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ctl_verror(code, fmt, ap);
    va_end(ap);
}

/* Report a usage error with a one-line hint; return the exit status. */
int ctl_usage_error(const char *fmt, const char *what)
{
    char msg[768], name[96];

    snprintf(msg, sizeof(msg), fmt, what);
    ctl_error("usage", "%s", msg);
    if (ctl_json_errors)
        return CTL_EXIT_USAGE;
    if (ctl_current) {
        ctl_name(ctl_current, name, sizeof(name));
        fprintf(stderr, "try 'plantroomctl %s --help'\n", name);
    } else {
        fprintf(stderr, "try 'plantroomctl help'\n");
    }
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

void ctl_help_cmd(const ctl_command_t *c)
{
    char name[96];

    ctl_name(c, name, sizeof(name));
    printf("usage: plantroomctl [--config FILE] [--state-dir DIR] [--ledger PATH] %s %s\n  %s\n",
           name, c->options, c->summary);
}

int ctl_help_topic(int argc, char **argv)
{
    int found = 0;

    if (argc < 1) {
        ctl_usage(stdout);
        return CTL_EXIT_OK;
    }
    if (argc > 2)
        return ctl_usage_error("unexpected '%s' (help [NOUN [VERB]])", argv[2]);
    CTL_FOR_EACH_COMMAND(ctl_commands, c)
    {
        if (strcmp(c->noun, argv[0]) != 0)
            continue;
        if (argc == 2 && strcmp(c->verb ? c->verb : "", argv[1]) != 0)
            continue;
        if (found++)
            printf("\n");
        ctl_help_cmd(c);
    }
    if (!found)
        return ctl_usage_error(argc == 2 ? "no such command '%s'" : "unknown command '%s'",
                               argc == 2 ? argv[1] : argv[0]);
    return CTL_EXIT_OK;
}
