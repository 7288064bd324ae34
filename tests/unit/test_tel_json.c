/*
 * test_tel_json.c: the telemetry message written without cJSON
 * (gateway/base/gw_jwrite.c, north__tel_payload in north_telemetry.c) is
 * byte for byte what the cJSON encoder it replaced printed, and costs no
 * allocation once its buffer has grown; the north side's message queue
 * (north_fifo.c) keeps order and allocates nothing in steady state.
 *
 * Differential: numbers (random bit patterns with every exponent, NaN, the
 * infinities, -0, denormals, huge and tiny values, integers, scaled
 * registers n / 10^k, float32 values, ties at the 15th digit, the edges of
 * the fast paths), strings (random bytes: quotes, backslashes, control
 * characters, UTF-8 and invalid bytes), times (random over 0000..9999 and
 * beyond), and whole messages of random devices (names and units with
 * escapes, every quality, Modbus exceptions by name, text points) against
 * the cJSON encoder kept here as the reference.
 *
 * Allocations are counted by wrapping malloc and friends at link time
 * (-Wl,--wrap, tests/unit/mqtt.cmake): the calls of this program and of the
 * project's static libraries, which is where the encoder lives.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_jwrite.h"
#include "gateway/north/north_int.h"
#include "t.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the allocation counter --------------------------------------------- */

static long t_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

void *__wrap_malloc(size_t n)
{
    t_allocs++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t k)
{
    t_allocs++;
    return __real_calloc(n, k);
}

void *__wrap_realloc(void *p, size_t n)
{
    t_allocs++;
    return __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    t_allocs++;
    return __real_strdup(s);
}

/* ---- random ------------------------------------------------------------- */

static uint64_t t_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return t_rng;
}

static double rnd_bits(void)
{
    uint64_t u = rnd();
    double d;

    memcpy(&d, &u, sizeof(d));
    return d;
}

/* A value of the kinds devices send, and of the kinds that break printers. */
static double rnd_value(void)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    uint64_t k = rnd() % 12;

    switch (k) {
    case 0:
        return rnd_bits();
    case 1: /* a register, scaled by a decimal */
        return (double)(int64_t)(rnd() % 200001 - 100000) * (1.0 / p10[rnd() % 6]);
    case 2:
        return (double)(int64_t)(rnd() % 2000001 - 1000000) / p10[rnd() % 10];
    case 3: /* float32 */
        return (double)(float)rnd_bits();
    case 4:
        return (double)(int64_t)(rnd() % 4000000000ULL) - 2e9;
    case 5: /* a wide range of magnitudes */
        return ldexp((double)(rnd() >> 11), (int)(rnd() % 200) - 150);
    case 6: /* denormals */
        return ldexp((double)(rnd() >> 12), -1074);
    case 7: /* integers near and past 1e15 and 2^53 */
        return (double)(int64_t)(rnd() % 20000000000000000ULL);
    case 8: /* halves at the 15th digit */
        return (double)(int64_t)(rnd() % 1000000000000000ULL) + 0.5;
    case 9: /* near the fast path's edges */
        return (rnd() & 1 ? 1e-4 : 1e15) * (1.0 + ((double)(rnd() % 2001) - 1000.0) * 1e-16);
    case 10:
        return (double)(float)((double)(rnd() % 100000) / 100.0); /* float32 readings */
    default:
        return ((double)(rnd() >> 11) / 9007199254740992.0) * p10[rnd() % 10];
    }
}

/* ---- the reference: cJSON ----------------------------------------------- */

static char *cjson_number(double d)
{
    cJSON *n = cJSON_CreateNumber(d);
    char *s = cJSON_PrintUnformatted(n);

    cJSON_Delete(n);
    return s;
}

