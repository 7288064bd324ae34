/*
 * ledger_wo.c: people's changes to work orders (store/ledger.h): status
 * transitions, assignment, notes, and reading one order with its history.
 *
 * Each change is one unit (ledger__op_begin/end: its own transaction, or a
 * savepoint inside the ledger thread's batch) holding the change itself, its
 * audit row (who, when, from, to, through which channel) and the outbox
 * event that announces it, so that a change is published exactly when it is
 * committed (docs/architecture.md, "Durability order"). The transitions are
 * checked here, with a message naming them, and again by a trigger of
 * schema v2, so that no other writer can break them either.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_clock.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ledger_statuses[6] = {"open",     "acknowledged", "in_progress",
                                        "resolved", "closed",       "cancelled"};

int ledger_status_valid(const char *s)
{
    for (size_t i = 0; s && i < GW_ARRAY_SIZE(ledger_statuses); i++) {
        if (strcmp(s, ledger_statuses[i]) == 0)
            return 1;
    }
    return 0;
}

int ledger_transition_ok(const char *from, const char *to)
{
    static const char *const allowed[][2] = {
        {"open", "acknowledged"},      {"open", "cancelled"},       {"acknowledged", "in_progress"},
        {"acknowledged", "cancelled"}, {"in_progress", "resolved"}, {"resolved", "closed"},
    };

    for (size_t i = 0; from && to && i < GW_ARRAY_SIZE(allowed); i++) {
        if (strcmp(from, allowed[i][0]) == 0 && strcmp(to, allowed[i][1]) == 0)
            return 1;
    }
    return 0;
}

static int ledger__final(const char *status)
{
    return strcmp(status, "closed") == 0 || strcmp(status, "cancelled") == 0;
}

/* The event a move to status announces. */
static const char *ledger__status_event(const char *status)
{
    return strcmp(status, "in_progress") == 0 ? "started" : status;
}

static int ledger__check_actor(const ledger_actor_t *by, char *err, size_t errlen)
{
    if (!by || !by->who || !*by->who)
        return ledger__fail(GW_EINVAL, err, errlen, "a change needs an actor (who makes it)");
    if (!by->channel || (strcmp(by->channel, "cli") != 0 && strcmp(by->channel, "mqtt") != 0 &&
                         strcmp(by->channel, "rule") != 0))
        return ledger__fail(GW_EINVAL, err, errlen, "unknown channel '%s' (cli, mqtt or rule)",
                            by && by->channel ? by->channel : "");
    return 0;
}

/* "42", "#42": the number; else 0. */
static int64_t ledger__ref_number(const char *ref)
{
    const char *p = ref[0] == '#' ? ref + 1 : ref;
    char *end;
    long long v;

    if (!*p || *p < '0' || *p > '9')
        return 0;
    errno = 0;
    v = strtoll(p, &end, 10);
    return errno || *end || v <= 0 ? 0 : (int64_t)v;
}

int ledger_wo_get(ledger_t *lg, const char *ref, ledger_wo_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int64_t number;
    int src;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!ref || !*ref)
        return ledger__fail(GW_EINVAL, err, errlen, "no work order given");
    if (strchr(ref, ':')) {
        rc = ledger__wo_get(lg, ref, out, err, errlen);
        if (rc == GW_ENOENT)
            ledger__fail(rc, err, errlen, "unknown work order %s", ref);
        return rc;
    }
    number = ledger__ref_number(ref);
    if (!number)
        return ledger__fail(GW_EINVAL, err, errlen,
                            "bad work order '%s' (a number such as 42, or an id SITE:ULID)", ref);
    rc = ledger__stmt(lg, ST_GET_WO_NUMBER, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "i", number);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = ledger__fail(GW_ENOENT, err, errlen, "unknown work order %s", ref);
    } else if (src != SQLITE_ROW) {
        rc = ledger__dberr(lg, src, err, errlen, "read work order");
    } else {
        rc = ledger__wo_from_row(st, out);
        if (rc < 0)
            ledger__fail(rc, err, errlen, "out of memory");
        else if (sqlite3_step(st) == SQLITE_ROW) {
            ledger__wo_clear_fields(out);
            rc = ledger__fail(GW_EINVAL, err, errlen,
                              "work order number %s is ambiguous (several sites): use its id", ref);
        }
    }
    sqlite3_reset(st);
    return rc;
}

