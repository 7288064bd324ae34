/*
 * ctl_replay.c: `plantroomctl replay`: run the configured rules over recorded
 * samples as fast as possible and print the work-order actions they would
 * raise (open, update, resolve), with the samples' times. Engineers tune
 * rules on their own history this way (docs/operations.md, "Replay").
 *
 * The config is parsed by the gateway's own loader (plantroom_gateway), so a
 * rule means the same here as in plantroomd; the rules are the pure ones of
 * rules/, driven by the samples' timestamps (the test clock of replay). The
 * CSV has the columns timestamp, device, point, value; the timestamp is
 * epoch milliseconds or ISO-8601 ("2026-01-01T02:00:00Z", fractions and
 * +hh:mm offsets allowed); an empty value is a failed reading (comm error),
 * which only stale rules look at. A first line that is not a sample is a
 * header. The file is read whole into memory and parsed in place.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "ctl.h"
#include "gateway/base/gw_clock.h"
#include "gateway/config/gw_config.h"
#include "gateway/core/gw_rules.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One (device, point) of the config with the rules that watch it. */
typedef struct rp_point {
    const char *device, *point;
    const char *unit;
    size_t *rules; /* indexes into cfg->rules */
    size_t nrules;
} rp_point_t;

typedef struct rp {
    gw_config_t *cfg;
    rule_state_t *st; /* one per rule */
    rp_point_t *pts;
    size_t npts;
    size_t *slots; /* open addressing: index+1 into pts, 0 empty */
    size_t nslots;
    int json;
    cJSON *out; /* --json: the array of actions */
    uint64_t lines, rows, bad_rows, unknown, actions[4];
} rp_t;

static uint64_t rp_hash(const char *dev, size_t dl, const char *pt, size_t pl)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < dl; i++)
        h = (h ^ (unsigned char)dev[i]) * 1099511628211ULL;
    h = (h ^ 0x1f) * 1099511628211ULL;
    for (size_t i = 0; i < pl; i++)
        h = (h ^ (unsigned char)pt[i]) * 1099511628211ULL;
    return h;
}

static rp_point_t *rp_find(rp_t *r, const char *dev, size_t dl, const char *pt, size_t pl)
{
    size_t i = rp_hash(dev, dl, pt, pl) & (r->nslots - 1);
    for (; r->slots[i]; i = (i + 1) & (r->nslots - 1)) {
        rp_point_t *p = &r->pts[r->slots[i] - 1];
        if (strlen(p->device) == dl && strlen(p->point) == pl && memcmp(p->device, dev, dl) == 0 &&
            memcmp(p->point, pt, pl) == 0)
            return p;
    }
    return NULL;
}

/* Index every configured point that has rules. */
static int rp_build(rp_t *r)
{
    gw_config_t *c = r->cfg;

    r->st = calloc(c->nrules + 1, sizeof(*r->st));
    r->pts = calloc(c->nrules + 1, sizeof(*r->pts));
    r->nslots = 16;
    while (r->nslots < 2 * (c->nrules + 1))
        r->nslots *= 2;
    r->slots = calloc(r->nslots, sizeof(*r->slots));
    if (!r->st || !r->pts || !r->slots)
        return GW_ENOMEM;
    for (size_t i = 0; i < c->nrules; i++) {
        const gw_rule_cfg_t *rc = &c->rules[i];
        const gw_device_cfg_t *dev = &c->devices[rc->device_idx];
        rp_point_t *p = rp_find(r, rc->device, strlen(rc->device), rc->point, strlen(rc->point));
        size_t *grown;

        rule_init(&rc->rule, &r->st[i]);
        if (!p) {
            size_t h = rp_hash(rc->device, strlen(rc->device), rc->point, strlen(rc->point)) &
                       (r->nslots - 1);
            while (r->slots[h])
                h = (h + 1) & (r->nslots - 1);
            p = &r->pts[r->npts++];
            r->slots[h] = r->npts;
            p->device = rc->device;
            p->point = rc->point;
            p->unit = dev->points[rc->point_idx].unit;
        }
        grown = realloc(p->rules, (p->nrules + 1) * sizeof(*p->rules));
        if (!grown)
            return GW_ENOMEM;
        p->rules = grown;
        p->rules[p->nrules++] = i;
    }
    return 0;
}

static void rp_free(rp_t *r)
{
    for (size_t i = 0; i < r->npts; i++)
        free(r->pts[i].rules);
    free(r->pts);
    free(r->slots);
    free(r->st);
    cJSON_Delete(r->out);
    gw_config_free(r->cfg);
}

