/*
 * gw_config_mqtt.c: the "mqtt" section of the site config: broker, session
 * (MQTT version, TLS, credentials, reconnect), telemetry publishing (on
 * change with deadbands, heartbeat) and store-and-forward bounds
 * (gw_config.h; every key in docs/configuration.md, "mqtt").
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const char *const mqtt_keys[] = {
    "enabled", "uri", "client_id", "prefix", "username", "password_file", "keepalive_s",
    "reconnect_min_ms", "reconnect_max_ms", "version", "tls", "telemetry", "buffer",
    "metrics_ms", "homeassistant", "commands", "queue_max_bytes", "outbox_window", NULL};
/* clang-format on */

/* An optional sub-object: NULL when absent, an error when not an object. */
static const cJSON *cfg__sub(const cJSON *m, const char *key, const char *path, gw_errlist_t *el)
{
    const cJSON *o = m ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    char p[128];

    if (o && !cJSON_IsObject(o)) {
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, key), "must be an object");
        return NULL;
    }
    return o;
}

/* A file path relative to the config file's directory. */
static void cfg__file(gw_config_t *cfg, const cJSON *o, const char *key, const char *path,
                      char *dst, size_t len, gw_errlist_t *el)
{
    char f[PATH_MAX];

    dst[0] = '\0';
    if (gw_json_str(o, key, path, f, sizeof(f), "", 0, el) > 0 && f[0])
        gw__cfg_resolve(dst, len, cfg->config_dir, f);
}

static void cfg__version(gw_mqtt_cfg_t *q, const cJSON *m, gw_errlist_t *el)
{
    char v[16];

    q->version = 4;
    if (gw_json_str(m, "version", "mqtt", v, sizeof(v), "3.1.1", 0, el) < 0)
        return;
    if (strcmp(v, "5") == 0)
        q->version = 5;
    else if (strcmp(v, "3.1.1") != 0)
        gw_errlist_add(el, "mqtt.version", "must be \"3.1.1\" or \"5\", got \"%s\"", v);
}

static void cfg__tls(gw_config_t *cfg, gw_mqtt_cfg_t *q, const cJSON *m, gw_errlist_t *el)
{
    static const char *const keys[] = {"ca_file", "cert_file", "key_file", "verify", NULL};
    const cJSON *t = cfg__sub(m, "tls", "mqtt", el);

    q->tls = strncmp(q->uri, "ssl://", 6) == 0 || strncmp(q->uri, "mqtts://", 8) == 0;
    if (t)
        gw_json_check_keys(t, "mqtt.tls", keys, el);
    cfg__file(cfg, t, "ca_file", "mqtt.tls", q->ca_file, sizeof(q->ca_file), el);
    cfg__file(cfg, t, "cert_file", "mqtt.tls", q->cert_file, sizeof(q->cert_file), el);
    cfg__file(cfg, t, "key_file", "mqtt.tls", q->key_file, sizeof(q->key_file), el);
    gw_json_bool(t, "verify", "mqtt.tls", &q->tls_verify, 1, el);
    if (!q->cert_file[0] != !q->key_file[0])
        gw_errlist_add(el, "mqtt.tls", "cert_file and key_file go together: give both or neither");
    if (t && !q->tls)
        gw_errlist_add(el, "mqtt.tls", "given, but mqtt.uri (\"%s\") is not ssl:// or mqtts://",
                       q->uri);
}

static void cfg__tel_override(gw_mqtt_cfg_t *q, const cJSON *o, const char *path, gw_errlist_t *el)
{
    static const char *const keys[] = {"device", "point", "deadband", "heartbeat_ms", NULL};
    gw_mqtt_tel_override_t *t = &q->tel[q->ntel];
    char p[160];

    gw_json_check_keys(o, path, keys, el);
    gw_json_str(o, "device", path, t->device, sizeof(t->device), NULL, 1, el);
    gw_json_str(o, "point", path, t->point, sizeof(t->point), "", 0, el);
    gw_json_num(o, "deadband", path, &t->deadband, -1, 0, el);
    if (cJSON_GetObjectItemCaseSensitive(o, "deadband") && t->deadband < 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "deadband"),
                       "must be at least 0, got %g", t->deadband);
    gw_json_int_to(o, "heartbeat_ms", path, &t->heartbeat_ms, -1, 0, 86400000, 0, el);
    if (t->point[0] && t->heartbeat_ms >= 0)
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "heartbeat_ms"),
                       "is per device (a message carries every point): give it without \"point\"");
    q->ntel++;
}

