/*
 * fuzz_modbus_reply.c: what the loop does with a Modbus reply
 * (gateway/core/core_poll.c): a bus thread's reading of a device's planned
 * blocks, with any register contents and any per-block outcome (good, a
 * Modbus exception, not read) and the whole poll failed or not, decoded
 * into the device's points in every type and byte order of the shipped
 * profiles (bit fields, strings, a decimals point, float32/64 NaN and
 * infinity included), then its rules (threshold, trend, counter, state
 * bit) and device status. Each input is a sequence of readings: a
 * device, the time step, the outcome, then the words.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_clock.h"
#include "gateway/core/gw_core.h"
#include "protocols/modbus/mb.h"
#include "tests/fuzz/fuzz_util.h"

#include <stdlib.h>
#include <string.h>

static uv_loop_t loop;
static gw_core_t *core;
static int64_t clock_off;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc;
    (void)argv;
    gw_log_set_level(GW_LOG_ERROR);
    fuzz_clock_pin(&clock_off);
    uv_loop_init(&loop);
    if (gw_core_create(&core, &loop, fuzz_config(), err, sizeof(err)) != 0)
        abort();
    return 0;
}

/* One reading of Modbus device di, shaped as mb_poll.c makes it. */
static void reading(size_t di, fuzz_in_t *in)
{
    const gw_device_rt_t *d = &gw_core_runtime(core)->devs[di];
    size_t nb = d->nblocks;
    mb_reading_t *r = calloc(1, sizeof(*r) + (d->nwords + nb) * sizeof(uint16_t));
    uint8_t how = fuzz_byte(in);

    if (!r)
        return;
    clock_off += fuzz_u16(in); /* readings move forward in time, by up to a minute */
    r->hdr.kind = MB_EV_READING;
    r->bus_id = d->cfg->bus_idx;
    r->device_id = (int)di;
    r->ts_ms = gw_wall_ms();
    r->nwords = d->nwords;
    r->nblocks = nb;
    r->block_status = r->words + d->nwords;
    r->rc = (how & 0xf0) == 0xf0 ? GW_ETIMEDOUT : 0;
    if (r->rc)
        snprintf(r->err, sizeof(r->err), "timed out");
    for (size_t b = 0; b < nb; b++) {
        uint8_t st = (how & 1) ? fuzz_byte(in) : 0;
        r->block_status[b] = st < 0xf0 ? 0 : st == 0xff ? MB_BLOCK_FAILED : (uint16_t)(st & 0xf);
    }
    for (size_t w = 0; w < d->nwords; w++)
        r->words[w] = (how & 2) ? fuzz_u16(in) : (uint16_t)(fuzz_byte(in) * 17);
    gw_core_on_message(core, &r->hdr);
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    const gw_config_t *cfg = gw_core_config(core);
    size_t nbus = 0, map[64];

    for (size_t i = 0; i < cfg->ndevices && nbus < 64; i++) {
        if (cfg->devices[i].bus_idx >= 0)
            map[nbus++] = i;
    }
    while (in.n > 0 && nbus > 0)
        reading(map[fuzz_byte(&in) % nbus], &in);
    return 0;
}
