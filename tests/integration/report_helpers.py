"""What the report tests share (test_report_html.py, test_report_push.py):
a ledger with a known month made by plantroom-report-gen (tests/report/),
the time zone the reports are read in, and headless Chromium.
"""
import json
import os
import shutil
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


def generate(path, truth=None, site="test-site", name="Test Site"):
    """Write the known ledger of MONTH to path; return the truth (dict)."""
    args = [binary("plantroom-report-gen"), "--ledger", str(path), "--month", MONTH,
            "--site", site, "--site-name", name]
    if truth:
        args += ["--truth", str(truth)]
    r = subprocess.run(args, capture_output=True, text=True, env=env_tz(), timeout=120)
    if r.returncode != 0:
        pytest.fail(f"plantroom-report-gen failed: {r.stderr}")
    return json.loads(open(truth).read()) if truth else None


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
