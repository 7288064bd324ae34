/*
 * north_commands.c: commands over MQTT (docs/mqtt.md, "Commands"):
 * acknowledge, assign, start and resolve a work order, write a Modbus
 * setpoint. Loop thread only.
 *
 * A request arrives on <prefix>/<site>/commands/<sender>/<verb>; the
 * sender is the broker user (the broker's ACL lets each user publish only
 * under its own name: deploy/mosquitto/). north_cmd_parse.c reads and
 * authorizes it (mqtt.commands.senders, and for a sender with a key its
 * HMAC, time and nonce); every outcome is answered on
 * <prefix>/<site>/responses/<sender>/<verb> with the request's id. A
 * refusal is logged, counted, audited (action "command_refused") and never
 * acted on.
 *
 * Work-order commands go to the ledger thread as LEDGER_OP_CHANGE (actor:
 * the sender, channel "mqtt"), which commits the change with its audit row
 * and outbox event; the answer is sent when its outcome comes back. A
 * setpoint is a Modbus write through the bus thread (gw_core_point_write,
 * which audits it), answered when the device answered.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/config/gw_config.h"
#include "gateway/base/gw_clock.h"
#include "gateway/north/north_cmd.h"
#include "gateway/north/north_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A work-order command waiting for the ledger thread's answer, or a
 * setpoint waiting for the device's. */
typedef struct cmd__pending {
    struct cmd__pending *next;
    uint64_t tag;
    char sender[64];
    char verb[16];
    char id[65];
} cmd__pending_t;

#define CMD_AUDIT_PER_MIN 120 /* refusals audited per minute; the rest only logged */

struct north_cmd {
    north_session_t *s;
    gw_core_t *core;
    ledger_worker_t *lw;
    cmd__pending_t *pending;
    uint64_t next_tag;
    north_nonces_t *nonces;
    uint64_t done, refused_by[NC__COUNT];
    int64_t audit_minute; /* monotonic minute of the refusal audit budget */
    int audit_used;
    uint64_t audit_skipped;
};

/* Answer a command on <prefix>/<site>/responses/<sender>/<verb> (or
 * responses/<verb> when the topic named no sender). result: owned. */
static void cmd__respond(north_cmd_t *c, const char *sender, const char *verb, const char *id,
                         int rc, const char *err, cJSON *result)
{
    char suffix[160];
    cJSON *o;

    if (!verb || !verb[0]) {
        cJSON_Delete(result);
        return; /* no topic to answer on */
    }
    o = cJSON_CreateObject();
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
    if (sender && sender[0])
        snprintf(suffix, sizeof(suffix), "responses/%s/%s", sender, verb);
    else
        snprintf(suffix, sizeof(suffix), "responses/%s", verb);
    north__publish_json(c->s, suffix, o, 1, 0);
    cJSON_Delete(o);
}

/* Audit a refusal (action "command_refused"), within a budget per minute
 * so that a flood of refusals cannot flood the ledger. */
static void cmd__audit_refusal(north_cmd_t *c, const north_cmd_req_t *r, const char *topic,
                               north_cmd_refusal_t why, const char *reason)
{
    int64_t minute = gw_mono_ms() / 60000;
    ledger_audit_entry_t e = {.actor = r->sender[0] ? r->sender : "(no sender)",
                              .channel = "mqtt",
                              .action = "command_refused"};
    ledger_op_audit_t *op = NULL;
    cJSON *d;
    char *text;

    if (!c->lw)
        return;
    if (minute != c->audit_minute) {
        if (c->audit_skipped)
            gw_log_warn("mqtt", "%llu refused commands were not audited (more than %d a minute)",
                        (unsigned long long)c->audit_skipped, CMD_AUDIT_PER_MIN);
        c->audit_minute = minute;
        c->audit_used = 0;
        c->audit_skipped = 0;
    }
    if (c->audit_used >= CMD_AUDIT_PER_MIN) {
        c->audit_skipped++;
        return;
    }
    c->audit_used++;
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "topic", topic);
    cJSON_AddStringToObject(d, "verb", r->verb);
    cJSON_AddStringToObject(d, "id", r->id);
    cJSON_AddStringToObject(d, "reason", north__cmd_refusal_name(why));
    cJSON_AddStringToObject(d, "error", reason);
    cJSON_AddBoolToObject(d, "signed", r->is_signed);
    text = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    e.detail = text;
    if (text)
        op = ledger_op_audit_new(&e);
    free(text);
    if (op)
        ledger_worker_submit(c->lw, &op->hdr);
}

