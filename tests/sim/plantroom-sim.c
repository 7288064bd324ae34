/*
 * plantroom-sim.c: a Modbus TCP server that plays a small building, so that
 * plantroomd, its tests and the demo have real devices to poll.
 *
 * One TCP port serves every device; the MBAP unit id picks the device and
 * its register mapping (unit 1 lift-1, 2 lift-2, 3 meter-main; the table is
 * in sim_model.c). The server is one thread and one select() loop over the
 * listening socket and every client, in the manner of libmodbus's
 * bandwidth-server-many-up: a readable client is served with
 * modbus_receive() + modbus_reply() on a shared context pointed at its
 * socket. The same loop wakes every 200 ms to advance the model and to
 * re-read the control file (sim_control.h).
 *
 * Wire behaviour worth knowing:
 *  - an unknown unit id is answered with exception 0x0B (gateway target
 *    device failed to respond), as a Modbus TCP gateway does for a silent
 *    device behind it: clients fail fast instead of waiting for a timeout;
 *  - writes (FC 05/06/15/16) are accepted only where a device kind says
 *    so (the pumps' control word, speed reference, pressure setpoint and
 *    coils) and then steer the model; other registers answer exception
 *    0x02 (illegal data address), other write functions 0x01, so a write
 *    can never be silently undone by the next tick;
 *  - scripted faults (sim_control.h: "lift-2.fault=silent") change how a
 *    device answers: not at all, with an exception, late (the reply is
 *    rendered at once and held in a pending slot until due, so that the
 *    loop never sleeps), by closing the connection, or with garbage;
 *  - a client that disconnects, sends a malformed frame, or stalls in the
 *    middle of one for longer than the byte timeout (0.2 s) is dropped;
 *    the others are not affected beyond that short stall.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <modbus.h>

#include "gateway/base/gw_clock.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"
#include "tests/sim/sim_control.h"
#include "tests/sim/sim_model.h"
#include "tests/sim/sim_rtu.h"

#define MOD          "sim"
#define TICK_MS      200
#define MAX_DT_S     1.0 /* a stalled process does not jump the model ahead */
#define LISTEN_QUEUE 16
#define EXIT_USAGE   2

typedef struct sim_opts {
    const char *listen;    /* dotted IPv4 address */
    int port;              /* 0 = ephemeral */
    const char *port_file; /* NULL = none */
    const char *control;   /* NULL = none */
    const char *rtu;       /* --rtu: serial port (or pty) to serve RTU on; NULL = none */
    int bench;             /* --bench N: N plain benchmark devices instead of the building */
    int rtu_tcp_port;      /* --rtu-tcp PORT: RTU frames over TCP; 0 = none */
    int rtu_baud;
    const char *write_count; /* --write-count: file of the write requests received; NULL = none */
    const char **sets;       /* --set arguments, owned array of borrowed strings */
    size_t n_sets;
    int verbose;
} sim_opts_t;

/* A reply held back by a "slow" fault until its due time, or trickled a
 * byte at a time by a "stall" fault (step_ms > 0). */
typedef struct sim_pending {
    int fd; /* -1: free slot */
    int64_t due_ms;
    int len;
    int sent;             /* stall: bytes sent so far */
    int step_ms;          /* stall: one byte every step_ms; 0: all at once */
    const void *stall_of; /* stall: the device, to see the fault lifted */
    uint8_t buf[MODBUS_TCP_MAX_ADU_LENGTH];
} sim_pending_t;

#define SIM_MAX_PENDING 32

typedef struct sim_server {
    modbus_t *ctx;  /* owned; one context, pointed at each client in turn */
    int listen_fd;  /* owned */
    int cap[2];     /* owned socketpair: a reply is rendered into cap[0], read from cap[1] */
    modbus_t *cur;  /* the context answering the current request (ctx or rtu.ctx) */
    sim_rtu_t rtu;  /* --rtu: the serial side, rtu.fd -1 when unused */
    int rtt_listen; /* --rtu-tcp: RTU frames over TCP, listening socket or -1 */
    sim_rtu_t rtt;  /* its one client (a serial server has one), fd -1 when none */
    fd_set clients;
    int fdmax;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    sim_pending_t pending[SIM_MAX_PENDING];
} sim_server_t;

