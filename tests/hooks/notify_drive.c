/*
 * notify_drive.c: plantroom-notify-drive, the test seam of notifications.
 *
 * Runs the real notifier (gateway/gw_notify.h: notify.db, routing, grouping,
 * quiet hours, escalation, real child processes and HTTP requests) on its
 * own libuv loop with a real site config, but takes work-order events from
 * its stdin instead of from the ledger, so that a test can produce a storm
 * of 100 alerts in a second. One JSON object a line:
 *
 *   {"event": {...}, "outbox_id": 7}   an outbox payload ("workorder" channel)
 *                                      and its row (0 or absent: provisional)
 *   {"event": {...}, "outbox_id": 8,   the same on another channel (the
 *    "channel": "report"}              monthly report)
 *   {"offline": "lift-1", "value": 1}  mark a device offline (1) or online (0)
 *   {"status": true}                   log "drive: status <the status JSON>"
 *   {"reload": true}                   read the config file again and apply it
 *   {"fault": "full"}                  writes to notify.db fail from now on as
 *                                      a full disk would ("readonly", "io";
 *                                      "none" ends it): tests/hooks/fault_vfs.h
 *
 * What the notifier tells its host is logged: "drive: event_stored <id>",
 * "drive: alarm <key> raised: <detail>", "drive: alarm <key> cleared".
 *
 * Usage: plantroom-notify-drive --config FILE [--fault MODE] (a fault set
 * before start). SIGTERM or SIGINT stops it.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config.h"
#include "gateway/base/gw_log.h"
#include "gateway/notify/gw_notify.h"
#include "fault_vfs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

typedef struct drive {
    uv_loop_t loop;
    uv_pipe_t in;
    uv_signal_t sig_term, sig_int;
    gw_config_t *cfg;
    gw_notify_t *notify;
    char *buf;
    size_t len;
    char offline[64][64];
    int noffline;
} drive_t;

static void drive__location(void *arg, const char *device, const char **b, const char **f,
                            const char **r)
{
    drive_t *d = arg;
    int i = gw_config_device_index(d->cfg, device);

    if (i < 0)
        return;
    *b = d->cfg->devices[i].building;
    *f = d->cfg->devices[i].floor;
    *r = d->cfg->devices[i].room;
}

static int drive__offline(void *arg, const char *device)
{
    drive_t *d = arg;

    for (int i = 0; i < d->noffline; i++) {
        if (strcmp(d->offline[i], device) == 0)
            return 1;
    }
    return 0;
}

static void drive__set_offline(drive_t *d, const char *device, int off)
{
    for (int i = 0; i < d->noffline; i++) {
        if (strcmp(d->offline[i], device) == 0) {
            if (!off)
                memcpy(d->offline[i], d->offline[--d->noffline], sizeof(d->offline[i]));
            return;
        }
    }
    if (off && d->noffline < 64)
        snprintf(d->offline[d->noffline++], sizeof(d->offline[0]), "%s", device);
}

static void drive__stored(void *arg, int64_t outbox_id)
{
    (void)arg;
    gw_log_notice("drive", "event_stored %lld", (long long)outbox_id);
}

static void drive__alarm(void *arg, const char *key, int raised, const char *detail)
{
    (void)arg;
    if (raised)
        gw_log_notice("drive", "alarm %s raised: %s", key, detail);
    else
        gw_log_notice("drive", "alarm %s cleared", key);
}

static void drive__status(drive_t *d)
{
    cJSON *res = cJSON_CreateObject();
    char *text;

    gw_notify_status_json(d->notify, res);
    text = cJSON_PrintUnformatted(res);
    gw_log_notice("drive", "status %s", text ? text : "{}");
    free(text);
    cJSON_Delete(res);
}

static void drive__reload(drive_t *d)
{
    gw_config_t *cfg = NULL;
    gw_errlist_t el;

    gw_errlist_init(&el);
    if (gw_config_load(d->cfg->path, NULL, &cfg, &el) != 0) {
        gw_log_error("drive", "reload: %zu errors", el.n);
    } else {
        gw_notify_set_config(d->notify, cfg);
        gw_config_free(d->cfg);
        d->cfg = cfg;
        gw_log_notice("drive", "reloaded");
    }
    gw_errlist_free(&el);
}

static void drive__event(drive_t *d, const cJSON *o, const cJSON *ev)
{
    double id = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "outbox_id"));
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "channel");
    char *text = cJSON_PrintUnformatted(ev);

    if (text)
        gw_notify_on_event(d->notify, id > 0 && id < 9e15 ? (int64_t)id : 0,
                           cJSON_IsString(ch) ? ch->valuestring : "workorder", text);
    free(text);
}

static void drive__line(drive_t *d, const char *line)
{
    cJSON *o = cJSON_Parse(line), *ev, *off, *fault;

    if (!o) {
        if (line[0])
            gw_log_warn("drive", "not JSON: %s", line);
        return;
    }
    ev = cJSON_GetObjectItemCaseSensitive(o, "event");
    off = cJSON_GetObjectItemCaseSensitive(o, "offline");
    fault = cJSON_GetObjectItemCaseSensitive(o, "fault");
    if (cJSON_IsObject(ev)) {
        drive__event(d, o, ev);
    } else if (cJSON_IsString(off)) {
        drive__set_offline(d, off->valuestring,
                           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "value")) != 0);
    } else if (cJSON_IsString(fault) && fault_vfs_parse(fault->valuestring) >= 0) {
        fault_vfs_set((fault_vfs_mode_t)fault_vfs_parse(fault->valuestring));
        gw_log_notice("drive", "fault %s", fault->valuestring);
    } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "status"))) {
        drive__status(d);
    } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "reload"))) {
        drive__reload(d);
    }
    cJSON_Delete(o);
}

static void drive__alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(size);
    buf->len = buf->base ? size : 0;
}

static void drive__read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    drive_t *d = s->data;

    if (nread > 0) {
        char *g = realloc(d->buf, d->len + (size_t)nread + 1);
        if (g) {
            memcpy(g + d->len, buf->base, (size_t)nread);
            d->buf = g;
            d->len += (size_t)nread;
            d->buf[d->len] = '\0';
            char *nl;
            while ((nl = memchr(d->buf, '\n', d->len)) != NULL) {
                *nl = '\0';
                drive__line(d, d->buf);
                d->len -= (size_t)(nl + 1 - d->buf);
                memmove(d->buf, nl + 1, d->len + 1);
            }
        }
    } else if (nread < 0) {
        uv_read_stop(s); /* EOF: keep running until a signal */
    }
    free(buf->base);
}

