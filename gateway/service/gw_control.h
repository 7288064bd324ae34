/*
 * gw_control.h: the daemon's control socket: a Unix domain stream socket
 * (mode 0660, optionally chowned to a group) served on the loop thread
 * (uv_pipe). The protocol is newline-delimited JSON, one request per line,
 * one response line per request, in order:
 *
 *   -> {"cmd":"status"}
 *   <- {"ok":true,"result":{...}}
 *   -> {"cmd":"nope"}
 *   <- {"ok":false,"error":"unknown command \"nope\" (status, reload, ping)"}
 *
 * Commands are rows of a table given to gw_control_start (name, handler,
 * summary; the daemon's is in svc_commands.c): to add one, write a handler
 * and add a row. Handlers run on the loop thread with the context given at
 * start. plantroomctl (gateway/ctl/ctl_status.c) is the client.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_CONTROL_H
#define PLANTROOM_GW_CONTROL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <uv.h>

typedef struct gw_control gw_control_t;
typedef struct gw_control_call gw_control_call_t;

/* A handler's return value: the answer comes later (gw_control_finish). */
#define GW_CONTROL_LATER 1

/* A command: fill result (an empty object to add members to) and return 0,
 * or return a negative code with a one-line reason in err. req is the whole
 * request object (arguments are its other members).
 *
 * A command whose answer needs another thread (a Modbus write goes to its
 * bus thread) calls gw_control_defer(call), keeps what it returns, returns
 * GW_CONTROL_LATER, and later calls gw_control_finish on the loop thread.
 * Until then that connection's next requests wait, so answers stay in
 * request order. Never call gw_control_finish from inside the handler: a
 * refusal known at once is an ordinary error return. */
typedef int (*gw_control_fn)(void *ctx, const cJSON *req, cJSON *result, gw_control_call_t *call,
                             char *err, size_t errlen);

typedef struct gw_control_cmd {
    const char *name; /* NULL ends the table */
    gw_control_fn fn;
    const char *summary;
} gw_control_cmd_t;

/* Longest request line accepted; a longer one closes the connection. */
#define GW_CONTROL_LINE_MAX (64 * 1024)
/* Deepest nesting of arrays and objects in a request (refused past it). */
#define GW_CONTROL_DEPTH_MAX 16

/* Who is on the other end of a connection: the kernel's word for it
 * (SO_PEERCRED, read when the client connected), not the client's. */
typedef struct gw_control_peer {
    unsigned uid, gid;
    int pid;
} gw_control_peer_t;

/* The peer of the connection call came on. 0, or GW_ENOENT when unknown
 * (no connection: gw_control_handle, or the credentials could not be
 * read). */
int gw_control_peer(const gw_control_call_t *call, gw_control_peer_t *out);

/* Listen on path, answering with the table cmds (ended by a NULL name; it
 * must outlive the socket), each handler called with ctx. A stale socket
 * file left by a crashed daemon is removed;
 * one that another process answers on is an error (two daemons on one
 * state directory). group "" keeps the daemon's group. Returns 0 or a
 * negative code with the reason in err. */
int gw_control_start(gw_control_t **out, uv_loop_t *loop, const gw_control_cmd_t *cmds, void *ctx,
                     const char *path, const char *group, char *err, size_t errlen);
/* Close the listener and every connection, remove the socket file. The
 * memory goes with the handles' close callbacks (run the loop once more). */
void gw_control_close(gw_control_t *c);

/* Keep call past the handler's return; NULL when it cannot be deferred
 * (out of memory, or no connection to answer). */
gw_control_call_t *gw_control_defer(gw_control_call_t *call);
/* Answer a deferred call (loop thread), exactly once: rc 0 with result
 * (taken; may be NULL), or a negative rc with err. If the client has left,
 * the answer is dropped. Frees call. */
void gw_control_finish(gw_control_call_t *call, int rc, cJSON *result, const char *err);

/* Handle one request line without a connection; returns the response line
 * (malloc'd, ending in '\n'), NULL on out of memory. For tests and reuse;
 * a command that defers is answered with an error here. */
char *gw_control_handle(const gw_control_cmd_t *cmds, void *ctx, const char *line, size_t len);

#endif
