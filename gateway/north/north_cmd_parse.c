/*
 * north_cmd_parse.c: reading and authorizing a command over MQTT
 * (north_cmd.h; docs/mqtt.md, "Commands"). Pure but for the nonce memory:
 * no I/O; north_commands.c acts on what it returns, the unit tests and
 * tests/fuzz/fuzz_mqtt_command.c drive it directly.
 *
 * In order: the topic names the sender and the verb; a retained command
 * is refused; the payload must be one JSON object within the size and
 * depth limits; the sender must be listed and allowed the verb; a sender
 * with a key must have signed (north_cmd_auth.c), with a time inside the
 * replay window and a fresh nonce; then the fields, each checked (type,
 * length, range) before use. A "from" in the payload or an MQTT 5 user
 * property "from" proves nothing: it must name the topic's sender or the
 * command is refused.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/north/north_cmd.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const nc__names[NC__COUNT] = {
    [NC_OK] = "ok",
    [NC_BAD_TOPIC] = "bad_topic",
    [NC_UNKNOWN_VERB] = "unknown_verb",
    [NC_RETAINED] = "retained",
    [NC_BAD_PAYLOAD] = "bad_payload",
    [NC_BAD_FIELD] = "bad_field",
    [NC_NOT_ALLOWED] = "not_allowed",
    [NC_UNSIGNED] = "unsigned",
    [NC_BAD_SIGNATURE] = "bad_signature",
    [NC_STALE] = "stale",
    [NC_REPLAYED] = "replayed",
    [NC_NONCES_FULL] = "nonces_full",
    [NC_REFUSED] = "refused",
};

const char *north__cmd_refusal_name(north_cmd_refusal_t r)
{
    return (unsigned)r < NC__COUNT ? nc__names[r] : "?";
}

/* A topic level that can be a sender: letters, digits and . _ - @. */
static int nc__name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c && strchr("._-@", c))))
            return 0;
    }
    return 1;
}

/* commands/<sender>/<verb>: sender and verb into r. */
static north_cmd_refusal_t nc__topic(const char *base, const char *topic, north_cmd_req_t *r,
                                     char *why, size_t len)
{
    const char *rest = topic + strlen(base), *slash = strchr(rest, '/');

    if (!slash) {
        /* the old form, commands/<verb>: answered on responses/<verb> */
        if (nc__name_ok(rest, strlen(rest)) && strlen(rest) < sizeof(r->verb))
            snprintf(r->verb, sizeof(r->verb), "%s", rest);
        snprintf(why, len,
                 "commands go to %s<sender>/<verb>, the sender being the broker user "
                 "(the \"from\" field no longer names it)",
                 base);
        return NC_BAD_TOPIC;
    }
    if (!nc__name_ok(rest, (size_t)(slash - rest)) || strchr(slash + 1, '/') ||
        !nc__name_ok(slash + 1, strlen(slash + 1)) || strlen(slash + 1) >= sizeof(r->verb)) {
        snprintf(why, len, "a command topic is %s<sender>/<verb> with plain names", base);
        return NC_BAD_TOPIC;
    }
    snprintf(r->sender, sizeof(r->sender), "%.*s", (int)(slash - rest), rest);
    snprintf(r->verb, sizeof(r->verb), "%s", slash + 1);
    r->bit = gw__cmd_verb_bit(r->verb);
    if (!r->bit) {
        snprintf(why, len, "unknown command: use ack, assign, start, resolve or setpoint");
        return NC_UNKNOWN_VERB;
    }
    return NC_OK;
}

/* A string field into dst (a work order may also be a whole number). */
static north_cmd_refusal_t nc__str(const cJSON *o, const char *key, char *dst, size_t dlen,
                                   int required, char *why, size_t len)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    long long n;

    dst[0] = '\0';
    if (!it && !required)
        return NC_OK;
    if (cJSON_IsNumber(it) && strcmp(key, "work_order") == 0) {
        if (gw_json_whole(it, 1, 9007199254740991LL, &n) != 0) {
            snprintf(why, len, "\"work_order\": a number must be whole, 1 or more");
            return NC_BAD_FIELD;
        }
        snprintf(dst, dlen, "%lld", n); /* a short number */
        return NC_OK;
    }
    if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= dlen) {
        snprintf(why, len, "\"%s\": %s a non-empty string of at most %zu characters", key,
                 it ? "must be" : "is required:", dlen - 1);
        return NC_BAD_FIELD;
    }
    snprintf(dst, dlen, "%s", it->valuestring);
    return NC_OK;
}

