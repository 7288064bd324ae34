/*
 * test_rule_state.c: rule state across restarts and reloads (gateway/
 * gw_rulestate.c, gw_runtime_carry, gw_rule_cfg_equal): a saved trend, its
 * baseline and its firing state come back after a "restart" (a new runtime
 * from the same config); an alarm-side change (limit, horizon) keeps the
 * state, a learning change (day_ms) resets it; unknown records are skipped;
 * a missing file loads nothing; a damaged one is refused whole; no .new file
 * is left behind. The states' monotonic times come back onto the new run's
 * clock: as they are in the same boot, moved by the wall time that passed
 * after a reboot, and a file of version 1 (wall-clock times) is still read,
 * a time from the future in it bounded to now. Version 3 (fields under
 * tags) covers every field a rule fills, and a file of a later build
 * restores what both know. Real files in a temporary
 * directory, a test clock (gw_clock_set). A record whose state no rule
 * could have written is not loaded.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/config/gw_config.h"
#include "gateway/core/gw_rules.h"
#include "gateway/core/gw_runtime.h"
#include "tests/gen/gen.h"
#include "tests/unit/t.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/plantroom-rulestate-XXXXXX";

/* The test clock: what the runs see as now. */
static int64_t now_mono = 40 * GEN_DAY_MS, now_wall = 40 * GEN_DAY_MS;

static int64_t test_mono(void *arg)
{
    (void)arg;
    return now_mono;
}

static int64_t test_wall(void *arg)
{
    (void)arg;
    return now_wall;
}

/* Write a config with the given extra rule parameters for the trend rule
 * and build a runtime from it. */