static void cfg__telemetry(gw_mqtt_cfg_t *q, const cJSON *m, gw_errlist_t *el)
{
    static const char *const keys[] = {"on_change", "deadband", "heartbeat_ms",
                                       "points",    "qos",      NULL};
    const cJSON *t = cfg__sub(m, "telemetry", "mqtt", el);
    const cJSON *pts = t ? cJSON_GetObjectItemCaseSensitive(t, "points") : NULL;
    const cJSON *it;
    int i = 0;
    char p[128];

    if (t)
        gw_json_check_keys(t, "mqtt.telemetry", keys, el);
    gw_json_bool(t, "on_change", "mqtt.telemetry", &q->on_change, 1, el);
    gw_json_int_to(t, "qos", "mqtt.telemetry", &q->tel_qos, 1, 0, 1, 0, el);
    gw_json_num(t, "deadband", "mqtt.telemetry", &q->deadband, 0, 0, el);
    if (q->deadband < 0)
        gw_errlist_add(el, "mqtt.telemetry.deadband", "must be at least 0, got %g", q->deadband);
    gw_json_int_to(t, "heartbeat_ms", "mqtt.telemetry", &q->heartbeat_ms, 60000, 0, 86400000, 0,
                   el);
    if (!pts)
        return;
    if (!cJSON_IsArray(pts)) {
        gw_errlist_add(el, "mqtt.telemetry.points", "must be an array");
        return;
    }
    cJSON_ArrayForEach(it, pts)
    {
        gw_json_path_idx(p, sizeof(p), "mqtt.telemetry.points", i++);
        if (!cJSON_IsObject(it))
            gw_errlist_add(el, p, "must be an object");
        else if (q->ntel == GW_MQTT_TEL_OVERRIDES)
            gw_errlist_add(el, p, "at most %d entries", GW_MQTT_TEL_OVERRIDES);
        else
            cfg__tel_override(q, it, p, el);
    }
}

static void cfg__buffer(gw_config_t *cfg, gw_mqtt_cfg_t *q, const cJSON *m, gw_errlist_t *el)
{
    static const char *const keys[] = {"memory_messages", "max_messages", "flush_ms",
                                       "replay_per_s",    "spool",        NULL};
    const cJSON *b = cfg__sub(m, "buffer", "mqtt", el);
    char f[PATH_MAX];

    if (b)
        gw_json_check_keys(b, "mqtt.buffer", keys, el);
    gw_json_int_to(b, "memory_messages", "mqtt.buffer", &q->buf_memory, 1000, 1, 1000000, 0, el);
    gw_json_int_to(b, "max_messages", "mqtt.buffer", &q->buf_max, 100000, 0, 100000000, 0, el);
    gw_json_int_to(b, "flush_ms", "mqtt.buffer", &q->buf_flush_ms, 1000, 0, 3600000, 0, el);
    gw_json_int_to(b, "replay_per_s", "mqtt.buffer", &q->replay_per_s, 20000, 10, 1000000, 0, el);
    gw_json_str(b, "spool", "mqtt.buffer", f, sizeof(f), "spool.db", 0, el);
    gw__cfg_resolve(q->spool_path, sizeof(q->spool_path), cfg->state_dir, f);
}

static void cfg__session(gw_config_t *cfg, gw_mqtt_cfg_t *q, const cJSON *m, gw_errlist_t *el)
{
    char def_id[128];

    gw_json_bool(m, "enabled", "mqtt", &q->enabled, 1, el);
    gw_json_str(m, "uri", "mqtt", q->uri, sizeof(q->uri), "tcp://127.0.0.1:1883", 0, el);
    if (strncmp(q->uri, "tcp://", 6) != 0 && strncmp(q->uri, "ssl://", 6) != 0 &&
        strncmp(q->uri, "mqtt://", 7) != 0 && strncmp(q->uri, "mqtts://", 8) != 0)
        gw_errlist_add(el, "mqtt.uri",
                       "must start with tcp://, ssl://, mqtt:// or mqtts://, got \"%s\"", q->uri);
    snprintf(def_id, sizeof(def_id), "plantroom-%s", cfg->site_id);
    gw_json_str(m, "client_id", "mqtt", q->client_id, sizeof(q->client_id), def_id, 0, el);
    gw_json_str(m, "prefix", "mqtt", q->prefix, sizeof(q->prefix), "plantroom", 0, el);
    if (strpbrk(q->prefix, "+#") || !q->prefix[0])
        gw_errlist_add(el, "mqtt.prefix", "must be a non-empty topic without '+' or '#'");
    gw_json_str(m, "username", "mqtt", q->username, sizeof(q->username), "", 0, el);
    cfg__file(cfg, m, "password_file", "mqtt", q->password_file, sizeof(q->password_file), el);
    gw_json_int_to(m, "keepalive_s", "mqtt", &q->keepalive_s, 30, 5, 3600, 0, el);
    gw_json_int_to(m, "reconnect_min_ms", "mqtt", &q->reconnect_min_ms, 500, 100, 60000, 0, el);
    gw_json_int_to(m, "reconnect_max_ms", "mqtt", &q->reconnect_max_ms, 30000, 1000, 600000, 0, el);
    gw_json_int_to(m, "metrics_ms", "mqtt", &q->metrics_ms, 60000, 1000, 86400000, 0, el);
    gw_json_int_to(m, "queue_max_bytes", "mqtt", &q->queue_max_bytes, 524288, 16384, 1073741824, 0,
                   el);
    gw_json_int_to(m, "outbox_window", "mqtt", &q->outbox_window, 100, 1, 100000, 0, el);
    if (q->reconnect_max_ms < q->reconnect_min_ms)
        gw_errlist_add(el, "mqtt.reconnect_max_ms",
                       "must be at least reconnect_min_ms (%d), got %d", q->reconnect_min_ms,
                       q->reconnect_max_ms);
}

