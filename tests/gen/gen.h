/*
 * gen.h: synthetic signals with known truth, for the rules' tests and
 * benchmarks (header only; any test may include it). A generator is a shape
 * (flat, linear, exponential, step) that starts at onset_ms, plus Gaussian
 * noise from a seeded generator, so every run is the same. gen_crossing gives
 * the true time the noiseless signal reaches a limit: what a prediction is
 * checked against. Add a shape by adding a case to gen_truth and gen_crossing.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_TESTS_GEN_H
#define PLANTROOM_TESTS_GEN_H

#include <math.h>
#include <stdint.h>

#define GEN_DAY_MS 86400000LL

typedef enum gen_shape {
    GEN_FLAT = 0, /* base */
    GEN_LINEAR,   /* base + rate * days since onset */
    GEN_EXP,      /* base + amp * (exp(rate * days since onset) - 1) */
    GEN_STEP,     /* base, then base + amp from onset */
} gen_shape_t;

typedef struct gen {
    gen_shape_t shape;
    double base;
    double rate; /* per day */
    double amp;
    int64_t onset_ms;
    double noise_sd;
    uint64_t rng;     /* seed; nonzero */
    double daily_amp; /* a daily cycle of this amplitude (load follows the day) */
} gen_t;

/* xorshift64*: uniform in (0, 1). */
static inline double gen_uniform(gen_t *g)
{
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return ((double)((g->rng * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal by Box-Muller. */
static inline double gen_normal(gen_t *g)
{
    double u = gen_uniform(g), v = gen_uniform(g);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* The noiseless signal at ts. */
static inline double gen_truth(const gen_t *g, int64_t ts)
{
    double d = ts > g->onset_ms ? (double)(ts - g->onset_ms) / GEN_DAY_MS : 0;
    double cyc = g->daily_amp * sin(6.283185307179586 * (double)(ts % GEN_DAY_MS) / GEN_DAY_MS);

    switch (g->shape) {
    case GEN_FLAT:
        return g->base + cyc;
    case GEN_LINEAR:
        return g->base + g->rate * d + cyc;
    case GEN_EXP:
        return g->base + g->amp * (exp(g->rate * d) - 1) + cyc;
    case GEN_STEP:
        return g->base + (ts >= g->onset_ms ? g->amp : 0) + cyc;
    }
    return g->base;
}

/* One noisy reading at ts. */
static inline double gen_value(gen_t *g, int64_t ts)
{
    return gen_truth(g, ts) + g->noise_sd * gen_normal(g);
}

/* When the noiseless trend (without the daily cycle) reaches limit; -1 never. */
static inline int64_t gen_crossing(const gen_t *g, double limit)
{
    double days;

    if (g->base >= limit)
        return g->onset_ms;
    switch (g->shape) {
    case GEN_LINEAR:
        if (g->rate <= 0)
            return -1;
        days = (limit - g->base) / g->rate;
        break;
    case GEN_EXP:
        if (g->rate <= 0 || g->amp <= 0)
            return -1;
        days = log((limit - g->base) / g->amp + 1) / g->rate;
        break;
    case GEN_STEP:
        return g->base + g->amp >= limit ? g->onset_ms : -1;
    default:
        return -1;
    }
    return g->onset_ms + (int64_t)(days * GEN_DAY_MS);
}

#endif
