#!/usr/bin/env bash
# Issue [Q]: in the default configuration (no --gemm: the portable kernel, which every committed
# result used) a small training and reverse pass (hypergrad, T = 20, batch 100, 784-50-10 on fake
# MNIST) gives bitwise the same datasets (and info_bits) under two of OpenBLAS's kernel sets:
# the one this test inherits (OpenBLAS's choice for the CPU, or the OPENBLAS_CORETYPE the machine
# sets, left as it is) and, in one child process, another set this CPU runs: Sandybridge where
# the CPU has AVX, else Prescott, which every x86-64 CPU runs. The same pair with --gemm openblas
# is only reported (equal or not depends on the two sets' summation orders). Then the same run
# with the portable kernel's SSE2 and AVX2 variants forced (--gemm-variant) must give the same
# results as the variant this CPU picks, and record the forced variant; --gemm-variant with
# --gemm openblas is refused.
# Usage: gemm_cross_kernel_test.sh BIN_DIR
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/support/script_common.sh"

"$py" "$here/support/make_fake_mnist.py" "$tmp/mnist" 500 100
run() {  # run OUT.h5 GEMM [ENV=VALUE | --FLAG VALUE ...]: one hypergrad run (GEMM "default": no --gemm)
  local out=$1 gemm=$2
  shift 2
  local flag=(--gemm "$gemm") envs=() extra=()
  [ "$gemm" = default ] && flag=()
  while [ $# -gt 0 ]; do
    case $1 in
      --*) extra+=("$1" "$2"); shift 2 ;;
      *) envs+=("$1"); shift ;;
    esac
  done
  env "${envs[@]}" "$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 20 \
    --layers 784,50,10 "${flag[@]}" "${extra[@]}" --out "$out" --quiet
}
attr() { "$py" -c 'import sys, h5py; print(h5py.File(sys.argv[1], "r").attrs[sys.argv[2]])' "$1" "$2"; }

run "$tmp/portable_here.h5" default
here_core=$(attr "$tmp/portable_here.h5" blas_core)
[ "$(attr "$tmp/portable_here.h5" gemm_kernel)" = portable ] || fail "the default Gemm kernel is not recorded as portable"
lower=$(echo "$here_core" | tr '[:upper:]' '[:lower:]')
if grep -qw avx /proc/cpuinfo && [ "$lower" != sandybridge ]; then
  other=Sandybridge
elif [ "$lower" != prescott ]; then
  other=Prescott
else
  echo "SKIP: this process already runs Prescott and the CPU lacks AVX (no Sandybridge): no second kernel set known to run here"
  exit 77
fi
run "$tmp/portable_child.h5" default OPENBLAS_CORETYPE=$other
child_core=$(attr "$tmp/portable_child.h5" blas_core)
if [ "$child_core" = "$here_core" ]; then
  echo "SKIP: OPENBLAS_CORETYPE=$other left OpenBLAS on $here_core (not a DYNAMIC_ARCH build?): one kernel set only"
  exit 77
fi
same() {  # same A.h5 B.h5: every dataset and the info_bits attribute bitwise equal
  "$py" "$here/support/same_datasets.py" "$1" "$2" > /dev/null &&
    [ "$(attr "$1" info_bits)" = "$(attr "$2" info_bits)" ]
}
same "$tmp/portable_here.h5" "$tmp/portable_child.h5" \
  || fail "default (portable) Gemm: the results differ between OpenBLAS cores $here_core and $child_core"
echo "default (portable) Gemm: bitwise equal results under OpenBLAS cores $here_core and $child_core"

# What does vary between CPUs in the default configuration is the portable kernel's instruction
# set (picked for the CPU): force the x86-64 baseline (SSE2) and, where the CPU has it, AVX2,
# and require the same results as the variant picked here.
variant=$("$py" -c 'import sys, h5py; print(h5py.File(sys.argv[1], "r").attrs["gemm_kernel_detail"])' "$tmp/portable_here.h5")
for forced in sse2 avx2; do
  [ "$forced" = avx2 ] && ! grep -qw avx2 /proc/cpuinfo && continue
  run "$tmp/portable_$forced.h5" default --gemm-variant "$forced"
  detail=$(attr "$tmp/portable_$forced.h5" gemm_kernel_detail)
  case $detail in
    *"$forced"*) ;;
    *) fail "--gemm-variant $forced: the file records the kernel as '$detail', not the forced variant" ;;
  esac
  same "$tmp/portable_here.h5" "$tmp/portable_$forced.h5" \
    || fail "default (portable) Gemm: --gemm-variant $forced differs from the variant picked here ($variant)"
  echo "default (portable) Gemm: --gemm-variant $forced gives the same results as: $variant"
done

# --gemm-variant chooses among the portable kernel's builds: with --gemm openblas it is refused
# (a non-zero exit and no file), not silently ignored.
if run "$tmp/openblas_variant.h5" openblas --gemm-variant sse2 2> "$tmp/variant.err"; then
  fail "--gemm openblas --gemm-variant sse2 was accepted"
fi
grep -q "gemm-variant sse2" "$tmp/variant.err" || fail "--gemm openblas --gemm-variant sse2: no error naming the flag: $(cat "$tmp/variant.err")"
[ ! -e "$tmp/openblas_variant.h5" ] || fail "--gemm openblas --gemm-variant sse2 left a file"

run "$tmp/openblas_here.h5" openblas
run "$tmp/openblas_child.h5" openblas OPENBLAS_CORETYPE=$other
if "$py" "$here/support/same_datasets.py" "$tmp/openblas_here.h5" "$tmp/openblas_child.h5" > /dev/null 2>&1; then
  echo "--gemm openblas (reported, not asserted): equal under $here_core and $child_core"
else
  echo "--gemm openblas (reported, not asserted): datasets differ between $here_core and $child_core"
fi
