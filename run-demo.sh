#!/bin/sh
# One command: install what is missing, build heaptrail, then run
# `heaptrail demo`: instrument the bundled tour sample (samples/demo/tour.c),
# run it, replay it, print the report and write DEMO_DIR/report.html.
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh
sh scripts/build.sh
B=${BUILD_DIR:-build}/bin
OUT=${DEMO_DIR:-demo-out}
"$B/heaptrail" demo -o "$OUT"
echo "== query: heaptrail sql $OUT/trace.db \"SELECT kind, count(*) FROM events GROUP BY kind\""
"$B/heaptrail" sql "$OUT/trace.db" "SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind"
