#!/usr/bin/env bash
# The quick-start demo: the plugins this sluice has, then real YAML flows through real
# plugins loaded over the C ABI:
#   1. examples/route-orders: a job that filters a JSON-lines file and routes it by tag
#      into two files (checked, drawn, run, and its outputs shown);
#   2. examples/python-hello: a Python handler in the same process (docs/python-guide.md);
#   3. a million messages through generator -> cat -> blackhole, to show the speed.
set -euo pipefail
build=${1:-build}
sluice="$build/bin/sluice"
example=examples/route-orders
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== sluice plugins"
"$sluice" plugins
echo
echo "== sluice check $example/flow.yaml"
"$sluice" check "$example/flow.yaml"
echo
echo "== sluice graph $example/flow.yaml  (Mermaid; --format dot for Graphviz)"
"$sluice" graph "$example/flow.yaml"
echo
echo "== sluice run $example/flow.yaml"
OUT_DIR=$out "$sluice" run "$example/flow.yaml"
echo
echo "-- big-orders.jsonl";   cat "$out/big-orders.jsonl"
echo "-- small-orders.jsonl"; cat "$out/small-orders.jsonl"
echo
echo "== sluice run examples/python-hello/flow.yaml  (a Python handler, embedded)"
"$sluice" run examples/python-hello/flow.yaml
echo
echo "== 1,000,000 messages: generator -> cat -> blackhole"
cat >"$out/speed.yaml" <<'YAML'
mode: job
stages:
  - {name: in, source: generator, config: {count: 1000000, size: 100}}
  - {name: copy, map: cat}
  - {name: out, sink: blackhole}
YAML
"$sluice" run "$out/speed.yaml"
