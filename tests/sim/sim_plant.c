/*
 * sim_plant.c: the fire panel, pump drive and tank level kinds of
 * plantroom-sim (drivers/profiles/fire_panel_notifier.json,
 * pump_drive_abb.json, tank_level.json).
 *
 * The water side is one small model shared by the tank and its two pumps:
 * the building draws water all the time (more by day), pump 1 starts when
 * the level falls below 2.0 m and stops above 4.0 m, pump 2 assists below
 * 1.5 m until 3.0 m. The tank's tick (it comes first in the device table)
 * advances the model; each pump's tick reads whether it runs. The fire
 * panel is quiet: seven programmed zones enabled and idle, zone 8 not
 * programmed (0x00FF), panel status 0. A held control value on a zone
 * ("fire-panel.zone_3=2048") is the raw zone word, so a test can raise a
 * fire (bit 11) or a trouble (bit 13). See sim_model.h.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/sim/sim_model.h"

#include <math.h>
#include <string.h>

#include "gateway/base/gw_types.h"

/* ---- fire panel --------------------------------------------------------- */

#define FP_ZONES      8
#define FP_STATUS_REG 9499 /* 49500 in one-based notation */

static const sim_point_t fire_points[] = {
    {"zone_1", SIM_HOLDING, 0, SIM_UINT16, 1.0, 0, 0.0},
    {"zone_2", SIM_HOLDING, 1, SIM_UINT16, 1.0, 0, 0.0},
    {"zone_3", SIM_HOLDING, 2, SIM_UINT16, 1.0, 0, 0.0},
    {"zone_4", SIM_HOLDING, 3, SIM_UINT16, 1.0, 0, 0.0},
    {"zone_5", SIM_HOLDING, 4, SIM_UINT16, 1.0, 0, 0.0},
    {"zone_6", SIM_HOLDING, 5, SIM_UINT16, 1.0, 0, 0.0},
    {"zone_7", SIM_HOLDING, 6, SIM_UINT16, 1.0, 0, 0.0},
    {"zone_8", SIM_HOLDING, 7, SIM_UINT16, 1.0, 0, 0.0},
    {"panel_status", SIM_HOLDING, FP_STATUS_REG, SIM_UINT16, 1.0, 0, 0.0},
};

static void fire_tick(sim_device_t *dev, double dt, double wall_s)
{
    (void)dt;
    (void)wall_s;
    for (int z = 0; z < FP_ZONES; z++)
        dev->values[z] = z == FP_ZONES - 1 ? 0x00ff : 0x0400; /* enabled, quiet */
    dev->values[FP_ZONES] = 0;
}

const sim_kind_t sim_kind_fire_panel = {
    .name = "fire_panel_notifier",
    .points = fire_points,
    .n_points = GW_ARRAY_SIZE(fire_points),
    .n_holding = FP_STATUS_REG + 1,
    .tick = fire_tick,
};

/* ---- water: tank and pumps ---------------------------------------------- */

static struct {
    double level_m;
    int pump_on[2];
} water = {3.0, {0, 0}};

#define TANK_FULL_M  5.0
#define DRAW_M_PER_S 0.03 /* building demand, average */
#define PUMP_M_PER_S 0.05 /* what one pump adds */
#define P1_START_M   2.0
#define P1_STOP_M    4.0
#define P2_START_M   1.5
#define P2_STOP_M    3.0

enum { TK_UNIT, TK_DECIMALS, TK_LEVEL, TK_RANGE_ZERO, TK_RANGE_FULL, TK_N };

static const sim_point_t tank_points[] = {
    {"unit_code", SIM_HOLDING, 2, SIM_UINT16, 1.0, 0, 0.0},
    {"decimals", SIM_HOLDING, 3, SIM_UINT16, 1.0, 0, 0.0},
    {"level", SIM_HOLDING, 4, SIM_INT16, 1.0, 0, 0.0}, /* raw: m * 10^decimals */
    {"range_zero", SIM_HOLDING, 5, SIM_INT16, 1.0, 0, 0.0},
    {"range_full", SIM_HOLDING, 6, SIM_INT16, 1.0, 0, 0.0},
};
_Static_assert(GW_ARRAY_SIZE(tank_points) == TK_N, "tank point table out of order");

