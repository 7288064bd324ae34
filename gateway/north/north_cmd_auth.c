/*
 * north_cmd_auth.c: signed commands over MQTT (north_cmd.h): the
 * HMAC-SHA256 of a command's topic and text under its sender's key
 * (OpenSSL), checked in constant time, and the memory of the nonces seen
 * within the replay window, bounded so that a flood cannot grow it: when
 * every slot holds a nonce still inside the window, a new signed command
 * is refused rather than a remembered nonce forgotten (forgetting would let
 * a replay through). For brokers that cannot tie a topic to a user
 * (docs/security.md). Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/north/north_cmd.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- nonces ------------------------------------------------------------- */

typedef struct nonce__entry {
    int64_t ts_ms;
    char sender[64];
    char nonce[65];
} nonce__entry_t;

struct north_nonces {
    size_t n, max;
    nonce__entry_t e[];
};

north_nonces_t *north__nonces_new(size_t max)
{
    north_nonces_t *nn = calloc(1, sizeof(*nn) + max * sizeof(nn->e[0]));

    if (nn)
        nn->max = max;
    return nn;
}

void north__nonces_free(north_nonces_t *nn)
{
    free(nn);
}

int north__nonces_take(north_nonces_t *nn, const char *sender, const char *nonce, int64_t ts_ms,
                       int64_t now_ms, int64_t window_ms)
{
    size_t keep = 0;

    /* forget what the window no longer admits (it would be refused as stale) */
    for (size_t i = 0; i < nn->n; i++) {
        if (nn->e[i].ts_ms >= now_ms - window_ms)
            nn->e[keep++] = nn->e[i];
    }
    nn->n = keep;
    for (size_t i = 0; i < nn->n; i++) {
        if (strcmp(nn->e[i].nonce, nonce) == 0 && strcmp(nn->e[i].sender, sender) == 0)
            return 1;
    }
    if (nn->n == nn->max)
        return -1;
    nn->e[nn->n].ts_ms = ts_ms;
    snprintf(nn->e[nn->n].sender, sizeof(nn->e[0].sender), "%s", sender);
    snprintf(nn->e[nn->n].nonce, sizeof(nn->e[0].nonce), "%s", nonce);
    nn->n++;
    return 0;
}

/* ---- the signature ------------------------------------------------------ */

void north__cmd_sign(const unsigned char *key, size_t keylen, const char *topic, const char *msg,
                     size_t msglen, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    size_t tlen = strlen(topic);
    unsigned char *data = malloc(tlen + 1 + msglen);

    out[0] = '\0';
    if (!data)
        return;
    memcpy(data, topic, tlen);
    data[tlen] = '\n';
    memcpy(data + tlen + 1, msg, msglen);
    if (HMAC(EVP_sha256(), key, (int)keylen, data, tlen + 1 + msglen, mac, &maclen) &&
        maclen == 32) {
        for (unsigned i = 0; i < 32; i++) {
            out[2 * i] = digits[mac[i] >> 4];
            out[2 * i + 1] = digits[mac[i] & 15];
        }
        out[64] = '\0';
    }
    free(data);
}

north_cmd_refusal_t north__cmd_check_hmac(const gw_mqtt_cfg_t *q, int si, const char *topic,
                                          const cJSON *root, const char **msg, char *why,
                                          size_t len)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "msg");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "hmac");
    char want[65];

    *msg = NULL;
    if (cJSON_GetArraySize(root) != 2 || !cJSON_IsString(m) || !cJSON_IsString(h)) {
        snprintf(why, len, "a signed command is {\"msg\": \"<request>\", \"hmac\": \"<hex>\"}");
        return NC_BAD_PAYLOAD;
    }
    if (si < 0 || q->senders[si].key_len == 0) {
        snprintf(why, len, "signed, but no key is configured for this sender");
        return NC_BAD_SIGNATURE;
    }
    north__cmd_sign(q->senders[si].key, q->senders[si].key_len, topic, m->valuestring,
                    strlen(m->valuestring), want);
    if (strlen(h->valuestring) != 64 || !want[0] || CRYPTO_memcmp(want, h->valuestring, 64) != 0) {
        snprintf(why, len, "\"hmac\": the signature does not match (key, topic or text differ)");
        return NC_BAD_SIGNATURE;
    }
    *msg = m->valuestring;
    return NC_OK;
}
