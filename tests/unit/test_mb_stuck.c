/*
 * test_mb_stuck.c: a bus thread stuck inside a write (mb_bus.c, mb_write.c).
 * A real TCP peer in the test answers a write (FC 06) with a frame that
 * announces 250 data bytes (function 03, as a wedged gateway or adapter
 * can) and then trickles one byte every 100 ms: libmodbus stays inside one
 * read, far past the bus's 200 ms timeout. mb_bus_stop gives up on the
 * thread after its stall bound and must answer the write it is stuck in
 * (an operator or an MQTT command waits for it), once, as a timeout that
 * says the device may have applied it; the thread drops its own late answer
 * and frees the bus when the peer finally closes.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/modbus/mb.h"
#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_types.h"
#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct peer {
    int lfd;
    int port;
    atomic_int got_write; /* the write request arrived */
    atomic_int sent;      /* bytes of the stuck answer sent */
    atomic_int release;   /* the test is done: close */
    atomic_int saw_eof;   /* the bus thread closed its side */
} peer_t;

static int peer_listen(peer_t *p)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);

    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(p->lfd, 1) != 0 || getsockname(p->lfd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    p->port = ntohs(a.sin_port);
    return 0;
}

/* Read one whole request (MBAP header + PDU) into buf; returns its length. */
static int peer_read_request(int fd, uint8_t *buf, size_t cap)
{
    size_t have = 0, want = 7;

    while (have < want) {
        ssize_t n = recv(fd, buf + have, want - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        if (have == 7)
            want = 6 + (size_t)(buf[4] << 8 | buf[5]);
        if (want > cap)
            return -1;
    }
    return (int)have;
}

static void *peer_main(void *arg)
{
    peer_t *p = arg;
    uint8_t req[260], ans[9];
    int fd = accept(p->lfd, NULL, NULL);

    if (fd < 0 || peer_read_request(fd, req, sizeof(req)) < 8 || req[7] != 0x06)
        goto out_close;
    atomic_store(&p->got_write, 1);
    /* the request's transaction id and unit, a length of 1 + 2 + 250, the
     * function of a read and a byte count of 250: libmodbus waits for 250
     * data bytes, each within its byte timeout */
    memcpy(ans, req, 7);
    ans[4] = 0;
    ans[5] = 1 + 2 + 250;
    ans[7] = 0x03;
    ans[8] = 250;
    if (send(fd, ans, sizeof(ans), MSG_NOSIGNAL) != (ssize_t)sizeof(ans))
        goto out_close;
    while (!atomic_load(&p->release) && atomic_load(&p->sent) < 240) {
        uint8_t zero = 0;
        usleep(100 * 1000);
        if (send(fd, &zero, 1, MSG_NOSIGNAL) != 1)
            break;
        atomic_fetch_add(&p->sent, 1);
    }
    shutdown(fd, SHUT_WR);
    for (uint8_t b; recv(fd, &b, 1, 0) > 0;) /* until the bus thread closes */
        ;
    atomic_store(&p->saw_eof, 1);
out_close:
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Wait (monotonic, at most ms) until *flag >= v. */
static int wait_atomic(atomic_int *flag, int v, int64_t ms)
{
    int64_t until = gw_mono_ms() + ms;

    while (atomic_load(flag) < v && gw_mono_ms() < until)
        usleep(10 * 1000);
    return atomic_load(flag) >= v;
}

/* Every MB_EV_WRITE_DONE of id 42 that reached q within ms. */
static int take_answers(gw_queue_t *q, int64_t ms, int *rc, char *err, size_t errlen)
{
    int64_t until = gw_mono_ms() + ms;
    int n = 0;

    while (n == 0 && gw_mono_ms() < until) {
        gw_msg_t *m = gw_queue_wait_all(q, 100);
        for (gw_msg_t *x = m; x; x = x->next) {
            mb_write_t *w = (mb_write_t *)x;
            if (x->kind != MB_EV_WRITE_DONE || w->id != 42)
                continue;
            n++;
            *rc = w->rc;
            snprintf(err, errlen, "%s", w->err);
        }
        gw_msg_free_list(m);
    }
    return n;
}

T_TEST(a_write_the_thread_is_stuck_in_is_answered_when_the_bus_is_left_behind)
{
    peer_t p = {.lfd = -1};
    pthread_t peer;
    gw_queue_t q;
    mb_bus_t *bus = NULL;
    mb_bus_cfg_t cfg = {
        .name = "stuck", .transport = MB_TCP, .host = "127.0.0.1", .timeout_ms = 200};
    mb_write_t *w = mb_write_new(1);
    char err[256] = "";
    int rc = 0, n;
    long abandoned = mb_bus_abandoned();

    T_CHECK(gw_queue_init(&q, NULL, NULL) == 0);
    T_CHECK(peer_listen(&p) == 0);
    cfg.port = p.port;
    T_CHECK(pthread_create(&peer, NULL, peer_main, &p) == 0);
    T_CHECK(mb_bus_start(&bus, &cfg, NULL, 0, &q, err, sizeof(err)) == 0);
    w->id = 42;
    w->unit_id = 1;
    w->table = MB_TABLE_HOLDING;
    w->addr = 10;
    w->values[0] = 7;
    T_CHECK(mb_bus_write(bus, w) == 0);
    /* the thread is inside libmodbus's read: the answer has begun */
    T_CHECK(wait_atomic(&p.got_write, 1, 20000));
    T_CHECK(wait_atomic(&p.sent, 2, 20000));

    mb_bus_stop(bus); /* waits its stall bound (1.4 s), then leaves it */
    T_CHECK_EQ_INT(mb_bus_abandoned(), abandoned + 1);
    n = take_answers(&q, 10000, &rc, err, sizeof(err));
    T_CHECK_EQ_INT(n, 1);
    T_CHECK_EQ_INT(rc, GW_ETIMEDOUT);
    T_CHECK(strstr(err, "stuck in this write") != NULL);
    T_CHECK(strstr(err, "may have applied it") != NULL);
    fprintf(stderr, "answer: %s (peer had sent %d bytes of 250)\n", err, atomic_load(&p.sent));
    T_CHECK(atomic_load(&p.sent) < 240); /* still stuck when it was answered */

    /* the device lets go: the thread ends, drops its own answer, frees the bus */
    atomic_store(&p.release, 1);
    T_CHECK(wait_atomic(&p.saw_eof, 1, 20000));
    pthread_join(peer, NULL);
    close(p.lfd);
    gw_queue_destroy(&q);
}

int main(void)
{
    T_RUN(a_write_the_thread_is_stuck_in_is_answered_when_the_bus_is_left_behind);
    return t_done();
}
