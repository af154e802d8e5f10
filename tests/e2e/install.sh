#!/bin/sh
# E2E: `cmake --install` gives a working, relocatable heaptrail: the tree is
# installed under a temp prefix, moved elsewhere, then the installed
# heaptrail-cc builds a program against the installed runtime archive (found
# from its own path), `heaptrail run` records it, `heaptrail report` gives
# its exact leaks, `heaptrail analyze` runs the installed heaptrail-analyze,
# and the runtime's header compiles.
# usage: install.sh CMAKE BUILD_DIR BINDIR LIBDIR INCLUDEDIR CC
set -eu
cmake=$1 build=$2 bindir=$3 libdir=$4 incdir=$5 cc=$6
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ht_install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test: $*" >&2; exit 1; }
expect() { # expect FILE LINE: LINE is one whole line of FILE
    grep -qxF -- "$2" "$1" || { cat "$1" >&2; fail "$1 lacks: $2"; }
}
unset HEAPTRAIL_RT_LIB HEAPTRAIL_CC HEAPTRAIL_OPTS HEAPTRAIL_CONFIG
"$cmake" --install "$build" --prefix "$tmp/p" > "$tmp/install.log"
mv "$tmp/p" "$tmp/q" # relocated: nothing may point into the first prefix
q=$tmp/q
for f in "$bindir/heaptrail" "$bindir/heaptrail-cc" "$bindir/heaptrail-analyze" \
         "$libdir/libheaptrail_rt.a" "$libdir/libheaptrail_sqlite.so" \
         "$incdir/heaptrail/rt.h" share/heaptrail/samples/demo/tour.c; do
    [ -f "$q/$f" ] || fail "$f not installed"
done
HEAPTRAIL_REAL_CC=$cc "$q/$bindir/heaptrail-cc" --print-link-flags > "$tmp/flags"
case $(cat "$tmp/flags") in
*" $q/$libdir/libheaptrail_rt.a -lpthread -ldl") ;;
*) fail "link flags do not name the installed runtime: $(cat "$tmp/flags")" ;;
esac
cd "$tmp"
cat > t.c <<'C'
#include <stdlib.h>
struct node { struct node *next; int v; };
int main(void)
{
    struct node *a = malloc(sizeof *a);
    a->next = malloc(sizeof *a);
    a->next->next = NULL;
    a = NULL;
    free(malloc(100));
    return 0;
}
C
export HEAPTRAIL_REAL_CC="$cc"
"$q/$bindir/heaptrail-cc" -O0 -c t.c -o t.o 2> cc.err
[ ! -s cc.err ] || { cat cc.err >&2; fail "heaptrail-cc warned"; }
"$q/$bindir/heaptrail-cc" -o t t.o
"$q/$bindir/heaptrail" run -o t.db -- ./t
"$q/$bindir/heaptrail" report t.db > report.txt
expect report.txt "   definitely lost: 16 bytes in 1 blocks"
expect report.txt "   indirectly lost: 16 bytes in 1 blocks"
expect report.txt "  16 bytes in 1 blocks definitely lost, allocated at $tmp/t.c:5:22 main"
printf '[{"directory":"%s","command":"%s -c t.c -o t.o","file":"t.c"}]' \
    "$tmp" "$cc" > compile_commands.json
"$q/$bindir/heaptrail" analyze -p compile_commands.json > analyze.txt
expect analyze.txt "heaptrail analyze: 1 source files parsed, 0 failed"
expect analyze.txt "  store                 2"
printf '#include <heaptrail/rt.h>\nint main(void) { return 0; }\n' > h.c
"$cc" -std=c11 -Wall -Werror -I"$q/$incdir" -fsyntax-only h.c
echo "install test: ok"
