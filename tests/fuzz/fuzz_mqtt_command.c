/*
 * fuzz_mqtt_command.c: commands over MQTT, parsed and dispatched
 * (gateway/north/north_cmd_parse.c, north_cmd_auth.c, north_commands.c)
 * over a stub daemon: the real north session (not connected: answers go
 * nowhere), the real core (no bus running: setpoints stop at the write
 * path's checks) and no ledger thread. Each input is a sequence of
 * messages (pieces split by "\n~~\n"); a piece's first byte picks the
 * topic (a sender and verb, the old form, or raw bytes), retained or not,
 * an MQTT 5 "from", and whether the harness signs it with alice's key (so
 * that the signed paths past the HMAC are reached); then the clock moves
 * and the payload follows. The parser is also run alone with a small nonce
 * memory, and its contract checked.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/north/north_cmd.h"
#include "gateway/north/north_int.h"
#include "tests/fuzz/fuzz_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static gw_queue_t q;
static gw_core_t *core;
static north_session_t *sess;
static north_cmd_t *cmd;
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
        north__cmd_create(&cmd, sess, core, NULL) != 0)
        abort();
    return 0;
}

static const char *const senders[] = {"alice", "ops", "mallory", "a.b-c@d"};
static const char *const verbs[] = {"ack", "assign", "start", "resolve", "setpoint", "reboot"};

/* The message of a piece (malloc'd; NULL when empty). */
static mq_message_t *message(const uint8_t *p, size_t len)
{
    char topic[300];
    uint8_t how;
    size_t tlen, plen;
    mq_message_t *m;

    if (len < 2)
        return NULL;
    how = p[0];
    clock_off += (int64_t)(p[1] % 64) * 1000 - 16000; /* the clock wanders, also back */
    p += 2;
    len -= 2;
    if ((how & 7) == 7 && len > 0) { /* raw topic: up to the first NUL or 64 bytes */
        size_t k = 0;
        while (k < len && k < 64 && p[k])
            k++;
        snprintf(topic, sizeof(topic), "plantroom/demo-tower/commands/%.*s", (int)k, p);
        p += k;
        len -= k;
    } else if ((how & 7) == 6) {
        snprintf(topic, sizeof(topic), "plantroom/demo-tower/commands/%s", verbs[(how >> 3) % 6]);
    } else {
        snprintf(topic, sizeof(topic), "plantroom/demo-tower/commands/%s/%s",
                 senders[(how & 7) % 4], verbs[(how >> 3) % 6]);
    }
    tlen = strlen(topic);
    plen = len + 200; /* room for a signed envelope */
    m = calloc(1, sizeof(*m) + tlen + 1 + 2 * plen + 1);
    if (!m)
        return NULL;
    m->hdr.kind = MQ_EV_MESSAGE;
    m->topic = (char *)(m + 1);
    memcpy(m->topic, topic, tlen + 1);
    m->payload = m->topic + tlen + 1;
    memcpy(m->payload, p, len);
    m->len = len;
    m->retained = (how & 0x40) && !(how & 0x80);
    if (how & 0x20)
        snprintf(m->from, sizeof(m->from), "%s", senders[(how >> 4) % 4]);
    if (how & 0x80) { /* sign the payload as alice would */
        char mac[65], *env;
        cJSON *o = cJSON_CreateObject();
        char *text = malloc(len + 1);
        if (text) {
            memcpy(text, p, len);
            text[len] = '\0';
            north__cmd_sign((const unsigned char *)FUZZ_KEY, strlen(FUZZ_KEY), topic, text,
                            strlen(text), mac);
            cJSON_AddStringToObject(o, "msg", text);
            cJSON_AddStringToObject(o, "hmac", mac);
        }
        env = cJSON_PrintUnformatted(o);
        if (env && strlen(env) <= 2 * plen) {
            memcpy(m->payload, env, strlen(env) + 1);
            m->len = strlen(env);
        }
        free(env);
        free(text);
        cJSON_Delete(o);
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    const gw_mqtt_cfg_t *qc = &gw_core_config(core)->mqtt;
    north_nonces_t *nn = north__nonces_new(4);
    const uint8_t *piece;
    size_t len;

    while ((piece = fuzz_piece(&in, &len)) != NULL) {
        mq_message_t *m = message(piece, len);
        north_cmd_req_t r;
        north_cmd_refusal_t why;
        char err[256] = "";
        if (!m)
            continue;
        why = north__cmd_parse(qc, "plantroom/demo-tower/commands/", m, gw_wall_ms(), nn, &r, err,
                               sizeof(err));
        if (why >= NC__COUNT || (why != NC_OK && !err[0]) ||
            (why == NC_OK && (!r.bit || !r.sender[0] || !r.id[0])))
            abort();
        north__session_event(sess, &m->hdr);
        free(m);
    }
    north__nonces_free(nn);
    return 0;
}
