/*
 * gw_reload.c: reloading the configuration (SIGHUP, the control socket's
 * "reload"), the way mosquitto does it: parse into a new config, validate,
 * build the new point table, and only then swap. A config that fails
 * leaves the running one in place, with every error logged and the first
 * one returned. site.id and ledger.path cannot change without a restart.
 *
 * The swap: stop the old bus threads (all asked at once, then joined) and
 * handle what they already sent, keeping back the results of writes; stop
 * MQTT if its settings changed (in the background: the loop does not wait
 * for the broker); make the new table current (device and rule states
 * carried over by name); tell every part; start the buses (and MQTT)
 * again; free the old table; hand on the write results; ask the ledger for
 * its active work orders, so that a rule whose state was not carried
 * learns of its order (gw_core_reconcile).
 *
 * A reload never runs inside another: the control socket never runs a
 * request from inside another one's answer (svc_control.c), and one that
 * arrives anyway while a reload runs is refused. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/gw_daemon_int.h"

#include <stdio.h>
#include <string.h>

/* Load and check the new config; NULL with rerr when it cannot be used. */
static gw_config_t *reload__load(gw_daemon_t *d, char *rerr, size_t rerrlen)
{
    const gw_config_t *old = gw_core_config(d->core);
    gw_config_t *cfg = NULL;
    gw_errlist_t el;

    gw_errlist_init(&el);
    if (gw_config_load(old->path, &d->ov, &cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            gw_log_error("config", "%s", el.msgs[i]);
        gw_log_error("gw", "reload failed (%zu errors): keeping the running configuration", el.n);
        snprintf(rerr, rerrlen, "%zu errors, the first: %s", el.n, el.n ? el.msgs[0] : "?");
        gw_errlist_free(&el);
        return NULL;
    }
    gw_errlist_free(&el);
    if (strcmp(cfg->ledger_path, old->ledger_path) != 0 ||
        strcmp(cfg->site_id, old->site_id) != 0) {
        gw_log_error("gw",
                     "reload refused: site.id or ledger.path changed (ledger %s -> %s); restart "
                     "plantroomd to apply; keeping the running configuration",
                     old->ledger_path, cfg->ledger_path);
        snprintf(rerr, rerrlen, "site.id or ledger.path changed: restart plantroomd to apply");
        gw_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Stop the old buses, handle what they sent, swap in rt, start again. */
static void reload__swap(gw_daemon_t *d, gw_runtime_t *rt)
{
    gw_runtime_t *old;
    gw_msg_t *writes;
    char err[256];
    int64_t t0 = gw_mono_ms();

    gw_core_stop_buses(d->core);
    gw_log_info("gw", "reload: buses stopped in %lld ms", (long long)(gw_mono_ms() - t0));
    writes = gw__drain_hold_writes(d);
    gw_north_reload_begin(d->north, rt->cfg);
    old = gw_core_swap(d->core, rt);
    gw_notify_set_config(d->notify, rt->cfg);
    gw_log_set_level(rt->cfg->log_level);
    if (gw_core_start_buses(d->core, &d->inq, err, sizeof(err)) != 0)
        gw_log_error("gw", "reload: %s", err);
    gw_north_reload_end(d->north);
    gw_svc_reloaded(d->svc, old->cfg);
    gw_runtime_free(old);
    gw_core_ledger_policy(d->core);
    gw_core_reconcile(d->core);
    gw__dispatch_list(d, writes); /* their callers hear after the swap */
}

int gw__reload(void *arg, char *rerr, size_t rerrlen)
{
    gw_daemon_t *d = arg;
    gw_runtime_t *rt = NULL;
    gw_config_t *cfg;
    char err[256];
    int rc;

    if (d->reloading) {
        gw_log_warn("gw", "reload refused: a reload is already in progress");
        snprintf(rerr, rerrlen, "a reload is already in progress");
        return GW_ESTATE;
    }
    gw_log_notice("gw", "SIGHUP: reloading %s", gw_core_config(d->core)->path);
    cfg = reload__load(d, rerr, rerrlen);
    if (!cfg)
        return GW_ECONFIG;
    rc = gw_runtime_build(&rt, cfg, err, sizeof(err));
    if (rc != 0) {
        gw_log_error("gw", "reload failed: %s: keeping the running configuration", err);
        snprintf(rerr, rerrlen, "%s", err);
        return rc;
    }
    d->reloading = 1;
    reload__swap(d, rt);
    d->reloading = 0;
    gw_log_notice("gw", "configuration reloaded: %zu buses, %zu devices, %zu points, %zu rules",
                  rt->cfg->nbuses, rt->cfg->ndevices, rt->npoints, rt->cfg->nrules);
    return 0;
}
