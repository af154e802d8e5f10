#!/bin/sh
# Install the Debian packages heaptrail needs, only those missing.
set -eu
PKGS="gcc make cmake pkg-config libclang-14-dev libsqlite3-dev sqlite3 zlib1g-dev
      libcmocka-dev libdw-dev libelf-dev libzstd-dev clang libclang-rt-14-dev
      libjansson-dev ccache binutils"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "heaptrail: installing:$missing" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
# chromium: only the HTML report's headless-browser test uses it; if it
# cannot be installed, that test is skipped (exit 77) instead of failing.
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "heaptrail: installing: chromium (for the HTML report test)" >&2
    { $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; } ||
        echo "heaptrail: note: chromium could not be installed; the headless-browser test will be skipped" >&2
fi
# node + npm: only the SARIF schema test uses them (its validator comes from
# the npm registry, scripts/install-sarif-validator.sh); best effort like
# chromium: without them that test is skipped.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "heaptrail: installing: nodejs npm (for the SARIF schema test)" >&2
    { $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null; } ||
        echo "heaptrail: note: node/npm could not be installed; the SARIF schema test will be skipped" >&2
fi
