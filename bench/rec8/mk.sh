#!/bin/sh
# (h-rec8) copied from bench/rec7 with paths for /tmp/rec8; mk.sh NAME RT.C builds bm$NAME and rl$NAME
# (h-rec7) build bm$N / rl$N / from a runtime source with the flags of heaptrail_rt, for A/B runs in /tmp/rec7
# mk.sh NAME RT.C : build bm$NAME and rl$NAME with that runtime source
set -e
N=$1; SRC=$2
cc -I/work/wt/rec8/include -O2 -g -DNDEBUG -fPIC -Wall -Wextra -Werror -fno-builtin -fno-optimize-sibling-calls -std=gnu11 -c $SRC -o rt$N.o
W=$(tr '\n' ' ' < /work/wt/rec8/analyzer/runtime/wrap-flags.txt)
cc -O2 -o bm$N /var/cache/heaptrail-bench/build/micro-ht-alloc/bench_micro.o rt$N.o $W -lpthread -ldl
cc -O2 -g -rdynamic -o rl$N /var/cache/heaptrail-bench/build/libyaml-ht-alloc/tests/CMakeFiles/run-loader.dir/run-loader.c.o /var/cache/heaptrail-bench/build/libyaml-ht-alloc/libyaml.a rt$N.o $W -lpthread -ldl
