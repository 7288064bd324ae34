/*
 * fuzz_util.c: the fuzz targets' shared config, clock and input reader
 * (fuzz_util.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tests/fuzz/fuzz_util.h"
#include "gateway/base/gw_clock.h"

#include <cjson/cJSON.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz__dirbuf[64];
static char fuzz__cfg_path[128];

static int fuzz__rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* The scratch directory goes with the process. */
static void fuzz__cleanup(void)
{
    if (fuzz__dirbuf[0])
        nftw(fuzz__dirbuf, fuzz__rm, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_dir(void)
{
    if (!fuzz__dirbuf[0]) {
        /* tmpfs when there is one: the targets rewrite files on every input */
        snprintf(fuzz__dirbuf, sizeof(fuzz__dirbuf), "%s/plantroom-fuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(fuzz__dirbuf)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz__cleanup);
    }
    return fuzz__dirbuf;
}

/* What the fuzz config adds to deploy/plantroom.json. */
static const char fuzz__extra[] =
    "{\"nbiot\":{\"topics\":[\"nb/#\"],\"devices\":["
    "{\"name\":\"water-1\",\"format\":\"ctwing\",\"id\":\"d013\",\"report_period_s\":60,"
    "\"points\":[{\"name\":\"volume\",\"pointer\":\"/payload/serviceData/v\"},"
    "{\"name\":\"leak\",\"pointer\":\"/payload/serviceData/leak\"},"
    "{\"name\":\"arr\",\"pointer\":\"/payload/a/2\"},{\"name\":\"esc\",\"pointer\":\"/p~1q/"
    "~0r\"}]},"
    "{\"name\":\"temp-1\",\"format\":\"onenet\",\"id\":\"555\",\"report_period_s\":60,"
    "\"points\":[{\"name\":\"t\",\"path\":\"3303_0_5700\"}]}]},"
    "\"rules_more\":["
    "{\"name\":\"leak\",\"device\":\"water-1\",\"point\":\"leak\",\"kind\":\"state\","
    "\"equals\":1,\"title\":\"leak\"},"
    "{\"name\":\"flow\",\"device\":\"water-1\",\"point\":\"volume\",\"kind\":\"rate\","
    "\"above\":10,\"window_ms\":60000,\"per\":\"hour\",\"title\":\"flow\"},"
    "{\"name\":\"vol\",\"device\":\"water-1\",\"point\":\"volume\",\"kind\":\"counter\","
    "\"limit\":1000,\"wrap\":4294967296,\"title\":\"vol\"},"
    "{\"name\":\"cold\",\"device\":\"temp-1\",\"point\":\"t\",\"kind\":\"anomaly\","
    "\"direction\":\"below\",\"title\":\"cold\"},"
    "{\"name\":\"quiet\",\"device\":\"temp-1\",\"point\":\"t\",\"kind\":\"stale\","
    "\"after_ms\":5000,\"title\":\"quiet\"},"
    "{\"name\":\"tripped-bit\",\"device\":\"pump-1\",\"point\":\"status_word\",\"kind\":\"state\","
    "\"bit\":3,\"title\":\"tripped\"},"
    "{\"name\":\"current-wear\",\"device\":\"pump-1\",\"point\":\"current\",\"kind\":\"trend\","
    "\"iso10816\":\"10816-1:I\",\"horizon_days\":15,\"day_ms\":3600000,\"learn_n\":5,"
    "\"title\":\"wear\"}]}";

/* deploy/plantroom.json, pointed at the scratch directory, with the extras. */
static char *fuzz__config_text(void)
{
    FILE *f = fopen(FUZZ_SOURCE_DIR "/deploy/plantroom.json", "rb");
    static char buf[65536];
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    cJSON *root, *extra, *it, *mq, *cmds, *snd, *rules;
    char key[256];
    char *text;

    if (f)
        fclose(f);
    buf[n] = '\0';
    root = cJSON_Parse(buf);
    extra = cJSON_Parse(fuzz__extra);
    if (!root || !extra)
        abort();
    cJSON_ReplaceItemInObject(root, "state_dir", cJSON_CreateString(fuzz_dir()));
    cJSON_ReplaceItemInObject(root, "profiles_dir",
                              cJSON_CreateString(FUZZ_SOURCE_DIR "/drivers/profiles"));
    cJSON_DeleteItemFromObject(root, "report");
    cJSON_AddItemToObject(root, "nbiot", cJSON_DetachItemFromObject(extra, "nbiot"));
    rules = cJSON_GetObjectItem(root, "rules");
    while ((it = cJSON_DetachItemFromArray(cJSON_GetObjectItem(extra, "rules_more"), 0)))
        cJSON_AddItemToArray(rules, it);
    snprintf(key, sizeof(key), "%s/alice.key", fuzz_dir());
    f = fopen(key, "w");
    if (!f)
        abort();
    fputs(FUZZ_KEY "\n", f);
    fclose(f);
    mq = cJSON_GetObjectItem(root, "mqtt");
    cJSON_AddNumberToObject(mq, "version", 5);
    cJSON_ReplaceItemInObject(mq, "version", cJSON_CreateString("5"));
    cmds = cJSON_AddObjectToObject(mq, "commands");
    cJSON_AddTrueToObject(cmds, "enabled");
    cJSON_AddNumberToObject(cmds, "replay_window_s", 60);
    it = cJSON_AddArrayToObject(cmds, "senders");
    snd = cJSON_Parse("{\"name\":\"alice\",\"allow\":[\"ack\",\"assign\",\"start\",\"resolve\","
                      "\"setpoint\"]}");
    cJSON_AddStringToObject(snd, "hmac_key_file", key);
    cJSON_AddItemToArray(it, snd);
    cJSON_AddItemToArray(it, cJSON_Parse("{\"name\":\"ops\",\"allow\":[\"setpoint\",\"ack\"]}"));
    cJSON_AddItemToObject(
        mq, "buffer", cJSON_Parse("{\"memory_messages\":8,\"max_messages\":64,\"flush_ms\":0}"));
    text = cJSON_Print(root);
    cJSON_Delete(root);
    cJSON_Delete(extra);
    return text;
}

gw_config_t *fuzz_config(void)
{
    gw_config_t *cfg = NULL;
    gw_errlist_t el;

    if (!fuzz__cfg_path[0]) {
        char *text = fuzz__config_text();
        FILE *f;
        snprintf(fuzz__cfg_path, sizeof(fuzz__cfg_path), "%s/plantroom.json", fuzz_dir());
        f = fopen(fuzz__cfg_path, "w");
        if (!f || !text)
            abort();
        fputs(text, f);
        fclose(f);
        free(text);
    }
    gw_errlist_init(&el);
    if (gw_config_load(fuzz__cfg_path, NULL, &cfg, &el) != 0) {
        for (size_t i = 0; i < el.n; i++)
            fprintf(stderr, "fuzz config: %s\n", el.msgs[i]);
        abort();
    }
    gw_errlist_free(&el);
    return cfg;
}

static int64_t *fuzz__offset;

static int64_t fuzz__wall(void *arg)
{
    (void)arg;
    return FUZZ_NOW_MS + *fuzz__offset;
}

static int64_t fuzz__mono(void *arg)
{
    (void)arg;
    return *fuzz__offset;
}

void fuzz_clock_pin(int64_t *offset)
{
    static gw_clock_t clk = {.mono_ms = fuzz__mono, .wall_ms = fuzz__wall};

    fuzz__offset = offset;
    gw_clock_set(&clk);
}

uint8_t fuzz_byte(fuzz_in_t *in)
{
    uint8_t b;

    if (!in->n)
        return 0;
    b = in->p[0];
    in->p++;
    in->n--;
    return b;
}

uint16_t fuzz_u16(fuzz_in_t *in)
{
    uint16_t lo = fuzz_byte(in);
    return (uint16_t)(lo | (uint16_t)fuzz_byte(in) << 8);
}

uint32_t fuzz_u32(fuzz_in_t *in)
{
    uint32_t lo = fuzz_u16(in);
    return lo | (uint32_t)fuzz_u16(in) << 16;
}

uint64_t fuzz_u64(fuzz_in_t *in)
{
    uint64_t lo = fuzz_u32(in);
    return lo | (uint64_t)fuzz_u32(in) << 32;
}

const uint8_t *fuzz_piece(fuzz_in_t *in, size_t *len)
{
    static const char sep[] = "\n~~\n";
    const uint8_t *start = in->p;
    size_t i;

    if (!in->n)
        return NULL;
    for (i = 0; i + 4 <= in->n; i++) {
        if (memcmp(in->p + i, sep, 4) == 0) {
            *len = i;
            in->p += i + 4;
            in->n -= i + 4;
            return start;
        }
    }
    *len = in->n;
    in->p += in->n;
    in->n = 0;
    return start;
}
