#!/usr/bin/env bash
# Smoke tests of the command-line tools: they run, report exact reversal, write the promised
# HDF5 datasets, and fail cleanly (non-zero exit, message, no result file) on bad input.
# Usage: tools_test.sh BIN_DIR
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$(dirname "$0")/support/script_common.sh"

# buffer_check: exact recovery with both buffers.
for buffer in exact fast; do
  "$bin/buffer_check" --buffer $buffer --steps 3000 --params 20 --json --quiet > "$tmp/b.json"
  grep -q '"bitwise_equal": true' "$tmp/b.json" || fail "buffer_check --buffer $buffer"
done
"$bin/buffer_check" --gamma 1.5 --quiet 2>/dev/null && fail "buffer_check accepted gamma 1.5"

# reversal_check on generated data.
"$bin/reversal_check" --problem synthetic --iters 500 --json --quiet > "$tmp/r.json"
grep -q '"bitwise_equal": true' "$tmp/r.json" || fail "reversal_check synthetic"
# Revolve with 3 snapshots over 200 steps: t(200, 3) = 1305 forward steps, 1106 recomputed.
"$bin/reversal_check" --problem synthetic --iters 200 --method revolve --snapshots 3 --json \
  --quiet > "$tmp/rv.json"
grep -q '"recomputed_steps": 1106' "$tmp/rv.json" || fail "revolve recomputed steps: $(cat "$tmp/rv.json")"
"$bin/reversal_check" --method revolve --snapshots 0 --quiet 2>/dev/null && fail "accepted 0 snapshots"
if "$bin/reversal_check" --problem synthetic --iters 50 --alpha 100000 --quiet 2> "$tmp/err"; then
  fail "reversal_check did not fail on divergence"
fi
grep -q "training diverged at iteration" "$tmp/err" || fail "divergence message: $(cat "$tmp/err")"

# hypergrad on a small fake MNIST folder.
/usr/bin/python3 "$here/support/make_fake_mnist.py" "$tmp/mnist" 600 100
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 12 \
  --layers 784,20,10 --out "$tmp/h.h5" --quiet
/usr/bin/python3 - "$tmp/h.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f["d_alpha"].shape == (12, 4) and f["d_gamma"].shape == (12, 4), f["d_alpha"].shape
assert f["w_T"].shape == f["d_w0"].shape == f["d_v0"].shape == (784 * 20 + 20 + 20 * 10 + 10,)
assert np.isfinite(f["loss_final"][()])
assert bool(f.attrs["reversal_exact"]) is True
for key in ("git_revision", "command_line", "seed", "iters", "library_versions", "quick"):
    assert key in f.attrs, key
PY
# --w0 overrides the seed.
/usr/bin/python3 -c "
import h5py, numpy as np
h5py.File('$tmp/w0.h5', 'w')['w0'] = np.full(784 * 20 + 20 + 20 * 10 + 10, 0.01)"
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 5 \
  --layers 784,20,10 --w0 "$tmp/w0.h5" --out "$tmp/h2.h5" --quiet
# Bad input: clear error, non-zero exit, no result file.
if "$bin/hypergrad" --mnist-dir "$tmp/nowhere" --out "$tmp/bad.h5" --quiet 2> "$tmp/err"; then
  fail "hypergrad ran without data"
fi
grep -q "not found in $tmp/nowhere" "$tmp/err" || fail "missing-data message: $(cat "$tmp/err")"
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --layers 784,20,10 --w0 "$tmp/w0.h5" --iters 5 \
  --train-size 400 --batch-size 100 --log-alpha 9 --out "$tmp/bad.h5" --quiet 2> "$tmp/err" \
  && fail "hypergrad did not fail on divergence"
[ ! -e "$tmp/bad.h5" ] || fail "a failed run left $tmp/bad.h5"
ls -a "$tmp" | grep -q "tmp-" && fail "a failed run left a temporary file"
echo "tools_test: all passed"
