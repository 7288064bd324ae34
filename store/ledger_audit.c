/*
 * ledger_audit.c: the audit trail as a hash chain (store/ledger.h,
 * "audit trail"; docs/operations.md, "The audit trail").
 *
 * Every audit row carries hash = SHA-256(previous row's hash || the row's
 * content), the content being its id, work order, time, actor, channel,
 * action, statuses and detail, each length-prefixed so that no two rows
 * read alike. A row is appended with the next id after the newest one, so
 * ids never repeat; changing, deleting or reordering a row breaks the hash
 * of the row itself or of the one after it (ledger_audit_verify.c walks
 * the chain). Retention cuts the chain from its old end: the rows before
 * the cut go, the audit_horizon keeps the cut's first id and the hash the
 * first kept row chains from (the anchor), and a "purged" row appended to
 * the chain records the same, so that a purge is part of the chain, not a
 * break, and a horizon moved by hand is seen. A row whose stored hash is
 * not a hash (a damaged page, a hand edit, a bit flip) does not stop the
 * chain: the next row chains from the hash of that row's content over the
 * link before it (ledger__audit_link), which is also how the walk goes on
 * past it, so that it names that row and checks every later one; the
 * ledger thread raises the alarm storage.audit. What this does not protect
 * against (a rewrite of the whole file) is in docs/security.md.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_int.h"

#include "gateway/base/gw_clock.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing ------------------------------------------------------------ */

static void ledger__hash_field(EVP_MD_CTX *ctx, const char *s)
{
    uint8_t tag[5] = {0};
    size_t n;

    if (!s) {
        EVP_DigestUpdate(ctx, tag, 1); /* NULL: one zero byte */
        return;
    }
    n = strlen(s);
    tag[0] = 1;
    tag[1] = (uint8_t)(n >> 24);
    tag[2] = (uint8_t)(n >> 16);
    tag[3] = (uint8_t)(n >> 8);
    tag[4] = (uint8_t)n;
    EVP_DigestUpdate(ctx, tag, sizeof(tag));
    EVP_DigestUpdate(ctx, s, n);
}

int ledger__audit_hash(const uint8_t prev[LEDGER__HASH_LEN], const ledger__audit_row_t *r,
                       uint8_t out[LEDGER__HASH_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char id[24], ts[24];
    unsigned len = 0;
    int ok;

    if (!ctx)
        return GW_ENOMEM;
    snprintf(id, sizeof(id), "%lld", (long long)r->id);
    snprintf(ts, sizeof(ts), "%lld", (long long)r->ts);
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    if (ok) {
        EVP_DigestUpdate(ctx, prev, LEDGER__HASH_LEN);
        ledger__hash_field(ctx, id);
        ledger__hash_field(ctx, r->wo_id);
        ledger__hash_field(ctx, ts);
        ledger__hash_field(ctx, r->actor);
        ledger__hash_field(ctx, r->channel);
        ledger__hash_field(ctx, r->action);
        ledger__hash_field(ctx, r->from_status);
        ledger__hash_field(ctx, r->to_status);
        ledger__hash_field(ctx, r->detail);
        ok = EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == LEDGER__HASH_LEN;
    }
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : GW_EIO;
}

void ledger__hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int ledger__unhex(const char *s, uint8_t *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

/* ---- the horizon and the newest row ------------------------------------- */

int ledger__audit_horizon(ledger_t *lg, ledger__horizon_t *h, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg),
                                 "SELECT before_ts, before_id, anchor FROM audit_horizon"
                                 " WHERE id = 1",
                                 -1, &st, NULL);
    int rc = 0;

    memset(h, 0, sizeof(*h));
    h->before_id = 1;
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *a = (const char *)sqlite3_column_text(st, 2);
        h->before_ts = sqlite3_column_int64(st, 0);
        h->before_id = sqlite3_column_int64(st, 1);
        if (a) {
            snprintf(h->anchor, sizeof(h->anchor), "%s", a);
            if (ledger__unhex(a, h->anchor_bin, LEDGER__HASH_LEN) != 0) {
                h->anchor_bad = 1;
                memset(h->anchor_bin, 0, sizeof(h->anchor_bin));
            }
        }
    } else if (src != SQLITE_DONE) {
        rc = ledger__dberr(lg, src, err, errlen, "read the audit horizon");
    } else {
        h->missing = 1;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The rows of (after, below) in id order, hashed on from prev: the rows
 * at the chain's end whose stored hash is not a hash. */
static int ledger__audit_rehash(ledger_t *lg, int64_t after, int64_t below,
                                uint8_t prev[LEDGER__HASH_LEN], char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg),
                                 "SELECT id, wo_id, ts, actor, channel, action, from_status,"
                                 " to_status, detail FROM audit WHERE id > ?1 AND id < ?2"
                                 " ORDER BY id",
                                 -1, &st, NULL);

    if (src == SQLITE_OK)
        src = ledger__bind(st, "ii", after, below);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        ledger__audit_row_t r;
        ledger__audit_row_read(st, &r);
        if (ledger__audit_hash(prev, &r, prev) != 0) {
            sqlite3_finalize(st);
            return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
        }
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE && src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "read audit rows without a hash");
    return 0;
}