static volatile sig_atomic_t sim_stop, sim_report;
static unsigned long long sim_served_requests, sim_served_regs; /* answered reads */
static unsigned sim_writes;              /* write requests received, any outcome */
static const char *sim_write_count_path; /* --write-count FILE, or NULL */

static void sim_on_signal(int sig)
{
    if (sig == SIGUSR1)
        sim_report = 1;
    else
        sim_stop = 1;
}

static void sim_usage(FILE *out)
{
    fprintf(out, "usage: plantroom-sim [--listen ADDR] [--port N] [--port-file FILE]\n"
                 "                     [--control FILE] [--set DEVICE.POINT=VALUE]...\n"
                 "                     [--verbose] [--help]\n"
                 "\n"
                 "Modbus TCP simulator of a small building, one unit id per device:\n"
                 "  unit 1 lift-1, unit 2 lift-2 (drivers/profiles/elevator.json)\n"
                 "  unit 3 meter-main (drivers/profiles/energy_meter_sdm630.json)\n"
                 "  unit 4 fire-panel (fire_panel_notifier.json), unit 7 tank-1\n"
                 "  (tank_level.json), units 5, 6 pump-1, pump-2 (pump_drive_abb.json)\n"
                 "Unknown unit ids get exception 0x0B; writes get exception 0x01.\n"
                 "Faults: D.fault=silent|exception[:CODE]|slow[:MS]|disconnect|garbage|stall[:MS]|"
                 "none\n"
                 "\n"
                 "  --listen ADDR     IPv4 address to listen on (default 127.0.0.1)\n"
                 "  --port N          TCP port, 0 for an ephemeral one (default 1502)\n"
                 "  --port-file FILE  write the bound port to FILE (atomically) once listening\n"
                 "  --control FILE    re-read DEVICE.POINT=VALUE lines from FILE when it changes\n"
                 "  --rtu PATH        also serve Modbus RTU on this serial port or pty (8N1)\n"
                 "  --rtu-baud N      its baud rate (default 9600)\n"
                 "  --rtu-tcp PORT    also serve RTU frames over TCP (a serial device server)\n"
                 "  --bench N         serve N plain devices (units 1..N, 250 holding and 125\n"
                 "                    input registers each) instead of the building; on exit\n"
                 "                    print the requests and registers served\n"
                 "  --set D.P=V       initial control value (repeatable; the file wins)\n"
                 "  --write-count FILE  keep in FILE the number of write requests received\n"
                 "                    (any unit, any outcome; rewritten atomically)\n"
                 "  --verbose         log every request\n"
                 "A value on vibration_machine / vibration_car is the setpoint (noise +-2%%\n"
                 "is added); on any other point it holds the point at that value.\n");
}

/* Parse the command line. Returns 0, 1 for --help, or EXIT_USAGE after
 * printing what is wrong. */
