#!/usr/bin/env bash
# examples/python-sink: check, then run, and compare both outputs with expected/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"
check_and_run flow.yaml
diff_expected ledger.csv rejected.jsonl
# The summary counts the two orders the sink sent to the fallback as failed.
stderr_has '^ledger +sink +6 +- +0 +2 '
echo "python-sink: ok"
