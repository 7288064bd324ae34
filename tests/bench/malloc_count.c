/*
 * malloc_count.c: an LD_PRELOAD allocation counter for the benchmarks
 * (bench_pipeline.py; docs/performance.md, "The full pipeline").
 *
 * Every malloc, calloc, realloc (counted as one allocation), aligned
 * allocation and free of the process is counted, by the library the call
 * came from (its return address: the daemon itself, paho, cJSON, SQLite,
 * libc for its own strdup/stdio/..., the rest), into a small file mapped
 * shared (PLANTROOM_MALLOC_COUNT=path), so that the benchmark reads the
 * counters of a running daemon at two marks and divides by the polls in
 * between. Calls go to glibc's own __libc_* functions. Not for production:
 * a relaxed atomic add per call and a short scan of the library table.
 *
 *   PLANTROOM_MALLOC_COUNT=/tmp/counts LD_PRELOAD=libmalloc_count.so plantroomd ...
 *
 * The file holds MC_CLASSES records of {allocations, frees} (uint64_t
 * each) in the order of mc_class_names (printed by the benchmark).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t k);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

enum { MC_SELF, MC_PAHO, MC_CJSON, MC_SQLITE, MC_LIBC, MC_OTHER, MC_CLASSES };

typedef struct mc_range {
    uintptr_t lo, hi;
    int cls;
} mc_range_t;

static _Atomic uint64_t mc_local[MC_CLASSES][2]; /* before the file is mapped */
static _Atomic uint64_t (*mc_counts)[2] = mc_local;
static mc_range_t mc_ranges[64];
static int mc_nranges;

static int mc_class_of_name(const char *name)
{
    if (!name || !name[0])
        return MC_SELF;
    if (strstr(name, "paho"))
        return MC_PAHO;
    if (strstr(name, "cjson"))
        return MC_CJSON;
    if (strstr(name, "sqlite"))
        return MC_SQLITE;
    if (strstr(name, "/libc.so") || strstr(name, "/libc-"))
        return MC_LIBC;
    return MC_OTHER;
}

static int mc_phdr(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum && mc_nranges < 64; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        mc_ranges[mc_nranges].lo = info->dlpi_addr + ph->p_vaddr;
        mc_ranges[mc_nranges].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        mc_ranges[mc_nranges].cls = mc_class_of_name(info->dlpi_name);
        mc_nranges++;
    }
    return 0;
}

static void mc_count(void *caller, int which)
{
    uintptr_t a = (uintptr_t)caller;
    int cls = MC_OTHER;

    for (int i = 0; i < mc_nranges; i++) {
        if (a >= mc_ranges[i].lo && a < mc_ranges[i].hi) {
            cls = mc_ranges[i].cls;
            break;
        }
    }
    atomic_fetch_add_explicit(&mc_counts[cls][which], 1, memory_order_relaxed);
}

__attribute__((constructor)) static void mc_init(void)
{
    const char *path = getenv("PLANTROOM_MALLOC_COUNT");
    size_t len = sizeof(mc_local);
    void *m;
    int fd;

    dl_iterate_phdr(mc_phdr, NULL);
    if (!path)
        return;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)len) != 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return;
    memcpy(m, (const void *)mc_local, len);
    mc_counts = m;
    unsetenv("PLANTROOM_MALLOC_COUNT"); /* not for children */
}

void *malloc(size_t n)
{
    mc_count(__builtin_return_address(0), 0);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t k)
{
    mc_count(__builtin_return_address(0), 0);
    return __libc_calloc(n, k);
}

void *realloc(void *p, size_t n)
{
    mc_count(__builtin_return_address(0), p ? (n ? 0 : 1) : 0);
    return __libc_realloc(p, n);
}

void free(void *p)
{
    if (p)
        mc_count(__builtin_return_address(0), 1);
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    mc_count(__builtin_return_address(0), 0);
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    mc_count(__builtin_return_address(0), 0);
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;

    mc_count(__builtin_return_address(0), 0);
    p = __libc_memalign(align, n);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}
