/*
 * ledger_ids.c: how work orders are named (store/ledger_int.h): the
 * fingerprint "site/device/rule" that finds a condition's active order, the
 * ULID that identifies an order for good (strictly increasing within a
 * connection), and the per-site number people quote. Design:
 * docs/architecture.md ("Durability order").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/ledger.h"
#include "store/ledger_db_int.h"

#include "gateway/base/gw_clock.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* "site/device/rule", with '%' and '/' inside a part written %25 and %2F so
 * that two different triples never share a fingerprint. Malloc'd or NULL. */
char *ledger__fingerprint(const char *site, const char *device, const char *rule)
{
    const char *parts[3] = {site, device, rule};
    size_t n = 0;
    char *fp, *p;

    for (int i = 0; i < 3; i++)
        n += strlen(parts[i]) * 3 + 1;
    fp = malloc(n);
    if (!fp)
        return NULL;
    p = fp;
    for (int i = 0; i < 3; i++) {
        if (i)
            *p++ = '/';
        for (const char *s = parts[i]; *s; s++) {
            if (*s == '/' || *s == '%') {
                p += sprintf(p, "%%%02X", (unsigned char)*s);
            } else {
                *p++ = *s;
            }
        }
    }
    *p = '\0';
    return fp;
}

/* A ULID (26 Crockford base32 characters: 48-bit ms time, 80 random bits)
 * into out[27]. Within one generator ids strictly increase: in the same
 * millisecond (or if the clock stepped back) the random part is
 * incremented instead of drawn again. */
int ledger__ulid_next(ledger__ulid_gen_t *g, char out[27], char *err, size_t errlen)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    int64_t ms = gw_wall_ms();
    uint8_t b[16];

    if (ms < 0)
        ms = 0;
    ms &= ((int64_t)1 << 48) - 1;
    if (g->ms != 0 && ms <= g->ms) {
        int i = 9;
        while (i >= 0 && ++g->rand[i] == 0)
            i--;
        if (i < 0) /* 2^80 ids in one ms: borrow the next millisecond */
            g->ms++;
    } else {
        size_t got = 0;
        while (got < sizeof(g->rand)) {
            ssize_t r = getrandom(g->rand + got, sizeof(g->rand) - got, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return ledger__fail(-errno, err, errlen, "getrandom: %s", strerror(errno));
            got += (size_t)r;
        }
        g->ms = ms;
    }
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(g->ms >> (8 * (5 - i)));
    memcpy(b + 6, g->rand, 10);
    /* 26 x 5 = 130 bits: two leading zero bits, then the 128 of b. */
    for (int i = 0; i < 26; i++) {
        int v = 0;
        for (int k = 0; k < 5; k++) {
            int bit = i * 5 + k - 2;
            v <<= 1;
            if (bit >= 0)
                v |= (b[bit / 8] >> (7 - bit % 8)) & 1;
        }
        out[i] = alphabet[v];
    }
    out[26] = '\0';
    return 0;
}

int ledger__ulid(ledger_t *lg, char out[27], char *err, size_t errlen)
{
    return ledger__ulid_next(&lg->ulid, out, err, errlen);
}

void ledger__event_id(const char *site, const char *ulid, char *out, size_t len)
{
    snprintf(out, len, "%s#%s", site, ulid);
}

/* The number the next work order of site gets: one above its highest. */
int ledger__next_number(ledger_t *lg, const char *site, int64_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int src;
    int rc;

    rc = ledger__stmt(lg, ST_NEXT_NUMBER, &st, err, errlen);
    if (rc < 0)
        return rc;
    src = ledger__bind(st, "t", site);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = ledger__dberr(lg, src, err, errlen, "next work-order number");
        sqlite3_reset(st);
        return rc;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}
