/*
 * notify_metrics.c: the notifier's figures as Prometheus lines (for the
 * service's endpoint, docs/operations.md "Metrics"): hook delivery
 * attempts that succeeded and that failed since start. Loop thread only.
 */
#include "gateway/notify/gw_notify.h"

#include <stdio.h>

void gw_notify_metrics_text(const gw_notify_t *n, FILE *o)
{
    uint64_t ok, failed;

    gw_notify_counts(n, &ok, &failed);
    fprintf(o, "# HELP plantroom_hook_deliveries_total Alert hook delivery attempts that succeeded "
               "(SMS command, webhook).\n# TYPE plantroom_hook_deliveries_total counter\n");
    fprintf(o, "plantroom_hook_deliveries_total %llu\n", (unsigned long long)ok);
    fprintf(o,
            "# HELP plantroom_hook_failures_total Alert hook delivery attempts that failed (each "
            "retry counts).\n# TYPE plantroom_hook_failures_total counter\n");
    fprintf(o, "plantroom_hook_failures_total %llu\n", (unsigned long long)failed);
}
