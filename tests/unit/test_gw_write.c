/*
 * test_gw_write.c: writes through the loop-side API (gw_writes_submit) and
 * the bus thread (mb_bus_write) against a real plantroom-sim: FC 06 on the
 * pump's control word (the simulated pump stops), FC 16 on a float32
 * setpoint, FC 05 and FC 15 on coils, a Modbus exception named, a timeout
 * from a silent device, and the refusals (read-only tables, points that do
 * not opt in to writes, below min, above max, bits a control word may not
 * set, NaN, 1e300, bit fields, unknown names), each audited and none sent
 * (the simulator's count of write requests does not move). The daemon's
 * queue is drained by hand, as the loop's async callback would.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "gateway/config/gw_config.h"
#include "gateway/core/gw_write.h"
#include "gateway/core/gw_runtime.h"
#include "t.h"

#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char dir[] = "/tmp/test_gw_write.XXXXXX";
static pid_t sim_pid;
static gw_queue_t q;

static int start_sim(void)
{
    char port_file[256], control[256], buf[16] = "";
    char writes[256];
    char *argv[] = {SIM_BIN, "--port",        "0",    "--port-file", port_file, "--control",
                    control, "--write-count", writes, NULL};

    snprintf(port_file, sizeof(port_file), "%s/port", dir);
    snprintf(control, sizeof(control), "%s/control", dir);
    snprintf(writes, sizeof(writes), "%s/writes", dir);
    if (posix_spawn(&sim_pid, SIM_BIN, NULL, NULL, argv, environ) != 0)
        return -1;
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fgets(buf, sizeof(buf), f) != NULL;
            fclose(f);
            if (ok)
                return atoi(buf);
        }
        usleep(20000);
    }
    return -1;
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* The simulator's count of write requests received (-1: unreadable). */
static int sim_writes(void)
{
    char path[256], buf[32] = "";
    FILE *f;

    snprintf(path, sizeof(path), "%s/writes", dir);
    f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    return buf[0] ? atoi(buf) : -1;
}

/* What the write path handed to the audit trail. */
static int audits, audit_refused;
static char audit_last[300];

static void on_audit(void *arg, const gw_write_record_t *r)
{
    (void)arg;
    audits++;
    audit_refused += r->id == 0;
    snprintf(audit_last, sizeof(audit_last), "%s/%s %s.%s new=%g old=%s id=%llu rc=%d %s",
             r->who->actor, r->who->channel, r->device, r->point, r->value,
             r->has_old ? "yes" : "none", (unsigned long long)r->id, r->rc, r->err ? r->err : "");
}

/* Results reported to the callback. */
static int cb_calls, cb_rc;
static char cb_err[128];
static uint64_t cb_id;

static void on_done(void *arg, uint64_t id, int rc, const char *err)
{
    (void)arg;
    cb_calls++;
    cb_rc = rc;
    cb_id = id;
    snprintf(cb_err, sizeof(cb_err), "%s", err);
}

/* Drain the queue as the loop would until a write result (returned) or a
 * reading of device dev taken after the write (copied into *words). */
static mb_write_t *wait_write(gw_writes_t *d)
{
    for (int i = 0; i < 100; i++) {
        gw_msg_t *list = gw_queue_wait_all(&q, 100), *m;
        mb_write_t *found = NULL;
        while ((m = list) != NULL) {
            list = m->next;
            if (m->kind == MB_EV_WRITE_DONE && !found) {
                gw_writes_done(d, (mb_write_t *)m);
                found = (mb_write_t *)m;
                continue;
            }
            gw_msg_free(m);
        }
        if (found)
            return found;
    }
    return NULL;
}

/* The next poll of device_id that answered (ok 1: n words from word off
 * copied to out) or that failed (ok 0: a silent device); 0 or -1. */
