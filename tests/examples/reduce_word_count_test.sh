#!/usr/bin/env bash
# examples/reduce-word-count: a streaming flow, so it does not end by itself. Runs a
# copy of the example in the background, waits until the output holds every window's
# result (the last window closes at the end of the generator's input), then stops it
# with SIGTERM (exit code 0) and compares the output with expected/ exactly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"

flow=$out/flow
mkdir "$flow"
cp "$example"/{flow.yaml,words.py} "$flow"/
"$sluice" check "$flow/flow.yaml"

pid=
trap '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT
fail() {
  echo "FAIL: $*"
  echo "--- word-counts.jsonl"; cat "$out/word-counts.jsonl" 2>/dev/null || true
  echo "--- stderr"; cat "$out/stderr"
  exit 1
}

OUT_DIR=$out "$sluice" run "$flow/flow.yaml" 2>"$out/stderr" &
pid=$!
expected_lines=$(wc -l <"$example/expected/word-counts.jsonl")
# 12 sentences at 4 a second take 3 s; poll every 0.1 s for up to 60 s (a loaded machine).
for _ in $(seq 600); do
  [ -f "$out/word-counts.jsonl" ] && [ "$(wc -l <"$out/word-counts.jsonl")" -ge "$expected_lines" ] && break
  kill -0 "$pid" 2>/dev/null || fail "sluice exited before writing every window"
  sleep 0.1
done
# Streaming: the flow is still up after its input ended.
kill -0 "$pid" 2>/dev/null || fail "sluice exited by itself"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "sluice exited $rc after SIGTERM"
diff -u "$example/expected/word-counts.jsonl" "$out/word-counts.jsonl" || fail "output differs"
echo "reduce-word-count: ok"
