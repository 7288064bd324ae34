/*
 * plantroomd.c: the daemon's entry point: command line, config check, run.
 *
 *   plantroomd --config FILE [--state-dir DIR] [--log-level LEVEL]
 *   plantroomd --check-config FILE
 *   plantroomd --print-plan --config FILE
 *
 * Exit codes: 0 clean stop or valid config; 1 runtime failure (ledger cannot
 * be opened, ...); 2 bad command line or invalid config.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config.h"
#include "gateway/gw_daemon.h"
#include "gateway/base/gw_log.h"
#include "gateway/core/gw_runtime.h"

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLANTROOM_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f, "usage: plantroomd --config FILE [--state-dir DIR] [--log-level LEVEL]\n"
               "       plantroomd --check-config FILE\n"
               "       plantroomd --print-plan --config FILE\n"
               "       plantroomd --version | --help\n"
               "\n"
               "  --config FILE        run with this site configuration (JSON)\n"
               "  --check-config FILE  validate FILE, print every error, exit 0 or 2\n"
               "  --print-plan         print each device's Modbus requests and exit\n"
               "  --state-dir DIR      where the ledger lives (overrides state_dir)\n"
               "  --log-level LEVEL    error, warn, notice, info or debug (overrides log.level)\n"
               "\n"
               "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads the configuration.\n");
}

static int check_config(const char *path, const gw_config_overrides_t *ov)
{
    gw_errlist_t el;
    gw_config_t *cfg = NULL;
    size_t npoints = 0;

    gw_errlist_init(&el);
    if (gw_config_load(path, ov, &cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            fprintf(stderr, "%s: %s\n", path, el.msgs[i]);
        fprintf(stderr, "%s: %zu error%s\n", path, el.n, el.n == 1 ? "" : "s");
        gw_errlist_free(&el);
        return 2;
    }
    for (size_t i = 0; i < cfg->ndevices; i++)
        npoints += cfg->devices[i].npoints;
    printf("%s: ok: site %s, %zu buses, %zu devices, %zu points, %zu rules, ledger %s\n", path,
           cfg->site_id, cfg->nbuses, cfg->ndevices, npoints, cfg->nrules, cfg->ledger_path);
    gw_config_free(cfg);
    return 0;
}

/* --print-plan: the request plan of every device, from a valid config. */
static int print_plan(gw_config_t *cfg)
{
    gw_runtime_t *rt = NULL;
    char err[512];

    if (gw_runtime_build(&rt, cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "plantroomd: %s\n", err);
        return 2;
    }
    gw_runtime_print_plan(rt, stdout);
    gw_runtime_free(rt);
    return 0;
}

/* The command line. */
typedef struct opts {
    const char *config, *check, *log_level;
    gw_config_overrides_t ov;
    int plan;
} opts_t;

/* Parse argv into o: -1 to go on, else the exit code (help, version, error). */
static int parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", required_argument, NULL, 'k'},
        {"print-plan", no_argument, NULL, 'P'},
        {"state-dir", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "c:k:s:l:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'k':
            o->check = optarg;
            break;
        case 'P':
            o->plan = 1;
            break;
        case 's':
            o->ov.state_dir = optarg;
            break;
        case 'l':
            o->log_level = optarg;
            break;
        case 'V':
            printf("plantroomd %s\n", PLANTROOM_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "plantroomd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Load the config and run the daemon until it stops; the exit code. */
static int run(const opts_t *o)
{
    gw_config_t *cfg = NULL;
    gw_daemon_t *d = NULL;
    gw_errlist_t el;
    char err[512];
    int rc;

    gw_errlist_init(&el);
    if (gw_config_load(o->config, &o->ov, &cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            gw_log_error("config", "%s: %s", o->config, el.msgs[i]);
        gw_log_error("config", "%s: %zu errors: not starting", o->config, el.n);
        gw_errlist_free(&el);
        return 2;
    }
    if (o->plan)
        return print_plan(cfg);
    rc = gw_daemon_create(&d, cfg, &o->ov, err, sizeof(err));
    if (rc != 0) {
        gw_log_error("gw", "cannot start: %s", err);
        return 1;
    }
    rc = gw_daemon_run(d);
    gw_daemon_destroy(d);
    return rc;
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    gw_log_level_t level;
    int rc;

    /* glibc's threshold for mmap'd blocks, fixed at its default of 128 KiB:
     * left dynamic, it rises to the size of any large block freed (the
     * answer to a status of a big site, a few MB), after which such blocks
     * come from the heap, which keeps their pages: the RSS stayed about
     * 3 MB higher after one `plantroomctl status` (docs/performance.md,
     * "The full pipeline"). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* One malloc arena for every thread. glibc gives each thread that
     * mallocs an arena of its own (up to 8 per core): the ledger's, the
     * notifier's, the spool's, the bus threads' and paho's two, each
     * keeping the pages it ever touched, 0.1-0.3 MB apiece and 1.6 MB for
     * the spool's after a replay. In one heap freed memory is reused by
     * every thread: 1.0-1.4 MB less anonymous memory at 200 devices with
     * MQTT, no measurable CPU (docs/performance.md, "Anonymous memory with
     * MQTT"). Most allocations are served by glibc's per-thread caches
     * without taking the arena's lock. */
    mallopt(M_ARENA_MAX, 1);
    /* Fixing that threshold also fixes the trim threshold at 128 KiB (left
     * dynamic, it follows the mmap threshold at twice its value). paho copies
     * each telemetry message (topic and payload, 5-25 kB) on the loop and
     * frees the copy on its send thread: a bus cycle's messages grew the heap
     * by up to a megabyte and their frees gave it back to the kernel, every
     * cycle, so the next cycle's copies faulted their pages in again (and
     * paho zeroes every block it allocates). Free memory at the heap's top is
     * kept up to 2 MiB: the peak RSS is what it was, the CPU of the loop and
     * of paho's send thread less and steadier (docs/performance.md, "The full
     * pipeline"). */
    mallopt(M_TRIM_THRESHOLD, 2 * 1024 * 1024);
    gw_log_init();
    rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.check)
        return check_config(o.check, &o.ov);
    if (!o.config) {
        fprintf(stderr, "plantroomd: --config FILE is required\n");
        usage(stderr);
        return 2;
    }
    if (o.log_level) {
        if (gw_log_level_parse(o.log_level, &level) != 0) {
            fprintf(stderr,
                    "plantroomd: --log-level: must be one of error, warn, notice, info, "
                    "debug, got \"%s\"\n",
                    o.log_level);
            return 2;
        }
        o.ov.log_level = o.log_level; /* applied by every load, so also on SIGHUP */
    }
    return run(&o);
}
