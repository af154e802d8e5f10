#!/bin/bash
# same.sh NAME SNAP args: record prog-B once; ingest its v2 spill with this branch and the same run rewritten as
# version 1 (v2to1.py) with main's heaptrail; the events dumps (raw, no normalisation) must be identical.
set -e
cd /tmp/spill32
n=$1; snap=$2; shift 2
HA=/var/cache/heaptrail-bench/ht-build-91239de/bin/heaptrail; HB=/work/wt/spill32/build/bin/heaptrail
rm -rf s2.db s2.db.spill s1.db s1.db.spill
HEAPTRAIL_SNAPSHOT=$snap HEAPTRAIL_TRACE=$PWD/s2.db ./$n-B "$@" >/dev/null
mkdir s1.db.spill; f=$(ls s2.db.spill); python3 v2to1.py s2.db.spill/$f s1.db.spill/$f
$HA ingest s1.db >/dev/null; $HB ingest s2.db >/dev/null
Q="select * from events order by run_id, seq"
$HA sql s1.db "$Q" > s1.txt; $HB sql s2.db "$Q" > s2.txt
R="select pid,events,torn,overflow_events,status,complete from runs"
$HA sql s1.db "$R" > s1.runs; $HB sql s2.db "$R" > s2.runs
wc -l < s2.txt; grep -c '|root|.*|18446744073709551615|' s2.txt || true
cmp s1.txt s2.txt && cmp s1.runs s2.runs && echo "IDENTICAL $n snap=$snap $*: $(cat s2.runs)"
