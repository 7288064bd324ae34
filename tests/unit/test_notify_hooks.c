/*
 * test_notify_hooks.c: hook delivery (protocols/hooks/hk.h) on a real libuv
 * loop with real child processes and a real (refused) TCP connection: exit
 * status, the timeout kill, stdin and the environment variable, no shell,
 * a missing program, a webhook that cannot connect, and closing with
 * deliveries in flight.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "protocols/hooks/hk.h"
#include "ledger_testutil.h"
#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loopback port that listens but never answers; returns the fd. */
static int silent_server(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    bind(fd, (struct sockaddr *)&a, sizeof(a));
    listen(fd, 4);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

typedef struct result {
    int calls, ok;
    char detail[128];
} result_t;

static void done(void *arg, int ok, const char *detail)
{
    result_t *r = arg;
    r->calls++;
    r->ok = ok;
    snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

static uv_loop_t loop;

static void run_until(result_t *r, int n)
{
    while (r->calls < n && uv_run(&loop, UV_RUN_ONCE))
        ;
}

static int exec_req(hk_t *h, const char *const *argv, const char *stdin_data, int timeout_ms,
                    result_t *r)
{
    char err[256];
    hk_exec_req_t req = {.argv = argv,
                         .env_name = "PLANTROOM_ALERT",
                         .env_value = "{\"v\":1}",
                         .stdin_data = stdin_data,
                         .timeout_ms = timeout_ms};
    return hk_exec(h, &req, done, r, err, sizeof(err));
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

T_TEST(exec_status_stdin_env_and_no_shell)
{
    hk_t *h;
    char err[256], script[1024];
    result_t r = {0};

    T_CHECK_EQ_INT(hk_create(&h, &loop, err, sizeof(err)), 0);
    /* status 0 = delivered */
    const char *ok[] = {"true", NULL};
    T_CHECK_EQ_INT(exec_req(h, ok, NULL, 5000, &r), 0);
    T_CHECK_EQ_INT(hk_inflight(h), 1);
    run_until(&r, 1);
    T_CHECK(r.calls == 1 && r.ok == 1);
    T_CHECK_STR(r.detail, "exit status 0");
    /* non-zero = failed, with the status */
    const char *bad[] = {"sh", "-c", "exit 3", NULL};
    memset(&r, 0, sizeof(r));
    exec_req(h, bad, NULL, 5000, &r);
    run_until(&r, 1);
    T_CHECK(r.ok == 0 && strcmp(r.detail, "exit status 3") == 0);
    /* stdin and $PLANTROOM_ALERT reach the child; an argument holding shell
     * syntax stays one argument */
    snprintf(script, sizeof(script),
             "cat > %s; printf '%%s|%%s|%%s' \"$PLANTROOM_ALERT\" \"$1\" \"$#\" > %s",
             lt_path("stdin.txt"), lt_path("args.txt"));
    const char *echo[] = {"sh", "-c", script, "sh", "a b; rm -rf /tmp/x $(id)", NULL};
    memset(&r, 0, sizeof(r));
    exec_req(h, echo, "{\"alerts\":[]}", 5000, &r);
    run_until(&r, 1);
    T_CHECK(r.ok == 1);
    T_CHECK_STR(slurp(lt_path("stdin.txt")), "{\"alerts\":[]}");
    T_CHECK_STR(slurp(lt_path("args.txt")), "{\"v\":1}|a b; rm -rf /tmp/x $(id)|1");
    /* a child that never reads its stdin does not hurt (no SIGPIPE) */
    const char *deaf[] = {"true", NULL};
    char big[200000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memset(&r, 0, sizeof(r));
    exec_req(h, deaf, big, 5000, &r);
    run_until(&r, 1);
    T_CHECK(r.ok == 1);
    hk_close(h);
    uv_run(&loop, UV_RUN_DEFAULT);
}

T_TEST(exec_timeout_kills_and_missing_program)
{
    hk_t *h;
    char err[256];
    result_t r = {0};

    T_CHECK_EQ_INT(hk_create(&h, &loop, err, sizeof(err)), 0);
    const char *slow[] = {"sleep", "30", NULL};
    T_CHECK_EQ_INT(exec_req(h, slow, NULL, 200, &r), 0);
    run_until(&r, 1);
    T_CHECK(r.ok == 0);
    T_CHECK_STR(r.detail, "timed out: killed");
    /* a program that does not exist: an error at once, no callback */
    const char *none[] = {"/nonexistent/gammu-smsd-inject", "TEXT", NULL};
    memset(&r, 0, sizeof(r));
    T_CHECK(exec_req(h, none, NULL, 1000, &r) < 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    T_CHECK_EQ_INT(r.calls, 0);
    T_CHECK_EQ_INT(hk_inflight(h), 0);
    hk_close(h);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* 1 when a library whose file name contains name is mapped in this process. */
static int mapped(const char *name)
{
    char line[512];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");

    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, name) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* libcurl is loaded at the first webhook (hk_curl.c), not linked: runs
 * before any other http test. */
T_TEST(libcurl_mapped_only_from_the_first_webhook)
{
    hk_t *h;
    char err[256];
    result_t r = {0};
    hk_http_req_t req = {.url = "http://127.0.0.1:1/hook", .body = "{}", .timeout_ms = 2000};

    T_CHECK(!mapped("libcurl"));
    T_CHECK_EQ_INT(hk_create(&h, &loop, err, sizeof(err)), 0);
    T_CHECK(!mapped("libcurl"));
    T_CHECK_EQ_INT(hk_http(h, &req, done, &r, err, sizeof(err)), 0);
    T_CHECK(mapped("libcurl"));
    run_until(&r, 1);
    T_CHECK(r.calls == 1 && r.ok == 0);
    hk_close(h);
    uv_run(&loop, UV_RUN_DEFAULT);
}

T_TEST(http_refused_and_close_in_flight)
{
    hk_t *h;
    char err[256];
    result_t r = {0}, r2 = {0};
    hk_http_req_t req = {.url = "http://127.0.0.1:1/hook", .body = "{}", .timeout_ms = 2000};

    T_CHECK_EQ_INT(hk_create(&h, &loop, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(hk_http(h, &req, done, &r, err, sizeof(err)), 0);
    run_until(&r, 1);
    T_CHECK(r.calls == 1 && r.ok == 0);
    T_CHECK_STR(r.detail, "Couldn't connect to server");
    /* closing with a child and a request in flight: both report "closed" */
    const char *slow[] = {"sleep", "30", NULL};
    memset(&r, 0, sizeof(r));
    exec_req(h, slow, NULL, 60000, &r);
    int port, fd = silent_server(&port);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    req.url = url; /* connects, then waits for an answer that never comes */
    T_CHECK_EQ_INT(hk_http(h, &req, done, &r2, err, sizeof(err)), 0);
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    T_CHECK_EQ_INT(hk_inflight(h), 2);
    hk_close(h);
    T_CHECK(r.calls == 1 && r.ok == 0 && strcmp(r.detail, "closed") == 0);
    T_CHECK(r2.calls == 1 && r2.ok == 0 && strcmp(r2.detail, "closed") == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    close(fd);
}

T_TEST(urlencode)
{
    char *e = hk_urlencode("+86 138/电");
    T_CHECK_STR(e, "%2B86%20138%2F%E7%94%B5");
    free(e);
}

int main(void)
{
    uv_loop_init(&loop);
    T_RUN(exec_status_stdin_env_and_no_shell);
    T_RUN(exec_timeout_kills_and_missing_program);
    T_RUN(libcurl_mapped_only_from_the_first_webhook);
    T_RUN(http_refused_and_close_in_flight);
    T_RUN(urlencode);
    T_CHECK_EQ_INT(uv_loop_close(&loop), 0);
    lt_cleanup();
    return t_done();
}
