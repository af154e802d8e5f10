#!/bin/sh
# (h-rec8) tc.sh ROUNDS bm|rl ARGS: alternating At/Ct runs (runtimes with addtc.py: main-thread and process CPU printed at exit), sorted values
# tc.sh ROUNDS ARGS...: per variant, median main-thread CPU and process CPU (us) at exit
R=$1; shift; K=$1; shift
for v in At Bt Pt; do :; done
for i in $(seq $R); do for v in At Ct; do rm -rf /tmp/rec8/r.db*; HEAPTRAIL_TRACE=/tmp/rec8/r.db ./$K$v "$@" 2>&1 >/dev/null | grep TC | sed "s/^/$v /"; done; done | sort | awk '{k=$1; t[k]=t[k]" "$3; p[k]=p[k]" "$4} END {for (k in t) print k, "thread", t[k], "| process", p[k]}'
