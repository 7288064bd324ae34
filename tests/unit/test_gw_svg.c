/*
 * test_gw_svg.c: the growing string and the SVG writer (gateway/base/
 * gw_sbuf.h, gw_svg.h): escaping for XML, growth past any size, nice
 * ticks, number labels, the bar chart's segments and its target line at the
 * right place, columns with a day without data, and a path that breaks at
 * a missing point.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_sbuf.h"
#include "gateway/base/gw_svg.h"
#include "t.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int count(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

T_TEST(test_sbuf)
{
    gw_sbuf_t b = {0};
    char *s;

    s = gw_sbuf_take(&b);
    T_CHECK_STR(s, ""); /* nothing appended: an empty string, not NULL */
    free(s);
    gw_sbuf_escape(&b, "a<b>&\"c'\x01\td\n");
    s = gw_sbuf_take(&b);
    T_CHECK_STR(s, "a&lt;b&gt;&amp;&quot;c&#39;\td\n");
    free(s);
    for (int i = 0; i < 10000; i++)
        gw_sbuf_printf(&b, "%04d,", i);
    T_CHECK_EQ_INT((long long)b.len, 50000);
    T_CHECK(strncmp(b.s + 49995, "9999,", 5) == 0);
    gw_sbuf_free(&b);
    b.oom = 1; /* an append that failed: the text is not handed out */
    gw_sbuf_puts(&b, "x");
    T_CHECK(gw_sbuf_take(&b) == NULL);
}

T_TEST(test_ticks_and_numbers)
{
    double lo = 0, hi = 11, t[16];
    char buf[32];
    int n = gw_svg_ticks(&lo, &hi, 4, t, 16);

    T_CHECK_EQ_INT(n, 4); /* 0 5 10 15: steps of 5, the end widened to a tick */
    T_CHECK_NEAR(t[1], 5, 1e-12);
    T_CHECK_NEAR(hi, 15, 1e-12);
    lo = 1.2;
    hi = 4.9;
    n = gw_svg_ticks(&lo, &hi, 4, t, 16);
    T_CHECK_NEAR(lo, 1, 1e-12);
    T_CHECK_NEAR(hi, 5, 1e-12);
    T_CHECK_EQ_INT(n, 5);
    lo = hi = 3; /* a flat series still gets an axis */
    n = gw_svg_ticks(&lo, &hi, 4, t, 16);
    T_CHECK(n >= 2 && hi > lo);
    gw_svg_num(20042.9, buf, sizeof(buf));
    T_CHECK_STR(buf, "20,043");
    gw_svg_num(-1234567, buf, sizeof(buf));
    T_CHECK_STR(buf, "-1,234,567");
    gw_svg_num(12.34, buf, sizeof(buf));
    T_CHECK_STR(buf, "12.3");
    gw_svg_num(0.05, buf, sizeof(buf));
    T_CHECK_STR(buf, "0.05");
    gw_svg_num(NAN, buf, sizeof(buf));
    T_CHECK_STR(buf, "-");
}

/* The x of attribute name in the element starting at the first needle. */
static double attr_after(const char *s, const char *needle, const char *name)
{
    const char *p = strstr(s, needle);
    char key[32];

    if (!p)
        return NAN;
    while (p > s && *p != '<')
        p--;
    snprintf(key, sizeof(key), " %s=\"", name);
    p = strstr(p, key);
    return p ? atof(p + strlen(key)) : NAN;
}

T_TEST(test_hbars_target)
{
    static const gw_svg_series_t series[] = {{"on time", "#2e7d32"}};
    gw_svg_bar_t bars[2] = {{.label = "fire & <smoke>", .v = {1.0}},
                            {.label = "lifts", .v = {0.5}, .flagged = 1}};
    gw_svg_hbars_t c = {.title = "On time",
                        .series = series,
                        .nseries = 1,
                        .bars = bars,
                        .nbars = 2,
                        .percent = 1,
                        .target = 0.98,
                        .target_label = "target 98 %"};
    gw_sbuf_t b = {0};
    double x0, full, tx;
    char *s;

    gw_svg_hbars(&b, &c);
    s = gw_sbuf_take(&b);
    T_CHECK(s != NULL);
    if (!s)
        return;
    T_CHECK_EQ_INT(count(s, "class=\"bar\""), 2);
    T_CHECK_EQ_INT(count(s, "class=\"flag\""), 1);
    T_CHECK(strstr(s, "data-label=\"fire &amp; &lt;smoke&gt;\"") != NULL);
    T_CHECK(strstr(s, "<title>On time</title>") != NULL);
    /* the target line sits at 98 % of the bar that is 100 % */
    x0 = attr_after(s, "data-value=\"1\"", "x");
    full = attr_after(s, "data-value=\"1\"", "width");
    tx = attr_after(s, "class=\"target\"", "x1");
    T_CHECK_NEAR(tx, x0 + 0.98 * full, 0.11);
    T_CHECK_NEAR(attr_after(s, "data-value=\"0.5\"", "width"), 0.5 * full, 0.11);
    free(s);
}

T_TEST(test_columns_and_path)
{
    double v[3] = {10, NAN, 30}, xy[8] = {0, 0, 1, 1, NAN, 2, 3, 3};
    const char *keys[3] = {"d1", "d2", "d3"}, *labels[3] = {"1", "2", "3"};
    gw_svg_columns_t c = {.title = "kWh", .v = v, .keys = keys, .labels = labels, .n = 3};
    gw_sbuf_t b = {0};
    char *s;

    gw_svg_columns(&b, &c);
    gw_svg_path(&b, xy, 4, 0, &(gw_svg_style_t){.stroke = "#000"});
    s = gw_sbuf_take(&b);
    T_CHECK(s != NULL);
    if (!s)
        return;
    T_CHECK_EQ_INT(count(s, "class=\"bar\""), 2);
    T_CHECK(strstr(s, "class=\"nodata\" data-label=\"d2\"") != NULL);
    T_CHECK(strstr(s, "d=\"M0.0 0.0 L1.0 1.0 M3.0 3.0\"") != NULL);
    T_CHECK_EQ_INT(count(s, "<svg "), count(s, "</svg>"));
    free(s);
}

int main(void)
{
    T_RUN(test_sbuf);
    T_RUN(test_ticks_and_numbers);
    T_RUN(test_hbars_target);
    T_RUN(test_columns_and_path);
    return t_done();
}