/* The encoder the telemetry used before, kept as the reference. */
static char *ref_payload(const char *site, const gw_device_rt_t *dev, const gw_point_rt_t *pts,
                         int64_t ts_ms)
{
    char ts[32];
    cJSON *o, *p;
    char *text;

    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddStringToObject(o, "site", site);
    cJSON_AddStringToObject(o, "device", dev->cfg->name);
    cJSON_AddStringToObject(o, "ts", gw_format_iso8601(ts_ms, ts, sizeof(ts)));
    p = cJSON_AddObjectToObject(o, "points");
    for (size_t i = 0; i < dev->cfg->npoints; i++) {
        const gw_point_rt_t *pr = &pts[dev->first_point + i];
        const gw_sample_t *s = &pr->last;
        cJSON *q = cJSON_AddObjectToObject(p, dev->cfg->points[i].name);
        if (s->quality == GW_Q_GOOD && pr->text)
            cJSON_AddStringToObject(q, "value", pr->text);
        else if (s->quality == GW_Q_GOOD)
            cJSON_AddNumberToObject(q, "value", s->value);
        else
            cJSON_AddNullToObject(q, "value");
        cJSON_AddStringToObject(q, "unit", dev->cfg->points[i].unit);
        cJSON_AddStringToObject(q, "quality", gw_quality_name(s->quality));
        if (pr->exception)
            cJSON_AddStringToObject(q, "error", mb_exception_name(pr->exception));
        cJSON_AddStringToObject(q, "ts", gw_format_iso8601(s->ts_ms, ts, sizeof(ts)));
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* ---- numbers ------------------------------------------------------------ */

static int num_same(double d)
{
    char mine[GW_JW_NUM_MAX], *ref = cjson_number(d);
    size_t len = gw_jw_number(mine, d);
    int same = ref && strcmp(mine, ref) == 0 && len == strlen(ref);

    if (!same)
        fprintf(stderr, "number %a (%.17g): cJSON %s, gw_jw_number %s\n", d, d, ref ? ref : "-",
                mine);
    free(ref);
    return same;
}

T_TEST(numbers_fixed_cases)
{
    const double cases[] = {0.0,
                            -0.0,
                            NAN,
                            -NAN,
                            INFINITY,
                            -INFINITY,
                            1,
                            -1,
                            44.2,
                            0.05,
                            0.1,
                            -0.1,
                            229.66476440429688,
                            (double)229.66476f,
                            1e-4,
                            9.999999999999999e-05,
                            1e15,
                            999999999999999.0,
                            999999999999999.9,
                            1e15 + 1,
                            123456789012345.5,
                            123456789012344.5,
                            0.30000000000000004,
                            DBL_MAX,
                            -DBL_MAX,
                            DBL_MIN,
                            4.9406564584124654e-324,
                            2.2250738585072009e-308,
                            9007199254740992.0,
                            9007199254740993.0,
                            2147483647.0,
                            2147483648.0,
                            -2147483648.0,
                            -2147483649.0,
                            1e300,
                            1e-300,
                            0.000123,
                            12345.678901234567,
                            1.5,
                            2.5,
                            1e21,
                            1e22,
                            1e23,
                            5e-324};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        T_CHECK(num_same(cases[i]));
}

T_TEST(numbers_random_against_cjson)
{
    long bad = 0;

    for (int i = 0; i < 300000; i++)
        bad += !num_same(rnd_value());
    T_CHECK_EQ_INT(bad, 0);
}

T_TEST(numbers_every_decimal_scale)
{
    long bad = 0;

    /* every 16-bit register under every decimal scale a profile can give */
    for (int k = 0; k <= 6; k++) {
        double scale = 1.0 / (double[]){1, 10, 100, 1000, 1e4, 1e5, 1e6}[k];
        for (int r = -32768; r < 65536; r += (k < 3 ? 1 : 7))
            bad += !num_same((double)r * scale);
    }
    T_CHECK_EQ_INT(bad, 0);
}

/* ---- strings and times -------------------------------------------------- */

T_TEST(strings_random_bytes_against_cjson)
{
    gw_jw_t w;
    long bad = 0;

    gw_jw_init(&w);
    for (int i = 0; i < 20000; i++) {
        char s[64];
        size_t n = rnd() % sizeof(s);
        for (size_t j = 0; j < n; j++) {
            unsigned char c = (unsigned char)(rnd() % 255 + 1); /* no NUL inside */
            s[j] = (char)(rnd() % 3 ? c : "\"\\/\b\f\n\r\t\x01\x1f\x7f"[rnd() % 11]);
        }
        s[n] = '\0';
        cJSON *js = cJSON_CreateString(s);
        char *ref = cJSON_PrintUnformatted(js);
        gw_jw_reset(&w);
        gw_jw_str(&w, s);
        if (!ref || strcmp(ref, w.buf) != 0 || strlen(ref) != w.len)
            bad++;
        free(ref);
        cJSON_Delete(js);
    }
    T_CHECK_EQ_INT(bad, 0);
    gw_jw_free(&w);
}

T_TEST(times_against_gw_format_iso8601)
{
    gw_jw_time_t tc;
    char ref[32];
    long bad = 0;
    const int64_t edges[] = {0,
                             -1,
                             1,
                             86399999,
                             86400000,
                             -86400000,
                             951782400000,
                             4102444800000,
                             253402300799999,
                             253402300800000,
                             -62167219200000,
                             -62167219200001};

    gw_jw_time_init(&tc);
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        const char *t = gw_jw_time(&tc, edges[i]);
        gw_format_iso8601(edges[i], ref, sizeof(ref));
        T_CHECK(strcmp(t, ref) == 0 && tc.len == strlen(ref));
    }
    for (int i = 0; i < 200000; i++) {
        /* years 1600..2600 mostly, near neighbours often (the cache), and wild ones */
        int64_t ms = i % 3 == 0   ? (int64_t)(rnd() % 32000000000000ULL) - 11000000000000LL
                     : i % 3 == 1 ? tc.ms + (int64_t)(rnd() % 200000)
                                  : (int64_t)(rnd() % 600000000000000ULL) - 300000000000000LL;
        const char *t = gw_jw_time(&tc, ms);
        gw_format_iso8601(ms, ref, sizeof(ref));
        if (strcmp(t, ref) != 0 || tc.len != strlen(ref))
            bad++;
    }
    T_CHECK_EQ_INT(bad, 0);
}

/* ---- whole messages ----------------------------------------------------- */

#define T_NPTS 40

typedef struct tdev {
    gw_device_cfg_t cfg;
    drv_point_t pts[T_NPTS];
    gw_device_rt_t dev;
    gw_point_rt_t rt[T_NPTS];
    char texts[T_NPTS][24];
} tdev_t;

static void rnd_name(char *s, size_t len)
{
    static const char pool[] = "abcxyz_019 -.\"\\/\x01\n\t\xc3\xa9";
    size_t n = 1 + rnd() % (len - 1);

    for (size_t i = 0; i < n; i++)
        s[i] = pool[rnd() % (sizeof(pool) - 1)];
    s[n] = '\0';
}

/* A device of random points at a random time; every point's ts is the
 * poll's, or (NB-IoT) its own. */
static int64_t tdev_fill(tdev_t *d, size_t npoints)
{
    int64_t ts = (int64_t)(rnd() % 4102444800000ULL);

    memset(d, 0, sizeof(*d));
    rnd_name(d->cfg.name, 20);
    d->cfg.points = d->pts;
    d->cfg.npoints = npoints;
    d->dev.cfg = &d->cfg;
    for (size_t i = 0; i < npoints; i++) {
        gw_point_rt_t *p = &d->rt[i];
        rnd_name(d->pts[i].name, 16);
        if (rnd() % 4)
            rnd_name(d->pts[i].unit, 8);
        p->last.quality = (gw_quality_t)(rnd() % 3 ? GW_Q_GOOD : rnd() % 4);
        p->last.value = rnd_value();
        p->last.ts_ms = rnd() % 5 ? ts : ts - (int64_t)(rnd() % 100000);
        p->exception = rnd() % 6 == 0 ? (uint16_t)(rnd() % 256) : 0;
        if (rnd() % 8 == 0) {
            rnd_name(d->texts[i], sizeof(d->texts[i]));
            p->text = d->texts[i];
        }
    }
    return ts;
}

T_TEST(messages_against_the_cjson_encoder)
{
    gw_jw_t w;
    gw_jw_time_t tc;
    long bad = 0;
    static tdev_t d;
    char site[24];

    gw_jw_init(&w);
    gw_jw_time_init(&tc);
    for (int i = 0; i < 3000; i++) {
        int64_t ts = tdev_fill(&d, rnd() % (T_NPTS + 1));
        rnd_name(site, sizeof(site));
        char *ref = ref_payload(site, &d.dev, d.rt, ts);
        int rc = north__tel_payload(&w, &tc, site, &d.dev, d.rt, ts);
        if (rc != 0 || !ref || strcmp(ref, w.buf) != 0 || strlen(ref) != w.len) {
            if (bad++ == 0)
                fprintf(stderr, "cJSON:   %s\nwritten: %s\n", ref ? ref : "-", w.buf);
        }
        free(ref);
    }
    T_CHECK_EQ_INT(bad, 0);
    gw_jw_free(&w);
}

T_TEST(messages_allocate_nothing_after_warm_up)
{
    gw_jw_t w;
    gw_jw_time_t tc;
    static tdev_t d;
    long before;
    int64_t ts;

    gw_jw_init(&w);
    gw_jw_time_init(&tc);
    /* warm-up: the largest message (every point a text of the longest
     * name) grows the buffer; that is counted, so the counter counts */
    uint16_t longest = 0;

    for (unsigned e = 1; e < 256; e++) {
        if (strlen(mb_exception_name(e)) > strlen(mb_exception_name(longest)))
            longest = (uint16_t)e;
    }
    tdev_fill(&d, T_NPTS);
    memset(d.cfg.name, '\x01', 19);
    d.cfg.name[19] = '\0';
    for (size_t i = 0; i < T_NPTS; i++) {
        memset(d.pts[i].name, '\x01', 15);
        d.pts[i].name[15] = '\0';
        memset(d.pts[i].unit, '\x01', 7);
        d.pts[i].unit[7] = '\0';
        memset(d.texts[i], '"', sizeof(d.texts[i]) - 1);
        d.texts[i][sizeof(d.texts[i]) - 1] = '\0';
        d.rt[i].text = d.texts[i];
        d.rt[i].last.quality = GW_Q_GOOD;
        d.rt[i].exception = longest;
    }
    before = t_allocs;
    T_CHECK(north__tel_payload(&w, &tc, "site", &d.dev, d.rt, 0) == 0);
    T_CHECK(t_allocs > before);
    before = t_allocs;
    for (int i = 0; i < 5000; i++) {
        ts = tdev_fill(&d, rnd() % (T_NPTS + 1)); /* values of every kind, new times */
        T_CHECK(north__tel_payload(&w, &tc, "site", &d.dev, d.rt, ts) == 0);
    }
    T_CHECK_EQ_INT(t_allocs - before, 0);
    gw_jw_free(&w);
}

/* ---- the message queue -------------------------------------------------- */

T_TEST(fifo_order_wrap_growth_and_no_allocation)
{
    north_fifo_t f;
    char topic[32], payload[3000];
    uint64_t pushed = 0, popped = 0;
    long before = 0;
    int bad = 0;

    north__fifo_init(&f);
    for (int round = 0; round < 40000; round++) {
        if (round == 20000)
            before = t_allocs; /* grown to its working size by now */
        if (rnd() % 3 != 0 && f.n < 64) {
            size_t tl =
                (size_t)snprintf(topic, sizeof(topic), "t/%llu", (unsigned long long)pushed);
            size_t pl = rnd() % sizeof(payload);
            memset(payload, 'a' + (int)(pushed % 26), pl);
            T_CHECK(north__fifo_push(&f, (int64_t)pushed, topic, tl, payload, pl) == 0);
            if (rnd() % 50 == 0) { /* a publish that failed: taken back */
                north__fifo_drop_last(&f);
                continue;
            }
            pushed++;
        } else if (f.n) {
            const north_fifo_msg_t *m = north__fifo_front(&f);
            char want[32];
            snprintf(want, sizeof(want), "t/%llu", (unsigned long long)popped);
            if (m->ts_ms != (int64_t)popped || strcmp(m->text, want) != 0 ||
                strlen(NORTH_FIFO_PAYLOAD(m)) != m->payload_len ||
                (m->payload_len && NORTH_FIFO_PAYLOAD(m)[0] != 'a' + (int)(popped % 26)))
                bad++;
            north__fifo_pop(&f);
            popped++;
        }
        if (round % 1000 == 0) { /* walking it sees every message in order */
            uint64_t seq = popped;
            size_t k = 0;
            for (const north_fifo_msg_t *m = north__fifo_front(&f); m;
                 m = north__fifo_next(&f, m), k++)
                bad += m->ts_ms != (int64_t)seq++;
            bad += k != f.n;
        }
    }
    T_CHECK_EQ_INT(bad, 0);
    T_CHECK(pushed > 10000 && popped > 10000);
    T_CHECK_EQ_INT(t_allocs - before, 0);
    north__fifo_free(&f);
}

int main(void)
{
    T_RUN(numbers_fixed_cases);
    T_RUN(numbers_random_against_cjson);
    T_RUN(numbers_every_decimal_scale);
    T_RUN(strings_random_bytes_against_cjson);
    T_RUN(times_against_gw_format_iso8601);
    T_RUN(messages_against_the_cjson_encoder);
    T_RUN(messages_allocate_nothing_after_warm_up);
    T_RUN(fifo_order_wrap_growth_and_no_allocation);
    return t_done();
}