/* ---- parsing ------------------------------------------------------------ */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int num(const char *s, const char *e, int n, int *out)
{
    int v = 0;
    if (e - s < n)
        return -1;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Parse [s, e) as epoch ms or ISO-8601. Returns 0 or -1. */
static int rp_ts(const char *s, const char *e, int64_t *out)
{
    int Y, M, D, h, mi, sec, oh = 0, om = 0;
    int64_t ms = 0, scale = 100, off = 0;
    const char *p;

    if (e > s && e - s < 20 && (*s == '-' || (*s >= '0' && *s <= '9'))) {
        char *end;
        char buf[24];
        memcpy(buf, s, (size_t)(e - s));
        buf[e - s] = '\0';
        if (strchr(buf, '-') == NULL || buf[0] == '-') {
            long long v = strtoll(buf, &end, 10);
            if (*end == '\0' && end != buf) {
                *out = v;
                return 0;
            }
        }
    }
    if (num(s, e, 4, &Y) || e - s < 19 || s[4] != '-' || num(s + 5, e, 2, &M) || s[7] != '-' ||
        num(s + 8, e, 2, &D) || (s[10] != 'T' && s[10] != ' ') || num(s + 11, e, 2, &h) ||
        s[13] != ':' || num(s + 14, e, 2, &mi) || s[16] != ':' || num(s + 17, e, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    p = s + 19;
    if (p < e && *p == '.') {
        for (p++; p < e && *p >= '0' && *p <= '9'; p++, scale /= 10)
            ms += (*p - '0') * scale;
    }
    if (p < e && (*p == '+' || *p == '-')) {
        if (num(p + 1, e, 2, &oh) || (p[3] == ':' ? num(p + 4, e, 2, &om) : num(p + 3, e, 2, &om)))
            return -1;
        off = (oh * 60 + om) * 60000LL * (*p == '+' ? 1 : -1);
        p += p[3] == ':' ? 6 : 5;
    } else if (p < e && (*p == 'Z' || *p == 'z')) {
        p++;
    }
    if (p != e)
        return -1;
    *out =
        (days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 + sec) * 1000 +
        ms - off;
    return 0;
}

/* Split line [s, e) into 4 comma-separated fields (trimming spaces and a
 * trailing \r). Returns 0 or -1. */
static int rp_fields(const char *s, const char *e, const char *f[4], const char *fe[4])
{
    for (int k = 0; k < 4; k++) {
        const char *c = k < 3 ? memchr(s, ',', (size_t)(e - s)) : e;
        if (!c)
            return -1;
        f[k] = s;
        fe[k] = c;
        while (f[k] < fe[k] && (*f[k] == ' ' || *f[k] == '"'))
            f[k]++;
        while (fe[k] > f[k] && (fe[k][-1] == ' ' || fe[k][-1] == '\r' || fe[k][-1] == '"'))
            fe[k]--;
        s = c + 1;
    }
    return 0;
}

/* ---- output ------------------------------------------------------------- */

static const rule_state_t *rp_state(const void *arg, size_t i)
{
    return &((const rp_t *)arg)->st[i];
}

/* Rule number i acted with *a: print its order's action (for a trend that
 * shares an order, the combination's: gw_wear_action). */
static void rp_emit(rp_t *r, size_t i, const rp_point_t *p, const rule_action_t *a)
{
    const gw_rule_cfg_t *rc = &r->cfg->rules[i];
    char ts[32], *ev;
    const char *title = rc->title;
    rule_action_t w;
    gw_priority_t prio;
    size_t driver;

    if (rc->wear_lead >= 0) {
        gw_wear_action(r->cfg, i, a, rp_state, r, &w, &ev, &driver);
        a = &w;
        title = r->cfg->rules[driver].title;
        rc = &r->cfg->rules[rc->wear_lead];
    } else {
        ev = gw_rule_evidence(rc, p->point, p->unit, a);
    }
    prio = a->has_priority ? a->priority : rc->priority;

    r->actions[a->kind]++;
    if (r->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "at", gw_format_iso8601(a->ts_ms, ts, sizeof(ts)));
        cJSON_AddStringToObject(o, "action", rule_action_name(a->kind));
        cJSON_AddStringToObject(o, "site", r->cfg->site_id);
        cJSON_AddStringToObject(o, "device", rc->device);
        cJSON_AddStringToObject(o, "rule", rc->name);
        cJSON_AddStringToObject(o, "kind", rule_kind_name(rc->kind));
        cJSON_AddStringToObject(o, "priority", gw_priority_name(prio));
        cJSON_AddStringToObject(o, "work_type", rc->work_type);
        cJSON_AddStringToObject(o, "category", rc->category);
        cJSON_AddStringToObject(o, "title", title);
        cJSON_AddItemToObject(o, "evidence", ev ? cJSON_Parse(ev) : cJSON_CreateNull());
        cJSON_AddItemToArray(r->out, o);
    } else {
        printf("%s  %-7s  %s/%s  %s %s  %s\n    %s\n", gw_format_iso8601(a->ts_ms, ts, sizeof(ts)),
               rule_action_name(a->kind), rc->device, rc->name, gw_priority_name(prio),
               rc->work_type, title, ev ? ev : "{}");
    }
    free(ev);
}

static void rp_row(rp_t *r, const char *line, const char *end)
{
    const char *f[4], *fe[4];
    gw_sample_t s = {0};
    rp_point_t *p;
    char buf[64], *vend;

    r->lines++;
    if (rp_fields(line, end, f, fe) != 0 || rp_ts(f[0], fe[0], &s.ts_ms) != 0) {
        if (r->lines > 1) /* the first line may be a header */
            r->bad_rows++;
        return;
    }
    r->rows++;
    s.mono_ms = s.ts_ms; /* a recording has one clock: it orders and times alike */
    p = rp_find(r, f[1], (size_t)(fe[1] - f[1]), f[2], (size_t)(fe[2] - f[2]));
    if (!p) {
        r->unknown++;
        return;
    }
    if (fe[3] == f[3] || fe[3] - f[3] >= (long)sizeof(buf)) {
        s.quality = GW_Q_COMM_ERROR;
    } else {
        memcpy(buf, f[3], (size_t)(fe[3] - f[3]));
        buf[fe[3] - f[3]] = '\0';
        s.value = strtod(buf, &vend);
        s.quality = *vend == '\0' && isfinite(s.value) ? GW_Q_GOOD : GW_Q_BAD_CONFIG;
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const gw_rule_cfg_t *rc = &r->cfg->rules[p->rules[i]];
        rule_action_t a;
        if (rule_eval(&rc->rule, &r->st[p->rules[i]], &s, &a) != RULE_ACT_NONE)
            rp_emit(r, p->rules[i], p, &a);
    }
}

static int rp_read(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (!f)
        return -errno;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(*buf = malloc((size_t)n + 1)) || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return GW_EIO;
    }
    fclose(f);
    (*buf)[n] = '\n';
    *len = (size_t)n;
    return 0;
}

static int ctl_replay(ctl_global_t *g, int argc, char **argv)
{
    const char *samples = NULL;
    rp_t r = {0};
    gw_errlist_t el;
    char *buf = NULL;
    size_t len = 0;
    int i = 0, m, rc = CTL_EXIT_FAIL;
    struct timespec t0, t1;

    while (i < argc) {
        if (ctl_opt(argc, argv, &i, "--json", NULL) > 0) {
            r.json = 1;
            continue;
        }
        if ((m = ctl_opt(argc, argv, &i, "--samples", &samples)) == 0 &&
            (m = ctl_global_opt(g, argc, argv, &i)) == 0) {
            return ctl_usage_error(argv[i][0] == '-' ? "unknown option %s" : "unexpected '%s'",
                                   argv[i]);
        }
        if (m < 0)
            return CTL_EXIT_USAGE;
    }
    if (!g->config || !samples)
        return ctl_usage_error("%s", "replay needs --config FILE and --samples FILE.csv");
    gw_errlist_init(&el);
    if (gw_config_load(g->config, NULL, &r.cfg, &el) != 0) {
        for (size_t k = 0; k < el.n; k++)
            ctl_error("config", "%s: %s", g->config, el.msgs[k]);
        gw_errlist_free(&el);
        return CTL_EXIT_FAIL;
    }
    gw_errlist_free(&el);
    if (rp_build(&r) != 0 || (r.json && !(r.out = cJSON_CreateArray()))) {
        ctl_error("no_memory", "out of memory");
        goto out;
    }
    if ((m = rp_read(samples, &buf, &len)) != 0) {
        ctl_error(ctl_code_for(m), "%s: %s", samples, gw_strerror(m));
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (char *s = buf, *e; s < buf + len; s = e + 1) {
        e = memchr(s, '\n', (size_t)(buf + len + 1 - s));
        if (e > s && !(e - s == 1 && *s == '\r'))
            rp_row(&r, s, e);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r.json) {
        char *text = cJSON_Print(r.out);
        if (text)
            printf("%s\n", text);
        free(text);
    }
    {
        double sec = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(stderr,
                "replay: %llu samples (%llu for points without rules, %llu bad lines) in %.3f s "
                "(%.0f samples/s): %llu open, %llu update, %llu resolve\n",
                (unsigned long long)r.rows, (unsigned long long)r.unknown,
                (unsigned long long)r.bad_rows, sec, sec > 0 ? (double)r.rows / sec : 0.0,
                (unsigned long long)r.actions[RULE_ACT_OPEN],
                (unsigned long long)r.actions[RULE_ACT_UPDATE],
                (unsigned long long)r.actions[RULE_ACT_RESOLVE]);
    }
    rc = r.bad_rows ? CTL_EXIT_FAIL : CTL_EXIT_OK;
    if (r.bad_rows)
        ctl_error("invalid", "%s: %llu lines are not timestamp,device,point,value", samples,
                  (unsigned long long)r.bad_rows);
out:
    free(buf);
    rp_free(&r);
    return rc;
}

const ctl_command_t ctl_cmds_replay[] = {
    {"replay", "", ctl_replay, "--config FILE --samples FILE.csv [--json]",
     "run the configured rules over recorded samples (CSV: timestamp,device,point,value) and "
     "print the work orders they would raise"},
    {NULL, NULL, NULL, NULL, NULL},
};
