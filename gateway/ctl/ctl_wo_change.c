/*
 * ctl_wo_change.c: the plantroomctl verbs that change a work order: ack,
 * start, resolve, close, cancel (status), assign and note (ctl_wo.h; the
 * command table is in ctl_workorders.c).
 *
 * A change opens the ledger read-write (WAL and a busy timeout, so it works
 * while plantroomd runs) and goes through ledger_wo_set_status and friends:
 * the change, its audit row (actor from --by, else the login name; channel
 * "cli") and its outbox event in one transaction. The daemon notices outbox
 * rows it did not write and publishes them within a second (gw_north.c).
 * Bad input (unknown status or work order, a transition that is not
 * allowed) exits 2 with a message naming it.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/ctl/ctl_wo.h"
#include "gateway/ctl/ctl_ledger.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The verbs that change a work order. */
typedef enum ctl_change_kind { CTL_STATUS, CTL_ASSIGN, CTL_NOTE } ctl_change_kind_t;

typedef struct ctl_change {
    const char *verb;
    ctl_change_kind_t kind;
    const char *status; /* CTL_STATUS */
} ctl_change_t;

static const ctl_change_t ctl_changes[] = {
    {"ack", CTL_STATUS, "acknowledged"},
    {"start", CTL_STATUS, "in_progress"},
    {"resolve", CTL_STATUS, "resolved"},
    {"close", CTL_STATUS, "closed"},
    {"cancel", CTL_STATUS, "cancelled"},
    {"assign", CTL_ASSIGN, NULL},
    {"note", CTL_NOTE, NULL},
};

/* Who is making the change: --by, else $SUDO_USER, else the login name. */
static const char *ctl_actor(const char *by)
{
    const char *s = getenv("SUDO_USER");
    struct passwd *pw;

    if (by)
        return by;
    if (s && *s)
        return s;
    pw = getpwuid(getuid());
    return pw && pw->pw_name ? pw->pw_name : "unknown";
}

static int ctl_wo_change(const ctl_change_t *c, ctl_global_t *g, int argc, char **argv)
{
    const char *ref = NULL, *arg = NULL, *by = NULL, *comment = NULL;
    ledger_actor_t actor;
    ledger_t *lg = NULL;
    ledger_wo_t wo;
    char err[512];
    int json = 0, i = 0, m, rc;
    int want_arg = c->kind != CTL_STATUS;

    while (i < argc) {
        if (ctl_opt(argc, argv, &i, "--json", NULL) > 0) {
            json = 1;
            continue;
        }
        if ((m = ctl_opt(argc, argv, &i, "--by", &by)) != 0 ||
            (m = c->kind == CTL_STATUS ? ctl_opt(argc, argv, &i, "--comment", &comment) : 0) != 0 ||
            (m = ctl_global_opt(g, argc, argv, &i)) != 0) {
            if (m < 0)
                return CTL_EXIT_USAGE;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return ctl_usage_error("unknown option %s", argv[i]);
        if (!ref)
            ref = argv[i];
        else if (want_arg && !arg)
            arg = argv[i];
        else
            return ctl_usage_error("unexpected '%s'", argv[i]);
        i++;
    }
    if (!ref)
        return ctl_usage_error("%s needs a work order (number or id)", c->verb);
    if (want_arg && (!arg || !*arg))
        return ctl_usage_error(c->kind == CTL_ASSIGN ? "%s needs an assignee"
                                                     : "%s needs the text of the note",
                               c->verb);
    if (by && !*by)
        return ctl_usage_error("%s", "--by needs a name");
    actor.who = ctl_actor(by);
    actor.channel = "cli";

    if (ctl_open_ledger_rw(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    if (c->kind == CTL_STATUS)
        rc = ledger_wo_set_status(lg, ref, c->status, &actor, comment, err, sizeof(err));
    else if (c->kind == CTL_ASSIGN)
        rc = ledger_wo_assign(lg, ref, arg, &actor, err, sizeof(err));
    else
        rc = ledger_wo_add_note(lg, ref, arg, &actor, err, sizeof(err));
    if (rc == 0)
        rc = ledger_wo_get(lg, ref, &wo, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        ctl_error(ctl_code_for(rc), "%s", err);
        return ctl_exit_for(rc);
    }
    if (json) {
        char *one = ledger_wo_to_json(&wo);
        printf("%s\n", one ? one : "null");
        free(one);
    } else if (c->kind == CTL_STATUS) {
        printf("work order %lld: %s\n", (long long)wo.number, wo.status);
    } else if (c->kind == CTL_ASSIGN) {
        printf("work order %lld: assigned to %s\n", (long long)wo.number, wo.assignee);
    } else {
        printf("work order %lld: note added\n", (long long)wo.number);
    }
    ledger_wo_free_fields(&wo);
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

#define CTL_CHANGE_FN(name, idx)                                                                   \
    int name(ctl_global_t *g, int argc, char **argv)                                               \
    {                                                                                              \
        return ctl_wo_change(&ctl_changes[idx], g, argc, argv);                                    \
    }
CTL_CHANGE_FN(ctl__wo_ack, 0)
CTL_CHANGE_FN(ctl__wo_start, 1)
CTL_CHANGE_FN(ctl__wo_resolve, 2)
CTL_CHANGE_FN(ctl__wo_close, 3)
CTL_CHANGE_FN(ctl__wo_cancel, 4)
CTL_CHANGE_FN(ctl__wo_assign, 5)
CTL_CHANGE_FN(ctl__wo_note, 6)
