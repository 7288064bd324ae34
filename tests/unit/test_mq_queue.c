/*
 * test_mq_queue.c: the count of what paho holds (protocols/mqtt/mq.h, "The
 * queue") against a real mosquitto: every path takes a publish off the
 * count. Written (QoS 0) and acknowledged (QoS 1) publishes leave it at
 * zero; with the broker stopped (SIGSTOP) it grows, and MQ_EV_ROOM comes
 * once when the broker reads again and the queue falls to the armed mark;
 * a broker killed with the queue full loses the connection, and the next
 * connect starts the count at zero, which the earlier connection's
 * publishes, sent afterwards, do not take below zero; destroying a client
 * whose broker does not read fails every tagged publish still held (each
 * has exactly one outcome) and frees every context (ASan's leak check).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/mqtt/mq.h"
#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char dir[] = "/tmp/test_mq_queue.XXXXXX";
static char conf[256];
static int port;
static pid_t broker = -1;
static gw_queue_t q;
static mq_client_t *c;
static char payload[4096];
static int ev_count[16]; /* by kind - MQ_EV_CONNECTED */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        p = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return p;
}

static int can_connect(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int start_broker(void)
{
    char *argv[] = {"mosquitto", "-c", conf, NULL};

    if (posix_spawnp(&broker, "mosquitto", NULL, NULL, argv, environ) != 0)
        return -1;
    for (int i = 0; i < 500; i++) {
        if (can_connect())
            return 0;
        usleep(20000);
    }
    return -1;
}

static void kill_broker(int sig)
{
    if (broker <= 0)
        return;
    kill(broker, sig);
    if (sig == SIGKILL || sig == SIGTERM) {
        waitpid(broker, NULL, 0);
        broker = -1;
    }
}

/* Take the events queued so far (waiting up to ms for the first), counting
 * them by kind. Returns how many. */
static int take_events(int ms)
{
    gw_msg_t *m = gw_queue_wait_all(&q, ms);
    int n = 0;

    for (gw_msg_t *it = m; it; it = it->next, n++) {
        if (it->kind >= MQ_EV_CONNECTED && it->kind < MQ_EV_CONNECTED + 16)
            ev_count[it->kind - MQ_EV_CONNECTED]++;
    }
    gw_msg_free_list(m);
    return n;
}

static int count(int kind)
{
    return ev_count[kind - MQ_EV_CONNECTED];
}

/* Wait up to ms for events until count(kind) reaches n. */
static int wait_count(int kind, int n, int ms)
{
    for (int waited = 0; count(kind) < n && waited < ms; waited += 50)
        take_events(50);
    return count(kind) >= n;
}

static int wait_queue_empty(int ms)
{
    mq_queue_t s;

    for (int waited = 0; waited < ms; waited += 20) {
        mq_queued(c, &s);
        if (s.messages == 0 && s.bytes == 0)
            return 1;
        take_events(20);
    }
    return 0;
}

static int publish(int qos, uint64_t tag)
{
    char err[160];
    return mq_publish(c, "t/queue", payload, sizeof(payload), qos, 0, tag, err, sizeof(err));
}

/* With the broker stopped: publish until paho holds more than bytes (the
 * socket buffers fill first). Returns the tagged publishes made (QoS 1
 * when tag_from != 0) or -1. */
/* Publish until paho holds more than `bytes` and the socket to the
 * stopped broker is full: the count has not fallen for 200 ms (paho's send
 * thread, late on a loaded machine, may still be writing into the
 * socket's buffers what was counted a moment ago). Returns the number of
 * tagged publishes, or -1. */
static int fill(size_t bytes, uint64_t tag_from)
{
    mq_queue_t s;
    size_t last = 0;
    int tagged = 0, steady = 0;

    for (int i = 0; i < 40000 && steady < 20; i++) {
        mq_queued(c, &s);
        if (s.bytes > bytes) {
            steady = s.bytes >= last ? steady + 1 : 0;
            last = s.bytes;
            usleep(10000);
            continue;
        }
        steady = 0;
        if (publish(tag_from ? 1 : 0, tag_from ? tag_from + (uint64_t)i : 0) != 0)
            return -1;
        tagged += tag_from != 0;
        if (i % 64 == 63)
            usleep(2000); /* paho's send thread writes what the socket takes */
    }
    return steady >= 20 ? tagged : -1;
}

static int connect_client(void)
{
    char err[160];
    int before = count(MQ_EV_CONNECTED);

    if (mq_connect(c, err, sizeof(err)) != 0)
        return 0;
    return wait_count(MQ_EV_CONNECTED, before + 1, 10000);
}

T_TEST(written_and_acknowledged_publishes_leave_nothing_counted)
{
    mq_queue_t s;

    for (int i = 0; i < 300; i++)
        T_CHECK_EQ_INT(publish(0, 0), 0);
    mq_queued(c, &s);
    T_CHECK(s.messages <= 300 && s.bytes <= 300 * (sizeof(payload) + 7));
    T_CHECK(wait_queue_empty(10000));
    for (int i = 0; i < 100; i++)
        T_CHECK_EQ_INT(publish(1, 1000 + (uint64_t)i), 0);
    T_CHECK(wait_count(MQ_EV_DELIVERED, 100, 10000));
    T_CHECK(wait_queue_empty(5000));
}

T_TEST(a_stopped_broker_grows_the_count_and_room_comes_once)
{
    mq_queue_t s;
    int room0 = count(MQ_EV_ROOM);

    kill_broker(SIGSTOP);
    T_CHECK(fill(1 << 20, 0) >= 0);
    mq_queued(c, &s);
    T_CHECK(s.bytes > 1 << 20 && s.messages > 200);
    T_CHECK_EQ_INT(mq_room_arm(c, 256 * 1024), 0); /* above the mark: armed */
    take_events(200);
    T_CHECK_EQ_INT(count(MQ_EV_ROOM), room0); /* not while the broker is stopped */
    kill_broker(SIGCONT);
    T_CHECK(wait_count(MQ_EV_ROOM, room0 + 1, 10000));
    T_CHECK(wait_queue_empty(10000));
    take_events(200);
    T_CHECK_EQ_INT(count(MQ_EV_ROOM), room0 + 1); /* once */
    T_CHECK_EQ_INT(mq_room_arm(c, 0), 1);         /* at the mark already: nothing armed */
}

T_TEST(a_reconnect_starts_the_count_again_and_old_publishes_do_not_take_it_below_zero)
{
    mq_queue_t s;
    int lost0 = count(MQ_EV_CONNECTION_LOST), ok0;

    kill_broker(SIGSTOP);
    T_CHECK(fill(512 * 1024, 0) >= 0);
    kill_broker(SIGKILL);
    T_CHECK(wait_count(MQ_EV_CONNECTION_LOST, lost0 + 1, 10000));
    mq_queued(c, &s);
    T_CHECK(s.bytes > 512 * 1024); /* paho still holds them */
    T_CHECK_EQ_INT(start_broker(), 0);
    T_CHECK(connect_client());
    /* paho sends the earlier connection's publishes first: once this one
     * is acknowledged, they are done too */
    ok0 = count(MQ_EV_DELIVERED);
    T_CHECK_EQ_INT(publish(1, 5000), 0);
    T_CHECK(wait_count(MQ_EV_DELIVERED, ok0 + 1, 20000));
    mq_queued(c, &s);
    T_CHECK_EQ_INT(s.messages, 0);
    T_CHECK_EQ_INT(s.bytes, 0);
}

T_TEST(destroy_fails_every_publish_still_held)
{
    int ok0 = count(MQ_EV_DELIVERED), failed0 = count(MQ_EV_PUBLISH_FAILED), tagged;

    kill_broker(SIGSTOP);
    tagged = fill(512 * 1024, 100000);
    T_CHECK(tagged > 0);
    mq_destroy(c); /* waits up to 2 s for the disconnect, then paho fails the rest */
    c = NULL;
    take_events(100);
    T_CHECK_EQ_INT(count(MQ_EV_DELIVERED) - ok0 + count(MQ_EV_PUBLISH_FAILED) - failed0, tagged);
    T_CHECK(count(MQ_EV_PUBLISH_FAILED) - failed0 > 0);
    kill_broker(SIGCONT);
}

int main(void)
{
    char uri[64], err[160];
    FILE *f;

    signal(SIGPIPE, SIG_IGN);
    memset(payload, 'x', sizeof(payload));
    if (!mkdtemp(dir) || (port = free_port()) <= 0)
        return 1;
    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
    f = fopen(conf, "w");
    if (!f)
        return 1;
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\n%s", port,
            geteuid() == 0 ? "user root\n" : "");
    fclose(f);
    if (start_broker() != 0 || gw_queue_init(&q, NULL, NULL) != 0) {
        fprintf(stderr, "cannot start mosquitto\n");
        return 1;
    }
    snprintf(uri, sizeof(uri), "tcp://127.0.0.1:%d", port);
    mq_cfg_t cfg = {.uri = uri, .client_id = "test-mq-queue", .keepalive_s = 300};
    if (mq_create(&c, &cfg, &q, err, sizeof(err)) != 0 || !connect_client()) {
        fprintf(stderr, "cannot connect: %s\n", err);
        kill_broker(SIGKILL);
        return 1;
    }
    T_RUN(written_and_acknowledged_publishes_leave_nothing_counted);
    T_RUN(a_stopped_broker_grows_the_count_and_room_comes_once);
    T_RUN(a_reconnect_starts_the_count_again_and_old_publishes_do_not_take_it_below_zero);
    T_RUN(destroy_fails_every_publish_still_held);
    mq_destroy(c);
    kill_broker(SIGKILL);
    gw_queue_destroy(&q);
    unlink(conf);
    rmdir(dir);
    return t_done();
}