/* The verb's own fields. */
static north_cmd_refusal_t nc__fields(const cJSON *o, north_cmd_req_t *r, char *why, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    north_cmd_refusal_t rc = nc__str(o, "comment", r->comment, sizeof(r->comment), 0, why, len);

    if (rc != NC_OK)
        return rc;
    if (r->bit == GW_CMD_SETPOINT) {
        if ((rc = nc__str(o, "device", r->device, sizeof(r->device), 1, why, len)) != NC_OK ||
            (rc = nc__str(o, "point", r->point, sizeof(r->point), 1, why, len)) != NC_OK)
            return rc;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
            snprintf(why, len, "\"value\": must be a finite number");
            return NC_BAD_FIELD;
        }
        r->value = v->valuedouble;
        return NC_OK;
    }
    rc = nc__str(o, "work_order", r->work_order, sizeof(r->work_order), 1, why, len);
    if (rc == NC_OK && r->bit == GW_CMD_ASSIGN)
        rc = nc__str(o, "assignee", r->assignee, sizeof(r->assignee), 1, why, len);
    return rc;
}

/* A signed request's time and nonce: inside the window, not seen before. */
static north_cmd_refusal_t nc__fresh(const gw_mqtt_cfg_t *q, const cJSON *o, int64_t now_ms,
                                     north_nonces_t *nn, north_cmd_req_t *r, char *why, size_t len)
{
    const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(o, "nonce");
    long long ts;
    int seen;

    if (gw_json_whole(cJSON_GetObjectItemCaseSensitive(o, "ts"), 1, 9000000000000000LL, &ts) != 0) {
        snprintf(why, len, "\"ts\": a signed command needs its time in ms since 1970");
        return NC_BAD_FIELD;
    }
    if (!cJSON_IsString(nonce) || strlen(nonce->valuestring) < 8 ||
        strlen(nonce->valuestring) >= sizeof(r->nonce) ||
        !nc__name_ok(nonce->valuestring, strlen(nonce->valuestring))) {
        snprintf(why, len, "\"nonce\": a signed command needs 8..64 letters, digits or . _ - @");
        return NC_BAD_FIELD;
    }
    r->ts_ms = ts;
    snprintf(r->nonce, sizeof(r->nonce), "%s", nonce->valuestring);
    if (ts < now_ms - q->replay_window_ms || ts > now_ms + q->replay_window_ms) {
        snprintf(why, len, "\"ts\": %lld ms off the gateway's clock, outside the replay window",
                 (long long)(ts - now_ms));
        return NC_STALE;
    }
    seen = nn ? north__nonces_take(nn, r->sender, r->nonce, ts, now_ms, q->replay_window_ms) : -1;
    if (seen == 1)
        snprintf(why, len, "\"nonce\": seen within the replay window: a replay");
    else if (seen < 0)
        snprintf(why, len, "too many signed commands within the replay window");
    return seen == 1 ? NC_REPLAYED : seen < 0 ? NC_NONCES_FULL : NC_OK;
}

