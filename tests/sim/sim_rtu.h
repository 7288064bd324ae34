/*
 * sim_rtu.h: the serial (Modbus RTU) side of plantroom-sim.
 *
 * libmodbus's RTU server answers one slave address per context, while the
 * simulator plays a whole line of devices. So the simulator frames requests
 * itself: it reads what arrives on the port into a buffer, finds a request's
 * length from its function code, checks the CRC, and hands a complete frame
 * (address, PDU, CRC) to modbus_reply() on an RTU context, which builds the
 * answer with the right address and CRC. A frame with a bad CRC, an unknown
 * function code, or a gap of more than 50 ms in the middle is dropped, as a
 * real device resynchronises on silence.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_SIM_RTU_H
#define PLANTROOM_SIM_RTU_H

#include <modbus.h>
#include <stdint.h>

typedef struct sim_rtu {
    modbus_t *ctx; /* owned; its fd is the port */
    int fd;        /* -1 when closed */
    uint8_t buf[512];
    int len;
    int64_t last_rx_ms; /* monotonic time of the last byte */
} sim_rtu_t;

/* Open the port at 8N1. Returns 0, or GW_EIO after logging. */
int sim_rtu_open(sim_rtu_t *r, const char *path, int baud);
/* Serve RTU frames on a connected TCP socket instead (RTU over TCP, as a
 * serial device server carries them): replaces any previous one. Returns
 * 0 or GW_ENOMEM. */
int sim_rtu_attach(sim_rtu_t *r, int fd);
/* Read what is available. Returns 0, or -1 when the peer closed (a TCP
 * client) or the port failed. */
int sim_rtu_read(sim_rtu_t *r);
/* Take the next complete, CRC-checked request into out. Returns its length,
 * or 0 when none is complete yet. */
int sim_rtu_next(sim_rtu_t *r, uint8_t *out, int outlen);
void sim_rtu_close(sim_rtu_t *r);

/* The Modbus CRC-16 of n bytes. */
uint16_t sim_rtu_crc(const uint8_t *p, int n);

#endif
