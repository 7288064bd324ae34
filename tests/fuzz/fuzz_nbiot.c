/*
 * fuzz_nbiot.c: NB-IoT reports, parsed and applied (gateway/north/
 * north_nbiot_parse.c, north_nbiot.c): each input is a sequence of MQTT
 * messages on the NB-IoT topic (pieces split by "\n~~\n"), handed to the
 * real north side (session, store-and-forward buffer, NB-IoT part) over a
 * real core whose rules judge what lands on the points. The first byte of
 * a piece moves the pinned clock; the rest is the payload. Persistent
 * across inputs, as the daemon is: redelivery memory, late reports and
 * rules carry over.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/north/north_int.h"
#include "gateway/north/north_nbiot.h"
#include "tests/fuzz/fuzz_util.h"

#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static gw_queue_t q;
static gw_core_t *core;
static north_session_t *sess;
static north_buf_t *buf;
static north_nbiot_t *nb;
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
    uv_loop_init(&loop);
    gw_queue_init(&q, NULL, NULL);
    if (gw_core_create(&core, &loop, fuzz_config(), err, sizeof(err)) != 0 ||
        north__session_create(&sess, &loop, &q, core) != 0 ||
        north__buf_create(&buf, &loop, sess, core, &q, err, sizeof(err)) != 0 ||
        north__nbiot_create(&nb, &loop, sess, core, buf) != 0)
        abort();
    return 0;
}

/* One message on topic, as paho's callback would post it. */
static void deliver(const char *topic, const uint8_t *payload, size_t len)
{
    size_t tlen = strlen(topic);
    mq_message_t *m = calloc(1, sizeof(*m) + tlen + 1 + len + 1);

    if (!m)
        return;
    m->hdr.kind = MQ_EV_MESSAGE;
    m->topic = (char *)(m + 1);
    memcpy(m->topic, topic, tlen + 1);
    m->payload = m->topic + tlen + 1;
    memcpy(m->payload, payload, len);
    m->len = len;
    m->qos = 1;
    north__session_event(sess, &m->hdr);
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    const uint8_t *piece;
    size_t len;

    while ((piece = fuzz_piece(&in, &len)) != NULL) {
        if (len == 0)
            continue;
        clock_off += piece[0] * 997; /* time passes between reports */
        deliver(piece[0] & 1 ? "nb/ctwing/up" : "nb/onenet", piece + 1, len - 1);
        /* the parser alone too, with its contract checked */
        {
            north_nbiot_report_t r;
            char why[200] = "";
            if (north__nbiot_parse(gw_core_config(core), (const char *)piece + 1, len - 1, &r, why,
                                   sizeof(why)) != 0) {
                if (r.reject <= NB_REJECT_NONE || r.reject >= NB_REJECT__COUNT || !why[0] ||
                    r.nvals)
                    abort();
            } else if (r.nvals > sizeof(r.vals) / sizeof(r.vals[0]) || r.ts_ms <= 0) {
                abort();
            }
        }
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
