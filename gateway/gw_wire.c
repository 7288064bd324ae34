/*
 * gw_wire.c: what connects the parts (gw_daemon_int.h): the dispatch of
 * every message the loop takes from its queue to the part it is for, the
 * core's listener pointed at the north side, the north side and the
 * notifier registered as the service's sources, and the notifier's
 * questions about devices answered by the core. Loop thread only.
 *
 * Messages by kind: Modbus readings and writes (100s) to the core; MQTT
 * events (200s) to the north side; ledger results (300s): a committed
 * outbox row to the notifier first (it commits the event before MQTT may
 * acknowledge, and so delete, the row), then to the core (a "closed" event
 * re-arms its rule), then to the north side (published); a command's
 * answer and the audit chain's head to the north side.
 */
#include "gateway/base/gw_log.h"
#include "gateway/gw_daemon_int.h"

#include <stdio.h>
#include <string.h>

/* ---- dispatch ----------------------------------------------------------- */

static void wire__ledger_event(gw_daemon_t *d, const gw_msg_t *m)
{
    switch (m->kind) {
    case LEDGER_EV_OUTBOX: {
        const ledger_outbox_row_t *row = &((const ledger_ev_outbox_t *)m)->row;
        gw_notify_on_event(d->notify, row->channel, row->payload);
        gw_core_on_wo_event(d->core, row);
        gw_north_on_message(d->north, m);
        break;
    }
    case LEDGER_EV_OPENED: {
        const ledger_ev_opened_t *ev = (const ledger_ev_opened_t *)m;
        gw_log_notice("ledger", "work order #%lld opened: %s (device %s, rule %s)",
                      (long long)ev->res.number, ev->res.id, ev->device, ev->rule);
        break;
    }
    case LEDGER_EV_CHANGED:
    case LEDGER_EV_AUDIT_HEAD:
        gw_north_on_message(d->north, m);
        break;
    case LEDGER_EV_ERROR:
        gw_log_error("ledger", "%s", ((const ledger_ev_error_t *)m)->msg);
        break;
    }
}

static void wire__dispatch(gw_daemon_t *d, gw_msg_t *m)
{
    gw_svc_observe(d->svc, m);
    if (m->kind >= 100 && m->kind < 200)
        gw_core_on_message(d->core, m);
    else if (m->kind >= 200 && m->kind < 300)
        gw_north_on_message(d->north, m);
    else if (m->kind >= 300 && m->kind < 400)
        wire__ledger_event(d, m);
}

void gw__drain(gw_daemon_t *d)
{
    gw_msg_t *list = gw_queue_take_all(&d->inq);
    while (list) {
        gw_msg_t *next = list->next;
        wire__dispatch(d, list);
        gw_msg_free(list);
        list = next;
    }
}

/* ---- the parts' connections ------------------------------------------- */

/* The notifier may be stopped (NULL): ask it through the daemon. */
static void wire__notify_metrics(void *arg, FILE *o)
{
    gw_notify_metrics_text(((gw_daemon_t *)arg)->notify, o);
}

void gw__wire(gw_daemon_t *d)
{
    gw_core_listener_t l = {
        .device_status = gw_north_device_status,
        .device_updated = gw_north_device_updated,
        .alarm = gw_north_alarm,
        .arg = d->north,
    };
    gw_svc_source_t north = {
        .status = gw_north_status_json,
        .metrics = gw_north_metrics_text,
        .brief = gw_north_brief,
        .arg = d->north,
    };
    gw_svc_source_t notify = {.metrics = wire__notify_metrics, .arg = d};

    gw_core_set_listener(d->core, &l);
    gw_svc_add_source(d->svc, &north);
    gw_svc_add_source(d->svc, &notify);
}

/* ---- the notifier's questions ------------------------------------------ */

static void wire__dev_location(void *arg, const char *device, const char **building,
                               const char **floor, const char **room)
{
    const gw_config_t *c = gw_core_config(arg);
    int i = gw_config_device_index(c, device);

    if (i < 0)
        return;
    *building = c->devices[i].building;
    *floor = c->devices[i].floor;
    *room = c->devices[i].room;
}

static int wire__dev_offline(void *arg, const char *device)
{
    const gw_runtime_t *rt = gw_core_runtime(arg);
    int i = gw_config_device_index(rt->cfg, device);

    return i >= 0 && rt->devs[i].status == GW_DEV_OFFLINE;
}

int gw__notify_start(gw_daemon_t *d, char *err, size_t errlen)
{
    gw_notify_env_t env = {
        .device_location = wire__dev_location,
        .device_offline = wire__dev_offline,
        .arg = d->core,
    };
    ledger_op_outbox_t *op;
    int rc;

    rc = gw_notify_start(&d->notify, &d->loop, gw_core_config(d->core), &env, err, errlen);
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
