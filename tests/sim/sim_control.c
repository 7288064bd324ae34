/*
 * sim_control.c: --set assignments and the live control file of
 * plantroom-sim. The syntax and the reload rules are in sim_control.h.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/sim/sim_control.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/gw_log.h"
#include "gateway/base/gw_types.h"

#define MOD "sim"

/* Trim leading and trailing white space in place; returns the new start. */
static char *sim__trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* Parse a whole string as a finite double. */
static int sim__parse_double(const char *s, double *out)
{
    char *end;

    if (*s == '\0')
        return GW_EINVAL;
    errno = 0;
    *out = strtod(s, &end);
    if (errno != 0 || *end != '\0')
        return GW_EINVAL;
    return 0;
}

int sim_control_parse(sim_world_t *w, const char *line, sim_device_t **dev, int *idx, double *value,
                      sim_fault_t *fault, char *msg, size_t msglen)
{
    char buf[256];
    char *s, *dot, *eq, *hash;
    int rc;

    if (strlen(line) >= sizeof(buf)) {
        snprintf(msg, msglen, "line too long");
        return GW_EINVAL;
    }
    strcpy(buf, line);
    hash = strchr(buf, '#');
    if (hash)
        *hash = '\0';
    s = sim__trim(buf);
    if (*s == '\0')
        return 0;

    eq = strchr(s, '=');
    dot = strchr(s, '.');
    if (!eq || !dot || dot > eq) {
        snprintf(msg, msglen, "expected DEVICE.POINT=VALUE");
        return GW_EINVAL;
    }
    *eq = '\0';
    *dot = '\0';
    if (strcmp(sim__trim(dot + 1), "fault") == 0) {
        sim_world_lookup(w, sim__trim(s), "fault", dev, idx);
        if (!*dev) {
            snprintf(msg, msglen, "unknown device '%s'", sim__trim(s));
            return GW_ENOENT;
        }
        rc = sim_fault_parse(sim__trim(eq + 1), fault, msg, msglen);
        return rc < 0 ? rc : 2;
    }
    rc = sim_world_lookup(w, sim__trim(s), sim__trim(dot + 1), dev, idx);
    if (rc < 0) {
        if (!*dev)
            snprintf(msg, msglen, "unknown device '%s'", sim__trim(s));
        else
            snprintf(msg, msglen, "unknown point '%s' of %s (kind %s)", sim__trim(dot + 1),
                     (*dev)->name, (*dev)->kind->name);
        return rc;
    }
    if (sim__parse_double(sim__trim(eq + 1), value) < 0) {
        snprintf(msg, msglen, "value '%s' of %s.%s is not a number", sim__trim(eq + 1),
                 (*dev)->name, (*dev)->kind->points[*idx].name);
        return GW_EINVAL;
    }
    rc = sim_point_check(&(*dev)->kind->points[*idx], *value, msg, msglen);
    return rc < 0 ? rc : 1;
}

int sim_control_set_cli(sim_world_t *w, const char *arg, char *msg, size_t msglen)
{
    sim_device_t *dev;
    sim_fault_t fault;
    double value;
    int idx, rc;

    rc = sim_control_parse(w, arg, &dev, &idx, &value, &fault, msg, msglen);
    if (rc == 0) {
        snprintf(msg, msglen, "expected DEVICE.POINT=VALUE");
        return GW_EINVAL;
    }
    if (rc < 0)
        return rc;
    if (rc == 2) {
        dev->fault_cli = fault;
        return 0;
    }
    dev->ctl_cli[idx].set = 1;
    dev->ctl_cli[idx].value = value;
    return 0;
}

/* Free a per-device array of layers (entries may be NULL). */
static void sim__layers_free(sim_ctl_t **layers, size_t n)
{
    size_t i;

    if (!layers)
        return;
    for (i = 0; i < n; i++)
        free(layers[i]);
    free(layers);
}

/* One empty control layer per device, or NULL when out of memory. */
static sim_ctl_t **sim__layers_new(const sim_world_t *w)
{
    sim_ctl_t **layers = calloc(w->n_devices, sizeof(*layers));
    size_t i;

    if (!layers)
        return NULL;
    for (i = 0; i < w->n_devices; i++) {
        layers[i] = calloc(w->devices[i].kind->n_points, sizeof(**layers));
        if (!layers[i]) {
            sim__layers_free(layers, w->n_devices);
            return NULL;
        }
    }
    return layers;
}