/* Refuse: log, count, audit, answer. */
static void cmd__refuse(north_cmd_t *c, const north_cmd_req_t *r, const char *topic,
                        north_cmd_refusal_t why, int rc, const char *reason)
{
    c->refused_by[why < NC__COUNT ? why : NC_REFUSED]++;
    gw_log_warn("mqtt", "command %s from %s (id %s) on %s refused: %s", r->verb[0] ? r->verb : "?",
                r->sender[0] ? r->sender : "(no sender)", r->id[0] ? r->id : "-", topic, reason);
    cmd__audit_refusal(c, r, topic, why, reason);
    cmd__respond(c, r->sender, r->verb, r->id, rc, reason, NULL);
}

/* A pending answer for r (tag set by the caller). NULL on out of memory. */
static cmd__pending_t *cmd__pending_new(const north_cmd_req_t *r)
{
    cmd__pending_t *p = calloc(1, sizeof(*p));

    if (p) {
        snprintf(p->sender, sizeof(p->sender), "%s", r->sender);
        snprintf(p->verb, sizeof(p->verb), "%s", r->verb);
        snprintf(p->id, sizeof(p->id), "%s", r->id);
    }
    return p;
}

/* Apply an authorized work-order command: a LEDGER_OP_CHANGE with the
 * sender as actor and channel "mqtt" (the ledger writes the change, its
 * audit row and its outbox event in one transaction); the answer goes out
 * when LEDGER_EV_CHANGED comes back (north__cmd_on_changed). */
static void cmd__work_order(north_cmd_t *c, const north_cmd_req_t *r)
{
    ledger_actor_t by = {.who = r->sender, .channel = "mqtt"};
    const char *status = r->bit == GW_CMD_ACK     ? "acknowledged"
                         : r->bit == GW_CMD_START ? "in_progress"
                                                  : "resolved";
    cmd__pending_t *p = cmd__pending_new(r);
    ledger_op_change_t *op;

    if (!p || !c->lw)
        goto out_refuse;
    p->tag = ++c->next_tag;
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
    cmd__respond(c, r->sender, r->verb, r->id, GW_ENOMEM,
                 "refused: out of memory or a field too long; nothing was changed", NULL);
}

static cmd__pending_t *cmd__take(north_cmd_t *c, uint64_t tag)
{
    cmd__pending_t **pp = &c->pending, *p;

    while (*pp && (*pp)->tag != tag)
        pp = &(*pp)->next;
    if ((p = *pp))
        *pp = p->next;
    return p;
}

void north__cmd_on_changed(north_cmd_t *c, const ledger_ev_changed_t *ev)
{
    cmd__pending_t *p;
    cJSON *res = NULL;

    if (!c || !(p = cmd__take(c, ev->tag)))
        return; /* not ours */
    if (ev->rc == 0) {
        cJSON *wo;
        res = cJSON_CreateObject();
        wo = cJSON_AddObjectToObject(res, "work_order");
        cJSON_AddStringToObject(wo, "id", ev->id);
        cJSON_AddNumberToObject(wo, "number", (double)ev->number);
        cJSON_AddStringToObject(wo, "status", ev->status);
        c->done++;
        gw_log_notice("mqtt", "command %s (id %s) from %s done: work order #%lld %s", p->verb,
                      p->id, p->sender, (long long)ev->number, ev->status);
        cmd__respond(c, p->sender, p->verb, p->id, 0, NULL, res);
    } else {
        north_cmd_req_t r = {0};
        char topic[256];
        snprintf(r.sender, sizeof(r.sender), "%s", p->sender);
        snprintf(r.verb, sizeof(r.verb), "%s", p->verb);
        snprintf(r.id, sizeof(r.id), "%s", p->id);
        north__topic(c->s, topic, sizeof(topic), "commands/");
        snprintf(topic + strlen(topic), sizeof(topic) - strlen(topic), "%s/%s", p->sender, p->verb);
        cmd__refuse(c, &r, topic, NC_REFUSED, ev->rc, ev->msg);
    }
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
    north__nonces_free(c->nonces);
    free(c);
}

#define CMD_WRITE_TAG (1ULL << 63) /* pending setpoints: the write id with this bit */

static void cmd__write_done(void *arg, uint64_t id, int rc, const char *err)
{
    north_cmd_t *c = arg;
    cmd__pending_t *p = cmd__take(c, id | CMD_WRITE_TAG);

    if (!p)
        return;
    if (rc == 0) {
        c->done++;
        gw_log_notice("mqtt", "command setpoint (id %s) from %s done", p->id, p->sender);
    } else {
        gw_log_warn("mqtt", "command setpoint (id %s) from %s failed: %s", p->id, p->sender, err);
    }
    cmd__respond(c, p->sender, p->verb, p->id, rc, err, NULL);
    free(p);
}

/* Apply an authorized setpoint: a Modbus write through the device's bus
 * thread (gw_core_point_write refuses points that do not opt in, values
 * outside their bounds and more, with the reason, and audits every
 * outcome); the answer goes out when the device answered. */
