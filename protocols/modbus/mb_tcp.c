/*
 * mb_tcp.c: a Modbus TCP read in three system calls when the answer comes
 * whole (mb_int.h): the request sent, one poll() for the answer, one
 * recv() of all of it. Timing, framing, checks and errnos are libmodbus's.
 *
 * Why not modbus_read_registers(): libmodbus reads an answer in three
 * steps (header and function, byte count, data), each a select() and a
 * recv(), so a read costs seven system calls; on the virtual machines
 * plantroom runs on a system call costs 1-2 us, about a tenth of a whole
 * request (docs/performance.md, "The bus threads"). The answer of a read
 * is at most 260 bytes and nearly always comes in one segment: each recv()
 * here asks for all that is still missing of it.
 *
 * Timing, as libmodbus's receive (3.1.6, _modbus_receive_msg): the first
 * byte of an answer may take the response timeout
 * (modbus_set_response_timeout); after that, every wait for more of it may
 * take the byte timeout (modbus_set_byte_timeout, 0.5 s unless set; set to
 * 0, the rest of the response timeout). An answer trickled in, each piece
 * within the byte timeout of the last, is waited for however long it takes
 * in all, as libmodbus does: a wedged serial gateway that trickles keeps
 * the bus thread here, and the liveness watch sees it (docs/operations.md).
 *
 * Framing, as libmodbus: the MBAP header and the function (8 bytes), one
 * more byte (the byte count, or an exception's code; 4 for the echo of a
 * write, 6 for mask write), then the byte count's data for the functions
 * that have it (1-4, 0x11, 0x17). The MBAP length is not used; an answer
 * that would pass 260 bytes is EMBBADDATA. Asking for a whole normal
 * answer may read past a shorter one (an exception, or a late answer of a
 * smaller block): what follows is kept for the next answer of this read,
 * and anything past ours makes the bus drain the line before its next
 * request.
 *
 * Checks and errnos, as libmodbus's check_confirmation(), so that
 * mb__classify() and the rest of the bus are unchanged: no first byte
 * within the response timeout, or no next one within the byte timeout, is
 * ETIMEDOUT; the peer's close ECONNRESET; a socket error its errno; a
 * protocol id other than 0 EMBBADDATA (as libmodbus from 3.1.10; Debian
 * 12's 3.1.6 only refused one with both bytes set); an exception to our
 * function MODBUS_ENOBASE + its code (EMBBADEXC for a code from 12 on, or
 * an exception to another function); another function, byte count or
 * length EMBBADDATA. Like libmodbus for TCP, the unit id of the answer is
 * not compared (gateways rewrite it).
 *
 * Transaction ids: an answer with another id is a late one, to a request
 * that timed out: it is skipped and the read goes on for ours, waiting
 * the response timeout again for an answer not yet begun (as libmodbus's
 * receive called once more did before); after four skipped, EMBBADDATA.
 * Our ids are a sequence apart from libmodbus's (which still sends the
 * writes, mb_write.c): they start half-way round, so that the two do not
 * meet for 32,768 requests.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb_int.h"
#include "gateway/base/gw_clock.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#define MB_TCP_ADU_MAX  260 /* MODBUS_TCP_MAX_ADU_LENGTH */
#define MB_TCP_HEAD     8   /* the MBAP header (with the unit id) and the function */
#define MB_TCP_META_MAX 6   /* the longest meta: mask write's echo */
#define MB_TCP_SKIP_MAX 4   /* late answers skipped in one read */

static const uint8_t mb__tcp_fc[] = {
    MODBUS_FC_READ_COILS,
    MODBUS_FC_READ_DISCRETE_INPUTS,
    MODBUS_FC_READ_HOLDING_REGISTERS,
    MODBUS_FC_READ_INPUT_REGISTERS,
}; /* by MB_TABLE_* */

static size_t mb__tcp_request(uint8_t *req, uint16_t tid, uint8_t unit, const mb_block_t *b)
{
    req[0] = (uint8_t)(tid >> 8);
    req[1] = (uint8_t)tid;
    req[2] = req[3] = 0; /* protocol id */
    req[4] = 0;
    req[5] = 6; /* unit + function + address + count */
    req[6] = unit;
    req[7] = mb__tcp_fc[b->table];
    req[8] = (uint8_t)(b->addr >> 8);
    req[9] = (uint8_t)b->addr;
    req[10] = (uint8_t)(b->count >> 8);
    req[11] = (uint8_t)b->count;
    return 12;
}

static int mb__tcp_send(int fd, const uint8_t *req, size_t n)
{
    ssize_t w;

    do
        w = send(fd, req, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)n)
        return 0;
    return w < 0 ? errno : EMBBADDATA; /* libmodbus's error for a short send */
}

/* Wait until the monotonic deadline for more of the answer and read at
 * most want bytes of it into buf. Returns the count read, or a negative
 * errno (-ETIMEDOUT at the deadline). */
static ssize_t mb__tcp_recv(int fd, uint8_t *buf, size_t want, int64_t deadline_ms)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline_ms - gw_mono_ms();
        int rc = poll(&p, 1, left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left);
        ssize_t n;

        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -errno;
        if (rc == 0)
            return -ETIMEDOUT;
        n = recv(fd, buf, want, 0);
        if (n > 0)
            return n;
        if (n == 0)
            return -ECONNRESET; /* closed by the peer */
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
    }
}

/* The length of the answer at a, framed as libmodbus frames one, once the
 * have bytes read tell it: 0 while more are needed to know it, -1 when it
 * would pass the longest ADU. */
