/*
 * test_gw_dl.c: optional libraries loaded at first use (gateway/base/gw_dl.c):
 * a library that is there fills the table; one that is missing, or that
 * lacks a function, is an error naming the library, its Debian package and
 * the feature, with nothing left open.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_dl.h"
#include "t.h"

#include <dlfcn.h>
#include <string.h>

T_TEST(a_present_library_fills_the_table)
{
    static const char *const names[] = {"cos", "sqrt"};
    void *syms[2] = {NULL, NULL};
    char err[256] = "";
    double (*fn)(double);
    void *dl = gw_dl_load("libm.so.6", "libc6", "test (maths)", names, 2, syms, err, sizeof(err));

    T_CHECK(dl != NULL);
    T_CHECK(syms[0] != NULL && syms[1] != NULL);
    memcpy(&fn, &syms[1], sizeof(fn));
    T_CHECK(fn(16.0) == 4.0);
    T_CHECK_STR(err, "");
    dlclose(dl);
}

T_TEST(a_missing_library_names_its_package)
{
    static const char *const names[] = {"x"};
    void *syms[1];
    char err[256];

    T_CHECK(gw_dl_load("libplantroom-nowhere.so.9", "libnowhere9", "http (webhooks)", names, 1,
                       syms, err, sizeof(err)) == NULL);
    T_CHECK(strstr(err, "http (webhooks): libplantroom-nowhere.so.9 (Debian package "
                        "libnowhere9) cannot be loaded: ") == err);
}

T_TEST(a_missing_function_is_named)
{
    static const char *const names[] = {"cos", "plantroom_no_such_function"};
    void *syms[2];
    char err[256];

    T_CHECK(gw_dl_load("libm.so.6", "libc6", "test (maths)", names, 2, syms, err, sizeof(err)) ==
            NULL);
    T_CHECK_STR(err, "test (maths): libm.so.6 has no plantroom_no_such_function");
}

int main(void)
{
    T_RUN(a_present_library_fills_the_table);
    T_RUN(a_missing_library_names_its_package);
    T_RUN(a_missing_function_is_named);
    return t_done();
}
