/*
 * gw_runtime.c: point table, request plans and rule states (gw_runtime.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/core/gw_runtime.h"
#include "gateway/base/gw_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Plan a device's reads: one span per point, merged by mb_plan. */
static int rt__plan_device(gw_runtime_t *rt, gw_device_rt_t *d, int max_gap, char *err,
                           size_t errlen)
{
    const gw_device_cfg_t *dc = d->cfg;
    mb_span_t *spans = calloc(dc->npoints ? dc->npoints : 1, sizeof(*spans));
    uint32_t *offs = calloc(dc->npoints ? dc->npoints : 1, sizeof(*offs));
    int rc = GW_ENOMEM;

    if (!spans || !offs)
        goto out_free;
    for (size_t i = 0; i < dc->npoints; i++) {
        spans[i].table = (uint8_t)dc->points[i].table;
        spans[i].addr = dc->points[i].address;
        spans[i].count = (uint16_t)drv_point_width(&dc->points[i]);
    }
    rc = mb_plan(spans, dc->npoints, (unsigned)max_gap, &d->blocks, &d->nblocks, &d->nwords, offs);
    if (rc != 0) {
        snprintf(err, errlen, "device %s: cannot plan its requests: %s", dc->name, gw_strerror(rc));
        goto out_free;
    }
    for (size_t i = 0; i < dc->npoints; i++) {
        gw_point_rt_t *p = &rt->points[d->first_point + i];
        p->word_offset = offs[i];
        for (size_t b = 0; b < d->nblocks; b++) {
            if (offs[i] >= d->blocks[b].offset &&
                offs[i] < d->blocks[b].offset + d->blocks[b].count) {
                p->block_idx = (uint32_t)b;
                break;
            }
        }
    }
out_free:
    free(spans);
    free(offs);
    return rc;
}

/* Each device's rules, in config order (a counting sort by device): a
 * reading runs its device's rules without a walk over every rule. */
static void rt__index_rules(gw_runtime_t *rt)
{
    const gw_config_t *cfg = rt->cfg;
    uint32_t at = 0;

    for (size_t i = 0; i < cfg->nrules; i++)
        rt->devs[cfg->rules[i].device_idx].rules_n++;
    for (size_t d = 0; d < cfg->ndevices; d++) {
        rt->devs[d].rules_first = at;
        at += rt->devs[d].rules_n;
        rt->devs[d].rules_n = 0;
    }
    for (size_t i = 0; i < cfg->nrules; i++) {
        gw_device_rt_t *d = &rt->devs[cfg->rules[i].device_idx];
        rt->dev_rules[d->rules_first + d->rules_n++] = (uint32_t)i;
    }
}

int gw_runtime_build(gw_runtime_t **out, gw_config_t *cfg, char *err, size_t errlen)
{
    gw_runtime_t *rt = calloc(1, sizeof(*rt));
    size_t np = 0;
    int rc = GW_ENOMEM;

    *out = NULL;
    if (!rt) {
        gw_config_free(cfg);
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    rt->cfg = cfg;
    for (size_t i = 0; i < cfg->ndevices; i++)
        np += cfg->devices[i].npoints;
    rt->devs = calloc(cfg->ndevices + 1, sizeof(*rt->devs));
    rt->points = calloc(np + 1, sizeof(*rt->points));
    rt->rules = calloc(cfg->nrules + 1, sizeof(*rt->rules));
    rt->dev_rules = calloc(cfg->nrules + 1, sizeof(*rt->dev_rules));
    rt->buses = calloc(cfg->nbuses + 1, sizeof(*rt->buses));
    if (!rt->devs || !rt->points || !rt->rules || !rt->dev_rules || !rt->buses) {
        snprintf(err, errlen, "out of memory");
        goto out_free;
    }
    rt->npoints = np;
    np = 0;
    for (size_t i = 0; i < cfg->ndevices; i++) {
        gw_device_rt_t *d = &rt->devs[i];
        d->cfg = &cfg->devices[i];
        d->first_point = (uint32_t)np;
        for (size_t j = 0; j < d->cfg->npoints; j++) {
            const drv_point_t *pt = &d->cfg->points[j];
            d->has_decimals |= pt->decimals_idx >= 0;
            if (pt->type == DRV_T_STRING) {
                rt->points[np + j].text = calloc(1, 2u * pt->length + 1);
                if (!rt->points[np + j].text) {
                    snprintf(err, errlen, "out of memory");
                    rc = GW_ENOMEM;
                    goto out_free;
                }
            }
            rt->points[np + j].device_idx = (uint32_t)i;
            rt->points[np + j].last.point_id = (uint32_t)(np + j);
            rt->points[np + j].last.quality = GW_Q_STALE;
        }
        np += d->cfg->npoints;
        if (d->cfg->bus_idx < 0)
            continue; /* fed over MQTT (NB-IoT): no Modbus plan */
        rc = rt__plan_device(rt, d, cfg->buses[d->cfg->bus_idx].max_gap, err, errlen);
        if (rc != 0)
            goto out_free;
    }
    for (size_t i = 0; i < cfg->nrules; i++) {
        gw_rule_rt_t *r = &rt->rules[i];
        r->cfg = &cfg->rules[i];
        r->point_id = rt->devs[r->cfg->device_idx].first_point + (uint32_t)r->cfg->point_idx;
        rule_init(&r->cfg->rule, &r->st);
    }
    rt__index_rules(rt);
    *out = rt;
    return 0;

out_free:
    gw_runtime_free(rt);
    return rc;
}

void gw_runtime_carry(gw_runtime_t *rt, const gw_runtime_t *old)
{
    for (size_t i = 0; i < rt->cfg->ndevices; i++) {
        int j = gw_config_device_index(old->cfg, rt->devs[i].cfg->name);
        if (j < 0)
            continue;
        const gw_device_rt_t *od = &old->devs[j];
        gw_device_rt_t *nd = &rt->devs[i];
        nd->status = od->status;
        nd->fails = od->fails;
        nd->last_ok_ms = od->last_ok_ms;
        nd->last_ok_mono = od->last_ok_mono;
        nd->polls = od->polls;
        nd->errors = od->errors;
        memcpy(nd->last_err, od->last_err, sizeof(nd->last_err));
    }
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        for (size_t j = 0; j < old->cfg->nrules; j++) {
            if (gw_rule_cfg_equal(rt->rules[i].cfg, old->rules[j].cfg)) {
                rt->rules[i].st = old->rules[j].st;
                break;
            }
        }
    }
}

