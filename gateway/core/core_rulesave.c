/*
 * core_rulesave.c: rule state across restarts: state_dir/rules.state is
 * loaded into the rules at start (gw_rulestate.c has the file format, and
 * brings the saved times onto this run's clocks), saved soon after every
 * rule transition (into or out of firing, a re-arm, a reconciliation with
 * the ledger), every rules_state.save_interval_s and at a clean stop.
 * docs/architecture.md, "Rules: state across reloads and restarts".
 *
 * When storage fails (docs/operations.md, "When storage fails"): a damaged
 * file is moved aside as rules.state.corrupt-<UTC> (never overwritten: it
 * is the evidence) and the rules start fresh, with the gateway alarm
 * storage.rules_state until the daemon restarts; a save that fails (disk
 * full, read-only) raises the same alarm, which the next good save clears.
 * Loop thread only; the writes run on libuv's pool, one at a time.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/core/core_int.h"
#include "gateway/core/gw_rules.h"
#include "store/store_file.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>

#define RULESAVE_ALARM "storage.rules_state"

/* The outcome of a save: the alarm raised while saves fail, cleared (or
 * back to the damaged file's detail) once one works. */
static void rulesave__outcome(gw_core_t *c, int rc, const char *why, const char *err)
{
    if (rc != 0) {
        gw_log_error("rules", "saving rule state (%s): %s", why, err);
        gw_core_alarm_raise(c, RULESAVE_ALARM, GW_PRIO_CRITICAL,
                            "rules.state cannot be saved: learning since the last save is lost "
                            "at a restart: %.100s",
                            err);
        return;
    }
    gw_log_debug("rules", "rule state saved to %s (%s)", c->rt->cfg->rules_state_path, why);
    if (c->rs_corrupt[0])
        gw_core_alarm_raise(c, RULESAVE_ALARM, GW_PRIO_CRITICAL, "%s", c->rs_corrupt);
    else
        gw_core_alarm_clear(c, RULESAVE_ALARM);
}

static void rulesave__save(gw_core_t *c, const char *why)
{
    char err[256];
    const char *path = c->rt->cfg->rules_state_path;
    int rc = gw_rulestate_save(c->rt, path, err, sizeof(err));

    rulesave__outcome(c, rc, why, err);
}

/* The periodic save: the image is taken on the loop (it reads rule state),
 * the write and its fsyncs run on libuv's pool, so that a slow flash card
 * never stalls the loop. One write at a time. */
typedef struct rulesave__job {
    uv_work_t req;
    gw_core_t *c;
    void *buf;
    size_t len;
    char path[PATH_MAX];
    const char *why; /* "timer", "transition" */
    int rc;
    char err[256];
} rulesave__job_t;

static int rulesave__write(gw_core_t *c, const char *why);

static void rulesave__write_work(uv_work_t *req)
{
    rulesave__job_t *j = req->data;
    j->rc = gw_rulestate_write(j->path, j->buf, j->len, j->err, sizeof(j->err));
}

static void rulesave__write_done(uv_work_t *req, int status)
{
    rulesave__job_t *j = req->data;
    gw_core_t *c = j->c;

    rulesave__outcome(c, status != 0 ? status : j->rc, j->why,
                      status != 0 ? uv_strerror(status) : j->err);
    c->rs_writing = 0;
    free(j->buf);
    free(j);
    if (c->rs_again) {
        c->rs_again = 0;
        rulesave__write(c, "transition");
    }
}

/* Take the image now and write it on the pool. 0, or -1 when a write is in
 * flight already (the caller decides whether to come back). */