static int next_poll(int device_id, int ok, size_t off, uint16_t *out, size_t n)
{
    for (int i = 0; i < 100; i++) {
        gw_msg_t *list = gw_queue_wait_all(&q, 100), *m;
        int got = 0;
        while ((m = list) != NULL) {
            list = m->next;
            mb_reading_t *r = (mb_reading_t *)m;
            if (!got && m->kind == MB_EV_READING && r->device_id == device_id &&
                (r->rc == 0) == ok) {
                if (ok)
                    memcpy(out, r->words + off, n * sizeof(uint16_t));
                got = 1;
            }
            gw_msg_free(m);
        }
        if (got)
            return 0;
    }
    return -1;
}

static int next_reading(int device_id, size_t off, uint16_t *out, size_t n)
{
    return next_poll(device_id, 1, off, out, n);
}

static gw_runtime_t *rt;

static int do_write(gw_writes_t *d, const char *dev, const char *pt, double v, char *err)
{
    uint64_t id = 0;
    static const gw_write_who_t who = {"tester", "control", NULL, NULL};
    int rc = gw_writes_submit(d, rt, &who, dev, pt, v, on_done, NULL, &id, err, 200);
    if (rc != 0)
        return rc;
    mb_write_t *w = wait_write(d);
    T_CHECK(w != NULL);
    if (!w)
        return -9999;
    T_CHECK_EQ_INT(w->id, id);
    T_CHECK_EQ_INT(cb_id, id);
    gw_msg_free(&w->hdr);
    return cb_rc;
}

