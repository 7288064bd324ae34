/*
 * bench_rules.c: samples per second through the rules (rules/rule.h) for
 * 10,000 points, one rule each, on one core, against a baseline loop that
 * walks the same samples and does a trivial comparison instead of a rule.
 * Samples are pre-generated (noisy values around each rule's limit, so
 * states change); timestamps advance one minute per round, so trend rules
 * close a day every 1440 rounds and pay for their Theil-Sen fits.
 *
 *   build/tests/bench/bench_rules [points] [threshold_rounds] [trend_days]
 *
 * "trend" is a healthy machine (no change, so no fits); "trend-wear" one
 * that wears from the start for 3 * trend_days days, fitting every day.
 *
 * Figures in docs/performance.md, "Rules".
 * SPDX-License-Identifier: Apache-2.0
 */
#include "rules/rule.h"
#include "tests/gen/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NVALS 4096

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef struct bench {
    size_t n;
    double drift;    /* added per round: a wearing machine */
    rule_cfg_t *cfg; /* one per point; or one shared when shared_cfg */
    rule_state_t *st;
    double *vals;
} bench_t;

static volatile double sink;

/* The baseline: the same walk over the samples, one comparison each. */
static double run_baseline(const bench_t *b, int rounds)
{
    double t = now_s(), acc = 0;
    int64_t ts = 1767225600000LL;

    for (int r = 0; r < rounds; r++, ts += 60000)
        for (size_t p = 0; p < b->n; p++) {
            gw_sample_t s = {.point_id = (uint32_t)p,
                             .ts_ms = ts,
                             .value = b->vals[(p * 7 + (size_t)r) % NVALS] + b->drift * r,
                             .quality = GW_Q_GOOD,
                             .mono_ms = ts};
            acc += s.value > 4.5;
        }
    sink = acc;
    return (double)rounds * (double)b->n / (now_s() - t);
}

static double run_rules(bench_t *b, int rounds, uint64_t *actions)
{
    double t = now_s();
    int64_t ts = 1767225600000LL;
    rule_action_t a;

    for (int r = 0; r < rounds; r++, ts += 60000)
        for (size_t p = 0; p < b->n; p++) {
            gw_sample_t s = {.point_id = (uint32_t)p,
                             .ts_ms = ts,
                             .value = b->vals[(p * 7 + (size_t)r) % NVALS] + b->drift * r,
                             .quality = GW_Q_GOOD,
                             .mono_ms = ts};
            *actions += rule_eval(&b->cfg[p], &b->st[p], &s, &a) != RULE_ACT_NONE;
        }
    return (double)rounds * (double)b->n / (now_s() - t);
}

static void setup(bench_t *b, rule_kind_t kind, size_t n, double base, double sd)
{
    gen_t g = {.shape = GEN_FLAT, .base = base, .noise_sd = sd, .rng = 12345};

    b->n = n;
    b->drift = 0;
    b->cfg = calloc(n, sizeof(*b->cfg));
    b->st = calloc(n, sizeof(*b->st));
    b->vals = malloc(NVALS * sizeof(*b->vals));
    if (!b->cfg || !b->st || !b->vals) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int i = 0; i < NVALS; i++)
        b->vals[i] = gen_value(&g, 0);
    for (size_t p = 0; p < n; p++) {
        rule_cfg_t *c = &b->cfg[p];
        rule_cfg_defaults(c, kind);
        c->alarm.limit = 4.5;
        c->alarm.hysteresis = 0.3;
        c->alarm.for_ms = 120000;
        if (kind == RULE_STATE) {
            c->u.state.use_bit = 1;
            c->u.state.bit = 2;
        }
        if (kind == RULE_TREND) {
            rule_iso10816_zones("10816-1:I", c->u.trend.zones);
            c->u.trend.limit = 4.5;
            c->u.trend.learn_n = 60;
        }
        if (rule_validate(c, NULL, 0) != 0) {
            fprintf(stderr, "bad config\n");
            exit(1);
        }
        rule_init(c, &b->st[p]);
    }
}

static void teardown(bench_t *b)
{
    free(b->cfg);
    free(b->st);
    free(b->vals);
}

static void report(const char *what, bench_t *b, int rounds)
{
    uint64_t actions = 0;
    double base = run_baseline(b, rounds);
    double rate = run_rules(b, rounds, &actions);

    printf("%-10s %6zu points x %6d rounds: %12.0f samples/s (baseline loop %12.0f/s, "
           "%.1f ns/sample over it), %llu actions, state %zu B/rule\n",
           what, b->n, rounds, rate, base, 1e9 / rate - 1e9 / base, (unsigned long long)actions,
           sizeof(rule_state_t));
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 10000;
    int rounds = argc > 2 ? atoi(argv[2]) : 1000;
    int days = argc > 3 ? atoi(argv[3]) : 5;
    bench_t b;

    setup(&b, RULE_THRESHOLD, n, 4.5, 0.5);
    report("threshold", &b, rounds);
    teardown(&b);
    setup(&b, RULE_STATE, n, 4, 2);
    report("state", &b, rounds);
    teardown(&b);
    setup(&b, RULE_RATE, n, 4.5, 0.5);
    report("rate", &b, rounds);
    teardown(&b);
    setup(&b, RULE_ANOMALY, n, 4.5, 0.5);
    report("anomaly", &b, rounds);
    teardown(&b);
    setup(&b, RULE_TREND, n, 1.5, 0.3);
    report("trend", &b, days * 1440);
    teardown(&b);
    /* Wearing at 0.3 mm/s a day after a healthy day: the change is seen,
     * then every day close fits the trend (linear and the exponential
     * floor search) and the orders open and update. */
    setup(&b, RULE_TREND, n, 1.5, 0.3);
    b.drift = 0.3 / 1440;
    report("trend-wear", &b, 3 * days * 1440);
    teardown(&b);
    return 0;
}
