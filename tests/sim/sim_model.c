/*
 * sim_model.c: the device table of plantroom-sim and the generic half of
 * the model: building the world, control layers, random numbers, and
 * encoding engineering values into Modbus registers. The physics of each
 * device kind lives in its own file (sim_elevator.c, sim_meter.c); the
 * design is described in sim_model.h.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/sim/sim_model.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"

/* Floors served and counter values at start, per lift. */
static const sim_elevator_params_t lift1_params = {-1, 8, 1843207u, 921604u, 13210u};
static const sim_elevator_params_t lift2_params = {0, 5, 702113u, 351050u, 5120u};

static const int pump_index[2] = {0, 1};

/* The building. Add a row (and, for a new kind, a sim_kind_t) to grow it. */
static const sim_device_def_t sim_building[] = {
    {1, "lift-1", &sim_kind_elevator, &lift1_params},
    {2, "lift-2", &sim_kind_elevator, &lift2_params},
    {3, "meter-main", &sim_kind_energy_meter, NULL},
    {4, "fire-panel", &sim_kind_fire_panel, NULL},
    {7, "tank-1", &sim_kind_tank, NULL},
    {5, "pump-1", &sim_kind_pump, &pump_index[0]},
    {6, "pump-2", &sim_kind_pump, &pump_index[1]},
};

/* Check that every point of a kind fits its mapping, so that encoding never
 * writes out of bounds. Returns 0 or GW_ECONFIG after logging. */
static int sim__kind_check(const sim_kind_t *k)
{
    const sim_point_t *pt;
    int width, nregs;
    size_t i;

    for (i = 0; i < k->n_points; i++) {
        pt = &k->points[i];
        width = (pt->type == SIM_UINT32 || pt->type == SIM_FLOAT32) ? 2 : 1;
        nregs = pt->table == SIM_HOLDING ? k->n_holding : k->n_input;
        if (pt->address + width > nregs || !(pt->scale > 0.0)) {
            gw_log_error("sim", "kind %s: point %s does not fit its mapping", k->name, pt->name);
            return GW_ECONFIG;
        }
    }
    return 0;
}

/* Allocate the mapping and arrays of one device. Returns 0,
 * GW_ECONFIG or GW_ENOMEM; on error the caller frees the partly built device
 * with sim__device_free. */
static int sim__device_init(sim_device_t *dev, const sim_device_def_t *def)
{
    const sim_kind_t *k = def->kind;
    int rc;

    rc = sim__kind_check(k);
    if (rc < 0)
        return rc;
    dev->unit_id = def->unit_id;
    dev->name = def->name;
    dev->kind = k;
    dev->params = def->params;
    dev->rng = 0x9e3779b9u ^ ((uint32_t)def->unit_id * 2654435761u);
    dev->map = modbus_mapping_new(k->n_coils, 0, k->n_holding, k->n_input);
    dev->values = calloc(k->n_points, sizeof(*dev->values));
    dev->ctl_cli = calloc(k->n_points, sizeof(*dev->ctl_cli));
    dev->ctl_file = calloc(k->n_points, sizeof(*dev->ctl_file));
    dev->state = calloc(1, k->state_size ? k->state_size : 1);
    if (!dev->map || !dev->values || !dev->ctl_cli || !dev->ctl_file || !dev->state)
        return GW_ENOMEM;
    if (k->init)
        k->init(dev);
    return 0;
}

static void sim__device_free(sim_device_t *dev)
{
    if (dev->map)
        modbus_mapping_free(dev->map);
    free(dev->values);
    free(dev->ctl_cli);
    free(dev->ctl_file);
    free(dev->state);
    memset(dev, 0, sizeof(*dev));
}

/* Benchmark devices: 250 holding and 125 input registers holding their
 * own address + 1, no physics. */
static void bench_tick(sim_device_t *dev, double dt, double wall_s)
{
    (void)dt;
    (void)wall_s;
    for (int i = 0; i < 250; i++)
        dev->map->tab_registers[i] = (uint16_t)(i + 1);
    for (int i = 0; i < 125; i++)
        dev->map->tab_input_registers[i] = (uint16_t)(i + 1);
}

static const sim_kind_t sim_kind_bench = {
    .name = "bench",
    .n_holding = 250,
    .n_input = 125,
    .tick = bench_tick,
};

static int sim__world_build(sim_world_t *w, const sim_device_def_t *defs, size_t n, double wall_s)
{
    size_t i;
    int rc;

    w->n_devices = n;
    w->devices = calloc(w->n_devices, sizeof(*w->devices));
    if (!w->devices)
        return GW_ENOMEM;
    for (i = 0; i < w->n_devices; i++) {
        rc = sim__device_init(&w->devices[i], &defs[i]);
        if (rc < 0)
            goto fail_device_init;
    }
    sim_world_tick(w, 0.0, wall_s);
    return 0;

fail_device_init:
    sim_world_free(w);
    return rc;
}

