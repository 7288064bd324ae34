/*
 * sim_model.h: the simulated building behind plantroom-sim.
 *
 * A world is a fixed table of devices (unit id, name, kind). A kind owns a
 * point table that mirrors one device profile of drivers/profiles/ (name,
 * register table, zero-based address, type, scale), the size of its register
 * mapping, and a tick function that advances its physics. Each tick a kind
 * writes engineering values into dev->values; sim_world_tick() then encodes
 * every point into the device's libmodbus mapping, so the wire format lives in
 * one place (sim_encode_point) and a new device kind (pumps, tank level, fire
 * panel) is one point table plus one tick function.
 *
 * Control values come in two layers, the command line (--set) and the control
 * file; the file wins. A control value on a point flagged SIM_PT_SETPOINT is
 * the setpoint the model adds noise to; on any other point it holds the point
 * at that value while the model keeps running underneath.
 *
 * Ownership: the world owns its devices, their mappings and every array
 * hanging off them; sim_world_free() releases all of it. Not thread-safe: the
 * server loop is the only user.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_SIM_MODEL_H
#define PLANTROOM_SIM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <modbus.h>

typedef enum sim_table {
    SIM_HOLDING = 0, /* FC03 holding registers */
    SIM_INPUT = 1,   /* FC04 input registers */
} sim_table_t;

typedef enum sim_type {
    SIM_INT16,
    SIM_UINT16,
    SIM_UINT32,  /* two registers, high word first */
    SIM_FLOAT32, /* IEEE-754, two registers, ABCD */
} sim_type_t;

/* A control value on this point is a setpoint, not a held value. */
#define SIM_PT_SETPOINT 0x1u
/* A client may write this holding register (FC 06/16); the kind's tick
 * reads it back from the mapping. Other registers answer a write with
 * exception 02 (illegal data address). */
#define SIM_PT_WRITABLE 0x2u

typedef struct sim_point {
    const char *name;
    sim_table_t table;
    uint16_t address; /* zero-based, as on the wire */
    sim_type_t type;
    double scale;     /* raw * scale = engineering value */
    unsigned flags;   /* SIM_PT_* */
    double setpoint0; /* default setpoint when SIM_PT_SETPOINT */
} sim_point_t;

/* One control layer entry: whether a value is set, and the value. */
typedef struct sim_ctl {
    int set;
    double value;
} sim_ctl_t;

/* A scripted fault of one device ("lift-2.fault=silent" in the control
 * file or --set): how the server answers requests for its unit id. */
typedef enum sim_fault_kind {
    SIM_FAULT_NONE = 0,
    SIM_FAULT_SILENT,     /* read the request, never answer */
    SIM_FAULT_EXCEPTION,  /* answer exception arg (default 4, server device failure) */
    SIM_FAULT_SLOW,       /* answer after arg ms (default 1000) */
    SIM_FAULT_DISCONNECT, /* close the client's connection */
    SIM_FAULT_GARBAGE,    /* answer bytes that are not a Modbus frame */
    SIM_FAULT_STALL,      /* begin an answer announcing 250 data bytes, then send one
                           * byte every arg ms (default 200): the client's read stays
                           * inside one call for a minute (a wedged adapter); when the
                           * fault is lifted the connection is dropped */
} sim_fault_kind_t;

typedef struct sim_fault {
    int set; /* the layer sets it (a file line "fault=none" sets NONE) */
    sim_fault_kind_t kind;
    int arg;
} sim_fault_t;

/* Parse "silent", "exception[:CODE]", "slow[:MS]", "disconnect", "garbage",
 * "stall[:MS]" or "none". Returns 0 or GW_EINVAL with a reason in msg. */
int sim_fault_parse(const char *text, sim_fault_t *out, char *msg, size_t msglen);
const char *sim_fault_name(sim_fault_kind_t k);

typedef struct sim_device sim_device_t;

