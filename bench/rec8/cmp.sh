#!/bin/bash
# (h-rec7, after bench/spill32/cmp.sh) usage: cmp.sh A B args...   records ./A and ./B under setarch -R, ingests with main's heaptrail,
# dumps events with pcs symbolised and tids renumbered, diffs.
cd /tmp/rec8
a=$1; b=$2; shift 2
H=/var/cache/heaptrail-bench/ht-build-fccd799/bin/heaptrail
Q="select e.seq,e.kind,e.tid,e.addr,e.size,e.old_addr,e.value,e.old_value,e.site,coalesce(p.file||':'||p.line||':'||p.col||':'||p.func, e.pc),e.a,e.b,e.c,case when e.pc is not null then 'pc' else e.d end from events e left join pcs p on p.pc=e.pc and p.run_id=e.run_id order by e.run_id, e.seq"
for v in $a $b; do
  rm -rf cmp-$v.db cmp-$v.db.spill
  HEAPTRAIL_TRACE=$PWD/cmp-$v.db setarch -R ./$v "$@" >/dev/null
  $H ingest cmp-$v.db >/dev/null
  $H sql cmp-$v.db "$Q" | python3 -c '
import sys
m={}
for l in sys.stdin:
    f=l.rstrip("\n").split("|")
    f[2]=str(m.setdefault(f[2],len(m)))
    print("|".join(f))' > cmp-$v.txt
  $H sql cmp-$v.db "select events, torn, overflow_events, status from runs" > cmp-$v.runs
  rm -rf cmp-$v.db cmp-$v.db.spill
done
echo "edges: $(grep -c '^[0-9]*|edge|' cmp-$a.txt) $(grep -c '^[0-9]*|edge|' cmp-$b.txt)"
wc -l cmp-$a.txt cmp-$b.txt | head -2
cmp cmp-$a.txt cmp-$b.txt && cmp cmp-$a.runs cmp-$b.runs && echo "IDENTICAL $a $b $*: $(cat cmp-$b.runs)"