static void tank_tick(sim_device_t *dev, double dt, double wall_s)
{
    double draw = DRAW_M_PER_S * (1.0 + 0.5 * sin(2.0 * M_PI * fmod(wall_s, 86400.0) / 86400.0));
    double dec = sim_device_effective(dev, TK_DECIMALS, 2.0), k;

    if (dec < 0 || dec > 3)
        dec = 2;
    k = pow(10.0, round(dec));
    water.level_m += dt * ((water.pump_on[0] + water.pump_on[1]) * PUMP_M_PER_S - draw);
    water.level_m = water.level_m < 0             ? 0
                    : water.level_m > TANK_FULL_M ? TANK_FULL_M
                                                  : water.level_m;
    if (water.level_m < P1_START_M)
        water.pump_on[0] = 1;
    else if (water.level_m > P1_STOP_M)
        water.pump_on[0] = 0;
    if (water.level_m < P2_START_M)
        water.pump_on[1] = 1;
    else if (water.level_m > P2_STOP_M)
        water.pump_on[1] = 0;
    dev->values[TK_UNIT] = 7; /* mH2O */
    dev->values[TK_DECIMALS] = round(dec);
    dev->values[TK_LEVEL] = round(water.level_m * k);
    dev->values[TK_RANGE_ZERO] = 0;
    dev->values[TK_RANGE_FULL] = round(TANK_FULL_M * k);
}

const sim_kind_t sim_kind_tank = {
    .name = "tank_level",
    .points = tank_points,
    .n_points = TK_N,
    .n_holding = 8,
    .tick = tank_tick,
};

enum { PU_CONTROL, PU_SPEED_REF, PU_STATUS, PU_SPEED, PU_CURRENT, PU_TORQUE, PU_PRESSURE_SP, PU_N };

#define PU_RUN  0x047f
#define PU_STOP 0x0476

static const sim_point_t pump_points[] = {
    {"control_word", SIM_HOLDING, 0, SIM_UINT16, 1.0, SIM_PT_WRITABLE, 0.0},
    {"speed_reference", SIM_HOLDING, 1, SIM_UINT16, 1.0, SIM_PT_WRITABLE, 0.0},
    {"status_word", SIM_HOLDING, 3, SIM_UINT16, 1.0, 0, 0.0},
    {"speed", SIM_HOLDING, 4, SIM_INT16, 1.0, 0, 0.0},
    {"current", SIM_HOLDING, 5, SIM_UINT16, 0.1, 0, 0.0},
    {"torque", SIM_HOLDING, 6, SIM_INT16, 0.1, 0, 0.0},
    {"pressure_setpoint", SIM_HOLDING, 8, SIM_FLOAT32, 1.0, SIM_PT_WRITABLE, 0.0},
};
_Static_assert(GW_ARRAY_SIZE(pump_points) == PU_N, "pump point table out of order");

/* Writable registers keep what a client wrote: start with auto-run
 * values. */
static void pump_init(sim_device_t *dev)
{
    float sp = 4.5f;
    uint32_t u;

    dev->map->tab_registers[0] = PU_RUN;
    dev->map->tab_registers[1] = 20000;
    memcpy(&u, &sp, sizeof(u));
    dev->map->tab_registers[8] = (uint16_t)(u >> 16);
    dev->map->tab_registers[9] = (uint16_t)u;
}

/* The pump runs when the water model asks for it, unless its control word
 * says stop (0x0476): a write from the gateway stops it. */
static void pump_tick(sim_device_t *dev, double dt, double wall_s)
{
    const int *idx = dev->params;
    const uint16_t *regs = dev->map->tab_registers;
    int on = water.pump_on[*idx] && regs[0] != PU_STOP;
    double *v = dev->values, ref = regs[1] / 20000.0;
    uint32_t u = (uint32_t)regs[8] << 16 | regs[9];
    float sp;

    (void)dt;
    (void)wall_s;
    memcpy(&sp, &u, sizeof(sp));
    v[PU_CONTROL] = regs[0];
    v[PU_SPEED_REF] = regs[1];
    v[PU_STATUS] = on ? 0x0007 : 0x0003; /* ready on, ready run, at reference */
    v[PU_SPEED] = on ? ref * 1450.0 + 5.0 * sim_rand(dev) : 0.0;
    v[PU_CURRENT] = on ? ref * 12.5 * (1.0 + 0.02 * sim_rand(dev)) : 0.0;
    v[PU_TORQUE] = on ? 65.0 + sim_rand(dev) : 0.0;
    v[PU_PRESSURE_SP] = sp;
}

const sim_kind_t sim_kind_pump = {
    .name = "pump_drive_abb",
    .points = pump_points,
    .n_points = PU_N,
    .n_holding = 10,
    .n_coils = 16,
    .init = pump_init,
    .tick = pump_tick,
};
