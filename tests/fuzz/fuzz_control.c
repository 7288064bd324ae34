/*
 * fuzz_control.c: the control socket's line protocol (gateway/service/
 * svc_control.c) over a real Unix socket and a real libuv loop, with
 * requests in sequences so that lifecycle bugs show: each input is a
 * client session, its pieces (split by "\n~~\n") written one after the
 * other with loop turns between them; the first byte of the input says
 * whether the client half-closes, leaves abruptly, or leaves before its
 * deferred answers come. The commands are the kinds the daemon's table
 * has: answered at once, with an error, deferred to a timer or to the next
 * loop turn (as a Modbus write is), a large answer, and the peer's
 * credentials. A connection that left while an answer was deferred must
 * drop it; every answer must come in request order.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/service/gw_control.h"
#include "tests/fuzz/fuzz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static uv_loop_t loop;
static gw_control_t *ctl;
static char sock_path[108];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A deferred answer, finished by a timer or on the next loop turn. */
typedef struct later {
    uv_timer_t timer;
    gw_control_call_t *call;
    long n;
} later_t;

static void later_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void later_cb(uv_timer_t *t)
{
    later_t *l = t->data;
    cJSON *res = cJSON_CreateObject();

    cJSON_AddNumberToObject(res, "n", (double)l->n);
    gw_control_finish(l->call, 0, res, NULL);
    uv_close((uv_handle_t *)&l->timer, later_close_cb);
}

static int cmd_ping(void *ctx, const cJSON *req, cJSON *res, gw_control_call_t *call, char *err,
                    size_t errlen)
{
    (void)ctx, (void)req, (void)call, (void)err, (void)errlen;
    cJSON_AddBoolToObject(res, "pong", 1);
    return 0;
}

static int cmd_fail(void *ctx, const cJSON *req, cJSON *res, gw_control_call_t *call, char *err,
                    size_t errlen)
{
    (void)ctx, (void)req, (void)res, (void)call;
    snprintf(err, errlen, "refused on purpose");
    return GW_EINVAL;
}

static int cmd_later(void *ctx, const cJSON *req, cJSON *res, gw_control_call_t *call, char *err,
                     size_t errlen)
{
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(req, "ms");
    later_t *l = calloc(1, sizeof(*l));

    (void)ctx, (void)res;
    if (!l || !(l->call = gw_control_defer(call))) {
        free(l);
        snprintf(err, errlen, "cannot defer");
        return GW_ESTATE;
    }
    l->n = cJSON_IsNumber(ms) && ms->valuedouble >= 0 && ms->valuedouble <= 3
               ? (long)ms->valuedouble
               : 0;
    uv_timer_init(&loop, &l->timer);
    l->timer.data = l;
    uv_timer_start(&l->timer, later_cb, (uint64_t)l->n, 0);
    return GW_CONTROL_LATER;
}

static int cmd_big(void *ctx, const cJSON *req, cJSON *res, gw_control_call_t *call, char *err,
                   size_t errlen)
{
    (void)ctx, (void)call, (void)err, (void)errlen;
    cJSON_AddItemToObject(res, "echo", cJSON_Duplicate(req, 1));
    return 0;
}

static int cmd_peer(void *ctx, const cJSON *req, cJSON *res, gw_control_call_t *call, char *err,
                    size_t errlen)
{
    gw_control_peer_t p;

    (void)ctx, (void)req;
    if (gw_control_peer(call, &p) != 0 || p.uid != (unsigned)getuid()) {
        snprintf(err, errlen, "no peer");
        return GW_ENOENT;
    }
    cJSON_AddNumberToObject(res, "uid", p.uid);
    return 0;
}

static const gw_control_cmd_t cmds[] = {
    {"ping", cmd_ping, "answer at once"},
    {"fail", cmd_fail, "an error"},
    {"later", cmd_later, "answer from a timer (ms 0..3)"},
    {"big", cmd_big, "echo the request"},
    {"peer", cmd_peer, "the peer's uid"},
    {NULL, NULL, NULL},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc;
    (void)argv;
    gw_log_set_level(GW_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN); /* as the daemon (gw_svc.c): a write to a gone client fails */
    uv_loop_init(&loop);
    snprintf(sock_path, sizeof(sock_path), "%s/control.sock", fuzz_dir());
    if (gw_control_start(&ctl, &loop, cmds, NULL, sock_path, "", err, sizeof(err)) != 0)
        abort();
    return 0;
}

static int overflow;

/* Read what the server sent so far; -1 once it closed. */
static int drain(int fd, char *acc, size_t *n, size_t cap)
{
    for (;;) {
        ssize_t k = recv(fd, acc + *n, cap - *n - 1, MSG_DONTWAIT);
        if (k == 0)
            return -1;
        if (k < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        *n += (size_t)k;
        if (*n + 1 >= cap) {
            *n = 0; /* too much to keep: the lines are not checked */
            overflow = 1;
        }
    }
}

static void check_lines(char *acc, size_t n)
{
    char *line = acc, *nl;

    acc[n] = '\0';
    while ((nl = strchr(line, '\n')) != NULL) {
        cJSON *o;
        *nl = '\0';
        o = cJSON_Parse(line);
        if (line[0] && (!cJSON_IsObject(o) || !cJSON_IsBool(cJSON_GetObjectItem(o, "ok"))))
            abort();
        cJSON_Delete(o);
        line = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    fuzz_in_t in = {data, size};
    uint8_t how = fuzz_byte(&in);
    static char acc[1 << 20];
    const uint8_t *piece;
    size_t len, n = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        abort();
    overflow = 0;
    uv_run(&loop, UV_RUN_NOWAIT); /* accept */
    while ((piece = fuzz_piece(&in, &len)) != NULL) {
        if (len && send(fd, piece, len, MSG_NOSIGNAL) < 0)
            break;
        for (int i = 0; i < 1 + (how & 3); i++)
            uv_run(&loop, UV_RUN_NOWAIT);
        drain(fd, acc, &n, sizeof(acc));
    }
    if (how & 4) {
        close(fd); /* leaves at once: deferred answers must be dropped */
        uv_run(&loop, UV_RUN_NOWAIT);
        return 0;
    }
    shutdown(fd, SHUT_WR); /* half-close: every answer, then the end */
    for (int turn = 0; turn < 200; turn++) {
        uv_run(&loop, UV_RUN_ONCE);
        if (drain(fd, acc, &n, sizeof(acc)) < 0)
            break;
    }
    if (!overflow)
        check_lines(acc, n);
    close(fd);
    uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
