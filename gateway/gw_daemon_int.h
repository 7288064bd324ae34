/*
 * gw_daemon_int.h: the daemon's state, shared by the files of the loop
 * thread (gw_daemon.c lifecycle and reload, gw_poll.c readings, gw_rules.c
 * rule actions, gw_north.c MQTT session and publishing). Everything here is
 * owned and touched by the loop thread only.
 */
#ifndef PLANTROOM_GW_DAEMON_INT_H
#define PLANTROOM_GW_DAEMON_INT_H

#include "gateway/gw_daemon.h"
#include "gateway/gw_runtime.h"
#include "protocols/mqtt/mq.h"
#include "store/ledger_worker.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <uv.h>

struct gw_daemon {
    uv_loop_t loop;
    uv_async_t wake;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t mq_timer;
    gw_queue_t inq;
    gw_config_overrides_t ov;
    char state_dir_ov[PATH_MAX];

    gw_runtime_t *rt;
    ledger_worker_t *ledger;
    mq_client_t *mq;
    int mq_backoff_ms;
    int mq_failures; /* consecutive failed connects, for log throttling */
    int stopping;

    int64_t *inflight; /* outbox ids published, not yet acknowledged */
    size_t ninflight, capinflight;
    uint64_t telemetry_sent, telemetry_dropped;

    /* gw_write.c: Modbus writes queued to bus threads, awaiting results */
    struct gw_write_pending *writes;
    size_t nwrites, capwrites;
    uint64_t write_seq;
};

/* gw_north.c: MQTT session, publishing, outbox delivery */
void gw__topic(const gw_daemon_t *d, char *buf, size_t len, const char *suffix);
void gw__publish_json(gw_daemon_t *d, const char *suffix, cJSON *obj, int qos, int retain);
void gw__publish_gateway_status(gw_daemon_t *d, const char *status);
void gw__publish_device_status(gw_daemon_t *d, const gw_device_rt_t *dev);
void gw__publish_telemetry(gw_daemon_t *d, const gw_device_rt_t *dev, int64_t ts_ms);
int gw__mq_start(gw_daemon_t *d, char *err, size_t errlen);
void gw__mq_stop(gw_daemon_t *d);
void gw__on_mq_event(gw_daemon_t *d, gw_msg_t *m);
void gw__on_ledger_event(gw_daemon_t *d, gw_msg_t *m);

/* gw_rules.c: run a device's rules on its latest samples */
void gw__run_rules(gw_daemon_t *d, uint32_t device_idx);

/* gw_poll.c: Modbus readings into samples, device online/offline */
void gw__on_reading(gw_daemon_t *d, const mb_reading_t *r);
void gw__on_bus_state(gw_daemon_t *d, const mb_bus_state_t *s);

/* gw_write.c: writes to Modbus points (FC 05/06/15/16), results async.
 * gw__point_write checks and queues a write of an engineering value to a
 * coil or holding-register point; it refuses read-only points (discrete
 * inputs, input registers), bit fields, strings and out-of-range values
 * with a reason in err. Returns 0 with *id_out set (may be NULL), or
 * GW_ENOENT / GW_EINVAL / GW_ESTATE / GW_ENOMEM. On 0, cb (may be NULL) is
 * called exactly once on the loop thread with the result: rc 0, or
 * GW_ETIMEDOUT, GW_EIO, GW_EPROTO (err names the Modbus exception),
 * GW_ESTATE (bus stopped first, e.g. by a reload); never if the daemon
 * is destroyed first. */
typedef void (*gw_write_cb)(gw_daemon_t *d, uint64_t id, int rc, const char *err, void *arg);
int gw__point_write(gw_daemon_t *d, const char *device, const char *point, double value,
                    gw_write_cb cb, void *arg, uint64_t *id_out, char *err, size_t errlen);
void gw__on_write_done(gw_daemon_t *d, const mb_write_t *w);
void gw__writes_free(gw_daemon_t *d);

#endif
