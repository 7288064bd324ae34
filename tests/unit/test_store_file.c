/*
 * test_store_file.c: store_file.h on real files: a sound database passes
 * quick_check; random bytes, a truncated database and an empty file are
 * told apart; a damaged file is moved aside with its -wal companion under
 * a .corrupt-<UTC> name (twice in a second: two names); modes become 0600.
 * The check interrupted by its progress callback, and in full; the open
 * marker set and cleared.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_types.h"
#include "store/store_file.h"
#include "t.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_store_file.XXXXXX";

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void write_bytes(const char *path, size_t n, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    srand(seed);
    for (size_t i = 0; i < n; i++)
        fputc(rand() & 0xff, f);
    fclose(f);
}

static void make_db(const char *path)
{
    sqlite3 *db;
    T_CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    T_CHECK_EQ_INT(sqlite3_exec(db,
                                "CREATE TABLE t(a, b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                                "SELECT x+1 FROM c WHERE x < 2000) INSERT INTO t SELECT x, "
                                "hex(randomblob(40)) FROM c;",
                                NULL, NULL, NULL),
                   SQLITE_OK);
    sqlite3_close(db);
}

T_TEST(check_tells_sound_from_damaged)
{
    char p[256], err[256] = "";
    FILE *f;

    path_of(p, sizeof(p), "good.db");
    make_db(p);
    T_CHECK_EQ_INT(store_db_check(p, err, sizeof(err)), 0);
    path_of(p, sizeof(p), "missing.db");
    T_CHECK_EQ_INT(store_db_check(p, err, sizeof(err)), GW_ENOENT);
    path_of(p, sizeof(p), "empty.db");
    f = fopen(p, "w");
    fclose(f);
    T_CHECK_EQ_INT(store_db_check(p, err, sizeof(err)), GW_ENOENT);
    path_of(p, sizeof(p), "random.db");
    write_bytes(p, 8192, 7);
    T_CHECK_EQ_INT(store_db_check(p, err, sizeof(err)), GW_ECORRUPT);
    T_CHECK(strstr(err, "random.db") != NULL);
    /* a real database whose pages were overwritten past the header */
    path_of(p, sizeof(p), "torn.db");
    make_db(p);
    f = fopen(p, "r+b");
    fseek(f, 4096, SEEK_SET);
    for (int i = 0; i < 8192; i++)
        fputc(0x5a, f);
    fclose(f);
    T_CHECK_EQ_INT(store_db_check(p, err, sizeof(err)), GW_ECORRUPT);
}

static int calls_then_stop(void *arg)
{
    int *n = arg;
    return ++*n >= 3; /* let two calls pass, then interrupt */
}

/* The check with a progress callback (interrupted: GW_ESTATE), the full
 * check (integrity_check), and a lock held by a writer is no damage. */
T_TEST(check_interrupted_full_and_locked)
{
    char p[256], err[256] = "";
    sqlite3 *db;
    int n = 0;
    store_check_hooks_t hooks = {.progress = calls_then_stop, .arg = &n};

    path_of(p, sizeof(p), "big.db");
    make_db(p); /* and more rows: the callback comes every 10,000 steps */
    T_CHECK_EQ_INT(sqlite3_open(p, &db), SQLITE_OK);
    T_CHECK_EQ_INT(sqlite3_exec(db,
                                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c "
                                "WHERE x < 50000) INSERT INTO t SELECT x, x FROM c;",
                                NULL, NULL, NULL),
                   SQLITE_OK);
    sqlite3_close(db);
    T_CHECK_EQ_INT(store_db_check_ex(p, 0, &hooks, err, sizeof(err)), GW_ESTATE);
    T_CHECK(n == 3 && strstr(err, "interrupted") != NULL);
    n = -1000000;
    T_CHECK_EQ_INT(store_db_check_ex(p, 1, &hooks, err, sizeof(err)), 0);
    T_CHECK(n > -1000000); /* it was called */
    /* a rollback-journal writer holding an exclusive lock past the busy
     * timeout would take 5 s: a reserved lock lets the reader in */
    T_CHECK_EQ_INT(sqlite3_open(p, &db), SQLITE_OK);
    T_CHECK_EQ_INT(
        sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1, 2);", NULL, NULL, NULL),
        SQLITE_OK);
    T_CHECK_EQ_INT(store_db_check(p, err, sizeof(err)), 0);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
}

/* The open marker: absent, set (a file NAME.open, 0600), cleared. */
T_TEST(open_marker)
{
    char p[256], m[300], err[256] = "";
    struct stat sb;

    path_of(p, sizeof(p), "marked.db");
    snprintf(m, sizeof(m), "%s.open", p);
    T_CHECK_EQ_INT(store_marker_present(p), 0);
    T_CHECK_EQ_INT(store_marker_set(p, err, sizeof(err)), 0);
    T_CHECK_EQ_INT(store_marker_present(p), 1);
    T_CHECK(stat(m, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    T_CHECK_EQ_INT(store_marker_set(p, err, sizeof(err)), 0); /* again: fine */
    store_marker_clear(p);
    T_CHECK_EQ_INT(store_marker_present(p), 0);
    store_marker_clear(p); /* a missing one: fine */
    path_of(p, sizeof(p), "no-such-dir/x.db");
    T_CHECK_EQ_INT(store_marker_set(p, err, sizeof(err)), GW_EIO);
    T_CHECK(strstr(err, "x.db.open") != NULL);
}

T_TEST(quarantine_keeps_the_evidence)
{
    char p[256], wal[300], moved[512], moved2[512], w2[600], err[256] = "";
    struct stat sb;

    path_of(p, sizeof(p), "bad.db");
    write_bytes(p, 1000, 1);
    snprintf(wal, sizeof(wal), "%s-wal", p);
    write_bytes(wal, 100, 2);
    T_CHECK_EQ_INT(store_file_quarantine(p, moved, sizeof(moved), err, sizeof(err)), 0);
    T_CHECK(stat(p, &sb) != 0 && stat(wal, &sb) != 0);
    T_CHECK(strstr(moved, "bad.db.corrupt-") != NULL);
    T_CHECK(stat(moved, &sb) == 0 && sb.st_size == 1000);
    snprintf(w2, sizeof(w2), "%s-wal", moved);
    T_CHECK(stat(w2, &sb) == 0 && sb.st_size == 100);
    /* a second one within the same second gets its own name */
    write_bytes(p, 10, 3);
    T_CHECK_EQ_INT(store_file_quarantine(p, moved2, sizeof(moved2), err, sizeof(err)), 0);
    T_CHECK(strcmp(moved, moved2) != 0);
    T_CHECK(stat(moved2, &sb) == 0 && sb.st_size == 10);
}

T_TEST(private_modes)
{
    char p[256], wal[300], err[256] = "";
    struct stat sb;

    path_of(p, sizeof(p), "mode.db");
    make_db(p);
    chmod(p, 0644);
    snprintf(wal, sizeof(wal), "%s-wal", p);
    write_bytes(wal, 10, 4);
    chmod(wal, 0666);
    T_CHECK_EQ_INT(store_file_private(p, err, sizeof(err)), 0);
    T_CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    T_CHECK(stat(wal, &sb) == 0 && (sb.st_mode & 0777) == 0600);
}

int main(void)
{
    char cmd[300];

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(check_tells_sound_from_damaged);
    T_RUN(check_interrupted_full_and_locked);
    T_RUN(open_marker);
    T_RUN(quarantine_keeps_the_evidence);
    T_RUN(private_modes);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return t_done();
}
