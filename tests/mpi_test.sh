#!/usr/bin/env bash
# The sweep targets under Open MPI: the HDF5 datasets are bitwise the same for 1 (no mpirun),
# 2 and 3 ranks and any thread count; a fault on one rank fails the whole job with that rank's
# message and leaves no result file. Usage: mpi_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
source "$(dirname "$0")/support/script_common.sh"
# As root (CI), Open MPI wants to be told that this is intended.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpirun="mpirun --oversubscribe"
same() { $py "$src/tests/support/same_datasets.py" "$1" "$2" || fail "$1 and $2 differ"; }

$py "$src/tests/support/make_fake_mnist.py" "$tmp/mnist" 1000 100
$py "$src/tests/support/make_fake_mnist.py" "$tmp/mnist30k" 30000 1000
f10=(--quick --quiet --points 7 --mnist-dir "$tmp/mnist")
f04=(--quick --quiet --seeds 5 --mnist-dir "$tmp/mnist30k")
"$bin/fig10_chaos" "${f10[@]}" --threads 2 --out "$tmp/f10_plain.h5"
"$bin/fig04_initial_hypergradient" "${f04[@]}" --threads 2 --out "$tmp/f04_plain.h5"
for np in 2 3; do
  $mpirun -np $np "$bin/fig10_chaos" "${f10[@]}" --threads 1 --out "$tmp/f10_np$np.h5"
  same "$tmp/f10_plain.h5" "$tmp/f10_np$np.h5"
  $mpirun -np $np "$bin/fig04_initial_hypergradient" "${f04[@]}" --threads 1 --out "$tmp/f04_np$np.h5"
  same "$tmp/f04_plain.h5" "$tmp/f04_np$np.h5"
done
$py - "$tmp/f10_np3.h5" <<'PY'
import sys, h5py
assert h5py.File(sys.argv[1], "r").attrs["mpi_ranks"] == 3
PY
# A fault on rank 1 only: non-zero exit, rank 1's message (printed once), no file.
if HYPERGRAD_FAULT_RANK=1 $mpirun -np 2 -x HYPERGRAD_FAULT_RANK "$bin/fig10_chaos" "${f10[@]}" \
     --out "$tmp/fault.h5" > "$tmp/fault.log" 2>&1; then
  fail "a job with a failing rank exited 0"
fi
grep -q "fig10_chaos: error: rank 1: injected fault" "$tmp/fault.log" || fail "no rank-1 message: $(cat "$tmp/fault.log")"
[ "$(grep -c "injected fault" "$tmp/fault.log")" -eq 1 ] || fail "the message was printed more than once"
[ ! -e "$tmp/fault.h5" ] || fail "a failed job left a result file"
ls -a "$tmp" | grep -q "tmp-" && fail "a failed job left a temporary file"
echo "mpi_test: all passed"
