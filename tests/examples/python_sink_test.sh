#!/usr/bin/env bash
# examples/python-sink: check, then run, and compare both outputs with expected/.
set -euo pipefail
sluice=$1 example=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$sluice" check "$example/flow.yaml"
OUT_DIR=$out "$sluice" run "$example/flow.yaml" 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }
diff -u "$example/expected/ledger.csv" "$out/ledger.csv"
diff -u "$example/expected/rejected.jsonl" "$out/rejected.jsonl"
# The summary counts the two orders the sink sent to the fallback as failed.
grep -Eq '^ledger +sink +6 +- +0 +2 ' "$out/stderr" || { cat "$out/stderr"; exit 1; }
echo "python-sink: ok"