static gw_runtime_t *runtime_with(const char *trend_extra, const char *extra_rule)
{
    char path[512], err[256];
    gw_config_t *cfg = NULL;
    gw_runtime_t *rt = NULL;
    gw_errlist_t el;
    FILE *f;

    snprintf(path, sizeof(path), "%s/site.json", dir);
    f = fopen(path, "w");
    fprintf(f,
            "{\"site\": {\"id\": \"t\"}, \"state_dir\": \"%s\", \"profiles_dir\": \"%s\",\n"
            " \"buses\": [{\"name\": \"b\", \"type\": \"tcp\", \"host\": \"127.0.0.1\", "
            "\"port\": 1502}],\n"
            " \"devices\": [{\"name\": \"lift-1\", \"bus\": \"b\", \"unit_id\": 1, "
            "\"profile\": \"elevator\"}],\n"
            " \"rules\": [{\"name\": \"trend\", \"device\": \"lift-1\", \"point\": "
            "\"vibration_machine\", \"kind\": \"trend\", \"iso10816\": \"10816-1:I\", "
            "\"learn_n\": 100 %s},\n"
            "   {\"name\": \"doors\", \"device\": \"lift-1\", \"point\": \"door_cycles\", "
            "\"kind\": \"counter\", \"limit\": 1000}%s]}\n",
            dir, PLANTROOM_SOURCE_DIR "/drivers/profiles", trend_extra, extra_rule);
    fclose(f);
    gw_errlist_init(&el);
    if (gw_config_load(path, NULL, &cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            fprintf(stderr, "config: %s\n", el.msgs[i]);
        gw_errlist_free(&el);
        return NULL;
    }
    gw_errlist_free(&el);
    if (gw_runtime_build(&rt, cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "runtime: %s\n", err);
        return NULL;
    }
    return rt;
}

/* Feed 30 days of wear into the trend and 500 door cycles into the counter. */
static void feed(gw_runtime_t *rt)
{
    gen_t g = {.shape = GEN_LINEAR,
               .base = 1.2,
               .rate = 0.1,
               .onset_ms = 5 * GEN_DAY_MS,
               .noise_sd = 0.1,
               .rng = 9};
    rule_action_t a;

    for (int64_t ts = 0; ts < 30 * GEN_DAY_MS; ts += 60000) {
        gw_sample_t s = {.point_id = 0,
                         .ts_ms = ts,
                         .value = gen_value(&g, ts),
                         .quality = GW_Q_GOOD,
                         .mono_ms = ts};
        rule_eval(&rt->rules[0].cfg->rule, &rt->rules[0].st, &s, &a);
    }
    for (int i = 0; i <= 500; i++) {
        gw_sample_t s = {.point_id = 1,
                         .ts_ms = i * 1000,
                         .value = 70000 + i,
                         .quality = GW_Q_GOOD,
                         .mono_ms = i * 1000};
        rule_eval(&rt->rules[1].cfg->rule, &rt->rules[1].st, &s, &a);
    }
}

T_TEST(restart_keeps_prediction)
{
    char path[512], err[256];
    gw_runtime_t *rt = runtime_with("", ""), *rt2;
    gw_rulestate_counts_t n;

    T_CHECK(rt != NULL);
    if (!rt)
        return;
    feed(rt);
    T_CHECK_EQ_INT(rt->rules[0].st.u.trend.firing, 1);
    T_CHECK_NEAR(rt->rules[1].st.u.counter.acc, 500, 1e-9);
    T_CHECK_STR(rt->cfg->rules_state_path + strlen(dir), "/rules.state");
    T_CHECK_EQ_INT(gw_rulestate_save(rt, rt->cfg->rules_state_path, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s.new", rt->cfg->rules_state_path);
    T_CHECK(access(path, F_OK) != 0);

    /* Restart: a fresh runtime, then the file. */
    rt2 = runtime_with("", "");
    T_CHECK_EQ_INT(rt2->rules[0].st.u.trend.firing, 0);
    T_CHECK_EQ_INT(gw_rulestate_load(rt2, rt->cfg->rules_state_path, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n.loaded, 2);
    T_CHECK_EQ_INT(n.skipped, 0);
    T_CHECK(memcmp(&rt2->rules[0].st, &rt->rules[0].st, sizeof(rule_state_t)) == 0);
    T_CHECK_EQ_INT(rt2->rules[0].st.u.trend.firing, 1);
    T_CHECK(rt2->rules[0].st.u.trend.pred_lo > 0);
    T_CHECK_NEAR(rt2->rules[1].st.u.counter.acc, 500, 1e-9);
    gw_runtime_free(rt2);

    /* Alarm-side change (limit, horizon): kept. Learning change: reset. */
    rt2 = runtime_with(", \"limit\": 7.1, \"horizon_days\": 5", "");
    gw_rulestate_load(rt2, rt->cfg->rules_state_path, &n, err, sizeof(err));
    T_CHECK_EQ_INT(n.loaded, 2);
    T_CHECK_EQ_INT(rt2->rules[0].st.u.trend.dn, rt->rules[0].st.u.trend.dn);
    gw_runtime_free(rt2);
    rt2 = runtime_with(", \"day_ms\": 3600000", "");
    gw_rulestate_load(rt2, rt->cfg->rules_state_path, &n, err, sizeof(err));
    T_CHECK_EQ_INT(n.loaded, 1);
    T_CHECK_EQ_INT(n.skipped, 1);
    T_CHECK_EQ_INT(rt2->rules[0].st.u.trend.dn, 0);
    gw_runtime_free(rt2);
    gw_runtime_free(rt);
}

/* Reload: gw_runtime_carry keeps the state through a limit change. */
T_TEST(reload_carries_on_alarm_change)
{
    gw_runtime_t *old = runtime_with("", ""), *rt = runtime_with(", \"limit\": 7.1", "");

    feed(old);
    T_CHECK(gw_rule_cfg_equal(rt->rules[0].cfg, old->rules[0].cfg));
    gw_runtime_carry(rt, old);
    T_CHECK_EQ_INT(rt->rules[0].st.u.trend.dn, old->rules[0].st.u.trend.dn);
    T_CHECK_NEAR(rt->rules[1].st.u.counter.acc, 500, 1e-9);
    gw_runtime_free(rt);
    rt = runtime_with(", \"smooth_n\": 20", "");
    T_CHECK(!gw_rule_cfg_equal(rt->rules[0].cfg, old->rules[0].cfg));
    gw_runtime_carry(rt, old);
    T_CHECK_EQ_INT(rt->rules[0].st.u.trend.dn, 0);
    gw_runtime_free(rt);
    gw_runtime_free(old);
}

/* FNV-1a as the file's trailer. */
static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The whole file, or NULL. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long len;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)len);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* Write buf (its trailer recomputed) to path. */
static void spit(const char *path, unsigned char *buf, size_t n)
{
    uint64_t sum = fnv(buf, n - 8);
    FILE *f = fopen(path, "wb");

    memcpy(buf + n - 8, &sum, 8);
    fwrite(buf, 1, n, f);
    fclose(f);
}

#define HDR     16            /* "PRRS", version, count, state size */
#define CLOCKS  56            /* version 2: wall, mono, boot id[40] */
#define REC_ST  (3 * 64 + 16) /* a record's state, after its names, hash, kind */
#define REC_LEN (REC_ST + sizeof(rule_state_t))

/* rt's states as an earlier build wrote them: version 2, the raw
 * rule_state_t of this layout. Caller frees. */
static unsigned char *raw_v2(const gw_runtime_t *rt, size_t *len)
{
    size_t n = rt->cfg->nrules;
    unsigned char *buf = calloc(1, HDR + CLOCKS + n * REC_LEN + 8), *p;
    uint32_t h[4] = {0, 2, (uint32_t)n, (uint32_t)sizeof(rule_state_t)};
    int64_t clocks[2] = {now_wall, now_mono};

    memcpy(h, "PRRS", 4);
    memcpy(buf, h, HDR);
    memcpy(buf + HDR, clocks, sizeof(clocks)); /* boot id "": never this boot */
    p = buf + HDR + CLOCKS;
    for (size_t i = 0; i < n; i++, p += REC_LEN) {
        const gw_rule_rt_t *r = &rt->rules[i];
        uint64_t hash = rule_learn_hash(&r->cfg->rule);
        uint32_t kind = (uint32_t)r->cfg->kind;
        snprintf((char *)p, 64, "%s", r->cfg->device);
        snprintf((char *)p + 64, 64, "%s", r->cfg->name);
        snprintf((char *)p + 128, 64, "%s", r->cfg->point);
        memcpy(p + 192, &hash, 8);
        memcpy(p + 200, &kind, 4);
        memcpy(p + REC_ST, &r->st, sizeof(rule_state_t));
    }
    *len = HDR + CLOCKS + n * REC_LEN + 8;
    return buf;
}

T_TEST(missing_and_damaged_files)
{
    char path[600], err[256];
    gw_runtime_t *rt = runtime_with("", "");
    gw_rulestate_counts_t cnt = {9, 9, 9};
    FILE *f;
    long n;
    char *buf;

    snprintf(path, sizeof(path), "%s/none.state", dir);
    T_CHECK_EQ_INT(gw_rulestate_load(rt, path, &cnt, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(cnt.loaded + cnt.skipped, 0);
    /* Truncate a good file by one byte: refused whole. */
    feed(rt);
    T_CHECK_EQ_INT(gw_rulestate_save(rt, rt->cfg->rules_state_path, err, sizeof(err)), 0);
    f = fopen(rt->cfg->rules_state_path, "rb");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n);
    T_CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)n - 1, f);
    fclose(f);
    T_CHECK_EQ_INT(gw_rulestate_load(rt, path, &cnt, err, sizeof(err)), GW_ECORRUPT);
    T_CHECK(strstr(err, "damaged") != NULL);
    /* A sound file of another build (a later version; version 2 of another
     * state size: its checksum right): not damaged, only not for this build. */
    {
        uint32_t other = 99;
        size_t len2;
        unsigned char *v2 = raw_v2(rt, &len2);
        memcpy(v2 + 12, &(uint32_t){12345}, 4); /* magic, version, count, state_size */
        spit(path, v2, len2);
        free(v2);
        T_CHECK_EQ_INT(gw_rulestate_load(rt, path, &cnt, err, sizeof(err)), GW_ESTATE);
        T_CHECK(strstr(err, "another build") != NULL);

        uint64_t sum = 1469598103934665603ULL;
        char *copy = malloc((size_t)n);
        memcpy(copy, buf, (size_t)n);
        memcpy(copy + 4, &other, sizeof(other));
        for (long i = 0; i < n - 8; i++) {
            sum ^= (unsigned char)copy[i];
            sum *= 1099511628211ULL;
        }
        memcpy(copy + n - 8, &sum, sizeof(sum));
        f = fopen(path, "wb");
        fwrite(copy, 1, (size_t)n, f);
        fclose(f);
        free(copy);
        T_CHECK_EQ_INT(gw_rulestate_load(rt, path, &cnt, err, sizeof(err)), GW_ESTATE);
        T_CHECK(strstr(err, "another build") != NULL);
    }
    /* One flipped bit in a state: the checksum refuses it. */
    buf[n / 2] ^= 1;
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)n, f);
    fclose(f);
    T_CHECK_EQ_INT(gw_rulestate_load(rt, path, &cnt, err, sizeof(err)), GW_ECORRUPT);
    T_CHECK_EQ_INT(cnt.loaded, 0);
    free(buf);
    unlink(path);
    gw_runtime_free(rt);
}

