#!/bin/sh
# Security check (issue 7): heaptrail never runs a shell, so no user-supplied
# string can be interpreted by one. Fails if the code that ships (cli/,
# store/, replay/, common/, analyzer/ incl. the runtime and heaptrail-cc)
# calls system(), popen(), the exec*() forms that search or build a shell
# command line through /bin/sh, or mentions "sh -c". Tests and scripts may
# use a shell with fixed strings and are not checked.
#   scripts/check-no-shell.sh [SOURCE_ROOT]
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
hits=$(grep -rnE '\b(system|popen|wordexp)[[:space:]]*\(|"(/bin/)?sh"|sh -c' \
    --include='*.c' --include='*.h' --include='*.in' \
    "$root/cli" "$root/store" "$root/replay" "$root/common" "$root/analyzer" \
    2>/dev/null | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')
if [ -n "$hits" ]; then
    echo "check-no-shell: shell invocation in shipped code:" >&2
    echo "$hits" >&2
    exit 1
fi
echo "check-no-shell: no system/popen/sh -c in cli store replay common analyzer"