int sim_world_init(sim_world_t *w, double wall_s)
{
    return sim__world_build(w, sim_building, GW_ARRAY_SIZE(sim_building), wall_s);
}

int sim_world_init_bench(sim_world_t *w, int n, double wall_s)
{
    static char names[247][16];
    sim_device_def_t defs[247];
    int rc;

    if (n < 1 || n > 247)
        return GW_EINVAL;
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "bench-%d", i + 1);
        defs[i] = (sim_device_def_t){(uint8_t)(i + 1), names[i], &sim_kind_bench, NULL};
    }
    rc = sim__world_build(w, defs, (size_t)n, wall_s);
    return rc;
}

void sim_world_free(sim_world_t *w)
{
    size_t i;

    if (!w->devices)
        return;
    for (i = 0; i < w->n_devices; i++)
        sim__device_free(&w->devices[i]);
    free(w->devices);
    w->devices = NULL;
    w->n_devices = 0;
}

/* Encode every point of a device: held points show their control value,
 * all others (setpoint points included) show the model's value. */
static void sim__device_publish(sim_device_t *dev)
{
    const sim_kind_t *k = dev->kind;
    size_t i;
    double v;

    for (i = 0; i < k->n_points; i++) {
        v = dev->values[i];
        if (!(k->points[i].flags & SIM_PT_SETPOINT))
            sim_device_ctl(dev, (int)i, &v);
        sim_encode_point(dev->map, &k->points[i], v);
    }
}

void sim_world_tick(sim_world_t *w, double dt, double wall_s)
{
    size_t i;
    sim_device_t *dev;

    for (i = 0; i < w->n_devices; i++) {
        dev = &w->devices[i];
        dev->kind->tick(dev, dt, wall_s);
        sim__device_publish(dev);
    }
}

sim_device_t *sim_world_by_unit(sim_world_t *w, int unit_id)
{
    size_t i;

    for (i = 0; i < w->n_devices; i++)
        if (w->devices[i].unit_id == unit_id)
            return &w->devices[i];
    return NULL;
}

int sim_world_lookup(sim_world_t *w, const char *device, const char *point, sim_device_t **dev,
                     int *point_idx)
{
    size_t i;

    *dev = NULL;
    *point_idx = -1;
    for (i = 0; i < w->n_devices; i++)
        if (strcmp(w->devices[i].name, device) == 0)
            *dev = &w->devices[i];
    if (!*dev)
        return GW_ENOENT;
    for (i = 0; i < (*dev)->kind->n_points; i++)
        if (strcmp((*dev)->kind->points[i].name, point) == 0)
            *point_idx = (int)i;
    return *point_idx < 0 ? GW_ENOENT : 0;
}

int sim_point_check(const sim_point_t *pt, double value, char *msg, size_t msglen)
{
    double raw, lo, hi;

    if (!isfinite(value)) {
        snprintf(msg, msglen, "value of %s is not a finite number", pt->name);
        return GW_EINVAL;
    }
    raw = value / pt->scale;
    switch (pt->type) {
    case SIM_INT16:
        lo = INT16_MIN, hi = INT16_MAX;
        break;
    case SIM_UINT16:
        lo = 0, hi = UINT16_MAX;
        break;
    case SIM_UINT32:
        lo = 0, hi = UINT32_MAX;
        break;
    case SIM_FLOAT32:
    default:
        lo = -3.4e38, hi = 3.4e38;
        break;
    }
    if (round(raw) < lo || round(raw) > hi) {
        snprintf(msg, msglen, "value %.10g is out of range %.10g..%.10g for %s", value,
                 lo * pt->scale, hi * pt->scale, pt->name);
        return GW_EINVAL;
    }
    return 0;
}

int sim_device_ctl(const sim_device_t *dev, int idx, double *out)
{
    assert(idx >= 0 && (size_t)idx < dev->kind->n_points);
    if (dev->ctl_file[idx].set) {
        *out = dev->ctl_file[idx].value;
        return 1;
    }
    if (dev->ctl_cli[idx].set) {
        *out = dev->ctl_cli[idx].value;
        return 1;
    }
    return 0;
}

double sim_device_effective(const sim_device_t *dev, int idx, double model)
{
    double v;

    if (sim_device_ctl(dev, idx, &v))
        return v;
    if (dev->kind->points[idx].flags & SIM_PT_SETPOINT)
        return dev->kind->points[idx].setpoint0;
    return model;
}

