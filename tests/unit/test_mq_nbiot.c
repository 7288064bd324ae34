/*
 * test_mq_nbiot.c: NB-IoT report parsing (gateway/gw_nbiot.h): JSON
 * pointers per RFC 6901, CTWing and OneNET reports onto configured points,
 * redelivery keys, and robustness: every prefix and thousands of random
 * corruptions of valid reports are parsed without a crash (run under ASan
 * to make that mean something), each rejection with a reason.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config.h"
#include "gateway/north/north_nbiot.h"
#include "tests/unit/t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gw_config_t *cfg;

static const char ctwing[] =
    "{\"upPacketSN\":-1,\"upDataSN\":-1,\"topic\":\"v1/up/ad\",\"timestamp\":1716950400123,"
    "\"tenantId\":\"2000033827\",\"productId\":\"15045240\","
    "\"deviceId\":\"d01308047f864601a821e02dc328eab4\",\"protocol\":\"lwm2m\","
    "\"messageType\":\"dataReport\",\"IMEI\":\"862592051651472\","
    "\"payload\":{\"serviceId\":\"meterReading\",\"serviceData\":{"
    "\"cumulatedVolume_m3\":1234.567,\"leakSuspected\":false,\"backFlow\":false,"
    "\"valveState\":1,\"batteryVoltage\":3.55,\"RSRP\":-95,\"SNR\":8}}}";
static const char onenet[] =
    "{\"type\":1,\"dev_id\":5551234,\"ds_id\":\"3303_0_5700\",\"at\":1716950400999,\"value\":21.5}";

static int load(void)
{
    char path[] = "/tmp/test_mq_nbiot.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    gw_errlist_t el;
    int rc;

    fputs("{\"site\":{\"id\":\"t\"},\"state_dir\":\"/tmp\",\"nbiot\":{\"topics\":[\"nb/#\"],"
          "\"devices\":[{\"name\":\"w1\",\"format\":\"ctwing\","
          "\"id\":\"d01308047f864601a821e02dc328eab4\",\"points\":["
          "{\"name\":\"volume\",\"pointer\":\"/payload/serviceData/cumulatedVolume_m3\"},"
          "{\"name\":\"leak\",\"pointer\":\"/payload/serviceData/leakSuspected\"},"
          "{\"name\":\"absent\",\"pointer\":\"/payload/serviceData/nothing\"}]},"
          "{\"name\":\"t1\",\"format\":\"onenet\",\"id\":\"5551234\",\"points\":["
          "{\"name\":\"temp\",\"path\":\"3303_0_5700\"}]}]}}",
          f);
    fclose(f);
    gw_errlist_init(&el);
    rc = gw_config_load(path, NULL, &cfg, &el);
    for (size_t i = 0; i < el.n; i++)
        fprintf(stderr, "%s\n", el.msgs[i]);
    gw_errlist_free(&el);
    unlink(path);
    return rc;
}

T_TEST(json_pointer_rfc6901)
{
    cJSON *doc = cJSON_Parse("{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"m~n\":8,\"k\\\"l\":6,"
                             "\" \":7,\"x\":{\"y\":{\"z\":3}}}");
    int bad;

    T_CHECK(north__nbiot_pointer(doc, "", &bad) == doc);
    T_CHECK_STR(north__nbiot_pointer(doc, "/foo/0", &bad)->valuestring, "bar");
    T_CHECK_STR(north__nbiot_pointer(doc, "/foo/1", &bad)->valuestring, "baz");
    T_CHECK_EQ_INT(north__nbiot_pointer(doc, "/", &bad)->valueint, 0);
    T_CHECK_EQ_INT(north__nbiot_pointer(doc, "/a~1b", &bad)->valueint, 1);
    T_CHECK_EQ_INT(north__nbiot_pointer(doc, "/m~0n", &bad)->valueint, 8);
    T_CHECK_EQ_INT(north__nbiot_pointer(doc, "/k\"l", &bad)->valueint, 6);
    T_CHECK_EQ_INT(north__nbiot_pointer(doc, "/ ", &bad)->valueint, 7);
    T_CHECK_EQ_INT(north__nbiot_pointer(doc, "/x/y/z", &bad)->valueint, 3);
    T_CHECK(north__nbiot_pointer(doc, "/foo/2", &bad) == NULL && !bad);
    T_CHECK(north__nbiot_pointer(doc, "/foo/01", &bad) == NULL && !bad);
    T_CHECK(north__nbiot_pointer(doc, "/foo/-", &bad) == NULL && !bad);
    T_CHECK(north__nbiot_pointer(doc, "/x/y/z/w", &bad) == NULL && !bad);
    T_CHECK(north__nbiot_pointer(doc, "/m~2n", &bad) == NULL && bad);
    T_CHECK(north__nbiot_pointer(doc, "foo", &bad) == NULL && bad);
    cJSON_Delete(doc);
}

T_TEST(ctwing_and_onenet_reports)
{
    north_nbiot_report_t r, r2;
    char why[200] = "";

    T_CHECK_EQ_INT(north__nbiot_parse(cfg, ctwing, strlen(ctwing), &r, why, sizeof(why)), 0);
    T_CHECK_EQ_INT(r.dev, 0);
    T_CHECK_EQ_INT(r.ts_ms, 1716950400123LL);
    T_CHECK_EQ_INT(r.nvals, 2); /* "absent" is not in this report */
    T_CHECK_EQ_INT(r.vals[0].point, 0);
    T_CHECK_NEAR(r.vals[0].value, 1234.567, 1e-9);
    T_CHECK_EQ_INT(r.vals[1].point, 1);
    T_CHECK_NEAR(r.vals[1].value, 0, 0);
    T_CHECK_EQ_INT(north__nbiot_parse(cfg, ctwing, strlen(ctwing), &r2, why, sizeof(why)), 0);
    T_CHECK(r.key == r2.key); /* a redelivery has the same key */

    T_CHECK_EQ_INT(north__nbiot_parse(cfg, onenet, strlen(onenet), &r, why, sizeof(why)), 0);
    T_CHECK_EQ_INT(r.dev, 1);
    T_CHECK_EQ_INT(r.nvals, 1);
    T_CHECK_NEAR(r.vals[0].value, 21.5, 0);
    T_CHECK_EQ_INT(r.ts_ms, 1716950400999LL);
    T_CHECK(r.key != r2.key);
}

T_TEST(every_prefix_and_random_corruption_is_safe)
{
    const char *const docs[] = {ctwing, onenet};
    north_nbiot_report_t r;
    char why[200], buf[1024];
    unsigned seed = 12345;
    int rejected = 0, bad_reason = 0;

    for (size_t d = 0; d < 2; d++) {
        size_t n = strlen(docs[d]);
        for (size_t k = 0; k < n; k++) { /* every truncation, not NUL-terminated */
            char *p = malloc(k ? k : 1);
            memcpy(p, docs[d], k);
            why[0] = '\0';
            if (north__nbiot_parse(cfg, p, k, &r, why, sizeof(why)) != 0) {
                rejected++;
                bad_reason += why[0] == '\0';
            }
            free(p);
        }
        for (int i = 0; i < 20000; i++) {
            memcpy(buf, docs[d], n);
            for (int f = 0; f < 1 + i % 4; f++) {
                seed = seed * 1103515245u + 12345u;
                buf[(seed >> 8) % n] = (char)(seed >> 20);
            }
            why[0] = '\0';
            if (north__nbiot_parse(cfg, buf, n, &r, why, sizeof(why)) != 0) {
                rejected++;
                bad_reason += why[0] == '\0';
            }
        }
    }
    T_CHECK(rejected > 1000);
    T_CHECK_EQ_INT(bad_reason, 0);
}

/* Each payload is refused with the reason the metrics count it under. */
static void refused_as(const char *payload, size_t len, north_nbiot_reject_t want)
{
    north_nbiot_report_t r;
    char why[200] = "";

    T_CHECK_EQ_INT(north__nbiot_parse(cfg, payload, len, &r, why, sizeof(why)), -1);
    if (r.reject != want)
        fprintf(stderr, "  %.80s: %s (%s), want %s\n", payload, north__nbiot_reject_name(r.reject),
                why, north__nbiot_reject_name(want));
    T_CHECK_EQ_INT(r.reject, want);
    T_CHECK(why[0] != '\0');
    T_CHECK_EQ_INT(r.nvals, 0);
}

#define REFUSED(text, want) refused_as(text, sizeof(text) - 1, want)

