/*
 * gw_rulestate.c: the rule-state file (gw_rules.h), so that baselines,
 * trends, counters and firing states survive a restart: a restart never
 * resets a prediction. Design in docs/architecture.md, "Rules: state across
 * reloads and restarts". Not in the SQLite ledger: the ledger keeps work
 * orders; this is the rules' working memory, rewritten whole.
 *
 * Format (native byte order: the file belongs to this box and this build):
 *   header   "PRRS" u32 version u32 count u32 sizeof(rule_state_t)
 *   version 2: i64 saved_wall_ms i64 saved_mono_ms char boot_id[40]
 *   count x  char device[64] rule[64] point[64]; u64 learn_hash; u32 kind;
 *            u32 reserved; rule_state_t state
 *   trailer  u64 FNV-1a of everything before it
 * The states' monotonic times (rules/rule.h says which) belong to the run
 * that saved them: the saved clocks and the boot id
 * (/proc/sys/kernel/random/boot_id) tell the loader how to bring them onto
 * its own (the same boot: CLOCK_MONOTONIC goes on; another boot: the wall
 * time that passed since the save). Version 1 held wall-clock times; it is
 * still read.
 * Written as FILE.new, fsync, rename, fsync of the directory (as mosquitto
 * persists), so a crash leaves the old file or the new one, never half.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/core/gw_rules.h"
#include "gateway/base/gw_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RS_MAGIC   "PRRS"
#define RS_VERSION 2u
#define RS_NAME    64
#define RS_BOOT    40

typedef struct rs_header {
    char magic[4];
    uint32_t version, count, state_size;
} rs_header_t;

/* After the header from version 2 on: the clocks at the save. */
typedef struct rs_clocks {
    int64_t wall_ms, mono_ms;
    char boot_id[RS_BOOT];
} rs_clocks_t;

typedef struct rs_record {
    char device[RS_NAME], rule[RS_NAME], point[RS_NAME];
    uint64_t hash;
    uint32_t kind, reserved;
    rule_state_t st;
} rs_record_t;

static uint64_t rs__fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int rs__write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -errno;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static void rs__fsync_dir(const char *path)
{
    char tmp[PATH_MAX];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s", path);
    fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* This boot's id, "" when it cannot be read (then never the same boot). */
static void rs__boot_id(char out[RS_BOOT])
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

    memset(out, 0, RS_BOOT);
    if (!f)
        return;
    if (!fgets(out, RS_BOOT, f))
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

int gw_rulestate_encode(const gw_runtime_t *rt, void **out, size_t *len)
{
    rs_header_t h = {.version = RS_VERSION, .state_size = (uint32_t)sizeof(rule_state_t)};
    rs_clocks_t k = {.wall_ms = gw_wall_ms(), .mono_ms = gw_mono_ms()};
    size_t n = rt->cfg->nrules;
    size_t size = sizeof(h) + sizeof(k) + n * sizeof(rs_record_t) + sizeof(uint64_t);
    uint64_t sum = 1469598103934665603ULL;
    unsigned char *buf = calloc(1, size), *p;

    *out = NULL;
    *len = 0;
    if (!buf)
        return GW_ENOMEM;
    memcpy(h.magic, RS_MAGIC, 4);
    h.count = (uint32_t)n;
    memcpy(buf, &h, sizeof(h));
    rs__boot_id(k.boot_id);
    memcpy(buf + sizeof(h), &k, sizeof(k));
    p = buf + sizeof(h) + sizeof(k);
    for (size_t i = 0; i < n; i++, p += sizeof(rs_record_t)) {
        const gw_rule_rt_t *r = &rt->rules[i];
        rs_record_t *rec = (rs_record_t *)(void *)p;
        snprintf(rec->device, RS_NAME, "%s", r->cfg->device);
        snprintf(rec->rule, RS_NAME, "%s", r->cfg->name);
        snprintf(rec->point, RS_NAME, "%s", r->cfg->point);
        rec->hash = rule_learn_hash(&r->cfg->rule);
        rec->kind = (uint32_t)r->cfg->kind;
        memcpy(&rec->st, &r->st, sizeof(rec->st));
    }
    sum = rs__fnv(sum, buf, (size_t)(p - buf));
    memcpy(p, &sum, sizeof(sum));
    *out = buf;
    *len = size;
    return 0;
}

int gw_rulestate_write(const char *path, const void *buf, size_t len, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 8];
    int fd, rc;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return rc;
    }
    rc = rs__write_all(fd, buf, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    rs__fsync_dir(path);
    return 0;
}

int gw_rulestate_save(const gw_runtime_t *rt, const char *path, char *err, size_t errlen)
{
    void *buf;
    size_t len;
    int rc = gw_rulestate_encode(rt, &buf, &len);

    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    rc = gw_rulestate_write(path, buf, len, err, errlen);
    free(buf);
    return rc;
}

