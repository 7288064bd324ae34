/*
 * ledger_audit_verify.c: checking the audit chain (store/ledger.h,
 * ledger_audit_verify; the chain itself is ledger_audit.c's). One read
 * transaction, so that a snapshot is checked while the daemon writes:
 *
 *  1. the walk: from the horizon's anchor, every row in id order must hash
 *     to what it stores given the row before it. A row changed (or moved:
 *     the id is hashed) breaks its own hash; a row deleted breaks the hash
 *     of the next one, which then also follows a gap in the ids. The walk
 *     goes on past a break from the stored hash, or, when that is not a
 *     hash, from the hash of the row's content (as the appender does,
 *     ledger__audit_link), so that a damaged row is named alone and every
 *     row after it still checked (rep->breaks counts the rows that fail);
 *  2. the horizon must be the cut that the chain's last "purged" (or
 *     "chain_started") row records: a horizon moved by hand does not match,
 *     and rows deleted together with the whole chain leave a horizon that
 *     no record explains;
 *  3. the work orders: each one opened after the horizon must still have
 *     its rows, and its status must be the one its newest row moved it to,
 *     so that rows deleted from the end of the chain are seen too (where
 *     they were work-order changes);
 *  4. optionally, a head published earlier (MQTT audit/head) must still be
 *     in the chain with the same hash: a rewritten or shortened chain.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_json.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ledger__problem_names[] = {
    [LEDGER_AUDIT_INTACT] = "intact",         [LEDGER_AUDIT_CHANGED] = "changed",
    [LEDGER_AUDIT_MISSING] = "missing",       [LEDGER_AUDIT_UNHASHED] = "unhashed",
    [LEDGER_AUDIT_HORIZON] = "horizon_moved", [LEDGER_AUDIT_WORK_ORDER] = "work_order_rows_missing",
    [LEDGER_AUDIT_HEAD] = "head_mismatch",
};

const char *ledger_audit_problem_name(ledger_audit_problem_t p)
{
    return (unsigned)p < GW_ARRAY_SIZE(ledger__problem_names) ? ledger__problem_names[p] : "?";
}

/* Record the first problem (later ones are ignored). Returns 1. */
static int ledger__found(ledger_audit_report_t *rep, ledger_audit_problem_t p, int64_t row,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int ledger__found(ledger_audit_report_t *rep, ledger_audit_problem_t p, int64_t row,
                         const char *fmt, ...)
{
    va_list ap;

    if (rep->problem != LEDGER_AUDIT_INTACT)
        return 1;
    rep->problem = p;
    rep->row = row;
    va_start(ap, fmt);
    vsnprintf(rep->reason, sizeof(rep->reason), fmt, ap);
    va_end(ap);
    return 1;
}

/* The last cut the chain records, and a head to look for. */
typedef struct ledger__walk {
    const ledger__horizon_t *h;
    int has_cut;
    int64_t cut_row, cut_id, cut_ts;
    char cut_anchor[2 * LEDGER__HASH_LEN + 1];
    char recorded_anchor[2 * LEDGER__HASH_LEN + 1]; /* the newest cut record's anchor */
    int64_t want_id;                                /* a published head's id, 0: none */
    char want_hash[2 * LEDGER__HASH_LEN + 1];
    int want_seen;
} ledger__walk_t;

/* A whole number of d (-1 when absent or not whole). */
static int64_t ledger__detail_int(const cJSON *d, const char *key)
{
    long long v;

    return gw_json_whole(cJSON_GetObjectItemCaseSensitive(d, key), -(1LL << 53), 1LL << 53, &v) == 0
               ? (int64_t)v
               : -1;
}

/* A horizon record's detail: where the chain began after it. */
static void ledger__note_cut(ledger__walk_t *w, const ledger__audit_row_t *r)
{
    cJSON *d;
    const cJSON *a;

    if (strcmp(r->action, "purged") != 0 && strcmp(r->action, "chain_started") != 0)
        return;
    d = r->detail ? cJSON_Parse(r->detail) : NULL;
    a = cJSON_GetObjectItemCaseSensitive(d, "anchor");
    w->has_cut = 1;
    w->cut_row = r->id;
    w->cut_id = ledger__detail_int(d, "before_id");
    w->cut_ts = ledger__detail_int(d, "before_ts");
    snprintf(w->cut_anchor, sizeof(w->cut_anchor), "%s", cJSON_IsString(a) ? a->valuestring : "");
    cJSON_Delete(d);
}

/* A row that does not chain (the walk goes on past it). */
static void ledger__break(ledger_audit_report_t *rep, int64_t row)
{
    if (rep->breaks < (int64_t)GW_ARRAY_SIZE(rep->break_rows))
        rep->break_rows[rep->breaks] = row;
    rep->breaks++;
}

/* One row of the walk: the next link into prev (the stored hash, or the
 * hash of the content when the stored one is not a hash: ledger__audit_link
 * appends the same way). 0, or 1 to stop (out of memory). */
static int ledger__walk_row(ledger__walk_t *w, sqlite3_stmt *st, uint8_t prev[LEDGER__HASH_LEN],
                            int64_t *prev_id, ledger_audit_report_t *rep)
{
    const char *stored = (const char *)sqlite3_column_text(st, 9);
    uint8_t want[LEDGER__HASH_LEN], got[LEDGER__HASH_LEN];
    ledger__audit_row_t r;
    int valid;

    ledger__audit_row_read(st, &r);
    valid = ledger__unhex(stored, want, sizeof(want)) == 0;
    if (ledger__audit_hash(prev, &r, got) != 0)
        return ledger__found(rep, LEDGER_AUDIT_UNHASHED, r.id, "out of memory hashing row %" PRId64,
                             r.id);
    if (!r.actor || !r.channel || !r.action || !valid) {
        ledger__found(rep, LEDGER_AUDIT_UNHASHED, r.id,
                      "audit row %" PRId64 " has no valid hash or misses a field", r.id);
        ledger__break(rep, r.id);
    } else if (memcmp(got, want, sizeof(got)) != 0) {
        int64_t gone = *prev_id + 1;
        if (r.id > gone)
            ledger__found(rep, LEDGER_AUDIT_MISSING, gone,
                          "audit rows %" PRId64 "..%" PRId64 " are missing: row %" PRId64
                          " does not chain to %s",
                          gone, r.id - 1, r.id,
                          rep->rows ? "the row before the gap" : "the horizon's anchor");
        else
            ledger__found(rep, LEDGER_AUDIT_CHANGED, r.id,
                          "audit row %" PRId64
                          " was changed or moved: its hash does not match its content "
                          "and the row before it",
                          r.id);
        ledger__break(rep, r.id > gone ? gone : r.id);
    } else {
        if (w->want_id && r.id == w->want_id) {
            w->want_seen = 1;
            if (strcmp(stored, w->want_hash) != 0)
                ledger__found(rep, LEDGER_AUDIT_HEAD, r.id,
                              "audit row %" PRId64 " differs from the head published earlier "
                              "(%.12s...): the chain was rewritten",
                              r.id, w->want_hash);
        }
        ledger__note_cut(w, &r);
    }
    memcpy(prev, valid ? want : got, LEDGER__HASH_LEN);
    *prev_id = r.id;
    if (!rep->rows++)
        rep->first_id = r.id;
    return 0;
}

static int ledger__walk(ledger_t *lg, ledger__walk_t *w, ledger_audit_report_t *rep, char *err,
                        size_t errlen)
{
    uint8_t prev[LEDGER__HASH_LEN];
    int64_t prev_id = w->h->before_id - 1;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg),
                                 "SELECT id, wo_id, ts, actor, channel, action, from_status,"
                                 " to_status, detail, hash FROM audit ORDER BY id",
                                 -1, &st, NULL);

    memcpy(prev, w->h->anchor_bin, sizeof(prev));
    /* A horizon whose anchor is damaged: the one its cut recorded, if any
     * (the horizon's fault is named already; the rows still verify). */
    if (w->h->anchor_bad && ledger__unhex(w->recorded_anchor, prev, sizeof(prev)) != 0)
        memset(prev, 0, sizeof(prev));
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (ledger__walk_row(w, st, prev, &prev_id, rep) != 0) {
            src = SQLITE_DONE;
            break;
        }
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE && src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "read the audit chain");
    return 0;
}

