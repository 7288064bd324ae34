/*
 * ctl_status.c: plantroomctl's commands onto the running daemon and its
 * ledger as a whole:
 *
 *   plantroomctl status [--json] [--socket PATH]   what the daemon is doing
 *   plantroomctl reload [--json] [--socket PATH]   reload its config (as SIGHUP)
 *   plantroomctl backup FILE [--json]              online copy of the ledger
 *
 * status and reload talk to the daemon's control socket
 * (gateway/service/gw_control.h: one JSON request line, one JSON response
 * line). The socket is --socket, else $PLANTROOM_CONTROL_SOCKET, else
 * "control"."socket" of the config
 * (default "control.sock") under the state directory, found as for the
 * ledger (ctl_ledger.c). backup reads the ledger through SQLite's backup API
 * while the daemon writes (store/ledger_admin.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/ctl/ctl.h"
#include "gateway/base/gw_types.h"
#include "store/ledger_admin.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_REPLY_MAX (16 * 1024 * 1024)
#define CTL_TIMEOUT_S 30 /* a reload restarts the buses: allow for it */

/* ---- where the socket is ----------------------------------------------- */

static const char *ctl_nzs(const char *s)
{
    return s && *s ? s : NULL;
}

static cJSON *ctl_load_json(const char *path, int missing_ok, int *failed)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long n;
    cJSON *root;

    *failed = 0;
    if (!f) {
        if (!(missing_ok && errno == ENOENT)) {
            ctl_error("config", "cannot read config %s: %s", path, strerror(errno));
            *failed = 1;
        }
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = n >= 0 && n < 4 * 1024 * 1024 ? malloc((size_t)n + 1) : NULL;
    if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
        ctl_error("config", "cannot read config %s", path);
        free(text);
        fclose(f);
        *failed = 1;
        return NULL;
    }
    fclose(f);
    text[n] = '\0';
    root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        ctl_error("config", "config %s is not a JSON object", path);
        cJSON_Delete(root);
        *failed = 1;
        return NULL;
    }
    return root;
}

static const char *ctl_json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* Resolve the control socket's path into out (see the file comment). */
static int ctl_socket_path(const ctl_global_t *g, const char *opt, char *out, size_t len)
{
    const char *config = ctl_nzs(g->config) ? g->config : ctl_nzs(getenv("PLANTROOM_CONFIG"));
    const char *state =
        ctl_nzs(g->state_dir) ? g->state_dir : ctl_nzs(getenv("PLANTROOM_STATE_DIR"));
    const char *sock = "control.sock", *cfg_state;
    char cfgdir[PATH_MAX], statebuf[PATH_MAX];
    cJSON *root;
    int failed;

    if (ctl_nzs(opt) || ctl_nzs(getenv("PLANTROOM_CONTROL_SOCKET"))) {
        snprintf(out, len, "%s", ctl_nzs(opt) ? opt : getenv("PLANTROOM_CONTROL_SOCKET"));
        return 0;
    }
    root = ctl_load_json(config ? config : CTL_DEFAULT_CONFIG, config == NULL, &failed);
    if (failed)
        return GW_ECONFIG;
    if (!config)
        config = CTL_DEFAULT_CONFIG;
    if (root && ctl_json_str(cJSON_GetObjectItemCaseSensitive(root, "control"), "socket"))
        sock = ctl_json_str(cJSON_GetObjectItemCaseSensitive(root, "control"), "socket");
    cfg_state = root ? ctl_json_str(root, "state_dir") : NULL;
    if (!state && cfg_state) {
        const char *slash = strrchr(config, '/');
        snprintf(cfgdir, sizeof(cfgdir), "%.*s", slash ? (int)(slash - config) : 1,
                 slash ? config : ".");
        if (slash == config)
            snprintf(cfgdir, sizeof(cfgdir), "/");
        if (cfg_state[0] == '/')
            snprintf(statebuf, sizeof(statebuf), "%s", cfg_state);
        else
            snprintf(statebuf, sizeof(statebuf), "%s/%s", cfgdir, cfg_state);
        state = statebuf;
    }
    if (!state)
        state = CTL_DEFAULT_STATE_DIR;
    if (sock[0] == '/')
        snprintf(out, len, "%s", sock);
    else
        snprintf(out, len, "%s/%s", state, sock);
    cJSON_Delete(root);
    return 0;
}

/* ---- talking to the daemon ---------------------------------------------- */

static int ctl_send_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -errno;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Send the request (one JSON line, text without the newline) and return the
 * parsed response, NULL after printing why. */
