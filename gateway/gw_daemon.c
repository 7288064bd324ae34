/*
 * gw_daemon.c: the daemon (gw_daemon.h): one libuv loop that owns all
 * state, the parts created in order and stopped in the reverse order, and
 * the signals. Everything here runs on the loop thread. Other threads only
 * push onto d->inq; the async callback drains it whole (uv_async sends
 * coalesce) and gw_wire.c hands each message to its part.
 *
 * Work-order events follow the durability order of docs/architecture.md: a
 * rule's action goes to the ledger thread; the change and its outbox row
 * are committed together; only then does the ledger thread hand the row
 * back, and the north side publishes it at QoS 1; the broker's PUBACK
 * deletes the row.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/gw_daemon_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

static void daemon__wake_cb(uv_async_t *h)
{
    gw__drain(h->data);
}

static void daemon__notify(void *arg)
{
    uv_async_send(arg);
}

/* ---- signals and lifecycle --------------------------------------------- */

static void daemon__signal_cb(uv_signal_t *h, int signum)
{
    gw_daemon_t *d = h->data;

    if (signum == SIGHUP) {
        char err[256];
        gw__reload(d, err, sizeof(err));
        return;
    }
    if (d->stopping)
        return;
    gw_log_notice("gw", "%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    d->stopping = 1;
    uv_stop(&d->loop);
}

/* Create the state directory (and parents) if missing, mode 0750, and
 * bring an existing one of ours to 0750: the ledger holds site data and
 * notify.db phone numbers that other users have no business reading. */
static int daemon__make_state_dir(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "state_dir: cannot create %s: %s", path, strerror(errno));
            return GW_EIO;
        }
        *p = '/';
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "state_dir: cannot create %s: %s", path, strerror(errno));
        return GW_EIO;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "state_dir: %s is not a directory", path);
        return GW_EIO;
    }
    if ((st.st_mode & 07777) != 0750 && st.st_uid == geteuid()) {
        if (chmod(path, 0750) == 0)
            gw_log_notice("gw", "state_dir %s: mode %04o set to 0750", path,
                          (unsigned)(st.st_mode & 07777));
        else
            gw_log_warn("gw", "state_dir %s: cannot set mode 0750: %s", path, strerror(errno));
    }
    return 0;
}

/* The loop, its wake-up and signals; the overrides kept for reloads. */
static int daemon__init_loop(gw_daemon_t *d, const gw_config_overrides_t *ov, char *err,
                             size_t errlen)
{
    int rc;

    if (ov && ov->state_dir) {
        snprintf(d->state_dir_ov, sizeof(d->state_dir_ov), "%s", ov->state_dir);
        d->ov.state_dir = d->state_dir_ov;
    }
    if (ov && ov->log_level) { /* kept for reloads: --log-level wins over the file */
        snprintf(d->log_level_ov, sizeof(d->log_level_ov), "%s", ov->log_level);
        d->ov.log_level = d->log_level_ov;
    }
    rc = uv_loop_init(&d->loop);
    if (rc != 0) {
        snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(rc));
        return GW_EIO;
    }
    uv_async_init(&d->loop, &d->wake, daemon__wake_cb);
    d->wake.data = d;
    uv_signal_init(&d->loop, &d->sig_term);
    uv_signal_init(&d->loop, &d->sig_int);
    uv_signal_init(&d->loop, &d->sig_hup);
    d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
    uv_signal_start(&d->sig_term, daemon__signal_cb, SIGTERM);
    uv_signal_start(&d->sig_int, daemon__signal_cb, SIGINT);
    uv_signal_start(&d->sig_hup, daemon__signal_cb, SIGHUP);
    gw_queue_init(&d->inq, daemon__notify, &d->wake);
    return 0;
}

