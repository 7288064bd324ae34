# SPDX-License-Identifier: Apache-2.0
"""What the report tests share (test_report_html.py, test_report_push.py):
a ledger with a known month made by plantroom-report-gen (tests/report/),
the time zone the reports are read in, and headless Chromium.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess

import pytest

from conftest import BIN, binary

MONTH = "2026-05"
TZ = "Asia/Shanghai"  # months and days are local: not UTC on purpose


def env_tz():
    env = dict(os.environ)
    env["TZ"] = TZ
    return env


def _generate_into(path, truth, site, name):
    args = [binary("plantroom-report-gen"), "--ledger", str(path), "--month", MONTH,
            "--site", site, "--site-name", name, "--truth", str(truth)]
    r = subprocess.run(args, capture_output=True, text=True, env=env_tz(), timeout=120)
    if r.returncode != 0:
        pytest.fail(f"plantroom-report-gen failed: {r.stderr}")


def generate(path, truth=None, site="test-site", name="Test Site"):
    """Write the known ledger of MONTH to path; return the truth (dict).

    The generator is deterministic (its own clock), and slow under ASan: it
    runs once per binary and arguments, into build/test-cache (keyed by the
    binary's size and mtime, written under a temporary name and renamed, so
    parallel test files share it safely), and each test gets a copy."""
    gen = binary("plantroom-report-gen")
    st = os.stat(gen)
    key = hashlib.sha1(f"{os.path.realpath(gen)}|{st.st_size}|{st.st_mtime_ns}|{MONTH}|{site}|"
                       f"{name}".encode()).hexdigest()[:16]
    cache = os.path.join(os.path.dirname(BIN), "test-cache")
    os.makedirs(cache, exist_ok=True)
    db, tj = os.path.join(cache, f"ledger-{key}.db"), os.path.join(cache, f"truth-{key}.json")
    if not os.path.exists(db):  # the truth is renamed first: the ledger marks both there
        tmp = os.path.join(cache, f"tmp-{key}-{os.getpid()}")
        _generate_into(tmp + ".db", tmp + ".json", site, name)
        con = sqlite3.connect(tmp + ".db")  # all in the one file (a copy takes no -wal)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        os.replace(tmp + ".json", tj)
        os.replace(tmp + ".db", db)
    shutil.copy(db, path)
    if truth:
        shutil.copy(tj, truth)
    with open(tj) as f:
        return json.load(f)


def ctl_ledger(ledger, *args, check=True):
    r = subprocess.run([binary("plantroomctl"), "--ledger", str(ledger), *args],
                       capture_output=True, text=True, env=env_tz(), timeout=60)
    if check and r.returncode != 0:
        pytest.fail(f"plantroomctl {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def artefact_dir():
    """build/test-artefacts (next to build/bin): what a run leaves to look at."""
    d = os.path.join(os.path.dirname(BIN), "test-artefacts")
    os.makedirs(d, exist_ok=True)
    return d


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium():
    path = shutil.which("chromium")
    if not path:
        pytest.fail("chromium not found: deploy/deps.sh installs it")
    return path


def render(html, png, pdf, profile, size=(1000, 4200)):
    """One Chromium launch: a screenshot and a PDF of html."""
    os.makedirs(profile, exist_ok=True)
    args = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
            f"--window-size={size[0]},{size[1]}", f"--screenshot={png}",
            f"--print-to-pdf={pdf}", f"file://{html}"]
    return subprocess.run(args, capture_output=True, text=True, timeout=180)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])
