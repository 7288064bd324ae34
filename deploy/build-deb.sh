#!/usr/bin/env bash
# deploy/build-deb.sh OUTDIR [BUILDDIR]: build the Debian package of
# plantroom: configure a packaging build (prefix /usr, so the config goes to
# /etc/plantroom and the unit to /lib/systemd/system; no tests), build it,
# and run CPack. Prints the path of the .deb. Needs dpkg-dev (dpkg-shlibdeps).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: build-deb.sh OUTDIR [BUILDDIR]}
BUILD=${2:-$ROOT/build-deb}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DPLANTROOM_BUILD_TESTS=OFF -DPLANTROOM_SANITIZE=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
(cd "$BUILD" && cpack -G DEB -B "$OUT" >/dev/null)
ls "$OUT"/plantroom_*.deb
