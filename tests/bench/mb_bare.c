/*
 * mb_bare.c: the baseline of the Modbus benchmark (bench_modbus.py): the
 * same reads plantroomd does, by a bare libmodbus loop. B threads, one
 * connection each, share K unit ids round-robin and read P holding
 * registers from each in turn (in requests of at most 125, as plantroomd
 * plans them), every I ms or as fast as the server answers, for S
 * seconds. Prints one JSON line: points read, requests, seconds, CPU
 * seconds (user + system), peak RSS in kB, and the reading threads' own
 * CPU seconds and voluntary context switches (wake-ups), summed
 * (getrusage RUSAGE_THREAD at each thread's end), to set beside
 * plantroomd's bus threads.
 *
 *   mb_bare HOST PORT K P SECONDS [B [I]]
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <modbus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

typedef struct bare {
    const char *host;
    int port, k, p, b, idx, interval_ms;
    double seconds;
    unsigned long long points, errors, requests;
    double cpu_s;            /* this thread's CPU, user + system */
    unsigned long long vcsw; /* its voluntary context switches */
} bare_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    bare_t *t = arg;
    uint16_t regs[125];
    modbus_t *ctx = modbus_new_tcp(t->host, t->port);
    double end = now_s() + t->seconds;

    if (!ctx || modbus_connect(ctx) != 0) {
        fprintf(stderr, "mb_bare: connect: %s\n", modbus_strerror(errno));
        exit(1);
    }
    modbus_set_response_timeout(ctx, 1, 0);
    double next = now_s();
    while (now_s() < end) {
        if (t->interval_ms > 0) {
            double wait = next - now_s();
            if (wait > 0) {
                struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
                nanosleep(&ts, NULL);
            }
            next += t->interval_ms / 1000.0;
        }
        for (int unit = 1 + t->idx; unit <= t->k; unit += t->b) {
            modbus_set_slave(ctx, unit);
            for (int off = 0; off < t->p; off += 125) {
                int n = t->p - off < 125 ? t->p - off : 125;
                t->requests++;
                if (modbus_read_registers(ctx, off, n, regs) == n)
                    t->points += (unsigned)n;
                else
                    t->errors++;
            }
        }
    }
    modbus_close(ctx);
    modbus_free(ctx);
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) == 0) {
        t->cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                   ru.ru_stime.tv_usec / 1e6;
        t->vcsw = (unsigned long long)ru.ru_nvcsw;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct rusage ru;
    unsigned long long points = 0, errors = 0, requests = 0, vcsw = 0;
    double thread_cpu_s = 0;
    int b = argc > 6 ? atoi(argv[6]) : 1;
    int interval_ms = argc > 7 ? atoi(argv[7]) : 0;
    bare_t *t;
    pthread_t *th;

    if (argc < 6) {
        fprintf(stderr, "usage: mb_bare HOST PORT K P SECONDS [B [INTERVAL_MS]]\n");
        return 2;
    }
    t = calloc((size_t)b, sizeof(*t));
    th = calloc((size_t)b, sizeof(*th));
    for (int i = 0; i < b; i++) {
        t[i] = (bare_t){argv[1],
                        atoi(argv[2]),
                        atoi(argv[3]),
                        atoi(argv[4]),
                        b,
                        i,
                        interval_ms,
                        atof(argv[5]),
                        0,
                        0,
                        0,
                        0,
                        0};
        pthread_create(&th[i], NULL, run, &t[i]);
    }
    for (int i = 0; i < b; i++) {
        pthread_join(th[i], NULL);
        points += t[i].points;
        errors += t[i].errors;
        requests += t[i].requests;
        thread_cpu_s += t[i].cpu_s;
        vcsw += t[i].vcsw;
    }
    getrusage(RUSAGE_SELF, &ru);
    /* ru_maxrss survives exec (it would show the parent's); VmHWM does not */
    long hwm = ru.ru_maxrss;
    FILE *st = fopen("/proc/self/status", "r");
    char line[256];
    while (st && fgets(line, sizeof(line), st)) {
        if (sscanf(line, "VmHWM: %ld", &hwm) == 1)
            break;
    }
    if (st)
        fclose(st);
    printf("{\"points\": %llu, \"errors\": %llu, \"requests\": %llu, \"seconds\": %s, "
           "\"cpu_s\": %.6f, \"maxrss_kb\": %ld, \"threads\": %d, \"thread_cpu_s\": %.6f, "
           "\"thread_vcsw\": %llu}\n",
           points, errors, requests, argv[5],
           ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6,
           hwm, b, thread_cpu_s, vcsw);
    free(t);
    free(th);
    return 0;
}
