#!/bin/sh
# One command: install what is missing, build heaptrail, then instrument the
# bundled sample, run it, replay it and print the report.
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh
sh scripts/build.sh
B=${BUILD_DIR:-build}/bin
OUT=${DEMO_DIR:-demo-out}
mkdir -p "$OUT"
rm -rf "$OUT/trace.db" "$OUT/trace.db.spill"
echo "== instrument: heaptrail-cc samples/demo/leaky.c"
"$B/heaptrail-cc" -O2 -o "$OUT/leaky" samples/demo/leaky.c
echo "== run: heaptrail run -o $OUT/trace.db -- $OUT/leaky"
HEAPTRAIL_SNAPSHOT=1 "$B/heaptrail" run -o "$OUT/trace.db" -- "$OUT/leaky"
echo "== replay + report"
"$B/heaptrail" replay "$OUT/trace.db"
"$B/heaptrail" report "$OUT/trace.db"
echo "== query: heaptrail sql $OUT/trace.db \"SELECT kind, count(*) FROM events GROUP BY kind\""
"$B/heaptrail" sql "$OUT/trace.db" "SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind"
