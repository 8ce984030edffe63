# Sourced by the example tests as `source run_example.sh "$@"` (arguments: the sluice
# binary and the example's folder). Sets $sluice, $example and $out, a temporary folder
# removed at exit, and offers:
#   check_and_run FLOW     sluice check $example/FLOW, then run it with OUT_DIR=$out
#                          (stderr in $out/stderr, shown if the run fails)
#   diff_expected FILE...  compare each $out/FILE with $example/expected/FILE
#   stderr_has REGEX       the last run's stderr has a line matching REGEX (grep -E)
sluice=$1 example=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

check_and_run() {
  "$sluice" check "$example/$1"
  OUT_DIR=$out "$sluice" run "$example/$1" 2>"$out/stderr" || { cat "$out/stderr"; exit 1; }
}

diff_expected() {
  local file
  for file in "$@"; do diff -u "$example/expected/$file" "$out/$file"; done
}

stderr_has() {
  grep -Eq "$1" "$out/stderr" || { cat "$out/stderr"; exit 1; }
}
