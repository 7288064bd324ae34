/*
 * fault_vfs.c: writes that fail on demand (fault_vfs.h). Every file method
 * is forwarded to the system's VFS; xWrite, xTruncate and xSync fail while
 * a fault is set (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR_*), and
 * xGetLastError then reports the errno a real failure would have left
 * (ENOSPC, EROFS, EIO).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "fault_vfs.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>

typedef struct fv_file {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
    int faulty;         /* the name matches the filter */
} fv_file_t;

static sqlite3_vfs *fv_real;
static sqlite3_vfs fv_vfs;
static sqlite3_io_methods fv_io;
static atomic_int fv_mode;
static char fv_filter[64];

static int fv_fault(const fv_file_t *f)
{
    int m = atomic_load(&fv_mode);

    if (!f->faulty || m == FAULT_VFS_NONE)
        return SQLITE_OK;
    return m == FAULT_VFS_FULL       ? SQLITE_FULL
           : m == FAULT_VFS_READONLY ? SQLITE_READONLY
                                     : SQLITE_IOERR_WRITE;
}

#define FV_REAL(f) (((fv_file_t *)(f))->real)
#define FV_M(f)    (FV_REAL(f)->pMethods)

static int fv_close(sqlite3_file *f)
{
    return FV_M(f)->xClose(FV_REAL(f));
}

static int fv_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return FV_M(f)->xRead(FV_REAL(f), buf, n, off);
}

static int fv_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    int rc = fv_fault((fv_file_t *)f);
    return rc ? rc : FV_M(f)->xWrite(FV_REAL(f), buf, n, off);
}

static int fv_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = fv_fault((fv_file_t *)f);
    return rc ? (rc == SQLITE_IOERR_WRITE ? SQLITE_IOERR_TRUNCATE : rc)
              : FV_M(f)->xTruncate(FV_REAL(f), size);
}

static int fv_sync(sqlite3_file *f, int flags)
{
    int rc = fv_fault((fv_file_t *)f);
    return rc ? (rc == SQLITE_IOERR_WRITE ? SQLITE_IOERR_FSYNC : rc)
              : FV_M(f)->xSync(FV_REAL(f), flags);
}

static int fv_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return FV_M(f)->xFileSize(FV_REAL(f), size);
}

static int fv_lock(sqlite3_file *f, int l)
{
    return FV_M(f)->xLock(FV_REAL(f), l);
}

static int fv_unlock(sqlite3_file *f, int l)
{
    return FV_M(f)->xUnlock(FV_REAL(f), l);
}

static int fv_check(sqlite3_file *f, int *out)
{
    return FV_M(f)->xCheckReservedLock(FV_REAL(f), out);
}

static int fv_control(sqlite3_file *f, int op, void *arg)
{
    return FV_M(f)->xFileControl(FV_REAL(f), op, arg);
}

static int fv_sector(sqlite3_file *f)
{
    return FV_M(f)->xSectorSize(FV_REAL(f));
}

static int fv_chars(sqlite3_file *f)
{
    return FV_M(f)->xDeviceCharacteristics(FV_REAL(f));
}

static int fv_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return FV_M(f)->xShmMap(FV_REAL(f), pg, pgsz, extend, pp);
}

static int fv_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return FV_M(f)->xShmLock(FV_REAL(f), off, n, flags);
}

static void fv_shm_barrier(sqlite3_file *f)
{
    FV_M(f)->xShmBarrier(FV_REAL(f));
}

static int fv_shm_unmap(sqlite3_file *f, int del)
{
    return FV_M(f)->xShmUnmap(FV_REAL(f), del);
}

static int fv_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return FV_M(f)->xFetch(FV_REAL(f), off, n, pp);
}

static int fv_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return FV_M(f)->xUnfetch(FV_REAL(f), off, p);
}

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
    fv_file_t *f = (fv_file_t *)file;
    int rc;

    (void)vfs;
    f->real = (sqlite3_file *)(f + 1);
    f->faulty = name && strstr(name, fv_filter) != NULL;
    rc = fv_real->xOpen(fv_real, name, f->real, flags, out);
    f->base.pMethods = rc == SQLITE_OK && f->real->pMethods ? &fv_io : NULL;
    return rc;
}

static int fv_last_error(sqlite3_vfs *vfs, int n, char *buf)
{
    int m = atomic_load(&fv_mode);

    (void)vfs;
    if (m == FAULT_VFS_FULL)
        return ENOSPC;
    if (m == FAULT_VFS_READONLY)
        return EROFS;
    if (m == FAULT_VFS_IO)
        return EIO;
    return fv_real->xGetLastError ? fv_real->xGetLastError(fv_real, n, buf) : 0;
}

int fault_vfs_register(const char *filter)
{
    if (fv_real)
        return SQLITE_OK;
    fv_real = sqlite3_vfs_find(NULL);
    if (!fv_real)
        return SQLITE_ERROR;
    strncpy(fv_filter, filter, sizeof(fv_filter) - 1);
    fv_vfs = *fv_real;
    fv_vfs.zName = "fault";
    fv_vfs.szOsFile = (int)sizeof(fv_file_t) + fv_real->szOsFile;
    fv_vfs.xOpen = fv_open;
    fv_vfs.xGetLastError = fv_last_error;
    fv_vfs.pNext = NULL;
    fv_io = (sqlite3_io_methods){
        3,           fv_close,       fv_read,      fv_write,   fv_truncate, fv_sync,  fv_size,
        fv_lock,     fv_unlock,      fv_check,     fv_control, fv_sector,   fv_chars, fv_shm_map,
        fv_shm_lock, fv_shm_barrier, fv_shm_unmap, fv_fetch,   fv_unfetch};
    return sqlite3_vfs_register(&fv_vfs, 1);
}

void fault_vfs_set(fault_vfs_mode_t mode)
{
    atomic_store(&fv_mode, (int)mode);
}

int fault_vfs_parse(const char *name)
{
    static const char *const names[] = {"none", "full", "readonly", "io"};

    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0)
            return i;
    }
    return -1;
}
