#!/usr/bin/env bash
# examples/python-source: check, then run both flows, and compare the outputs (the
# events, the checkpoint the source's acks built, the countdown) with expected/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"
check_and_run flow.yaml
check_and_run countdown.yaml
diff_expected events.txt checkpoint.txt countdown.txt
echo "python-source: ok"
