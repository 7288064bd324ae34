/*
 * t.h: the unit-test harness. Each test file is one executable registered
 * with ctest (tests/CMakeLists.txt); each T_TEST runs in order and a failed
 * check prints file:line and the expression, then the program exits 1 at the
 * end. Usage:
 *
 *   T_TEST(name) { T_CHECK(x == 1); T_CHECK_EQ_INT(a, b); }
 *   int main(void) { T_RUN(name); return t_done(); }
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_T_H
#define PLANTROOM_T_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int t_failures;
static int t_checks;
static int t_tests;

#define T_TEST(name) static void name(void)
#define T_RUN(name)                                                                                \
    do {                                                                                           \
        int before_ = t_failures;                                                                  \
        t_tests++;                                                                                 \
        name();                                                                                    \
        fprintf(stderr, "%s %s\n", t_failures == before_ ? "ok  " : "FAIL", #name);                \
    } while (0)

#define T_CHECK(expr)                                                                              \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!(expr)) {                                                                             \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);               \
        }                                                                                          \
    } while (0)

#define T_CHECK_EQ_INT(a, b)                                                                       \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        t_checks++;                                                                                \
        if (a_ != b_) {                                                                            \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    a_, b_);                                                                       \
        }                                                                                          \
    } while (0)

#define T_CHECK_NEAR(a, b, eps)                                                                    \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        t_checks++;                                                                                \
        if (!(fabs(a_ - b_) <= (eps))) {                                                           \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: %s ~= %s failed: %.9g != %.9g\n", __FILE__, __LINE__, #a, #b,  \
                    a_, b_);                                                                       \
        }                                                                                          \
    } while (0)

#define T_CHECK_STR(a, b)                                                                          \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        t_checks++;                                                                                \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                   \
        }                                                                                          \
    } while (0)

static inline int t_done(void)
{
    fprintf(stderr, "%d tests, %d checks, %d failed\n", t_tests, t_checks, t_failures);
    return t_failures ? 1 : 0;
}

#endif
