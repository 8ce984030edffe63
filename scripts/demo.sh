#!/usr/bin/env bash
# The quick-start demo: what plugins this sluice has, then a first flow through real
# plugins loaded over the C ABI: generator (source) -> cat (map) -> blackhole (sink),
# each stage a `sluice try` joined by pipes until the flow engine runs YAML flows.
set -euo pipefail
build=${1:-build}
sluice="$build/bin/sluice"

echo "== sluice plugins"
"$sluice" plugins
echo
echo "== generator -> cat -> blackhole (5 messages)"
"$sluice" try generator --count 5 --config '{"count": 5, "template": "hello from message {seq}"}' \
  | "$sluice" try cat \
  | tee /dev/stderr \
  | "$sluice" try blackhole
