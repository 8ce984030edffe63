#!/usr/bin/env bash
# examples/stream-generator: runs until SIGTERM, then drains and exits 0; what it
# printed is exactly the kept readings, in order per worker, with nothing lost.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"
"$sluice" check "$example/flow.yaml"
"$sluice" run "$example/flow.yaml" --set stages.readings.config.rate=200 \
  >"$out/stdout" 2>"$out/stderr" &
pid=$!
sleep 1
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
[ "$code" -eq 0 ] || { echo "exit code $code"; cat "$out/stderr"; exit 1; }
# Every line is a reading ending in 1, 4 or 7.
[ -s "$out/stdout" ] || { echo "no output"; exit 1; }
if grep -Ev '^\{"reading": [0-9]*[147], "sensor": "sensor-[0-9]*[147]"\}$' "$out/stdout"; then
  echo "unexpected lines above"; exit 1
fi
# Nothing lost: the sink got exactly what the filter sent on, and printed all of it.
printed=$(wc -l <"$out/stdout")
grep -Eq "^print +sink +$printed " "$out/stderr" || { cat "$out/stderr"; exit 1; }
echo "stream-generator: ok ($printed lines)"