static int mb__tcp_frame(const uint8_t *a, size_t have)
{
    int fn, meta, len;

    if (have < MB_TCP_HEAD)
        return 0;
    fn = a[MB_TCP_HEAD - 1];
    switch (fn) {
    case MODBUS_FC_WRITE_SINGLE_COIL:
    case MODBUS_FC_WRITE_SINGLE_REGISTER:
    case MODBUS_FC_WRITE_MULTIPLE_COILS:
    case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
        meta = 4;
        break;
    case MODBUS_FC_MASK_WRITE_REGISTER:
        meta = MB_TCP_META_MAX;
        break;
    default:
        meta = 1;
    }
    if (have < (size_t)(MB_TCP_HEAD + meta))
        return 0;
    len = MB_TCP_HEAD + meta;
    if (fn <= MODBUS_FC_READ_INPUT_REGISTERS || fn == MODBUS_FC_REPORT_SLAVE_ID ||
        fn == MODBUS_FC_WRITE_AND_READ_REGISTERS)
        len += a[MB_TCP_HEAD];
    return len > MB_TCP_ADU_MAX ? -1 : len;
}

/* Our answer (len bytes at a) checked as libmodbus's check_confirmation()
 * checks it, and its values into dst. Returns 0 or an errno. */
static int mb__tcp_check(const mb_block_t *b, const uint8_t *a, int len, uint16_t *dst)
{
    int bits = b->table == MB_TABLE_COIL || b->table == MB_TABLE_DISCRETE;
    int nbytes = bits ? (b->count + 7) / 8 : 2 * b->count;
    const uint8_t *pdu = a + MB_TCP_HEAD - 1;

    if (a[2] != 0 || a[3] != 0)
        return EMBBADDATA; /* protocol id */
    if (pdu[0] >= 0x80) {  /* framed as 9 bytes: function and code */
        if (len != MB_TCP_HEAD + 1 || pdu[0] - 0x80 != mb__tcp_fc[b->table])
            return EMBBADEXC;
        return pdu[1] < MODBUS_EXCEPTION_MAX ? MODBUS_ENOBASE + pdu[1] : EMBBADEXC;
    }
    if (len != MB_TCP_HEAD + 1 + nbytes || pdu[0] != mb__tcp_fc[b->table] || pdu[1] != nbytes)
        return EMBBADDATA;
    for (int i = 0; i < b->count; i++)
        dst[i] = bits ? (uint16_t)((pdu[2 + i / 8] >> (i % 8)) & 1)
                      : (uint16_t)(pdu[2 + 2 * i] << 8 | pdu[3 + 2 * i]);
    return 0;
}

/* A libmodbus timeout in ms, rounded up; 0 when it is not set. */
static int64_t mb__tcp_ms(uint32_t s, uint32_t us)
{
    return (int64_t)s * 1000 + (us + 999) / 1000;
}

/* How many bytes the next recv() should complete the buffer to: the answer
 * under way when its length is known (len > 0), else at least a normal
 * answer (normal bytes), and enough to know the length. */
static size_t mb__tcp_want(size_t normal, int len)
{
    if (len > 0)
        return (size_t)len;
    return normal > MB_TCP_HEAD + MB_TCP_META_MAX ? normal : MB_TCP_HEAD + MB_TCP_META_MAX;
}

int mb__tcp_read(mb_bus_t *bus, uint8_t unit, const mb_block_t *b, uint16_t *dst)
{
    uint8_t req[12], rsp[MB_TCP_ADU_MAX];
    int bits = b->table == MB_TABLE_COIL || b->table == MB_TABLE_DISCRETE;
    int fd = modbus_get_socket(bus->ctx), skipped = 0, e, len;
    size_t have = 0, normal = MB_TCP_HEAD + 1 + (size_t)(bits ? (b->count + 7) / 8 : 2 * b->count);
    int64_t response_ms, byte_ms, deadline;
    uint32_t s, us;

    if (b->table > MB_TABLE_INPUT || normal > sizeof(rsp))
        return EINVAL;
    modbus_get_response_timeout(bus->ctx, &s, &us);
    response_ms = mb__tcp_ms(s, us);
    modbus_get_byte_timeout(bus->ctx, &s, &us);
    byte_ms = mb__tcp_ms(s, us); /* 0: not set, the response timeout goes on */
    bus->raw_tid = bus->raw_tid == UINT16_MAX ? 0 : (uint16_t)(bus->raw_tid + 1);
    e = mb__tcp_send(fd, req, mb__tcp_request(req, bus->raw_tid, unit, b));
    if (e)
        return e;
    deadline = gw_mono_ms() + response_ms;
    for (;;) {
        len = mb__tcp_frame(rsp, have);
        if (len < 0)
            return EMBBADDATA; /* libmodbus's "too many data" */
        if (len > 0 && have >= (size_t)len) {
            if ((uint16_t)(rsp[0] << 8 | rsp[1]) == bus->raw_tid) {
                if (have > (size_t)len)
                    bus->need_flush = 1; /* more than our answer: drain before the next request */
                return mb__tcp_check(b, rsp, len, dst);
            }
            if (++skipped > MB_TCP_SKIP_MAX)
                return EMBBADDATA;
            memmove(rsp, rsp + len, have - (size_t)len); /* a late answer: ours comes after it */
            have -= (size_t)len;
            if (have == 0)
                deadline = gw_mono_ms() + response_ms;
            continue;
        }
        ssize_t n = mb__tcp_recv(fd, rsp + have, mb__tcp_want(normal, len) - have, deadline);
        if (n < 0)
            return (int)-n;
        have += (size_t)n;
        if (byte_ms > 0)
            deadline = gw_mono_ms() + byte_ms;
    }
}
