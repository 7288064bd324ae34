/*
 * gw_wire.c: what connects the parts (gw_daemon_int.h): the dispatch of
 * every message the loop takes from its queue to the part it is for, the
 * core's listener pointed at the north side, the north side and the
 * notifier registered as the service's sources, and the notifier's
 * questions about devices answered by the core. Loop thread only.
 *
 * Messages by kind: Modbus readings and writes (100s) to the core; MQTT
 * events (200s) to the north side; ledger results (300s): a committed
 * outbox row to each consumer that does not have it yet (the notifier, for
 * a work-order event or the monthly report, "report"; the north side,
 * which publishes it; each acknowledges it on its own, and the row goes
 * once both have it), and to the core (a "closed" event re-arms
 * its rule); an event announced before its commit (provisional) to the
 * notifier and the north side; the state of the ledger's storage to the
 * gateway alarms (gw_storage.c); a command's answer and the audit chain's
 * head to the north side; the active work orders (asked at start and after
 * a reload) to the core, which reconciles its rules with them; the spool
 * thread's results (600s) to the north side.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/gw_daemon_int.h"

#include <stdio.h>
#include <string.h>

/* ---- dispatch ----------------------------------------------------------- */

/* The notifier stored the event of an outbox row: acknowledge it for the
 * notifier (the row goes once MQTT has it too). */
static void wire__event_stored(void *arg, int64_t outbox_id)
{
    gw_daemon_t *d = arg;
    ledger_op_outbox_t *op;

    if (!d->ledger || outbox_id <= 0)
        return;
    op = ledger_op_outbox_ack_new(outbox_id, LEDGER_CONSUMER_NOTIFY);
    if (op)
        ledger_worker_submit(d->ledger, &op->hdr);
}