static void cfg__hass(gw_mqtt_cfg_t *q, const cJSON *m, gw_errlist_t *el)
{
    static const char *const keys[] = {"enabled", "prefix", "sender", NULL};
    const cJSON *h = cfg__sub(m, "homeassistant", "mqtt", el);

    if (h)
        gw_json_check_keys(h, "mqtt.homeassistant", keys, el);
    gw_json_bool(h, "enabled", "mqtt.homeassistant", &q->hass, 0, el);
    gw_json_str(h, "prefix", "mqtt.homeassistant", q->hass_prefix, sizeof(q->hass_prefix),
                "homeassistant", 0, el);
    if (!q->hass_prefix[0] || strpbrk(q->hass_prefix, "+#"))
        gw_errlist_add(el, "mqtt.homeassistant.prefix",
                       "must be a non-empty topic without '+' or '#'");
    /* the broker user Home Assistant publishes commands as */
    gw_json_str(h, "sender", "mqtt.homeassistant", q->hass_sender, sizeof(q->hass_sender),
                "homeassistant", 0, el);
    if (strpbrk(q->hass_sender, "+#/"))
        gw_errlist_add(el, "mqtt.homeassistant.sender", "must not contain '+', '#' or '/'");
}

/* Bit of a command verb, or 0. */
unsigned gw__cmd_verb_bit(const char *verb)
{
    static const char *const verbs[] = {"ack", "assign", "start", "resolve", "setpoint"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(verbs); i++) {
        if (strcmp(verb, verbs[i]) == 0)
            return 1u << i;
    }
    return 0;
}

/* A sender's name is a topic level and a broker user name: letters,
 * digits and . _ - @ only. */
static int cfg__sender_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._-@", *s)))
            return 0;
    }
    return 1;
}

/* The sender's HMAC key: the first line of its key file (trailing white
 * space removed), GW_CMD_KEY_MIN..GW_CMD_KEY_MAX bytes. Never logged. */
static void cfg__sender_key(gw_config_t *cfg, const cJSON *o, const char *path, int idx,
                            gw_errlist_t *el)
{
    gw_mqtt_cfg_t *q = &cfg->mqtt;
    char file[PATH_MAX], line[GW_CMD_KEY_MAX + 4], p[200];
    size_t n;
    FILE *f;

    cfg__file(cfg, o, "hmac_key_file", path, file, sizeof(file), el);
    if (!file[0])
        return;
    gw_json_path_key(p, sizeof(p), path, "hmac_key_file");
    snprintf(q->senders[idx].key_file, sizeof(q->senders[idx].key_file), "%s", file);
    f = fopen(file, "re");
    if (!f) {
        gw_errlist_add(el, p, "cannot read %s: %s", file, strerror(errno));
        return;
    }
    n = fgets(line, sizeof(line), f) ? strlen(line) : 0;
    fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                     line[n - 1] == '\t'))
        n--;
    if (n < GW_CMD_KEY_MIN || n > GW_CMD_KEY_MAX) {
        gw_errlist_add(el, p, "%s: the key (its first line) must be %d..%d bytes", file,
                       GW_CMD_KEY_MIN, GW_CMD_KEY_MAX);
        return;
    }
    memcpy(q->senders[idx].key, line, n);
    q->senders[idx].key_len = n;
}