static cJSON *ctl_request(const char *path, const char *req_json)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = CTL_TIMEOUT_S};
    char *req = NULL, *buf = NULL, *nl = NULL;
    size_t len = 0, cap = 0;
    cJSON *resp = NULL;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        ctl_error("unreachable", "control socket path too long: %s", path);
        return NULL;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        ctl_error("unreachable", "cannot reach plantroomd at %s: %s%s", path, strerror(errno),
                  errno == ENOENT || errno == ECONNREFUSED ? " (is it running?)"
                  : errno == EACCES                        ? " (run as root or a member of the "
                                                             "socket's group)"
                                                           : "");
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    req = malloc(strlen(req_json) + 2);
    if (!req) {
        ctl_error("no_memory", "out of memory");
        goto out;
    }
    sprintf(req, "%s\n", req_json);
    if (ctl_send_all(fd, req, strlen(req)) != 0) {
        ctl_error("unreachable", "sending to %s: %s", path, strerror(errno));
        goto out;
    }
    while (!nl) {
        ssize_t r;
        if (len + 4096 > cap) {
            char *n = len + 4096 <= CTL_REPLY_MAX ? realloc(buf, cap + 65536) : NULL;
            if (!n) {
                ctl_error("protocol", "reply from %s too large", path);
                goto out;
            }
            buf = n;
            cap += 65536;
        }
        r = recv(fd, buf + len, cap - len - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ctl_error("unreachable", "no reply from %s: %s", path,
                      r == 0 ? "connection closed" : strerror(errno));
            goto out;
        }
        buf[len + (size_t)r] = '\0';
        nl = memchr(buf + len, '\n', (size_t)r);
        len += (size_t)r;
    }
    resp = cJSON_ParseWithLength(buf, (size_t)(nl - buf));
    if (!cJSON_IsObject(resp)) {
        ctl_error("protocol", "malformed reply from %s", path);
        cJSON_Delete(resp);
        resp = NULL;
    }
out:
    if (fd >= 0)
        close(fd);
    free(req);
    free(buf);
    return resp;
}

/* ---- human output -------------------------------------------------------- */

static double ctl_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *ctl_str(const cJSON *o, const char *key, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : def;
}

/* "2026-11-28T06:01:02.123Z" as local "2026-11-28 07:01:02", "-" for null. */
static const char *ctl_local(const char *iso, char *buf, size_t len)
{
    struct tm tm = {0};
    time_t t;

    if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm))
        return "-";
    t = timegm(&tm);
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

static void ctl_print_uptime(double s, char *buf, size_t len)
{
    long t = (long)s;
    if (t >= 86400)
        snprintf(buf, len, "%ldd %02ldh", t / 86400, t % 86400 / 3600);
    else if (t >= 3600)
        snprintf(buf, len, "%ldh %02ldm", t / 3600, t % 3600 / 60);
    else
        snprintf(buf, len, "%ldm %02lds", t / 60, t % 60);
}

static void ctl_print_buses_devices(const cJSON *r)
{
    const cJSON *it, *p;
    char ts[32];

    printf("\n%-16s %-9s %-8s %10s %8s %10s\n", "BUS", "CONNECTED", "DEVICES", "POLLS", "ERRORS",
           "LATENCY");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "buses"))
    {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "connected");
        char devs[32];
        snprintf(devs, sizeof(devs), "%.0f/%.0f", ctl_num(it, "devices_online"),
                 ctl_num(it, "devices"));
        printf("%-16s %-9s %-8s %10.0f %8.0f %7.1f ms\n", ctl_str(it, "name", "?"),
               cJSON_IsBool(c) ? (cJSON_IsTrue(c) ? "yes" : "no") : "-", devs, ctl_num(it, "polls"),
               ctl_num(it, "errors"), ctl_num(it, "latency_avg_ms"));
    }
    printf("\n%-16s %-8s %-19s %8s %7s  %s\n", "DEVICE", "STATUS", "LAST POLL", "POLLS", "ERRORS",
           "LAST ERROR");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "devices"))
    {
        printf("%-16s %-8s %-19s %8.0f %7.0f  %s\n", ctl_str(it, "name", "?"),
               ctl_str(it, "status", "?"),
               ctl_local(ctl_str(it, "last_poll", NULL), ts, sizeof(ts)), ctl_num(it, "polls"),
               ctl_num(it, "errors"), ctl_str(it, "last_error", "-"));
    }
    printf("\n%-16s %-24s %14s %-8s %s\n", "DEVICE", "POINT", "VALUE", "UNIT", "QUALITY");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "devices"))
    {
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(it, "points"))
        {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "value");
            char val[32] = "-";
            if (cJSON_IsNumber(v))
                snprintf(val, sizeof(val), "%.10g", v->valuedouble);
            printf("%-16s %-24s %14s %-8s %s\n", ctl_str(it, "name", "?"), ctl_str(p, "name", "?"),
                   val, ctl_str(p, "unit", ""), ctl_str(p, "quality", "?"));
        }
    }
}

