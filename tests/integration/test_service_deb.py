"""The Debian package: deploy/build-deb.sh builds it (a packaging build with
prefix /usr, then CPack); the test checks its control data and contents,
unpacks it into a scratch root (dpkg-deb -x: the maintainer scripts create a
system user, which a test must not do to the machine) and runs what it
unpacked: the daemon checks the default config, the unit verifies."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if not shutil.which("dpkg-deb") or not shutil.which("dpkg-shlibdeps"):
        pytest.fail("dpkg-deb/dpkg-shlibdeps missing: apt-get install dpkg-dev (deploy/deps.sh)")
    out = tmp_path_factory.mktemp("deb")
    r = subprocess.run([os.path.join(ROOT, "deploy", "build-deb.sh"), str(out / "pkg"),
                        str(out / "build")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    path = r.stdout.strip().splitlines()[-1]
    assert path.endswith("_amd64.deb") or path.endswith(".deb")
    return {"path": path, "dir": out}


def dpkg_deb(*args):
    r = subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_control_data(deb):
    fields = dict(re.findall(r"^ ?([A-Za-z-]+): (.*)$", dpkg_deb("-I", deb["path"]), re.M))
    assert fields["Package"] == "plantroom"
    depends = fields["Depends"]
    for lib in ("adduser", "libuv1", "libmodbus5", "libsqlite3-0", "libcjson1", "libpaho-mqtt1.3",
                "libsystemd0", "libmicrohttpd12"):
        assert lib in depends, depends
    assert dpkg_deb("-f", deb["path"], "Version").strip() == "0.1.0"
    info = dpkg_deb("-I", deb["path"])
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        assert script in info
    assert dpkg_deb("-I", deb["path"], "conffiles").split() == ["/etc/plantroom/plantroom.json"]
    postinst = dpkg_deb("-I", deb["path"], "postinst")
    assert "adduser --system" in postinst
    assert "install -d -o plantroom -g plantroom -m 0750 /var/lib/plantroom" in postinst
    for script in ("postinst", "prerm", "postrm"):
        text = dpkg_deb("-I", deb["path"], script)
        r = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True)
        assert r.returncode == 0, f"{script}: {r.stderr}"


def test_contents_where_debian_expects_them(deb):
    listing = dpkg_deb("-c", deb["path"])
    entries = {}
    for line in listing.splitlines():
        parts = line.split()
        entries[parts[5].lstrip(".").rstrip("/") or "/"] = parts[0]
    for path in ("/usr/sbin/plantroomd", "/usr/bin/plantroomctl"):
        assert entries[path].startswith("-rwxr-xr-x"), path
    assert "/usr/share/plantroom/profiles/elevator.json" in entries
    assert "/usr/share/plantroom/profiles/energy_meter_sdm630.json" in entries
    assert entries["/etc/plantroom/plantroom.json"] == "-rw-r-----"
    assert "/lib/systemd/system/plantroomd.service" in entries
    assert entries["/var/lib/plantroom"] == "drwxr-x---"
    assert "/usr/share/doc/plantroom/operations.md" in entries
    assert "/usr/share/doc/plantroom/security.md" in entries
    assert "/usr/share/doc/plantroom/examples/mosquitto/plantroom.acl" in entries
    assert not any(p.startswith("/usr/local") for p in entries)
    assert "/usr/bin/plantroom-sim" not in entries


def test_unpacked_daemon_checks_the_default_config_and_the_unit_verifies(deb):
    root = deb["dir"] / "root"
    dpkg_deb("-x", deb["path"], str(root))
    cfg = json.loads((root / "etc/plantroom/plantroom.json").read_text())
    assert cfg["profiles_dir"] == "/usr/share/plantroom/profiles"
    assert cfg["state_dir"] == "/var/lib/plantroom"
    assert cfg["metrics"] == {"enabled": True, "address": "127.0.0.1", "port": 9464}
    # The installed paths, moved into the scratch root.
    cfg["profiles_dir"] = str(root / "usr/share/plantroom/profiles")
    scratch = deb["dir"] / "scratch.json"
    scratch.write_text(json.dumps(cfg))
    r = subprocess.run([str(root / "usr/sbin/plantroomd"), "--check-config", str(scratch)],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PLANTROOM_STATE_DIR=str(deb["dir"] / "state")))
    assert r.returncode == 0, r.stderr
    assert (f"ok: site demo-tower, {len(cfg['buses'])} buses, {len(cfg['devices'])} devices"
            in r.stdout)
    r = subprocess.run([str(root / "usr/bin/plantroomctl"), "--version"], capture_output=True,
                       text=True, timeout=30)
    assert r.stdout.strip() == "plantroomctl 0.1.0"

    unit = (root / "lib/systemd/system/plantroomd.service").read_text()
    assert "ExecStart=/usr/sbin/plantroomd --config /etc/plantroom/plantroom.json" in unit
    local = deb["dir"] / "plantroomd.service"
    local.write_text(unit.replace("/usr/sbin/plantroomd", str(root / "usr/sbin/plantroomd")))
    r = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr
