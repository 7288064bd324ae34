/*
 * bench_mqtt.c: publish throughput of plantroom's MQTT client (mq.h) against
 * a bare paho MQTTAsync loop, and a spool filler for the replay benchmark.
 * Driven by bench_mqtt.py (which starts mosquitto and plantroomd); see
 * docs/performance.md, "MQTT".
 *
 *   bench_mqtt publish URI N QOS raw|mq   print messages/s
 *   bench_mqtt fill SPOOL N TOPIC         put N telemetry messages in a spool
 *
 * A run is complete when every publish has completed: for QoS 1 the
 * broker's PUBACK, for QoS 0 the message written to the socket (paho's
 * onSuccess). Both variants use the same payload (a 3-point telemetry
 * message, ~330 bytes) and the same connect options.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/mqtt/mq.h"
#include "store/spool.h"

#include <MQTTAsync.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char payload[] =
    "{\"v\":1,\"site\":\"bench\",\"device\":\"lift-1\",\"ts\":\"2026-11-28T05:43:25.830Z\","
    "\"points\":{\"floor\":{\"value\":0,\"unit\":\"\",\"quality\":\"good\",\"ts\":\"2026-11-28T05:"
    "43:25.830Z\"},\"motor_temperature\":{\"value\":44.2,\"unit\":\"degC\",\"quality\":\"good\","
    "\"ts\":\"2026-11-28T05:43:25.830Z\"},\"vibration_machine\":{\"value\":1.18,\"unit\":\"mm/s\","
    "\"quality\":\"good\",\"ts\":\"2026-11-28T05:43:25.830Z\"}}}";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- bare paho ------------------------------------------------------------ */

static atomic_int raw_done, raw_connected;

static void raw_ok(void *ctx, MQTTAsync_successData *r)
{
    (void)ctx;
    (void)r;
    atomic_fetch_add(&raw_done, 1);
}

static void raw_conn(void *ctx, MQTTAsync_successData *r)
{
    (void)ctx;
    (void)r;
    atomic_store(&raw_connected, 1);
}

static double bench_raw(const char *uri, int n, int qos)
{
    MQTTAsync h;
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    double t0, t1;

    co.maxBufferedMessages = 65535;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    if (MQTTAsync_createWithOptions(&h, uri, "bench-raw", MQTTCLIENT_PERSISTENCE_NONE, NULL, &co) !=
        MQTTASYNC_SUCCESS)
        return -1;
    o.onSuccess = raw_conn;
    o.maxInflight = 65535;
    if (MQTTAsync_connect(h, &o) != MQTTASYNC_SUCCESS)
        return -1;
    while (!atomic_load(&raw_connected))
        usleep(1000);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        MQTTAsync_message m = MQTTAsync_message_initializer;
        m.payload = (void *)payload;
        m.payloadlen = (int)strlen(payload);
        m.qos = qos;
        ro.onSuccess = raw_ok;
        while (MQTTAsync_sendMessage(h, "bench/raw", &m, &ro) != MQTTASYNC_SUCCESS)
            usleep(100); /* paho's queue is full: wait */
    }
    while (atomic_load(&raw_done) < n)
        usleep(200);
    t1 = now_s();
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    MQTTAsync_disconnect(h, &d);
    usleep(100000);
    MQTTAsync_destroy(&h);
    return n / (t1 - t0);
}

/* ---- plantroom's client ------------------------------------------------- */

static double bench_mq(const char *uri, int n, int qos)
{
    gw_queue_t q;
    mq_client_t *c;
    mq_cfg_t cfg = {.uri = uri, .client_id = "bench-mq", .keepalive_s = 30, .version = 4};
    char err[256];
    int done = 0, connected = 0;
    double t0, t1;

    gw_queue_init(&q, NULL, NULL);
    if (mq_create(&c, &cfg, &q, err, sizeof(err)) != 0 || mq_connect(c, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    while (!connected) {
        gw_msg_t *l = gw_queue_wait_all(&q, 1000);
        for (gw_msg_t *m = l; m; m = m->next)
            connected |= m->kind == MQ_EV_CONNECTED;
        gw_msg_free_list(l);
    }
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        /* every publish tagged, as the daemon's replay does */
        while (mq_publish(c, "bench/mq", payload, strlen(payload), qos, 0, (uint64_t)i + 1, err,
                          sizeof(err)) != 0)
            usleep(100);
    }
    while (done < n) {
        gw_msg_t *l = gw_queue_wait_all(&q, 1000);
        for (gw_msg_t *m = l; m; m = m->next)
            done += m->kind == MQ_EV_DELIVERED;
        gw_msg_free_list(l);
    }
    t1 = now_s();
    mq_destroy(c);
    gw_queue_destroy(&q);
    return n / (t1 - t0);
}

static int fill(const char *path, int n, const char *topic)
{
    spool_t *s;
    spool_msg_t m[500];
    char err[256];

    if (spool_open(&s, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (int i = 0; i < 500; i++) {
        m[i].ts_ms = 1764308605830LL + i;
        m[i].topic = (char *)topic;
        m[i].payload = (char *)payload;
    }
    for (int done = 0; done < n; done += 500) {
        int k = n - done < 500 ? n - done : 500;
        if (spool_append(s, m, (size_t)k, -1, NULL, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            spool_close(s);
            return 1;
        }
    }
    spool_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "publish") == 0) {
        int n = atoi(argv[3]), qos = atoi(argv[4]);
        double r =
            strcmp(argv[5], "raw") == 0 ? bench_raw(argv[2], n, qos) : bench_mq(argv[2], n, qos);
        if (r < 0)
            return 1;
        printf("%.0f\n", r);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "fill") == 0)
        return fill(argv[2], atoi(argv[3]), argv[4]);
    fprintf(stderr, "usage: bench_mqtt publish URI N QOS raw|mq | fill SPOOL N TOPIC\n");
    return 2;
}