/* "storage: ledger full, 37 ops wait (peak 37 of 10000), 2 provisional
 * events; telemetry buffer: memory 0/1000, spool 12/100000" */
static void ctl_print_storage(const cJSON *r)
{
    const cJSON *l =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "storage"), "ledger");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "mqtt"),
                                                      "telemetry_buffer");

    if (!cJSON_IsObject(l))
        return;
    printf("\nstorage: ledger %s, %.0f ops wait (peak %.0f of %.0f)", ctl_str(l, "state", "?"),
           ctl_num(l, "queue_depth"), ctl_num(l, "queue_peak"), ctl_num(l, "queue_max"));
    if (ctl_num(l, "provisional_events") > 0 || ctl_num(l, "dropped") > 0 ||
        ctl_num(l, "refused") > 0)
        printf(", %.0f provisional events, %.0f dropped, %.0f refused",
               ctl_num(l, "provisional_events"), ctl_num(l, "dropped"), ctl_num(l, "refused"));
    if (cJSON_IsObject(b))
        printf("; telemetry buffer: memory %.0f/%.0f, spool %.0f/%.0f%s", ctl_num(b, "memory"),
               ctl_num(b, "memory_max"), ctl_num(b, "spool"), ctl_num(b, "spool_max"),
               cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(b, "spool_ok")) ? " (failing)" : "");
}

static void ctl_print_north_rules(const cJSON *r)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "mqtt");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(r, "ledger");
    const cJSON *wo = cJSON_GetObjectItemCaseSensitive(l, "work_orders");
    const cJSON *it, *f;
    char ts[32];

    printf("\nmqtt: %s %s; telemetry published %.0f, dropped %.0f; events delivered %.0f, "
           "in flight %.0f\n",
           !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "enabled"))    ? "disabled"
           : cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "connected")) ? "connected to"
                                                                            : "NOT connected to",
           ctl_str(m, "uri", "?"), ctl_num(m, "telemetry_published"),
           ctl_num(m, "telemetry_dropped"), ctl_num(m, "events_delivered"),
           ctl_num(m, "events_inflight"));
    f = cJSON_GetObjectItemCaseSensitive(m, "client_queue");
    if (cJSON_IsObject(f) && strcmp(ctl_str(f, "state", "ok"), "ok") != 0)
        printf("mqtt: %s (client queue %.0f of %.0f bytes, %.0f devices waiting)\n",
               ctl_str(f, "state", "?"), ctl_num(f, "bytes"), ctl_num(f, "max_bytes"),
               ctl_num(f, "telemetry_waiting"));
    if (cJSON_IsObject(f = cJSON_GetObjectItemCaseSensitive(m, "publish_failures")))
        printf("mqtt publish failures: events %.0f, telemetry %.0f\n", ctl_num(f, "event"),
               ctl_num(f, "telemetry"));
    printf("ledger: %s; queue %.0f", ctl_str(l, "path", "?"), ctl_num(l, "queue_depth"));
    if (cJSON_IsObject(wo)) {
        printf("; outbox %.0f; work orders:", ctl_num(l, "outbox_depth"));
        cJSON_ArrayForEach(it, wo) printf(" %s %.0f", it->string, it->valuedouble);
    }
    ctl_print_storage(r);
    printf("\n\n%-16s %-20s %-24s %-8s %s\n", "DEVICE", "RULE", "POINT", "STATE", "SINCE");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r, "rules"))
    {
        printf("%-16s %-20s %-24s %-8s %s\n", ctl_str(it, "device", "?"), ctl_str(it, "name", "?"),
               ctl_str(it, "point", "?"), ctl_str(it, "state", "?"),
               ctl_local(ctl_str(it, "since", NULL), ts, sizeof(ts)));
    }
}