/* The horizon must be the last cut the chain records (or none at all). */
static void ledger__check_horizon(const ledger__walk_t *w, ledger_audit_report_t *rep)
{
    const ledger__horizon_t *h = w->h;

    if (h->anchor_bad) {
        ledger__found(rep, LEDGER_AUDIT_HORIZON, 0, "the audit horizon's anchor is not a hash");
    } else if (w->has_cut) {
        if (w->cut_id != h->before_id || w->cut_ts != h->before_ts ||
            strcmp(w->cut_anchor, h->anchor) != 0)
            ledger__found(rep, LEDGER_AUDIT_HORIZON, w->cut_row,
                          "the audit horizon (before row %" PRId64 ", before ts %" PRId64
                          ") is not the cut recorded by audit row %" PRId64 " (before row %" PRId64
                          ", before ts %" PRId64 "): it was moved by hand",
                          h->before_id, h->before_ts, w->cut_row, w->cut_id, w->cut_ts);
    } else if (h->before_id > 1 || h->before_ts > 0 || h->anchor[0]) {
        ledger__found(rep, LEDGER_AUDIT_HORIZON, h->before_id,
                      "the audit horizon says rows before %" PRId64 " (before ts %" PRId64
                      ") were purged, but no purge is recorded in the chain: rows were deleted "
                      "and the horizon moved by hand",
                      h->before_id, h->before_ts);
    }
}