typedef struct sim_kind {
    const char *name;
    const sim_point_t *points;
    size_t n_points;
    int n_holding; /* registers in the mapping, addresses 0..n-1 */
    int n_input;
    int n_coils;       /* coils 0..n-1, writable (FC 05/15), kept as written */
    size_t state_size; /* bytes of kind-private state, zeroed before init */
    void (*init)(sim_device_t *dev);
    /* Advance by dt seconds; wall_s is wall-clock time (s since the epoch). */
    void (*tick)(sim_device_t *dev, double dt, double wall_s);
} sim_kind_t;

/* A row of the device table. params is kind-specific and static. */
typedef struct sim_device_def {
    uint8_t unit_id;
    const char *name;
    const sim_kind_t *kind;
    const void *params;
} sim_device_def_t;

struct sim_device {
    uint8_t unit_id;
    const char *name;
    const sim_kind_t *kind;
    const void *params;
    modbus_mapping_t *map;             /* owned */
    double *values;                    /* model value per point, owned */
    sim_ctl_t *ctl_cli;                /* --set layer, owned */
    sim_ctl_t *ctl_file;               /* control file layer, owned */
    void *state;                       /* kind-private, owned */
    sim_fault_t fault_cli, fault_file; /* the file layer wins when set */
    uint32_t rng;                      /* xorshift32 state, seeded from the unit id */
};

typedef struct sim_world {
    sim_device_t *devices; /* owned */
    size_t n_devices;
} sim_world_t;

/* Build the default building (two lifts, one meter, a fire panel, a tank
 * and its two pumps) and run one tick at
 * wall-clock time wall_s so that every register holds a plausible value.
 * Returns 0, or GW_ENOMEM or GW_ECONFIG (a point outside its
 * mapping) with nothing left allocated. */
int sim_world_init(sim_world_t *w, double wall_s);
/* A benchmark world instead: n devices (units 1..n, 1..247) of 250
 * holding and 125 input registers that hold their address + 1. */
int sim_world_init_bench(sim_world_t *w, int n, double wall_s);
void sim_world_free(sim_world_t *w);

/* Advance every device by dt seconds and re-encode all registers. */
void sim_world_tick(sim_world_t *w, double dt, double wall_s);

/* The device that answers unit_id, or NULL. */
sim_device_t *sim_world_by_unit(sim_world_t *w, int unit_id);
/* Find a device and point by name; returns 0, or GW_ENOENT with *dev set to
 * NULL when the device is unknown and *point to -1 when the point is. */
int sim_world_lookup(sim_world_t *w, const char *device, const char *point, sim_device_t **dev,
                     int *point_idx);

/* Check that value can be represented by the point's register type. Returns
 * 0 or GW_EINVAL with a reason in msg. */
int sim_point_check(const sim_point_t *pt, double value, char *msg, size_t msglen);

/* The control value of a point (file layer over --set layer): 1 and *out set,
 * or 0 when neither layer sets it. */
int sim_device_ctl(const sim_device_t *dev, int idx, double *out);
/* The value a point should take now: its control value if one is set,
 * otherwise model (for setpoint points, the setpoint or its default). */
double sim_device_effective(const sim_device_t *dev, int idx, double model);

/* The fault in force for a device (file layer over --set layer). */
sim_fault_t sim_device_fault(const sim_device_t *dev);

/* Uniform random number in [-1, 1) from the device's generator. */
double sim_rand(sim_device_t *dev);

/* 1 when a write request (function fc, start addr, count regs) touches
 * only SIM_PT_WRITABLE registers or existing coils of the device. */
int sim_device_writable(const sim_device_t *dev, int fc, int addr, int count);

/* Encode one engineering value into the registers of a mapping. */
void sim_encode_point(modbus_mapping_t *map, const sim_point_t *pt, double value);

/* Parameters of an elevator row of the device table. */
typedef struct sim_elevator_params {
    int floor_min, floor_max;
    uint32_t door_cycles0, trips0, run_hours0; /* counter values at start */
} sim_elevator_params_t;

extern const sim_kind_t sim_kind_elevator;
extern const sim_kind_t sim_kind_energy_meter;
extern const sim_kind_t sim_kind_fire_panel;
extern const sim_kind_t sim_kind_tank; /* ticks before the pumps: it runs the water model */
extern const sim_kind_t sim_kind_pump; /* params: const int *, pump 0 or 1 */

#endif
