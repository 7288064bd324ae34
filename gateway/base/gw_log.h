/*
 * gw_log.h: one-line leveled logging to stderr, for every module and thread.
 *
 * Each call writes exactly one line with a single write(2), so lines from the
 * loop, bus and ledger threads never interleave. Under systemd (JOURNAL_STREAM
 * set and stderr being that stream) lines carry a "<N>" syslog priority prefix
 * that journald turns into the entry's priority, and no timestamp (journald
 * adds its own); elsewhere lines start with an ISO-8601 UTC timestamp.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_LOG_H
#define PLANTROOM_GW_LOG_H

typedef enum gw_log_level {
    GW_LOG_ERROR = 3, /* values are syslog priorities */
    GW_LOG_WARN = 4,
    GW_LOG_NOTICE = 5,
    GW_LOG_INFO = 6,
    GW_LOG_DEBUG = 7,
} gw_log_level_t;

/* Set the most verbose level written (default GW_LOG_INFO). Thread-safe. */
void gw_log_set_level(gw_log_level_t level);
gw_log_level_t gw_log_get_level(void);
/* Parse "error", "warn", "notice", "info", "debug"; 0 or GW_EINVAL. */
int gw_log_level_parse(const char *name, gw_log_level_t *out);
/* Decide journald formatting from the environment; called once at start. */
void gw_log_init(void);

/* Write one line: "<ts> <level> <module>: <message>". A newline inside the
 * message is replaced by a space so that one call is always one line. */
void gw_log(gw_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define gw_log_error(mod, ...)  gw_log(GW_LOG_ERROR, mod, __VA_ARGS__)
#define gw_log_warn(mod, ...)   gw_log(GW_LOG_WARN, mod, __VA_ARGS__)
#define gw_log_notice(mod, ...) gw_log(GW_LOG_NOTICE, mod, __VA_ARGS__)
#define gw_log_info(mod, ...)   gw_log(GW_LOG_INFO, mod, __VA_ARGS__)
#define gw_log_debug(mod, ...)  gw_log(GW_LOG_DEBUG, mod, __VA_ARGS__)

#endif