/* Each work order opened after the horizon keeps its rows, and its status
 * is the one its newest row says. */
static int ledger__check_work_orders(ledger_t *lg, const ledger__horizon_t *h,
                                     ledger_audit_report_t *rep, char *err, size_t errlen)
{
    /* The chain walked clean, so rows can only be missing after its head. */
    int64_t gone = rep->head.id ? rep->head.id + 1 : h->before_id;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(
        ledger__db(lg),
        "SELECT w.number, w.id, w.status, w.opened_at,"
        " (SELECT a.id FROM audit a WHERE a.wo_id = w.id ORDER BY a.id DESC LIMIT 1),"
        " (SELECT a.to_status FROM audit a WHERE a.wo_id = w.id ORDER BY a.id DESC LIMIT 1)"
        " FROM work_orders w ORDER BY w.opened_at, w.number",
        -1, &st, NULL);

    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t number = sqlite3_column_int64(st, 0), last = sqlite3_column_int64(st, 4);
        const char *id = (const char *)sqlite3_column_text(st, 1);
        const char *status = (const char *)sqlite3_column_text(st, 2);
        const char *to = (const char *)sqlite3_column_text(st, 5);

        rep->work_orders++;
        src = SQLITE_OK;
        if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
            if (sqlite3_column_int64(st, 3) >= h->before_ts &&
                ledger__found(rep, LEDGER_AUDIT_WORK_ORDER, gone,
                              "work order #%" PRId64 " (%s) has no audit row, though it was "
                              "opened after the horizon: rows from %" PRId64 " on were deleted",
                              number, id ? id : "?", gone))
                break;
        } else if (to && status && strcmp(to, status) != 0 &&
                   ledger__found(rep, LEDGER_AUDIT_WORK_ORDER, gone,
                                 "work order #%" PRId64 " is %s, but its newest audit row %" PRId64
                                 " leaves it %s: rows from %" PRId64 " on were deleted",
                                 number, status, last, to, gone)) {
            break;
        }
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE && src != SQLITE_OK && src != SQLITE_ROW)
        return ledger__dberr(lg, src, err, errlen, "cross-check work orders");
    return 0;
}