int gw_runtime_start_buses(gw_runtime_t *rt, gw_queue_t *q, char *err, size_t errlen)
{
    const gw_config_t *cfg = rt->cfg;
    mb_device_cfg_t *devs = calloc(cfg->ndevices + 1, sizeof(*devs));

    if (!devs) {
        snprintf(err, errlen, "out of memory");
        return GW_ENOMEM;
    }
    for (size_t b = 0; b < cfg->nbuses; b++) {
        const gw_bus_cfg_t *bc = &cfg->buses[b];
        mb_bus_cfg_t mc = {
            .bus_id = (int)b,
            .name = bc->name,
            .transport = strcmp(bc->type, "rtu") == 0       ? MB_RTU
                         : strcmp(bc->type, "rtu-tcp") == 0 ? MB_RTU_TCP
                                                            : MB_TCP,
            .host = bc->host,
            .port = bc->port,
            .device = bc->device,
            .baud = bc->baud,
            .parity = bc->parity,
            .data_bits = bc->data_bits,
            .stop_bits = bc->stop_bits,
            .rs485 = bc->rs485,
            .timeout_ms = bc->timeout_ms,
            .pause_ms = bc->pause_ms,
            .connect_pause_ms = bc->connect_pause_ms,
            .reconnect_max_ms = bc->reconnect_max_ms,
        };
        size_t n = 0;
        for (size_t i = 0; i < cfg->ndevices; i++) {
            const gw_device_rt_t *d = &rt->devs[i];
            if (d->cfg->bus_idx != (int)b)
                continue;
            devs[n].device_id = (int)i;
            devs[n].name = d->cfg->name;
            devs[n].unit_id = d->cfg->unit_id;
            devs[n].interval_ms = d->cfg->interval_ms;
            devs[n].timeout_ms = d->cfg->timeout_ms;
            devs[n].retries = d->cfg->retries;
            devs[n].offline_after = d->cfg->offline_after;
            devs[n].backoff_max_ms = d->cfg->backoff_max_ms;
            devs[n].blocks = d->blocks;
            devs[n].nblocks = d->nblocks;
            devs[n].nwords = d->nwords;
            n++;
        }
        if (n == 0) {
            gw_log_warn("gw", "bus %s has no devices; not started", bc->name);
            continue;
        }
        int rc = mb_bus_start(&rt->buses[b], &mc, devs, n, q, err, errlen);
        if (rc != 0) {
            free(devs);
            gw_runtime_stop_buses(rt);
            return rc;
        }
    }
    free(devs);
    return 0;
}

void gw_runtime_stop_buses(gw_runtime_t *rt)
{
    /* All asked first, then joined: the buses wind down together, so ten
     * buses with long timeouts take one timeout, not ten. */
    for (size_t b = 0; b < rt->cfg->nbuses; b++)
        mb_bus_stop_begin(rt->buses[b]);
    for (size_t b = 0; b < rt->cfg->nbuses; b++) {
        mb_bus_stop(rt->buses[b]);
        rt->buses[b] = NULL;
    }
}

void gw_runtime_print_plan(const gw_runtime_t *rt, FILE *f)
{
    for (size_t i = 0; i < rt->cfg->ndevices; i++) {
        const gw_device_rt_t *d = &rt->devs[i];
        fprintf(f, "device %s bus %s unit %d: %zu request%s, %zu words\n", d->cfg->name,
                d->cfg->bus, d->cfg->unit_id, d->nblocks, d->nblocks == 1 ? "" : "s", d->nwords);
        for (size_t b = 0; b < d->nblocks; b++) {
            const char *sep = "";
            fprintf(f, "  %s start=%u count=%u points=", drv_table_name(d->blocks[b].table),
                    d->blocks[b].addr, d->blocks[b].count);
            for (size_t j = 0; j < d->cfg->npoints; j++) {
                if (rt->points[d->first_point + j].block_idx != b)
                    continue;
                fprintf(f, "%s%s", sep, d->cfg->points[j].name);
                sep = ",";
            }
            fputc('\n', f);
        }
    }
}

void gw_runtime_free(gw_runtime_t *rt)
{
    if (!rt)
        return;
    if (rt->devs) {
        for (size_t i = 0; i < rt->cfg->ndevices; i++)
            free(rt->devs[i].blocks);
    }
    free(rt->devs);
    for (size_t i = 0; rt->points && i < rt->npoints; i++)
        free(rt->points[i].text);
    free(rt->points);
    free(rt->rules);
    free(rt->dev_rules);
    free(rt->buses);
    gw_config_free(rt->cfg);
    free(rt);
}
