#!/bin/bash
# ingest.sh ROUNDS: `heaptrail ingest` of one recorded spill per (workload, build): A = main 91239de's runtime +
# heaptrail, B = this branch's; spills recorded with HEAPTRAIL_SPILL_MAX=1 GiB (so that cachegrind can map them),
# HEAPTRAIL_SNAPSHOT=0. Prints cachegrind instructions once, then ROUNDS alternating timed ingests (cp -a of the
# spill dir before each), lines: name round wall user sys. `ingest.sh N time`: only the timed rounds (spills kept).
cd /tmp/spill32
HA=/var/cache/heaptrail-bench/ht-build-91239de/bin/heaptrail; HB=/work/wt/spill32/build/bin/heaptrail
declare -A args=([small]="small 1500000" [threads]="threads 800000")
for w in small threads; do
  [ "${2:-}" = time ] && break
  for v in A B; do
    rm -rf ig-$w-$v.db*
    HEAPTRAIL_SPILL_MAX=1073741824 HEAPTRAIL_SNAPSHOT=0 HEAPTRAIL_TRACE=$PWD/ig-$w-$v.db ./micro-$v ${args[$w]} >/dev/null
    mv ig-$w-$v.db.spill keep-$w-$v.spill
    H=$HA; [ $v = B ] && H=$HB
    rm -rf cg.db*; cp -a keep-$w-$v.spill cg.db.spill
    echo "cachegrind $w $v $(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null $H ingest cg.db 2>&1 | grep 'I *refs' | sed 's/.*refs: *//')"
  done
done
for r in $(seq 1 $1); do
  echo "# $(uptime)"
  if [ $((r%2)) = 1 ]; then o="A B"; else o="B A"; fi
  for w in small threads; do for v in $o; do
    H=$HA; [ $v = B ] && H=$HB
    rm -rf t.db*; cp -a keep-$w-$v.spill t.db.spill; sync
    /usr/bin/time -o tt.txt -f "%e %U %S" $H ingest t.db >/dev/null 2>&1
    echo "ingest-$w-$v $r $(cat tt.txt)"
  done; done
done
rm -rf t.db* cg.db*
