/*
 * gw_config_service.c: the "control" and "metrics" sections of the site
 * config (gw_config.h, gw_service_cfg_t; keys in docs/configuration.md).
 *
 *   "control": {"enabled": true, "socket": "control.sock", "group": "plantroom"}
 *   "metrics": {"enabled": false, "address": "127.0.0.1", "port": 9464}
 *
 * The control socket (gw_control.c) is a Unix domain socket, by default
 * under the state directory; a relative path is taken relative to it. The
 * metrics endpoint (gw_metrics.c) is unauthenticated, so it may only listen
 * on a loopback address. Both are applied at start; a reload that changes
 * them is logged and otherwise ignored until the next restart.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config_int.h"
#include "gateway/base/gw_json.h"

#include <arpa/inet.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#define CFG_SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

static const cJSON *cfg__section(const cJSON *root, const char *key, gw_errlist_t *el)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, key);

    if (s && !cJSON_IsObject(s)) {
        gw_errlist_add(el, key, "must be an object");
        return NULL;
    }
    return s;
}

static void cfg__control(gw_service_cfg_t *sc, const gw_config_t *cfg, const cJSON *root,
                         gw_errlist_t *el)
{
    static const char *const keys[] = {"enabled", "socket", "group", NULL};
    const cJSON *c = cfg__section(root, "control", el);
    char rel[PATH_MAX];
    int given;

    if (c)
        gw_json_check_keys(c, "control", keys, el);
    gw_json_bool(c, "enabled", "control", &sc->control_enabled, 1, el);
    given = gw_json_str(c, "socket", "control", rel, sizeof(rel), "control.sock", 0, el);
    sc->control_explicit = given > 0;
    if (given > 0 && !rel[0])
        gw_errlist_add(el, "control.socket", "must not be empty");
    gw__cfg_resolve(sc->control_socket, sizeof(sc->control_socket), cfg->state_dir, rel);
    /* The default path may be too long under a deep state directory: the
     * daemon then runs without a control socket and says so. A path given
     * explicitly must fit. */
    if (given > 0 && sc->control_enabled && strlen(sc->control_socket) > CFG_SUN_PATH_MAX)
        gw_errlist_add(el, "control.socket",
                       "\"%s\" is %zu characters long: a Unix socket path may have at most %zu",
                       sc->control_socket, strlen(sc->control_socket), CFG_SUN_PATH_MAX);
    if (gw_json_str(c, "group", "control", sc->control_group, sizeof(sc->control_group), "", 0,
                    el) > 0 &&
        sc->control_group[0] && !getgrnam(sc->control_group))
        gw_errlist_add(el, "control.group", "no group named \"%s\" on this system",
                       sc->control_group);
}

/* 1 when addr is an IPv4 address in 127.0.0.0/8 or the IPv6 address ::1. */
static int cfg__is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
    return 0;
}

static void cfg__metrics(gw_service_cfg_t *sc, const cJSON *root, gw_errlist_t *el)
{
    static const char *const keys[] = {"enabled", "address", "port", NULL};
    const cJSON *m = cfg__section(root, "metrics", el);

    if (m)
        gw_json_check_keys(m, "metrics", keys, el);
    gw_json_bool(m, "enabled", "metrics", &sc->metrics_enabled, 0, el);
    if (gw_json_str(m, "address", "metrics", sc->metrics_address, sizeof(sc->metrics_address),
                    "127.0.0.1", 0, el) >= 0 &&
        !cfg__is_loopback(sc->metrics_address))
        gw_errlist_add(el, "metrics.address",
                       "must be a loopback address (127.x.x.x or ::1), got \"%s\": the endpoint "
                       "has no authentication",
                       sc->metrics_address);
    gw_json_int_to(m, "port", "metrics", &sc->metrics_port, 9464, 1, 65535, 0, el);
}

void gw__cfg_service(gw_config_t *cfg, const cJSON *root, gw_errlist_t *el)
{
    cfg__control(&cfg->service, cfg, root, el);
    cfg__metrics(&cfg->service, root, el);
}
