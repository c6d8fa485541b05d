#!/bin/bash
# Are two builds' results the same bits? Runs the tools and every figure target's quick run with
# the binaries of OLD_BIN and NEW_BIN on the same inputs and compares every HDF5 dataset (attributes
# record how and when a run was made and are not compared) and every JSON field but timings and
# allocation sizes. Used to show that a refactoring changes no result:
#   ci/bitwise_check.sh OLD_BIN NEW_BIN MNIST_DIR
# (MNIST_DIR: the real MNIST idx files, e.g. build/data/mnist.) Exit 0 when all agree.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2"); mnist=$(realpath "$3")
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/tests/support/script_common.sh"
export OPENBLAS_NUM_THREADS=1
same_h5() { $py "$src/tests/support/same_datasets.py" "$1" "$2" > /dev/null || fail "$3"; echo "same: $3"; }
same_json() {
  $py - "$1" "$2" "$3" <<'PY' || fail "$3"
import json, sys
# provenance: how and when the run was made (command line, revision, times), as the HDF5
# attributes that are not compared either.
skip = ("seconds", "time", "bytes", "allocated", "rss", "provenance")
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def clean(d): return {k: v for k, v in d.items() if not any(s in k for s in skip)}
a, b = clean(a), clean(b)
# A key only one side has is a setting one build records and the other does not (e.g. a new
# option at its default): named, not compared; every shared key must be equal.
only = sorted(set(a) ^ set(b))
if only: print("keys in one build only (not compared):", only, file=sys.stderr)
differ = sorted(k for k in set(a) & set(b) if a[k] != b[k])
if differ: sys.exit("differ: " + str(differ))
PY
  echo "same: $3"
}
both() {  # both NAME TOOL ARGS... (ARGS may use @OUT@ for the output path)
  local name=$1 tool=$2; shift 2
  for side in old new; do
    local bin=$old; [ $side = new ] && bin=$new
    "$bin/$tool" "${@//@OUT@/$tmp/$side/$name}" > "$tmp/$side/$name.stdout"
  done
}
mkdir -p "$tmp/old" "$tmp/new"
for opt in sgd adam rmsprop; do
  for buffer in exact fast; do
    both "hg_${opt}_$buffer.h5" hypergrad --mnist-dir "$mnist" --train-size 1000 --batch-size 100 \
      --iters 30 --optimizer $opt --buffer $buffer --quiet --out @OUT@
    same_h5 "$tmp/old/hg_${opt}_$buffer.h5" "$tmp/new/hg_${opt}_$buffer.h5" "hypergrad $opt $buffer"
  done
  both "rc_$opt" reversal_check --problem synthetic --optimizer $opt --alpha 0.01 --iters 200 --json --quiet
  same_json "$tmp/old/rc_$opt.stdout" "$tmp/new/rc_$opt.stdout" "reversal_check $opt"
  both "rcm_$opt" reversal_check --problem mnist --mnist-dir "$mnist" --optimizer $opt --alpha 0.01 \
    --iters 50 --json --quiet
  same_json "$tmp/old/rcm_$opt.stdout" "$tmp/new/rcm_$opt.stdout" "reversal_check mnist $opt"
done
for buffer in exact fast; do
  both "bc_$buffer" buffer_check --buffer $buffer --steps 2000 --params 20 --json --quiet
  same_json "$tmp/old/bc_$buffer.stdout" "$tmp/new/bc_$buffer.stdout" "buffer_check $buffer"
done
# The figure targets' quick runs on generated data (as tests/figures_test.sh).
$py "$src/tests/support/make_fake_mnist.py" "$tmp/mnist" 1000 100 > /dev/null
$py "$src/tests/support/make_fake_mnist.py" "$tmp/mnist30k" 30000 1000 > /dev/null
$py "$src/tests/support/make_fake_omniglot.py" "$tmp/omniglot.zip" 3 > /dev/null
fig() { both "$1.h5" "$@" --quick --quiet --out @OUT@; same_h5 "$tmp/old/$1.h5" "$tmp/new/$1.h5" "$1 --quick"; }
fig fig01_toy
fig fig10_chaos --points 3 --mnist-dir "$tmp/mnist"
fig fig02_schedules --mnist-dir "$tmp/mnist30k"
fig fig04_initial_hypergradient --seeds 2 --mnist-dir "$tmp/mnist30k"
fig fig06_l2_penalties --mnist-dir "$tmp/mnist30k"
fig fig07_learned_data --mnist-dir "$tmp/mnist30k"
fig adam_schedules --mnist-dir "$tmp/mnist30k"
fig fig08_09_omniglot --omniglot-zip "$tmp/omniglot.zip"
echo "bitwise_check: every result the same bits"
