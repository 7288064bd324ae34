/*
 * gw_daemon_notify.c: the daemon's side of notifications (gateway/gw_notify.h):
 * starts the notifier with the daemon's loop and config, and answers its
 * questions about devices (location for routing and the message text,
 * offline for inhibition) from the runtime. Loop thread only.
 */
#include "gateway/gw_daemon_int.h"
#include "gateway/base/gw_log.h"

#include <string.h>

static void daemon__dev_location(void *arg, const char *device, const char **building,
                                 const char **floor, const char **room)
{
    gw_daemon_t *d = arg;
    int i = gw_config_device_index(d->rt->cfg, device);

    if (i < 0)
        return;
    *building = d->rt->cfg->devices[i].building;
    *floor = d->rt->cfg->devices[i].floor;
    *room = d->rt->cfg->devices[i].room;
}

static int daemon__dev_offline(void *arg, const char *device)
{
    gw_daemon_t *d = arg;
    int i = gw_config_device_index(d->rt->cfg, device);

    return i >= 0 && d->rt->devs[i].status == GW_DEV_OFFLINE;
}

int gw__notify_start(gw_daemon_t *d, char *err, size_t errlen)
{
    gw_notify_env_t env = {
        .device_location = daemon__dev_location,
        .device_offline = daemon__dev_offline,
        .arg = d,
    };
    ledger_op_outbox_t *op;
    int rc;

    rc = gw_notify_start(&d->notify, &d->loop, d->rt->cfg, &env, err, errlen);
    if (rc != 0)
        return rc;
    /* Offer again every event still in the ledger's outbox: one committed
     * just before a crash is then not missed (the notifier drops those it
     * already took in, by event id). */
    op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_LOAD, 0);
    if (op)
        ledger_worker_submit(d->ledger, &op->hdr);
    return 0;
}