/* Read the control file into fresh layers. Returns 0, GW_EIO when the file
 * cannot be read, or GW_ENOMEM; a missing file yields empty layers. */
static int sim__read_file(const char *path, sim_world_t *w, sim_ctl_t **layers, sim_fault_t *faults)
{
    char *line = NULL, msg[200];
    size_t cap = 0, lineno = 0;
    sim_fault_t fault;
    sim_device_t *dev;
    double value;
    int idx, rc = 0;
    FILE *f;

    f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : GW_EIO;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        rc = sim_control_parse(w, line, &dev, &idx, &value, &fault, msg, sizeof(msg));
        if (rc < 0) {
            gw_log_warn(MOD, "control file %s:%zu: '%s': %s; line ignored", path, lineno, line,
                        msg);
            continue;
        }
        if (rc == 2)
            faults[dev - w->devices] = fault;
        if (rc == 1) {
            layers[dev - w->devices][idx].set = 1;
            layers[dev - w->devices][idx].value = value;
        }
    }
    rc = ferror(f) ? GW_EIO : 0;
    free(line);
    fclose(f);
    return rc;
}

/* Log what a reload changes, so a demo shows every value it steers. */
static void sim__log_changes(const sim_world_t *w, sim_ctl_t **fresh)
{
    const sim_device_t *dev;
    const sim_point_t *pt;
    const sim_ctl_t *old, *neu;
    size_t i, j;

    for (i = 0; i < w->n_devices; i++) {
        dev = &w->devices[i];
        for (j = 0; j < dev->kind->n_points; j++) {
            old = &dev->ctl_file[j];
            neu = &fresh[i][j];
            pt = &dev->kind->points[j];
            if (neu->set && (!old->set || old->value != neu->value))
                gw_log_info(MOD, "control: %s.%s %s %.10g", dev->name, pt->name,
                            pt->flags & SIM_PT_SETPOINT ? "setpoint" : "held at", neu->value);
            else if (old->set && !neu->set)
                gw_log_info(MOD, "control: %s.%s released", dev->name, pt->name);
        }
    }
}

/* Whether the file looks different from the last time it was read. */
static int sim__file_changed(const struct stat *a, const struct stat *b)
{
    return a->st_dev != b->st_dev || a->st_ino != b->st_ino || a->st_size != b->st_size ||
           a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

int sim_control_poll(sim_control_t *c, sim_world_t *w)
{
    struct stat st;
    sim_fault_t *faults;
    sim_ctl_t **fresh;
    size_t i;
    int rc, exists;

    if (!c->path)
        return 0;
    exists = stat(c->path, &st) == 0;
    if (!exists && errno != ENOENT) {
        gw_log_warn(MOD, "control file %s: %s", c->path, strerror(errno));
        return GW_EIO;
    }
    if (c->seen && exists == (c->seen == 2) && (!exists || !sim__file_changed(&st, &c->last)))
        return 0;
    if (!exists)
        gw_log_notice(MOD, "control file %s does not exist%s", c->path,
                      c->seen ? " any more; its values are released" : " yet");

    fresh = sim__layers_new(w);
    faults = calloc(w->n_devices, sizeof(*faults));
    if (!fresh || !faults) {
        sim__layers_free(fresh, w->n_devices);
        free(faults);
        return GW_ENOMEM;
    }
    rc = exists ? sim__read_file(c->path, w, fresh, faults) : 0;
    if (rc < 0) {
        gw_log_warn(MOD, "control file %s: %s; keeping the previous values", c->path,
                    gw_strerror(rc));
        sim__layers_free(fresh, w->n_devices);
        free(faults);
        return rc;
    }
    sim__log_changes(w, fresh);
    for (i = 0; i < w->n_devices; i++) {
        if (faults[i].kind != w->devices[i].fault_file.kind ||
            faults[i].arg != w->devices[i].fault_file.arg)
            gw_log_info(MOD, "control: %s fault %s", w->devices[i].name,
                        sim_fault_name(faults[i].kind));
        w->devices[i].fault_file = faults[i];
    }
    free(faults);
    for (i = 0; i < w->n_devices; i++) {
        free(w->devices[i].ctl_file);
        w->devices[i].ctl_file = fresh[i];
        fresh[i] = NULL;
    }
    free(fresh);
    c->seen = exists ? 2 : 1;
    if (exists)
        c->last = st;
    return 0;
}