static void drive__signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

static void drive__close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv)
{
    static drive_t d;
    gw_errlist_t el;
    gw_notify_env_t env = {drive__location, drive__offline, drive__stored, drive__alarm, &d};
    char err[256];

    gw_log_init();
    if ((argc != 3 && argc != 5) || strcmp(argv[1], "--config") != 0 ||
        (argc == 5 && (strcmp(argv[3], "--fault") != 0 || fault_vfs_parse(argv[4]) < 0))) {
        fprintf(stderr, "usage: plantroom-notify-drive --config FILE [--fault MODE]\n");
        return 2;
    }
    if (fault_vfs_register("notify.db") != 0) {
        fprintf(stderr, "cannot register the test VFS\n");
        return 1;
    }
    if (argc == 5)
        fault_vfs_set((fault_vfs_mode_t)fault_vfs_parse(argv[4]));
    gw_errlist_init(&el);
    if (gw_config_load(argv[2], NULL, &d.cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            fprintf(stderr, "%s\n", el.msgs[i]);
        gw_errlist_free(&el);
        return 2;
    }
    gw_errlist_free(&el);
    gw_log_set_level(d.cfg->log_level);
    if (mkdir(d.cfg->state_dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: %s\n", d.cfg->state_dir, strerror(errno));
        gw_config_free(d.cfg);
        return 1;
    }
    uv_loop_init(&d.loop);
    if (gw_notify_start(&d.notify, &d.loop, d.cfg, &env, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        gw_config_free(d.cfg);
        return 1;
    }
    uv_pipe_init(&d.loop, &d.in, 0);
    uv_pipe_open(&d.in, 0);
    d.in.data = &d;
    uv_read_start((uv_stream_t *)&d.in, drive__alloc, drive__read);
    uv_signal_init(&d.loop, &d.sig_term);
    uv_signal_init(&d.loop, &d.sig_int);
    uv_signal_start(&d.sig_term, drive__signal, SIGTERM);
    uv_signal_start(&d.sig_int, drive__signal, SIGINT);
    gw_log_notice("drive", "running");
    uv_run(&d.loop, UV_RUN_DEFAULT);

    gw_notify_stop(d.notify);
    uv_walk(&d.loop, drive__close_walk, NULL);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    uv_loop_close(&d.loop);
    gw_config_free(d.cfg);
    free(d.buf);
    gw_log_notice("drive", "stopped");
    return 0;
}
