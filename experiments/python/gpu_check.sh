#!/usr/bin/env bash
# One prepared check of hypergrad.torch on a CUDA machine with python3 and PyTorch (1.13 or 2.x)
# and without our compiled core (hypergrad.torch needs only PyTorch). From the repository root:
#
#   OUT=<folder> bash experiments/python/gpu_check.sh        (about 8 minutes at most)
#
# (a) tests/python/test_torch.py on CUDA (HYPERGRAD_TEST_DEVICE=cuda; pytest when installed,
#     else experiments/python/run_torch_tests.py's stand-in), including CUDA's own count of
#     synchronisations (torch.cuda.set_sync_debug_mode);
# (b) experiments/python/bench_torch.py on CUDA: exact reversal, unrolled autograd and
#     checkpointing at sqrt(T) for the Fig-2 network (784-50-50-50-10) and the wide MLP
#     784-2000-2000-2000-10 at T = 100 and 1000, JSON to $OUT/torch_cuda.json (written after
#     every case, so a cut run keeps what it measured).
# Logs and JSON land in $OUT. Exit status: that of the tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/hypergrad_gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
export CUBLAS_WORKSPACE_CONFIG=:4096:8   # cuBLAS refuses deterministic mode without it
export PYTHONPATH=$PWD/lib/python        # the package's Python files; no compiled core needed
PY=${PYTHON:-python3}
start=$(date +%s)
{ nvidia-smi || true; } > "$OUT/nvidia-smi.txt" 2>&1
$PY -c "import torch, hypergrad, hypergrad.torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), 'compiled core:', hypergrad.HAVE_CORE)" \
  2>&1 | tee "$OUT/environment.txt"

echo "== (a) tests on CUDA" | tee "$OUT/tests_cuda.txt"
HYPERGRAD_TEST_DEVICE=cuda timeout 150 $PY experiments/python/run_torch_tests.py \
  tests/python/test_torch.py -s 2>&1 | tee -a "$OUT/tests_cuda.txt"
tests_status=${PIPESTATUS[0]}
echo "tests exit status $tests_status after $(( $(date +%s) - start )) s" | tee -a "$OUT/tests_cuda.txt"

echo "== (b) benchmark on CUDA" | tee "$OUT/bench_cuda.txt"
left=$(( 470 - ($(date +%s) - start) ))
timeout $(( left > 60 ? left : 60 )) $PY experiments/python/bench_torch.py --device cuda \
  --nets fig2,wide --T 100,1000 --methods exact,unrolled,checkpoint --case-timeout 90 \
  --out "$OUT/torch_cuda.json" 2>&1 | tee -a "$OUT/bench_cuda.txt"
echo "total $(( $(date +%s) - start )) s" | tee -a "$OUT/bench_cuda.txt"
exit "$tests_status"
