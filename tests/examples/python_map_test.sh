#!/usr/bin/env bash
# examples/python-map: check, then run, and compare both outputs with expected/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"
check_and_run flow.yaml
diff_expected big-orders.jsonl small-orders.jsonl
# The summary counts the two test orders the handler filtered out.
stderr_has '^price +map +8 +6 +2 +0 '
echo "python-map: ok"
