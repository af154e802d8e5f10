#!/bin/sh
# One command: install what is missing, build, run every test.
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh
sh scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"

# Sanitizer pass: every test again in a Debug ASan+UBSan build. The sqlite3
# shell loads the (instrumented) events extension in one e2e test, hence
# verify_asan_link_order=0.
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$ASAN_BUILD_DIR" -DHT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$ASAN_BUILD_DIR" -j "$(nproc)"
# the fault-injection loop tries every 5th N here (every N in the pass above)
HT_FAULT_STRIDE=5 ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure -j "$(nproc)"

# Fuzz smoke: 5 s per libFuzzer target; skipped (status 77) when clang with
# libFuzzer is not available.
rc=0
sh fuzz/run 5 || rc=$?
if [ "$rc" -eq 77 ]; then
    echo "heaptrail: clang/libFuzzer unavailable, fuzz smoke skipped" >&2
elif [ "$rc" -ne 0 ]; then
    exit "$rc"
fi
