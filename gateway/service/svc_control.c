/*
 * svc_control.c: the control socket's transport (gw_control.h): a uv_pipe
 * listener on the loop, line framing, and dispatch of each line to the
 * command table given at start (svc_commands.c has the daemon's).
 *
 * Each connection buffers what it reads until a newline and answers each
 * line in order. A deferred answer (gw_control_defer) stops reading on that
 * connection until it is given, so answers stay in order and a client
 * cannot pile up requests meanwhile. On EOF the connection ends once every
 * answer is written (uv_shutdown); on a read error at once; a line longer
 * than GW_CONTROL_LINE_MAX is refused and ends it; a line must be exactly
 * one JSON object, nested at most GW_CONTROL_DEPTH_MAX deep. Writes own
 * their buffer until their callback. A deferred call pending when the
 * daemon stops is not answered. The client's credentials (SO_PEERCRED)
 * are read at accept and kept with the connection (gw_control_peer).
 *
 * Re-entrancy: a request runs only from the top of a loop callback (a
 * read, or the idle callback below), never from inside another request.
 * gw_control_finish may be called from anywhere on the loop thread, also
 * deep inside another request (a reload drains the queue, and a write's
 * result arrives there): it only queues the answer and marks the
 * connection ready; the lines that waited behind it run from a uv_idle
 * callback, on a later turn of the loop. So a client's pipelined "reload"
 * can never run inside another reload.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_json.h"
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"
#include "gateway/service/gw_control.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* One client. While an answer is deferred (pending), further lines wait in
 * buf, so answers keep the order of requests. A connection that closes
 * while an answer is pending detaches it (call->conn = NULL), so that
 * gw_control_finish drops the answer. */
typedef struct control__conn {
    uv_pipe_t pipe;
    gw_control_t *ctl; /* NULL once the listener is gone */
    const gw_control_cmd_t *cmds;
    void *ctx;
    struct control__conn *next;
    char *buf;
    size_t len, cap;
    gw_control_call_t *pending; /* the deferred call, or NULL */
    int eof;                    /* the client sent all it will: end after the answers */
    int ready;                  /* answered: its waiting lines run from the idle callback */
    struct ucred peer;          /* SO_PEERCRED at accept (gw_control_peer) */
    int has_peer;
} control__conn_t;

/* A request being answered: on the stack while the handler runs; copied to
 * the heap by gw_control_defer. */
struct gw_control_call {
    control__conn_t *conn; /* NULL: no client to answer (it left) */
    int deferred;
};

