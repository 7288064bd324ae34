/*
 * sim_rtu.c: request framing for the simulator's RTU port (sim_rtu.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/sim/sim_rtu.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"

#define MOD        "sim"
#define RTU_GAP_MS 50 /* silence that ends (and discards) a partial frame */

uint16_t sim_rtu_crc(const uint8_t *p, int n)
{
    uint16_t crc = 0xffff;

    for (int i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xa001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

int sim_rtu_open(sim_rtu_t *r, const char *path, int baud)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    r->ctx = modbus_new_rtu(path, baud, 'N', 8, 1);
    if (!r->ctx || modbus_connect(r->ctx) != 0) {
        gw_log_error(MOD, "rtu: cannot open %s: %s", path, modbus_strerror(errno));
        if (r->ctx)
            modbus_free(r->ctx);
        r->ctx = NULL;
        return GW_EIO;
    }
    r->fd = modbus_get_socket(r->ctx);
    gw_log_info(MOD, "rtu: serving %s at %d 8N1", path, baud);
    return 0;
}

int sim_rtu_attach(sim_rtu_t *r, int fd)
{
    if (r->fd >= 0)
        close(r->fd);
    if (!r->ctx)
        r->ctx = modbus_new_rtu("/dev/null", 9600, 'N', 8, 1); /* never opened: replies only */
    if (!r->ctx) {
        close(fd);
        r->fd = -1;
        return GW_ENOMEM;
    }
    modbus_set_socket(r->ctx, fd);
    r->fd = fd;
    r->len = 0;
    return 0;
}

int sim_rtu_read(sim_rtu_t *r)
{
    ssize_t n;

    if (r->len == (int)sizeof(r->buf))
        r->len = 0; /* junk filled the buffer: start over */
    n = read(r->fd, r->buf + r->len, sizeof(r->buf) - (size_t)r->len);
    if (n > 0) {
        r->len += (int)n;
        r->last_rx_ms = gw_mono_ms();
        return 0;
    }
    return n == 0 || (errno != EAGAIN && errno != EINTR) ? -1 : 0;
}

/* Length of the request starting at buf, 0 if not known yet, -1 if it is
 * no request we serve. */
static int rtu__frame_len(const uint8_t *b, int len)
{
    if (len < 2)
        return 0;
    switch (b[1]) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
        return 8;
    case 15:
    case 16:
        return len < 7 ? 0 : 9 + b[6];
    default:
        return -1;
    }
}

static void rtu__drop(sim_rtu_t *r, int n, const char *why)
{
    if (why)
        gw_log_info(MOD, "rtu: %d bytes dropped: %s", n, why);
    memmove(r->buf, r->buf + n, (size_t)(r->len - n));
    r->len -= n;
}

int sim_rtu_next(sim_rtu_t *r, uint8_t *out, int outlen)
{
    while (r->len > 0) {
        int n = rtu__frame_len(r->buf, r->len);
        if (n < 0) {
            rtu__drop(r, r->len, "unknown function code");
            return 0;
        }
        if (n == 0 || r->len < n) {
            if (gw_mono_ms() - r->last_rx_ms > RTU_GAP_MS)
                rtu__drop(r, r->len, "partial frame");
            return 0;
        }
        if (n > outlen || sim_rtu_crc(r->buf, n - 2) != (r->buf[n - 2] | r->buf[n - 1] << 8)) {
            rtu__drop(r, r->len, "bad CRC");
            return 0;
        }
        memcpy(out, r->buf, (size_t)n);
        rtu__drop(r, n, NULL);
        return n;
    }
    return 0;
}

void sim_rtu_close(sim_rtu_t *r)
{
    if (r->ctx && r->fd >= 0)
        modbus_close(r->ctx);
    if (r->ctx)
        modbus_free(r->ctx);
    r->ctx = NULL;
    r->fd = -1;
}