T_TEST(another_boot_and_version_1)
{
    char path[600], err[256];
    gw_runtime_t *rt = runtime_with("", ""), *rt2;
    gw_rulestate_counts_t n;
    int64_t trend_ts, counter_ts, shift;
    unsigned char *buf, *v1;
    size_t len;
    uint32_t one = 1;

    if (!rt)
        return;
    feed(rt);
    trend_ts = rt->rules[0].st.u.trend.last_ts_ms;
    counter_ts = rt->rules[1].st.alarm.last_ts_ms;
    T_CHECK_EQ_INT(gw_rulestate_save(rt, rt->cfg->rules_state_path, err, sizeof(err)), 0);
    buf = slurp(rt->cfg->rules_state_path, &len);
    T_CHECK(buf && len > HDR + CLOCKS + 8);
    if (!buf)
        return;

    /* Another boot (another boot id), a minute later by the wall clock, 10 s
     * after this boot: the times move by what the wall clock says passed. */
    buf[HDR + 16] ^= 0x5a;
    snprintf(path, sizeof(path), "%s/other-boot.state", dir);
    spit(path, buf, len);
    now_wall += 60000;
    shift = 10000 - 60000 - now_mono;
    now_mono = 10000;
    rt2 = runtime_with("", "");
    T_CHECK_EQ_INT(gw_rulestate_load(rt2, path, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n.loaded, 2);
    T_CHECK_EQ_INT(n.bounded, 0);
    T_CHECK_EQ_INT(rt2->rules[0].st.u.trend.last_ts_ms, trend_ts + shift);
    T_CHECK_EQ_INT(rt2->rules[1].st.alarm.last_ts_ms, counter_ts + shift);
    T_CHECK_EQ_INT(rt2->rules[0].st.u.trend.dn, rt->rules[0].st.u.trend.dn);
    gw_runtime_free(rt2);

    /* Version 1: no clocks, wall-clock times; one of them from 2200 (a
     * report from the future before timestamps were bounded). */
    free(buf);
    buf = raw_v2(rt, &len);
    v1 = malloc(len - CLOCKS);
    memcpy(v1, buf, HDR);
    memcpy(v1 + 4, &one, 4);
    memcpy(v1 + HDR, buf + HDR + CLOCKS, len - HDR - CLOCKS);
    memcpy(v1 + HDR + REC_LEN + REC_ST + offsetof(rule_state_t, alarm.last_ts_ms),
           &(int64_t){7258118400000LL}, 8);
    snprintf(path, sizeof(path), "%s/v1.state", dir);
    spit(path, v1, len - CLOCKS);
    now_wall = 1796601600000LL; /* 2026-12-06 */
    rt2 = runtime_with("", "");
    T_CHECK_EQ_INT(gw_rulestate_load(rt2, path, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n.loaded, 2);
    T_CHECK_EQ_INT(n.bounded, 1);
    T_CHECK_EQ_INT(rt2->rules[0].st.u.trend.last_ts_ms, trend_ts + now_mono - now_wall);
    T_CHECK_EQ_INT(rt2->rules[1].st.alarm.last_ts_ms, now_mono);
    /* the next real sample counts */
    {
        gw_sample_t s = {.point_id = 1,
                         .ts_ms = now_wall,
                         .value = 71000,
                         .quality = GW_Q_GOOD,
                         .mono_ms = now_mono + 1000};
        rule_action_t a;
        uint64_t before = rt2->rules[1].st.alarm.samples;
        rule_eval(&rt2->rules[1].cfg->rule, &rt2->rules[1].st, &s, &a);
        T_CHECK_EQ_INT(rt2->rules[1].st.alarm.samples, before + 1);
    }
    gw_runtime_free(rt2);
    unlink(path);
    snprintf(path, sizeof(path), "%s/other-boot.state", dir);
    unlink(path);
    free(v1);
    free(buf);
    gw_runtime_free(rt);
}

/* A record that passes the checksum but holds a state no rule could have
 * written (a ring index or count past its array, a time beyond any
 * calendar) is not loaded: that rule starts fresh (found by fuzzing,
 * tests/fuzz/fuzz_rulestate.c). An empty file loads nothing. */
T_TEST(impossible_states_are_not_loaded)
{
    char path[600], err[256];
    gw_runtime_t *rt = runtime_with("", ""), *rt2 = runtime_with("", "");
    gw_rulestate_counts_t n = {9, 9, 9};
    rule_state_t good;
    FILE *f;

    T_CHECK(rt && rt2);
    if (!rt || !rt2)
        return;
    feed(rt);
    good = rt->rules[0].st;
    T_CHECK(rule_state_valid(&rt->cfg->rules[0].rule, &good));
    rt->rules[0].st.u.trend.dn = 6513507;
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));
    T_CHECK_EQ_INT(gw_rulestate_save(rt, rt->cfg->rules_state_path, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(gw_rulestate_load(rt2, rt->cfg->rules_state_path, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n.loaded, 1); /* the counter */
    T_CHECK_EQ_INT(n.skipped, 1);
    T_CHECK_EQ_INT(rt2->rules[0].st.u.trend.dn, 0);
    rt->rules[0].st = good;
    rt->rules[0].st.alarm.since_ms = INT64_MIN;
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));
    rt->rules[0].st = good;
    rt->rules[0].st.u.trend.day = 8796093022208LL; /* a day whose start overflows */
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));
    rt->rules[0].st = good;
    rt->rules[0].st.kind = RULE_RATE;
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));
    /* the prediction's rings and indices: the quiet days, the per-day
     * reading counts, the model in use; the threshold's clearing flag */
    rt->rules[0].st = good;
    rt->rules[0].st.u.trend.qhead = RULE_TREND_QUIET;
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));
    rt->rules[0].st = good;
    rt->rules[0].st.u.trend.qn = RULE_TREND_QUIET + 1;
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));
    rt->rules[0].st = good;
    rt->rules[0].st.u.trend.seen_head = -1;
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));
    rt->rules[0].st = good;
    rt->rules[0].st.u.trend.model = 7;
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));
    rt->rules[0].st = good;
    rt->rules[0].st.u.trend.quiet_t[3] = 8796093022208LL;
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));
    rt->rules[0].st = good;
    rt->rules[0].st.alarm.clearing = 2;
    T_CHECK(!rule_state_valid(&rt->cfg->rules[0].rule, &rt->rules[0].st));

    snprintf(path, sizeof(path), "%s/empty.state", dir);
    f = fopen(path, "wb");
    fclose(f);
    T_CHECK_EQ_INT(gw_rulestate_load(rt2, path, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n.loaded + n.skipped, 0);
    unlink(path);
    gw_runtime_free(rt2);
    gw_runtime_free(rt);
}