struct gw_control {
    uv_pipe_t server;
    uv_idle_t idle;               /* runs the lines of connections made ready */
    int handles;                  /* server and idle not yet closed: free at 0 */
    const gw_control_cmd_t *cmds; /* NULL name ends it */
    void *ctx;                    /* handed to every handler */
    control__conn_t *conns;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static char *control__print_line(cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    char *line;
    size_t n;

    if (!text)
        return NULL;
    n = strlen(text);
    line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

/* {"ok":true,"result":result} or {"ok":false,"error":err}; takes result. */
static char *control__answer_line(int rc, cJSON *result, const char *err)
{
    cJSON *o = cJSON_CreateObject();
    char *line;

    cJSON_AddBoolToObject(o, "ok", rc == 0);
    if (rc == 0) {
        cJSON_AddItemToObject(o, "result", result ? result : cJSON_CreateObject());
    } else {
        cJSON_Delete(result);
        cJSON_AddStringToObject(o, "error", err && *err ? err : gw_strerror(rc));
    }
    line = control__print_line(o);
    cJSON_Delete(o);
    return line;
}

/* Run one request line; the answer line, or NULL when deferred (or out of
 * memory: *oom set). */
static char *control__handle(const gw_control_cmd_t *cmds, void *ctx, gw_control_call_t *call,
                             const char *line, size_t len, int *oom)
{
    char err[512] = "", why[128] = "";
    gw_json_refusal_t jr;
    /* one JSON value per line, nothing after it, nested at most so deep */
    cJSON *req = gw_json_parse_strict(line, len, GW_CONTROL_LINE_MAX, GW_CONTROL_DEPTH_MAX, &jr,
                                      why, sizeof(why));
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
    const gw_control_cmd_t *c = cmds;
    cJSON *res;
    char *out;
    int rc;

    *oom = 0;
    if (!cJSON_IsObject(req) || !cJSON_IsString(cmd)) {
        cJSON_Delete(req);
        snprintf(err, sizeof(err),
                 "a request is a JSON object with a string \"cmd\", on one line%s%s",
                 why[0] ? ": " : "", why);
        goto out_error;
    }
    while (c->name && strcmp(c->name, cmd->valuestring) != 0)
        c++;
    if (!c->name) {
        snprintf(err, sizeof(err), "unknown command \"%s\" (", cmd->valuestring);
        for (c = cmds; c->name; c++)
            snprintf(err + strlen(err), sizeof(err) - strlen(err), "%s%s", c == cmds ? "" : ", ",
                     c->name);
        snprintf(err + strlen(err), sizeof(err) - strlen(err), ")");
        cJSON_Delete(req);
        goto out_error;
    }
    res = cJSON_CreateObject();
    rc = c->fn(ctx, req, res, call, err, sizeof(err));
    cJSON_Delete(req);
    if (rc == GW_CONTROL_LATER) {
        cJSON_Delete(res);
        return NULL;
    }
    out = control__answer_line(rc, res, err);
    *oom = out == NULL;
    return out;

out_error:
    out = control__answer_line(GW_EINVAL, NULL, err);
    *oom = out == NULL;
    return out;
}

char *gw_control_handle(const gw_control_cmd_t *cmds, void *ctx, const char *line, size_t len)
{
    gw_control_call_t call = {NULL, 0};
    int oom;
    char *out = control__handle(cmds, ctx, &call, line, len, &oom);

    /* No connection to answer later: a deferring command cannot run here. */
    return out || oom ? out : control__answer_line(GW_ESTATE, NULL, "cannot defer here");
}

/* ---- connections -------------------------------------------------------- */

static void control__conn_free(control__conn_t *c)
{
    free(c->buf);
    free(c);
}

static void control__conn_close_cb(uv_handle_t *h)
{
    control__conn_t *c = h->data;

    if (c->ctl) {
        for (control__conn_t **p = &c->ctl->conns; *p; p = &(*p)->next) {
            if (*p == c) {
                *p = c->next;
                break;
            }
        }
    }
    if (c->pending)
        c->pending->conn = NULL; /* gw_control_finish will find nobody */
    control__conn_free(c);
}

static void control__conn_close(control__conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->pipe))
        uv_close((uv_handle_t *)&c->pipe, control__conn_close_cb);
}

static void control__shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status;
    control__conn_close(req->data);
    free(req);
}

/* The client has sent everything and every answer is queued: end the
 * connection once the queued answers are written (uv_close would drop them). */
static void control__conn_end(control__conn_t *c)
{
    uv_shutdown_t *req;

    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return;
    req = malloc(sizeof(*req));
    if (!req) {
        control__conn_close(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->pipe, control__shutdown_cb) != 0) {
        free(req);
        control__conn_close(c);
    }
}

static void control__write_cb(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void control__send(control__conn_t *c, char *line)
{
    uv_write_t *w;
    uv_buf_t b;

    if (!line) {
        control__conn_close(c);
        return;
    }
    if (uv_is_closing((uv_handle_t *)&c->pipe)) {
        free(line);
        return;
    }
    w = malloc(sizeof(*w));
    if (!w) {
        free(line);
        control__conn_close(c);
        return;
    }
    w->data = line;
    b = uv_buf_init(line, (unsigned)strlen(line));
    if (uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, control__write_cb) != 0) {
        free(line);
        free(w);
        control__conn_close(c);
    }
}

