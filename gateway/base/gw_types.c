/*
 * gw_types.c: names of the shared enums and error codes (gw_types.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_types.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *gw_quality_name(gw_quality_t q)
{
    switch (q) {
    case GW_Q_GOOD:
        return "good";
    case GW_Q_STALE:
        return "stale";
    case GW_Q_COMM_ERROR:
        return "comm_error";
    case GW_Q_BAD_CONFIG:
        return "bad_config";
    }
    return "unknown";
}

static const char *const prio_names[] = {"critical", "high", "medium", "low"};

const char *gw_priority_name(gw_priority_t p)
{
    if ((unsigned)p < GW_ARRAY_SIZE(prio_names))
        return prio_names[p];
    return "unknown";
}

int gw_priority_parse(const char *name, gw_priority_t *out)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(prio_names); i++) {
        if (name && strcasecmp(name, prio_names[i]) == 0) {
            *out = (gw_priority_t)i;
            return 0;
        }
    }
    return GW_EINVAL;
}

const char *gw_strerror(int rc)
{
    switch (rc) {
    case GW_OK:
        return "ok";
    case GW_ECONFIG:
        return "invalid configuration";
    case GW_ESTATE:
        return "not allowed in the current state";
    case GW_EDB:
        return "database error";
    case GW_EPROTO:
        return "protocol error";
    case GW_ECORRUPT:
        return "stored file damaged";
    default:
        break;
    }
    if (rc < 0 && rc > -1000)
        return strerror(-rc);
    return "unknown error";
}

int gw_array_grow(void **arr, size_t n, size_t *cap, size_t elem_size)
{
    size_t ncap;
    void *g;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 16;
    g = realloc(*arr, ncap * elem_size);
    if (!g)
        return GW_ENOMEM;
    *arr = g;
    *cap = ncap;
    return 0;
}
