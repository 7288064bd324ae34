/*
 * test_config_profiles.c: devices that name one profile share its points
 * table (gw_config_devices.c: loaded once per config, owned by the config),
 * and a device that changes its points (byte_order, point overrides, added
 * points) gets its own copy, leaving the shared table and the other devices
 * as they were; two profiles stay two tables; freeing the config frees each
 * once (ASan would see a double free or a leak).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config.h"
#include "ledger_testutil.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gw_config_t *load(const char *devices)
{
    char path[512];
    gw_config_t *cfg = NULL;
    gw_errlist_t el;
    FILE *f;

    snprintf(path, sizeof(path), "%s", lt_path("site.json"));
    f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f,
            "{\"site\": {\"id\": \"t\"}, \"state_dir\": \"%s\", \"profiles_dir\": \"%s\",\n"
            " \"mqtt\": {\"enabled\": false},\n"
            " \"buses\": [{\"name\": \"b\", \"type\": \"tcp\", \"host\": \"127.0.0.1\", "
            "\"port\": 1502}],\n"
            " \"devices\": [%s]}\n",
            lt_tmpdir(), PLANTROOM_SOURCE_DIR "/drivers/profiles", devices);
    fclose(f);
    gw_errlist_init(&el);
    if (gw_config_load(path, NULL, &cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            fprintf(stderr, "    %s\n", el.msgs[i]);
        cfg = NULL;
    }
    gw_errlist_free(&el);
    return cfg;
}

static const drv_point_t *point(const gw_device_cfg_t *d, const char *name)
{
    int i = gw_device_point_index(d, name);
    return i >= 0 ? &d->points[i] : NULL;
}

T_TEST(devices_of_a_profile_share_unless_they_change_it)
{
    gw_config_t *cfg = load(
        "{\"name\": \"lift-1\", \"bus\": \"b\", \"unit_id\": 1, \"profile\": \"elevator\"},\n"
        "{\"name\": \"lift-2\", \"bus\": \"b\", \"unit_id\": 2, \"profile\": \"elevator\"},\n"
        "{\"name\": \"lift-3\", \"bus\": \"b\", \"unit_id\": 3, \"profile\": \"elevator\",\n"
        "  \"byte_order\": \"CDAB\"},\n"
        "{\"name\": \"lift-4\", \"bus\": \"b\", \"unit_id\": 4, \"profile\": \"elevator\",\n"
        "  \"points\": [{\"name\": \"floor\", \"scale\": 2},\n"
        "             {\"name\": \"extra\", \"address\": 90, \"type\": \"uint16\"}]},\n"
        "{\"name\": \"tank-1\", \"bus\": \"b\", \"unit_id\": 5, \"profile\": \"tank_level\"},\n"
        "{\"name\": \"tank-2\", \"bus\": \"b\", \"unit_id\": 6, \"profile\": \"tank_level\"}");
    const gw_device_cfg_t *d;

    T_CHECK(cfg != NULL);
    if (!cfg)
        return;
    d = cfg->devices;
    T_CHECK(d[0].points_shared && d[1].points_shared && d[0].points == d[1].points);
    T_CHECK(d[4].points_shared && d[5].points_shared && d[4].points == d[5].points);
    T_CHECK(d[0].points != d[4].points);
    /* byte_order: its own copy, the others keep the profile's order */
    T_CHECK(!d[2].points_shared && d[2].points != d[0].points);
    T_CHECK_EQ_INT(d[2].npoints, d[0].npoints);
    T_CHECK_EQ_INT(point(&d[2], "door_cycles")->order, DRV_ORDER_CDAB);
    T_CHECK_EQ_INT(point(&d[0], "door_cycles")->order, DRV_ORDER_ABCD);
    T_CHECK_EQ_INT(point(&d[1], "door_cycles")->order, DRV_ORDER_ABCD);
    /* overrides and an added point: its own copy, the shared table as it was */
    T_CHECK(!d[3].points_shared && d[3].points != d[0].points);
    T_CHECK_EQ_INT(d[3].npoints, d[0].npoints + 1);
    T_CHECK(point(&d[3], "floor")->scale == 2.0);
    T_CHECK(point(&d[0], "floor")->scale == 1.0);
    T_CHECK(point(&d[3], "extra") != NULL && point(&d[0], "extra") == NULL);
    T_CHECK(point(&d[1], "extra") == NULL);
    gw_config_free(cfg);
}

int main(void)
{
    T_RUN(devices_of_a_profile_share_unless_they_change_it);
    lt_cleanup();
    return t_done();
}
