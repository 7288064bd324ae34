#!/usr/bin/env bash
# deploy/build-deb.sh OUTDIR [BUILDDIR]: build the Debian package of
# plantroom: configure a packaging build (prefix /usr, so the config goes to
# /etc/plantroom and the unit to /lib/systemd/system; no tests) with
# Debian's build flags (dpkg-buildflags, all hardening: fortify, stack
# protector, relro and bindnow), build it, and run CPack (stripped
# programs, man pages, copyright, changelog). Prints the path of the .deb.
# Needs dpkg-dev (dpkg-shlibdeps, dpkg-buildflags) and scdoc (man pages).
# A BUILDDIR kept between runs makes a rebuild incremental (seconds).
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: build-deb.sh OUTDIR [BUILDDIR]}
BUILD=${2:-$ROOT/build-deb}
command -v scdoc >/dev/null || { echo "build-deb.sh: scdoc missing (apt-get install scdoc)" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# From the source root, so that -ffile-prefix-map maps it to "."
flags() { (cd "$ROOT" && DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"); }
CFLAGS="$(flags CPPFLAGS) $(flags CFLAGS)"
LDFLAGS=$(flags LDFLAGS)
# No -Werror here: a packaging build with another compiler's new warnings
# still builds; the tests' builds keep -Werror.
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DPLANTROOM_BUILD_TESTS=OFF -DPLANTROOM_SANITIZE=OFF -DPLANTROOM_WERROR=OFF \
  "-DCMAKE_C_FLAGS=$CFLAGS" "-DCMAKE_EXE_LINKER_FLAGS=$LDFLAGS" \
  "-DCMAKE_SHARED_LINKER_FLAGS=$LDFLAGS" >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
rm -f "$OUT"/plantroom_*.deb
(cd "$BUILD" && cpack -G DEB -B "$OUT" >/dev/null)
ls "$OUT"/plantroom_*.deb
