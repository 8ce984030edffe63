#!/usr/bin/env bash
# examples/reduce-json-sums (sums per customer per minute): a job on a copy of the
# example. The output is compared with expected/ exactly, line for line, except for the
# order of the keys within one window (see reduce_word_count_test.sh: both files are
# put into window order, then line order; the output's window order is checked
# separately). The order without an event time is reported by file:line and field,
# then skipped. A second run shows what maxDelay is for: without it, and with the
# source's watermark moving after every message (batch: 1), order 6 is late.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"

flow=$out/flow
mkdir "$flow"
cp "$example"/{flow.yaml,orders.jsonl} "$flow"/
by_window() { sed 's/.*"end":"\([^"]*\)".*/\1 &/' "$1" | LC_ALL=C sort | cut -d' ' -f2-; }
ends_in_order() {
  local ends
  ends=$(sed 's/.*"end":"\([^"]*\)".*/\1/' "$1")
  [ "$ends" = "$(LC_ALL=C sort <<<"$ends")" ] || { echo "windows out of order in $1"; exit 1; }
}

"$sluice" check "$flow/flow.yaml"
OUT_DIR=$out "$sluice" run "$flow/flow.yaml" 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }
diff -u <(by_window "$example/expected/sums-per-minute.jsonl") <(by_window "$out/sums-per-minute.jsonl")
ends_in_order "$out/sums-per-minute.jsonl"
stderr_has "orders\\.jsonl:9: no event time, skipped: field \"at\" is missing$"
stderr_has "orders\\.jsonl: skipped 1 line without a valid event time \\(field \"at\"\\)$"
stderr_has '^per-minute +reduce +11 +8 +0 '   # nothing late
if grep -q "late message" "$out/stderr"; then cat "$out/stderr"; exit 1; fi

# The README's experiment: maxDelay 0s, one message per batch.
OUT_DIR=$out "$sluice" run "$flow/flow.yaml" --set stages.orders.watermark.maxDelay=0s \
  --set stages.orders.batch=1 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }
stderr_has 'late message dropped \(event time 1795240858000 ms'
stderr_has '^per-minute +reduce +11 +8 +1 '   # one dropped
grep -qx '{"keys":\["bob"\],"start":"2026-11-21T06:00:00.000Z","end":"2026-11-21T06:01:00.000Z","sum":15.5}' \
  "$out/sums-per-minute.jsonl" || { cat "$out/sums-per-minute.jsonl"; exit 1; }
echo "reduce-json-sums: ok"
