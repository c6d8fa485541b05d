#!/usr/bin/env bash
# Smoke test of the benchmark pipeline: one small case of each benchmark binary (no timing is
# asserted), each writing JSON without errors; then analysis/bench.py renders the three figures
# and report.py adds the "Memory and exactness" section. Usage: bench_pipeline_test.sh BIN_DIR
# SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
source "$(dirname "$0")/support/script_common.sh"
mkdir -p "$tmp/bench" "$tmp/res"

run() {  # run BENCHMARK FILTER
  "$bin/$1" --benchmark_filter="$2" --benchmark_out="$tmp/bench/$1.json" \
    --benchmark_out_format=json > "$tmp/$1.log" 2>&1 || fail "$1 exited non-zero: $(tail -5 "$tmp/$1.log")"
  grep -q '"error_occurred": true' "$tmp/bench/$1.json" && fail "$1 reported an error"
  grep -q '"name": "BM_' "$tmp/bench/$1.json" || fail "$1 ran no benchmark"
}
run bench_buffer 'BM_BitsPerStep/buffer:1/gamma_milli:900/steps:1000/'
run bench_recovery 'BM_RecoveryError/iters:10/gamma_milli:900'
# Issue [Q]: OpenBLAS against the portable Gemm kernel on the training step's products; the JSON
# context names the BLAS core and the Gemm kernel.
run bench_gemm 'BM_StepRatio/step:0/variant:0'
$py - "$tmp/bench/bench_gemm.json" <<'PY' || fail "bench_gemm counters or context"
import json, sys
out = json.load(open(sys.argv[1]))
for key in ("blas_library", "blas_core", "blas_config", "gemm_kernel", "gemm_kernel_detail"):
    assert out["context"].get(key), key
(run,) = out["benchmarks"]
assert run["products"] == 11 and run["portable_over_openblas"] > 0, run
PY
# Revolve at T = 100 (with, untimed, the stored-trajectory reference and the naive baseline).
run bench_hypergrad 'BM_(Forward/iters:100|MatrixProductFloor/iters:100/|Threads/iters:100/threads:2/|Hypergradient/iters:100/method:(revolve/buffer:fast/snapshots:20|reversible/buffer:fast)|AdamHypergradient/iters:100/method:reversible/buffer:fast)'
$py - "$tmp/bench/bench_hypergrad.json" <<'PY' || fail "bench_hypergrad counters"
import json, sys
runs = {r["name"]: r for r in json.load(open(sys.argv[1]))["benchmarks"]}
revolve = next(r for n, r in runs.items() if "revolve" in n)
assert revolve["bitwise_equal_to_stored"] == 1, revolve
# t(100, 20) = 178 forward steps: the schedule's count and the closed form.
assert revolve["forward_steps"] == revolve["closed_form_forward_steps"] == 178, revolve
assert revolve["measured_peak_extra_bytes"] > 0 and revolve["computed_peak_extra_bytes"] > 0
# The matrix-product floor: the Fig-2 step issues 11 products forward and 31 in a reverse step
# (gradient, Hessian-vector product), 2·m·n·k FLOPs each as recorded.
floor = next(r for n, r in runs.items() if "MatrixProductFloor" in n)
assert floor["gemms_per_training_step"] == 11 and floor["gemms_per_reverse_step"] == 31, floor
assert floor["flops_per_training_step"] == 37960000, floor
assert floor["training_over_gemm"] > 0 and floor["hypergradient_over_gemm"] > 0 and floor["peak_rss_bytes"] > 0
# Both tanh kernels are timed against the same floor; two threads give one thread's bits.
assert sorted(r["polynomial_tanh"] for n, r in runs.items() if "MatrixProductFloor" in n) == [0, 1]
threads = next(r for n, r in runs.items() if "BM_Threads" in n)
assert threads["threads"] == 2 and threads["bitwise_equal_to_one_thread"] == 1, threads
assert threads["speedup"] > 0 and threads["seconds_one_thread"] > 0, threads
# Reversible Adam: exact, equal to its stored trajectory, and far below storing (w, m, s).
adam = next(r for n, r in runs.items() if "Adam" in n)
assert adam["reversal_exact"] == 1 and adam["bitwise_equal_to_stored"] == 1, adam
assert adam["store_all_bytes"] == 3 * 8 * 44860 * 100, adam
assert 0 < adam["computed_peak_extra_bytes"] < adam["store_all_bytes"] / 50, adam
PY

# The estimator benchmark at its smoke sizes: every estimator ran, forward mode equals the exact
# per-block hypergradients, the meta-optimisation and the horizons are there.
"$bin/bench_estimators" --smoke --out "$tmp/bench" > "$tmp/bench_estimators.log" 2>&1 ||
  fail "bench_estimators exited non-zero: $(tail -5 "$tmp/bench_estimators.log")"
$py - "$tmp/bench/bench_estimators.json" <<'PY' || fail "bench_estimators contents"
import json, sys
doc = json.load(open(sys.argv[1]))
acc = doc["accuracy"]
assert not [r for r in acc if "error" in r], [r for r in acc if "error" in r]
names = {r["estimator"] for r in acc}
assert names == {"exact", "drmad", "greedy", "forward", "es", "pes", "neumann", "cg"}, names
fwd = next(r for r in acc if r["estimator"] == "forward")
assert all(fwd["kinds"][k]["rel_error"] < 1e-9 for k in ("alpha_block", "gamma_block", "log_init_scale")), fwd
assert all(r["peak_extra_bytes"] > 0 and r["time_ratio"] > 0 for r in acc)
assert "theta" not in next(r for r in acc if r["estimator"] == "greedy" and r["problem"] == "fig6")["kinds"]
meta = doc["meta_optimisation"]
assert [m["estimator"] for m in meta] == ["exact", "truncated", "drmad", "greedy", "es", "pes"], meta
assert all("error" not in m for m in meta)
assert [h["horizon"] for h in doc["short_horizon"]] == [1, 10]
PY

$py "$src/analysis/bench.py" --bench "$tmp/bench" --results "$tmp/res" > "$tmp/bench.log"
for f in bench_bits bench_recovery bench_memory; do
  [ -s "$tmp/res/figures/$f.png" ] || fail "$f.png not rendered"
done
$py "$src/analysis/report.py" --results "$tmp/res" --bench "$tmp/bench" > /dev/null
grep -q "## Memory and exactness" "$tmp/res/REPORT.md" || fail "report section missing"
grep -q "| 100 | revolve s=20 |" "$tmp/res/REPORT.md" || fail "Revolve row missing"
grep -q "^| 100 | fast | 0\.[0-9]* |" "$tmp/res/REPORT.md" || fail "reversible-Adam row missing"
grep -q "^| 100 | polynomial | " "$tmp/res/REPORT.md" || fail "matrix-product floor row missing"
grep -q "^| 100 | 2 | " "$tmp/res/REPORT.md" || fail "threads row missing"
grep -q "## Exact against approximate hypergradients" "$tmp/res/REPORT.md" || fail "estimator section missing"
grep -q "^| fig2 | 10 | forward | alpha_block | 1 | " "$tmp/res/REPORT.md" || fail "forward-mode row missing"
[ -s "$tmp/res/figures/estimators_pareto.png" ] || fail "estimators_pareto.png not rendered"
echo "bench pipeline: ok"
