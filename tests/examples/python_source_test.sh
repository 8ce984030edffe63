#!/usr/bin/env bash
# examples/python-source: check, then run both flows, and compare the outputs (the
# events, the checkpoint the source's acks built, the countdown) with expected/.
set -euo pipefail
sluice=$1 example=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for flow in flow.yaml countdown.yaml; do
  "$sluice" check "$example/$flow"
  OUT_DIR=$out "$sluice" run "$example/$flow" 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }
done
diff -u "$example/expected/events.txt" "$out/events.txt"
diff -u "$example/expected/checkpoint.txt" "$out/checkpoint.txt"
diff -u "$example/expected/countdown.txt" "$out/countdown.txt"
echo "python-source: ok"
