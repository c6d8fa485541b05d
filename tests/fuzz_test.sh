#!/usr/bin/env bash
# A short, fixed-count pass of the buffer/Algorithm 3 fuzzer (make fuzz runs it for longer with
# a kept corpus). Usage: fuzz_test.sh FUZZER [RUNS]
set -euo pipefail
fuzzer=$1
runs=${2:-30000}
source "$(dirname "$0")/support/script_common.sh"
# A fresh corpus folder, a fixed seed: the same inputs every time.
"$fuzzer" -runs="$runs" -seed=1 -max_len=512 "$tmp" > "$tmp.log" 2>&1 || { tail -30 "$tmp.log" >&2; rm -f "$tmp.log"; fail "the fuzzer found a failure"; }
grep -E "^Done [0-9]+ runs" "$tmp.log"
rm -f "$tmp.log"
echo "fuzz_test: all passed"
