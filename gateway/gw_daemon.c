/*
 * gw_daemon.c: the loop thread (gw_daemon.h).
 *
 * Everything here runs on the loop thread. Other threads only push onto
 * d->inq; wake() drains it whole (uv_async sends coalesce) and dispatches by
 * message kind: Modbus readings (100s), MQTT events (200s), ledger results
 * (300s).
 *
 * Work-order events follow the durability order of docs/architecture.md: a
 * rule's action goes to the ledger thread; the change and its outbox row are
 * committed together; only then does the ledger thread hand the row back and
 * we publish it at QoS 1; the broker's PUBACK deletes the row. Rows in
 * flight are remembered so a row is not published twice on one connection;
 * on every (re)connect all rows still in the outbox are loaded and sent,
 * oldest first.
 */
#include "gateway/gw_daemon_int.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/core/gw_runtime.h"
#include "protocols/mqtt/mq.h"
#include "store/ledger_worker.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <uv.h>

/* ---- dispatch ---------------------------------------------------------- */

static void daemon__dispatch(gw_daemon_t *d, gw_msg_t *m)
{
    gw__svc_observe(d, m);
    if (m->kind == MB_EV_READING)
        gw__on_reading(d, (mb_reading_t *)m);
    else if (m->kind == MB_EV_BUS_STATE)
        gw__on_bus_state(d, (mb_bus_state_t *)m);
    else if (m->kind == MB_EV_WRITE_DONE)
        gw__on_write_done(d, (mb_write_t *)m);
    else if (m->kind >= 200 && m->kind < 300)
        gw__on_mq_event(d, m);
    else if (m->kind >= 300 && m->kind < 400)
        gw__on_ledger_event(d, m);
}

static void daemon__drain(gw_daemon_t *d)
{
    gw_msg_t *list = gw_queue_take_all(&d->inq);
    while (list) {
        gw_msg_t *next = list->next;
        daemon__dispatch(d, list);
        gw_msg_free(list);
        list = next;
    }
}

static void daemon__wake_cb(uv_async_t *h)
{
    daemon__drain(h->data);
}

static void daemon__notify(void *arg)
{
    uv_async_send(arg);
}

/* ---- reload ------------------------------------------------------------ */

static int daemon__mqtt_cfg_same(const gw_config_t *a, const gw_config_t *b)
{
    return memcmp(&a->mqtt, &b->mqtt, sizeof(a->mqtt)) == 0 && strcmp(a->site_id, b->site_id) == 0;
}