/* Answer the complete lines in c->buf, in order, until one is deferred. */
static void control__process(control__conn_t *c)
{
    char *nl;

    while (!c->pending && !uv_is_closing((uv_handle_t *)&c->pipe) &&
           (nl = memchr(c->buf, '\n', c->len))) {
        size_t linelen = (size_t)(nl - c->buf);
        if (linelen > GW_CONTROL_LINE_MAX)
            break; /* refused below, like an unterminated one */
        if (linelen > 0) {
            gw_control_call_t call = {c, 0};
            int oom;
            char *out = control__handle(c->cmds, c->ctx, &call, c->buf, linelen, &oom);
            if (out || oom)
                control__send(c, out);
        }
        memmove(c->buf, nl + 1, c->len - linelen - 1);
        c->len -= linelen + 1;
    }
    if (c->pending) {
        /* Back-pressure: read no more until the deferred answer is out. */
        uv_read_stop((uv_stream_t *)&c->pipe);
        return;
    }
    if (c->len > GW_CONTROL_LINE_MAX) {
        uv_read_stop((uv_stream_t *)&c->pipe);
        c->len = 0;
        control__send(c, control__answer_line(GW_EINVAL, NULL, "request line too long"));
        control__conn_end(c);
    } else if (c->eof && !c->pending) {
        control__conn_end(c);
    }
}

static void control__alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void control__read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

gw_control_call_t *gw_control_defer(gw_control_call_t *call)
{
    gw_control_call_t *k;

    if (!call || !call->conn || call->conn->pending)
        return NULL;
    k = malloc(sizeof(*k));
    if (!k)
        return NULL;
    *k = *call;
    k->deferred = 1;
    call->conn->pending = k;
    return k;
}

/* The lines that waited behind an answer, then reading again. */
static void control__resume(control__conn_t *c)
{
    control__process(c);
    if (!c->pending && !c->eof && !uv_is_closing((uv_handle_t *)&c->pipe))
        uv_read_start((uv_stream_t *)&c->pipe, control__alloc_cb, control__read_cb);
}

static void control__idle_cb(uv_idle_t *h)
{
    gw_control_t *ctl = h->data;
    int again = 0;

    /* A request run here may make another connection ready: next turn. */
    for (control__conn_t *k = ctl->conns; k; k = k->next) {
        if (!k->ready)
            continue;
        k->ready = 0;
        control__resume(k);
    }
    for (control__conn_t *k = ctl->conns; k; k = k->next)
        again |= k->ready;
    if (!again)
        uv_idle_stop(h);
}

void gw_control_finish(gw_control_call_t *call, int rc, cJSON *result, const char *err)
{
    control__conn_t *c = call->conn;

    if (!c) { /* the client left meanwhile */
        cJSON_Delete(result);
        free(call);
        return;
    }
    c->pending = NULL;
    free(call);
    control__send(c, control__answer_line(rc, result, err));
    /* Never run the next line here: the caller may be inside a request. */
    if (c->ctl && !uv_is_closing((uv_handle_t *)&c->pipe)) {
        c->ready = 1;
        uv_idle_start(&c->ctl->idle, control__idle_cb);
    }
}

static void control__alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    control__conn_t *c = h->data;
    size_t want = c->len + (suggested < 4096 ? 4096 : suggested);

    if (want > c->cap) {
        char *n = realloc(c->buf, want);
        if (!n) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->buf = n;
        c->cap = want;
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void control__read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    control__conn_t *c = s->data;

    (void)buf;
    if (n == UV_EOF) {
        /* Half-closed: answer what was asked (also deferred), then end. */
        uv_read_stop(s);
        c->eof = 1;
        control__process(c);
        return;
    }
    if (n < 0) {
        control__conn_close(c);
        return;
    }
    c->len += (size_t)n;
    control__process(c);
}