/* "ID:HEX" into w; -1 when malformed. */
static int ledger__parse_head(const char *s, ledger__walk_t *w)
{
    char *end;
    long long id;
    uint8_t tmp[LEDGER__HASH_LEN];

    id = strtoll(s, &end, 10);
    if (end == s || *end != ':' || id <= 0 || ledger__unhex(end + 1, tmp, sizeof(tmp)) != 0)
        return -1;
    w->want_id = id;
    snprintf(w->want_hash, sizeof(w->want_hash), "%s", end + 1);
    return 0;
}

/* Before the walk: the newest cut recorded against the horizon, so that a
 * horizon moved by hand is named as such rather than as the first row
 * that no longer chains to it. */
static int ledger__precheck_horizon(ledger_t *lg, ledger__walk_t *w, ledger_audit_report_t *rep,
                                    char *err, size_t errlen)
{
    ledger__walk_t pre = *w;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg),
                                 "SELECT id, wo_id, ts, actor, channel, action, from_status,"
                                 " to_status, detail FROM audit"
                                 " WHERE action IN ('purged', 'chain_started')"
                                 " ORDER BY id DESC LIMIT 1",
                                 -1, &st, NULL);

    if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        ledger__audit_row_t r;
        ledger__audit_row_read(st, &r);
        if (r.action)
            ledger__note_cut(&pre, &r);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "read the last audit cut");
    ledger__check_horizon(&pre, rep);
    snprintf(w->recorded_anchor, sizeof(w->recorded_anchor), "%s", pre.cut_anchor);
    return 0;
}

static int ledger__verify_snapshot(ledger_t *lg, ledger__walk_t *w, ledger_audit_report_t *rep,
                                   char *err, size_t errlen)
{
    int rc = ledger_audit_head(lg, &rep->head, err, errlen);

    if (rc == 0)
        rc = ledger__precheck_horizon(lg, w, rep, err, errlen);
    if (rc == 0)
        rc = ledger__walk(lg, w, rep, err, errlen);
    if (rc < 0)
        return rc;
    ledger__check_horizon(w, rep);
    if (w->want_id && !w->want_seen && w->want_id >= w->h->before_id)
        ledger__found(rep, LEDGER_AUDIT_HEAD, w->want_id,
                      "audit row %" PRId64 " of the head published earlier is not in the chain: "
                      "the chain was cut at its end or rewritten",
                      w->want_id);
    return ledger__check_work_orders(lg, w->h, rep, err, errlen);
}

int ledger_audit_verify(ledger_t *lg, const char *expect_head, ledger_audit_report_t *rep,
                        char *err, size_t errlen)
{
    ledger__horizon_t h;
    ledger__walk_t w = {.h = &h};
    int rc;

    memset(rep, 0, sizeof(*rep));
    if (expect_head && ledger__parse_head(expect_head, &w) != 0)
        return ledger__fail(GW_EINVAL, err, errlen, "bad head \"%s\": expected ID:SHA256HEX",
                            expect_head);
    /* One snapshot for every query, while the daemon may write. */
    if (sqlite3_exec(ledger__db(lg), "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return ledger__dberr(lg, sqlite3_errcode(ledger__db(lg)), err, errlen, "begin");
    rc = ledger__audit_horizon(lg, &h, err, errlen);
    if (rc == 0 && h.missing)
        ledger__found(rep, LEDGER_AUDIT_HORIZON, 0, "the audit horizon row is missing");
    rep->horizon_ts = h.before_ts;
    rep->horizon_id = h.before_id;
    if (rc == 0)
        rc = ledger__verify_snapshot(lg, &w, rep, err, errlen);
    sqlite3_exec(ledger__db(lg), "COMMIT", NULL, NULL, NULL);
    return rc;
}
