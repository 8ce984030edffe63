#!/usr/bin/env bash
# examples/side-input-deny-list: a streaming flow screening appended orders against a
# deny-list side input. First run (trigger removed with --set): a changed list is
# picked up only through POST /v1/side-inputs/deny-list/refresh on the --metrics-addr
# listener (202). Second run (the flow as shipped, interval 3s): the stored version is
# published at start, and a changed list is picked up by the interval alone.
# GET /v1/side-inputs shows the versions; SIGTERM stops each run with exit code 0.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"

# Work on a copy: the test edits the list and appends orders, and the side-input store
# goes to the flow's folder (.sluice/); the source tree stays untouched.
flow=$out/flow
mkdir "$flow"
cp "$example"/{flow.yaml,screen.py,orders.jsonl,deny-list.txt} "$flow"/
"$sluice" check "$flow/flow.yaml"

pid=
trap '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT

fail() {
  echo "FAIL: $*"
  echo "--- allowed-orders.jsonl"; cat "$out/allowed-orders.jsonl" 2>/dev/null || true
  echo "--- GET /v1/side-inputs"; curl -sS "$base/v1/side-inputs" 2>&1 || true; echo
  echo "--- stderr"; cat "$out/stderr"
  exit 1
}

# Polls "$@" every 0.1 s for up to 60 s (generous: the machine may be loaded).
wait_for() {
  local what=$1
  shift
  for _ in $(seq 600); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || fail "sluice exited while waiting for $what"
    sleep 0.1
  done
  fail "timed out waiting for $what"
}

# Runs the copied flow in the background with the metrics listener on a free port;
# sets $pid and $base from the "metrics at http://127.0.0.1:PORT/metrics" log line.
base=
start() {
  : >"$out/stderr"
  OUT_DIR=$out "$sluice" run "$flow/flow.yaml" --metrics-addr 127.0.0.1:0 "$@" 2>"$out/stderr" &
  pid=$!
  port_logged() {
    port=$(sed -n 's|.*metrics at http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$out/stderr")
    [ -n "$port" ]
  }
  wait_for "the metrics port" port_logged
  base=http://127.0.0.1:$port
}

stop() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=
  [ "$rc" = 0 ] || fail "sluice exited $rc after SIGTERM"
}

side_inputs() { curl -sS "$base/v1/side-inputs"; }
version_is() { side_inputs | grep -q "\"version\":$1[,}]"; }
# The output file holds exactly $expected. Each batch of appended orders ends with an
# allowed one and the flow keeps their order, so once the file matches, every order
# before it was screened too: a denied order that slipped through would never match.
output_is_expected() { [ "$(cat "$out/allowed-orders.jsonl" 2>/dev/null)" = "$expected" ]; }
stderr_has() { grep -Eq "$1" "$out/stderr" || fail "stderr lacks /$1/"; }

# ---- Run 1: no trigger, so only the refresh endpoint picks up a change.
start --set 'sideInputs.0.trigger={}'
expected=$(cat "$example/expected/allowed-orders.jsonl")   # mallory and trudy dropped
wait_for "the first orders" output_is_expected
version_is 1 || fail "not version 1"
side_inputs | grep -q '"trigger":""' || fail "a trigger is set"
stderr_has '^screen: deny-list version 1: 2 names$'

echo bob >>"$flow/deny-list.txt"
# -d '': a POST without Content-Length gets 400 from the listener (see README.md).
code=$(curl -sS -o "$out/body" -w '%{http_code}' -X POST -d '' "$base/v1/side-inputs/deny-list/refresh")
[ "$code" = 202 ] || fail "refresh answered $code: $(cat "$out/body")"
[ "$(cat "$out/body")" = '{"name":"deny-list","refresh":"requested"}' ] || fail "refresh body: $(cat "$out/body")"
wait_for "version 2 after the refresh" version_is 2

printf '%s\n' '{"id": 7, "customer": "bob", "total": 12.0}' \
  '{"id": 8, "customer": "trudy", "total": 5.0}' \
  '{"id": 9, "customer": "dee", "total": 77.0}' >>"$flow/orders.jsonl"
expected+=$'\n{"id": 9, "customer": "dee", "total": 77.0}'   # bob is denied now
wait_for "orders screened with version 2" output_is_expected
stderr_has '^screen: deny-list version 2: 3 names$'
stop

# ---- Run 2: the flow as shipped (interval 3s). The output is rewritten from the start
# of orders.jsonl, screened with the stored version 2 from the first moment.
start
stderr_has 'side input deny-list: version 2 from the store'
expected=$(printf '%s\n' '{"id": 1, "customer": "ada", "total": 120.0}' \
  '{"id": 5, "customer": "cy", "total": 18.0}' \
  '{"id": 6, "customer": "ada", "total": 64.25}' \
  '{"id": 9, "customer": "dee", "total": 77.0}')
wait_for "orders screened with the stored version" output_is_expected
side_inputs | grep -q '"trigger":"every 3s"' || fail "trigger is not every 3s"

# Replaced whole (rename), so no retrieval can read a half-written file: ada is denied
# now and mallory is not. No refresh request: the interval finds the change.
printf '%s\n' trudy bob ada >"$flow/deny-list.new"
mv "$flow/deny-list.new" "$flow/deny-list.txt"
wait_for "version 3 from the interval" version_is 3
side_inputs | grep -q '"changed":1,' || fail "expected one changed retrieval"

printf '%s\n' '{"id": 10, "customer": "mallory", "total": 1.0}' \
  '{"id": 11, "customer": "ada", "total": 2.0}' \
  '{"id": 12, "customer": "eve", "total": 3.0}' >>"$flow/orders.jsonl"
expected+=$'\n{"id": 10, "customer": "mallory", "total": 1.0}\n{"id": 12, "customer": "eve", "total": 3.0}'
wait_for "orders screened with version 3" output_is_expected
stderr_has '^screen: deny-list version 3: 3 names$'
stop
echo "side-input-deny-list: ok"