/* Run one change on the order ref: begin, read it, call fn, end. */
typedef int (*ledger__change_fn)(ledger_t *lg, const ledger_wo_t *wo, const void *arg,
                                 const ledger_actor_t *by, int64_t now, char *err, size_t errlen);

static int ledger__change(ledger_t *lg, const char *ref, const ledger_actor_t *by,
                          ledger__change_fn fn, const void *arg, char *err, size_t errlen)
{
    ledger_wo_t wo;
    int own_tx = 0;
    int rc;

    rc = ledger__check_actor(by, err, errlen);
    if (rc < 0)
        return rc;
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        return rc;
    rc = ledger_wo_get(lg, ref, &wo, err, errlen);
    if (rc == 0) {
        rc = fn(lg, &wo, arg, by, gw_wall_ms(), err, errlen);
        ledger__wo_clear_fields(&wo);
    }
    return ledger__op_end(lg, own_tx, rc, err, errlen);
}

typedef struct ledger__status_arg {
    const char *status;
    const char *comment;
} ledger__status_arg_t;

static int ledger__do_status(ledger_t *lg, const ledger_wo_t *wo, const void *arg,
                             const ledger_actor_t *by, int64_t now, char *err, size_t errlen)
{
    const ledger__status_arg_t *a = arg;
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    if (!ledger_transition_ok(wo->status, a->status))
        return ledger__fail(GW_ESTATE, err, errlen, "work order %lld: %s -> %s is not allowed%s",
                            (long long)wo->number, wo->status, a->status,
                            ledger__final(wo->status) ? " (final state)" : "");
    rc = ledger__stmt(lg, ST_SET_STATUS, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "tti", wo->id, a->status, now);
    rc = src == SQLITE_OK ? ledger__exec(lg, st, "set status", err, errlen)
                          : ledger__dberr(lg, src, err, errlen, "bind status");
    if (rc < 0)
        return rc;
    return ledger__announce_by(lg, wo->id, ledger__status_event(a->status), wo->status, a->status,
                               a->comment, by, NULL, now, err, errlen);
}

int ledger_wo_set_status(ledger_t *lg, const char *ref, const char *status,
                         const ledger_actor_t *by, const char *comment, char *err, size_t errlen)
{
    ledger__status_arg_t a = {status, comment && *comment ? comment : NULL};

    if (!ledger_status_valid(status))
        return ledger__fail(GW_EINVAL, err, errlen,
                            "unknown status '%s' (open, acknowledged, in_progress, resolved, "
                            "closed, cancelled)",
                            status ? status : "");
    return ledger__change(lg, ref, by, ledger__do_status, &a, err, errlen);
}

static int ledger__do_assign(ledger_t *lg, const ledger_wo_t *wo, const void *arg,
                             const ledger_actor_t *by, int64_t now, char *err, size_t errlen)
{
    const char *assignee = arg;
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    if (ledger__final(wo->status))
        return ledger__fail(GW_ESTATE, err, errlen,
                            "work order %lld is %s: it cannot be assigned any more",
                            (long long)wo->number, wo->status);
    rc = ledger__stmt(lg, ST_ASSIGN, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "tti", wo->id, assignee, now);
    rc = src == SQLITE_OK ? ledger__exec(lg, st, "assign", err, errlen)
                          : ledger__dberr(lg, src, err, errlen, "bind assign");
    if (rc < 0)
        return rc;
    return ledger__announce_by(lg, wo->id, "assigned", wo->status, wo->status, assignee, by, NULL,
                               now, err, errlen);
}

