#!/usr/bin/env bash
# examples/python-numpy: check, then run, and compare the output with expected/.
set -euo pipefail
sluice=$1 example=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$sluice" check "$example/flow.yaml"
OUT_DIR=$out "$sluice" run "$example/flow.yaml" 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }
diff -u "$example/expected/scores.jsonl" "$out/scores.jsonl"
# Vector d has the wrong length: it failed alone and was dropped, saying why.
grep -Eq '^score +map +6 +5 +1 +1 ' "$out/stderr" || { cat "$out/stderr"; exit 1; }
grep -q 'ValueError: vector d has 2 values, the weights 4' "$out/stderr" || { cat "$out/stderr"; exit 1; }
echo "python-numpy: ok"
