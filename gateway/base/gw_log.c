/*
 * gw_log.c: one-line leveled logging to stderr (see gw_log.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = GW_LOG_INFO;
static int log_journal; /* set once by gw_log_init, before threads start */

static const char *const level_names[8] = {"emerg", "alert",  "crit", "error",
                                           "warn",  "notice", "info", "debug"};

void gw_log_set_level(gw_log_level_t level)
{
    atomic_store(&log_level, (int)level);
}

gw_log_level_t gw_log_get_level(void)
{
    return (gw_log_level_t)atomic_load(&log_level);
}

int gw_log_level_parse(const char *name, gw_log_level_t *out)
{
    for (int i = GW_LOG_ERROR; i <= GW_LOG_DEBUG; i++) {
        if (name && strcasecmp(name, level_names[i]) == 0) {
            *out = (gw_log_level_t)i;
            return 0;
        }
    }
    return GW_EINVAL;
}

/* journald sets JOURNAL_STREAM to "dev:inode" of the stream it hands us. */
void gw_log_init(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long dev, ino;

    log_journal = 0;
    if (!js || sscanf(js, "%lu:%lu", &dev, &ino) != 2)
        return;
    if (fstat(STDERR_FILENO, &st) == 0 && st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino)
        log_journal = 1;
}

void gw_log(gw_log_level_t level, const char *module, const char *fmt, ...)
{
    char line[1024];
    size_t n = 0;
    va_list ap;
    int w;

    if ((int)level > atomic_load(&log_level))
        return;
    if (log_journal) {
        w = snprintf(line, sizeof(line), "<%d>%s: ", (int)level, module);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        w = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-6s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level & 7], module);
    }
    n = w > 0 ? (size_t)w : 0;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (w > 0)
        n += (size_t)w < sizeof(line) - n - 1 ? (size_t)w : sizeof(line) - n - 2;
    for (size_t i = 0; i < n; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    line[n++] = '\n';
    /* One write: lines from different threads never interleave. */
    ssize_t rc = write(STDERR_FILENO, line, n);
    (void)rc;
}
