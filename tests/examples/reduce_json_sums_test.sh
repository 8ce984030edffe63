#!/usr/bin/env bash
# examples/reduce-json-sums (orders per customer per minute): a job on a copy of the
# example; the output is compared with expected/ exactly, and the order without an
# event time is reported by file:line and field, then skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"

flow=$out/flow
mkdir "$flow"
cp "$example"/{flow.yaml,orders.jsonl} "$flow"/
"$sluice" check "$flow/flow.yaml"
OUT_DIR=$out "$sluice" run "$flow/flow.yaml" 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }
diff -u "$example/expected/orders-per-minute.jsonl" "$out/orders-per-minute.jsonl"
stderr_has "orders\\.jsonl:9: no event time, skipped: field \"at\" is missing$"
stderr_has "orders\\.jsonl: skipped 1 line without a valid event time \\(field \"at\"\\)$"
# Nothing late: order 6 is 4 s out of order, within maxDelay.
if grep -q "late" "$out/stderr"; then cat "$out/stderr"; exit 1; fi
echo "reduce-json-sums: ok"