double sim_rand(sim_device_t *dev)
{
    uint32_t x = dev->rng;

    /* xorshift32: deterministic per unit id, so runs are reproducible. */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    dev->rng = x;
    return (double)x / 2147483648.0 - 1.0;
}

/* Clamp and round a raw value into an integer range. */
static double sim__clamp_round(double raw, double lo, double hi)
{
    raw = round(raw);
    if (!(raw >= lo)) /* also catches NaN */
        return lo;
    return raw > hi ? hi : raw;
}

void sim_encode_point(modbus_mapping_t *map, const sim_point_t *pt, double value)
{
    uint16_t *regs = pt->table == SIM_HOLDING ? map->tab_registers : map->tab_input_registers;
    double raw = value / pt->scale;
    uint32_t u;
    float f;

    switch (pt->type) {
    case SIM_INT16:
        regs[pt->address] = (uint16_t)(int16_t)sim__clamp_round(raw, INT16_MIN, INT16_MAX);
        break;
    case SIM_UINT16:
        regs[pt->address] = (uint16_t)sim__clamp_round(raw, 0, UINT16_MAX);
        break;
    case SIM_UINT32:
        u = (uint32_t)sim__clamp_round(raw, 0, UINT32_MAX);
        regs[pt->address] = (uint16_t)(u >> 16);
        regs[pt->address + 1] = (uint16_t)(u & 0xffffu);
        break;
    case SIM_FLOAT32:
        /* ABCD by hand: libmodbus's float helpers differ between versions. */
        f = (float)raw;
        memcpy(&u, &f, sizeof(u));
        regs[pt->address] = (uint16_t)(u >> 16);
        regs[pt->address + 1] = (uint16_t)(u & 0xffffu);
        break;
    }
}

static const char *const sim_fault_names[] = {"none",       "silent",  "exception", "slow",
                                              "disconnect", "garbage", "stall"};

const char *sim_fault_name(sim_fault_kind_t k)
{
    return (unsigned)k < GW_ARRAY_SIZE(sim_fault_names) ? sim_fault_names[k] : "?";
}

int sim_fault_parse(const char *text, sim_fault_t *out, char *msg, size_t msglen)
{
    const char *colon = strchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : strlen(text);
    char *end;
    long arg = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < GW_ARRAY_SIZE(sim_fault_names); i++) {
        if (strlen(sim_fault_names[i]) == n && strncmp(text, sim_fault_names[i], n) == 0)
            out->kind = (sim_fault_kind_t)i, out->set = 1;
    }
    if (!out->set) {
        snprintf(msg, msglen,
                 "fault '%s': expected none, silent, exception[:CODE], slow[:MS], "
                 "disconnect, garbage or stall[:MS]",
                 text);
        return GW_EINVAL;
    }
    if (colon) {
        arg = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || arg < 1 || arg > 60000 ||
            (out->kind != SIM_FAULT_EXCEPTION && out->kind != SIM_FAULT_SLOW &&
             out->kind != SIM_FAULT_STALL) ||
            (out->kind == SIM_FAULT_EXCEPTION && arg > 255)) {
            snprintf(msg, msglen, "fault '%s': bad argument", text);
            return GW_EINVAL;
        }
    }
    if (!arg)
        arg = out->kind == SIM_FAULT_EXCEPTION ? 4
              : out->kind == SIM_FAULT_SLOW    ? 1000
              : out->kind == SIM_FAULT_STALL   ? 200
                                               : 0;
    out->arg = (int)arg;
    return 0;
}

sim_fault_t sim_device_fault(const sim_device_t *dev)
{
    if (dev->fault_file.set)
        return dev->fault_file;
    return dev->fault_cli;
}

int sim_device_writable(const sim_device_t *dev, int fc, int addr, int count)
{
    const sim_kind_t *k = dev->kind;

    if (fc == MODBUS_FC_WRITE_SINGLE_COIL || fc == MODBUS_FC_WRITE_MULTIPLE_COILS)
        return addr + count <= k->n_coils;
    if (fc != MODBUS_FC_WRITE_SINGLE_REGISTER && fc != MODBUS_FC_WRITE_MULTIPLE_REGISTERS)
        return 0;
    for (int a = addr; a < addr + count; a++) {
        int ok = 0;
        for (size_t i = 0; i < k->n_points && !ok; i++) {
            const sim_point_t *pt = &k->points[i];
            int w = (pt->type == SIM_UINT32 || pt->type == SIM_FLOAT32) ? 2 : 1;
            ok = pt->table == SIM_HOLDING && (pt->flags & SIM_PT_WRITABLE) && a >= pt->address &&
                 a < pt->address + w;
        }
        if (!ok)
            return 0;
    }
    return 1;
}