static void cfg__sender(gw_config_t *cfg, const cJSON *o, const char *path, gw_errlist_t *el)
{
    static const char *const keys[] = {"name", "allow", "hmac_key_file", NULL};
    gw_mqtt_cfg_t *q = &cfg->mqtt;
    const cJSON *allow = cJSON_GetObjectItemCaseSensitive(o, "allow");
    const cJSON *it;
    char p[160];

    gw_json_check_keys(o, path, keys, el);
    if (gw_json_str(o, "name", path, q->senders[q->nsenders].name, sizeof(q->senders[0].name), NULL,
                    1, el) > 0 &&
        !cfg__sender_name_ok(q->senders[q->nsenders].name))
        gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "name"),
                       "must be a broker user name: letters, digits and . _ - @ only");
    for (size_t i = 0; i < q->nsenders; i++) {
        if (strcmp(q->senders[i].name, q->senders[q->nsenders].name) == 0)
            gw_errlist_add(el, gw_json_path_key(p, sizeof(p), path, "name"),
                           "sender \"%s\" is listed twice", q->senders[i].name);
    }
    cfg__sender_key(cfg, o, path, (int)q->nsenders, el);
    gw_json_path_key(p, sizeof(p), path, "allow");
    if (!cJSON_IsArray(allow) || cJSON_GetArraySize(allow) == 0) {
        gw_errlist_add(el, p,
                       "must be a non-empty array of verbs (ack, assign, start, resolve, "
                       "setpoint)");
        return;
    }
    cJSON_ArrayForEach(it, allow)
    {
        unsigned bit = cJSON_IsString(it) ? gw__cmd_verb_bit(it->valuestring) : 0;
        if (!bit)
            gw_errlist_add(el, p, "unknown verb %s%s%s: use ack, assign, start, resolve, setpoint",
                           cJSON_IsString(it) ? "\"" : "",
                           cJSON_IsString(it) ? it->valuestring : "(not a string)",
                           cJSON_IsString(it) ? "\"" : "");
        q->senders[q->nsenders].verbs |= bit;
    }
    q->nsenders++;
}

static void cfg__commands(gw_config_t *cfg, const cJSON *m, gw_errlist_t *el)
{
    static const char *const keys[] = {"enabled", "senders", "replay_window_s", NULL};
    gw_mqtt_cfg_t *q = &cfg->mqtt;
    const cJSON *c = cfg__sub(m, "commands", "mqtt", el);
    const cJSON *s = c ? cJSON_GetObjectItemCaseSensitive(c, "senders") : NULL;
    const cJSON *it;
    int i = 0, window_s = 300;
    char p[96];

    if (c)
        gw_json_check_keys(c, "mqtt.commands", keys, el);
    gw_json_bool(c, "enabled", "mqtt.commands", &q->commands, 0, el);
    gw_json_int_to(c, "replay_window_s", "mqtt.commands", &window_s, 300, 10, 86400, 0, el);
    q->replay_window_ms = window_s * 1000;
    if (!s)
        return;
    if (!cJSON_IsArray(s)) {
        gw_errlist_add(el, "mqtt.commands.senders", "must be an array");
        return;
    }
    cJSON_ArrayForEach(it, s)
    {
        gw_json_path_idx(p, sizeof(p), "mqtt.commands.senders", i++);
        if (!cJSON_IsObject(it))
            gw_errlist_add(el, p, "must be an object");
        else if (q->nsenders == GW_MQTT_SENDERS)
            gw_errlist_add(el, p, "at most %d senders", GW_MQTT_SENDERS);
        else
            cfg__sender(cfg, it, p, el);
    }
}

void gw__cfg_mqtt(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "mqtt");
    gw_mqtt_cfg_t *q = &cfg->mqtt;

    if (m && !cJSON_IsObject(m)) {
        gw_errlist_add(el, "mqtt", "must be an object");
        m = NULL;
    }
    if (m)
        gw_json_check_keys(m, "mqtt", mqtt_keys, el);
    cfg__session(cfg, q, m, el);
    cfg__version(q, m, el);
    cfg__tls(cfg, q, m, el);
    cfg__telemetry(q, m, el);
    cfg__buffer(cfg, q, m, el);
    cfg__hass(q, m, el);
    cfg__commands(cfg, m, el);
}

/* Called after devices are read: telemetry overrides name real devices and
 * points. */
void gw__cfg_mqtt_check(gw_config_t *cfg, gw_errlist_t *el)
{
    char p[128];

    for (size_t i = 0; i < cfg->mqtt.ntel; i++) {
        const gw_mqtt_tel_override_t *t = &cfg->mqtt.tel[i];
        int di = gw_config_device_index(cfg, t->device);
        snprintf(p, sizeof(p), "mqtt.telemetry.points[%zu]", i);
        if (di < 0)
            gw_errlist_add(el, p, "no device named \"%s\" in devices", t->device);
        else if (t->point[0] && gw_device_point_index(&cfg->devices[di], t->point) < 0)
            gw_errlist_add(el, p, "device \"%s\" has no point \"%s\"", t->device, t->point);
    }
}
