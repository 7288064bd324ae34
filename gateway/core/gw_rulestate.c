/*
 * gw_rulestate.c: the rule-state file (gw_rules.h), so that baselines,
 * trends, counters and firing states survive a restart: a restart never
 * resets a prediction. Design in docs/architecture.md, "Rules: state across
 * reloads and restarts". Not in the SQLite ledger: the ledger keeps work
 * orders; this is the rules' working memory, rewritten whole.
 *
 * Format (native byte order: the file belongs to this box):
 *   header   "PRRS" u32 version u32 count u32 state_size
 *   from version 2: i64 saved_wall_ms i64 saved_mono_ms char boot_id[40]
 *   count x  char device[64] rule[64] point[64]; u64 learn_hash; u32 kind;
 *            version 1, 2: u32 reserved; rule_state_t state (state_size
 *                          bytes: only a build of the same layout reads it)
 *            version 3:    u32 nbytes; then nbytes of fields, each
 *                          u16 tag u16 0 u32 len, len bytes
 *                          (gw_rulestate_fields.c: an upgrade keeps what
 *                          both builds know; state_size is 0)
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
#define RS_VERSION 3u
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

/* Version 3: the record's head; nbytes of fields follow. */
typedef struct rs_head3 {
    char device[RS_NAME], rule[RS_NAME], point[RS_NAME];
    uint64_t hash;
    uint32_t kind, nbytes;
} rs_head3_t;

typedef struct rs_field3 {
    uint16_t tag, zero;
    uint32_t len;
} rs_field3_t;

#define RS_MAX_GROUPS 64 /* groups a record may have to leave out */

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

/* Bytes of rule i's fields (version 3), or write them at p when p is not
 * NULL. */
static size_t rs__fields(const gw_rule_rt_t *r, unsigned char *p)
{
    size_t total = 0, n;
    const gw_rs_field_t *tab;

    for (int pass = 0; pass < 2; pass++) {
        tab = gw_rulestate_fields(pass == 0 ? -1 : (int)r->cfg->kind, &n);
        for (size_t j = 0; j < n; j++) {
            rs_field3_t f = {.tag = tab[j].tag, .len = tab[j].len};
            if (p) {
                memcpy(p + total, &f, sizeof(f));
                memcpy(p + total + sizeof(f), (const char *)&r->st + tab[j].off, tab[j].len);
            }
            total += sizeof(f) + tab[j].len;
        }
    }
    return total;
}

