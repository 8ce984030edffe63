# examples/serving-scoring: the flow starts, and the three curl calls of its README
# (sync, async + fetch, SSE) give the expected answers over real HTTP; a malformed
# request gets 500 naming the stage; SIGTERM stops it with exit code 0.
set -euo pipefail
source "$(dirname "$0")/run_example.sh"

"$sluice" check "$example/flow.yaml"
: >"$out/stderr"
STORE_DIR=$out "$sluice" run "$example/flow.yaml" --set serving.http=127.0.0.1:0 \
  2>"$out/stderr" &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$out"' EXIT

port=
for _ in $(seq 100); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$out/stderr")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$out/stderr"; exit 1; }
base=http://127.0.0.1:$port

# 1. sync: the answer is the score.
got=$(curl -sS -X POST "$base/v1/process/sync" -d '{"vector": [1, 0, 2, 4]}')
[ "$got" = '{"score": 5.5, "label": "match"}' ] || { echo "sync: $got"; exit 1; }

# 2. async + fetch, with a chosen id.
got=$(curl -sS -X POST "$base/v1/process/async" -H 'X-Numaflow-Id: order-42' \
  -d '{"vector": [0, 1, 0, 0]}')
[[ $got == *'"id":"order-42"'* ]] || { echo "async: $got"; exit 1; }
for _ in $(seq 50); do
  got=$(curl -sS "$base/v1/process/fetch?id=order-42")
  [ "$got" != '{"status":"in-progress"}' ] && break
  sleep 0.1
done
[ "$got" = '{"score": -1.0, "label": "no-match"}' ] || { echo "fetch: $got"; exit 1; }

# 3. SSE: one event with the result, then the complete event.
got=$(curl -sS -N -X POST "$base/v1/process/sse" -d '{"vector": [2, 0, 0, 0]}')
expected=$'id: 0\ndata: {"score": 1.0, "label": "match"}\n\nid: 1\nevent: complete\ndata: {"results":1,"status":"completed"}'
[ "$got" = "$expected" ] || { echo "sse: $got"; exit 1; }

# A vector of the wrong length fails alone: 500, naming the stage.
code=$(curl -sS -o "$out/bad" -w '%{http_code}' -X POST "$base/v1/process/sync" -d '{"vector": [1]}')
[ "$code" = 500 ] && grep -q 'score' "$out/bad" || { echo "bad: $code $(cat "$out/bad")"; exit 1; }

kill -TERM $pid
rc=0; wait $pid || rc=$?
[ $rc = 0 ] || { echo "sluice exited $rc"; cat "$out/stderr"; exit 1; }
