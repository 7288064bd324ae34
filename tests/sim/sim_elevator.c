/*
 * sim_elevator.c: the elevator kind of plantroom-sim.
 *
 * Serves drivers/profiles/elevator.json (holding registers 0..13) and keeps
 * the car busy: it idles with the doors closed, travels floor by floor to a
 * random landing (one trip), opens, holds and closes its doors (one door
 * cycle), and starts again. Motor current follows the phase (start peak,
 * travel up or down, standby), motor temperature drifts slowly toward a
 * phase-dependent level around 45 degC, and both vibration points are their
 * setpoint with +-2% noise. Counters are uint32 and wrap. See sim_model.h
 * for how points, control values and registers fit together.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/sim/sim_model.h"

#include <math.h>

#include "gateway/base/gw_types.h"

/* Indices into elevator_points; keep in the order of the table. */
enum {
    EL_FLOOR,
    EL_DIRECTION,
    EL_DOOR_STATE,
    EL_FAULT_CODE,
    EL_DOOR_CYCLES,
    EL_TRIPS,
    EL_MOTOR_TEMPERATURE,
    EL_MOTOR_CURRENT,
    EL_VIBRATION_MACHINE,
    EL_VIBRATION_CAR,
    EL_RUN_HOURS,
    EL_N_POINTS
};

static const sim_point_t elevator_points[] = {
    {"floor", SIM_HOLDING, 0, SIM_INT16, 1.0, 0, 0.0},
    {"direction", SIM_HOLDING, 1, SIM_UINT16, 1.0, 0, 0.0},
    {"door_state", SIM_HOLDING, 2, SIM_UINT16, 1.0, 0, 0.0},
    {"fault_code", SIM_HOLDING, 3, SIM_UINT16, 1.0, 0, 0.0},
    {"door_cycles", SIM_HOLDING, 4, SIM_UINT32, 1.0, 0, 0.0},
    {"trips", SIM_HOLDING, 6, SIM_UINT32, 1.0, 0, 0.0},
    {"motor_temperature", SIM_HOLDING, 8, SIM_INT16, 0.1, 0, 0.0},
    {"motor_current", SIM_HOLDING, 9, SIM_UINT16, 0.1, 0, 0.0},
    /* Zone A/B of ISO 10816 for a small machine: healthy defaults. */
    {"vibration_machine", SIM_HOLDING, 10, SIM_UINT16, 0.01, SIM_PT_SETPOINT, 1.2},
    {"vibration_car", SIM_HOLDING, 11, SIM_UINT16, 0.01, SIM_PT_SETPOINT, 0.8},
    {"run_hours", SIM_HOLDING, 12, SIM_UINT32, 1.0, 0, 0.0},
};
_Static_assert(GW_ARRAY_SIZE(elevator_points) == EL_N_POINTS, "elevator point table out of order");

/* Door states and directions as the profile describes them. */
enum { DIR_IDLE = 0, DIR_UP = 1, DIR_DOWN = 2 };
enum { DOOR_CLOSED = 0, DOOR_OPENING = 1, DOOR_OPEN = 2, DOOR_CLOSING = 3 };

typedef enum elevator_phase {
    PH_IDLE,
    PH_MOVING,
    PH_OPENING,
    PH_OPEN,
    PH_CLOSING,
} elevator_phase_t;

#define FLOOR_TIME_S     2.5  /* travel time per floor */
#define DOOR_MOVE_TIME_S 1.5  /* opening or closing */
#define START_PEAK_S     0.8  /* starting current lasts this long */
#define TEMP_TAU_S       900. /* thermal time constant of the motor */

typedef struct elevator_state {
    elevator_phase_t phase;
    double phase_left; /* seconds until the phase ends */
    double run_time;   /* seconds since the current run started */
    int floor, target, direction, door;
    uint32_t door_cycles, trips; /* wrap at 2^32 like the real counters */
    double run_seconds;          /* time spent moving since start */
    double temperature;          /* degC */
    double current;              /* A */
} elevator_state_t;

static double rand01(sim_device_t *dev)
{
    return 0.5 * (sim_rand(dev) + 1.0);
}

static void elevator_init(sim_device_t *dev)
{
    const sim_elevator_params_t *p = dev->params;
    elevator_state_t *s = dev->state;

    s->phase = PH_IDLE;
    s->phase_left = 1.0 + 3.0 * rand01(dev);
    s->floor = p->floor_min < 0 ? 0 : p->floor_min;
    s->door_cycles = p->door_cycles0;
    s->trips = p->trips0;
    s->temperature = 44.0 + 2.0 * rand01(dev);
}