T_TEST(writes_end_to_end)
{
    char cfgtext[4096], path[256], err[200];
    gw_config_t *cfg = NULL;
    gw_errlist_t el;
    gw_writes_t writes = {0}, *d = &writes;
    uint16_t words[10];
    int port = start_sim();

    T_CHECK(port > 0);
    snprintf(cfgtext, sizeof(cfgtext),
             "{\"site\":{\"id\":\"t\"},\"state_dir\":\"%s\",\"profiles_dir\":\"%s\","
             "\"mqtt\":{\"enabled\":false},"
             "\"buses\":[{\"name\":\"sim\",\"host\":\"127.0.0.1\",\"port\":%d,\"timeout_ms\":300}],"
             "\"devices\":["
             "{\"name\":\"pump-1\",\"bus\":\"sim\",\"unit_id\":5,\"profile\":\"pump_drive_abb\","
             "\"interval_ms\":100,\"points\":[{\"name\":\"run\",\"address\":\"00001\","
             "\"write\":true},{\"name\":\"status_word\",\"write\":{\"min\":0,\"max\":65535}}]},"
             "{\"name\":\"pump-2\",\"bus\":\"sim\",\"unit_id\":6,\"profile\":\"pump_drive_abb\","
             "\"interval_ms\":100},"
             "{\"name\":\"meter\",\"bus\":\"sim\",\"unit_id\":3,\"interval_ms\":1000,"
             "\"points\":[{\"name\":\"v\",\"address\":\"30001\",\"type\":\"float32\"},"
             "{\"name\":\"alarm\",\"address\":\"10001\"}]}]}",
             dir, PROFILES_DIR, port);
    write_file("plantroom.json", cfgtext);
    snprintf(path, sizeof(path), "%s/plantroom.json", dir);
    gw_errlist_init(&el);
    T_CHECK_EQ_INT(gw_config_load(path, NULL, &cfg, &el), 0);
    for (size_t i = 0; i < el.n; i++)
        fprintf(stderr, "%s\n", el.msgs[i]);
    gw_errlist_free(&el);
    if (!cfg)
        return;
    T_CHECK_EQ_INT(gw_runtime_build(&rt, cfg, err, sizeof(err)), 0);
    gw_queue_init(&q, NULL, NULL);
    T_CHECK_EQ_INT(gw_runtime_start_buses(rt, &q, err, sizeof(err)), 0);

    /* refusals, before anything goes on the wire */
    d->audit = on_audit;
    T_CHECK_EQ_INT(sim_writes(), 0);
    T_CHECK_EQ_INT(gw_writes_submit(d, rt, NULL, "meter", "v", 1, on_done, NULL, NULL, err, 200),
                   GW_EINVAL);
    T_CHECK(strstr(err, "meter.v is read-only: an input register") != NULL);
    T_CHECK_EQ_INT(
        gw_writes_submit(d, rt, NULL, "meter", "alarm", 1, on_done, NULL, NULL, err, 200),
        GW_EINVAL);
    T_CHECK(strstr(err, "read-only: a discrete input") != NULL);
    T_CHECK_EQ_INT(
        gw_writes_submit(d, rt, NULL, "pump-1", "ready_on", 1, on_done, NULL, NULL, err, 200),
        GW_EPERM);
    T_CHECK(strstr(err, "bit field") != NULL);
    /* a holding register the profile does not open to writes */
    T_CHECK_EQ_INT(
        gw_writes_submit(d, rt, NULL, "pump-1", "current", 1, on_done, NULL, NULL, err, 200),
        GW_EPERM);
    T_CHECK(strstr(err, "current is not writable") != NULL);
    /* the control word: only the bits the profile lists */
    T_CHECK_EQ_INT(
        gw_writes_submit(d, rt, NULL, "pump-1", "control_word", 70000, NULL, NULL, NULL, err, 200),
        GW_EINVAL);
    T_CHECK(strstr(err, "sets bits outside the allowed 0x4ff") != NULL);
    T_CHECK_EQ_INT(
        gw_writes_submit(d, rt, NULL, "pump-1", "control_word", 0x0800, NULL, NULL, NULL, err, 200),
        GW_EINVAL);
    /* bounds, NaN and a huge number on the speed reference and the float32 setpoint */
    T_CHECK_EQ_INT(gw_writes_submit(d, rt, NULL, "pump-1", "speed_reference", -0.5, NULL, NULL,
                                    NULL, err, 200),
                   GW_EINVAL);
    T_CHECK(strstr(err, "below the minimum 0") != NULL);
    T_CHECK_EQ_INT(gw_writes_submit(d, rt, NULL, "pump-1", "speed_reference", 100.5, NULL, NULL,
                                    NULL, err, 200),
                   GW_EINVAL);
    T_CHECK(strstr(err, "above the maximum 100") != NULL);
    T_CHECK_EQ_INT(gw_writes_submit(d, rt, NULL, "pump-1", "pressure_setpoint", NAN, NULL, NULL,
                                    NULL, err, 200),
                   GW_EINVAL);
    T_CHECK(strstr(err, "not a finite number") != NULL);
    T_CHECK_EQ_INT(gw_writes_submit(d, rt, NULL, "pump-1", "pressure_setpoint", 1e300, NULL, NULL,
                                    NULL, err, 200),
                   GW_EINVAL);
    T_CHECK(strstr(err, "above the maximum 10") != NULL);
    T_CHECK_EQ_INT(gw_writes_submit(d, rt, NULL, "pump-1", "run", 2, NULL, NULL, NULL, err, 200),
                   GW_EINVAL);
    T_CHECK_EQ_INT(gw_writes_submit(d, rt, NULL, "pump-9", "x", 1, NULL, NULL, NULL, err, 200),
                   GW_ENOENT);
    T_CHECK_EQ_INT(gw_writes_submit(d, rt, NULL, "pump-1", "x", 1, NULL, NULL, NULL, err, 200),
                   GW_ENOENT);
    T_CHECK_EQ_INT(cb_calls, 0);
    /* each refusal audited, none sent */
    T_CHECK_EQ_INT(audits, 13);
    T_CHECK_EQ_INT(audit_refused, 13);
    T_CHECK(strstr(audit_last, "unknown/internal pump-1.x") != NULL);
    T_CHECK_EQ_INT(sim_writes(), 0);

    /* FC 06: stop the pump; the simulated drive reports it stopped */
    T_CHECK_EQ_INT(do_write(d, "pump-1", "control_word", 0x0476, err), 0);
    T_CHECK_EQ_INT(cb_calls, 1);
    T_CHECK_EQ_INT(sim_writes(), 1);
    /* the result: who and the new value (no core here decodes an old one) */
    T_CHECK_EQ_INT(audits, 14);
    T_CHECK(strstr(audit_last, "tester/control pump-1.control_word new=1142 old=none") != NULL);
    T_CHECK(strstr(audit_last, " rc=0") != NULL);
    T_CHECK_EQ_INT(d->n, 0);
    /* pump-1's plan: its coil first, then holding 0..9 */
    size_t hold = 0;
    for (size_t b = 0; b < rt->devs[0].nblocks; b++) {
        if (rt->devs[0].blocks[b].table == MB_TABLE_HOLDING)
            hold = rt->devs[0].blocks[b].offset;
    }
    T_CHECK_EQ_INT(hold, 1);
    /* the simulated drive stops at its next tick: readings until one shows it */
    int stopped = 0;
    for (int i = 0; i < 50 && !stopped && next_reading(0, hold, words, 10) == 0; i++)
        stopped = words[0] == 0x0476 && (words[3] & 0x4) == 0 && words[4] == 0;
    T_CHECK(stopped);
    T_CHECK_EQ_INT(words[0], 0x0476);
    T_CHECK_EQ_INT(words[3] & 0x4, 0); /* not at reference: stopped */
    T_CHECK_EQ_INT(words[4], 0);       /* speed 0 */

    /* FC 16: a float32 setpoint, read back */
    T_CHECK_EQ_INT(do_write(d, "pump-1", "pressure_setpoint", 5.25, err), 0);
    T_CHECK_EQ_INT(next_reading(0, hold, words, 10), 0);
    T_CHECK_EQ_INT(words[8], 0x40a8); /* 5.25f = 0x40a80000 */
    T_CHECK_EQ_INT(words[9], 0x0000);

    /* FC 05: a coil */
    T_CHECK_EQ_INT(do_write(d, "pump-1", "run", 1, err), 0);

    /* a register the drive does not let us write: exception 02 by name */
    T_CHECK_EQ_INT(do_write(d, "pump-1", "status_word", 1, err), GW_EPROTO);
    T_CHECK_STR(cb_err, "illegal data address");

    /* FC 15 straight through the bus API */
    mb_write_t *w = mb_write_new(3);
    w->id = 777;
    w->unit_id = 5;
    w->table = MB_TABLE_COIL;
    w->multiple = 1;
    w->addr = 4;
    w->values[0] = w->values[2] = 1;
    T_CHECK_EQ_INT(mb_bus_write(rt->buses[0], w), 0);
    w = wait_write(d);
    T_CHECK(w && w->id == 777 && w->rc == 0);
    if (w)
        gw_msg_free(&w->hdr);
    w = mb_write_new(0);
    T_CHECK_EQ_INT(mb_bus_write(rt->buses[0], w), GW_EINVAL); /* count 0 */

    /* a silent device: the write times out, its neighbour is unaffected */
    write_file("control", "pump-2.fault=silent\n");
    T_CHECK_EQ_INT(next_poll(1, 0, 0, NULL, 0), 0); /* the simulator has read its control file */
    T_CHECK_EQ_INT(do_write(d, "pump-2", "control_word", 0x047f, err), GW_ETIMEDOUT);
    T_CHECK_EQ_INT(do_write(d, "pump-1", "control_word", 0x047f, err), 0);

    gw_runtime_stop_buses(rt);
    gw_msg_free_list(gw_queue_take_all(&q));
    gw_queue_destroy(&q);
    gw_writes_free(d);
    gw_runtime_free(rt);
}

int main(void)
{
    int status = 0;

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(writes_end_to_end);
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, &status, 0);
        T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return t_done();
}