static void cmd__setpoint(north_cmd_t *c, const north_cmd_req_t *r, const char *topic)
{
    const gw_config_t *cfg = gw_core_config(c->core);
    int di = gw_config_device_index(cfg, r->device);
    gw_write_who_t who = {.actor = r->sender, .channel = "mqtt", .ref = r->id};
    cmd__pending_t *p;
    uint64_t wid = 0;
    char err[256], note[64];
    int rc;

    if (di >= 0 && cfg->devices[di].bus_idx < 0) {
        snprintf(err, sizeof(err), "\"device\": %s is an NB-IoT device: it cannot be written",
                 r->device);
        cmd__refuse(c, r, topic, NC_REFUSED, GW_EINVAL, err);
        return;
    }
    p = cmd__pending_new(r);
    if (!p) {
        cmd__respond(c, r->sender, r->verb, r->id, GW_ENOMEM, "out of memory; nothing was written",
                     NULL);
        return;
    }
    snprintf(note, sizeof(note), "{\"signed\":%s}", r->is_signed ? "true" : "false");
    who.note = note;
    rc = gw_core_point_write(c->core, &who, r->device, r->point, r->value, cmd__write_done, c, &wid,
                             err, sizeof(err));
    if (rc != 0) {
        /* audited by the write path; answered and counted here */
        free(p);
        c->refused_by[NC_REFUSED]++;
        gw_log_warn("mqtt", "command setpoint (id %s) from %s refused: %s", r->id, r->sender, err);
        cmd__respond(c, r->sender, r->verb, r->id, rc, err, NULL);
        return;
    }
    gw_log_notice("mqtt", "command setpoint (id %s) from %s: %s.%s = %g queued", r->id, r->sender,
                  r->device, r->point, r->value);
    p->tag = wid | CMD_WRITE_TAG;
    p->next = c->pending;
    c->pending = p;
}

/* Session handler: a message on the commands topics (1), or not ours (0). */
static int cmd__on_message(void *arg, const mq_message_t *m)
{
    north_cmd_t *c = arg;
    const gw_mqtt_cfg_t *q = &gw_core_config(c->core)->mqtt;
    north_cmd_req_t r;
    north_cmd_refusal_t why;
    char base[384], err[256];

    north__topic(c->s, base, sizeof(base), "commands/");
    if (!q->commands || strncmp(m->topic, base, strlen(base)) != 0)
        return 0;
    why = north__cmd_parse(q, base, m, gw_wall_ms(), c->nonces, &r, err, sizeof(err));
    if (why != NC_OK) {
        cmd__refuse(c, &r, m->topic, why,
                    why == NC_NOT_ALLOWED || why >= NC_UNSIGNED ? GW_EPERM : GW_EINVAL, err);
        return 1;
    }
    gw_log_notice("mqtt", "command %s (id %s) from %s%s%s%s", r.verb, r.id, r.sender,
                  r.is_signed ? " (signed)" : "", r.work_order[0] ? " on work order " : "",
                  r.work_order);
    if (r.bit == GW_CMD_SETPOINT)
        cmd__setpoint(c, &r, m->topic);
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
    /* # rather than +/+: the old commands/<verb> gets a clear refusal */
    north__topic(c->s, topic, sizeof(topic), "commands/#");
    if (north__subscribe(c->s, topic, 1, "mqtt", err, sizeof(err)) != 0)
        gw_log_error("mqtt", "%s", err);
}

int north__cmd_create(north_cmd_t **out, north_session_t *s, gw_core_t *core, ledger_worker_t *lw)
{
    north_cmd_t *c = calloc(1, sizeof(*c));
    north_handler_t h = {.connected = cmd__on_connected, .message = cmd__on_message};

    *out = NULL;
    if (!c || !(c->nonces = north__nonces_new(NORTH_CMD_NONCES_MAX))) {
        free(c);
        return GW_ENOMEM;
    }
    c->s = s;
    c->core = core;
    c->lw = lw;
    h.arg = c;
    north__session_on(s, &h);
    *out = c;
    return 0;
}

void north__cmd_metrics_text(const north_cmd_t *c, FILE *o)
{
    fprintf(o,
            "# HELP plantroom_mqtt_commands_done_total Commands over MQTT carried out.\n"
            "# TYPE plantroom_mqtt_commands_done_total counter\n"
            "plantroom_mqtt_commands_done_total %llu\n",
            c ? (unsigned long long)c->done : 0ULL);
    fprintf(o, "# HELP plantroom_mqtt_commands_refused_total Commands over MQTT refused, by "
               "reason.\n# TYPE plantroom_mqtt_commands_refused_total counter\n");
    for (int r = NC_OK + 1; r < NC__COUNT; r++)
        fprintf(o, "plantroom_mqtt_commands_refused_total{reason=\"%s\"} %llu\n",
                north__cmd_refusal_name(r), c ? (unsigned long long)c->refused_by[r] : 0ULL);
}
