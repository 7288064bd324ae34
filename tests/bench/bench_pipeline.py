#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The full pipeline beside the bare libmodbus loop, in one run.

  tests/bench/bench_pipeline.py --bin build-rel/bin [--lib build-rel/tests/bench]
        [--before-bin DIR] [--loads 100x100@1000,50x250@200,200x100@1000]
        [--seconds 60] [--rounds 2] [--buses 2] [--no-alloc] [--no-align] [--smoke]

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
Every point's 1-minute rollup bucket closes just after each wall-clock
minute (every bucket goes to the ledger then): a daemon's window opens where
both its edges are clear of a close and it takes in as few closes as its
length allows (60 s: one; 30 s: none), so that every side's window holds
as many (the "closes" column; --no-align opens at once). "faults/s": the
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
rounds, and the medians per request; each thread's CPU and wake-ups a
second in the last round; for the full sides, what the spool thread wrote
in a window (/proc/PID/task/*/io: none while the broker reads) and the
telemetry buffered or skipped while connected (the broker not keeping
up); and the verdict on the full pipeline's target (at most 3x bare) by
median and by worst window. Unless --no-alloc,
poll and full run once more under an LD_PRELOAD allocation counter
(libmalloc_count.so, tests/bench/malloc_count.c) and print heap
allocations per poll, by the library that asked (plantroomd itself, paho,
cJSON, SQLite, libc's own strdup/stdio, other).

--smoke runs one short round of one small load and checks that every part
ran (the simulator answered, the daemon polled and published, the counter
counted); it asserts nothing about speed (ctest bench_pipeline_smoke).
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    sys.exit(f"bench_pipeline: timed out waiting for {what}")


class Sim:
    def __init__(self, bindir, tmp, k):
        self.tmp = tmp
        self.log_path = os.path.join(tmp, "sim.log")
        port_file = os.path.join(tmp, "sim.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen([os.path.join(bindir, "plantroom-sim"), "--port", "0",
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
        f = wait_for(found, 10, "the simulator's counters")
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


def daemon(args, tmp, load, broker_port, seconds, counting=False, dbin=None):
    """One daemon run (plantroomd and plantroomctl from dbin, default
    --bin): its figures over a window of seconds."""
    dbin = dbin or args.bin
    shutil.rmtree(os.path.join(tmp, "state"), ignore_errors=True)
    sim = Sim(args.bin, tmp, load[0])
    cfg_path = config(args, tmp, load, sim.port, broker_port)
    env = dict(os.environ)
    counts_path = os.path.join(tmp, "malloc.counts")
    if counting:
        env["LD_PRELOAD"] = os.path.join(args.lib, "libmalloc_count.so")
        env["PLANTROOM_MALLOC_COUNT"] = counts_path
    log = open(os.path.join(tmp, "plantroomd.log"), "w")
    d = subprocess.Popen([os.path.join(dbin, "plantroomd"), "--config", cfg_path],
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        # warm-up: every device polled (and published) a few times
        wait_for(lambda: os.path.exists(os.path.join(tmp, "state", "control.sock")), 30,
                 "the control socket")
        time.sleep(args.warmup)
        if args.align:  # the status query and the reset take a second or two
            wait_until(aligned_start(time.time() + 3, seconds) - 3)
        start_hwm = mem_kb(d.pid)[0]  # the start: config, plans, first polls
        pub0 = status(dbin, cfg_path)
        reset = reset_hwm(d.pid)
        time.sleep(0.5)
        if args.align:
            wait_until(aligned_start(time.time(), seconds))
        th0, wall0, f0, io0 = threads(d.pid), time.time(), minflt(d.pid), spool_io(d.pid)
        c0, (req0, reg0), t0 = cpu_ns(d.pid), sim.counters(), time.monotonic()
        a0 = read_counts(counts_path) if counting else None
        anon = 0
        while time.monotonic() - t0 < seconds:
            time.sleep(min(0.5, max(0.01, seconds - (time.monotonic() - t0))))
            anon = max(anon, mem_kb(d.pid)[1])
        c1, (req1, reg1), t1 = cpu_ns(d.pid), sim.counters(), time.monotonic()
        th1, f1, io1 = threads(d.pid), minflt(d.pid), spool_io(d.pid)
        a1 = read_counts(counts_path) if counting else None
        hwm, anon_now = mem_kb(d.pid)
        st = status(dbin, cfg_path)
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(30)
        sim.stop()
    r = {"cpu_s": (c1 - c0) / 1e9, "requests": req1 - req0, "registers": reg1 - reg0,
         "seconds": t1 - t0, "hwm_kb": hwm if reset else float("nan"),
         "start_kb": start_hwm, "anon_kb": max(anon, anon_now),
         "polls": polls_of(st) - polls_of(pub0),
         "published": st.get("mqtt", {}).get("telemetry_published", 0)
         - pub0.get("mqtt", {}).get("telemetry_published", 0),
         "errors": sum(d["errors"] for d in st["devices"]),
         "threads": threads_line(th0, th1, t1 - t0),
         "thread_ms": thread_ms(th0, th1, t1 - t0),
         "closes": minute_closes(wall0, t1 - t0), "faults": (f1 - f0) / (t1 - t0),
         "spool_io": (io1[0] - io0[0], io1[1] - io0[1]),
         "stalled": [b - a for a, b in zip(stalled_counts(pub0), stalled_counts(st))]}
    if counting:
        r["allocs"] = [b - a for a, b in zip(a0, a1)]
    return r


def bare(args, tmp, load, seconds):
    k, p, iv = load
    sim = Sim(args.bin, tmp, k)
    try:
        out = subprocess.run([os.path.join(args.bin, "mb_bare"), "127.0.0.1", str(sim.port),
                              str(k), str(p), str(seconds), str(args.buses), str(iv)],
                             capture_output=True, text=True, check=True).stdout
    finally:
        sim.stop()
    r = json.loads(out)
    return {"cpu_s": r["cpu_s"], "requests": r["requests"], "registers": r["points"],
            "seconds": float(r["seconds"]), "hwm_kb": r["maxrss_kb"], "start_kb": r["maxrss_kb"],
            "anon_kb": 0}


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


def print_threads(res):
    """CPU ms a second by thread kind, median (worst) over the rounds, and
    the same per request."""
    labels = [label for _, label in KINDS] + ["other"]
    print("CPU by thread, ms/s: median (worst) over the rounds; us/req of the medians")
    print(f"{'':12s}" + "".join(f"{label:>16s}" for label in labels))
    for n in res:
        if n == "bare":
            continue
        cells = []
        for label in labels:
            v = [r["thread_ms"][label] for r in res[n]]
            cells.append(f"{statistics.median(v):.2f} ({max(v):.2f})")
        print(f"{n:12s}" + "".join(f"{c:>16s}" for c in cells))
        rps = statistics.median(r["requests"] / r["seconds"] for r in res[n])
        per = [statistics.median(r["thread_ms"][label] for r in res[n]) * 1e3 / rps
               for label in labels]
        print(f"{'  us/req':12s}" + "".join(f"{v:16.1f}" for v in per))


def run_load(args, tmp, load, broker_port):
    k, p, iv = load
    reqs_s = k * ((p + 124) // 125) * 1000 / iv
    print(f"\n== {k} devices x {p} registers every {iv} ms ({reqs_s:g} req/s), "
          f"{args.buses} buses, {args.seconds:g} s windows, {args.rounds} rounds")
    res = {n: [] for n, _, _ in sides(args)}
    for i in range(args.rounds):
        for n, dbin, mqtt in sides(args):
            res[n].append(bare(args, tmp, load, args.seconds) if dbin is None else
                          daemon(args, tmp, load, broker_port if mqtt else None, args.seconds,
                                 dbin=dbin))
        line = "  ".join(f"{n} {per_req_us(res[n][-1]):.1f}" for n in res)
        print(f"round {i + 1} (us/req): {line}  load {os.getloadavg()[0]:.2f}")
    print(f"{'':12s} {'CPU/req us: median':>18s} {'worst':>7s} {'x bare: median':>15s} "
          f"{'worst':>6s} {'points/s':>9s} {'peak RSS':>9s} {'anon RSS':>9s} {'start peak':>10s} "
          f"{'closes':>7s} {'faults/s':>9s}")
    for n in res:
        us = [per_req_us(r) for r in res[n]]
        ratio = [per_req_us(r) / per_req_us(b) for r, b in zip(res[n], res["bare"])]
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
        if n != "bare":
            print(f"threads, {n} (last round): {res[n][-1]['threads']}")
    for n in [n for n in ("full", "full-before") if n in res]:
        ratio = [per_req_us(r) / per_req_us(b) for r, b in zip(res[n], res["bare"])]
        med, worst = statistics.median(ratio), max(ratio)
        verdict = ("met in every window" if worst <= 3 else "met by the median, not in every "
                   "window" if med <= 3 else "not met")
        print(f"{n}: at most 3x bare: median {med:.2f}x, worst {worst:.2f}x over "
              f"{len(ratio)} windows: {verdict}")
    if not args.no_alloc:
        for n, dbin, mqtt in sides(args)[1:]:
            r = daemon(args, tmp, load, broker_port if mqtt else None, args.alloc_seconds,
                       counting=True, dbin=dbin)
            per = [a / r["polls"] if r["polls"] else float("nan") for a in r["allocs"]]
            parts = ", ".join(f"{c} {v:.2f}" for c, v in zip(CLASSES, per))
            print(f"allocations per poll, {n}: {sum(per):.2f} ({parts}); {r['polls']} polls")
            res[n + "_alloc"] = r
    return res


def smoke(args, tmp, broker_port):
    load = (4, 250, 100)
    b = bare(args, tmp, load, 1)
    full = daemon(args, tmp, load, broker_port, 2, counting=True)
    print(f"smoke: bare {b['requests']} requests; full {full['requests']} requests, "
          f"{full['polls']} polls, {full['published']} published, allocations "
          f"{sum(full['allocs'])}, peak RSS {full['start_kb']} kB at the start, "
          f"{full['hwm_kb']} kB in the window")
    ok = (b["requests"] > 0 and full["requests"] > 0 and full["polls"] > 0
          and full["published"] > 0 and sum(full["allocs"]) >= 0 and full["start_kb"] > 0
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
                    help="window; 60 takes in one close of the minute rollups")
    ap.add_argument("--alloc-seconds", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--buses", type=int, default=2)
    ap.add_argument("--no-alloc", action="store_true", help="skip the allocation count")
    ap.add_argument("--sides", default="",
                    help="only these sides beside bare, e.g. poll,poll-before (default: all)")
    ap.add_argument("--no-align", dest="align", action="store_false",
                    help="open the windows at once, not clear of the minute's rollup close")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    args.lib = args.lib or os.path.join(args.bin, "..", "tests", "bench")
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))  # children stopped in finally
    with tempfile.TemporaryDirectory() as tmp:
        broker, broker_port = start_broker(tmp)
        try:
            if args.smoke:
                args.warmup, args.buses, args.align = 1, 1, False
                return smoke(args, tmp, broker_port)
            print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
            for spec in args.loads.split(","):
                m = re.fullmatch(r"(\d+)x(\d+)@(\d+)", spec.strip())
                if not m:
                    sys.exit(f"bench_pipeline: --loads: bad '{spec}'")
                run_load(args, tmp, tuple(int(x) for x in m.groups()), broker_port)
            print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
        finally:
            broker.send_signal(signal.SIGTERM)
            broker.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
