#!/usr/bin/env bash
# deploy/deps.sh: install the Debian 12 packages plantroom needs to build,
# run its demo and run its tests; only what is missing, so it is quick when
# everything is there. Uses sudo when not run as root.
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config
  libuv1-dev libmodbus-dev libpaho-mqtt-dev libssl-dev libsqlite3-dev libcjson-dev
  # service: sd_notify/watchdog, the Prometheus endpoint; the .deb (cpack, dpkg-shlibdeps)
  libsystemd-dev libmicrohttpd-dev dpkg-dev
  # webhooks
  libcurl4-openssl-dev
  # demo and tests: a real broker and clients, Modbus peers, serial ptys
  mosquitto mosquitto-clients sqlite3 mbpoll socat openssl
  # systemd-analyze verify and security on the unit
  systemd
  # promtool check metrics on the real /metrics (test_metrics_prom.py)
  prometheus
  # man pages (scdoc), rendered in a test (man-db's man -l); lintian on the .deb
  scdoc man-db lintian
  # wall-clock steps under a running daemon (libfaketime)
  faketime
  # the sanitizer pass (UBSan's float-cast-overflow) and fuzzing (libFuzzer's runtime)
  clang libclang-rt-dev
  # the unit's system-call filter, applied in a test without systemd (tests/sandbox)
  libseccomp-dev
  python3 python3-pytest python3-paho-mqtt python3-pymodbus
  python3-jinja2  # Home Assistant templates rendered in test_mqtt_hass.py
  python3-serial-asyncio  # pymodbus's RTU server (only recommended by python3-pymodbus)
  # the monthly report: rendered by a browser, mailed through msmtp to a local
  # SMTP server, its HTML and SVG parsed (tests); a font for the renders
  chromium msmtp python3-aiosmtpd python3-lxml fonts-dejavu-core
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
