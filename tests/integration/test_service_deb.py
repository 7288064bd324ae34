# SPDX-License-Identifier: Apache-2.0
"""The Debian package: deploy/build-deb.sh builds it (a packaging build with
prefix /usr and Debian's hardening flags, then CPack) in a build tree kept
next to this build (<build>/deb-build: a rerun is incremental); the tests
check its control data and contents, run lintian on it (0 errors, at most 2
warnings, every override with its reason), unpack it into a scratch root
(dpkg-deb -x) and run what they unpacked: the daemon checks the default
config, the unit verifies. Then the real install: dpkg -i in a chroot of a
copy-on-write overlay of this machine's root, in a private mount namespace
(the maintainer scripts create a system user, which a test must not do to
the machine), where systemd does not run: the service is enabled all the
same (deb-systemd-helper's symlink), and purge takes it all back."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if not shutil.which("dpkg-deb") or not shutil.which("dpkg-shlibdeps"):
        pytest.fail("dpkg-deb/dpkg-shlibdeps missing: apt-get install dpkg-dev (deploy/deps.sh)")
    out = tmp_path_factory.mktemp("deb")
    build = os.path.join(os.path.dirname(os.path.abspath(BIN)), "deb-build")
    r = subprocess.run([os.path.join(ROOT, "deploy", "build-deb.sh"), str(out / "pkg"), build],
                       capture_output=True, text=True, timeout=600)
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
    for lib in ("adduser", "init-system-helpers", "libuv1", "libmodbus5", "libsqlite3-0",
                "libcjson1", "libpaho-mqtt1.3", "libsystemd0", "libmicrohttpd12"):
        assert lib in depends, depends
    assert dpkg_deb("-f", deb["path"], "Version").strip() == "0.1.0-1"
    assert dpkg_deb("-f", deb["path"], "Maintainer").strip() == (
        "plantroom maintainers <maintainers@plantroom.org>")
    info = dpkg_deb("-I", deb["path"])
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        assert script in info
    assert dpkg_deb("-I", deb["path"], "conffiles").split() == ["/etc/plantroom/plantroom.json"]
    postinst = dpkg_deb("-I", deb["path"], "postinst")
    assert "adduser --system" in postinst
    assert "install -d -o plantroom -g plantroom -m 0750 /var/lib/plantroom" in postinst
    # the unit as dh_installsystemd handles it: enabled by deb-systemd-helper
    # (also without a running systemd), started by deb-systemd-invoke
    assert "deb-systemd-helper enable plantroomd.service" in postinst
    assert "deb-systemd-invoke start plantroomd.service" in postinst
    for script in ("postinst", "prerm", "postrm"):
        text = dpkg_deb("-I", deb["path"], script)
        calls = [ln for ln in text.splitlines()
                 if re.match(r"\s*systemctl\b", ln) and "daemon-reload" not in ln]
        assert not calls, f"{script} calls systemctl: {calls}"
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
    # Debian's standard modes in the package; postinst narrows the config
    # and makes the state directory (the chroot test below)
    assert entries["/etc/plantroom/plantroom.json"] == "-rw-r--r--"
    assert "/var/lib/plantroom" not in entries
    for path, mode in entries.items():
        assert mode in ("drwxr-xr-x", "-rw-r--r--", "-rwxr-xr-x"), (path, mode)
    assert "/lib/systemd/system/plantroomd.service" in entries
    for doc in ("README.md", "operations.md", "configuration.md", "mqtt.md", "profiles.md",
                "hooks.md", "architecture.md", "performance.md", "security.md", "copyright",
                "changelog.Debian.gz"):
        assert f"/usr/share/doc/plantroom/{doc}" in entries, doc
    for man in ("man8/plantroomd.8.gz", "man1/plantroomctl.1.gz", "man5/plantroom.json.5.gz"):
        assert f"/usr/share/man/{man}" in entries, man
    assert "/usr/share/bash-completion/completions/plantroomctl" in entries
    assert "/usr/share/lintian/overrides/plantroom" in entries
    assert entries["/usr/libexec/plantroom/sms-print.sh"].startswith("-rwxr-xr-x")
    assert "/usr/share/doc/plantroom/examples/mosquitto/plantroom.acl" in entries
    assert not any(p.startswith("/usr/local") for p in entries)
    assert "/usr/bin/plantroom-sim" not in entries


def unpacked(deb):
    root = deb["dir"] / "root"
    if not root.exists():
        dpkg_deb("-x", deb["path"], str(root))
    return root


def test_programs_stripped_and_hardened(deb):
    """dpkg-buildflags' hardening reached the link: BIND_NOW, fortified libc
    calls; and the programs are stripped as dh_strip does."""
    root = unpacked(deb)
    for prog in ("usr/sbin/plantroomd", "usr/bin/plantroomctl"):
        path = str(root / prog)
        sections = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True,
                                  check=True).stdout
        assert ".symtab" not in sections and ".comment" not in sections, prog
        dynamic = subprocess.run(["readelf", "-d", path], capture_output=True, text=True,
                                 check=True).stdout
        assert re.search(r"FLAGS.*\bBIND_NOW\b|FLAGS_1.*\bNOW\b", dynamic), prog
        assert "GNU_RELRO" in subprocess.run(["readelf", "-lW", path], capture_output=True,
                                             text=True, check=True).stdout, prog
        syms = subprocess.run(["nm", "-D", path], capture_output=True, text=True,
                              check=True).stdout
        assert re.search(r"\b__\w+_chk\b", syms), f"{prog}: no fortified calls"


def test_lintian_clean(deb):
    """lintian (with info tags): no error, at most 2 warnings, no hardening
    tag, and each override carries its reason (the comment above it)."""
    if not shutil.which("lintian"):
        pytest.fail("lintian missing: apt-get install lintian (deploy/deps.sh)")
    r = subprocess.run(["lintian", "--display-info", "--show-overrides", "--pedantic",
                        deb["path"]], capture_output=True, text=True, timeout=300)
    out = r.stdout
    print(out)
    assert r.returncode == 0, out + r.stderr
    tags = re.findall(r"^([EWIPO]): plantroom: (\S+)", out, re.M)
    assert tags, "lintian said nothing: " + out + r.stderr
    assert not [t for k, t in tags if k == "E"], out
    assert len([t for k, t in tags if k == "W"]) <= 2, out
    assert not [t for k, t in tags if t.startswith("hardening-")], out
    for tag in ("no-copyright-file", "no-changelog", "unstripped-binary-or-object",
                "bogus-mail-host", "no-manual-page", "maintainer-script-calls-systemctl",
                "non-standard-dir-perm", "non-standard-file-perm",
                "extended-description-line-too-long"):
        assert tag not in [t for _, t in tags], out
    overrides = [ln for ln in open(os.path.join(ROOT, "deploy/debian/lintian-overrides"))
                 .read().split("\n\n") if re.search(r"^plantroom: ", ln, re.M)]
    assert len(overrides) <= 2
    for block in overrides:
        reason = [ln for ln in block.splitlines() if ln.startswith("#")]
        assert sum(len(ln) for ln in reason) > 40, f"override without a reason: {block}"


CHROOT_SCRIPT = r"""
set -eu
top=$1; deb=$2
# the writable layer on a tmpfs of its own: an overlay's upper directory
# cannot live on an overlay (a container's root)
mkdir -p "$top/rw" "$top/root"
mount -t tmpfs tmpfs "$top/rw"
mkdir "$top/rw/upper" "$top/rw/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$top/rw/upper,workdir=$top/rw/work" "$top/root"
r=$top/root
mount --bind /dev "$r/dev"
mount -t proc proc "$r/proc"
# no systemd here, whatever the machine runs: an image being built
mount -t tmpfs tmpfs "$r/run"
cp "$deb" "$r/tmp/plantroom.deb"
in_root() { chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
in_root dpkg --purge plantroom >/dev/null 2>&1 || true
in_root userdel plantroom >/dev/null 2>&1 || true
in_root groupdel plantroom >/dev/null 2>&1 || true
in_root dpkg -i /tmp/plantroom.deb >&2
echo "== installed"
in_root readlink /etc/systemd/system/multi-user.target.wants/plantroomd.service || echo "no-wants-link"
in_root getent passwd plantroom | cut -d: -f1,6,7
in_root stat -c '%n %a %U:%G' /var/lib/plantroom /etc/plantroom/plantroom.json
in_root plantroomctl --version
in_root dpkg -r plantroom >&2
echo "== removed"
in_root test -e /usr/sbin/plantroomd && echo "program-left" || echo "no-program"
in_root test -e /etc/plantroom/plantroom.json && echo "config-kept" || echo "no-config"
in_root test -d /var/lib/plantroom && echo "state-kept" || echo "no-state-dir"
in_root readlink /etc/systemd/system/plantroomd.service || echo "not-masked"
in_root dpkg -i /tmp/plantroom.deb >&2
echo "== reinstalled"
in_root readlink /etc/systemd/system/multi-user.target.wants/plantroomd.service || echo "no-wants-link"
in_root readlink /etc/systemd/system/plantroomd.service || echo "not-masked"
in_root dpkg --purge plantroom >&2
echo "== purged"
in_root readlink /etc/systemd/system/multi-user.target.wants/plantroomd.service || echo "no-wants-link"
in_root test -e /var/lib/plantroom && echo "state-dir-left" || echo "no-state-dir"
in_root test -L /etc/systemd/system/plantroomd.service && echo "masked" || echo "not-masked"
"""


def test_install_enables_the_service_in_a_chroot_without_systemd(deb, tmp_path):
    if os.geteuid() != 0 or subprocess.run(["unshare", "--mount", "true"],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and CAP_SYS_ADMIN: a mount namespace with an overlay of /")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        CHROOT_SCRIPT, "sh", str(tmp_path), deb["path"]],
                       capture_output=True, text=True, timeout=300)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    rest = r.stdout.split("== installed\n")[1]
    installed, rest = rest.split("== removed\n")
    removed, rest = rest.split("== reinstalled\n")
    reinstalled, purged = rest.split("== purged\n")
    lines = installed.splitlines()
    assert lines[0] == "/lib/systemd/system/plantroomd.service", installed
    assert lines[1] == "plantroom:/var/lib/plantroom:/usr/sbin/nologin", installed
    assert lines[2] == "/var/lib/plantroom 750 plantroom:plantroom", installed
    assert lines[3] == "/etc/plantroom/plantroom.json 640 root:plantroom", installed
    assert lines[4] == "plantroomctl 0.1.0", installed
    # remove: programs gone, config and ledger kept, the unit masked (its
    # enablement remembered); a reinstall unmasks and enables it again
    assert removed.split() == ["no-program", "config-kept", "state-kept", "/dev/null"], removed
    assert reinstalled.split() == ["/lib/systemd/system/plantroomd.service", "not-masked"], \
        reinstalled
    assert purged.split() == ["no-wants-link", "no-state-dir", "not-masked"], purged


def test_unpacked_daemon_checks_the_default_config_and_the_unit_verifies(deb):
    root = unpacked(deb)
    cfg = json.loads((root / "etc/plantroom/plantroom.json").read_text())
    assert cfg["profiles_dir"] == "/usr/share/plantroom/profiles"
    assert cfg["state_dir"] == "/var/lib/plantroom"
    assert cfg["metrics"] == {"enabled": True, "address": "127.0.0.1", "port": 9464}
    # The SMS hook runs the installed script, which prints what it is given.
    argv = cfg["hooks"][0]["argv"]
    assert argv[0] == "/usr/libexec/plantroom/sms-print.sh"
    r = subprocess.run([str(root / argv[0].lstrip("/")), "+8613800000001", "[Demo Tower] test"],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PLANTROOM_SMS_LOG=""))
    assert r.returncode == 0 and r.stderr == "SMS to +8613800000001: [Demo Tower] test\n", r
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