/* Every field a rule fills is in the table of rules.state version 3
 * (gw_rulestate_fields.c): copied through the table alone, a state that
 * took a month of readings comes out the same. A field added to
 * rule_state_t and not to the table fails here. Tags are unique per kind. */
T_TEST(fields_cover_the_state)
{
    gw_runtime_t *rt = runtime_with("", "");
    size_t nc, nk;
    const gw_rs_field_t *common = gw_rulestate_fields(-1, &nc), *kind;

    if (!rt)
        return;
    feed(rt);
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        rule_state_t copy;
        const rule_state_t *st = &rt->rules[i].st;
        memset(&copy, 0, sizeof(copy));
        copy.kind = st->kind;
        kind = gw_rulestate_fields((int)st->kind, &nk);
        for (size_t j = 0; j < nc; j++)
            memcpy((char *)&copy + common[j].off, (const char *)st + common[j].off, common[j].len);
        for (size_t j = 0; j < nk; j++) {
            memcpy((char *)&copy + kind[j].off, (const char *)st + kind[j].off, kind[j].len);
            for (size_t m = 0; m < j; m++)
                T_CHECK(kind[m].tag != kind[j].tag);
        }
        T_CHECK(memcmp(&copy, st, sizeof(copy)) == 0);
    }
    T_CHECK(gw_rulestate_fields(RULE_TREND, &nk) != NULL && nk > 40);
    gw_runtime_free(rt);
}

