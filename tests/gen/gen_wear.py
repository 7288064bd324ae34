#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Wear cases with known truth: the matrix that the prediction benchmark
(tests/bench/bench_predict.py) replays through plantroomctl replay.

A case is a lift machine's vibration (mm/s RMS, ISO 10816-1 class I: the
limit is 4.5, the C/D boundary) sampled every 10 minutes. The signal is

    trend(t) + daily cycle + day effect + sample noise

and then damaged the way field data is damaged (missing days, outliers, a
sensor that sticks). The truth of a wear case is when trend(t) alone (no
cycle, no noise) reaches the limit: the date a prediction is judged on.

Families (docs/prediction.md):
  linear       base + rate * d after the onset
  exponential  base + amp * (exp(r * d) - 1)
  knee         a slow slope, then from a knee a fast one
  step         a step up at the onset, then a linear slope
  healthy      base only, 90 days: no order is the right answer
  flap         hovering just above the threshold for 2-5 days, three times,
               healthy in between: one threshold order per episode
  plateau      linear wear that stops just under the limit (4.499) and
               hovers there for 15-25 days: one trend order, no chatter

Noise levels (sample sd / day-effect sd, mm/s): low 0.05/0.02, mid 0.15/0.05,
high 0.30/0.10. The day effect is AR(1) with rho 0.7: what load, weather and
use do to a whole day, so daily means are serially correlated as real ones
are. Conditions: clean; missing (3-6 whole days and 2-4 gaps of 3-12 h
without readings); outliers (0.5 % of readings knocked up by 0.5-2.5 mm/s);
stuck (1-2 stretches of 6-48 h where the sensor repeats its last reading).

Everything is drawn from random.Random(seed): a case is the same on every
run. The parameters are drawn from fixed ranges, not chosen per case.

  gen_wear.py --family linear --noise mid --condition missing --seed 3 > c.csv
