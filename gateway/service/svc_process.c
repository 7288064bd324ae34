/*
 * svc_process.c: the process_* metrics that Prometheus client libraries
 * export by convention (CPU seconds, resident and virtual memory, open and
 * maximum file descriptors, start time), read from /proc/self at each
 * render (docs/operations.md, "Metrics"). A file that cannot be read leaves
 * its metric out rather than giving a false 0. Loop thread only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/service/svc_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The fields of /proc/self/stat we need (proc(5)): utime, stime (14, 15),
 * starttime (22, clock ticks after boot), vsize (23, bytes), rss (24,
 * pages). */
typedef struct proc__stat {
    unsigned long long utime, stime, starttime, vsize;
    long long rss;
} proc__stat_t;

static int proc__read_stat(proc__stat_t *ps)
{
    char buf[1024], *p;
    size_t n;
    FILE *f = fopen("/proc/self/stat", "r");

    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
    if (!p)
        return -1;
    /* After ")": field 3 (state) onwards; skip fields 3..13. */
    if (sscanf(p + 1,
               " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
               "%llu %llu %lld",
               &ps->utime, &ps->stime, &ps->starttime, &ps->vsize, &ps->rss) != 5)
        return -1;
    return 0;
}

/* Boot time (Unix seconds) from /proc/stat's "btime"; -1 when unknown. */
static long long proc__btime(void)
{
    char line[256];
    long long bt = -1;
    FILE *f = fopen("/proc/stat", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "btime %lld", &bt) == 1)
            break;
    }
    fclose(f);
    return bt;
}

/* Entries of /proc/self/fd (less the one opendir holds); -1 on error. */
static long proc__open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

/* The soft limit "Max open files" of /proc/self/limits; -1 when unknown
 * or unlimited. */
static long long proc__max_fds(void)
{
    char line[256];
    long long soft = -1;
    FILE *f = fopen("/proc/self/limits", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "Max open files", 14) == 0) {
            if (sscanf(line + 14, " %lld", &soft) != 1)
                soft = -1;
            break;
        }
    }
    fclose(f);
    return soft;
}

static void proc__one(FILE *o, const char *name, const char *type, const char *help, double v)
{
    fprintf(o, "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name, type, name, v);
}

void svc__process_metrics(FILE *o)
{
    proc__stat_t ps;
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    long long bt = proc__btime(), maxfd = proc__max_fds();
    long fds = proc__open_fds();

    if (tck > 0 && page > 0 && proc__read_stat(&ps) == 0) {
        proc__one(o, "process_cpu_seconds_total", "counter",
                  "Total user and system CPU time spent in seconds.",
                  (double)(ps.utime + ps.stime) / (double)tck);
        proc__one(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                  (double)ps.rss * (double)page);
        proc__one(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                  (double)ps.vsize);
        if (bt > 0)
            proc__one(o, "process_start_time_seconds", "gauge",
                      "Start time of the process since unix epoch in seconds.",
                      (double)bt + (double)ps.starttime / (double)tck);
    }
    if (fds >= 0)
        proc__one(o, "process_open_fds", "gauge", "Number of open file descriptors.", (double)fds);
    if (maxfd > 0)
        proc__one(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                  (double)maxfd);
}