/* The slow way of ledger__audit_link: back from below - 1 to the newest row
 * with a valid hash (or the horizon), then forward over the ones without. */
static int ledger__audit_link_back(ledger_t *lg, int64_t below, int64_t *id,
                                   uint8_t hash[LEDGER__HASH_LEN], int64_t *bad, char *err,
                                   size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int64_t base = 0, top = 0, oldest = 0;
    int found = 0, src, rc;
    ledger__horizon_t h;

    src = sqlite3_prepare_v2(
        ledger__db(lg), "SELECT id, hash FROM audit WHERE id < ?1 ORDER BY id DESC", -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_bind_int64(st, 1, below);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rid = sqlite3_column_int64(st, 0);
        if (!top)
            top = rid;
        if (ledger__unhex((const char *)sqlite3_column_text(st, 1), hash, LEDGER__HASH_LEN) == 0) {
            base = rid;
            found = 1;
            break;
        }
        oldest = rid;
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE && src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "read the newest audit rows");
    if (!found) { /* from the horizon */
        rc = ledger__audit_horizon(lg, &h, err, errlen);
        if (rc < 0)
            return rc;
        base = h.before_id - 1;
        memcpy(hash, h.anchor_bin, LEDGER__HASH_LEN); /* zero: none, or not a hash */
        if (h.anchor_bad && !oldest)
            oldest = h.before_id;
    }
    *id = top ? top : base;
    if (bad)
        *bad = oldest;
    return top > base ? ledger__audit_rehash(lg, base, top + 1, hash, err, errlen) : 0;
}

int ledger__audit_link(ledger_t *lg, int64_t below, int64_t *id, uint8_t hash[LEDGER__HASH_LEN],
                       int64_t *bad, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src, ok;
    int rc;

    if (bad)
        *bad = 0;
    if (below != INT64_MAX)
        return ledger__audit_link_back(lg, below, id, hash, bad, err, errlen);
    /* The usual case, one cached statement: the newest row has its hash. */
    rc = ledger__stmt(lg, ST_AUDIT_TAIL, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = sqlite3_step(st);
    ok = src == SQLITE_ROW &&
         ledger__unhex((const char *)sqlite3_column_text(st, 1), hash, LEDGER__HASH_LEN) == 0;
    if (ok)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "read the newest audit row");
    return ok ? 0 : ledger__audit_link_back(lg, below, id, hash, bad, err, errlen);
}

/* ---- appending ---------------------------------------------------------- */

