#!/usr/bin/env bash
# examples/python-hello, the Python guide's first flow: check and run exactly as the
# guide shows, and compare stdout with what the guide says it prints.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"
"$sluice" check "$example/flow.yaml" > "$out/check"
grep -q '^.*flow.yaml: ok (flow "hello", job, 3 stages, 2 edges)$' "$out/check" || { cat "$out/check"; exit 1; }
"$sluice" run "$example/flow.yaml" > "$out/stdout" 2> "$out/stderr" || { cat "$out/stderr"; exit 1; }
printf 'HELLO 5\nSLUICE 6\n' | diff -u - "$out/stdout"
# The empty line was filtered out by the handler: counted as dropped.
grep -Eq '^shout +map +3 +2 +1 +0 ' "$out/stderr" || { cat "$out/stderr"; exit 1; }
echo "python-hello: ok"
