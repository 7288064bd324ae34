/*
 * gw_metrics.h: the Prometheus endpoint (svc_http.c).
 *
 * libmicrohttpd answers GET /metrics on its own thread from the last text
 * handed over with gw_metrics_publish; the loop renders that text once a
 * second (svc_figures.c). The two meet only there, under a mutex: the HTTP
 * thread never touches loop state. docs/operations.md ("Metrics") says
 * what each metric means.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_GW_METRICS_H
#define PLANTROOM_GW_METRICS_H

#include <stddef.h>

typedef struct gw_metrics gw_metrics_t;

/* Start the HTTP endpoint on address:port (libmicrohttpd, its own thread).
 * Until the first gw_metrics_publish it answers 503. Returns 0 or a negative
 * code with the reason in err. */
int gw_metrics_start(gw_metrics_t **out, const char *address, int port, char *err, size_t errlen);
/* Replace the text served (the endpoint takes ownership of text, a malloc'd
 * NUL-terminated string). Thread-safe. */
void gw_metrics_publish(gw_metrics_t *m, char *text);
/* Stop the HTTP thread and free everything. NULL is fine. */
void gw_metrics_stop(gw_metrics_t *m);

#endif