int ledger__audit_append(ledger_t *lg, ledger__audit_row_t *r, char *err, size_t errlen)
{
    uint8_t prev[LEDGER__HASH_LEN], h[LEDGER__HASH_LEN];
    char hex[2 * LEDGER__HASH_LEN + 1];
    sqlite3_stmt *st = NULL;
    int64_t last = 0, bad = 0;
    int src, rc;

    rc = ledger__audit_link(lg, INT64_MAX, &last, prev, &bad, err, errlen);
    if (rc < 0)
        return rc;
    if (bad) /* a damaged row at the end: the chain goes on past it, seen */
        ledger__set_audit_break(lg, bad);
    r->id = last + 1;
    if (ledger__audit_hash(prev, r, h) != 0)
        return ledger__fail(GW_ENOMEM, err, errlen, "ledger %s: cannot hash an audit row",
                            ledger_path(lg));
    ledger__hex(h, sizeof(h), hex);
    rc = ledger__stmt(lg, ST_AUDIT_APPEND, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "ititttttttt", r->id, r->wo_id, r->ts, r->actor, r->channel, r->action,
                       r->from_status, r->to_status, r->detail, hex, r->event_id);
    if (src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "bind audit row");
    return ledger__exec(lg, st, "write audit row", err, errlen);
}

int ledger_audit_add(ledger_t *lg, const ledger_audit_entry_t *e, int64_t *id_out, char *err,
                     size_t errlen)
{
    ledger__audit_row_t r = {0};
    int own_tx = 0;
    int rc;

    if (!e || !e->actor || !e->actor[0] || !e->channel || !e->channel[0] || !e->action ||
        !e->action[0])
        return ledger__fail(GW_EINVAL, err, errlen, "an audit row needs actor, channel, action");
    r.wo_id = e->wo_id && e->wo_id[0] ? e->wo_id : NULL;
    r.ts = e->ts_ms ? e->ts_ms : gw_wall_ms();
    r.actor = e->actor;
    r.channel = e->channel;
    r.action = e->action;
    r.detail = e->detail;
    rc = ledger__op_begin(lg, &own_tx, err, errlen);
    if (rc < 0)
        return rc;
    rc = ledger__audit_append(lg, &r, err, errlen);
    rc = ledger__op_end(lg, own_tx, rc, err, errlen);
    if (rc == 0 && id_out)
        *id_out = r.id;
    return rc;
}

/* The detail of a horizon record: where the chain now begins. NULL on out
 * of memory (malloc'd). */
static char *ledger__horizon_detail(const ledger__horizon_t *h, int64_t rows)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    cJSON_AddNumberToObject(o, "before_id", (double)h->before_id);
    cJSON_AddNumberToObject(o, "before_ts", (double)h->before_ts);
    if (h->anchor[0])
        cJSON_AddStringToObject(o, "anchor", h->anchor);
    else
        cJSON_AddNullToObject(o, "anchor");
    cJSON_AddNumberToObject(o, "rows", (double)rows);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Append the record of the horizon h (action "purged" or "chain_started"). */
static int ledger__horizon_record(ledger_t *lg, const char *action, const ledger__horizon_t *h,
                                  int64_t rows, int64_t now, char *err, size_t errlen)
{
    ledger__audit_row_t r = {.ts = now, .actor = "ledger", .channel = "ledger", .action = action};
    int rc;

    r.detail = ledger__horizon_detail(h, rows);
    if (!r.detail)
        return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
    rc = ledger__audit_append(lg, &r, err, errlen);
    free((char *)r.detail);
    return rc;
}

/* Run sql binding the int64 a (and b when the SQL has ?2). */
static int ledger__audit_exec(ledger_t *lg, const char *sql, int64_t a, int64_t b, const char *t,
                              int64_t *changes, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);

    if (src == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 1)
        src = sqlite3_bind_int64(st, 1, a);
    if (src == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 2)
        src = sqlite3_bind_int64(st, 2, b);
    if (src == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 3)
        src = t ? sqlite3_bind_text(st, 3, t, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, 3);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    sqlite3_finalize(st);
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        return ledger__dberr(lg, src, err, errlen, sql);
    if (changes)
        *changes = sqlite3_changes(ledger__db(lg));
    return 0;
}

/* Read one int64 (the first column of the first row); *found 0 when the
 * query gave no row or NULL. */
