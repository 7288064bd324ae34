#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write synthetic samples as replay CSV (timestamp,device,point,value).

The Python twin of tests/gen/gen.h for replay tests and demos: a shape
(flat, linear, exp, step) starting at --onset-days, Gaussian noise, seeded so
every run is the same. Prints the true crossing of --limit (if any) on stderr.

  gen_samples.py --days 365 --device lift-1 --point vibration_machine \\
      --shape linear --base 1.2 --rate 0.08 --onset-days 300 --noise 0.15 > s.csv
"""
import argparse
import datetime
import math
import random
import sys


def truth(a, days):
    d = max(0.0, days - a.onset_days)
    if a.shape == "linear":
        return a.base + a.rate * d
    if a.shape == "exp":
        return a.base + a.amp * (math.exp(a.rate * d) - 1)
    if a.shape == "step":
        return a.base + (a.amp if days >= a.onset_days else 0)
    return a.base


def crossing_days(a, limit):
    if a.shape == "linear" and a.rate > 0:
        return a.onset_days + (limit - a.base) / a.rate
    if a.shape == "exp" and a.rate > 0 and a.amp > 0:
        return a.onset_days + math.log((limit - a.base) / a.amp + 1) / a.rate
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--start", default="2026-01-01T00:00:00Z")
    p.add_argument("--days", type=float, default=365)
    p.add_argument("--step-s", type=int, default=60)
    p.add_argument("--device", default="lift-1")
    p.add_argument("--point", default="vibration_machine")
    p.add_argument("--shape", choices=["flat", "linear", "exp", "step"], default="flat")
    p.add_argument("--base", type=float, default=1.2)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--amp", type=float, default=0.0)
    p.add_argument("--onset-days", type=float, default=0.0)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--limit", type=float, default=None)
    p.add_argument("--epoch-ms", action="store_true", help="timestamps as epoch ms")
    p.add_argument("--out", default="-")
    a = p.parse_args(argv)
    rng = random.Random(a.seed)
    t0 = datetime.datetime.fromisoformat(a.start.replace("Z", "+00:00"))
    t0_ms = int(t0.timestamp() * 1000)
    n = int(a.days * 86400 / a.step_s)
    out = sys.stdout if a.out == "-" else open(a.out, "w")
    out.write("timestamp,device,point,value\n")
    lines = []
    for i in range(n):
        ms = t0_ms + i * a.step_s * 1000
        v = truth(a, i * a.step_s / 86400.0) + rng.gauss(0, a.noise)
        if a.epoch_ms:
            ts = str(ms)
        else:
            ts = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc) \
                .strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{ts},{a.device},{a.point},{v:.4f}\n")
        if len(lines) >= 10000:
            out.write("".join(lines))
            lines.clear()
    out.write("".join(lines))
    if out is not sys.stdout:
        out.close()
    if a.limit is not None:
        c = crossing_days(a, a.limit)
        print(f"crossing_ms={'' if c is None else t0_ms + int(c * 86400000)}", file=sys.stderr)


if __name__ == "__main__":
    main()
