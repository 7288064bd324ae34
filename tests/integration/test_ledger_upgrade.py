# SPDX-License-Identifier: Apache-2.0
"""An upgrade from a schema v5 ledger with 100,000 rollup rows (docs/
operations.md, "Upgrades"): plantroomd answers its control socket without
first copying them; the status shows the rows left to move
(storage.ledger.rollup_move_left); plantroomctl devices counts the old
rows' points while they move; a SIGKILL while rows are left loses and
duplicates nothing; the next start finishes the move and drops the old
tables.

The v5 file is made from a ledger plantroomd wrote: its rollup tables put
back as schema v3 to v5 defined them (series first) and filled with rows of
devices the simulator does not have ("old-N"), recent enough that the
retention purge at start keeps them.
"""
import json
import signal
import sqlite3
import time

from conftest import ctl, make_config, wait_for
from storage_helpers import ro, status

ROWS = 50000  # in each table

V5_ROLLUPS = """
DROP VIEW rollup_1h_all; DROP TABLE rollup_1m; DROP TABLE rollup_1h;
CREATE TABLE rollup_1m (device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL,
 unit TEXT, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
 last_ts INTEGER NOT NULL, PRIMARY KEY (device, point, ts)) WITHOUT ROWID;
CREATE INDEX rollup_1m_ts ON rollup_1m(ts);
CREATE TABLE rollup_1h (device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL,
 unit TEXT, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
 last_ts INTEGER NOT NULL, PRIMARY KEY (device, point, ts)) WITHOUT ROWID;
CREATE INDEX rollup_1h_ts ON rollup_1h(ts);
"""

FILL = """
WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < {rows} - 1)
INSERT INTO rollup_{t} SELECT 'old-' || (n % 50), 'p' || (n / 50 % 20), {t0} + (n / 1000) * {step},
 'C', n % 97 * 0.25, n % 97 * 0.25 + 3, n * 0.25, 1 + n % 5, {t0} + (n / 1000) * {step} + 1000
 FROM i
"""

FOLD = ("SELECT COUNT(*), total(sum), SUM(count), total(min), total(max), SUM(last_ts)"
        " FROM {src} WHERE device LIKE 'old-%'")


def make_v5(ledger):
    now = int(time.time() * 1000)
    db = sqlite3.connect(str(ledger))
    db.executescript("BEGIN;" + V5_ROLLUPS
                     + FILL.format(rows=ROWS, t="1m", t0=now - 86400000, step=60000)
                     + ";" + FILL.format(rows=ROWS, t="1h", t0=now - 60 * 86400000, step=3600000)
                     + ";INSERT INTO devices (name, status) SELECT DISTINCT device, 'online'"
                     " FROM rollup_1h; PRAGMA user_version=5; COMMIT;")
    db.close()


def fold(ledger, t):
    old = ro(ledger, "SELECT count(*) FROM sqlite_master WHERE name = ?", (f"rollup_{t}_v5",))
    src = (f"(SELECT * FROM rollup_{t} UNION ALL SELECT * FROM rollup_{t}_v5)"
           if old[0][0] else f"rollup_{t}")
    return ro(ledger, FOLD.format(src=src))[0]


def move_left(config):
    r = ctl(config, "status", "--json", check=False)
    if r.returncode != 0:  # not answering yet
        return None
    return json.loads(r.stdout)["storage"]["ledger"]["rollup_move_left"]


def test_upgrade_moves_rollups_online(tmp_path, broker, sim, daemon):
    config = make_config(tmp_path, broker["port"], sim.port)
    d = daemon(config)
    wait_for(lambda: move_left(config) == 0, 30, "a new ledger has nothing to move")
    assert d.proc.stop() == 0
    ledger = d.ledger_path()
    make_v5(ledger)
    before = {t: fold(ledger, t) for t in ("1m", "1h")}
    assert before["1m"][0] == ROWS and before["1h"][0] == ROWS

    d = daemon(config, log_name="plantroomd-upgrade.log")
    # it answers, with the rows left counted (-1 until the first batch)
    left = wait_for(lambda: [v for v in [move_left(config)] if v is not None and v >= 0], 60,
                    "the status shows the rows left to move")[0]
    assert left <= 2 * ROWS
    devs = {x["name"]: x for x in json.loads(ctl(config, "devices", "--json").stdout)}
    assert devs["old-7"]["points"] == 20
    # killed while rows are left (if the move has not already ended)
    d.proc.p.send_signal(signal.SIGKILL)
    d.proc.wait(10)
    print(f"\nkilled with {left} of {2 * ROWS} rollup rows left to move (as last shown)")
    assert ro(ledger, "PRAGMA integrity_check") == [("ok",)]
    assert {t: fold(ledger, t) for t in ("1m", "1h")} == before

    d = daemon(config, log_name="plantroomd-resumed.log")
    wait_for(lambda: move_left(config) == 0, 120, "every rollup row moved")
    devs = {x["name"]: x for x in json.loads(ctl(config, "devices", "--json").stdout)}
    assert devs["old-7"]["points"] == 20
    st = status(config)["storage"]["ledger"]
    assert st["state"] == "ok" and st["rollup_move_failed"] == 0
    assert d.proc.stop() == 0
    assert ro(ledger, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'rollup_%_v5'") == [(0,)]
    assert {t: fold(ledger, t) for t in ("1m", "1h")} == before
    assert ro(ledger, "PRAGMA integrity_check") == [("ok",)]
