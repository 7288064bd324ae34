/*
 * north_commands.c: commands over MQTT (docs/mqtt.md, "Commands"): acknowledge,
 * assign, start and resolve a work order, write a Modbus setpoint. Loop
 * thread only.
 *
 * A request arrives on <prefix>/<site>/commands/<verb> as JSON with a
 * correlation "id" and the sender's identity ("from" in the payload, or the
 * MQTT 5 user property "from"). It is parsed, checked against
 * mqtt.commands.senders (who may send which verb), and every outcome is
 * answered on <prefix>/<site>/responses/<verb> with the same id: ok, or a
 * clear error. Trust rests on the broker's ACLs (who may publish to the
 * commands topics) plus the identity, which names the actor in the audit.
 *
 * Work-order commands go to the ledger thread as LEDGER_OP_CHANGE (actor:
 * the sender, channel "mqtt"), which commits the change with its audit row
 * and outbox event; the answer is sent when its outcome comes back. A
 * setpoint is a Modbus write through the bus thread (gw_core_point_write),
 * answered when the device answered.
 */
#include "gateway/base/gw_log.h"
#include "gateway/config/gw_config.h"
#include "gateway/north/north_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cmd__req {
    const char *verb;
    unsigned bit;
    char id[65];   /* correlation id, "" when absent */
    char from[64]; /* sender */
    char work_order[80];
    char assignee[64];
    char comment[256];
    char device[GW_NAME_MAX];
    char point[DRV_NAME_MAX];
    double value;
} cmd__req_t;

/* A work-order command waiting for the ledger thread's answer, or a
 * setpoint waiting for the device's. */
typedef struct cmd__pending {
    struct cmd__pending *next;
    uint64_t tag;
    char verb[16];
    char id[65];
} cmd__pending_t;

struct north_cmd {
    north_session_t *s;
    gw_core_t *core;
    ledger_worker_t *lw;
    cmd__pending_t *pending;
    uint64_t next_tag;
};

/* Answer a command on <prefix>/<site>/responses/<verb> (result: owned). */
static void cmd__respond(north_cmd_t *c, const char *verb, const char *id, int rc, const char *err,
                         cJSON *result)
{
    char suffix[96];
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "v", 1);
    if (id && id[0])
        cJSON_AddStringToObject(o, "id", id);
    else
        cJSON_AddNullToObject(o, "id");
    cJSON_AddStringToObject(o, "command", verb);
    cJSON_AddBoolToObject(o, "ok", rc == 0);
    if (rc != 0)
        cJSON_AddStringToObject(o, "error", err);
    if (result)
        cJSON_AddItemToObject(o, "result", result);
    snprintf(suffix, sizeof(suffix), "responses/%s", verb);
    north__publish_json(c->s, suffix, o, 1, 0);
    cJSON_Delete(o);
}

/* A string field into dst; required or not. Returns 0 or -1 with err. */
static int cmd__str(const cJSON *o, const char *key, char *dst, size_t len, int required, char *err,
                    size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

    dst[0] = '\0';
    if (!it && !required)
        return 0;
    if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble) &&
        strcmp(key, "work_order") == 0) {
        snprintf(dst, len, "%.0f", it->valuedouble); /* a short number */
        return 0;
    }
    if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= len) {
        snprintf(err, errlen, "\"%s\": %s a non-empty string of at most %zu characters", key,
                 it ? "must be" : "is required:", len - 1);
        return -1;
    }
    snprintf(dst, len, "%s", it->valuestring);
    return 0;
}

