#!/bin/bash
# usage: run.sh ROUNDS > out.txt ; recording-only A/B of the spill format (DECISIONS 32).
# In /tmp/spill32: micro-{A,B} = bench_micro.o of micro-ht-alloc, yaml-{A,B} = libyaml run-loader, linked by
# heaptrail-cc of main 91239de (A: 48 B records) and of this branch (B: 32 B slots); see bench/RESULTS.md.
# Output lines: name snap round wall user sys minflt; `uptime` before each round.
cd /tmp/spill32
B=/var/cache/heaptrail-bench/build
Y=/var/cache/heaptrail-bench/inputs/big-8000.yaml
one() { # name snap cmd...
  local n=$1 s=$2; shift 2
  rm -rf x.db x.db.spill
  HEAPTRAIL_TRACE=$PWD/x.db HEAPTRAIL_SNAPSHOT=$s /usr/bin/time -o t.txt -f "%e %U %S %R" "$@" >/dev/null 2>&1 <&-
  echo "$n $s $r $(cat t.txt)"
  rm -rf x.db x.db.spill
}
nat() { local n=$1; shift; /usr/bin/time -o t.txt -f "%e %U %S %R" "$@" >/dev/null 2>&1; echo "$n - $r $(cat t.txt)"; }
for r in $(seq 1 $1); do
  echo "# $(uptime)"
  if [ $((r%2)) = 1 ]; then o="A B"; else o="B A"; fi
  for s in 0 1; do
    for v in $o; do one micro-$v $s ./micro-$v small 1500000; done
    for v in $o; do one yaml-$v $s ./yaml-$v $Y; done
  done
  nat micro-native $B/micro-native/bench_micro small 1500000
  nat yaml-native $B/libyaml-native/run-loader $Y
done
