#!/bin/sh
# Regenerate tests/replay/fixtures/gc/<major.minor>.txt from every pyenv
# CPython 3.8+ interpreter installed. Run from the repository root.
set -eu
root=$(pyenv root)
for py in "$root"/versions/3.*/bin/python3; do
    full=$(basename "$(dirname "$(dirname "$py")")")
    minor=${full%.*}
    case $minor in 3.[0-7]) continue ;; esac
    "$py" tools/gc_golden/gc_golden.py > "tests/replay/fixtures/gc/$minor.txt"
    echo "wrote tests/replay/fixtures/gc/$minor.txt ($full)"
done