static void control__connection_cb(uv_stream_t *server, int status)
{
    gw_control_t *ctl = server->data;
    control__conn_t *c;

    if (status < 0)
        return;
    c = calloc(1, sizeof(*c));
    if (!c)
        return;
    uv_pipe_init(server->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->ctl = ctl;
    c->cmds = ctl->cmds;
    c->ctx = ctl->ctx;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->pipe, control__conn_close_cb);
        return;
    }
    c->next = ctl->conns;
    ctl->conns = c;
    {
        /* who connected, in the kernel's words: handlers read it through
         * gw_control_peer instead of trusting what the client says */
        uv_os_fd_t fd;
        socklen_t len = sizeof(c->peer);
        c->has_peer = uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
                      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) == 0;
    }
    uv_read_start((uv_stream_t *)&c->pipe, control__alloc_cb, control__read_cb);
}

int gw_control_peer(const gw_control_call_t *call, gw_control_peer_t *out)
{
    if (!call || !call->conn || !call->conn->has_peer)
        return GW_ENOENT;
    out->uid = call->conn->peer.uid;
    out->gid = call->conn->peer.gid;
    out->pid = call->conn->peer.pid;
    return 0;
}

/* ---- listener ----------------------------------------------------------- */

/* Remove a socket file nobody answers on; GW_EEXIST if someone does. */
static int control__clear_stale(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "control socket %s: exists and is not a socket", path);
        return GW_EEXIST;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "control socket: %s", strerror(errno));
        return GW_EIO;
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen,
                 "control socket %s answers: another plantroomd runs on this state directory",
                 path);
        return GW_EEXIST;
    }
    unlink(path);
    return 0;
}

static void control__server_close_cb(uv_handle_t *h)
{
    gw_control_t *c = h->data;

    if (--c->handles == 0)
        free(c);
}

int gw_control_start(gw_control_t **out, uv_loop_t *loop, const gw_control_cmd_t *cmds, void *ctx,
                     const char *path, const char *group, char *err, size_t errlen)
{
    gw_control_t *c;
    struct group *gr = NULL;
    mode_t mask;
    int rc;

    *out = NULL;
    if (strlen(path) >= sizeof(c->path)) {
        snprintf(err, errlen, "control socket %s: path too long", path);
        return GW_EINVAL;
    }
    if (group && *group && !(gr = getgrnam(group))) {
        snprintf(err, errlen, "control.group: no group named \"%s\"", group);
        return GW_EINVAL;
    }
    rc = control__clear_stale(path, err, errlen);
    if (rc != 0)
        return rc;
    c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "control socket: out of memory");
        return GW_ENOMEM;
    }
    c->cmds = cmds;
    c->ctx = ctx;
    snprintf(c->path, sizeof(c->path), "%s", path);
    uv_pipe_init(loop, &c->server, 0);
    uv_idle_init(loop, &c->idle);
    c->server.data = c->idle.data = c;
    c->handles = 2;
    /* Created owner-only (0600 whatever the umask), then opened to the
     * group: no moment where another user could connect. A file another
     * thread creates meanwhile is only made stricter. */
    mask = umask(0177);
    rc = uv_pipe_bind(&c->server, path);
    umask(mask);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&c->server, 64, control__connection_cb);
    if (rc != 0) {
        snprintf(err, errlen, "control socket %s: %s", path, uv_strerror(rc));
        goto out_close;
    }
    /* Group-restricted: the daemon's user and the socket's group only. */
    if (chmod(path, 0660) != 0 || (gr && chown(path, (uid_t)-1, gr->gr_gid) != 0)) {
        rc = -errno;
        snprintf(err, errlen, "control socket %s: cannot set mode/group: %s", path,
                 strerror(errno));
        unlink(path);
        goto out_close;
    }
    gw_log_info("control", "listening on %s", path);
    *out = c;
    return 0;

out_close:
    uv_close((uv_handle_t *)&c->server, control__server_close_cb);
    uv_close((uv_handle_t *)&c->idle, control__server_close_cb);
    return rc;
}

void gw_control_close(gw_control_t *c)
{
    if (!c)
        return;
    for (control__conn_t *k = c->conns; k; k = k->next) {
        k->ctl = NULL;
        control__conn_close(k);
    }
    c->conns = NULL;
    unlink(c->path);
    uv_close((uv_handle_t *)&c->server, control__server_close_cb);
    uv_close((uv_handle_t *)&c->idle, control__server_close_cb);
}