/* Pick a landing other than the current one and start a run. */
static void elevator_start_run(sim_device_t *dev, elevator_state_t *s)
{
    const sim_elevator_params_t *p = dev->params;
    int span = p->floor_max - p->floor_min;

    do
        s->target = p->floor_min + (int)(rand01(dev) * (span + 1));
    while (s->target == s->floor);
    s->direction = s->target > s->floor ? DIR_UP : DIR_DOWN;
    s->trips++;
    s->run_time = 0.0;
    s->phase = PH_MOVING;
    s->phase_left += FLOOR_TIME_S;
}

/* End the current phase and enter the next one. */
static void elevator_next_phase(sim_device_t *dev, elevator_state_t *s)
{
    const sim_elevator_params_t *p = dev->params;

    switch (s->phase) {
    case PH_IDLE:
        if (p->floor_max > p->floor_min)
            elevator_start_run(dev, s);
        else
            s->phase_left += 5.0; /* a one-landing lift has nowhere to go */
        break;
    case PH_MOVING:
        s->floor += s->direction == DIR_UP ? 1 : -1;
        if (s->floor != s->target) {
            s->phase_left += FLOOR_TIME_S;
            break;
        }
        s->direction = DIR_IDLE;
        s->door = DOOR_OPENING;
        s->phase = PH_OPENING;
        s->phase_left += DOOR_MOVE_TIME_S;
        break;
    case PH_OPENING:
        s->door = DOOR_OPEN;
        s->phase = PH_OPEN;
        s->phase_left += 2.0 + 2.0 * rand01(dev);
        break;
    case PH_OPEN:
        s->door = DOOR_CLOSING;
        s->phase = PH_CLOSING;
        s->phase_left += DOOR_MOVE_TIME_S;
        break;
    case PH_CLOSING:
        s->door = DOOR_CLOSED;
        s->door_cycles++;
        s->phase = PH_IDLE;
        s->phase_left += 2.0 + 5.0 * rand01(dev);
        break;
    }
}

/* Current follows the phase; temperature creeps toward a level that is
 * higher while the car runs, so it wanders slowly around 45 degC. */
static void elevator_step_motor(sim_device_t *dev, elevator_state_t *s, double dt)
{
    double amps, target_temp;

    if (s->phase == PH_MOVING) {
        s->run_time += dt;
        s->run_seconds += dt;
        amps = s->direction == DIR_UP ? 18.0 : 13.0; /* counterweight helps going down */
        if (s->run_time < START_PEAK_S)
            amps = 32.0;
        target_temp = 48.5;
    } else {
        amps = s->phase == PH_IDLE ? 0.6 : 1.4; /* door operator draws a little */
        target_temp = 42.0;
    }
    s->current = amps * (1.0 + 0.03 * sim_rand(dev));
    s->temperature += (target_temp - s->temperature) * dt / TEMP_TAU_S;
    s->temperature += 0.01 * sim_rand(dev) * (dt > 0.0);
}

static void elevator_tick(sim_device_t *dev, double dt, double wall_s)
{
    const sim_elevator_params_t *p = dev->params;
    elevator_state_t *s = dev->state;
    double *v = dev->values;

    (void)wall_s;
    s->phase_left -= dt;
    while (s->phase_left <= 0.0)
        elevator_next_phase(dev, s);
    elevator_step_motor(dev, s, dt);

    v[EL_FLOOR] = s->floor;
    v[EL_DIRECTION] = s->direction;
    v[EL_DOOR_STATE] = s->door;
    v[EL_FAULT_CODE] = 0;
    v[EL_DOOR_CYCLES] = s->door_cycles;
    v[EL_TRIPS] = s->trips;
    v[EL_MOTOR_TEMPERATURE] = s->temperature;
    v[EL_MOTOR_CURRENT] = s->current;
    v[EL_VIBRATION_MACHINE] =
        sim_device_effective(dev, EL_VIBRATION_MACHINE, 0.0) * (1.0 + 0.02 * sim_rand(dev));
    v[EL_VIBRATION_CAR] =
        sim_device_effective(dev, EL_VIBRATION_CAR, 0.0) * (1.0 + 0.02 * sim_rand(dev));
    v[EL_RUN_HOURS] = (uint32_t)(p->run_hours0 + (uint32_t)(s->run_seconds / 3600.0));
}

const sim_kind_t sim_kind_elevator = {
    .name = "elevator",
    .points = elevator_points,
    .n_points = EL_N_POINTS,
    .n_holding = 14,
    .n_input = 0,
    .state_size = sizeof(elevator_state_t),
    .init = elevator_init,
    .tick = elevator_tick,
};