static int cmd__parse(const mq_message_t *m, cmd__req_t *r, char *err, size_t errlen)
{
    cJSON *o = cJSON_ParseWithLength(m->payload, m->len);
    int rc = -1;

    if (!o || !cJSON_IsObject(o)) {
        snprintf(err, errlen, "the payload must be a JSON object");
        goto out;
    }
    cmd__str(o, "id", r->id, sizeof(r->id), 0, err, errlen); /* for the answer, if any */
    if (cmd__str(o, "id", r->id, sizeof(r->id), 1, err, errlen) != 0 ||
        cmd__str(o, "from", r->from, sizeof(r->from), !m->from[0], err, errlen) != 0 ||
        cmd__str(o, "comment", r->comment, sizeof(r->comment), 0, err, errlen) != 0)
        goto out;
    if (m->from[0] && r->from[0] && strcmp(m->from, r->from) != 0) {
        snprintf(err, errlen, "\"from\" (%s) differs from the MQTT 5 user property (%s)", r->from,
                 m->from);
        goto out;
    }
    if (!r->from[0])
        snprintf(r->from, sizeof(r->from), "%s", m->from);
    if (r->bit == GW_CMD_SETPOINT) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
        if (cmd__str(o, "device", r->device, sizeof(r->device), 1, err, errlen) != 0 ||
            cmd__str(o, "point", r->point, sizeof(r->point), 1, err, errlen) != 0)
            goto out;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
            snprintf(err, errlen, "\"value\": must be a number");
            goto out;
        }
        r->value = v->valuedouble;
    } else {
        if (cmd__str(o, "work_order", r->work_order, sizeof(r->work_order), 1, err, errlen) != 0)
            goto out;
        if (r->bit == GW_CMD_ASSIGN &&
            cmd__str(o, "assignee", r->assignee, sizeof(r->assignee), 1, err, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    cJSON_Delete(o);
    return rc;
}

static int cmd__allowed(const gw_mqtt_cfg_t *q, const char *from, unsigned bit)
{
    for (size_t i = 0; i < q->nsenders; i++) {
        if (strcmp(q->senders[i].name, from) == 0)
            return (q->senders[i].verbs & bit) != 0;
    }
    return 0;
}

/* Apply an authorized work-order command: a LEDGER_OP_CHANGE with the
 * sender as actor and channel "mqtt" (the ledger writes the change, its
 * audit row and its outbox event in one transaction); the answer goes out
 * when LEDGER_EV_CHANGED comes back (north__cmd_on_changed). */
static void cmd__work_order(north_cmd_t *c, const cmd__req_t *r)
{
    ledger_actor_t by = {.who = r->from, .channel = "mqtt"};
    const char *status = r->bit == GW_CMD_ACK     ? "acknowledged"
                         : r->bit == GW_CMD_START ? "in_progress"
                                                  : "resolved";
    cmd__pending_t *p = calloc(1, sizeof(*p));
    ledger_op_change_t *op;

    if (!p || !c->lw)
        goto out_refuse;
    p->tag = ++c->next_tag;
    snprintf(p->verb, sizeof(p->verb), "%s", r->verb);
    snprintf(p->id, sizeof(p->id), "%s", r->id);
    if (r->bit == GW_CMD_ASSIGN)
        op = ledger_op_change_new(LEDGER_CHANGE_ASSIGN, r->work_order, r->assignee,
                                  r->comment[0] ? r->comment : NULL, &by, p->tag);
    else
        op = ledger_op_change_new(LEDGER_CHANGE_STATUS, r->work_order, status,
                                  r->comment[0] ? r->comment : NULL, &by, p->tag);
    if (!op)
        goto out_refuse;
    p->next = c->pending;
    c->pending = p;
    ledger_worker_submit(c->lw, &op->hdr);
    return;

out_refuse:
    free(p);
    cmd__respond(c, r->verb, r->id, GW_ENOMEM,
                 "refused: out of memory or a field too long; nothing was changed", NULL);
}

void north__cmd_on_changed(north_cmd_t *c, const ledger_ev_changed_t *ev)
{
    cmd__pending_t **pp, *p;
    cJSON *res = NULL;

    if (!c)
        return;
    pp = &c->pending;
    while (*pp && (*pp)->tag != ev->tag)
        pp = &(*pp)->next;
    if (!(p = *pp))
        return; /* not ours */
    *pp = p->next;
    if (ev->rc == 0) {
        cJSON *wo;
        res = cJSON_CreateObject();
        wo = cJSON_AddObjectToObject(res, "work_order");
        cJSON_AddStringToObject(wo, "id", ev->id);
        cJSON_AddNumberToObject(wo, "number", (double)ev->number);
        cJSON_AddStringToObject(wo, "status", ev->status);
        gw_log_notice("mqtt", "command %s (id %s) done: work order #%lld %s", p->verb, p->id,
                      (long long)ev->number, ev->status);
    } else {
        gw_log_warn("mqtt", "command %s (id %s) refused by the ledger: %s", p->verb, p->id,
                    ev->msg);
    }
    cmd__respond(c, p->verb, p->id, ev->rc, ev->msg, res);
    free(p);
}

void north__cmd_free(north_cmd_t *c)
{
    if (!c)
        return;
    while (c->pending) {
        cmd__pending_t *p = c->pending;
        c->pending = p->next;
        free(p);
    }
    free(c);
}

#define CMD_WRITE_TAG (1ULL << 63) /* pending setpoints: the write id with this bit */

static cmd__pending_t *cmd__take(north_cmd_t *c, uint64_t tag)
{
    cmd__pending_t **pp = &c->pending, *p;

    while (*pp && (*pp)->tag != tag)
        pp = &(*pp)->next;
    if ((p = *pp))
        *pp = p->next;
    return p;
}

static void cmd__write_done(void *arg, uint64_t id, int rc, const char *err)
{
    north_cmd_t *c = arg;
    cmd__pending_t *p = cmd__take(c, id | CMD_WRITE_TAG);

    if (!p)
        return;
    if (rc == 0)
        gw_log_notice("mqtt", "command setpoint (id %s) done", p->id);
    else
        gw_log_warn("mqtt", "command setpoint (id %s) failed: %s", p->id, err);
    cmd__respond(c, p->verb, p->id, rc, err, NULL);
    free(p);
}

/* Apply an authorized setpoint: a Modbus write through the device's bus
 * thread (gw_core_point_write refuses read-only points, bit fields, strings and
 * values out of range, with the reason); the answer goes out when the
 * device answered. */
static void cmd__setpoint(north_cmd_t *c, const cmd__req_t *r)
{
    const gw_config_t *cfg = gw_core_config(c->core);
    int di = gw_config_device_index(cfg, r->device);
    cmd__pending_t *p;
    uint64_t wid = 0;
    char err[256];
    int rc;

    if (di >= 0 && cfg->devices[di].bus_idx < 0) {
        snprintf(err, sizeof(err), "\"device\": %s is an NB-IoT device: it cannot be written",
                 r->device);
        cmd__respond(c, r->verb, r->id, GW_EINVAL, err, NULL);
        return;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        cmd__respond(c, r->verb, r->id, GW_ENOMEM, "out of memory; nothing was written", NULL);
        return;
    }
    snprintf(p->verb, sizeof(p->verb), "%s", r->verb);
    snprintf(p->id, sizeof(p->id), "%s", r->id);
    rc = gw_core_point_write(c->core, r->device, r->point, r->value, cmd__write_done, c, &wid, err,
                             sizeof(err));
    if (rc != 0) {
        free(p);
        cmd__respond(c, r->verb, r->id, rc, err, NULL);
        return;
    }
    gw_log_notice("mqtt", "command setpoint (id %s) from %s: %s.%s = %g queued", r->id, r->from,
                  r->device, r->point, r->value);
    p->tag = wid | CMD_WRITE_TAG;
    p->next = c->pending;
    c->pending = p;
}

static int cmd__is_command(const north_cmd_t *c, const char *topic)
{
    char base[384];
    north__topic(c->s, base, sizeof(base), "commands/");
    return gw_core_config(c->core)->mqtt.commands && strncmp(topic, base, strlen(base)) == 0;
}

/* Session handler: a message on the commands topics (1), or not ours (0). */
static int cmd__on_message(void *arg, const mq_message_t *m)
{
    north_cmd_t *c = arg;
    const gw_mqtt_cfg_t *q = &gw_core_config(c->core)->mqtt;
    const char *verb = strrchr(m->topic, '/') + 1;
    cmd__req_t r = {.verb = verb, .bit = gw__cmd_verb_bit(verb)};
    char err[256];

    if (!cmd__is_command(c, m->topic))
        return 0;
    if (m->retained) {
        /* a command left retained on the broker would run again on every
         * connect: refuse it */
        gw_log_warn("mqtt", "command on %s ignored: it is retained", m->topic);
        return 1;
    }
    if (!r.bit) {
        gw_log_warn("mqtt", "command %s refused: unknown verb", verb);
        cmd__respond(c, verb, NULL, GW_EINVAL,
                     "unknown command: use ack, assign, start, resolve or setpoint", NULL);
        return 1;
    }
    if (cmd__parse(m, &r, err, sizeof(err)) != 0) {
        gw_log_warn("mqtt", "command %s refused: %s", verb, err);
        cmd__respond(c, verb, r.id, GW_EINVAL, err, NULL);
        return 1;
    }
    if (!cmd__allowed(q, r.from, r.bit)) {
        snprintf(err, sizeof(err), "not authorized: sender \"%s\" may not %s", r.from, verb);
        gw_log_warn("mqtt", "command %s (id %s) refused: %s", verb, r.id, err);
        cmd__respond(c, verb, r.id, GW_ESTATE, err, NULL);
        return 1;
    }
    gw_log_notice("mqtt", "command %s (id %s) from %s%s%s", verb, r.id, r.from,
                  r.work_order[0] ? " on work order " : "", r.work_order);
    if (r.bit == GW_CMD_SETPOINT)
        cmd__setpoint(c, &r);
    else
        cmd__work_order(c, &r);
    return 1;
}

static void cmd__on_connected(void *arg)
{
    north_cmd_t *c = arg;
    char topic[384], err[256];

    if (!gw_core_config(c->core)->mqtt.commands)
        return;
    north__topic(c->s, topic, sizeof(topic), "commands/+");
    if (north__subscribe(c->s, topic, 1, err, sizeof(err)) != 0)
        gw_log_error("mqtt", "%s", err);
    else
        gw_log_info("mqtt", "subscribed to %s", topic);
}

int north__cmd_create(north_cmd_t **out, north_session_t *s, gw_core_t *core, ledger_worker_t *lw)
{
    north_cmd_t *c = calloc(1, sizeof(*c));
    north_handler_t h = {.connected = cmd__on_connected, .message = cmd__on_message};

    *out = NULL;
    if (!c)
        return GW_ENOMEM;
    c->s = s;
    c->core = core;
    c->lw = lw;
    h.arg = c;
    north__session_on(s, &h);
    *out = c;
    return 0;
}
