# SPDX-License-Identifier: Apache-2.0
"""Write three weeks of a building's main meter (power_total, W, one reading
a minute) as replay CSV (timestamp,device,point,value), for deploy/demo.sh:
an office load, about 9 kW at night and at weekends and 35 kW on working
days from 08:00 to 19:00 local time (UTC+8), with noise; and one night, from
Thursday 2026-11-19 20:00 to Friday 07:00 local, with 24 kW more: plant left
running. Seeded, so every run writes the same file.

  meter_samples.py OUT.csv
"""
import datetime
import math
import random
import sys

LOCAL = datetime.timedelta(hours=8)
WASTE_FROM = datetime.datetime(2026, 11, 19, 20, 0)  # local time
WASTE_TO = datetime.datetime(2026, 11, 20, 7, 0)


def main(path):
    rng = random.Random(5)
    t0 = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
    with open(path, "w") as out:
        out.write("timestamp,device,point,value\n")
        for i in range(22 * 24 * 60):
            t = t0 + datetime.timedelta(minutes=i)
            local = (t + LOCAL).replace(tzinfo=None)
            h = local.hour + local.minute / 60
            office = local.weekday() < 5 and 8 <= h < 19
            v = 9000 + (26000 if office else 0) + 4000 * math.sin(math.pi * h / 24)
            v += rng.gauss(0, 800)
            if WASTE_FROM <= local < WASTE_TO:
                v += 24000
            out.write(f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},meter-main,power_total,{v:.0f}\n")


main(sys.argv[1])
