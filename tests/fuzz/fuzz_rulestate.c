/*
 * fuzz_rulestate.c: loading rules.state (gateway/core/gw_rulestate.c) and
 * running the rules on what was loaded. An input describes the file's
 * records (which rule, patches to its state's bytes); the harness writes a
 * well-formed file of version 1 around them (header and checksum, so that
 * the records get past the damage check as a file from this build would,
 * and are rebased onto this run's clock) or, when the first byte is 'R',
 * the raw bytes, or when it is '3' a version 3 file (fields under tags,
 * write_v3) built from the bytes that follow. After the load, each rule takes
 * readings: a state from the file must never make a rule read or write out
 * of bounds, or cast out of range, whatever its fields hold.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/core/gw_core.h"
#include "gateway/core/gw_rules.h"
#include "tests/fuzz/fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw_runtime_t *rt;
static rule_state_t *fresh; /* the rules' states right after the build */
static char path[128];
static int64_t clock_off;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc;
    (void)argv;
    gw_log_set_level(GW_LOG_ERROR);
    fuzz_clock_pin(&clock_off);
    if (gw_runtime_build(&rt, fuzz_config(), err, sizeof(err)) != 0)
        abort();
    fresh = calloc(rt->cfg->nrules + 1, sizeof(*fresh));
    for (size_t i = 0; i < rt->cfg->nrules; i++)
        fresh[i] = rt->rules[i].st;
    snprintf(path, sizeof(path), "%s/rules.state", fuzz_dir());
    return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* The record layout of gw_rulestate.c (it is the file's format). */
typedef struct rec {
    char device[64], rule[64], point[64];
    uint64_t hash;
    uint32_t kind, reserved;
    rule_state_t st;
} rec_t;

/* Records from the input: each is a selector byte (which rule it is for,
 * whether its kind is kept), a count of patches, then patches (a u16
 * offset into the state and 8 bytes written there) applied to that rule's
 * fresh state, so that the fields of a state (ring indices, counts, times,
 * sums) take any value while the rest stays plausible. */
static size_t records(fuzz_in_t *in, rec_t *recs, size_t max)
{
    size_t n = 0;

    while (in->n > 0 && n < max) {
        uint8_t sel = fuzz_byte(in), npatch = fuzz_byte(in) % 16;
        size_t ri = sel % rt->cfg->nrules;
        const gw_rule_rt_t *r = &rt->rules[ri];
        rec_t *k = &recs[n++];
        memset(k, 0, sizeof(*k));
        snprintf(k->device, sizeof(k->device), "%s", r->cfg->device);
        snprintf(k->rule, sizeof(k->rule), "%s", r->cfg->name);
        snprintf(k->point, sizeof(k->point), "%s", r->cfg->point);
        k->hash = rule_learn_hash(&r->cfg->rule);
        k->kind = (uint32_t)r->cfg->kind;
        k->st = fresh[ri];
        for (uint8_t p = 0; p < npatch; p++) {
            size_t off = fuzz_u16(in) % sizeof(rule_state_t);
            uint64_t v = fuzz_u64(in);
            memcpy((char *)&k->st + off, &v,
                   off + 8 <= sizeof(rule_state_t) ? 8 : sizeof(rule_state_t) - off);
        }
        if (sel & 0x80)
            k->st.kind = (rule_kind_t)fuzz_byte(in);
    }
    return n;
}

/* A well-formed file (header, records, checksum) around the records. */
static void write_file(const uint8_t *data, size_t size)
{
    static rec_t recs[16];
    fuzz_in_t in = {data, size};
    FILE *f = fopen(path, "wb");
    uint32_t hdr[4] = {0, 1, 0, (uint32_t)sizeof(rule_state_t)};
    size_t n = records(&in, recs, 16);
    uint64_t sum;

    if (!f)
        abort();
    memcpy(hdr, "PRRS", 4);
    hdr[2] = (uint32_t)n;
    sum = fnv(1469598103934665603ULL, hdr, sizeof(hdr));
    sum = fnv(sum, recs, n * sizeof(*recs));
    fwrite(hdr, sizeof(hdr), 1, f);
    fwrite(recs, sizeof(*recs), n, f);
    fwrite(&sum, sizeof(sum), 1, f);
    fclose(f);
}

/* Version 3 (fields under tags): records for rules chosen by the input,
 * each a list of fields: a tag of the rule's kind or of every kind (or
 * any tag), its length (or any length up to 2 KiB), its bytes from the
 * rule's fresh state with 8 bytes patched; wrapped in a sound header,
 * clocks and checksum, so that the field parser and the groups meet any
 * tags, lengths and values. */
static size_t fields_v3(fuzz_in_t *in, unsigned char *out, size_t cap, size_t ri)
{
    size_t w = 0, nf = fuzz_byte(in) % 48, n;

    for (size_t i = 0; i < nf && in->n > 0; i++) {
        uint8_t sel = fuzz_byte(in);
        const gw_rs_field_t *tab =
            gw_rulestate_fields(sel & 1 ? (int)rt->cfg->rules[ri].kind : -1, &n);
        uint16_t tag = tab && n ? tab[fuzz_byte(in) % n].tag : fuzz_u16(in), zero = 0;
        uint32_t off = 0, len = 8;
        uint64_t v = fuzz_u64(in);
        for (size_t j = 0; j < n; j++) {
            if (tab[j].tag == tag)
                off = tab[j].off, len = tab[j].len;
        }
        if (sel & 0x80)
            tag = fuzz_u16(in);
        if (sel & 0x40)
            len = fuzz_u16(in) % 2048;
        if (w + 8 + len > cap)
            break;
        memcpy(out + w, &tag, 2);
        memcpy(out + w + 2, &zero, 2);
        memcpy(out + w + 4, &len, 4);
        memset(out + w + 8, 0, len);
        if (off + len <= sizeof(rule_state_t))
            memcpy(out + w + 8, (const char *)&fresh[ri] + off, len);
        memcpy(out + w + 8, &v, len < 8 ? len : 8);
        w += 8 + len;
    }
    return w;
}

static void write_v3(const uint8_t *data, size_t size)
{
    static unsigned char body[1 << 17];
    fuzz_in_t in = {data, size};
    FILE *f = fopen(path, "wb");
    uint32_t hdr[4] = {0, 3, 0, 0};
    unsigned char clocks[56] = {0};
    size_t w = 0;
    uint64_t sum;

    if (!f)
        abort();
    memcpy(hdr, "PRRS", 4);
    while (in.n > 0 && hdr[2] < 16 && w + 4096 < sizeof(body)) {
        size_t ri = fuzz_byte(&in) % rt->cfg->nrules;
        const gw_rule_rt_t *r = &rt->rules[ri];
        unsigned char *h = body + w;
        uint64_t hash = rule_learn_hash(&r->cfg->rule);
        uint32_t kind = (uint32_t)r->cfg->kind, nb;
        memset(h, 0, 208);
        snprintf((char *)h, 64, "%s", r->cfg->device);
        snprintf((char *)h + 64, 64, "%s", r->cfg->name);
        snprintf((char *)h + 128, 64, "%s", r->cfg->point);
        memcpy(h + 192, &hash, 8);
        memcpy(h + 200, &kind, 4);
        nb = (uint32_t)fields_v3(&in, h + 208, 4096 - 208, ri);
        memcpy(h + 204, &nb, 4);
        w += 208 + nb;
        hdr[2]++;
    }
    sum = fnv(1469598103934665603ULL, hdr, sizeof(hdr));
    sum = fnv(sum, clocks, sizeof(clocks));
    sum = fnv(sum, body, w);
    fwrite(hdr, sizeof(hdr), 1, f);
    fwrite(clocks, sizeof(clocks), 1, f);
    fwrite(body, 1, w, f);
    fwrite(&sum, sizeof(sum), 1, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_rulestate_counts_t n;
    char err[256];

    if (size < 1)
        return 0;
    for (size_t i = 0; i < rt->cfg->nrules; i++)
        rt->rules[i].st = fresh[i];
    if (data[0] == 'R') { /* the raw bytes as the file */
        FILE *f = fopen(path, "wb");
        if (!f)
            abort();
        fwrite(data + 1, 1, size - 1, f);
        fclose(f);
    } else if (data[0] == '3') {
        write_v3(data + 1, size - 1);
    } else {
        write_file(data + 1, size - 1);
    }
    gw_rulestate_load(rt, path, &n, err, sizeof(err));
    /* every rule judges readings with whatever state it now has */
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        gw_rule_rt_t *r = &rt->rules[i];
        for (int k = 0; k < 6; k++) {
            gw_sample_t s = {.point_id = r->point_id,
                             .ts_ms = FUZZ_NOW_MS + (int64_t)k * 3600000 * 13,
                             .mono_ms = clock_off + (int64_t)k * 3600000 * 13,
                             .value = k * 1.5,
                             .quality = k == 3 ? GW_Q_COMM_ERROR : GW_Q_GOOD};
            rule_action_t a;
            rule_eval(&r->cfg->rule, &r->st, &s, &a);
        }
    }
    return 0;
}