"""
import argparse
import math
import random
import sys

LIMIT = 4.5
STEP_S = 600
DAY_S = 86400
T0_MS = 1767225600000  # 2026-01-01T00:00:00Z
NOISE = {"low": (0.05, 0.02), "mid": (0.15, 0.05), "high": (0.30, 0.10)}
CONDITIONS = ("clean", "missing", "outliers", "stuck")
WEAR = ("linear", "exponential", "knee", "step")
RHO = 0.7


class Case:
    """One generated series: its parameters, truth and samples."""

    def __init__(self, family, noise, condition, seed):
        self.family, self.noise, self.condition, self.seed = family, noise, condition, seed
        self.rng = random.Random(f"{family}/{noise}/{condition}/{seed}")
        r = self.rng
        self.base = r.uniform(0.8, 1.6)
        self.daily_amp = r.uniform(0.05, 0.3)
        self.phase = r.uniform(0, 2 * math.pi)
        self.onset_d = r.uniform(14, 20)  # after the rule has learned (10 days)
        self.truth_ms = None  # wear: when the trend reaches LIMIT
        self.episodes = []  # flap: (start_ms, end_ms) of each episode
        self._shape(r)

    # ---- the trend ------------------------------------------------------
    def _shape(self, r):
        f = self.family
        self.days = 90
        if f in WEAR or f == "plateau":
            T = r.uniform(25, 60)  # days from the onset to the crossing
            self.T = T
            if f == "linear" or f == "plateau":
                self.rate = (LIMIT - self.base) / T
            elif f == "exponential":
                self.amp = r.uniform(0.05, 0.3)
                self.r = math.log((LIMIT - self.base) / self.amp + 1) / T
            elif f == "knee":
                self.knee = T * r.uniform(0.3, 0.6)
                frac = r.uniform(0.15, 0.35)  # slow slope as a share of the fast one
                rise = LIMIT - self.base
                self.s2 = rise / (frac * self.knee + T - self.knee)
                self.s1 = frac * self.s2
            elif f == "step":
                self.step = r.uniform(0.4, 1.0)
                self.rate = (LIMIT - self.base - self.step) / T
            if f == "plateau":
                self.hold = r.uniform(15, 25)
                self.days = self.onset_d + T + self.hold
            else:
                self.truth_ms = T0_MS + int((self.onset_d + T) * DAY_S * 1000)
                self.days = self.onset_d + T + 3
        elif f == "flap":
            t = r.uniform(14, 20)
            for _ in range(3):
                d = r.uniform(2, 5)
                self.episodes.append((T0_MS + int(t * DAY_S * 1000),
                                      T0_MS + int((t + d) * DAY_S * 1000)))
                t += d + r.uniform(5, 10)
            self.days = t
        elif f != "healthy":
            raise ValueError(f"unknown family {f}")

    def trend(self, d):
        """The noiseless trend at day d (days since T0), no daily cycle."""
        f, x = self.family, d - self.onset_d
        if f in ("healthy", "flap"):
            ms = T0_MS + d * DAY_S * 1000
            if any(a <= ms < b for a, b in self.episodes):
                return LIMIT + 0.02
            return self.base
        if x <= 0:
            return self.base
        if f == "linear":
            return self.base + self.rate * x
        if f == "plateau":
            return min(self.base + self.rate * x, LIMIT - 0.001)
        if f == "exponential":
            return self.base + self.amp * (math.exp(self.r * x) - 1)
        if f == "knee":
            if x <= self.knee:
                return self.base + self.s1 * x
            return self.base + self.s1 * self.knee + self.s2 * (x - self.knee)
        if f == "step":
            return self.base + self.step + self.rate * x
        raise ValueError(f)

    # ---- the samples ----------------------------------------------------
    def samples(self):
        """[(ts_ms, value or None)], None for a missing reading."""
        r = self.rng
        sd, day_sd = NOISE[self.noise]
        if self.family == "flap":
            sd = 0.2  # hovering 0.02 over the limit with 0.2 of noise
        n = int(self.days * DAY_S / STEP_S)
        per_day = DAY_S // STEP_S
        ndays = n // per_day + 2
        missing = set()
        gaps = []
        if self.condition == "missing":
            for _ in range(r.randint(3, 6)):
                missing.add(r.randint(11, ndays - 3))
            for _ in range(r.randint(2, 4)):
                a = r.uniform(11, self.days - 1) * DAY_S
                gaps.append((a, a + r.uniform(3, 12) * 3600))
        stuck = []
        if self.condition == "stuck":
            for _ in range(r.randint(1, 2)):
                a = r.uniform(11, self.days - 2) * DAY_S
                stuck.append((a, a + r.uniform(6, 48) * 3600))
        out, eff, day, last = [], 0.0, -1, None
        for i in range(n):
            s = i * STEP_S
            d = s / DAY_S
            if int(d) != day:
                day = int(d)
                eff = RHO * eff + math.sqrt(1 - RHO * RHO) * day_sd * r.gauss(0, 1)
            v = (self.trend(d) + eff + self.daily_amp * math.sin(2 * math.pi * d + self.phase)
                 + sd * r.gauss(0, 1))
            if self.condition == "outliers" and r.random() < 0.005:
                v += r.uniform(0.5, 2.5)
            if any(a <= s < b for a, b in stuck) and last is not None:
                v = last
            last = v
            if day in missing or any(a <= s < b for a, b in gaps):
                out.append((T0_MS + s * 1000, None))
                continue
            out.append((T0_MS + s * 1000, round(v, 4)))
        return out

    def name(self):
        return f"{self.family}/{self.noise}/{self.condition}/{self.seed}"


def matrix(seeds, first_seed=1):
    """Every case of the benchmark: the wear families and healthy machines
    over noise x condition x seeds; the chatter families over noise x seeds."""
    cases = []
    for fam in WEAR + ("healthy",):
        for noise in NOISE:
            for cond in CONDITIONS:
                for s in range(first_seed, first_seed + seeds):
                    cases.append(Case(fam, noise, cond, s))
    for fam in ("flap", "plateau"):
        for noise in NOISE:
            for s in range(first_seed, first_seed + seeds):
                cases.append(Case(fam, noise, "clean", s))
    return cases


def write_csv(case, out, device="lift-1", point="vibration_machine"):
    out.write("timestamp,device,point,value\n")
    out.write("".join(f"{ts},{device},{point},{'' if v is None else v}\n"
                      for ts, v in case.samples()))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", default="linear",
                   choices=WEAR + ("healthy", "flap", "plateau"))
    p.add_argument("--noise", default="mid", choices=list(NOISE))
    p.add_argument("--condition", default="clean", choices=CONDITIONS)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    c = Case(a.family, a.noise, a.condition, a.seed)
    write_csv(c, sys.stdout)
    if c.truth_ms:
        print(f"truth_ms={c.truth_ms}", file=sys.stderr)


if __name__ == "__main__":
    main()
