#!/bin/bash
# (h-rec7) VARS="b0T t9T" P=bm snapt.sh ROUNDS ARGS: alternate ./$P$v ARGS (timed.py builds), median snapshot CPU per variant
# snapt.sh ROUNDS ARGS... -- binaries' suffixes given in $VARS, prog prefix in $P
R=$1; shift
for i in $(seq $R); do for v in $VARS; do rm -rf /tmp/rec7/s.db*; HEAPTRAIL_TRACE=/tmp/rec7/s.db ./$P$v "$@" 2>&1 >/dev/null | grep snapus | sed "s/^/$v /"; done; done | awk '{a[$1]=a[$1]" "$3} END{for(k in a) print k, a[k]}' | while read k rest; do echo "$k median $(echo $rest | tr ' ' '\n' | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}') us: $rest"; done
rm -rf /tmp/rec7/s.db*
