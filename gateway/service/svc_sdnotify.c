/*
 * svc_sdnotify.c: telling systemd how the daemon is (Type=notify), through
 * libsystemd's sd_notify: READY=1 once the config is loaded and the ledger
 * open, STATUS= lines an operator sees in `systemctl status plantroomd`,
 * STOPPING=1, and WATCHDOG=1 pings from a timer on the loop, so that a loop
 * that stalls stops pinging and systemd restarts the service
 * (deploy/plantroomd.service: WatchdogSec=, Restart=on-failure).
 *
 * A ping proves more than the loop: it is sent only when every bus thread
 * and the ledger thread have made progress within their stall limits
 * (gw_core_threads_ok). A thread stuck in a driver call or on a hung disk
 * stops the pings as a stalled loop does, and systemd restarts the daemon
 * (the core raises gateway alarm thread.<name> first, so the reason is in
 * the ledger, the log and MQTT).
 *
 * Outside systemd ($NOTIFY_SOCKET unset) every call is a cheap no-op.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/service/svc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

void svc__sd_notify(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sd_notify(0, msg);
}

static void sd__watchdog_cb(uv_timer_t *t)
{
    gw_svc_t *s = t->data;
    char why[128];

    if (!gw_core_threads_ok(s->env.core, why, sizeof(why))) {
        if (!s->wd_withheld)
            gw_log_error("gw", "systemd watchdog not fed: %s", why);
        s->wd_withheld++;
        return;
    }
    if (s->wd_withheld)
        gw_log_notice("gw", "systemd watchdog fed again (%d pings withheld)", s->wd_withheld);
    s->wd_withheld = 0;
    sd_notify(0, "WATCHDOG=1");
}

/* The watchdog interval systemd asks for ($WATCHDOG_USEC, for this pid):
 * ping at half of it, so one late tick is not yet a restart. */
void svc__sd_watchdog_start(gw_svc_t *s)
{
    uint64_t usec = 0;
    uint64_t ms;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return;
    ms = usec / 2000;
    if (ms == 0)
        ms = 1;
    uv_timer_start(&s->wd_timer, sd__watchdog_cb, 0, ms);
    gw_log_info("gw",
                "systemd watchdog: %llu ms, pinging every %llu ms while every thread makes "
                "progress",
                (unsigned long long)(usec / 1000), (unsigned long long)ms);
}
