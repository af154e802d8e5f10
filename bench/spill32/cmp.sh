#!/bin/bash
# usage: cmp.sh NAME SNAP args...   records prog-A (main's runtime) and prog-B (this branch), ingests each with
# its own heaptrail, dumps events with pcs symbolised and tids renumbered by first appearance, diffs.
set -e
cd /tmp/spill32
n=$1; snap=$2; shift 2
HA=/var/cache/heaptrail-bench/ht-build-91239de/bin/heaptrail; HB=/work/wt/spill32/build/bin/heaptrail
Q="select e.seq,e.kind,e.tid,e.addr,e.size,e.old_addr,e.value,e.old_value,e.site,coalesce(p.file||':'||p.line||':'||p.col||':'||p.func, e.pc),e.a,e.b,e.c,case when e.pc is not null then 'pc' else e.d end from events e left join pcs p on p.pc=e.pc and p.run_id=e.run_id order by e.run_id, e.seq"
for v in A B; do
  rm -rf $n-$v.db $n-$v.db.spill
  HEAPTRAIL_SNAPSHOT=$snap HEAPTRAIL_TRACE=$PWD/$n-$v.db setarch -R ./$n-$v "$@" >/dev/null
  H=$HA; [ $v = B ] && H=$HB
  $H ingest $n-$v.db >/dev/null
  $H sql $n-$v.db "$Q" | python3 -c '
import sys
m={}
for l in sys.stdin:
    f=l.rstrip("\n").split("|")
    f[2]=str(m.setdefault(f[2],len(m)))
    print("|".join(f))' > $n-$v.txt
  $H sql $n-$v.db "select events, torn, overflow_events, status from runs" > $n-$v.runs
done
wc -l $n-A.txt $n-B.txt | head -2
cmp $n-A.txt $n-B.txt && cmp $n-A.runs $n-B.runs && echo "IDENTICAL $n snap=$snap $*: $(cat $n-B.runs)"