static int sim_parse_args(int argc, char **argv, sim_opts_t *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'f'},
        {"control", required_argument, NULL, 'c'},
        {"rtu", required_argument, NULL, 'r'},
        {"rtu-baud", required_argument, NULL, 'b'},
        {"bench", required_argument, NULL, 'B'},
        {"rtu-tcp", required_argument, NULL, 'T'},
        {"set", required_argument, NULL, 's'},
        {"write-count", required_argument, NULL, 'W'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct in_addr addr;
    char *end;
    long port;
    int ch;

    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            if (inet_pton(AF_INET, optarg, &addr) != 1) {
                fprintf(stderr, "plantroom-sim: --listen '%s': not an IPv4 address\n", optarg);
                return EXIT_USAGE;
            }
            o->listen = optarg;
            break;
        case 'p':
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || port < 0 || port > 65535) {
                fprintf(stderr, "plantroom-sim: --port '%s': expected 0..65535\n", optarg);
                return EXIT_USAGE;
            }
            o->port = (int)port;
            break;
        case 'f':
            o->port_file = optarg;
            break;
        case 'c':
            o->control = optarg;
            break;
        case 'r':
            o->rtu = optarg;
            break;
        case 'T':
            o->rtu_tcp_port = (int)strtol(optarg, &end, 10);
            if (*end || o->rtu_tcp_port < 1 || o->rtu_tcp_port > 65535) {
                fprintf(stderr, "plantroom-sim: --rtu-tcp '%s': expected a port\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'B':
            o->bench = (int)strtol(optarg, &end, 10);
            if (*end || o->bench < 1 || o->bench > 247) {
                fprintf(stderr, "plantroom-sim: --bench '%s': expected 1..247\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'b':
            o->rtu_baud = (int)strtol(optarg, &end, 10);
            if (*end || o->rtu_baud < 300) {
                fprintf(stderr, "plantroom-sim: --rtu-baud '%s': expected a baud rate\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 's':
            o->sets[o->n_sets++] = optarg;
            break;
        case 'W':
            o->write_count = optarg;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            return 1;
        default: /* getopt_long has named the bad argument */
            fprintf(stderr, "plantroom-sim: try --help\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "plantroom-sim: unexpected argument '%s'; try --help\n", argv[optind]);
        return EXIT_USAGE;
    }
    return 0;
}

/* Apply the --set arguments. Returns 0 or EXIT_USAGE after printing. */
static int sim_apply_sets(const sim_opts_t *o, sim_world_t *w)
{
    char msg[200];
    size_t i;

    for (i = 0; i < o->n_sets; i++) {
        if (sim_control_set_cli(w, o->sets[i], msg, sizeof(msg)) < 0) {
            fprintf(stderr, "plantroom-sim: --set '%s': %s\n", o->sets[i], msg);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* Write the port to path atomically: path.tmp, then rename. */
static int sim_write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    FILE *f;
    int rc;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return GW_EINVAL;
    f = fopen(tmp, "w");
    if (!f)
        return -errno;
    rc = fprintf(f, "%u\n", port) < 0 ? GW_EIO : 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = GW_EIO;
    if (fclose(f) != 0)
        rc = GW_EIO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* Listen, announce the address on stdout and in the port file. Returns 0,
 * or a negative code after logging (srv->listen_fd is then -1). */
static int sim_server_listen(sim_server_t *srv, const sim_opts_t *o)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    char ip[INET_ADDRSTRLEN];
    int rc;

    srv->ctx = modbus_new_tcp(o->listen, o->port);
    if (!srv->ctx) {
        gw_log_error(MOD, "modbus_new_tcp: %s", modbus_strerror(errno));
        return GW_ENOMEM;
    }
    /* A client that stalls inside a frame holds up the loop this long. */
    modbus_set_byte_timeout(srv->ctx, 0, 200000);
    /* On a server, libmodbus uses the response timeout only to pause before
     * flushing after a malformed request (unknown function code): keep that
     * pause short, since it stalls every client. */
    modbus_set_response_timeout(srv->ctx, 0, 50000);
    srv->listen_fd = modbus_tcp_listen(srv->ctx, LISTEN_QUEUE);
    if (srv->listen_fd < 0) {
        gw_log_error(MOD, "cannot listen on %s:%d: %s", o->listen, o->port, modbus_strerror(errno));
        return GW_EIO;
    }
    if (getsockname(srv->listen_fd, (struct sockaddr *)&sa, &len) != 0 ||
        !inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip))) {
        gw_log_error(MOD, "getsockname: %s", strerror(errno));
        return GW_EIO;
    }
    FD_ZERO(&srv->clients);
    srv->fdmax = srv->listen_fd;
    printf("plantroom-sim: listening on %s:%u\n", ip, (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    if (o->port_file) {
        rc = sim_write_port_file(o->port_file, ntohs(sa.sin_port));
        if (rc < 0) {
            gw_log_error(MOD, "cannot write port file %s: %s", o->port_file, gw_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static void sim_client_accept(sim_server_t *srv)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    char ip[INET_ADDRSTRLEN] = "?";
    int fd;

    fd = accept(srv->listen_fd, (struct sockaddr *)&sa, &len);
    if (fd < 0) {
        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
            gw_log_warn(MOD, "accept: %s", strerror(errno));
        return;
    }
    if (fd >= FD_SETSIZE) {
        gw_log_warn(MOD, "too many clients; refusing a connection");
        close(fd);
        return;
    }
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
    gw_log_info(MOD, "client %s:%u connected (fd %d)", ip, (unsigned)ntohs(sa.sin_port), fd);
    FD_SET(fd, &srv->clients);
    if (fd > srv->fdmax)
        srv->fdmax = fd;
}

static void sim_client_drop(sim_server_t *srv, int fd, const char *why)
{
    gw_log_info(MOD, "client fd %d dropped: %s", fd, why);
    close(fd);
    FD_CLR(fd, &srv->clients);
    for (int i = 0; i < SIM_MAX_PENDING; i++) {
        if (srv->pending[i].fd == fd)
            srv->pending[i].fd = -1;
    }
}

/* Render the normal reply into a pending slot, sent after delay_ms. */
static void sim_reply_later(sim_server_t *srv, sim_device_t *dev, int fd, int qlen, int delay_ms)
{
    sim_pending_t *p = NULL;
    ssize_t n;

    for (int i = 0; i < SIM_MAX_PENDING && !p; i++) {
        if (srv->pending[i].fd < 0)
            p = &srv->pending[i];
    }
    if (!p) {
        gw_log_warn(MOD, "too many delayed replies; dropping one");
        return;
    }
    modbus_set_socket(srv->cur, srv->cap[0]);
    modbus_reply(srv->cur, srv->query, qlen, dev->map);
    modbus_set_socket(srv->cur, fd);
    n = recv(srv->cap[1], p->buf, sizeof(p->buf), MSG_DONTWAIT);
    if (n <= 0)
        return;
    p->fd = fd;
    p->len = (int)n;
    p->sent = 0;
    p->step_ms = 0;
    p->due_ms = gw_mono_ms() + delay_ms;
}

/* Begin an answer that never ends in time: the request's header, the
 * function, a byte count of 250, then one data byte every step_ms. */
static void sim_stall(sim_server_t *srv, const sim_device_t *dev, int fd, int step_ms)
{
    int hl = modbus_get_header_length(srv->cur);
    sim_pending_t *p = NULL;

    for (int i = 0; i < SIM_MAX_PENDING && !p; i++) {
        if (srv->pending[i].fd < 0)
            p = &srv->pending[i];
    }
    if (!p || hl + 2 + 250 > (int)sizeof(p->buf))
        return;
    memset(p->buf, 0, sizeof(p->buf));
    memcpy(p->buf, srv->query, (size_t)hl + 1);
    if (srv->cur == srv->ctx) { /* MBAP: protocol 0, length of unit + PDU */
        p->buf[2] = p->buf[3] = 0;
        p->buf[4] = 0;
        p->buf[5] = (uint8_t)(1 + 2 + 250);
    }
    p->buf[hl + 1] = 250;
    p->fd = fd;
    p->len = hl + 2 + 250;
    p->sent = 0;
    p->step_ms = step_ms;
    p->stall_of = dev;
    p->due_ms = gw_mono_ms();
    gw_log_info(MOD, "%s: stalling an answer, one byte every %d ms", dev->name, step_ms);
}

/* A stall slot that is due: one more byte, or drop the client once the
 * fault is lifted (the adapter came back). */
static void sim_stall_step(sim_server_t *srv, sim_pending_t *p, int64_t now)
{
    if (sim_device_fault(p->stall_of).kind != SIM_FAULT_STALL) {
        sim_client_drop(srv, p->fd, "stall lifted");
        p->fd = -1;
        return;
    }
    if (write(p->fd, p->buf + p->sent, 1) != 1) {
        p->fd = -1;
        return;
    }
    if (++p->sent == p->len)
        p->fd = -1;
    p->due_ms = now + p->step_ms;
}

/* Send the delayed replies that are due; returns ms until the next one
 * (or max_ms). */
static int64_t sim_send_due(sim_server_t *srv, int64_t max_ms)
{
    int64_t now = gw_mono_ms(), wait = max_ms;

    for (int i = 0; i < SIM_MAX_PENDING; i++) {
        sim_pending_t *p = &srv->pending[i];
        if (p->fd < 0)
            continue;
        if (p->step_ms > 0 && p->due_ms <= now)
            sim_stall_step(srv, p, now);
        if (p->fd < 0)
            continue;
        if (p->step_ms == 0 && p->due_ms <= now) {
            if (write(p->fd, p->buf, (size_t)p->len) != p->len)
                gw_log_info(MOD, "fd %d: delayed reply not sent: %s", p->fd, strerror(errno));
            p->fd = -1;
        } else if (p->due_ms - now < wait) {
            wait = p->due_ms - now;
        }
    }
    return wait;
}

/* Answer a request for a device with a fault. Returns what modbus_reply*
 * would, or 0 after dropping the client. */
static int sim_reply_fault(sim_server_t *srv, sim_device_t *dev, sim_fault_t f, int fd, int qlen)
{
    static const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x03, 0x55, 0xaa, 0x5a};

    switch (f.kind) {
    case SIM_FAULT_SILENT:
        return 0;
    case SIM_FAULT_EXCEPTION:
        return modbus_reply_exception(srv->cur, srv->query, (unsigned)f.arg);
    case SIM_FAULT_SLOW:
        sim_reply_later(srv, dev, fd, qlen, f.arg);
        return 0;
    case SIM_FAULT_DISCONNECT:
        if (srv->cur == srv->ctx)
            sim_client_drop(srv, fd, "fault: disconnect");
        return 0; /* a serial line cannot be dropped: silent */
    case SIM_FAULT_GARBAGE:
        return write(fd, junk, sizeof(junk)) < 0 ? -1 : 0;
    case SIM_FAULT_STALL:
        sim_stall(srv, dev, fd, f.arg);
        return 0;
    case SIM_FAULT_NONE:
        break;
    }
    return modbus_reply(srv->cur, srv->query, qlen, dev->map);
}

static int sim_is_write(uint8_t fc)
{
    return fc == MODBUS_FC_WRITE_SINGLE_COIL || fc == MODBUS_FC_WRITE_SINGLE_REGISTER ||
           fc == MODBUS_FC_WRITE_MULTIPLE_COILS || fc == MODBUS_FC_WRITE_MULTIPLE_REGISTERS ||
           fc == MODBUS_FC_MASK_WRITE_REGISTER || fc == MODBUS_FC_WRITE_AND_READ_REGISTERS;
}

/* Answer one request in srv->query (qlen bytes) on ctx and fd. Returns
 * what modbus_reply does (-1 with errno on a write error). */
static int sim_answer(sim_server_t *srv, modbus_t *ctx, sim_world_t *w, int fd, int qlen)
{
    int hl = modbus_get_header_length(ctx);
    uint8_t unit = srv->query[hl - 1], fc = srv->query[hl];
    sim_device_t *dev = sim_world_by_unit(w, unit);

    srv->cur = ctx;
    gw_log_debug(MOD, "fd %d: unit %u function 0x%02x, %d bytes", fd, unit, fc, qlen);
    if (sim_is_write(fc)) {
        /* counted before anything else: tests show that nothing was sent */
        sim_writes++;
        if (sim_write_count_path)
            sim_write_port_file(sim_write_count_path, sim_writes);
    }
    if (!dev && ctx != srv->ctx)
        return 0; /* nobody on the line answers an unknown address */
    if (!dev)
        return modbus_reply_exception(ctx, srv->query, MODBUS_EXCEPTION_GATEWAY_TARGET);
    if (sim_device_fault(dev).kind != SIM_FAULT_NONE)
        return sim_reply_fault(srv, dev, sim_device_fault(dev), fd, qlen);
    if (sim_is_write(fc)) {
        int addr = srv->query[hl + 1] << 8 | srv->query[hl + 2];
        int count = (fc == MODBUS_FC_WRITE_SINGLE_COIL || fc == MODBUS_FC_WRITE_SINGLE_REGISTER)
                        ? 1
                        : (srv->query[hl + 3] << 8 | srv->query[hl + 4]);
        if (!sim_device_writable(dev, fc, addr, count))
            return modbus_reply_exception(ctx, srv->query,
                                          fc == MODBUS_FC_WRITE_SINGLE_COIL ||
                                                  fc == MODBUS_FC_WRITE_MULTIPLE_COILS ||
                                                  fc == MODBUS_FC_WRITE_SINGLE_REGISTER ||
                                                  fc == MODBUS_FC_WRITE_MULTIPLE_REGISTERS
                                              ? MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS
                                              : MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
        gw_log_info(MOD, "%s: write function 0x%02x at %d+%d", dev->name, fc, addr, count);
    } else {
        sim_served_requests++;
        sim_served_regs += (unsigned)(srv->query[hl + 3] << 8 | srv->query[hl + 4]);
    }
    return modbus_reply(ctx, srv->query, qlen, dev->map);
}

/* Serve one request from a readable client, or drop the client. */
static void sim_client_serve(sim_server_t *srv, sim_world_t *w, int fd)
{
    int rc;

    modbus_set_socket(srv->ctx, fd);
    rc = modbus_receive(srv->ctx, srv->query);
    if (rc == 0)
        return; /* libmodbus ignored the frame */
    if (rc < 0) {
        sim_client_drop(srv, fd, errno == ECONNRESET ? "closed" : modbus_strerror(errno));
        return;
    }
    if (sim_answer(srv, srv->ctx, w, fd, rc) < 0)
        sim_client_drop(srv, fd, modbus_strerror(errno));
}

/* Serve what arrived on a serial line (or RTU over TCP): every complete
 * request. */
static void sim_rtu_serve(sim_server_t *srv, sim_rtu_t *r, sim_world_t *w)
{
    int len;

    while ((len = sim_rtu_next(r, srv->query, (int)sizeof(srv->query))) > 0) {
        if (sim_answer(srv, r->ctx, w, r->fd, len) < 0)
            gw_log_warn(MOD, "rtu: reply failed: %s", modbus_strerror(errno));
    }
}

/* Read and serve a serial line or RTU-over-TCP client that select() found
 * readable (or just serve what is buffered). */
static void sim_rtu_poll(sim_server_t *srv, sim_rtu_t *r, sim_world_t *w, int readable)
{
    if (readable && sim_rtu_read(r) < 0) {
        if (r == &srv->rtt) {
            gw_log_info(MOD, "rtu over tcp: client fd %d gone", r->fd);
            close(r->fd);
            r->fd = -1;
            return;
        }
        gw_log_warn(MOD, "rtu: read failed: %s", strerror(errno));
    }
    sim_rtu_serve(srv, r, w);
}

/* Listen for RTU over TCP on 127.0.0.1:port. Returns 0 or GW_EIO. */
static int sim_rtt_listen(sim_server_t *srv, const char *addr, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;

    inet_pton(AF_INET, addr, &sa.sin_addr);
    srv->rtt_listen = socket(AF_INET, SOCK_STREAM, 0);
    if (srv->rtt_listen < 0 ||
        setsockopt(srv->rtt_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(srv->rtt_listen, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(srv->rtt_listen, 4) != 0) {
        gw_log_error(MOD, "rtu over tcp: cannot listen on %s:%d: %s", addr, port, strerror(errno));
        return GW_EIO;
    }
    gw_log_info(MOD, "rtu over tcp: listening on %s:%d", addr, port);
    return 0;
}

static void sim_rtt_accept(sim_server_t *srv)
{
    int fd = accept(srv->rtt_listen, NULL, NULL);

    if (fd < 0 || fd >= FD_SETSIZE) {
        if (fd >= 0)
            close(fd);
        return;
    }
    gw_log_info(MOD, "rtu over tcp: client fd %d connected", fd);
    sim_rtu_attach(&srv->rtt, fd);
}

static void sim_server_close(sim_server_t *srv)
{
    int fd;

    for (fd = 0; fd <= srv->fdmax; fd++)
        if (fd != srv->listen_fd && FD_ISSET(fd, &srv->clients))
            close(fd);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    srv->listen_fd = -1;
    if (srv->ctx)
        modbus_free(srv->ctx);
    srv->ctx = NULL;
    for (int i = 0; i < 2; i++) {
        if (srv->cap[i] >= 0)
            close(srv->cap[i]);
        srv->cap[i] = -1;
    }
    sim_rtu_close(&srv->rtu);
    sim_rtu_close(&srv->rtt);
    if (srv->rtt_listen >= 0)
        close(srv->rtt_listen);
    srv->rtt_listen = -1;
}

/* Advance the model if a tick is due; returns ms until the next one. */
static int64_t sim_maybe_tick(sim_world_t *w, sim_control_t *ctl, int64_t *last_ms)
{
    int64_t now = gw_mono_ms();
    double dt;

    if (now - *last_ms < TICK_MS)
        return TICK_MS - (now - *last_ms);
    dt = (double)(now - *last_ms) / 1000.0;
    *last_ms = now;
    sim_control_poll(ctl, w);
    sim_world_tick(w, dt > MAX_DT_S ? MAX_DT_S : dt, (double)gw_wall_ms() / 1000.0);
    return TICK_MS;
}

/* The loop: serve clients, tick the model, until SIGINT or SIGTERM. */
static int sim_server_run(sim_server_t *srv, sim_world_t *w, sim_control_t *ctl)
{
    int64_t last_ms = gw_mono_ms(), wait_ms;
    struct timeval tv;
    fd_set rd;
    int fd, n;

    while (!sim_stop) {
        if (sim_report) {
            sim_report = 0;
            gw_log_notice(MOD, "served %llu read requests, %llu registers or bits",
                          sim_served_requests, sim_served_regs);
        }
        wait_ms = sim_send_due(srv, sim_maybe_tick(w, ctl, &last_ms));
        rd = srv->clients;
        FD_SET(srv->listen_fd, &rd);
        int top = srv->fdmax;
        const int extra[3] = {srv->rtu.fd, srv->rtt_listen, srv->rtt.fd};
        for (int i = 0; i < 3; i++) {
            if (extra[i] < 0)
                continue;
            FD_SET(extra[i], &rd);
            top = extra[i] > top ? extra[i] : top;
            if (i != 1 && wait_ms > 20)
                wait_ms = 20; /* to notice the end of a partial frame */
        }
        tv.tv_sec = (time_t)(wait_ms / 1000);
        tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
        n = select(top + 1, &rd, NULL, NULL, &tv);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            gw_log_error(MOD, "select: %s", strerror(errno));
            return GW_EIO;
        }
        if (srv->rtu.fd >= 0)
            sim_rtu_poll(srv, &srv->rtu, w, n > 0 && FD_ISSET(srv->rtu.fd, &rd));
        if (srv->rtt.fd >= 0) {
            int fd_was = srv->rtt.fd;
            sim_rtu_poll(srv, &srv->rtt, w, n > 0 && FD_ISSET(fd_was, &rd));
            FD_CLR(fd_was, &rd);
        }
        if (srv->rtt_listen >= 0 && n > 0 && FD_ISSET(srv->rtt_listen, &rd)) {
            sim_rtt_accept(srv);
            FD_CLR(srv->rtt_listen, &rd);
        }
        for (fd = 0; n > 0 && fd <= srv->fdmax; fd++) {
            if (!FD_ISSET(fd, &rd) || fd == srv->rtu.fd || fd == srv->rtt_listen ||
                fd == srv->rtt.fd)
                continue;
            n--;
            if (fd == srv->listen_fd)
                sim_client_accept(srv);
            else
                sim_client_serve(srv, w, fd);
        }
    }
    gw_log_info(MOD, "stopping: served %llu read requests, %llu registers or bits",
                sim_served_requests, sim_served_regs);
    return 0;
}

static void sim_install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sim_on_signal; /* no SA_RESTART: select() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL); /* log the counters of requests served */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int main(int argc, char **argv)
{
    sim_opts_t opts = {.listen = "127.0.0.1", .port = 1502};
    sim_server_t srv = {
        .listen_fd = -1, .cap = {-1, -1}, .rtu = {.fd = -1}, .rtt_listen = -1, .rtt = {.fd = -1}};
    sim_world_t world = {0};
    sim_control_t ctl = {0};
    int rc, status = 1;

    gw_log_init();
    opts.sets = calloc((size_t)argc, sizeof(*opts.sets));
    if (!opts.sets)
        return 1;
    rc = sim_parse_args(argc, argv, &opts);
    if (rc != 0) {
        if (rc == 1)
            sim_usage(stdout);
        free(opts.sets);
        return rc == 1 ? 0 : rc;
    }
    if (opts.verbose)
        gw_log_set_level(GW_LOG_DEBUG);
    if ((opts.bench ? sim_world_init_bench(&world, opts.bench, (double)gw_wall_ms() / 1000.0)
                    : sim_world_init(&world, (double)gw_wall_ms() / 1000.0)) < 0) {
        gw_log_error(MOD, "out of memory");
        goto out_free_opts;
    }
    rc = sim_apply_sets(&opts, &world);
    if (rc != 0) {
        status = rc;
        goto out_free_world;
    }
    ctl.path = opts.control;
    sim_write_count_path = opts.write_count;
    if (sim_write_count_path)
        sim_write_port_file(sim_write_count_path, 0);
    sim_control_poll(&ctl, &world);
    sim_world_tick(&world, 0.0, (double)gw_wall_ms() / 1000.0);

    for (int i = 0; i < SIM_MAX_PENDING; i++)
        srv.pending[i].fd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, srv.cap) != 0) {
        gw_log_error(MOD, "socketpair: %s", strerror(errno));
        goto out_free_world;
    }
    sim_install_signals();
    if (opts.rtu && sim_rtu_open(&srv.rtu, opts.rtu, opts.rtu_baud ? opts.rtu_baud : 9600) < 0)
        goto out_close_server;
    if (opts.rtu_tcp_port && sim_rtt_listen(&srv, opts.listen, opts.rtu_tcp_port) < 0)
        goto out_close_server;
    if (sim_server_listen(&srv, &opts) < 0)
        goto out_close_server;
    status = sim_server_run(&srv, &world, &ctl) < 0 ? 1 : 0;

out_close_server:
    sim_server_close(&srv);
out_free_world:
    sim_world_free(&world);
out_free_opts:
    free(opts.sets);
    return status;
}