int gw_rulestate_encode(const gw_runtime_t *rt, void **out, size_t *len)
{
    rs_header_t h = {.version = RS_VERSION};
    rs_clocks_t k = {.wall_ms = gw_wall_ms(), .mono_ms = gw_mono_ms()};
    size_t n = rt->cfg->nrules, size = sizeof(h) + sizeof(k) + sizeof(uint64_t);
    uint64_t sum = 1469598103934665603ULL;
    unsigned char *buf, *p;

    *out = NULL;
    *len = 0;
    for (size_t i = 0; i < n; i++)
        size += sizeof(rs_head3_t) + rs__fields(&rt->rules[i], NULL);
    if (!(buf = calloc(1, size)))
        return GW_ENOMEM;
    memcpy(h.magic, RS_MAGIC, 4);
    h.count = (uint32_t)n;
    memcpy(buf, &h, sizeof(h));
    rs__boot_id(k.boot_id);
    memcpy(buf + sizeof(h), &k, sizeof(k));
    p = buf + sizeof(h) + sizeof(k);
    for (size_t i = 0; i < n; i++) {
        const gw_rule_rt_t *r = &rt->rules[i];
        rs_head3_t rec = {.hash = rule_learn_hash(&r->cfg->rule), .kind = (uint32_t)r->cfg->kind};
        snprintf(rec.device, RS_NAME, "%s", r->cfg->device);
        snprintf(rec.rule, RS_NAME, "%s", r->cfg->name);
        snprintf(rec.point, RS_NAME, "%s", r->cfg->point);
        rec.nbytes = (uint32_t)rs__fields(r, p + sizeof(rec));
        memcpy(p, &rec, sizeof(rec));
        p += sizeof(rec) + rec.nbytes;
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

/* The rule a record is for: the same device, name, point, kind and learn
 * hash. The names are terminated here. NULL: none (removed, changed). */
static gw_rule_rt_t *rs__match(gw_runtime_t *rt, char *device, char *rule, char *point,
                               uint32_t kind, uint64_t hash)
{
    device[RS_NAME - 1] = rule[RS_NAME - 1] = point[RS_NAME - 1] = '\0';
    for (size_t i = 0; i < rt->cfg->nrules; i++) {
        gw_rule_rt_t *r = &rt->rules[i];
        if (!strcmp(r->cfg->device, device) && !strcmp(r->cfg->name, rule) &&
            !strcmp(r->cfg->point, point) && kind == (uint32_t)r->cfg->kind &&
            hash == rule_learn_hash(&r->cfg->rule))
            return r;
    }
    return NULL;
}

/* Take st for r, onto this run's clock. The checksum proves no rule wrote
 * it: indices and times must be ones a rule could have written, or the
 * rule starts fresh. 1 when taken. */
static int rs__adopt(gw_runtime_t *rt, gw_rule_rt_t *r, const rule_state_t *st, int64_t shift,
                     size_t *bounded)
{
    if (st->kind != r->cfg->kind || !rule_state_valid(&r->cfg->rule, st))
        return 0;
    memcpy(&r->st, st, sizeof(r->st));
    if (rule_rebase(&r->cfg->rule, &r->st, shift, gw_mono_ms(), gw_wall_ms(),
                    rt->cfg->time.max_future_ms))
        (*bounded)++;
    return 1;
}

/* Versions 1 and 2: the raw state of a build of the same layout. */
static int rs__restore_raw(gw_runtime_t *rt, rs_record_t *rec, int64_t shift, size_t *bounded)
{
    gw_rule_rt_t *r = rs__match(rt, rec->device, rec->rule, rec->point, rec->kind, rec->hash);

    return r ? rs__adopt(rt, r, &rec->st, shift, bounded) : 0;
}

/* This build's entry for tag among the fields of kind, NULL: unknown. */
static const gw_rs_field_t *rs__field(int kind, uint16_t tag)
{
    const gw_rs_field_t *tab;
    size_t n;

    for (int pass = 0; pass < 2; pass++) {
        tab = gw_rulestate_fields(pass == 0 ? -1 : kind, &n);
        for (size_t j = 0; j < n; j++) {
            if (tab[j].tag == tag)
                return &tab[j];
        }
    }
    return NULL;
}

/* The next field of a record's list at *off (advanced past it): 1, 0 at
 * the end, -1 when it runs past the list. */
static int rs__next(const unsigned char *p, size_t nbytes, size_t *off, rs_field3_t *f,
                    const unsigned char **val)
{
    if (*off == nbytes)
        return 0;
    if (nbytes - *off < sizeof(*f))
        return -1;
    memcpy(f, p + *off, sizeof(*f));
    if (f->len > nbytes - *off - sizeof(*f))
        return -1;
    *val = p + *off + sizeof(*f);
    *off += sizeof(*f) + f->len;
    return 1;
}

/* Version 3: the fields of a record onto st (a fresh state of kind). A
 * field of another length leaves its whole group out. 0, or -1 when the
 * list is malformed. */
static int rs__apply(const unsigned char *p, size_t nbytes, int kind, rule_state_t *st)
{
    uint16_t bad[RS_MAX_GROUPS];
    size_t nbad = 0, off = 0, k;
    const gw_rs_field_t *e;
    const unsigned char *val;
    rs_field3_t f;
    int rc;

    while ((rc = rs__next(p, nbytes, &off, &f, &val)) == 1) {
        if ((e = rs__field(kind, f.tag)) && e->len != f.len && nbad < RS_MAX_GROUPS)
            bad[nbad++] = e->group;
    }
    if (rc < 0)
        return -1;
    off = 0;
    while (rs__next(p, nbytes, &off, &f, &val) == 1) {
        if (!(e = rs__field(kind, f.tag)) || e->len != f.len)
            continue;
        for (k = 0; k < nbad && bad[k] != e->group; k++)
            ;
        if (k == nbad)
            memcpy((char *)st + e->off, val, e->len);
    }
    return 0;
}

/* Version 3: restore the record at p (its head, then nbytes of fields). */
static int rs__restore3(gw_runtime_t *rt, const unsigned char *p, int64_t shift, size_t *bounded)
{
    rs_head3_t h;
    gw_rule_rt_t *r;
    rule_state_t st;

    memcpy(&h, p, sizeof(h));
    r = rs__match(rt, h.device, h.rule, h.point, h.kind, h.hash);
    if (!r)
        return 0;
    rule_init(&r->cfg->rule, &st);
    if (rs__apply(p + sizeof(h), h.nbytes, (int)r->cfg->kind, &st) != 0)
        return 0;
    return rs__adopt(rt, r, &st, shift, bounded);
}

/* Version 3: 0 when the count records fill [off, end) exactly. */
static int rs__walk3(const char *buf, size_t off, size_t end, uint32_t count)
{
    rs_head3_t h;

    for (uint32_t i = 0; i < count; i++) {
        if (end - off < sizeof(h))
            return -1;
        memcpy(&h, buf + off, sizeof(h));
        if (h.nbytes > end - off - sizeof(h))
            return -1;
        off += sizeof(h) + h.nbytes;
    }
    return off == end ? 0 : -1;
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
    if (h.version < 1 || h.version > RS_VERSION ||
        (h.version < 3 && h.state_size != sizeof(rule_state_t))) {
        snprintf(err, errlen, "%s: from another build (ignored)", path);
        free(buf);
        return GW_ESTATE;
    }
    head = sizeof(h) + (h.version >= 2 ? sizeof(k) : 0);
    if ((size_t)n < head + sizeof(sum))
        goto out_damaged;
    if (h.version >= 2)
        memcpy(&k, buf + sizeof(h), sizeof(k));
    shift = rs__shift(h.version, &k);
    if (h.version == 3) {
        if (rs__walk3(buf, head, (size_t)n - sizeof(sum), h.count) != 0)
            goto out_damaged;
        for (uint32_t i = 0; i < h.count; i++) {
            rs_head3_t rh;
            memcpy(&rh, buf + head, sizeof(rh));
            if (rs__restore3(rt, (const unsigned char *)buf + head, shift, &cnt->bounded))
                cnt->loaded++;
            else
                cnt->skipped++;
            head += sizeof(rh) + rh.nbytes;
        }
        free(buf);
        return 0;
    }
    need = head + (size_t)h.count * sizeof(rs_record_t) + sizeof(sum);
    if ((size_t)n != need)
        goto out_damaged;
    for (uint32_t i = 0; i < h.count; i++) {
        rs_record_t *rec = (rs_record_t *)(void *)(buf + head + i * sizeof(rs_record_t));
        if (rs__restore_raw(rt, rec, shift, &cnt->bounded))
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
