/*
 * fuzz_config.c: the site config loader (gateway/config/): each input is a
 * config file, loaded and validated whole (every section, the profiles it
 * names from the shipped profiles directory (reached as the bundled
 * config reaches it, ../drivers/profiles), point overrides and their
 * "write" keys, rules of every kind, hooks, commands and key files), then
 * freed. Checked: a config either loads or reports at least one error.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config.h"
#include "tests/fuzz/fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[128];
    gw_config_t *cfg = NULL;
    gw_errlist_t el;
    FILE *f;
    int rc;

    if (!path[0]) {
        /* <dir>/deploy/site.json with <dir>/drivers the source's: the
         * bundled config's "../drivers/profiles" then finds the profiles */
        char link[128];
        gw_log_set_level(GW_LOG_ERROR);
        snprintf(path, sizeof(path), "%s/deploy", fuzz_dir());
        snprintf(link, sizeof(link), "%s/drivers", fuzz_dir());
        if (mkdir(path, 0700) != 0 || symlink(FUZZ_SOURCE_DIR "/drivers", link) != 0)
            abort();
        snprintf(path, sizeof(path), "%s/deploy/site.json", fuzz_dir());
    }
    f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    gw_errlist_init(&el);
    rc = gw_config_load(path, NULL, &cfg, &el);
    if ((rc == 0) != (cfg != NULL) || (rc != 0 && el.n == 0))
        abort();
    gw_config_free(cfg);
    gw_errlist_free(&el);
    return 0;
}