/* Read the whole file into *buf. Returns its length, 0 when missing, or a
 * negative code. */
static long rs__slurp(const char *path, char **buf, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    long n;

    *buf = NULL;
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(*buf = malloc((size_t)n + 1)) || fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        snprintf(err, errlen, "%s: cannot read", path);
        fclose(f);
        free(*buf);
        *buf = NULL;
        return GW_EIO;
    }
    fclose(f);
    return n;
}

/* How far the saved monotonic times move to land on this run's clock. */
static int64_t rs__shift(uint32_t version, const rs_clocks_t *k)
{
    int64_t now_mono = gw_mono_ms(), now_wall = gw_wall_ms(), elapsed;
    char boot[RS_BOOT];

    if (version == 1) /* wall-clock times: a wall time t was now_mono - (now_wall - t) */
        return now_mono - now_wall;
    rs__boot_id(boot);
    if (boot[0] && strncmp(boot, k->boot_id, RS_BOOT) == 0)
        return 0; /* the same boot: CLOCK_MONOTONIC went on */
    elapsed = now_wall > k->wall_ms ? now_wall - k->wall_ms : 0;
    return now_mono - elapsed - k->mono_ms;
}

/* Restore one record into the rule it matches. 1 when restored. */
static int rs__restore(gw_runtime_t *rt, rs_record_t *rec, int64_t shift, size_t *bounded)
{
    rec->device[RS_NAME - 1] = rec->rule[RS_NAME - 1] = rec->point[RS_NAME - 1] = '\0';
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        gw_rule_rt_t *r = &rt->rules[i];
        if (strcmp(r->cfg->device, rec->device) || strcmp(r->cfg->name, rec->rule) ||
            strcmp(r->cfg->point, rec->point) || rec->kind != (uint32_t)r->cfg->kind ||
            rec->hash != rule_learn_hash(&r->cfg->rule) || rec->st.kind != r->cfg->kind)
            continue;
        /* the checksum proves no rule wrote it: indices and times must be
         * ones a rule could have written, or the rule starts fresh */
        if (!rule_state_valid(&r->cfg->rule, &rec->st))
            return 0;
        memcpy(&r->st, &rec->st, sizeof(r->st));
        if (rule_rebase(&r->cfg->rule, &r->st, shift, gw_mono_ms(), gw_wall_ms(),
                        rt->cfg->time.max_future_ms))
            (*bounded)++;
        return 1;
    }
    return 0;
}

int gw_rulestate_load(gw_runtime_t *rt, const char *path, gw_rulestate_counts_t *cnt, char *err,
                      size_t errlen)
{
    char *buf;
    long n = rs__slurp(path, &buf, err, errlen);
    rs_header_t h;
    rs_clocks_t k = {0};
    uint64_t sum, want;
    size_t need, head;
    int64_t shift;

    memset(cnt, 0, sizeof(*cnt));
    if (n <= 0) {
        free(buf); /* an empty file has a buffer of one byte */
        return (int)n;
    }
    /* Damaged (not ours, torn, changed): the magic or the checksum says so.
     * A sound file of another build's layout is only not for us. */
    if ((size_t)n < sizeof(h) + sizeof(sum))
        goto out_damaged;
    memcpy(&h, buf, sizeof(h));
    memcpy(&want, buf + n - sizeof(sum), sizeof(sum));
    sum = rs__fnv(1469598103934665603ULL, buf, (size_t)n - sizeof(sum));
    if (memcmp(h.magic, RS_MAGIC, 4) != 0 || sum != want)
        goto out_damaged;
    if ((h.version != 1 && h.version != RS_VERSION) || h.state_size != sizeof(rule_state_t)) {
        snprintf(err, errlen, "%s: from another build (ignored)", path);
        free(buf);
        return GW_ESTATE;
    }
    head = sizeof(h) + (h.version >= 2 ? sizeof(k) : 0);
    need = head + (size_t)h.count * sizeof(rs_record_t) + sizeof(sum);
    if ((size_t)n != need)
        goto out_damaged;
    if (h.version >= 2)
        memcpy(&k, buf + sizeof(h), sizeof(k));
    shift = rs__shift(h.version, &k);
    for (uint32_t i = 0; i < h.count; i++) {
        rs_record_t *rec = (rs_record_t *)(void *)(buf + head + i * sizeof(rs_record_t));
        if (rs__restore(rt, rec, shift, &cnt->bounded))
            cnt->loaded++;
        else
            cnt->skipped++;
    }
    free(buf);
    return 0;

out_damaged:
    snprintf(err, errlen, "%s: damaged (bad magic, size or checksum)", path);
    free(buf);
    return GW_ECORRUPT;
}
