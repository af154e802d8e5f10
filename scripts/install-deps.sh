#!/bin/sh
# Install the Debian packages heaptrail needs, only those missing.
set -eu
PKGS="gcc make cmake pkg-config libclang-14-dev libsqlite3-dev sqlite3
      libcmocka-dev libdw-dev libelf-dev libzstd-dev clang libclang-rt-14-dev
      ccache binutils"
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
