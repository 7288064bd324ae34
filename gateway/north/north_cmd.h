/*
 * north_cmd.h: reading a command over MQTT (north_cmd_parse.c) and its
 * signature (north_cmd_auth.c), visible so that unit tests and
 * tests/fuzz/fuzz_mqtt_command.c can drive them without a broker. What is
 * done with a command (north_commands.c) is in north_int.h; the protocol
 * is docs/mqtt.md, "Commands", and the trust model docs/security.md.
 *
 * A command arrives on <prefix>/<site>/commands/<sender>/<verb>. The
 * sender is the broker user: the broker's ACL (pattern write
 * <prefix>/+/commands/%u/#, deploy/mosquitto/) lets each user publish only
 * under its own name, so the topic, not the payload, says who sent it. A
 * sender given an HMAC key (mqtt.commands.senders[].hmac_key_file) must
 * also sign: the payload is {"msg": "<the request as JSON text>",
 * "hmac": "<hex HMAC-SHA256(key, topic + "\n" + msg)>"}, and the request
 * carries "ts" (ms since 1970, within mqtt.commands.replay_window_s of
 * now) and a "nonce" not seen within that window.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_NORTH_CMD_H
#define PLANTROOM_NORTH_CMD_H

#include "gateway/config/gw_config.h"
#include "protocols/mqtt/mq.h"

#include <stddef.h>
#include <stdint.h>

#define NORTH_CMD_MAX_PAYLOAD (16 * 1024)
#define NORTH_CMD_MAX_DEPTH   8
#define NORTH_CMD_NONCES_MAX  4096 /* signed commands remembered within the window */

/* Why a command was refused; counted in metrics (plantroom_mqtt_commands_refused_total). */
typedef enum north_cmd_refusal {
    NC_OK = 0,
    NC_BAD_TOPIC,     /* not commands/<sender>/<verb> (the old commands/<verb> included) */
    NC_UNKNOWN_VERB,  /* a verb the gateway does not know */
    NC_RETAINED,      /* a retained command (it would run on every connect) */
    NC_BAD_PAYLOAD,   /* not one JSON object, too long, too deep, trailing bytes */
    NC_BAD_FIELD,     /* a field missing, of the wrong type or out of range */
    NC_NOT_ALLOWED,   /* the sender is not listed, or may not send this verb */
    NC_UNSIGNED,      /* the sender has a key, the command is not signed */
    NC_BAD_SIGNATURE, /* the HMAC does not match (or no key to check it with) */
    NC_STALE,         /* "ts" outside the replay window */
    NC_REPLAYED,      /* a nonce seen within the window */
    NC_NONCES_FULL,   /* too many signed commands within the window */
    NC_REFUSED,       /* refused by the ledger or the write path (after parsing) */
    NC__COUNT
} north_cmd_refusal_t;

/* "bad_topic", "unknown_verb", ...: the name of a reason in metrics. */
const char *north__cmd_refusal_name(north_cmd_refusal_t r);

/* A command as read: who sent it and what it asks. */
typedef struct north_cmd_req {
    char sender[64]; /* from the topic; "" when the topic named none */
    char verb[16];   /* from the topic; "" when it named none */
    unsigned bit;    /* GW_CMD_* of the verb */
    char id[65];     /* correlation id, "" when absent or unreadable */
    int is_signed;   /* the sender signed it (and it verified) */
    char nonce[65];  /* signed: its nonce */
    int64_t ts_ms;   /* signed: its time */
    char work_order[80];
    char assignee[64];
    char comment[256];
    char device[GW_NAME_MAX];
    char point[DRV_NAME_MAX];
    double value;
} north_cmd_req_t;

/* The signed commands seen within the replay window (bounded). */
typedef struct north_nonces north_nonces_t;
north_nonces_t *north__nonces_new(size_t max);
void north__nonces_free(north_nonces_t *nn);
/* Remember sender's nonce of time ts_ms: 0 fresh (now remembered), 1 seen
 * within the window (a replay), -1 no room (every slot is within it).
 * Entries older than now - window are forgotten first. */
int north__nonces_take(north_nonces_t *nn, const char *sender, const char *nonce, int64_t ts_ms,
                       int64_t now_ms, int64_t window_ms);

/* The HMAC-SHA256 of topic "\n" msg under key, as 64 hex digits and a NUL. */
void north__cmd_sign(const unsigned char *key, size_t keylen, const char *topic, const char *msg,
                     size_t msglen, char out[65]);
/* Check a signed envelope {"msg": TEXT, "hmac": HEX} (root) for sender
 * index si of q on topic: the HMAC in constant time. Returns 0 with *msg
 * pointing at the request text inside root, or NC_BAD_PAYLOAD /
 * NC_BAD_SIGNATURE with why. */
north_cmd_refusal_t north__cmd_check_hmac(const gw_mqtt_cfg_t *q, int si, const char *topic,
                                          const struct cJSON *root, const char **msg, char *why,
                                          size_t len);

/* Read and authorize a command message m: its topic under base
 * ("<prefix>/<site>/commands/"), its payload (one JSON object, at most
 * NORTH_CMD_MAX_PAYLOAD bytes and NORTH_CMD_MAX_DEPTH deep), the sender's
 * rights (q->senders), and for a sender with a key, the signature, its
 * time (now_ms, q->replay_window_ms) and nonce (nn). Returns NC_OK with *r
 * filled, or a refusal with the reason in why and as much of *r as could
 * be read (sender, verb, id: for the answer and the audit). */
north_cmd_refusal_t north__cmd_parse(const gw_mqtt_cfg_t *q, const char *base,
                                     const mq_message_t *m, int64_t now_ms, north_nonces_t *nn,
                                     north_cmd_req_t *r, char *why, size_t len);

#endif
