#!/bin/sh
# One command: install what is missing, build, run every test.
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh
sh scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
