/*
 * fault_vfs.h: a SQLite VFS for tests that makes writes fail on demand, as
 * a full disk, a filesystem remounted read-only or a failing card would
 * (tests/hooks/fault_vfs.c). It wraps the system's VFS and becomes the
 * default; while a fault is set, every write, truncate and sync of a file
 * whose name contains the filter fails. Reads and the shared-memory index
 * work on.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLANTROOM_FAULT_VFS_H
#define PLANTROOM_FAULT_VFS_H

typedef enum fault_vfs_mode {
    FAULT_VFS_NONE = 0,
    FAULT_VFS_FULL,     /* SQLITE_FULL (ENOSPC) */
    FAULT_VFS_READONLY, /* SQLITE_READONLY (errno EROFS) */
    FAULT_VFS_IO,       /* SQLITE_IOERR_WRITE with errno EIO */
} fault_vfs_mode_t;

/* Register the VFS as the default (once); filter: part of the file names
 * it faults ("notify.db"). Returns 0 or a SQLite error code. */
int fault_vfs_register(const char *filter);
/* Set the fault from now on (any thread). */
void fault_vfs_set(fault_vfs_mode_t mode);
/* "none", "full", "readonly", "io" -> mode; -1 when unknown. */
int fault_vfs_parse(const char *name);

#endif
