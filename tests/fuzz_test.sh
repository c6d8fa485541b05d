#!/usr/bin/env bash
# A short, fixed-count pass of the buffer/Algorithm 3 fuzzer (make fuzz runs it for longer with
# a kept corpus), after replaying every input under fuzz/regressions/ (inputs that once failed:
# each must pass for good). Usage: fuzz_test.sh FUZZER [RUNS]
set -euo pipefail
fuzzer=$1
runs=${2:-30000}
here=$(dirname "$0")
source "$here/support/script_common.sh"
mkdir "$tmp/corpus" "$tmp/artifacts"
# Artifacts into the scratch folder, never into whatever folder ctest runs from.
opts=(-max_len=512 -artifact_prefix="$tmp/artifacts/")
shopt -s nullglob
regressions=("$here"/fuzz/regressions/*)
if (( ${#regressions[@]} )); then
  "$fuzzer" "${opts[@]}" "${regressions[@]}" > "$tmp/replay.log" 2>&1 ||
    { tail -30 "$tmp/replay.log" >&2; fail "a kept regression input fails again"; }
  echo "replayed ${#regressions[@]} regression input(s)"
fi
# A fresh corpus folder, a fixed seed: the same inputs every time.
"$fuzzer" "${opts[@]}" -runs="$runs" -seed=1 "$tmp/corpus" > "$tmp/fuzz.log" 2>&1 ||
  { tail -30 "$tmp/fuzz.log" >&2; fail "the fuzzer found a failure"; }
grep -E "^Done [0-9]+ runs" "$tmp/fuzz.log"
echo "fuzz_test: all passed"