/* The notifier (docs/hooks.md): the health of notify.db and its bounds. */
static void ctl_print_notify(const cJSON *r)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(r, "notify");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(n, "memory");

    if (!cJSON_IsObject(n))
        return;
    printf("\nnotify: notify.db %s; queue %.0f (max %.0f); messages pending %.0f (max %.0f); "
           "deliveries %.0f, failed %.0f; in memory: %.0f event ids, %.0f alerts\n",
           ctl_str(n, "store", "?"), ctl_num(n, "queue"), ctl_num(n, "queue_max"),
           ctl_num(m, "pending"), ctl_num(m, "max_pending"), ctl_num(n, "delivered"),
           ctl_num(n, "failures"), ctl_num(m, "seen"), ctl_num(m, "alerts"));
}

static void ctl_print_status(const cJSON *r)
{
    const cJSON *loop = cJSON_GetObjectItemCaseSensitive(r, "loop");
    char up[32];

    ctl_print_uptime(ctl_num(r, "uptime_s"), up, sizeof(up));
    printf("plantroomd %s: site %s, up %s, pid %.0f, log %s\n", ctl_str(r, "version", "?"),
           ctl_str(r, "site", "?"), up, ctl_num(r, "pid"), ctl_str(r, "log_level", "?"));
    printf("loop: lag %.1f ms (max %.1f ms), queue %.0f, %.1f points/s\n", ctl_num(loop, "lag_ms"),
           ctl_num(loop, "lag_max_ms"), ctl_num(loop, "queue_depth"),
           ctl_num(loop, "points_per_s"));
    ctl_print_buses_devices(r);
    ctl_print_north_rules(r);
    ctl_print_notify(r);
}

/* ---- commands ------------------------------------------------------------ */

/* Options of status and reload: --json, --socket PATH, global ones. */
static int ctl_daemon_opts(ctl_global_t *g, int argc, char **argv, int *json, const char **sock)
{
    int i = 0, m;

    while (i < argc) {
        if ((m = ctl_opt(argc, argv, &i, "--json", NULL)) != 0) {
            *json = 1;
            continue;
        }
        if ((m = ctl_opt(argc, argv, &i, "--socket", sock)) != 0) {
            if (m < 0)
                return CTL_EXIT_USAGE;
            continue;
        }
        m = ctl_global_opt(g, argc, argv, &i);
        if (m < 0)
            return CTL_EXIT_USAGE;
        if (m == 0)
            return ctl_usage_error("unknown option or argument %s", argv[i]);
    }
    return 0;
}

/* Ask the daemon cmd (with the arguments in args, may be NULL; taken);
 * print the result (JSON or via print). */
static int ctl_daemon_cmd(ctl_global_t *g, int argc, char **argv, const char *cmd, cJSON *args,
                          void (*print)(const cJSON *))
{
    const char *sock = NULL;
    char path[PATH_MAX], *reqtext;
    int json = 0, rc;
    cJSON *resp, *req = args ? args : cJSON_CreateObject();
    const cJSON *ok;

    rc = ctl_daemon_opts(g, argc, argv, &json, &sock);
    if (rc == 0 && ctl_socket_path(g, sock, path, sizeof(path)) != 0)
        rc = CTL_EXIT_FAIL;
    if (rc != 0) {
        cJSON_Delete(req);
        return rc;
    }
    cJSON_AddStringToObject(req, "cmd", cmd);
    reqtext = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (!reqtext) {
        ctl_error("no_memory", "out of memory");
        return CTL_EXIT_FAIL;
    }
    resp = ctl_request(path, reqtext);
    free(reqtext);
    if (!resp)
        return CTL_EXIT_FAIL;
    ok = cJSON_GetObjectItemCaseSensitive(resp, "ok");
    if (json) {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(resp, "result");
        char *text = cJSON_Print(cJSON_IsTrue(ok) ? res : resp);
        if (text)
            printf("%s\n", text);
        free(text);
    } else if (cJSON_IsTrue(ok)) {
        print(cJSON_GetObjectItemCaseSensitive(resp, "result"));
    }
    if (!cJSON_IsTrue(ok))
        ctl_error("daemon", "%s: %s", cmd, ctl_str(resp, "error", "failed"));
    rc = cJSON_IsTrue(ok) ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    cJSON_Delete(resp);
    if (fflush(stdout) != 0)
        return CTL_EXIT_FAIL;
    return rc;
}

static int ctl_status(ctl_global_t *g, int argc, char **argv)
{
    return ctl_daemon_cmd(g, argc, argv, "status", NULL, ctl_print_status);
}

static void ctl_print_reload(const cJSON *r)
{
    printf("reloaded %s: %.0f buses, %.0f devices, %.0f points, %.0f rules\n",
           ctl_str(r, "config", "?"), ctl_num(r, "buses"), ctl_num(r, "devices"),
           ctl_num(r, "points"), ctl_num(r, "rules"));
}

