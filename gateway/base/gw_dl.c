/*
 * gw_dl.c: optional libraries loaded at first use (gw_dl.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/base/gw_dl.h"

#include <dlfcn.h>
#include <stdio.h>

void *gw_dl_load(const char *soname, const char *package, const char *what,
                 const char *const *names, size_t n, void **syms, char *err, size_t errlen)
{
    void *dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

    if (!dl) {
        snprintf(err, errlen, "%s: %s (Debian package %s) cannot be loaded: %s", what, soname,
                 package, dlerror());
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        syms[i] = dlsym(dl, names[i]);
        if (!syms[i]) {
            snprintf(err, errlen, "%s: %s has no %s", what, soname, names[i]);
            dlclose(dl);
            return NULL;
        }
    }
    return dl;
}
