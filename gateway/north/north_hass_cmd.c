/*
 * north_hass_cmd.c: the Home Assistant entities through which a writable
 * point is set (docs/mqtt.md, "Home Assistant discovery"): a switch for an
 * on/off point, a select for a point that takes a list of values, a number
 * for a range or a control word. Home Assistant sends the setpoint command
 * as its broker user (mqtt.homeassistant.sender) on
 * <prefix>/<site>/commands/<sender>/setpoint; the gateway checks it like
 * any other command (allow-list, the point's write limits, audit).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/north/north_int.h"

#include <stdio.h>
#include <string.h>

north_hass_kind_t north__hass_writable(const gw_config_t *c, const drv_point_t *pt)
{
    const gw_mqtt_cfg_t *q = &c->mqtt;

    if (!pt->write.allowed || !q->commands || !q->hass_sender[0])
        return NORTH_HASS_SENSOR;
    for (size_t i = 0; i < q->nsenders; i++) {
        if (strcmp(q->senders[i].name, q->hass_sender) != 0)
            continue;
        if (!(q->senders[i].verbs & GW_CMD_SETPOINT) || q->senders[i].key_len)
            return NORTH_HASS_SENSOR; /* not allowed, or must sign: Home Assistant cannot */
        if (pt->type == DRV_T_BOOL)
            return NORTH_HASS_SWITCH;
        return pt->write.nvalues ? NORTH_HASS_SELECT : NORTH_HASS_NUMBER;
    }
    return NORTH_HASS_SENSOR;
}

/* The setpoint request with value in place of "%s". */
static void cmd__request(char *buf, size_t len, const char *device, const char *point,
                         const char *value)
{
    snprintf(buf, len,
             "{\"v\":1,\"id\":\"homeassistant\",\"device\":\"%s\",\"point\":\"%s\",\"value\":%s}",
             device, point, value);
}

void north__hass_command(cJSON *o, const char *topic, const char *device, const drv_point_t *pt,
                         const north_hass_entity_t *e)
{
    char buf[512];

    cJSON_AddStringToObject(o, "command_topic", topic);
    if (e->kind == NORTH_HASS_SWITCH) {
        cmd__request(buf, sizeof(buf), device, pt->name, "1");
        cJSON_AddStringToObject(o, "payload_on", buf);
        cmd__request(buf, sizeof(buf), device, pt->name, "0");
        cJSON_AddStringToObject(o, "payload_off", buf);
        cJSON_AddStringToObject(o, "state_on", "ON");
        cJSON_AddStringToObject(o, "state_off", "OFF");
        return;
    }
    cmd__request(buf, sizeof(buf), device, pt->name, "{{ value }}");
    cJSON_AddStringToObject(o, "command_template", buf);
    if (e->kind == NORTH_HASS_SELECT) {
        cJSON *opts = cJSON_AddArrayToObject(o, "options");
        char v[32];
        for (size_t i = 0; i < pt->write.nvalues; i++) {
            snprintf(v, sizeof(v), "%.15g", pt->write.values[i]);
            cJSON_AddItemToArray(opts, cJSON_CreateString(v));
        }
        return;
    }
    if (pt->write.range) {
        cJSON_AddNumberToObject(o, "min", pt->write.min);
        cJSON_AddNumberToObject(o, "max", pt->write.max);
    } else {
        cJSON_AddNumberToObject(o, "min", 0);
        cJSON_AddNumberToObject(o, "max", pt->write.has_bits ? (double)pt->write.bits : 65535);
    }
    {
        double step = 1;
        for (int i = 0; i < e->precision && i < 3; i++)
            step /= 10; /* Home Assistant's smallest step is 0.001 */
        cJSON_AddNumberToObject(o, "step", step);
    }
    cJSON_AddStringToObject(o, "mode", "box");
}