static int ctl_reload(ctl_global_t *g, int argc, char **argv)
{
    return ctl_daemon_cmd(g, argc, argv, "reload", NULL, ctl_print_reload);
}

static void ctl_print_write(const cJSON *r)
{
    printf("wrote %s.%s = %g (%s, as %s)\n", ctl_str(r, "device", "?"), ctl_str(r, "point", "?"),
           ctl_num(r, "value"), ctl_str(r, "function", "?"), ctl_str(r, "by", "?"));
}

/* write DEVICE POINT VALUE: a Modbus write (FC 5/6/15/16) through the
 * running daemon, which owns the bus; answers once the device did. The
 * daemon records the caller's Unix user (from the socket); --by (default
 * $SUDO_USER) goes into the audit row only as who the caller says it
 * acts for. */
static int ctl_write(ctl_global_t *g, int argc, char **argv)
{
    const char *by = getenv("SUDO_USER");
    char *rest[64], *end;
    double value;
    cJSON *args;
    int n = 0;

    if (argc < 3 || argv[0][0] == '-' || argv[1][0] == '-')
        return ctl_usage_error("%s", "write needs DEVICE POINT VALUE");
    errno = 0;
    value = strtod(argv[2], &end);
    if (errno != 0 || end == argv[2] || *end != '\0' || !isfinite(value))
        return ctl_usage_error("write: VALUE must be a number, got '%s'", argv[2]);
    /* --by NAME is this verb's; the rest go to the common daemon options */
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--by") == 0) {
            if (i + 1 >= argc)
                return ctl_usage_error("option %s needs a value", "--by");
            by = argv[++i];
        } else if (strncmp(argv[i], "--by=", 5) == 0) {
            by = argv[i] + 5;
        } else if (n < (int)(sizeof(rest) / sizeof(rest[0]))) {
            rest[n++] = argv[i];
        }
    }
    args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "device", argv[0]);
    cJSON_AddStringToObject(args, "point", argv[1]);
    cJSON_AddNumberToObject(args, "value", value);
    if (by)
        cJSON_AddStringToObject(args, "by", by);
    return ctl_daemon_cmd(g, n, rest, "write", args, ctl_print_write);
}

static int ctl_backup(ctl_global_t *g, int argc, char **argv)
{
    const char *file = NULL;
    ledger_t *lg;
    char err[512];
    int json = 0, pages = 0, i = 0, m, rc;

    while (i < argc) {
        if ((m = ctl_opt(argc, argv, &i, "--json", NULL)) != 0) {
            json = 1;
            continue;
        }
        m = ctl_global_opt(g, argc, argv, &i);
        if (m < 0)
            return CTL_EXIT_USAGE;
        if (m > 0)
            continue;
        if (argv[i][0] == '-' || file)
            return ctl_usage_error("unexpected argument %s", argv[i]);
        file = argv[i++];
    }
    if (!file)
        return ctl_usage_error("%s", "backup needs a FILE to write");
    if (ctl_open_ledger(g, &lg) < 0)
        return CTL_EXIT_FAIL;
    rc = ledger_backup(lg, file, &pages, err, sizeof(err));
    ledger_close(lg);
    if (rc < 0) {
        ctl_error(ctl_code_for(rc), "backup: %s", err);
        return CTL_EXIT_FAIL;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        char *text;
        cJSON_AddBoolToObject(o, "ok", 1);
        cJSON_AddStringToObject(o, "file", file);
        cJSON_AddNumberToObject(o, "pages", pages);
        text = cJSON_PrintUnformatted(o);
        printf("%s\n", text ? text : "null");
        free(text);
        cJSON_Delete(o);
    } else
        printf("ledger backed up to %s (%d pages, checked)\n", file, pages);
    return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_cmds_status[] = {
    {"status", "", ctl_status, "[--json] [--socket PATH]",
     "what the running daemon does: buses, devices, points, broker, ledger, rules"},
    {"reload", "", ctl_reload, "[--json] [--socket PATH]",
     "make the running daemon reload its config (as SIGHUP); fails with the reason"},
    {"write", "", ctl_write, "DEVICE POINT VALUE [--by NAME] [--json] [--socket PATH]",
     "write a point that opts in to writes (\"write\" in its profile or the site config) "
     "through the running daemon; audited with your Unix user (--by: on whose behalf)"},
    {"backup", "", ctl_backup, "FILE [--json]",
     "copy the ledger to FILE (new, 0600) while the daemon runs (SQLite online backup)"},
    {NULL, NULL, NULL, NULL, NULL},
};
