/*
 * seccomp_exec.c: plantroom-seccomp-exec FILE PROGRAM [ARG...]: run
 * PROGRAM under a seccomp filter that allows only the system calls named
 * in FILE (one per line) and fails every other one with EPERM, as
 * systemd's SystemCallFilter= with SystemCallErrorNumber=EPERM does. For
 * tests/integration/test_service_sandbox.py, which builds FILE from the
 * unit's SystemCallFilter lines (expanded by systemd-analyze
 * syscall-filter), so that the daemon and its exec hooks are run under
 * the unit's filter on a machine without systemd as PID 1. The filter is
 * inherited by every child (hooks) and cannot be lifted (no_new_privs).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char line[128];
    scmp_filter_ctx ctx;
    FILE *f;
    int n = 0, unknown = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: plantroom-seccomp-exec FILE PROGRAM [ARG...]\n");
        return 2;
    }
    ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    f = fopen(argv[1], "r");
    if (!ctx || !f) {
        fprintf(stderr, "plantroom-seccomp-exec: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    while (fgets(line, sizeof(line), f)) {
        int nr;
        line[strcspn(line, " \t\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        nr = seccomp_syscall_resolve_name(line);
        if (nr == __NR_SCMP_ERROR) {
            unknown++; /* not a call of this architecture */
            continue;
        }
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0)
            n++;
    }
    fclose(f);
    if (seccomp_load(ctx) != 0) {
        fprintf(stderr, "plantroom-seccomp-exec: cannot load the filter\n");
        return 1;
    }
    seccomp_release(ctx);
    fprintf(stderr, "plantroom-seccomp-exec: %d system calls allowed (%d unknown here)\n", n,
            unknown);
    execv(argv[2], argv + 2);
    fprintf(stderr, "plantroom-seccomp-exec: %s: %s\n", argv[2], strerror(errno));
    return 127;
}
