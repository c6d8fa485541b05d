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
# Ranks started differently (issue [P] 2) stop before any work, non-zero, with a message naming
# each difference, and write nothing. Before: other seeds and buffers gave one mixed file and exit
# 0; another --points ended in MPI_ERR_TRUNCATE.
mixed() {  # mixed PATTERN [ARGS OF RANK 1...]: rank 0 runs f10, rank 1 f10 with ARGS instead of --points 7
  local pattern=$1; shift
  if timeout 120 $mpirun -np 1 "$bin/fig10_chaos" "${f10[@]}" --threads 1 --out "$tmp/mixed.h5" : \
       -np 1 "$bin/fig10_chaos" "${f10[@]:0:2}" "${f10[@]:4}" --threads 1 --out "$tmp/mixed.h5" "$@" \
       > "$tmp/mixed.log" 2>&1; then
    fail "ranks started with $* exited 0"
  fi
  grep -q -- "$pattern" "$tmp/mixed.log" || fail "ranks started with $*: unclear message: $(cat "$tmp/mixed.log")"
  [ ! -e "$tmp/mixed.h5" ] || fail "ranks started with $* wrote a result file"
  if ls -a "$tmp" | grep -q "tmp-"; then fail "ranks started with $* left a temporary file"; fi
}
mixed 'fig10_chaos: error: rank 1: started differently from rank 0 (nothing was run): seed = 1 (rank 0: 0); buffer = "fast" (rank 0: "exact")' \
  --points 7 --seed 1 --buffer fast
mixed 'rank 1: started differently from rank 0 (nothing was run): points = 8 (rank 0: 7)' --points 8
# The same arguments but other data (a relative --mnist-dir in other working folders): the
# files' SHA-256 differ.
mkdir -p "$tmp/a" "$tmp/b" "$tmp/c"
cp -r "$tmp/mnist" "$tmp/a/mnist"
$py "$src/tests/support/make_fake_mnist.py" "$tmp/b/mnist" 1000 101
rel=(--quick --quiet --points 7 --mnist-dir mnist --threads 1 --out "$tmp/mixed.h5")
if timeout 120 $mpirun -np 1 -wdir "$tmp/a" "$bin/fig10_chaos" "${rel[@]}" : \
     -np 1 -wdir "$tmp/b" "$bin/fig10_chaos" "${rel[@]}" > "$tmp/mixed.log" 2>&1; then
  fail "ranks reading other data exited 0"
fi
grep -q "rank 1: started differently from rank 0 (nothing was run): data file mnist/t10k-images-idx3-ubyte = sha256:" \
  "$tmp/mixed.log" || fail "other data: unclear message: $(cat "$tmp/mixed.log")"
[ ! -e "$tmp/mixed.h5" ] || fail "ranks reading other data wrote a result file"
# An error on one rank alone (its data missing) ends the job promptly instead of leaving the
# other ranks waiting for it.
if timeout 120 $mpirun -np 1 -wdir "$tmp/a" "$bin/fig10_chaos" "${rel[@]}" : \
     -np 1 -wdir "$tmp/c" "$bin/fig10_chaos" "${rel[@]}" > "$tmp/mixed.log" 2>&1; then
  fail "a job with a rank missing its data exited 0"
fi
grep -q "fig10_chaos: error: rank 1: MNIST file train-images-idx3-ubyte not found in mnist" "$tmp/mixed.log" \
  || fail "missing data on one rank: $(cat "$tmp/mixed.log")"
[ ! -e "$tmp/mixed.h5" ] || fail "a job with a rank missing its data wrote a result file"
echo "mpi_test: all passed"