/* Append one field (tag, len bytes of val or zeros) to a version 3 list. */
static size_t put_field(unsigned char *p, uint16_t tag, uint32_t len, const void *val)
{
    uint16_t z = 0;

    memcpy(p, &tag, 2);
    memcpy(p + 2, &z, 2);
    memcpy(p + 4, &len, 4);
    if (val)
        memcpy(p + 8, val, len);
    else
        memset(p + 8, 0, len);
    return 8 + len;
}

/* A file of a later build (version 3): its day ring is twice as long, one
 * field is gone, one it knows of is new to us. What both builds know comes
 * back (the baseline, the alarm, the prediction); the ring and its indices
 * (one group) start empty; the missing field keeps its fresh value; the
 * unknown one is skipped. */
T_TEST(upgrade_keeps_what_both_know)
{
    char err[256];
    gw_runtime_t *rt = runtime_with("", ""), *rt2 = runtime_with("", "");
    gw_rulestate_counts_t n;
    unsigned char *buf, *out, *p, *q;
    size_t len;
    uint32_t nbytes;
    const rule_trend_state_t *t;

    if (!rt || !rt2)
        return;
    feed(rt);
    T_CHECK_EQ_INT(gw_rulestate_save(rt, rt->cfg->rules_state_path, err, sizeof(err)), 0);
    buf = slurp(rt->cfg->rules_state_path, &len);
    out = calloc(1, len + 4096);
    if (!buf || !out)
        return;
    /* the trend is the first record: rebuild its field list */
    memcpy(out, buf, HDR + CLOCKS);
    p = buf + HDR + CLOCKS;
    q = out + HDR + CLOCKS;
    memcpy(&nbytes, p + 3 * 64 + 12, 4);
    memcpy(q, p, 3 * 64 + 16);
    {
        size_t off = 0, w = 0;
        unsigned char *f = p + 3 * 64 + 16, *g = q + 3 * 64 + 16;
        while (off < nbytes) {
            uint16_t tag;
            uint32_t flen;
            memcpy(&tag, f + off, 2);
            memcpy(&flen, f + off + 4, 4);
            if (tag == 440) /* days_t: twice the days */
                w += put_field(g + w, tag, 2 * flen, NULL);
            else if (tag != 462) /* samples: gone in that build */
                w += put_field(g + w, tag, flen, f + off + 8);
            off += 8 + flen;
        }
        w += put_field(g + w, 4999, 8, "newfield");
        memcpy(q + 3 * 64 + 12, &(uint32_t){(uint32_t)w}, 4);
        p += 3 * 64 + 16 + nbytes;
        q += 3 * 64 + 16 + w;
    }
    memcpy(q, p, (size_t)(buf + len - p)); /* the counter's record and the trailer */
    q += buf + len - p;
    spit(rt->cfg->rules_state_path, out, (size_t)(q - out));
    T_CHECK_EQ_INT(gw_rulestate_load(rt2, rt->cfg->rules_state_path, &n, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(n.loaded, 2);
    t = &rt2->rules[0].st.u.trend;
    T_CHECK_EQ_INT(t->dn, 0);
    T_CHECK_EQ_INT(t->dhead, 0);
    T_CHECK(t->days_y[0] == 0.0);
    T_CHECK_EQ_INT(t->samples, 0);
    T_CHECK(rt->rules[0].st.u.trend.dn > 0 && rt->rules[0].st.u.trend.samples > 0);
    T_CHECK_EQ_INT(t->learned, rt->rules[0].st.u.trend.learned);
    T_CHECK(t->mu == rt->rules[0].st.u.trend.mu);
    T_CHECK_EQ_INT(t->firing, 1);
    T_CHECK_EQ_INT(t->qn, rt->rules[0].st.u.trend.qn);
    T_CHECK_EQ_INT(rt2->rules[0].st.alarm.st, rt->rules[0].st.alarm.st);
    T_CHECK_NEAR(rt2->rules[1].st.u.counter.acc, 500, 1e-9);
    free(out);
    free(buf);
    gw_runtime_free(rt2);
    gw_runtime_free(rt);
}

int main(void)
{
    char path[600];
    gw_clock_t clock = {test_mono, test_wall, NULL};

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    gw_clock_set(&clock);
    T_RUN(restart_keeps_prediction);
    T_RUN(reload_carries_on_alarm_change);
    T_RUN(missing_and_damaged_files);
    T_RUN(another_boot_and_version_1);
    T_RUN(impossible_states_are_not_loaded);
    T_RUN(fields_cover_the_state);
    T_RUN(upgrade_keeps_what_both_know);
    snprintf(path, sizeof(path), "%s/rules.state", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/site.json", dir);
    unlink(path);
    rmdir(dir);
    return t_done();
}