int gw__reload(gw_daemon_t *d, char *rerr, size_t rerrlen)
{
    gw_runtime_t *old = d->rt, *rt = NULL;
    gw_config_t *cfg = NULL;
    gw_errlist_t el;
    char err[256];
    int mq_same, rc;

    gw_log_notice("gw", "SIGHUP: reloading %s", old->cfg->path);
    gw_errlist_init(&el);
    if (gw_config_load(old->cfg->path, &d->ov, &cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            gw_log_error("config", "%s", el.msgs[i]);
        gw_log_error("gw", "reload failed (%zu errors): keeping the running configuration", el.n);
        snprintf(rerr, rerrlen, "%zu errors, the first: %s", el.n, el.n ? el.msgs[0] : "?");
        gw_errlist_free(&el);
        return GW_ECONFIG;
    }
    gw_errlist_free(&el);
    if (strcmp(cfg->ledger_path, old->cfg->ledger_path) != 0 ||
        strcmp(cfg->site_id, old->cfg->site_id) != 0) {
        gw_log_error("gw",
                     "reload refused: site.id or ledger.path changed (ledger %s -> %s); restart "
                     "plantroomd to apply; keeping the running configuration",
                     old->cfg->ledger_path, cfg->ledger_path);
        snprintf(rerr, rerrlen, "site.id or ledger.path changed: restart plantroomd to apply");
        gw_config_free(cfg);
        return GW_ECONFIG;
    }
    mq_same = daemon__mqtt_cfg_same(cfg, old->cfg);
    rc = gw_runtime_build(&rt, cfg, err, sizeof(err));
    if (rc != 0) {
        gw_log_error("gw", "reload failed: %s: keeping the running configuration", err);
        snprintf(rerr, rerrlen, "%s", err);
        return rc;
    }
    /* Stop the old buses and handle what they already sent, then swap. */
    gw_runtime_stop_buses(old);
    daemon__drain(d);
    gw_runtime_carry(rt, old);
    if (!mq_same)
        gw__mq_stop(d);
    d->rt = rt;
    gw_notify_set_config(d->notify, rt->cfg);
    gw_log_set_level(rt->cfg->log_level);
    if (gw_runtime_start_buses(rt, &d->inq, err, sizeof(err)) != 0)
        gw_log_error("gw", "reload: %s", err);
    if (!mq_same && gw__mq_start(d, err, sizeof(err)) != 0)
        gw_log_error("mqtt", "reload: %s", err);
    gw__svc_reloaded(d, old->cfg);
    gw_runtime_free(old);
    gw__ledger_policy(d);
    gw_log_notice("gw", "configuration reloaded: %zu buses, %zu devices, %zu points, %zu rules",
                  rt->cfg->nbuses, rt->cfg->ndevices, rt->npoints, rt->cfg->nrules);
    return 0;
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

/* Create the state directory (and parents) if missing, mode 0750: the
 * ledger holds site data that other users have no business reading. */
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
    return 0;
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
    if (ov && ov->state_dir) {
        snprintf(d->state_dir_ov, sizeof(d->state_dir_ov), "%s", ov->state_dir);
        d->ov.state_dir = d->state_dir_ov;
    }
    if (ov && ov->log_level) { /* kept for reloads: --log-level wins over the file */
        snprintf(d->log_level_ov, sizeof(d->log_level_ov), "%s", ov->log_level);
        d->ov.log_level = d->log_level_ov;
    }
    rc = gw_runtime_build(&d->rt, cfg, err, errlen);
    if (rc != 0)
        goto out_free;
    gw_log_set_level(d->rt->cfg->log_level);
    rc = uv_loop_init(&d->loop);
    if (rc != 0) {
        snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(rc));
        goto out_runtime;
    }
    uv_async_init(&d->loop, &d->wake, daemon__wake_cb);
    d->wake.data = d;
    uv_timer_init(&d->loop, &d->mq_timer);
    d->mq_timer.data = d;
    uv_signal_init(&d->loop, &d->sig_term);
    uv_signal_init(&d->loop, &d->sig_int);
    uv_signal_init(&d->loop, &d->sig_hup);
    d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
    uv_signal_start(&d->sig_term, daemon__signal_cb, SIGTERM);
    uv_signal_start(&d->sig_int, daemon__signal_cb, SIGINT);
    uv_signal_start(&d->sig_hup, daemon__signal_cb, SIGHUP);
    gw_queue_init(&d->inq, daemon__notify, &d->wake);

    rc = daemon__make_state_dir(d->rt->cfg->state_dir, err, errlen);
    if (rc != 0)
        goto out_loop;
    gw__rules_state_start(d);
    rc = ledger_worker_start(&d->ledger, d->rt->cfg->ledger_path, &d->inq, err, errlen);
    if (rc != 0)
        goto out_loop;
    gw_log_info("ledger", "opened %s", d->rt->cfg->ledger_path);
    gw__ledger_policy(d);
    rc = gw__notify_start(d, err, errlen);
    if (rc != 0)
        goto out_ledger;
    rc = gw__mq_start(d, err, errlen);
    if (rc != 0)
        goto out_ledger;
    rc = gw_runtime_start_buses(d->rt, &d->inq, err, errlen);
    if (rc != 0)
        goto out_mq;
    rc = gw__svc_start(d, err, errlen);
    if (rc != 0)
        goto out_mq;
    *out = d;
    return 0;

out_mq:
    gw__mq_stop(d);
out_ledger:
    ledger_worker_stop(d->ledger);
    d->ledger = NULL;
out_loop:
    d->stopping = 1;
    gw_daemon_destroy(d);
    return rc;
out_runtime:
    gw_runtime_free(d->rt);
out_free:
    free(d);
    return rc;
}

int gw_daemon_run(gw_daemon_t *d)
{
    gw_log_notice("gw",
                  "plantroomd running: site %s, %zu buses, %zu devices, %zu points, %zu rules",
                  d->rt->cfg->site_id, d->rt->cfg->nbuses, d->rt->cfg->ndevices, d->rt->npoints,
                  d->rt->cfg->nrules);
    gw__svc_ready(d);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    gw__svc_stop(d);

    /* Shut down in order: no new readings; the last readings judged; every
     * ledger write committed; then MQTT says offline and disconnects. */
    gw_runtime_stop_buses(d->rt);
    daemon__drain(d);
    gw__rules_state_stop(d);
    gw__rollup_flush(d);
    if (ledger_worker_stop(d->ledger) == 0)
        gw_log_info("ledger", "closed: pending writes committed");
    else
        gw_log_error("ledger", "closed: some writes were never committed (see above)");
    d->ledger = NULL;
    gw__mq_stop(d);
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
    if (d->rt)
        gw_runtime_stop_buses(d->rt);
    if (d->ledger)
        ledger_worker_stop(d->ledger);
    if (d->mq) {
        mq_destroy(d->mq);
        d->mq = NULL;
    }
    gw__svc_stop(d);
    gw_notify_stop(d->notify);
    d->notify = NULL;
    uv_walk(&d->loop, daemon__close_walk, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_loop_close(&d->loop);
    gw__north_free(d);
    gw_queue_destroy(&d->inq);
    gw_runtime_free(d->rt);
    gw__rollup_free(d);
    gw__writes_free(d);
    free(d->inflight);
    gw_figures_free(&d->fig);
    free(d);
}
