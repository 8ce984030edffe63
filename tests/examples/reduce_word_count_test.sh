#!/usr/bin/env bash
# examples/reduce-word-count: a streaming flow over a copy of the example. Windows are
# written while it runs, as the watermark passes them (checked: output appears before
# the flow ends); at the end of the generator's input the last window closes and, every
# source having ended, the flow drains and exits 0 by itself. Should it keep running
# instead, it is stopped with SIGTERM once every window is written (exit code 0 too).
#
# The output is compared with expected/ exactly, line for line, except for the order of
# the words within one window: the engine orders them by its internal key encoding
# (shorter keys first), which docs/reduce.md describes as bytewise; both files are put
# into window order, then line order, before the diff. That the output itself is in
# window order is checked separately.
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
lines_of() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# The window's end, then the line: window order, then line order.
by_window() { sed 's/.*"end":"\([^"]*\)".*/\1 &/' "$1" | LC_ALL=C sort | cut -d' ' -f2-; }

OUT_DIR=$out "$sluice" run "$flow/flow.yaml" 2>"$out/stderr" &
pid=$!
expected_lines=$(lines_of "$example/expected/word-counts.jsonl")
# 12 sentences at 4 a second take about 3 s; poll for up to 60 s (a loaded machine).
written_while_running=0
for _ in $(seq 1200); do
  n=$(lines_of "$out/word-counts.jsonl")
  running=1
  kill -0 "$pid" 2>/dev/null || running=0
  [ "$running" = 1 ] && [ "$n" -gt 0 ] && [ "$n" -lt "$expected_lines" ] && written_while_running=1
  [ "$running" = 0 ] || [ "$n" -ge "$expected_lines" ] && break
  sleep 0.05
done
kill -TERM "$pid" 2>/dev/null || true   # if it is still running
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "sluice exited $rc"
[ "$written_while_running" = 1 ] || fail "no window was written before the input ended"
diff -u <(by_window "$example/expected/word-counts.jsonl") <(by_window "$out/word-counts.jsonl") ||
  fail "output differs"
ends=$(sed 's/.*"end":"\([^"]*\)".*/\1/' "$out/word-counts.jsonl")
[ "$ends" = "$(LC_ALL=C sort <<<"$ends")" ] || fail "windows are not written in order of their end"
grep -Eq '^counts +reduce +86 +43 ' "$out/stderr" || fail "summary: not 86 words in, 43 counts out"
echo "reduce-word-count: ok"