int ledger_wo_assign(ledger_t *lg, const char *ref, const char *assignee, const ledger_actor_t *by,
                     char *err, size_t errlen)
{
    if (!assignee || !*assignee)
        return ledger__fail(GW_EINVAL, err, errlen, "no assignee given");
    return ledger__change(lg, ref, by, ledger__do_assign, assignee, err, errlen);
}

static int ledger__do_note(ledger_t *lg, const ledger_wo_t *wo, const void *arg,
                           const ledger_actor_t *by, int64_t now, char *err, size_t errlen)
{
    const char *text = arg;
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    rc = ledger__stmt(lg, ST_NOTE, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "tittt", wo->id, now, by->who, by->channel, text);
    rc = src == SQLITE_OK ? ledger__exec(lg, st, "add note", err, errlen)
                          : ledger__dberr(lg, src, err, errlen, "bind note");
    if (rc < 0)
        return rc;
    return ledger__announce_by(lg, wo->id, "noted", wo->status, wo->status, text, by, NULL, now,
                               err, errlen);
}

int ledger_wo_add_note(ledger_t *lg, const char *ref, const char *text, const ledger_actor_t *by,
                       char *err, size_t errlen)
{
    if (!text || !*text)
        return ledger__fail(GW_EINVAL, err, errlen, "empty note");
    return ledger__change(lg, ref, by, ledger__do_note, text, err, errlen);
}

/* ---- show --------------------------------------------------------------- */

static void ledger__add_time(cJSON *o, const char *key, int64_t ms)
{
    char buf[32];

    cJSON_AddStringToObject(o, key, gw_format_iso8601(ms, buf, sizeof(buf)));
}

static void ledger__add_text(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);

    if (s)
        cJSON_AddStringToObject(o, key, (const char *)s);
    else
        cJSON_AddNullToObject(o, key);
}

/* Rows of sql (?1 = wo id) as objects with the named text columns, column 0
 * being the time. */
static int ledger__rows_json(ledger_t *lg, const char *sql, const char *id,
                             const char *const *names, int ncols, cJSON *arr, char *err,
                             size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);

    if (src == SQLITE_OK)
        src = ledger__bind(st, "t", id);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        ledger__add_time(o, "ts", sqlite3_column_int64(st, 0));
        for (int c = 1; c < ncols; c++)
            ledger__add_text(o, names[c], st, c);
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "read history");
    return 0;
}

int ledger_wo_show_json(ledger_t *lg, const char *ref, char **out, char *err, size_t errlen)
{
    static const char *const audit_cols[] = {"ts",   "actor", "channel", "action",
                                             "from", "to",    "detail"};
    static const char *const note_cols[] = {"ts", "actor", "channel", "text"};
    ledger_wo_t wo;
    cJSON *o = NULL, *w;
    int rc;

    *out = NULL;
    rc = ledger_wo_get(lg, ref, &wo, err, errlen);
    if (rc < 0)
        return rc;
    o = cJSON_CreateObject();
    w = ledger__wo_json(&wo);
    if (!o || !w) {
        cJSON_Delete(w);
        rc = ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
        goto out_free;
    }
    cJSON_AddNumberToObject(o, "v", 1); /* as every MQTT payload (docs/mqtt.md) */
    cJSON_AddItemToObject(o, "work_order", w);
    rc = ledger__rows_json(lg,
                           "SELECT ts, actor, channel, action, from_status, to_status, detail"
                           " FROM audit WHERE wo_id = ?1 ORDER BY id",
                           wo.id, audit_cols, 7, cJSON_AddArrayToObject(o, "audit"), err, errlen);
    if (rc == 0)
        rc =
            ledger__rows_json(lg,
                              "SELECT ts, actor, channel, text FROM notes WHERE wo_id = ?1"
                              " ORDER BY id",
                              wo.id, note_cols, 4, cJSON_AddArrayToObject(o, "notes"), err, errlen);
    if (rc == 0) {
        *out = cJSON_PrintUnformatted(o);
        if (!*out)
            rc = ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    }
out_free:
    cJSON_Delete(o);
    ledger__wo_clear_fields(&wo);
    return rc;
}