static int ledger__audit_int(ledger_t *lg, const char *sql, int64_t arg, int64_t *out, int *found,
                             char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(ledger__db(lg), sql, -1, &st, NULL);

    *found = 0;
    if (src == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 1)
        src = sqlite3_bind_int64(st, 1, arg);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *out = sqlite3_column_int64(st, 0);
        *found = 1;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, sql);
    return 0;
}

int ledger__audit_purge(ledger_t *lg, int64_t cutoff_ts, int64_t now, int64_t *n, char *err,
                        size_t errlen)
{
    ledger__horizon_t h;
    int64_t cut, first, last, rows = 0;
    uint8_t bin[LEDGER__HASH_LEN];
    int found, rc;
    char anchor[2 * LEDGER__HASH_LEN + 1] = "";

    /* The cut: the first row at or after the cutoff. Every row before it is
     * older than the cutoff, so the chain is cut from its old end only,
     * even when the clock stepped back at some point. */
    rc = ledger__audit_int(lg, "SELECT MIN(id) FROM audit WHERE ts >= ?1", cutoff_ts, &cut, &found,
                           err, errlen);
    if (rc == 0 && !found)
        rc = ledger__audit_int(lg, "SELECT MAX(id) + 1 FROM audit", 0, &cut, &found, err, errlen);
    if (rc < 0 || !found)
        return rc; /* no rows at all */
    rc = ledger__audit_int(lg, "SELECT MIN(id) FROM audit", 0, &first, &found, err, errlen);
    if (rc < 0 || !found || first >= cut)
        return rc; /* nothing older than the cutoff */
    /* The anchor: what the first kept row chains from (the last cut row's
     * hash, or the hash of its content when its stored one is damaged). */
    rc = ledger__audit_link(lg, cut, &last, bin, NULL, err, errlen);
    if (rc == 0)
        rc = ledger__audit_int(lg, "SELECT COUNT(*) FROM audit WHERE id < ?1", cut, &rows, &found,
                               err, errlen);
    if (rc < 0)
        return rc;
    ledger__hex(bin, sizeof(bin), anchor);
    /* The horizon first (the delete trigger allows only rows before it),
     * then the rows, then the record of the cut at the chain's head. */
    rc = ledger__audit_exec(lg,
                            "UPDATE audit_horizon SET before_ts = MAX(before_ts, ?1),"
                            " before_id = ?2, anchor = ?3 WHERE id = 1",
                            cutoff_ts, cut, anchor, NULL, err, errlen);
    if (rc == 0)
        rc =
            ledger__audit_exec(lg, "DELETE FROM audit WHERE id < ?1", cut, 0, NULL, n, err, errlen);
    if (rc == 0)
        rc = ledger__audit_horizon(lg, &h, err, errlen);
    if (rc == 0)
        rc = ledger__horizon_record(lg, "purged", &h, rows, now, err, errlen);
    return rc;
}

/* ---- rows written before the chain existed ------------------------------ */

typedef struct ledger__rehash {
    int64_t id;
    char hex[2 * LEDGER__HASH_LEN + 1];
} ledger__rehash_t;

/* Hash every row in id order, keeping the hashes rows already have. */
static int ledger__audit_hash_all(ledger_t *lg, ledger__rehash_t **out, size_t *n, char *err,
                                  size_t errlen)
{
    sqlite3_stmt *st = NULL;
    uint8_t prev[LEDGER__HASH_LEN] = {0}, h[LEDGER__HASH_LEN];
    size_t cap = 0;
    int src = sqlite3_prepare_v2(ledger__db(lg),
                                 "SELECT id, wo_id, ts, actor, channel, action, from_status,"
                                 " to_status, detail, hash FROM audit ORDER BY id",
                                 -1, &st, NULL);

    *out = NULL;
    *n = 0;
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        ledger__audit_row_t r;
        ledger__audit_row_read(st, &r);
        if (ledger__unhex((const char *)sqlite3_column_text(st, 9), h, sizeof(h)) != 0) {
            if (gw_array_grow((void **)out, *n, &cap, sizeof(**out)) != 0 ||
                ledger__audit_hash(prev, &r, h) != 0) {
                sqlite3_finalize(st);
                return ledger__fail(GW_ENOMEM, err, errlen, "out of memory");
            }
            (*out)[*n].id = r.id;
            ledger__hex(h, sizeof(h), (*out)[(*n)++].hex);
        }
        memcpy(prev, h, sizeof(prev));
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_DONE && src != SQLITE_OK)
        return ledger__dberr(lg, src, err, errlen, "read audit rows to chain");
    return 0;
}