static int nc__sender(const gw_mqtt_cfg_t *q, const char *name)
{
    for (size_t i = 0; i < q->nsenders; i++) {
        if (strcmp(q->senders[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* The request object: the payload, or the signed text inside it. *inner
 * is set when the request was parsed from a signed envelope (caller
 * frees). */
static north_cmd_refusal_t nc__request(const gw_mqtt_cfg_t *q, int si, const char *topic,
                                       const cJSON *root, cJSON **inner, north_cmd_req_t *r,
                                       char *why, size_t len)
{
    const char *text = NULL;
    gw_json_refusal_t jr;
    north_cmd_refusal_t rc;

    *inner = NULL;
    if (!cJSON_GetObjectItemCaseSensitive(root, "hmac")) {
        if (si >= 0 && q->senders[si].key_len) {
            snprintf(why, len, "sender \"%s\" must sign its commands (\"msg\" and \"hmac\")",
                     r->sender);
            return NC_UNSIGNED;
        }
        return NC_OK;
    }
    rc = north__cmd_check_hmac(q, si, topic, root, &text, why, len);
    if (rc != NC_OK)
        return rc;
    *inner = gw_json_parse_strict(text, strlen(text), NORTH_CMD_MAX_PAYLOAD, NORTH_CMD_MAX_DEPTH,
                                  &jr, why, len);
    if (!cJSON_IsObject(*inner)) {
        if (*inner)
            snprintf(why, len, "\"msg\": must hold a JSON object");
        return NC_BAD_PAYLOAD;
    }
    r->is_signed = 1;
    return NC_OK;
}

/* The id of a signed request, read before its signature is checked, only
 * to address the answer (nothing else of it is used unless it verifies). */
static void nc__peek_id(const cJSON *root, north_cmd_req_t *r)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "msg");
    gw_json_refusal_t jr;
    char why[64];
    cJSON *inner;

    if (!cJSON_IsString(m))
        return;
    inner = gw_json_parse_strict(m->valuestring, strlen(m->valuestring), NORTH_CMD_MAX_PAYLOAD,
                                 NORTH_CMD_MAX_DEPTH, &jr, NULL, 0);
    nc__str(inner, "id", r->id, sizeof(r->id), 0, why, sizeof(why));
    cJSON_Delete(inner);
}

/* After the topic: payload, rights, signature, fields. */
static north_cmd_refusal_t nc__body(const gw_mqtt_cfg_t *q, const mq_message_t *m, int64_t now_ms,
                                    north_nonces_t *nn, north_cmd_req_t *r, char *why, size_t len)
{
    int si = nc__sender(q, r->sender);
    cJSON *root, *inner = NULL;
    const cJSON *o, *from;
    gw_json_refusal_t jr;
    north_cmd_refusal_t rc;

    root = gw_json_parse_strict(m->payload, m->len, NORTH_CMD_MAX_PAYLOAD, NORTH_CMD_MAX_DEPTH, &jr,
                                why, len);
    if (!cJSON_IsObject(root)) {
        if (root)
            snprintf(why, len, "the payload must be a JSON object");
        cJSON_Delete(root);
        return NC_BAD_PAYLOAD;
    }
    nc__str(root, "id", r->id, sizeof(r->id), 0, why, len); /* for the answer, if any */
    if (!r->id[0])
        nc__peek_id(root, r);
    if (si < 0 || !(q->senders[si].verbs & r->bit)) {
        snprintf(why, len, "not authorized: sender \"%s\" may not %s", r->sender, r->verb);
        rc = NC_NOT_ALLOWED;
        goto out;
    }
    rc = nc__request(q, si, m->topic, root, &inner, r, why, len);
    o = inner ? inner : root;
    if (rc == NC_OK && inner)
        nc__str(o, "id", r->id, sizeof(r->id), 0, why, len);
    if (rc == NC_OK && inner)
        rc = nc__fresh(q, o, now_ms, nn, r, why, len);
    if (rc == NC_OK)
        rc = nc__str(o, "id", r->id, sizeof(r->id), 1, why, len);
    from = cJSON_GetObjectItemCaseSensitive(o, "from");
    if (rc == NC_OK && ((from && (!cJSON_IsString(from) || strcmp(from->valuestring, r->sender))) ||
                        (m->from[0] && strcmp(m->from, r->sender) != 0))) {
        snprintf(why, len,
                 "\"from\" is not the sender \"%s\": the sender is the broker user "
                 "in the topic",
                 r->sender);
        rc = NC_NOT_ALLOWED;
    }
    if (rc == NC_OK)
        rc = nc__fields(o, r, why, len);
out:
    cJSON_Delete(inner);
    cJSON_Delete(root);
    return rc;
}

north_cmd_refusal_t north__cmd_parse(const gw_mqtt_cfg_t *q, const char *base,
                                     const mq_message_t *m, int64_t now_ms, north_nonces_t *nn,
                                     north_cmd_req_t *r, char *why, size_t len)
{
    north_cmd_refusal_t rc;

    memset(r, 0, sizeof(*r));
    if (strncmp(m->topic, base, strlen(base)) != 0) {
        snprintf(why, len, "not a command topic");
        return NC_BAD_TOPIC;
    }
    rc = nc__topic(base, m->topic, r, why, len);
    if (rc != NC_OK)
        return rc;
    if (m->retained) {
        snprintf(why, len, "retained: a command left on the broker would run on every connect");
        return NC_RETAINED;
    }
    return nc__body(q, m, now_ms, nn, r, why, len);
}