static int rulesave__write(gw_core_t *c, const char *why)
{
    rulesave__job_t *j;

    if (c->rs_writing)
        return -1;
    j = calloc(1, sizeof(*j));
    if (!j || gw_rulestate_encode(c->rt, &j->buf, &j->len) != 0) {
        free(j);
        gw_log_error("rules", "saving rule state (%s): out of memory", why);
        return 0;
    }
    j->c = c;
    j->why = why;
    j->req.data = j;
    snprintf(j->path, sizeof(j->path), "%s", c->rt->cfg->rules_state_path);
    if (uv_queue_work(c->loop, &j->req, rulesave__write_work, rulesave__write_done) != 0) {
        free(j->buf);
        free(j);
        rulesave__save(c, why);
        return 0;
    }
    c->rs_writing = 1;
    return 0;
}

static void rulesave__save_cb(uv_timer_t *t)
{
    rulesave__write(t->data, "timer"); /* one in flight: the next tick writes */
}

static void rulesave__soon_cb(uv_timer_t *t)
{
    gw_core_t *c = t->data;

    if (rulesave__write(c, "transition") != 0)
        c->rs_again = 1; /* after the write in flight */
}

void core__rules_state_soon(gw_core_t *c)
{
    /* A short delay gathers the transitions of one poll cycle into one write. */
    if (c->rs_started && !uv_is_active((uv_handle_t *)&c->rs_soon))
        uv_timer_start(&c->rs_soon, rulesave__soon_cb, 50, 0);
}

/* A damaged rules.state: moved aside, never overwritten; the alarm. */
static void rulesave__damaged(gw_core_t *c, const char *why)
{
    const char *path = c->rt->cfg->rules_state_path;
    char moved[PATH_MAX + 64], err[512];

    if (store_file_quarantine(path, moved, sizeof(moved), err, sizeof(err)) == 0)
        snprintf(c->rs_corrupt, sizeof(c->rs_corrupt),
                 "rules.state was corrupt: moved aside to %s; rules start fresh", basename(moved));
    else
        snprintf(c->rs_corrupt, sizeof(c->rs_corrupt),
                 "rules.state is corrupt and cannot be moved aside: %.120s", err);
    gw_log_error("rules", "%s: %s", why, c->rs_corrupt);
    gw_core_alarm_raise(c, RULESAVE_ALARM, GW_PRIO_CRITICAL, "%s", c->rs_corrupt);
}

void core__rules_state_start(gw_core_t *c)
{
    char err[256];
    gw_rulestate_counts_t n;
    uint64_t every = (uint64_t)c->rt->cfg->rules_state_save_s * 1000;
    int rc = gw_rulestate_load(c->rt, c->rt->cfg->rules_state_path, &n, err, sizeof(err));

    store_file_private(c->rt->cfg->rules_state_path, NULL, 0);
    if (rc == GW_ECORRUPT)
        rulesave__damaged(c, err);
    else if (rc != 0)
        gw_log_warn("rules", "rule state not loaded: %s: rules start fresh", err);
    else if (n.loaded + n.skipped > 0)
        gw_log_notice("rules",
                      "rule state loaded from %s: %zu rules restored, %zu records unmatched",
                      c->rt->cfg->rules_state_path, n.loaded, n.skipped);
    if (rc == 0 && n.bounded > 0)
        gw_log_warn("rules",
                    "rule state: %zu rules held times in the future (a clock or a report from "
                    "ahead): bounded to now",
                    n.bounded);
    uv_timer_init(c->loop, &c->rs_timer);
    uv_timer_init(c->loop, &c->rs_soon);
    c->rs_timer.data = c->rs_soon.data = c;
    c->rs_started = 1;
    uv_timer_start(&c->rs_timer, rulesave__save_cb, every, every);
}

void core__rules_state_stop(gw_core_t *c)
{
    if (c->rs_started) {
        uv_timer_stop(&c->rs_timer);
        uv_timer_stop(&c->rs_soon);
    }
    c->rs_again = 0;
    /* A periodic write in flight uses the same .new file: let it finish. */
    while (c->rs_writing)
        uv_run(c->loop, UV_RUN_ONCE);
    rulesave__save(c, "shutdown");
}