int ledger__audit_chain_existing(ledger_t *lg, char *err, size_t errlen)
{
    ledger__rehash_t *rows = NULL;
    ledger__horizon_t h;
    int64_t first = 1, count = 0;
    size_t n = 0;
    int found, rc;

    rc = ledger__audit_hash_all(lg, &rows, &n, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st = NULL;
        int src = sqlite3_prepare_v2(ledger__db(lg), "UPDATE audit SET hash = ?2 WHERE id = ?1", -1,
                                     &st, NULL);
        if (src == SQLITE_OK)
            src = ledger__bind(st, "it", rows[i].id, rows[i].hex);
        if (src == SQLITE_OK)
            src = sqlite3_step(st);
        sqlite3_finalize(st);
        if (src != SQLITE_DONE)
            rc = ledger__dberr(lg, src, err, errlen, "chain an audit row");
    }
    free(rows);
    if (rc == 0)
        rc = ledger__audit_int(lg, "SELECT MIN(id) FROM audit", 0, &first, &found, err, errlen);
    if (rc == 0)
        rc = ledger__audit_int(lg, "SELECT COUNT(*) FROM audit", 0, &count, &found, err, errlen);
    if (rc == 0)
        rc = ledger__audit_horizon(lg, &h, err, errlen);
    if (rc < 0 || n == 0 || (h.before_ts == 0 && first <= 1))
        return rc;
    /* Rows were purged before the chain began: it begins at the first row
     * left, and says so. */
    if (first > h.before_id)
        rc = ledger__audit_exec(lg, "UPDATE audit_horizon SET before_id = ?1 WHERE id = 1", first,
                                0, NULL, NULL, err, errlen);
    if (rc == 0)
        rc = ledger__audit_horizon(lg, &h, err, errlen);
    if (rc == 0)
        rc = ledger__horizon_record(lg, "chain_started", &h, count, gw_wall_ms(), err, errlen);
    return rc;
}

int ledger__audit_unchained(ledger_t *lg, int *yes, char *err, size_t errlen)
{
    int64_t v;
    return ledger__audit_int(lg, "SELECT 1 FROM audit WHERE hash IS NULL LIMIT 1", 0, &v, yes, err,
                             errlen);
}

/* ---- the head ----------------------------------------------------------- */

void ledger__audit_row_read(sqlite3_stmt *st, ledger__audit_row_t *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->wo_id = (const char *)sqlite3_column_text(st, 1);
    r->ts = sqlite3_column_int64(st, 2);
    r->actor = (const char *)sqlite3_column_text(st, 3);
    r->channel = (const char *)sqlite3_column_text(st, 4);
    r->action = (const char *)sqlite3_column_text(st, 5);
    r->from_status = (const char *)sqlite3_column_text(st, 6);
    r->to_status = (const char *)sqlite3_column_text(st, 7);
    r->detail = (const char *)sqlite3_column_text(st, 8);
}

int ledger_audit_head(ledger_t *lg, ledger_audit_head_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    ledger__horizon_t h;
    int src, rc;

    memset(out, 0, sizeof(*out));
    rc = ledger__audit_horizon(lg, &h, err, errlen);
    if (rc < 0)
        return rc;
    out->before_id = h.before_id;
    src = sqlite3_prepare_v2(ledger__db(lg),
                             "SELECT id, hash, (SELECT COUNT(*) FROM audit) FROM audit"
                             " ORDER BY id DESC LIMIT 1",
                             -1, &st, NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(st, 1);
        out->id = sqlite3_column_int64(st, 0);
        snprintf(out->hash, sizeof(out->hash), "%s", hash ? hash : "");
        out->rows = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return ledger__dberr(lg, src, err, errlen, "read the audit head");
    return 0;
}
