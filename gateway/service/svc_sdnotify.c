/*
 * svc_sdnotify.c: telling systemd how the daemon is (Type=notify), through
 * libsystemd's sd_notify: READY=1 once the config is loaded and the ledger
 * open, STATUS= lines an operator sees in `systemctl status plantroomd`,
 * STOPPING=1, and WATCHDOG=1 pings from a timer on the loop, so that a loop
 * that stalls stops pinging and systemd restarts the service
 * (deploy/plantroomd.service: WatchdogSec=, Restart=on-failure).
 *
 * Outside systemd ($NOTIFY_SOCKET unset) every call is a cheap no-op.
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
    (void)t;
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
    gw_log_info("gw", "systemd watchdog: %llu ms, pinging every %llu ms",
                (unsigned long long)(usec / 1000), (unsigned long long)ms);
}
