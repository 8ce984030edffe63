#!/usr/bin/env bash
# examples/python-map: check, then run, and compare both outputs with expected/.
set -euo pipefail
sluice=$1 example=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$sluice" check "$example/flow.yaml"
OUT_DIR=$out "$sluice" run "$example/flow.yaml" 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }
diff -u "$example/expected/big-orders.jsonl" "$out/big-orders.jsonl"
diff -u "$example/expected/small-orders.jsonl" "$out/small-orders.jsonl"
# The summary counts the two test orders the handler filtered out.
grep -Eq '^price +map +8 +6 +2 +0 ' "$out/stderr" || { cat "$out/stderr"; exit 1; }
echo "python-map: ok"