T_TEST(untrusted_payloads_refused_with_a_reason)
{
    char deep[4096];
    size_t n = 0;

    /* one JSON value, then garbage: cJSON alone would stop after the value */
    REFUSED("{\"type\":1,\"dev_id\":5551234,\"ds_id\":\"3303_0_5700\",\"at\":1716950400999,"
            "\"value\":21.5} trailing",
            NB_REJECT_TRAILING);
    REFUSED("{\"type\":1,\"dev_id\":5551234,\"ds_id\":\"3303_0_5700\",\"at\":1,\"value\":1}{}",
            NB_REJECT_TRAILING);
    REFUSED("{\"type\":2,\"dev_id\":1,\"at\":5,\"status\":1}\0junk", NB_REJECT_TRAILING);
    /* fractional integers */
    REFUSED("{\"messageType\":\"deviceOnlineOfflineReport\",\"deviceId\":\"x\",\"timestamp\":1,"
            "\"eventType\":0.5}",
            NB_REJECT_NOT_INTEGER);
    REFUSED("{\"messageType\":\"eventReport\",\"deviceId\":\"x\",\"timestamp\":1,"
            "\"eventType\":2.5}",
            NB_REJECT_NOT_INTEGER);
    REFUSED("{\"type\":2,\"dev_id\":1,\"at\":5,\"status\":0.5}", NB_REJECT_NOT_INTEGER);
    REFUSED("{\"type\":1.5,\"dev_id\":1,\"at\":5}", NB_REJECT_NOT_INTEGER);
    REFUSED("{\"messageType\":\"dataReport\",\"deviceId\":\"x\",\"timestamp\":1.25,"
            "\"payload\":{}}",
            NB_REJECT_NOT_INTEGER);
    REFUSED("{\"messageType\":\"dataReport\",\"deviceId\":\"x\",\"timestamp\":1,"
            "\"upPacketSN\":7.5,\"payload\":{}}",
            NB_REJECT_NOT_INTEGER);
    /* huge numbers: checked before any cast */
    REFUSED("{\"messageType\":\"dataReport\",\"deviceId\":\"x\",\"timestamp\":1,"
            "\"upPacketSN\":1e300,\"payload\":{}}",
            NB_REJECT_RANGE);
    REFUSED("{\"messageType\":\"dataReport\",\"deviceId\":\"x\",\"timestamp\":1e300,"
            "\"payload\":{}}",
            NB_REJECT_RANGE);
    REFUSED("{\"type\":1,\"dev_id\":1e300,\"ds_id\":\"a\",\"at\":5,\"value\":1}", NB_REJECT_RANGE);
    REFUSED("{\"type\":1,\"dev_id\":5551234,\"ds_id\":\"3303_0_5700\",\"at\":5,"
            "\"value\":1e300}",
            NB_REJECT_RANGE);
    REFUSED("{\"type\":1,\"dev_id\":5551234,\"ds_id\":\"3303_0_5700\",\"at\":5,"
            "\"value\":-1e999}",
            NB_REJECT_RANGE);
    REFUSED("{\"messageType\":\"deviceOnlineOfflineReport\",\"deviceId\":\"x\",\"timestamp\":1,"
            "\"eventType\":4294967297}",
            NB_REJECT_RANGE);
    REFUSED("{\"upPacketSN\":1,\"timestamp\":1716950400123,\"messageType\":\"dataReport\","
            "\"deviceId\":\"d01308047f864601a821e02dc328eab4\",\"payload\":{\"serviceData\":"
            "{\"cumulatedVolume_m3\":9e99}}}",
            NB_REJECT_RANGE);
    /* deep nesting: refused before cJSON recurses */
    n += (size_t)snprintf(deep, sizeof(deep), "{\"type\":1,\"x\":");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    for (int i = 0; i < 1000; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    refused_as(deep, n, NB_REJECT_TOO_DEEP);
    /* the rest */
    REFUSED("[1,2]", NB_REJECT_NOT_OBJECT);
    REFUSED("{\"msg\":3}", NB_REJECT_NOT_OBJECT);
    REFUSED("  ", NB_REJECT_NOT_JSON);
    REFUSED("{\"type\":", NB_REJECT_NOT_JSON);
    REFUSED("{\"type\":3,\"dev_id\":1,\"at\":5}", NB_REJECT_UNKNOWN);
    REFUSED("{\"messageType\":\"x\",\"deviceId\":\"x\",\"timestamp\":1}", NB_REJECT_UNKNOWN);
    REFUSED("{\"messageType\":\"dataReport\",\"deviceId\":7,\"timestamp\":1}", NB_REJECT_FIELD);
    {
        char *big = malloc(NB_MAX_PAYLOAD + 10);
        memset(big, ' ', NB_MAX_PAYLOAD + 10);
        big[0] = '{';
        big[NB_MAX_PAYLOAD + 9] = '}';
        refused_as(big, NB_MAX_PAYLOAD + 10, NB_REJECT_TOO_LARGE);
        free(big);
    }
    /* valid reports with trailing white space still pass */
    {
        north_nbiot_report_t r;
        char why[200];
        char text[sizeof(onenet) + 4];
        snprintf(text, sizeof(text), "%s \r\n", onenet);
        T_CHECK_EQ_INT(north__nbiot_parse(cfg, text, strlen(text), &r, why, sizeof(why)), 0);
    }
}

int main(void)
{
    if (load() != 0)
        return 2;
    T_RUN(json_pointer_rfc6901);
    T_RUN(ctwing_and_onenet_reports);
    T_RUN(every_prefix_and_random_corruption_is_safe);
    T_RUN(untrusted_payloads_refused_with_a_reason);
    gw_config_free(cfg);
    return t_done();
}