static void wire__ledger_event(gw_daemon_t *d, const gw_msg_t *m)
{
    switch (m->kind) {
    case LEDGER_EV_OUTBOX: {
        const ledger_outbox_row_t *row = &((const ledger_ev_outbox_t *)m)->row;
        if (!(row->acked & LEDGER_CONSUMER_NOTIFY)) {
            if (strcmp(row->channel, "workorder") == 0 || strcmp(row->channel, "report") == 0)
                gw_notify_on_event(d->notify, row->id, row->channel, row->payload);
            else /* not the notifier's business: it has it, as it were */
                wire__event_stored(d, row->id);
        }
        gw_core_on_wo_event(d->core, row);
        gw_north_on_message(d->north, m); /* it skips rows MQTT has */
        break;
    }
    case LEDGER_EV_PROVISIONAL: {
        const ledger_ev_provisional_t *ev = (const ledger_ev_provisional_t *)m;
        gw_notify_on_event(d->notify, 0, ev->channel, ev->payload);
        gw_north_on_message(d->north, m);
        break;
    }
    case LEDGER_EV_HEALTH:
        gw__storage_ledger_health(d, (const ledger_ev_health_t *)m);
        break;
    case LEDGER_EV_AUDIT_BREAK:
        gw__storage_audit_break(d, (const ledger_ev_audit_break_t *)m);
        break;
    case LEDGER_EV_OPENED: {
        const ledger_ev_opened_t *ev = (const ledger_ev_opened_t *)m;
        gw_log_notice("ledger", "work order #%lld opened: %s (device %s, rule %s)",
                      (long long)ev->res.number, ev->res.id, ev->device, ev->rule);
        break;
    }
    case LEDGER_EV_CHANGED:
    case LEDGER_EV_AUDIT_HEAD:
    case LEDGER_EV_OUTBOX_LOADED:
        gw_north_on_message(d->north, m);
        break;
    case LEDGER_EV_ACTIVE:
        gw_core_on_active(d->core, (const ledger_ev_active_t *)m);
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
    else if (m->kind >= 600 && m->kind < 700)
        gw_north_on_message(d->north, m);
}

void gw__dispatch_list(gw_daemon_t *d, gw_msg_t *list)
{
    while (list) {
        gw_msg_t *next = list->next;
        wire__dispatch(d, list);
        gw_msg_free(list);
        list = next;
    }
}

void gw__drain(gw_daemon_t *d)
{
    gw__dispatch_list(d, gw_queue_take_all(&d->inq));
}

gw_msg_t *gw__drain_hold_writes(gw_daemon_t *d)
{
    gw_msg_t *list = gw_queue_take_all(&d->inq), *held = NULL, **tail = &held;

    while (list) {
        gw_msg_t *next = list->next;
        if (list->kind == MB_EV_WRITE_DONE) {
            list->next = NULL;
            *tail = list;
            tail = &list->next;
        } else {
            wire__dispatch(d, list);
            gw_msg_free(list);
        }
        list = next;
    }
    return held;
}

/* ---- the parts' connections ------------------------------------------- */

/* The notifier may be stopped (NULL): ask it through the daemon. */
static void wire__notify_metrics(void *arg, FILE *o)
{
    gw_notify_metrics_text(((gw_daemon_t *)arg)->notify, o);
}

static void wire__notify_status(void *arg, cJSON *res)
{
    gw_notify_status_json(((gw_daemon_t *)arg)->notify, res);
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
    gw_svc_source_t notify = {
        .status = wire__notify_status, .metrics = wire__notify_metrics, .arg = d};
    gw_svc_source_t storage = {
        .status = gw__storage_status_json, .metrics = gw__storage_metrics_text, .arg = d};

    gw_core_set_listener(d->core, &l);
    gw_svc_add_source(d->svc, &north);
    gw_svc_add_source(d->svc, &notify);
    gw_svc_add_source(d->svc, &storage);
}

/* ---- the notifier's questions ------------------------------------------ */

static void wire__dev_location(void *arg, const char *device, const char **building,
                               const char **floor, const char **room)
{
    const gw_config_t *c = gw_core_config(((gw_daemon_t *)arg)->core);
    int i = gw_config_device_index(c, device);

    if (i < 0)
        return;
    *building = c->devices[i].building;
    *floor = c->devices[i].floor;
    *room = c->devices[i].room;
}

static int wire__dev_offline(void *arg, const char *device)
{
    const gw_runtime_t *rt = gw_core_runtime(((gw_daemon_t *)arg)->core);
    int i = gw_config_device_index(rt->cfg, device);

    return i >= 0 && rt->devs[i].status == GW_DEV_OFFLINE;
}

/* The notifier's gateway alarm (storage.notify) is the core's. */
static void wire__notify_alarm(void *arg, const char *key, int raised, const char *detail)
{
    gw_core_t *core = ((gw_daemon_t *)arg)->core;

    if (raised)
        gw_core_alarm_raise(core, key, GW_PRIO_HIGH, "%s", detail);
    else
        gw_core_alarm_clear(core, key);
}

int gw__notify_start(gw_daemon_t *d, char *err, size_t errlen)
{
    gw_notify_env_t env = {
        .device_location = wire__dev_location,
        .device_offline = wire__dev_offline,
        .event_stored = wire__event_stored,
        .alarm = wire__notify_alarm,
        .arg = d,
    };
    ledger_op_outbox_t *op;
    int rc;

    rc = gw_notify_start(&d->notify, &d->loop, gw_core_config(d->core), &env, err, errlen);
    if (rc != 0)
        return rc;
    /* Offer again every event still in the ledger's outbox that the
     * notifier has not acknowledged: one committed just before a crash, or
     * one notify.db could not store, is then not missed (the notifier drops
     * those it already took in, by event id). */
    op = ledger_op_outbox_new(LEDGER_OP_OUTBOX_LOAD, 0);
    if (op)
        ledger_worker_submit(d->ledger, &op->hdr);
    return 0;
}
