#!/usr/bin/env bash
# examples/route-orders: check, then run, and compare both outputs with expected/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"
check_and_run flow.yaml
diff_expected big-orders.jsonl small-orders.jsonl
# The summary counts the two test orders the filter dropped.
stderr_has '^no-tests +map +8 +6 +2 '
echo "route-orders: ok"
