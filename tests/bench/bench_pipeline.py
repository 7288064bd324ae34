#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The full pipeline beside the bare libmodbus loop, in one run.

  tests/bench/bench_pipeline.py --bin build-rel/bin [--lib build-rel/tests/bench]
        [--before-bin DIR] [--loads 100x100@1000,50x250@200,200x100@1000]
        [--seconds 60] [--rounds 2] [--buses 2] [--cpus none,1]
        [--closes align|skip|any] [--no-alloc] [--smoke]

For each load K devices x P registers every I ms (uint16 holding registers,
read in requests of at most 125, as plantroomd plans them), against one
plantroom-sim --bench K:

  bare   mb_bare: the same reads at the same pace, nothing else;
  poll   plantroomd with MQTT off: bus threads, hand-off, decoding, quality,
         rollups and the ledger, liveness, the service tick;
  full   plantroomd publishing telemetry on every poll (on_change false,
         QoS 0) to a real mosquitto started here.

With --before-bin, plantroomd of another build (say, the last release)
runs poll and full too, in the same rounds, so that before and after meet
the same machine load. The devices share one profile of P points, as a
building's devices share their models' profiles.

CPU is the process's CPU time over the window (the sum of every thread's
/proc/PID/task/*/schedstat, in ns; getrusage for mb_bare), after a warm-up.
--cpus gives CPU modes measured in every round (default none, unpinned):
in a mode of a CPU list the simulator, mb_bare, every thread of plantroomd
and mosquitto run on those CPUs only (inherited at the spawn, moved with
sched_setaffinity between windows; Cpus_allowed_list of every thread
checked in /proc at the window's end). A daemon side starts once a round
and is measured in each mode in turn (the first mode alternates between
rounds); mb_bare starts once a mode. On a 2-vCPU VM a thread woken from
the other CPU costs far more than one woken on its own; pinned windows
leave that out.
Every point's 1-minute rollup bucket closes just after each wall-clock
minute (every bucket goes to the ledger then). --closes align (default):
a daemon's window opens where both its edges are clear of a close and it
takes in as few closes as its length allows (60 s: one; 30 s: none), so
that every side's window holds as many (the "closes" column). --closes
skip: the window's clock stops over each close zone (2 s before to 8 s
after a minute mark) and the window is the sum of the segments between,
without waiting; what each zone cost above the clear seconds' rate is
printed apart ("minute close", with the ratio it adds at one close a
minute). --closes any (--no-align) opens at once. "faults/s": the
daemon's minor page faults a second in the window (median), each a costly
exit on a virtual machine. Requests and
registers are counted by the simulator. Printed per load: CPU per request
of each side, the median and the worst window over the rounds, its ratio
to the bare loop of the same round (median, worst), points/s, peak RSS (VmHWM)
in the window, the largest anonymous RSS seen (RssAnon, sampled), and the
peak RSS of the start (config, plans, first polls: VmHWM after the
warm-up). The window's peak starts from the RSS at its start (VmHWM reset
through /proc/PID/clear_refs after the status query that opens it; a
status query of a large site renders every point and costs a transient of
its own, see docs/performance.md). Then where the CPU goes: each side's
CPU by thread (the loop, the bus threads, paho's send and receive threads,
the ledger, the rest), ms a second, the median and the worst over the
rounds, and the medians per request (bare: its reading threads under
"bus", its start and main thread under "other"); each thread's CPU and
wake-ups a second in the last round; for the full sides, what the spool
thread wrote in a window (/proc/PID/task/*/io: none while the broker
reads) and the telemetry buffered or skipped while connected (the broker
not keeping up); and a line per target (poll at most 1.5x bare, full at
most 3x) saying met or not on the median and on the worst window. Unless --no-alloc, poll and full run once more (in the
first CPU mode) under an LD_PRELOAD allocation counter
(libmalloc_count.so, tests/bench/malloc_count.c) and print heap
allocations per poll, by the library that asked (plantroomd itself, paho,
cJSON, SQLite, libc's own strdup/stdio, other): the counter's window over
the polls the loop took in over the same window (status queried just
before the counter's first read and just after its last), with the check
beside it (over the polls the simulator served in the window: its
requests over the requests per poll). At the end a
summary of every load, mode and side, and the targets again. The expected
duration is printed at the start.

--smoke runs one short round of one small load, pinned to one CPU, and
checks that every part ran (the simulator answered, the daemon polled and
published, the counter counted, every thread stayed on the CPU and moved
when told); it asserts nothing about speed (ctest bench_pipeline_smoke).
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

CLASSES = ["plantroomd", "paho", "cjson", "sqlite", "libc", "other"]
ALL_CPUS = os.sched_getaffinity(0)  # --cpus none: what this script was given


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    sys.exit(f"bench_pipeline: timed out waiting for {what}")


class Sim:
    def __init__(self, bindir, tmp, k, cpus=None):
        self.tmp = tmp
        self.log_path = os.path.join(tmp, "sim.log")
        port_file = os.path.join(tmp, "sim.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.log = open(self.log_path, "w")
        self.p = spawn(cpus, [os.path.join(bindir, "plantroom-sim"), "--port", "0",
                              "--port-file", port_file, "--bench", str(k)],
                       stdout=self.log, stderr=subprocess.STDOUT)
        self.port = int(wait_for(lambda: os.path.exists(port_file) and open(port_file).read(),
                                 10, "plantroom-sim"))
        self.reports = 0

    def counters(self):
        """(requests, registers) served so far (SIGUSR1 makes it report)."""
        self.reports += 1
        self.p.send_signal(signal.SIGUSR1)

        def found():
            f = re.findall(r"served (\d+) read requests, (\d+) registers",
                           open(self.log_path).read())
            return f if len(f) >= self.reports else None
        f = wait_for(found, 10, "the simulator's counters", step=0.002)
        return int(f[self.reports - 1][0]), int(f[self.reports - 1][1])

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(10)
        self.log.close()


def start_broker(tmp):
    port = free_port()
    conf = os.path.join(tmp, "mosquitto.conf")
    user = "user root\n" if os.geteuid() == 0 else ""
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n{user}")
    p = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return False
    wait_for(up, 10, "mosquitto")
    return p, port


def cpu_ns(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def threads(pid):
    """CPU ns and voluntary context switches (wake-ups) by thread kind: the
    loop (the main thread), the bus threads, and the others by name."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = open(f"/proc/{pid}/task/{t}/comm").read().strip()
            ns = int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
            vol = int(re.search(r"voluntary_ctxt_switches:\s+(\d+)",
                                open(f"/proc/{pid}/task/{t}/status").read()).group(1))
        except (OSError, ValueError, AttributeError):
            continue
        name = "loop" if t == str(pid) else "bus" if comm == "plantroomd" else comm
        v = out.setdefault(name, [0, 0, 0])
        v[0], v[1], v[2] = v[0] + ns, v[1] + vol, v[2] + 1
    return out


def threads_line(t0, t1, seconds):
    parts = []
    for name in sorted(t1, key=lambda n: -(t1[n][0] - t0.get(n, [0, 0, 0])[0])):
        a, b = t0.get(name, [0, 0, 0]), t1[name]
        n = f"{name} x{b[2]}" if b[2] > 1 else name
        parts.append(f"{n} {(b[0] - a[0]) / 1e6 / seconds:.2f} ms/s, "
                     f"{(b[1] - a[1]) / seconds:.0f} wake-ups/s")
    return "; ".join(parts)


# thread kinds in the per-thread table, by what threads() names them
KINDS = [("loop", "loop"), ("bus", "bus"), ("MQTTAsync_send", "paho send"),
         ("MQTTAsync_rcv", "paho rcv"), ("ledger", "ledger")]


def thread_ms(t0, t1, seconds):
    """CPU ms a second by thread kind (KINDS, the rest as "other")."""
    out = {label: 0.0 for _, label in KINDS + [("", "other")]}
    labels = dict(KINDS)
    for name, b in t1.items():
        ms = (b[0] - t0.get(name, [0, 0, 0])[0]) / 1e6 / seconds
        out[labels.get(name, "other")] += ms
    return out


def spool_io(pid):
    """(bytes, write calls) of the spool thread so far (/proc/PID/task/*/io,
    the thread named "spool"): telemetry store-and-forward on disk."""
    wchar = syscw = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            if open(f"/proc/{pid}/task/{t}/comm").read().strip() != "spool":
                continue
            io = dict(line.split(": ") for line in open(f"/proc/{pid}/task/{t}/io").read().split("\n")
                      if ": " in line)
            wchar, syscw = wchar + int(io["wchar"]), syscw + int(io["syscw"])
        except (OSError, ValueError, KeyError):
            pass
    return wchar, syscw


def stalled_counts(st):
    """Telemetry buffered while connected (the broker not reading) and
    skipped, so far (0 for builds that do not count them)."""
    q = st.get("mqtt", {}).get("client_queue", {})
    return q.get("telemetry_buffered", 0), q.get("telemetry_skipped", 0)


def minflt(pid):
    """Minor page faults of the process so far (/proc/PID/stat)."""
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[7])


def mem_kb(pid):
    st = open(f"/proc/{pid}/status").read()
    hwm = int(re.search(r"VmHWM:\s+(\d+)", st).group(1))
    anon = int(re.search(r"RssAnon:\s+(\d+)", st).group(1))
    return hwm, anon


def reset_hwm(pid):
    """Start VmHWM again from the RSS now (/proc/PID/clear_refs, 5): the
    window's peak then leaves out the start and the status query before."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def read_counts(path):
    data = open(path, "rb").read()
    vals = struct.unpack(f"<{2 * len(CLASSES)}Q", data[:16 * len(CLASSES)])
    return [vals[2 * i] for i in range(len(CLASSES))]


def config(args, tmp, load, sim_port, broker_port):
    """The site: K devices of one profile (a device model) of P registers,
    as a building's config names its devices' models."""
    k, p, iv = load
    profile = os.path.join(tmp, f"bench{p}.json")
    json.dump({"profile": f"bench{p}", "points": [{"name": f"p{i}", "address": i}
                                                  for i in range(p)]}, open(profile, "w"))
    cfg = {
        "site": {"id": "bench"}, "log": {"level": "warn"}, "state_dir": os.path.join(tmp, "state"),
        "mqtt": {"enabled": False},
        "buses": [{"name": f"b{i}", "host": "127.0.0.1", "port": sim_port, "timeout_ms": 1000}
                  for i in range(args.buses)],
        "devices": [{"name": f"dev-{u}", "bus": f"b{(u - 1) % args.buses}", "unit_id": u,
                     "interval_ms": iv, "profile": profile}
                    for u in range(1, k + 1)],
        "rules": [],
    }
    if broker_port:
        cfg["mqtt"] = {"enabled": True, "uri": f"tcp://127.0.0.1:{broker_port}",
                       "telemetry": {"on_change": False, "qos": 0}}
    path = os.path.join(tmp, "bench.json")
    json.dump(cfg, open(path, "w"))
    return path


def status(dbin, cfg_path):
    out = subprocess.run([os.path.join(dbin, "plantroomctl"), "--config", cfg_path, "status",
                          "--json"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        sys.exit(f"bench_pipeline: plantroomctl status: {out.stderr.strip()}")
    return json.loads(out.stdout)


def polls_of(st):
    return sum(d["polls"] for d in st["devices"])


# Every point's 1-minute rollup bucket closes when the first reading of a
# new wall-clock minute arrives, and the closed buckets go to the ledger over
# the next seconds: a window that takes in one close more than another side's
# costs that side up to ~1x bare more at 100 req/s. Windows open where their
# edges are clear of the closes and take in as few as their length allows.
CLOSE_ZONE = (-2.0, 8.0)  # seconds around a minute mark where a close may be under way


def in_close_zone(t):
    r = t % 60
    return r >= 60 + CLOSE_ZONE[0] or r < CLOSE_ZONE[1]


def minute_closes(start, seconds):
    """Minute marks (wall clock) inside the window [start, start + seconds]."""
    return max(0, math.floor((start + seconds) / 60) - math.floor(start / 60))


def aligned_start(now, seconds):
    """The first wall-clock time >= now where a window of seconds has both
    edges clear of a minute's close and takes in seconds // 60 closes (one
    more when no start gives that: a window of 55 s)."""
    for want in (int(seconds // 60), int(seconds // 60) + 1):
        for i in range(1200):
            t = now + i * 0.1
            if (not in_close_zone(t) and not in_close_zone(t + seconds)
                    and minute_closes(t, seconds) == want):
                return t
    return now


def wait_until(wall):
    time.sleep(max(0.0, wall - time.time()))


def parse_cpus(spec):
    """--cpus: modes separated by commas, each "none" (the CPUs this script
    may use) or a CPU list with '-' ranges and '+' between parts ("1",
    "0-1", "0+2"). Returns [(label, set of CPUs or None)]."""
    modes = []
    for m in spec.split(","):
        m = m.strip()
        if m == "none":
            modes.append(("none", None))
            continue
        cpus = set()
        for part in m.split("+"):
            lo, _, hi = part.partition("-")
            try:
                cpus.update(range(int(lo), int(hi or lo) + 1))
            except ValueError:
                sys.exit(f"bench_pipeline: --cpus: bad '{m}'")
        if not cpus <= os.sched_getaffinity(0):
            sys.exit(f"bench_pipeline: --cpus: {m} is not among the CPUs this script may use "
                     f"({sorted(os.sched_getaffinity(0))})")
        modes.append((m, cpus))
    return modes


def parse_cpulist(s):
    """The kernel's Cpus_allowed_list ("0-1", "1", "0,2-3") as a set."""
    out = set()
    for part in s.strip().split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def want_cpus(cpus):
    return cpus if cpus is not None else ALL_CPUS


def pin(pid, cpus, what):
    """Every thread of pid on cpus (None: every CPU this script may use),
    checked in /proc/PID/task/TID/status (Cpus_allowed_list)."""
    want = want_cpus(cpus)
    for _ in range(3):  # a thread started by one not yet moved is moved the next time
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                os.sched_setaffinity(int(t), want)
            except (ProcessLookupError, FileNotFoundError):
                pass
        if check_pinned(pid, cpus, what, fatal=False):
            return
    check_pinned(pid, cpus, what)


def check_pinned(pid, cpus, what, fatal=True):
    """How many threads pid has, each on cpus (/proc/PID/task/TID/status,
    Cpus_allowed_list); if one is not: exit (fatal) or 0."""
    want = want_cpus(cpus)
    n = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            st = open(f"/proc/{pid}/task/{t}/status").read()
        except OSError:
            continue
        got = parse_cpulist(re.search(r"Cpus_allowed_list:\s+(\S+)", st).group(1))
        if got != want:
            if not fatal:
                return 0
            sys.exit(f"bench_pipeline: {what} thread {t}: Cpus_allowed_list {sorted(got)}, "
                     f"not {sorted(want)}")
        n += 1
    return n


def spawn(cpus, *a, **kw):
    """subprocess.Popen started on cpus (None: every CPU this script may
    use): this thread's affinity, which the child inherits, set around the
    spawn. Not preexec_fn: that makes Python fork, and the child's copy of
    this process's pages would be counted in mb_bare's CPU (some 10 ms)."""
    os.sched_setaffinity(0, want_cpus(cpus))
    try:
        return subprocess.Popen(*a, **kw)
    finally:
        os.sched_setaffinity(0, ALL_CPUS)


def snap(pid, sim, counts_path):
    """The daemon's counters now: CPU, threads, faults, the simulator's
    requests and registers, allocations (counts_path: under the counter)."""
    allocs = read_counts(counts_path) if counts_path else None  # next to the status query
    c = cpu_ns(pid)
    req, reg = sim.counters()
    return {"t": time.monotonic(), "wall": time.time(), "cpu": c, "th": threads(pid),
            "flt": minflt(pid), "req": req, "reg": reg, "allocs": allocs, "io": spool_io(pid)}


def zone_bounds(t):
    """(start, end) wall times of the next minute's close zone not yet over
    at t (start <= t when t is inside it)."""
    m = math.floor(t / 60) * 60
    if t - m < CLOSE_ZONE[1]:
        return m + CLOSE_ZONE[0], m + CLOSE_ZONE[1]
    return m + 60 + CLOSE_ZONE[0], m + 60 + CLOSE_ZONE[1]


def add_threads(acc, t0, t1):
    """acc (threads() by name) += t1 - t0."""
    for name, b in t1.items():
        a = t0.get(name, [0, 0, 0])
        v = acc.setdefault(name, [0, 0, 0])
        v[0], v[1], v[2] = v[0] + b[0] - a[0], v[1] + b[1] - a[1], max(v[2], b[2])


def measure(pid, sim, seconds, skip, counts_path=None):
    """One window of seconds over the daemon pid. skip: the window's clock
    stops over every minute's close zone (segments between them, summed),
    so that it holds no close; else one segment from now. Returns the
    summed deltas, the largest RssAnon seen, the closes taken in, and
    (skip) what the close zones skipped between two segments cost
    ("zone": count, CPU, requests, seconds, threads)."""
    acc = {"cpu": 0, "flt": 0, "req": 0, "reg": 0, "seconds": 0.0, "th": {}, "io": (0, 0),
           "allocs": [0] * len(CLASSES) if counts_path else None, "closes": 0, "segments": 0,
           "zone": {"n": 0, "cpu": 0, "req": 0, "seconds": 0.0, "th": {}}}
    anon, last, at_zone = 0, None, False
    while acc["seconds"] < seconds - 1e-3:
        left = seconds - acc["seconds"]
        if skip:
            zs, ze = zone_bounds(time.time())
            if zs - time.time() < min(2.0, left):  # in the zone, or too little before it
                wait_until(ze)
                zs, _ = zone_bounds(time.time())
        s0 = snap(pid, sim, counts_path)
        if at_zone:  # from the last segment's end at a zone's start to now, past its end
            z = acc["zone"]
            z["n"] += 1
            z["cpu"] += s0["cpu"] - last["cpu"]
            z["req"] += s0["req"] - last["req"]
            z["seconds"] += s0["t"] - last["t"]
            add_threads(z["th"], last["th"], s0["th"])
        end = s0["t"] + left
        at_zone = skip and zs - s0["wall"] < left
        if at_zone:
            end = s0["t"] + (zs - s0["wall"])
        while time.monotonic() < end:
            time.sleep(min(0.5, max(0.01, end - time.monotonic())))
            anon = max(anon, mem_kb(pid)[1])
        s1 = snap(pid, sim, counts_path)
        for k in ("cpu", "flt", "req", "reg"):
            acc[k] += s1[k] - s0[k]
        acc["seconds"] += s1["t"] - s0["t"]
        acc["io"] = tuple(x + b - a for x, a, b in zip(acc["io"], s0["io"], s1["io"]))
        acc["closes"] += minute_closes(s0["wall"], s1["wall"] - s0["wall"])
        acc["segments"] += 1
        add_threads(acc["th"], s0["th"], s1["th"])
        last = s1
        if counts_path:
            acc["allocs"] = [x + b - a for x, a, b in zip(acc["allocs"], s0["allocs"],
                                                          s1["allocs"])]
    acc["anon"] = anon
    return acc


class Daemon:
    """One plantroomd (and its simulator) for one or more windows, started
    under the CPUs of the first mode and moved to others between windows."""

    def __init__(self, args, tmp, load, broker_port, cpus, counting=False, dbin=None):
        self.args, self.tmp, self.load, self.dbin = args, tmp, load, dbin or args.bin
        self.counts_path = os.path.join(tmp, "malloc.counts") if counting else None
        self.broker_port = broker_port
        shutil.rmtree(os.path.join(tmp, "state"), ignore_errors=True)
        self.sim = Sim(args.bin, tmp, load[0], cpus)
        self.cfg_path = config(args, tmp, load, self.sim.port, broker_port)
        env = dict(os.environ)
        if counting:
            env["LD_PRELOAD"] = os.path.join(args.lib, "libmalloc_count.so")
            env["PLANTROOM_MALLOC_COUNT"] = self.counts_path
        self.log = open(os.path.join(tmp, "plantroomd.log"), "w")
        self.d = spawn(cpus, [os.path.join(self.dbin, "plantroomd"), "--config", self.cfg_path],
                       stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.d.pid
        self.windows = 0
        try:
            # warm-up: every device polled (and published) a few times
            wait_for(lambda: os.path.exists(os.path.join(tmp, "state", "control.sock")), 30,
                     "the control socket")
            time.sleep(args.warmup)
            self.start_hwm = mem_kb(self.pid)[0]  # the start: config, plans, first polls
        except BaseException:
            self.stop()
            raise

    def pin(self, cpus, broker):
        """The simulator, every thread of the daemon and the broker on cpus."""
        pin(self.sim.p.pid, cpus, "plantroom-sim")
        pin(self.pid, cpus, "plantroomd")
        if self.broker_port and broker:
            pin(broker.pid, cpus, "mosquitto")

    def window(self, seconds, cpus):
        """One window: its figures (the CPUs checked again at its end)."""
        args, counting = self.args, self.counts_path is not None
        align = args.closes == "align" or (counting and args.closes == "skip")
        if align and not counting:  # the status query and the reset take a second or two
            wait_until(aligned_start(time.time() + 3, seconds) - 3)
        elif align:  # one segment clear of the closes, the status query just before
            wait_until(aligned_start(time.time() + 1, seconds) - 1)
        st0 = status(self.dbin, self.cfg_path)
        reset = False
        if not counting:
            reset = reset_hwm(self.pid)
            time.sleep(0.5)
            if align:
                wait_until(aligned_start(time.time(), seconds))
        m = measure(self.pid, self.sim, seconds, args.closes == "skip" and not align,
                    self.counts_path)
        if counting:  # the polls of the counter's window: status at once
            st = status(self.dbin, self.cfg_path)
        hwm, anon_now = mem_kb(self.pid)
        if not counting:
            st = status(self.dbin, self.cfg_path)
        nthreads = check_pinned(self.pid, cpus, "plantroomd")
        check_pinned(self.sim.p.pid, cpus, "plantroom-sim")
        self.windows += 1
        rpp = (self.load[1] + 124) // 125
        r = {"cpu_s": m["cpu"] / 1e9, "requests": m["req"], "registers": m["reg"],
             "seconds": m["seconds"], "hwm_kb": hwm if reset else float("nan"),
             "start_kb": self.start_hwm, "anon_kb": max(m["anon"], anon_now),
             "polls": polls_of(st) - polls_of(st0),
             "window_polls": m["req"] / rpp,
             "published": st.get("mqtt", {}).get("telemetry_published", 0)
             - st0.get("mqtt", {}).get("telemetry_published", 0),
             "errors": sum(d["errors"] for d in st["devices"]),
             "threads": threads_line({}, m["th"], m["seconds"]),
             "thread_ms": thread_ms({}, m["th"], m["seconds"]),
             "closes": m["closes"], "segments": m["segments"], "nthreads": nthreads,
             "faults": m["flt"] / m["seconds"], "zone": m["zone"], "spool_io": m["io"],
             "stalled": [b - a for a, b in zip(stalled_counts(st0), stalled_counts(st))]}
        if counting:
            r["allocs"] = m["allocs"]
        return r

    def stop(self):
        try:
            self.d.send_signal(signal.SIGTERM)
            self.d.wait(30)
        finally:
            self.log.close()
            self.sim.stop()


def bare(args, tmp, load, seconds, cpus):
    k, p, iv = load
    sim = Sim(args.bin, tmp, k, cpus)
    try:
        b = spawn(cpus, [os.path.join(args.bin, "mb_bare"), "127.0.0.1", str(sim.port),
                         str(k), str(p), str(seconds), str(args.buses), str(iv)],
                  stdout=subprocess.PIPE, text=True)
        time.sleep(min(0.3, seconds / 4))
        if b.poll() is None:
            check_pinned(b.pid, cpus, "mb_bare")
        check_pinned(sim.p.pid, cpus, "plantroom-sim")
        out, _ = b.communicate()
        if b.returncode != 0:
            sys.exit(f"bench_pipeline: mb_bare exited {b.returncode}")
    finally:
        sim.stop()
    r = json.loads(out)
    sec = float(r["seconds"])
    tm = {label: 0.0 for _, label in KINDS + [("", "other")]}
    tm["bus"] = r["thread_cpu_s"] * 1e3 / sec
    tm["other"] = (r["cpu_s"] - r["thread_cpu_s"]) * 1e3 / sec
    return {"cpu_s": r["cpu_s"], "requests": r["requests"], "registers": r["points"],
            "seconds": sec, "hwm_kb": r["maxrss_kb"], "start_kb": r["maxrss_kb"],
            "anon_kb": 0, "thread_ms": tm,
            "threads": f"bus x{r['threads']} {tm['bus']:.2f} ms/s, "
                       f"{r['thread_vcsw'] / sec:.0f} wake-ups/s; other {tm['other']:.2f} ms/s"}


def per_req_us(r):
    return r["cpu_s"] / r["requests"] * 1e6 if r["requests"] else float("nan")


def sides(args):
    """(name, daemon binaries or None for bare, MQTT on)."""
    out = [("bare", None, False), ("poll", args.bin, False), ("full", args.bin, True)]
    if args.before_bin:
        out += [("poll-before", args.before_bin, False), ("full-before", args.before_bin, True)]
    if args.sides:
        out = [o for o in out if o[0] == "bare" or o[0] in args.sides.split(",")]
    return out


TARGETS = {"poll": 1.5, "full": 3.0, "poll-before": 1.5, "full-before": 3.0}


def print_threads(res):
    """CPU ms a second by thread kind, median (worst) over the rounds, and
    the same per request (bare: its reading threads under "bus")."""
    labels = [label for _, label in KINDS] + ["other"]
    print("CPU by thread, ms/s: median (worst) over the rounds; us/req of the medians")
    print(f"{'':12s}" + "".join(f"{label:>16s}" for label in labels))
    for n in res:
        cells = []
        for label in labels:
            v = [r["thread_ms"][label] for r in res[n]]
            cells.append(f"{statistics.median(v):.2f} ({max(v):.2f})")
        print(f"{n:12s}" + "".join(f"{c:>16s}" for c in cells))
        rps = statistics.median(r["requests"] / r["seconds"] for r in res[n])
        per = [statistics.median(r["thread_ms"][label] for r in res[n]) * 1e3 / rps
               for label in labels]
        print(f"{'  us/req':12s}" + "".join(f"{v:16.1f}" for v in per))


def ratios(res, n):
    return [per_req_us(r) / per_req_us(b) for r, b in zip(res[n], res["bare"])]


def verdicts(res, where):
    """A line per target: met or not on the median and on the worst window."""
    lines = []
    for n in [n for n in res if n in TARGETS]:
        x = ratios(res, n)
        med, worst, lim = statistics.median(x), max(x), TARGETS[n]
        line = (f"target {n} <= {lim:g}x bare, {where}: median {med:.2f}x "
                f"{'met' if med <= lim else 'NOT met'}, worst {worst:.2f}x "
                f"{'met' if worst <= lim else 'NOT met'} ({len(x)} windows)")
        c = close_cost(res, n)
        if c:
            med, worst = med + c[4], worst + c[4]
            line += (f"; with the minute's close (+{c[4]:.2f}x): {med:.2f}x "
                     f"{'met' if med <= lim else 'NOT met'}, {worst:.2f}x "
                     f"{'met' if worst <= lim else 'NOT met'}")
        lines.append(line)
    return lines


def close_cost(res, n):
    """What a minute's close zone (skipped by --closes skip) cost side n
    above the clear seconds' rate, per close, over the rounds: (closes,
    total ms, ledger ms, loop ms, x bare it adds at one close a minute)."""
    nz = extra = 0
    th = {"ledger": 0.0, "loop": 0.0}
    for r in res[n]:
        z = r.get("zone")
        if not z or not z["n"]:
            continue
        nz += z["n"]
        extra += (z["cpu"] / 1e9 - r["cpu_s"] * z["seconds"] / r["seconds"]) * 1e3
        zms = thread_ms({}, z["th"], 1)  # ms over the zone
        for k in th:
            th[k] += zms[k] - r["thread_ms"][k] * z["seconds"]
    if not nz:
        return None
    rps = statistics.median(r["requests"] / r["seconds"] for r in res[n])
    bare_us = statistics.median(per_req_us(r) for r in res["bare"])
    per = extra / nz
    return nz, per, th["ledger"] / nz, th["loop"] / nz, per * 1e3 / 60 / rps / bare_us


def print_mode(res, label):
    """The table of one CPU mode of one load."""
    print(f"-- cpus {label}")
    print(f"{'':12s} {'CPU/req us: median':>18s} {'worst':>7s} {'x bare: median':>15s} "
          f"{'worst':>6s} {'points/s':>9s} {'peak RSS':>9s} {'anon RSS':>9s} {'start peak':>10s} "
          f"{'closes':>7s} {'faults/s':>9s}")
    for n in res:
        us = [per_req_us(r) for r in res[n]]
        ratio = ratios(res, n)
        pps = statistics.median(r["registers"] / r["seconds"] for r in res[n])
        closes = "-" if n == "bare" else ",".join(str(r["closes"]) for r in res[n])
        faults = "-" if n == "bare" else f"{statistics.median(r['faults'] for r in res[n]):.0f}"
        print(f"{n:12s} {statistics.median(us):18.1f} {max(us):7.1f} "
              f"{statistics.median(ratio):14.2f}x {max(ratio):5.2f}x {pps:9,.0f} "
              f"{max(r['hwm_kb'] for r in res[n]) / 1024:7.1f} M "
              f"{max(r['anon_kb'] for r in res[n]) / 1024:7.1f} M "
              f"{max(r['start_kb'] for r in res[n]) / 1024:8.1f} M {closes:>7s} {faults:>9s}")
    print_threads(res)
    for full in res.get("full", [])[-1:]:
        print(f"full: {full['published']} telemetry messages for {full['polls']} polls in the "
              f"last window, {full['errors']} poll errors")
    for n in [n for n in ("full", "full-before") if n in res]:
        io = [r["spool_io"] for r in res[n]]
        st = [r["stalled"] for r in res[n]]
        print(f"{n}: spool thread wrote {max(b for b, _ in io)} bytes in {max(c for _, c in io)} "
              f"calls at most in a window; telemetry buffered while connected "
              f"{max(b for b, _ in st)}, skipped {max(k for _, k in st)} at most in a window")
    for n in res:
        print(f"threads, {n} (last round): {res[n][-1]['threads']}")
    for n in res:
        c = close_cost(res, n) if n != "bare" else None
        if c:
            print(f"minute close, {n}: {c[1]:.1f} ms of CPU above the clear seconds' rate per "
                  f"close zone (ledger {c[2]:.1f}, loop {c[3]:.1f}; {c[0]} zones), not in the "
                  f"windows: +{c[4]:.2f}x bare at one close a minute")
    for line in verdicts(res, f"cpus {label}"):
        print(line)


def run_load(args, tmp, load, broker, broker_port):
    k, p, iv = load
    reqs_s = k * ((p + 124) // 125) * 1000 / iv
    print(f"\n== {k} devices x {p} registers every {iv} ms ({reqs_s:g} req/s), "
          f"{args.buses} buses, {args.seconds:g} s windows, {args.rounds} rounds, cpus "
          f"{args.cpus}")
    res = {m: {n: [] for n, _, _ in sides(args)} for m, _ in args.modes}
    for i in range(args.rounds):
        modes = args.modes if i % 2 == 0 else args.modes[::-1]  # each mode first in turn
        for n, dbin, mqtt in sides(args):
            if dbin is None:
                for m, cpus in modes:
                    res[m][n].append(bare(args, tmp, load, args.seconds, cpus))
                continue
            if mqtt:
                pin(broker.pid, modes[0][1], "mosquitto")
            d = Daemon(args, tmp, load, broker_port if mqtt else None, modes[0][1], dbin=dbin)
            try:
                for j, (m, cpus) in enumerate(modes):
                    if j:
                        d.pin(cpus, broker)
                        time.sleep(1)
                    res[m][n].append(d.window(args.seconds, cpus))
            finally:
                d.stop()
        for m, _ in args.modes:
            line = "  ".join(f"{n} {per_req_us(res[m][n][-1]):.1f}" for n in res[m])
            print(f"round {i + 1}, cpus {m} (us/req): {line}  load {os.getloadavg()[0]:.2f}")
    for m, _ in args.modes[:len(args.modes) if args.rounds else 0]:
        print_mode(res[m], m)
    if not args.no_alloc:
        m, cpus = args.modes[0]
        for n, dbin, mqtt in sides(args)[1:]:
            if mqtt:
                pin(broker.pid, cpus, "mosquitto")
            d = Daemon(args, tmp, load, broker_port if mqtt else None, cpus, counting=True,
                       dbin=dbin)
            try:
                r = d.window(args.alloc_seconds, cpus)
            finally:
                d.stop()
            print_allocs(n, r)
            res[m][n + "_alloc"] = r
    return res


def print_allocs(n, r):
    """Allocations per poll: the counter's window over the polls the loop
    took in over the same window (status queried just before the counter's
    first read and just after its last, nothing else in between but the
    CPU and the simulator's counters, some ms), and the check beside it:
    over the polls the simulator served in the window (its requests / the
    requests per poll). The two differ by what a bus cycle had in flight
    at the window's edges (a cycle's readings reach the loop, and paho,
    in one hand-over at its end): up to a cycle of the window's polls."""
    wp, sp = r["polls"], r["window_polls"]
    per = [a / wp if wp else float("nan") for a in r["allocs"]]
    parts = ", ".join(f"{c} {v:.2f}" for c, v in zip(CLASSES, per))
    total = sum(r["allocs"])
    check = total / sp if sp else float("nan")
    print(f"allocations per poll, {n}: {sum(per):.2f} ({parts}); {total} allocations for "
          f"{wp} polls in status over the {r['seconds']:.1f} s window; check: over the "
          f"{sp:.0f} polls the simulator served in it, {check:.2f}")


def summary(args, results):
    """Every load, mode and side on one screen, and the targets."""
    if not args.rounds:
        return
    print("\n== summary: CPU per request, x bare of the same round and CPUs: median (worst)")
    for spec, res in results:
        for m, _ in args.modes:
            cells = []
            for n in res[m]:
                if n.endswith("_alloc"):
                    continue
                us = [per_req_us(r) for r in res[m][n]]
                x = ratios(res[m], n)
                cells.append(f"{n} {statistics.median(us):.1f} us ({max(us):.1f})"
                             + ("" if n == "bare" else
                                f" {statistics.median(x):.2f}x ({max(x):.2f}x)"))
            print(f"{spec:14s} cpus {m:5s} " + "; ".join(cells))
    for spec, res in results:
        for m, _ in args.modes:
            for line in verdicts({n: v for n, v in res[m].items() if not n.endswith("_alloc")},
                                 f"cpus {m}"):
                print(f"{spec}: {line}")


def expected_minutes(args, nloads):
    """Roughly how long the run takes: windows, starts, waits (fitted to a
    run of 3 loads, 3 rounds of 30 s, --cpus none,1 --closes skip: 34.3
    minutes)."""
    nside = len(sides(args)) - 1
    nm = len(args.modes)
    if args.closes == "align":
        per_win = 60.0 if args.seconds <= 50 else args.seconds + 15
    elif args.closes == "skip":
        per_win = args.seconds * 60 / (60 - (CLOSE_ZONE[1] - CLOSE_ZONE[0]))
    else:
        per_win = args.seconds
    rnd = nm * (args.seconds + 1) + nside * (args.warmup + nm * (per_win + 1.5))
    alloc = 0 if args.no_alloc else nside * (args.warmup + 6 + args.alloc_seconds)
    return nloads * (args.rounds * rnd + alloc) / 60


def smoke(args, tmp, broker, broker_port):
    """Every part runs, pinned to one CPU: bare on it, the full pipeline
    started on it and moved to every CPU and back (each move checked in
    /proc), its allocations counted over its window's polls."""
    load = (4, 250, 100)
    one = {min(ALL_CPUS)}
    b = bare(args, tmp, load, 1, one)
    pin(broker.pid, one, "mosquitto")
    d = Daemon(args, tmp, load, broker_port, one, counting=True)
    try:
        d.pin(None, broker)
        d.pin(one, broker)
        full = d.window(2, one)
    finally:
        d.stop()
    pin(broker.pid, None, "mosquitto")
    print(f"smoke: bare {b['requests']} requests on CPU {min(one)} ({b['threads']}); full "
          f"{full['requests']} requests, {full['polls']} polls in status, "
          f"{full['window_polls']:.0f} in the window, {full['published']} published, "
          f"allocations {sum(full['allocs'])}, {full['nthreads']} threads on CPU {min(one)}, "
          f"peak RSS {full['start_kb']} kB at the start")
    print_allocs("full", full)
    ok = (b["requests"] > 0 and b["thread_ms"]["bus"] > 0 and full["requests"] > 0
          and full["polls"] > 0 and full["window_polls"] > 0 and full["published"] > 0
          and sum(full["allocs"]) > 0 and full["start_kb"] > 0 and full["nthreads"] > 1
          and os.path.getsize(os.path.join(tmp, "malloc.counts")) >= 16 * len(CLASSES))
    print("smoke: ok" if ok else "smoke: FAILED")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="plantroomd, plantroomctl, plantroom-sim, mb_bare")
    ap.add_argument("--lib", help="directory of libmalloc_count.so (default: BIN/../tests/bench)")
    ap.add_argument("--before-bin", help="plantroomd and plantroomctl of another build, measured "
                    "in the same rounds (poll-before, full-before)")
    ap.add_argument("--loads", default="100x100@1000,50x250@200,200x100@1000",
                    help="KxP@I,...: K devices x P registers every I ms")
    ap.add_argument("--seconds", type=float, default=60,
                    help="window; 60 takes in one close of the minute rollups (--closes align)")
    ap.add_argument("--alloc-seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds of windows; 0: only the allocation count")
    ap.add_argument("--buses", type=int, default=2)
    ap.add_argument("--cpus", default="none",
                    help="CPU modes, each measured in every round: none (unpinned) or a CPU list "
                    "('1', '0-1', '0+2') that the simulator, mb_bare, plantroomd (every thread) "
                    "and mosquitto are pinned to; e.g. none,1")
    ap.add_argument("--closes", choices=["align", "skip", "any"], default="align",
                    help="minute rollup closes: align (a window opens clear of them and takes "
                    "in seconds // 60), skip (the window's clock stops over each close: none, "
                    "no waiting), any (open at once)")
    ap.add_argument("--no-alloc", action="store_true", help="skip the allocation count")
    ap.add_argument("--sides", default="",
                    help="only these sides beside bare, e.g. poll,poll-before (default: all)")
    ap.add_argument("--no-align", dest="closes", action="store_const", const="any",
                    help="the same as --closes any")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    args.lib = args.lib or os.path.join(args.bin, "..", "tests", "bench")
    args.modes = parse_cpus(args.cpus)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))  # children stopped in finally
    with tempfile.TemporaryDirectory() as tmp:
        broker, broker_port = start_broker(tmp)
        try:
            if args.smoke:
                args.warmup, args.buses, args.closes = 1, 1, "any"
                return smoke(args, tmp, broker, broker_port)
            loads = []
            for spec in args.loads.split(","):
                m = re.fullmatch(r"(\d+)x(\d+)@(\d+)", spec.strip())
                if not m:
                    sys.exit(f"bench_pipeline: --loads: bad '{spec}'")
                loads.append((spec.strip(), tuple(int(x) for x in m.groups())))
            print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
                  f"expected duration about {expected_minutes(args, len(loads)):.0f} min")
            t0 = time.monotonic()
            results = [(spec, run_load(args, tmp, load, broker, broker_port))
                       for spec, load in loads]
            summary(args, results)
            print(f"\nload average {os.getloadavg()[0]:.2f} at the end; took "
                  f"{(time.monotonic() - t0) / 60:.1f} min")
        finally:
            broker.send_signal(signal.SIGTERM)
            broker.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