/* The parts, each with only what it needs. */
static int daemon__create_parts(gw_daemon_t *d, char *err, size_t errlen)
{
    gw_north_env_t ne = {.loop = &d->loop, .inq = &d->inq, .core = d->core};
    gw_svc_env_t se = {
        .loop = &d->loop, .core = d->core, .inq = &d->inq, .reload = gw__reload, .reload_arg = d};

    ne.ledger = se.ledger = d->ledger;
    if (gw_north_create(&d->north, &ne) != 0 || gw_svc_create(&d->svc, &se) != 0) {
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    gw_core_set_ledger(d->core, d->ledger);
    gw__wire(d);
    return 0;
}

/* Start in order: the ledger thread, the parts, rule state (then the rules
 * ask the ledger for its active orders), the notifier, MQTT, the buses with
 * their liveness watch, the service. */
static int daemon__start(gw_daemon_t *d, char *err, size_t errlen)
{
    const gw_config_t *cfg = gw_core_config(d->core);
    int rc;

    /* A state directory that cannot be made (a read-only file system) does
     * not stop monitoring: each state file raises its own alarm. */
    if (daemon__make_state_dir(cfg->state_dir, err, errlen) != 0)
        gw_log_error("gw", "%s: monitoring goes on; state files raise their alarms", err);
    rc = ledger_worker_start(&d->ledger, cfg->ledger_path, &d->inq, err, errlen);
    if (rc != 0)
        return rc;
    if (!err[0])
        gw_log_info("ledger", "opened %s", cfg->ledger_path);
    rc = daemon__create_parts(d, err, errlen);
    if (rc != 0)
        return rc;
    /* after the ledger and the listener: a damaged file's alarm reaches both */
    gw_core_rules_state_start(d->core);
    gw_core_ledger_policy(d->core);
    gw_core_reconcile(d->core);
    rc = gw__notify_start(d, err, errlen);
    if (rc != 0)
        return rc;
    rc = gw_north_start(d->north, err, errlen);
    if (rc != 0)
        return rc;
    rc = gw_core_start_buses(d->core, &d->inq, err, errlen);
    if (rc != 0)
        return rc;
    gw_core_liveness_start(d->core);
    return gw_svc_start(d->svc, err, errlen);
}

int gw_daemon_create(gw_daemon_t **out, gw_config_t *cfg, const gw_config_overrides_t *ov,
                     char *err, size_t errlen)
{
    gw_daemon_t *d = calloc(1, sizeof(*d));
    int rc;

    *out = NULL;
    if (!d) {
        gw_config_free(cfg);
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    rc = daemon__init_loop(d, ov, err, errlen);
    if (rc != 0) {
        gw_config_free(cfg);
        free(d);
        return rc;
    }
    rc = gw_core_create(&d->core, &d->loop, cfg, err, errlen);
    if (rc != 0)
        goto out_destroy;
    gw_log_set_level(gw_core_config(d->core)->log_level);
    rc = daemon__start(d, err, errlen);
    if (rc != 0)
        goto out_destroy;
    *out = d;
    return 0;

out_destroy:
    d->stopping = 1;
    gw_daemon_destroy(d);
    return rc;
}

int gw_daemon_run(gw_daemon_t *d)
{
    const gw_runtime_t *rt = gw_core_runtime(d->core);

    gw_log_notice(
        "gw", "plantroomd running: site %s, %zu buses, %zu devices, %zu points, %zu rules",
        rt->cfg->site_id, rt->cfg->nbuses, rt->cfg->ndevices, rt->npoints, rt->cfg->nrules);
    gw_svc_ready(d->svc);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    gw_svc_stop(d->svc);

    /* Shut down in order: no new readings; the last readings judged; every
     * ledger write committed; then MQTT says offline and disconnects. */
    gw_core_stop_buses(d->core);
    gw__drain(d);
    gw_core_shutdown(d->core);
    if (ledger_worker_stop(d->ledger) == 0)
        gw_log_info("ledger", "closed: pending writes committed");
    else
        gw_log_error("ledger", "closed: some writes were never committed (see above)");
    d->ledger = NULL;
    gw_core_set_ledger(d->core, NULL);
    gw_north_stop(d->north);
    gw_notify_stop(d->notify);
    d->notify = NULL;
    gw_log_notice("gw", "stopped");
    return 0;
}

static void daemon__close_cb(uv_handle_t *h)
{
    (void)h;
}

static void daemon__close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, daemon__close_cb);
}

void gw_daemon_destroy(gw_daemon_t *d)
{
    if (!d)
        return;
    gw_core_stop_buses(d->core);
    if (d->ledger)
        ledger_worker_stop(d->ledger);
    gw_north_stop(d->north);
    gw_svc_stop(d->svc);
    gw_notify_stop(d->notify);
    d->notify = NULL;
    uv_walk(&d->loop, daemon__close_walk, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_loop_close(&d->loop);
    gw_north_free(d->north);
    gw_svc_free(d->svc);
    gw_queue_destroy(&d->inq);
    gw_core_free(d->core);
    free(d);
}
