/*
 * test_mb_tcp.c: the Modbus TCP read (protocols/modbus/mb_tcp.c) over a
 * real TCP connection that libmodbus opens (modbus_connect) to a peer of
 * the test's own on 127.0.0.1.
 *
 * Against libmodbus itself: the same scripted answers (whole, trickled a
 * byte at a time, cut off, garbled, exceptions, the peer's close) are read
 * once by modbus_read_registers()/modbus_read_bits() and once by
 * mb__tcp_read(), each on a fresh connection, and must end alike: the same
 * errno and values. A trickled answer that takes longer in all than the
 * response timeout, each byte within the byte timeout, is read; a gap
 * longer than the byte timeout is ETIMEDOUT, well before the response
 * timeout. Then what only our read does: the request's bytes, late answers
 * skipped by transaction id (also after a timeout), bytes past ours left
 * for the bus's drain, the protocol id.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb_int.h"
#include "gateway/base/gw_clock.h"
#include "t.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int lfd = -1; /* the test's listening socket */
static char lport[8];
static mb_bus_t bus;
static int peer = -1; /* the test's end of bus.ctx's connection */

static void listen_once(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    T_CHECK(lfd >= 0);
    T_CHECK(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
    T_CHECK(listen(lfd, 4) == 0);
    T_CHECK(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
    snprintf(lport, sizeof(lport), "%u", ntohs(a.sin_port));
}

/* A connection as the bus makes one, with these timeouts (ms). */
static void setup_t(int response_ms, int byte_ms)
{
    int one = 1;

    memset(&bus, 0, sizeof(bus));
    bus.ctx = modbus_new_tcp_pi("127.0.0.1", lport);
    T_CHECK(bus.ctx != NULL);
    T_CHECK(modbus_connect(bus.ctx) == 0);
    modbus_set_response_timeout(bus.ctx, (uint32_t)response_ms / 1000,
                                (uint32_t)(response_ms % 1000) * 1000);
    modbus_set_byte_timeout(bus.ctx, (uint32_t)byte_ms / 1000, (uint32_t)(byte_ms % 1000) * 1000);
    bus.cur_timeout_ms = response_ms; /* as mb__set_timeout keeps it */
    bus.transport = MB_TCP;
    bus.connected = 1;
    bus.raw_tid = 0x8000;
    peer = accept(lfd, NULL, NULL);
    T_CHECK(peer >= 0);
    setsockopt(peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* a byte is a segment */
}

static void setup(void)
{
    setup_t(2000, 500);
}

static void teardown(void)
{
    modbus_close(bus.ctx);
    modbus_free(bus.ctx);
    if (peer >= 0)
        close(peer);
    peer = -1;
}

/* An answer ADU with transaction id tid and PDU pdu (n bytes) at out. */
static size_t adu(uint8_t *out, uint16_t tid, const uint8_t *pdu, size_t n)
{
    out[0] = (uint8_t)(tid >> 8);
    out[1] = (uint8_t)tid;
    out[2] = out[3] = 0;
    out[4] = (uint8_t)((n + 1) >> 8);
    out[5] = (uint8_t)(n + 1);
    out[6] = 7; /* unit id: not compared */
    memcpy(out + 7, pdu, n);
    return 7 + n;
}

static void put(const void *b, size_t n)
{
    T_CHECK_EQ_INT(send(peer, b, n, MSG_NOSIGNAL), (long long)n);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the same answers read by libmodbus and by mb__tcp_read ---- */

/* What the peer answers a request with: ans (its transaction id replaced
 * by the request's), first bytes at once, then one byte every step_ms up
 * to upto bytes; then it shuts its side when shut. */
typedef struct script {
    const char *what;
    uint8_t ans[300];
    size_t n, first, upto;
    int step_ms, shut;
    int response_ms, byte_ms;
} script_t;

static void *peer_answer(void *arg)
{
    const script_t *s = arg;
    uint8_t req[12], a[300];
    size_t got = 0, i;

    while (got < sizeof(req)) {
        ssize_t n = recv(peer, req + got, sizeof(req) - got, 0);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
    }
    memcpy(a, s->ans, s->n);
    a[0] = req[0];
    a[1] = req[1];
    i = s->first < s->upto ? s->first : s->upto;
    if (i && send(peer, a, i, MSG_NOSIGNAL) != (ssize_t)i)
        return NULL;
    for (; i < s->upto; i++) {
        sleep_ms(s->step_ms);
        if (send(peer, a + i, 1, MSG_NOSIGNAL) != 1)
            return NULL;
    }
    if (s->shut)
        shutdown(peer, SHUT_WR);
    return NULL;
}

typedef struct outcome {
    int e;
    uint16_t v[10];
    int64_t ms;
} outcome_t;

/* Read b once under script s, by libmodbus (ours 0) or by mb__tcp_read. */
static outcome_t run(const script_t *s, const mb_block_t *b, int ours)
{
    outcome_t o = {0};
    uint8_t bits[10];
    pthread_t th;
    int64_t t0;
    int n;

    setup_t(s->response_ms, s->byte_ms);
    T_CHECK(pthread_create(&th, NULL, peer_answer, (void *)s) == 0);
    t0 = gw_mono_ms();
    if (ours) {
        o.e = mb__tcp_read(&bus, 1, b, o.v);
    } else if (b->table == MB_TABLE_HOLDING) {
        n = modbus_read_registers(bus.ctx, b->addr, b->count, o.v);
        o.e = n < 0 ? errno : 0;
    } else {
        n = modbus_read_bits(bus.ctx, b->addr, b->count, bits);
        o.e = n < 0 ? errno : 0;
        for (int i = 0; i < n && i < 10; i++)
            o.v[i] = bits[i];
    }
    o.ms = gw_mono_ms() - t0;
    pthread_join(th, NULL);
    teardown();
    return o;
}

/* Holding registers 100..102 answered 0x0102, 0x0304, 0x0506. */
static const uint8_t regs3[] = {3, 6, 1, 2, 3, 4, 5, 6};
static const mb_block_t hold3 = {MB_TABLE_HOLDING, 100, 3, 0};

/* A script answering pdu whole, at once. */
static script_t whole(const char *what, const uint8_t *pdu, size_t n)
{
    script_t s = {.what = what, .response_ms = 1000, .byte_ms = 200};

    s.n = adu(s.ans, 0, pdu, n);
    s.first = s.upto = s.n;
    return s;
}

/* Both reads end alike; returns ours. */
static outcome_t same(const script_t *s, const mb_block_t *b, int want_e)
{
    outcome_t lib = run(s, b, 0), our = run(s, b, 1);

    if (lib.e != our.e || lib.e != want_e || memcmp(lib.v, our.v, sizeof(lib.v)) != 0)
        fprintf(stderr, "  %s: libmodbus %d (%s), ours %d (%s), expected %d\n", s->what, lib.e,
                modbus_strerror(lib.e), our.e, modbus_strerror(our.e), want_e);
    T_CHECK_EQ_INT(our.e, lib.e);
    T_CHECK_EQ_INT(our.e, want_e);
    T_CHECK(memcmp(lib.v, our.v, sizeof(lib.v)) == 0);
    return our;
}

T_TEST(same_as_libmodbus)
{
    static const uint8_t e2[] = {0x83, 2}, e0[] = {0x83, 0}, e9[] = {0x83, 9}, e12[] = {0x83, 12},
                         e_other[] = {0x84, 2}, fc4[] = {4, 6, 1, 2, 3, 4, 5, 6},
                         short2[] = {3, 4, 1, 2, 3, 4}, echo5[] = {5, 0, 100, 0xff, 0},
                         coils[] = {1, 2, 0x05, 0x01};
    const mb_block_t coils10 = {MB_TABLE_COIL, 0, 10, 0};
    script_t s;

    s = whole("registers", regs3, sizeof(regs3));
    T_CHECK_EQ_INT(same(&s, &hold3, 0).v[2], 0x0506);
    s = whole("coils", coils, sizeof(coils));
    T_CHECK_EQ_INT(same(&s, &coils10, 0).v[8], 1);
    s = whole("exception 2", e2, sizeof(e2));
    same(&s, &hold3, EMBXILADD);
    s = whole("exception 0", e0, sizeof(e0));
    same(&s, &hold3, MODBUS_ENOBASE);
    /* no such exception: a garbled answer (retried), not a link failure */
    T_CHECK_EQ_INT(mb__classify(MODBUS_ENOBASE), MB__F_GARBLED);
    s = whole("exception 9", e9, sizeof(e9));
    same(&s, &hold3, MODBUS_ENOBASE + 9);
    s = whole("exception 12", e12, sizeof(e12));
    same(&s, &hold3, EMBBADEXC);
    s = whole("exception to another function", e_other, sizeof(e_other));
    same(&s, &hold3, EMBBADEXC);
    s = whole("input registers for holding", fc4, sizeof(fc4));
    same(&s, &hold3, EMBBADDATA);
    s = whole("two registers for three", short2, sizeof(short2));
    same(&s, &hold3, EMBBADDATA);
    s = whole("a write's echo", echo5, sizeof(echo5));
    same(&s, &hold3, EMBBADDATA);
    s = whole("MBAP length 0 (libmodbus does not read it)", regs3, sizeof(regs3));
    s.ans[4] = s.ans[5] = 0;
    same(&s, &hold3, 0);
    s = whole("protocol id 0x0101", regs3, sizeof(regs3));
    s.ans[2] = s.ans[3] = 1;
    same(&s, &hold3, EMBBADDATA);
    s = whole("byte count 252: longer than an ADU", regs3, sizeof(regs3));
    s.ans[8] = 252;
    same(&s, &hold3, EMBBADDATA);
}

T_TEST(same_as_libmodbus_when_cut_off_or_closed)
{
    script_t s;

    s = whole("silence", regs3, sizeof(regs3));
    s.response_ms = 200;
    s.upto = 0;
    T_CHECK(same(&s, &hold3, ETIMEDOUT).ms >= 190);
    s = whole("two data bytes missing", regs3, sizeof(regs3));
    s.upto = s.n - 2;
    same(&s, &hold3, ETIMEDOUT);
    s = whole("closed after the header", regs3, sizeof(regs3));
    s.upto = 7;
    s.shut = 1;
    same(&s, &hold3, ECONNRESET);
    s = whole("closed without a word", regs3, sizeof(regs3));
    s.upto = 0;
    s.shut = 1;
    same(&s, &hold3, ECONNRESET);
}

/* The answer a byte every 50 ms (0.8 s in all) with a response timeout of
 * 500 ms and a byte timeout of 1.5 s: read, by both. */
T_TEST(trickled_within_the_byte_timeout)
{
    script_t s = whole("trickled", regs3, sizeof(regs3));
    outcome_t o;

    s.first = 1;
    s.step_ms = 50;
    s.response_ms = 500;
    s.byte_ms = 1500;
    o = same(&s, &hold3, 0);
    T_CHECK_EQ_INT(o.v[0], 0x0102);
    T_CHECK(o.ms >= 500); /* longer than the response timeout in all */
}

/* Five bytes, then nothing: ETIMEDOUT once the byte timeout (200 ms) has
 * passed, not the response timeout (5 s). */
T_TEST(a_gap_past_the_byte_timeout)
{
    script_t s = whole("gap", regs3, sizeof(regs3));
    outcome_t o;

    s.first = 5;
    s.upto = 5;
    s.response_ms = 5000;
    s.byte_ms = 200;
    o = same(&s, &hold3, ETIMEDOUT);
    T_CHECK(o.ms >= 190);
    T_CHECK(o.ms < 4000);
}

/* ---- what only mb__tcp_read does ---- */

T_TEST(request_bytes)
{
    uint8_t req[12], b[32];
    uint16_t dst[3] = {0};

    setup();
    put(b, adu(b, 0x8001, regs3, sizeof(regs3)));
    T_CHECK_EQ_INT(mb__tcp_read(&bus, 17, &hold3, dst), 0);
    T_CHECK_EQ_INT(dst[1], 0x0304);
    T_CHECK_EQ_INT(recv(peer, req, sizeof(req), 0), 12);
    T_CHECK(memcmp(req, "\x80\x01\0\0\0\x06\x11\x03\0\x64\0\x03", 12) == 0);
    T_CHECK_EQ_INT(bus.need_flush, 0);
    teardown();
}

T_TEST(late_answers_skipped_and_extra_bytes_flagged)
{
    uint8_t b[128], late[] = {3, 2, 9, 9}, exc[] = {0x83, 4};
    uint16_t dst[3] = {0};
    size_t n;

    setup();
    /* the late answer of a timed-out request (1 register), an exception of
     * another late one, then ours, then junk after it */
    n = adu(b, 0x7fff, late, sizeof(late));
    n += adu(b + n, 0x0001, exc, sizeof(exc));
    n += adu(b + n, 0x8001, regs3, sizeof(regs3));
    memcpy(b + n, "\xde\xad", 2);
    put(b, n + 2);
    T_CHECK_EQ_INT(mb__tcp_read(&bus, 1, &hold3, dst), 0);
    T_CHECK_EQ_INT(dst[2], 0x0506);
    /* nothing was read past ours: the junk waits on the line */
    T_CHECK_EQ_INT(bus.need_flush, 0);
    T_CHECK_EQ_INT(recv(modbus_get_socket(bus.ctx), b, sizeof(b), MSG_DONTWAIT), 2);
    /* an answer shorter than a normal one (an exception) read together with
     * what follows it: the bus drains before its next request */
    n = adu(b, 0x8002, exc, sizeof(exc));
    memcpy(b + n, "\xde\xad\xbe\xef", 4);
    put(b, n + 4);
    T_CHECK_EQ_INT(mb__tcp_read(&bus, 1, &hold3, dst), EMBXSFAIL);
    T_CHECK_EQ_INT(bus.need_flush, 1);
    teardown();

    setup();
    /* five late answers: the fifth is one too many */
    for (n = 0; n < 5 * 11; n += 11)
        adu(b + n, (uint16_t)(0x7000 + n), late, sizeof(late));
    put(b, n);
    T_CHECK_EQ_INT(mb__tcp_read(&bus, 1, &hold3, dst), EMBBADDATA);
    teardown();
}

/* A read that timed out is not the end of the connection: its answer,
 * come late, is skipped by the next read, which gets its own. */
T_TEST(after_a_timeout_the_late_answer_is_skipped)
{
    uint8_t b[64], other[] = {3, 6, 9, 9, 9, 9, 9, 9};
    uint16_t dst[3] = {0};
    size_t n;

    setup_t(150, 500);
    T_CHECK_EQ_INT(mb__tcp_read(&bus, 1, &hold3, dst), ETIMEDOUT);
    n = adu(b, 0x8001, other, sizeof(other));
    n += adu(b + n, 0x8002, regs3, sizeof(regs3));
    put(b, n);
    T_CHECK_EQ_INT(mb__tcp_read(&bus, 1, &hold3, dst), 0);
    T_CHECK_EQ_INT(dst[0], 0x0102);
    teardown();
}

/* Protocol id 0x0001: refused as libmodbus from 3.1.10 refuses it (3.1.6
 * took it: its test needed both bytes set). */
T_TEST(protocol_id)
{
    uint8_t b[32];
    uint16_t dst[3];
    size_t n;

    setup();
    n = adu(b, 0x8001, regs3, sizeof(regs3));
    b[3] = 1;
    put(b, n);
    T_CHECK_EQ_INT(mb__tcp_read(&bus, 1, &hold3, dst), EMBBADDATA);
    T_CHECK_EQ_INT(mb__classify(EMBBADDATA), MB__F_GARBLED);
    teardown();
}

int main(void)
{
    listen_once();
    T_RUN(same_as_libmodbus);
    T_RUN(same_as_libmodbus_when_cut_off_or_closed);
    T_RUN(trickled_within_the_byte_timeout);
    T_RUN(a_gap_past_the_byte_timeout);
    T_RUN(request_bytes);
    T_RUN(late_answers_skipped_and_extra_bytes_flagged);
    T_RUN(after_a_timeout_the_late_answer_is_skipped);
    T_RUN(protocol_id);
    close(lfd);
    return t_done();
}
