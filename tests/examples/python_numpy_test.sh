#!/usr/bin/env bash
# examples/python-numpy: check, then run, and compare the output with expected/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/run_example.sh" "$@"
check_and_run flow.yaml
diff_expected scores.jsonl
# Vector d has the wrong length: it failed alone and was dropped, saying why.
stderr_has '^score +map +6 +5 +1 +1 '
stderr_has 'ValueError: vector d has 2 values, the weights 4'
echo "python-numpy: ok"
