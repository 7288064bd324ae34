/*
 * sim_meter.c: the three-phase energy meter kind of plantroom-sim.
 *
 * Serves drivers/profiles/energy_meter_sdm630.json (input registers, float32
 * ABCD) plus a few neighbouring SDM630 registers (per-phase power, export
 * energy) so that the map looks like the real meter's. The building's load
 * follows a daily curve by local wall-clock time (about 14 kW at night, 60 kW
 * in mid-afternoon); voltages wander around 230 V, frequency around 50 Hz;
 * phase currents follow from power and voltage; energy counters integrate
 * power over the real time that passes. Held values feed the derived ones: a
 * held power_total drives currents and energy. See sim_model.h.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/sim/sim_model.h"

#include <math.h>
#include <time.h>

#include "gateway/base/gw_types.h"

enum {
    EM_VOLTAGE_L1,
    EM_VOLTAGE_L2,
    EM_VOLTAGE_L3,
    EM_CURRENT_L1,
    EM_CURRENT_L2,
    EM_CURRENT_L3,
    EM_POWER_L1,
    EM_POWER_L2,
    EM_POWER_L3,
    EM_POWER_TOTAL,
    EM_FREQUENCY,
    EM_IMPORT_ENERGY,
    EM_EXPORT_ENERGY,
    EM_TOTAL_ENERGY,
    EM_N_POINTS
};

static const sim_point_t meter_points[] = {
    {"voltage_l1", SIM_INPUT, 0x00, SIM_FLOAT32, 1.0, 0, 0.0},
    {"voltage_l2", SIM_INPUT, 0x02, SIM_FLOAT32, 1.0, 0, 0.0},
    {"voltage_l3", SIM_INPUT, 0x04, SIM_FLOAT32, 1.0, 0, 0.0},
    {"current_l1", SIM_INPUT, 0x06, SIM_FLOAT32, 1.0, 0, 0.0},
    {"current_l2", SIM_INPUT, 0x08, SIM_FLOAT32, 1.0, 0, 0.0},
    {"current_l3", SIM_INPUT, 0x0A, SIM_FLOAT32, 1.0, 0, 0.0},
    {"power_l1", SIM_INPUT, 0x0C, SIM_FLOAT32, 1.0, 0, 0.0},
    {"power_l2", SIM_INPUT, 0x0E, SIM_FLOAT32, 1.0, 0, 0.0},
    {"power_l3", SIM_INPUT, 0x10, SIM_FLOAT32, 1.0, 0, 0.0},
    {"power_total", SIM_INPUT, 0x34, SIM_FLOAT32, 1.0, 0, 0.0},
    {"frequency", SIM_INPUT, 0x46, SIM_FLOAT32, 1.0, 0, 0.0},
    {"import_energy", SIM_INPUT, 0x48, SIM_FLOAT32, 1.0, 0, 0.0},
    {"export_energy", SIM_INPUT, 0x4A, SIM_FLOAT32, 1.0, 0, 0.0},
    {"total_energy", SIM_INPUT, 0x156, SIM_FLOAT32, 1.0, 0, 0.0},
};
_Static_assert(GW_ARRAY_SIZE(meter_points) == EM_N_POINTS, "meter point table out of order");

#define NOMINAL_V     230.0
#define NOMINAL_HZ    50.0
#define POWER_FACTOR  0.93
#define NIGHT_LOAD_W  14000.0
#define PEAK_EXTRA_W  46000.0
#define VOLTAGE_TAU_S 20.0
#define FREQ_TAU_S    10.0

/* Share of the load on each phase (a real building is never balanced). */
static const double phase_share[3] = {0.34, 0.31, 0.35};
/* Each phase settles at its own voltage, as a long feeder makes it do. */
static const double phase_offset_v[3] = {1.2, -0.8, 0.4};

typedef struct meter_state {
    double volts[3];
    double hz;
    double import_kwh, export_kwh;
} meter_state_t;

static void meter_init(sim_device_t *dev)
{
    meter_state_t *s = dev->state;
    int k;

    for (k = 0; k < 3; k++)
        s->volts[k] = NOMINAL_V + phase_offset_v[k];
    s->hz = NOMINAL_HZ;
    s->import_kwh = 183402.5;
    s->export_kwh = 1520.25;
}

/* Building load in W at a wall-clock time: lowest at 03:00 local time,
 * highest at 15:00, smooth in between. */
static double meter_load_curve(double wall_s)
{
    time_t t = (time_t)wall_s;
    struct tm tm;
    double h;

    if (!localtime_r(&t, &tm))
        return NIGHT_LOAD_W;
    h = tm.tm_hour + tm.tm_min / 60.0 + tm.tm_sec / 3600.0;
    return NIGHT_LOAD_W + PEAK_EXTRA_W * 0.5 * (1.0 - cos(2.0 * M_PI * (h - 3.0) / 24.0));
}

/* Mean-reverting random walk: x drifts back to mean with time constant tau
 * and takes a small random step each tick. */
static double wander(sim_device_t *dev, double x, double mean, double tau, double step, double dt)
{
    double a = dt / tau;

    if (dt <= 0.0)
        return x;
    return x + (mean - x) * (a > 1.0 ? 1.0 : a) + step * sim_rand(dev);
}

static void meter_tick(sim_device_t *dev, double dt, double wall_s)
{
    meter_state_t *s = dev->state;
    double *v = dev->values;
    double p_total, p_phase, volts;
    int k;

    for (k = 0; k < 3; k++) {
        s->volts[k] =
            wander(dev, s->volts[k], NOMINAL_V + phase_offset_v[k], VOLTAGE_TAU_S, 0.15, dt);
        v[EM_VOLTAGE_L1 + k] = s->volts[k];
    }
    s->hz = wander(dev, s->hz, NOMINAL_HZ, FREQ_TAU_S, 0.004, dt);
    v[EM_FREQUENCY] = s->hz;

    v[EM_POWER_TOTAL] = meter_load_curve(wall_s) * (1.0 + 0.01 * sim_rand(dev));
    p_total = sim_device_effective(dev, EM_POWER_TOTAL, v[EM_POWER_TOTAL]);
    for (k = 0; k < 3; k++) {
        p_phase = p_total * phase_share[k];
        volts = sim_device_effective(dev, EM_VOLTAGE_L1 + k, s->volts[k]);
        v[EM_POWER_L1 + k] = p_phase;
        v[EM_CURRENT_L1 + k] = volts > 1.0 ? fabs(p_phase) / (volts * POWER_FACTOR) : 0.0;
    }

    /* W * s -> kWh; a negative (held) power feeds the export register. */
    if (p_total >= 0.0)
        s->import_kwh += p_total * dt / 3.6e6;
    else
        s->export_kwh -= p_total * dt / 3.6e6;
    v[EM_IMPORT_ENERGY] = s->import_kwh;
    v[EM_EXPORT_ENERGY] = s->export_kwh;
    v[EM_TOTAL_ENERGY] = s->import_kwh + s->export_kwh;
}

const sim_kind_t sim_kind_energy_meter = {
    .name = "energy_meter_sdm630",
    .points = meter_points,
    .n_points = EM_N_POINTS,
    .n_holding = 0,
    .n_input = 0x156 + 2,
    .state_size = sizeof(meter_state_t),
    .init = meter_init,
    .tick = meter_tick,
};
