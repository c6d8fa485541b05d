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
# Issue [Q] item 2: a reverse step's products that share an operand, two narrow against one wide
# (bench-speed's bench_wider.json): per layer, pairs (b) four wide products for eight, (c) three
# for six (layers 1-3), the same FLOPs either way, and (b) as GemmPair; the report renders them.
"$bin/bench_gemm" --benchmark_filter='BM_WiderProducts/pairs:(2|4)/' --benchmark_out="$tmp/bench/bench_wider.json" \
  --benchmark_out_format=json > "$tmp/bench_wider.log" 2>&1 || fail "BM_WiderProducts: $(tail -5 "$tmp/bench_wider.log")"
$py - "$tmp/bench/bench_wider.json" <<'PY' || fail "BM_WiderProducts counters"
import json, sys
runs = {r["name"].split("/")[1]: r for r in json.load(open(sys.argv[1]))["benchmarks"]}
assert sorted(runs) == ["pairs:2", "pairs:4"], runs
assert (runs["pairs:2"]["products"], runs["pairs:2"]["products_fused"]) == (8, 4), runs
assert (runs["pairs:4"]["products"], runs["pairs:4"]["products_fused"]) == (6, 3), runs
# (b): 2·in·rows·out FLOPs per product, in = 784, 50, 50, 50 and out = 50, 50, 50, 10, rows 200.
assert runs["pairs:2"]["flops"] == 2 * 2 * 200 * (784 * 50 + 50 * 50 + 50 * 50 + 50 * 10), runs
for r in runs.values():
    assert min(r["us_separate"], r["us_fused"], r["us_copies"], r["us_reverse_step_products"]) > 0, r
    assert abs(r["saving_share_of_reverse_products"] - (r["us_separate"] - r["us_fused"]) / r["us_reverse_step_products"]) < 1e-9, r
# GemmPair, as the MLP issues (a) and (b), is timed where the selection has no (c).
assert runs["pairs:2"]["us_gemm_pair"] > 0 and "us_gemm_pair" not in runs["pairs:4"], runs
assert abs(runs["pairs:2"]["saving_gemm_pair_share"] - (runs["pairs:2"]["us_separate"] - runs["pairs:2"]["us_gemm_pair"]) / runs["pairs:2"]["us_reverse_step_products"]) < 1e-9, runs
PY
# What two cores cost each other (BM_CrossCore, bench-speed's bench_speed.json), where the
# process may run on two CPUs: every figure positive, its CPUs two different ones.
if [ "$($py -c 'import os; print(len(os.sched_getaffinity(0)))')" -ge 2 ]; then
  "$bin/bench_hypergrad" --benchmark_filter='BM_CrossCore' --benchmark_out="$tmp/bench/bench_speed.json" \
    --benchmark_out_format=json > "$tmp/cross.log" 2>&1 || fail "BM_CrossCore: $(tail -5 "$tmp/cross.log")"
  $py - "$tmp/bench/bench_speed.json" <<'PY' || fail "BM_CrossCore counters"
import json, sys
(r,) = json.load(open(sys.argv[1]))["benchmarks"]
assert not r.get("error_occurred") and r["cpu_a"] != r["cpu_b"], r
for key in ("round_trip_ns", "read_other_core_gb_per_s", "read_own_gb_per_s", "products_alone_ms_per_step",
            "products_alone_ms_per_step_cpu_b", "products_both_busy_ms_per_step_cpu_b", "steps_ms_cpu_a",
            "steps_ms_cpu_b",
            "products_both_busy_ms_per_step", "products_both_busy_speed"):
    assert r[key] > 0, (key, r)
PY
fi
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
# The matrix-product floor: the Fig-2 step issues 11 products forward and 27 in a reverse step
# (gradient, Hessian-vector product: 31 products, of which the 4 pairs aᵀ·δ, aᵀ·R{δ} run as one
# wide product each, GemmPair), 2·m·n·k FLOPs each as recorded: the FLOPs of the 31.
floor = next(r for n, r in runs.items() if "MatrixProductFloor" in n)
assert floor["gemms_per_training_step"] == 11 and floor["gemms_per_reverse_step"] == 27, floor
assert floor["flops_per_training_step"] == 37960000, floor
assert floor["flops_per_reverse_step"] == 82520000, floor
assert floor["training_over_gemm"] > 0 and floor["hypergradient_over_gemm"] > 0 and floor["peak_rss_bytes"] > 0
# Three rounds of run and replay: the ratio of the fastest run to the fastest replay lies within
# the rounds' own ratios; the run's pieces add up to the run, the replay's to the replay.
for r in [x for n, x in runs.items() if "MatrixProductFloor" in n]:
    assert r["rounds"] == 3, r
    lo, mid, hi = (r[f"hypergradient_over_gemm_paired_{k}"] for k in ("min", "median", "max"))
    assert 0 < lo <= mid <= hi and lo * (1 - 1e-12) <= r["hypergradient_over_gemm"] <= hi * (1 + 1e-12), r
    parts = r["seconds_training"] + r["seconds_final_loss"] + r["seconds_reverse"]
    assert abs(parts - r["seconds_hypergradient"]) <= 1e-9 * r["seconds_hypergradient"], r
    replay = (r["ms_gemm_per_training_step"] + r["ms_gemm_per_reverse_step"]) * r["iters"] / 1e3
    assert replay < r["gemm_seconds_hypergradient"] * (1 + 1e-9), r
# Each piece's share of a step (step_profile.h): every piece timed, the shares and the rest add
# up to the whole step, the products take the largest share, no share is negative.
pieces = ("products", "algorithm3", "tanh", "fixed_point_adds", "fixed_point_to_double", "input_conversion")
for phase in ("training", "reverse"):
    shares = [floor[f"share_{phase}_{p}"] for p in pieces]
    assert all(x > 0 for x in shares), (phase, shares)
    assert abs(sum(shares) + floor[f"share_{phase}_rest"] - 1) < 1e-9 and floor[f"share_{phase}_rest"] > 0, floor
    assert max(shares) == floor[f"share_{phase}_products"] and floor[f"ms_per_{phase}_step"] > 0, floor
    assert floor[f"ms_gemm_per_{phase}_step"] > 0, floor
# Both tanh kernels are timed against the same floor, and glibc's on the tool's data layout too
# (8-bit pixels in order: the same products); two threads give one thread's bits.
floors = [r for n, r in runs.items() if "MatrixProductFloor" in n]
assert sorted((r["polynomial_tanh"], r["tool_layout"]) for r in floors) == [(0, 0), (0, 1), (1, 0)], floors
tool = next(r for r in floors if r["tool_layout"] == 1)
assert tool["gemms_per_reverse_step"] == 27 and tool["flops_per_training_step"] == 37960000, tool
assert tool["share_training_input_conversion"] > 0 and tool["hypergradient_over_gemm"] > 0, tool
threads = next(r for n, r in runs.items() if "BM_Threads" in n)
assert threads["threads"] == 2 and threads["bitwise_equal_to_one_thread"] == 1, threads
assert threads["speedup"] > 0 and threads["seconds_one_thread"] > 0, threads
# cores: the CPUs the process may run on; threads_used: what a loop uses (no more than those).
import os
assert threads["cores"] == len(os.sched_getaffinity(0)), threads
assert threads["threads_used"] == min(2, threads["cores"]), threads
# Reversible Adam: exact, equal to its stored trajectory, and far below storing (w, m, s).
adam = next(r for n, r in runs.items() if "Adam" in n)
assert adam["reversal_exact"] == 1 and adam["bitwise_equal_to_stored"] == 1, adam
assert adam["store_all_bytes"] == 3 * 8 * 44860 * 100, adam
assert 0 < adam["computed_peak_extra_bytes"] < adam["store_all_bytes"] / 50, adam
PY

# The estimator benchmark at its smoke sizes: every estimator ran, forward mode equals the exact
# per-block hypergradients, the meta-optimisation and the horizons are there. --out names a
# folder that does not exist yet (created, as the tools create an --out file's folder);
# --mnist-dir is taken (the smoke sizes read no MNIST).
"$bin/bench_estimators" --smoke --out "$tmp/new/bench" --mnist-dir "$tmp/no-mnist" > "$tmp/bench_estimators.log" 2>&1 ||
  fail "bench_estimators exited non-zero: $(tail -5 "$tmp/bench_estimators.log")"
cp "$tmp/new/bench/bench_estimators.json" "$tmp/new/bench/bench_estimators.h5" "$tmp/bench/"
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
# Timing: 3 calls per estimator, the median over the median of 3 training runs, the spread
# recorded; the repeated calls gave the same bits.
for r in acc:
    s = sorted(r["seconds_samples"])
    assert r["repeats"] == 3 and len(s) == 3 and r["seconds"] == s[1], r
    assert r["time_ratio_min"] <= r["time_ratio"] <= r["time_ratio_max"], r
    assert r["repeat_bitwise_equal"] is True, r["label"]
# Per kind: the number of values, the exact norm, non-finite counts (0 here), sign agreement over
# the entries where exact ≠ 0; the exact row carries the norms.
for r in acc:
    for k, m in r["kinds"].items():
        assert m["nonfinite"] == 0 and m["values"] > 0 and m["exact_norm"] >= 0, (r["label"], k, m)
        if r["estimator"] != "exact":
            assert 0 < m["sign_counted"] <= m["values"], (r["label"], k, m)
# cg records its iterations (at most K) and residual; a residual at or below 1e-12 stops it early.
for r in (r for r in acc if r["estimator"] == "cg"):
    d, k = r["diagnostics"], int(r["label"].split("terms=")[1])
    assert 1 <= d["cg_iterations"] <= k, r
    assert d["cg_iterations"] == k or d["cg_relative_residual"] <= 1e-12, r
# Memory by stage for the exact estimator in every case; the buffer's computed size.
for c in doc["cases"]:
    stages = {s["stage"]: s for s in c["exact_stages"]}
    assert set(stages) == {"construct", "train", "objective", "reverse", "estimate", "buffer_computed"}, stages
    assert stages["reverse"]["peak"] >= stages["reverse"]["live_before"] > 0, stages
    assert c["objective_peak_bytes"] > 0 and c["hvp_peak_bytes"] > 0 and len(c["training_seconds_samples"]) == 3
meta = doc["meta_optimisation"]
assert [m["estimator"] for m in meta] == ["exact", "truncated", "drmad", "greedy", "es", "pes"], meta
assert all("error" not in m for m in meta)
# Short horizons: the grid (7 points at the smoke's step 2) and the refinement; the choice is the
# lowest loss of all points tried, never above the untrained network's loss.
sh = doc["short_horizon"]
assert [h["horizon"] for h in sh] == [1, 10]
for h in sh:
    tried = [x for x in h["grid_loss"] + h["refine_loss"] if x is not None]
    assert len(h["grid_log_alpha"]) == 7 and h["loss_at_horizon"] == min(tried), h
    assert h["loss_at_horizon"] <= h["untrained_loss"], h
sched = doc["short_horizon_schedule"]
assert [h["horizon"] for h in sched] == [1, 10] and all("error" not in h for h in sched), sched
assert all(h["loss_at_horizon"] <= s["loss_at_horizon"] * (1 + 1e-9) for h, s in zip(sched, sh)), (sched, sh)
PY
# --help says what runs, the sizes, BENCH_FULL, the outputs and the time; bad arguments are
# refused: an unknown one (exit 2), --out naming a file (exit 1), both without writing.
"$bin/bench_estimators" --help > "$tmp/help" || fail "bench_estimators --help failed"
for want in "BENCH_FULL=1" "bench_estimators.json" "--mnist-dir DIR" "--smoke" "minutes"; do
  grep -q -- "$want" "$tmp/help" || fail "bench_estimators --help lacks '$want'"
done
set +e
"$bin/bench_estimators" --frobnicate > /dev/null 2> "$tmp/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "unknown argument '--frobnicate'" "$tmp/err" || fail "unknown argument: rc $rc, $(cat "$tmp/err")"
touch "$tmp/a_file"
set +e
"$bin/bench_estimators" --smoke --out "$tmp/a_file" > /dev/null 2> "$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q -- "--out $tmp/a_file: exists and is not a folder" "$tmp/err" || fail "--out a file: rc $rc, $(cat "$tmp/err")"

$py "$src/analysis/bench.py" --bench "$tmp/bench" --results "$tmp/res" > "$tmp/bench.log"
for f in bench_bits bench_recovery bench_memory; do
  [ -s "$tmp/res/figures/$f.png" ] || fail "$f.png not rendered"
done
$py "$src/analysis/report.py" --results "$tmp/res" --bench "$tmp/bench" > /dev/null
grep -q "## Memory and exactness" "$tmp/res/REPORT.md" || fail "report section missing"
# A benchmark that ended in an error is named in the report with its message (its rows left
# out); a file that is not JSON, a run lacking a counter its table needs, or a --results or
# --bench that is not a folder stop report.py with one line naming it, no traceback.
mkdir -p "$tmp/odd/bench" "$tmp/odd/res"
cp "$tmp/bench/"*.json "$tmp/odd/bench/"
$py - "$tmp/odd/bench/bench_wider.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["benchmarks"][0].update({"error_occurred": True, "error_message": "made up for the test"})
json.dump(d, open(sys.argv[1], "w"))
PY
$py "$src/analysis/report.py" --results "$tmp/odd/res" --bench "$tmp/odd/bench" > /dev/null
grep -q "^\*\*Benchmarks that did not complete\*\* (left out of the tables above): \`BM_WiderProducts/pairs:2/.*\` in bench_wider.json: made up for the test" \
  "$tmp/odd/res/REPORT.md" || fail "a benchmark that ended in an error is not named in the report"
odd_case() {  # odd_case WHAT EXPECTED-MESSAGE ARGS...: report.py refuses, one line, no traceback
  local what=$1 expected=$2
  shift 2
  if $py "$src/analysis/report.py" "$@" > "$tmp/odd.log" 2>&1; then fail "report.py accepted $what"; fi
  grep -q -e "$expected" "$tmp/odd.log" && ! grep -q Traceback "$tmp/odd.log" \
    || fail "report.py on $what: $(cat "$tmp/odd.log")"
}
echo '{' > "$tmp/odd/bench/bench_speed.json"
odd_case "a file that is not JSON" "report: .*bench_speed.json: not a readable JSON file" --results "$tmp/odd/res" --bench "$tmp/odd/bench"
cp "$tmp/bench/bench_hypergrad.json" "$tmp/odd/bench/bench_speed.json"
$py - "$tmp/odd/bench/bench_speed.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["benchmarks"]:
    r.pop("training_over_gemm", None)
json.dump(d, open(sys.argv[1], "w"))
PY
odd_case "a run lacking a counter" "report: a benchmark run in .* lacks the counter 'training_over_gemm'" --results "$tmp/odd/res" --bench "$tmp/odd/bench"
odd_case "a --results that is not a folder" "--results $tmp/no/such: not a folder" --results "$tmp/no/such"
odd_case "a --bench that is not a folder" "--bench $tmp/no/such: not a folder" --results "$tmp/odd/res" --bench "$tmp/no/such"
# No figure's result file here: the report says so instead of an empty list of kernels.
grep -q "^\*\*Arithmetic.\*\* No result files were found" "$tmp/res/REPORT.md" \
  || fail "the report's Arithmetic line without result files: $(grep Arithmetic "$tmp/res/REPORT.md")"
grep -q "| 100 | revolve s=20 |" "$tmp/res/REPORT.md" || fail "Revolve row missing"
grep -q "^| 100 | fast | 0\.[0-9]* |" "$tmp/res/REPORT.md" || fail "reversible-Adam row missing"
grep -q "^| 100 | polynomial | " "$tmp/res/REPORT.md" || fail "matrix-product floor row missing"
grep -q "^| (b) aᵀ·δ and aᵀ·R{δ} | [0-9]* µs | [0-9]* µs | [0-9.]* | " "$tmp/res/REPORT.md" \
  || fail "wider products row missing"
if [ -s "$tmp/bench/bench_speed.json" ]; then  # BM_CrossCore ran (two CPUs)
  grep -q "^\*\*What the two cores cost each other\*\* (\`BM_CrossCore\`, CPU [0-9]* and CPU [0-9]*, .* read at [0-9]* GB/s, against [0-9]* GB/s" \
    "$tmp/res/REPORT.md" || fail "the two cores' costs are not in the report"
fi
grep -q "^| 100 | glibc | doubles, random batches | reverse | [0-9.]* | [0-9.]* | [0-9]*% | " "$tmp/res/REPORT.md" \
  || fail "step shares row missing"
grep -q "^| 100 | glibc | 8-bit, in order (the tool's) | reverse | [0-9.]* | [0-9.]* | [0-9]*% | " "$tmp/res/REPORT.md" \
  || fail "step shares row of the tool's data layout missing"
grep -q "^| training + final loss + reverse ≤ 1.5 × their products (issue \[Q\]), T = 100, glibc tanh, 8-bit, in order (the tool's) | [0-9.]*×[^|]* | " \
  "$tmp/res/REPORT.md" || fail "issue [Q]'s products target on the tool's data layout missing"
grep -q "^| 100 | 2 | " "$tmp/res/REPORT.md" || fail "threads row missing"
grep -q "## Exact against approximate hypergradients" "$tmp/res/REPORT.md" || fail "estimator section missing"
grep -q "^| fig2 | 10 | forward | alpha_block | 8 | [0-9.e-]* | 1 " "$tmp/res/REPORT.md" || fail "forward-mode row missing"
grep -q "^| fig6 | 10 | drmad | alpha_block | 1 | [0-9.e-]* | [+−]1 (1 value: sign only) | " "$tmp/res/REPORT.md" \
  || fail "one-value cosine not marked"
grep -q "The meta-objective f each hypergradient is taken of: Fig-2 schedules (784-50-50-50-10): the training loss" \
  "$tmp/res/REPORT.md" || fail "the section does not say the meta-objective"
grep -q "^| fig2 | 10 | 44,860 | [0-9,]* | " "$tmp/res/REPORT.md" || fail "memory-by-stage row missing"
[ -s "$tmp/res/figures/estimators_pareto.png" ] || fail "estimators_pareto.png not rendered"
# The section's rules on the file's numbers: an estimate with non-finite values gets its count,
# not a metric; a kind with ‖exact‖·‖x‖ below f's float64 resolution is negligible; a cosine within 1e-3
# of 1 shows its gap; the facts name the non-finite estimate. (The smoke run has none of these:
# the test edits its JSON.)
mkdir -p "$tmp/edit" "$tmp/edit_res"
$py - "$tmp/bench/bench_estimators.json" "$tmp/edit/bench_estimators.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
acc = doc["accuracy"]
drmad = next(r for r in acc if r["estimator"] == "drmad" and r["problem"] == "fig2")
drmad["kinds"]["alpha"] = {"values": 80, "exact_norm": 1.0, "nonfinite": 7}
for r in acc:
    if r["problem"] == "fig2" and "w0" in r["kinds"]:
        r["kinds"]["w0"]["exact_norm"] = 1e-115
greedy = next(r for r in acc if r["estimator"] == "greedy" and r["problem"] == "fig2")
greedy["kinds"]["alpha"].update({"cosine": 0.99997, "rel_error": 0.01})
json.dump(doc, open(sys.argv[2], "w"))
PY
$py "$src/analysis/estimators.py" --bench "$tmp/edit" --results "$tmp/edit_res" > /dev/null
sec="$tmp/edit_res/estimators_section.md"
grep -q "^| fig2 | 10 | drmad | alpha | 80 | 1 | non-finite (7 of 80 values) | " "$sec" || fail "non-finite row"
grep -q "drmad on Fig-2 schedules (784-50-50-50-10), T = 10: 7 non-finite values (NaN or ±inf) in alpha (7)" "$sec" \
  || fail "non-finite fact"
grep -q "^| fig2 | 10 | drmad | w0 | 44,860 | [0-9.e-]* | negligible (‖exact‖ 1.00e-115) | " "$sec" || fail "negligible row"
grep -q "^| fig2 | 10 | greedy | alpha | 80 | [0-9.e-]* | 1 − 3.0e-05 | 0.01 | " "$sec" || fail "cosine gap"

# analysis/estimators_compare.py: a file against itself is equal in every dataset; one changed
# value is found and named; a copy whose JSON records other meta-optimisation settings has its
# /meta datasets left out (the same names and shapes, other quantities).
mkdir -p "$tmp/cmp_a" "$tmp/cmp_b"
cp "$tmp/bench/bench_estimators.json" "$tmp/bench/bench_estimators.h5" "$tmp/cmp_a/"
cp "$tmp/bench/bench_estimators.json" "$tmp/bench/bench_estimators.h5" "$tmp/cmp_b/"
$py - "$tmp/cmp_b" <<'PY'
import json, sys, h5py
d = sys.argv[1]
with h5py.File(d + "/bench_estimators.h5", "r+") as f:
    x = f["/fig2/T10/exact/alpha"]
    v = x[()]; v.flat[0] = v.flat[0] * (1 + 1e-12) + 1e-300; x[...] = v
doc = json.load(open(d + "/bench_estimators.json"))
doc["meta_optimisation_settings"]["meta_iters"] += 1
json.dump(doc, open(d + "/bench_estimators.json", "w"))
PY
$py "$src/analysis/estimators_compare.py" --out "$tmp/cmp.json" --pair self "$tmp/cmp_a/bench_estimators.h5" \
  "$tmp/cmp_a/bench_estimators.h5" --pair edited "$tmp/cmp_a/bench_estimators.h5" "$tmp/cmp_b/bench_estimators.h5" > /dev/null
$py - "$tmp/cmp.json" <<'PY' || fail "estimators_compare"
import json, sys
self_, edited = json.load(open(sys.argv[1]))["pairs"]
assert self_["differ"] == 0 and self_["compared"] > 0 and self_["groups_with_other_settings"] == [], self_
assert edited["differ"] == 1 and edited["differing"] == ["/fig2/T10/exact/alpha"], edited
assert edited["groups_with_other_settings"] == ["meta"], edited
assert edited["compared"] < self_["compared"], (edited["compared"], self_["compared"])
PY

# experiments/python/speed_vs_torch.py (make bench-speed): the tool against PyTorch where
# python3-torch is installed (left out, and recorded so, where it is not) and the tool on one
# thread and on two, on a small fake MNIST; its JSON and the report's tables.
if $py -c "import torch" 2> /dev/null; then has_torch=1; else has_torch=0; fi
$py "$src/tests/support/make_fake_mnist.py" "$tmp/fake_mnist" 600 100
$py "$src/experiments/python/speed_vs_torch.py" --hypergrad "$bin/hypergrad" --mnist-dir "$tmp/fake_mnist" \
  --train-size 400 --T 2,3 --repeats 1 --threads-iters 3 --threads-repeats 2 \
  --out "$tmp/bench/speed_vs_torch.json" > "$tmp/speed.log" 2>&1 \
  || fail "speed_vs_torch.py: $(tail -5 "$tmp/speed.log")"
$py - "$tmp/bench/speed_vs_torch.json" "$has_torch" <<'PY' || fail "speed_vs_torch.json"
import json, sys
doc = json.load(open(sys.argv[1]))
if sys.argv[2] == "1":
    assert [r["iters"] for r in doc["cases"]] == [2, 3], doc
    for r in doc["cases"]:
        assert r["hypergrad_best"] > 0 and r["torch_best"] > 0, r
        assert abs(r["ratio_best"] - r["hypergrad_best"] / r["torch_best"]) < 1e-12 and r["target"] is None, r
else:
    assert doc["cases"] == [] and doc["meta"]["torch"] is None, doc
[t] = doc["threads_cases"]
assert t["iters"] == 3 and t["threads"] == 2 and len(t["one_thread_seconds"]) == len(t["threads_seconds"]) == 2, t
assert abs(t["speedup_best"] - min(t["one_thread_seconds"]) / min(t["threads_seconds"])) < 1e-12, t
assert t["target"] is None and t["met"] is None, t  # the target is for T = 300
assert t["bitwise_equal"] is True, t  # the same bits on any number of threads
assert doc["meta"]["train_size"] == 400 and doc["meta"]["repeats"] == 1
assert doc["meta"]["mnist_pinned"] is False, doc["meta"]  # fake data: no target is judged on them
PY
$py "$src/analysis/bench.py" --bench "$tmp/bench" --results "$tmp/res" > /dev/null
$py "$src/analysis/report.py" --results "$tmp/res" --bench "$tmp/bench" > /dev/null
if [ "$has_torch" = 1 ]; then
  grep -q "^| 2 | [0-9.]* s | [0-9.]* s | [0-9.]* |  |  |" "$tmp/res/REPORT.md" || fail "PyTorch comparison row missing"
else
  echo "python3-torch not installed: the PyTorch comparison not checked"
fi
grep -q "^| 3 | 400 | 2 | [0-9]* | [0-9.]* s | [0-9.]* s | [0-9.]*× | [0-9.]*× |  |  | yes |" "$tmp/res/REPORT.md" \
  || fail "whole-process threads row missing"
# Without python3-torch (hidden here where it is installed): the PyTorch part is left out, said so
# in the JSON and the report, and bad arguments are refused before any run.
$py - "$src/experiments/python/speed_vs_torch.py" --hypergrad "$bin/hypergrad" --mnist-dir "$tmp/fake_mnist" \
  --train-size 400 --T 2 --repeats 1 --threads-iters 0 --out "$tmp/bench/speed_vs_torch.json" \
  > "$tmp/speed_nt.log" 2>&1 <<'PY' || fail "speed_vs_torch.py without torch: $(tail -5 "$tmp/speed_nt.log")"
import os, runpy, sys
sys.modules["torch"] = None  # import torch now raises ImportError
script = sys.argv[1]
sys.path.insert(0, os.path.dirname(script))  # as when the script is run directly
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
PY
$py -c "import json, sys; d = json.load(open(sys.argv[1])); assert d['cases'] == [] and d['meta']['torch'] is None and d['meta']['horizons'] == [2] and d['threads_cases'] == [], d" \
  "$tmp/bench/speed_vs_torch.json" || fail "speed_vs_torch.json without torch"
$py "$src/analysis/bench.py" --bench "$tmp/bench" --results "$tmp/res" > /dev/null
$py "$src/analysis/report.py" --results "$tmp/res" --bench "$tmp/bench" > /dev/null
grep -q "Against PyTorch\*\*: left out: python3-torch was not installed" "$tmp/res/REPORT.md" \
  || fail "the report does not say the PyTorch comparison was left out"
# Each bad argument last, after settings that are good on their own (the last one counts).
for bad in "--T abc" "--T 0" "--train-size 1000" "--train-size 500" "--threads-iters 3 --threads 1" \
           "--out $tmp" "--hypergrad $bin"; do
  if $py "$src/experiments/python/speed_vs_torch.py" --hypergrad "$bin/hypergrad" --mnist-dir "$tmp/fake_mnist" \
       --train-size 400 --T 2 --repeats 1 --threads-iters 0 --out "$tmp/bad.json" $bad > "$tmp/bad.log" 2>&1; then
    fail "speed_vs_torch.py accepted $bad"
  fi
  grep -q "^speed_vs_torch: " "$tmp/bad.log" && ! grep -q Traceback "$tmp/bad.log" && ! grep -q "run 1:" "$tmp/bad.log" \
    || fail "speed_vs_torch.py $bad: no clear message before the timings: $(cat "$tmp/bad.log")"
  [ ! -e "$tmp/bad.json" ] || fail "speed_vs_torch.py $bad wrote a file"
done
# With PyTorch, a horizon its unrolled run cannot hold in this machine's memory (2.7 GB per 1000
# steps; T = 10^6 needs 2.7 TB) is refused before the timings too.
if $py -c "import torch" 2> /dev/null; then
  if $py "$src/experiments/python/speed_vs_torch.py" --hypergrad "$bin/hypergrad" --mnist-dir "$tmp/fake_mnist"        --train-size 400 --T 2,1000000 --repeats 1 --threads-iters 0 --out "$tmp/bad.json" > "$tmp/bad.log" 2>&1; then
    fail "speed_vs_torch.py accepted --T 1000000 with PyTorch"
  fi
  grep -q "^speed_vs_torch: --T 2,1000000: PyTorch's unrolled run at T = 1000000 needs about 2700.0 GB" "$tmp/bad.log" \
    && ! grep -q "run 1:" "$tmp/bad.log" && [ ! -e "$tmp/bad.json" ] \
    || fail "speed_vs_torch.py --T 1000000 with PyTorch: $(cat "$tmp/bad.log")"
fi
# Data the tool refuses (a label that is not a digit): stopped before the timings, in one line.
cp -r "$tmp/fake_mnist" "$tmp/bad_mnist"
$py - "$tmp/bad_mnist/train-labels-idx1-ubyte" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(8 + 5)
    f.write(bytes([12]))
PY
if $py "$src/experiments/python/speed_vs_torch.py" --hypergrad "$bin/hypergrad" --mnist-dir "$tmp/bad_mnist" \
     --train-size 400 --T 2 --repeats 1 --out "$tmp/bad.json" > "$tmp/bad.log" 2>&1; then
  fail "speed_vs_torch.py ran on a bad labels file"
fi
grep -q "label 12 of image 5 is not a digit" "$tmp/bad.log" && grep -q "^speed_vs_torch: .* failed" "$tmp/bad.log" \
  && ! grep -q Traceback "$tmp/bad.log" && ! grep -q "run 1:" "$tmp/bad.log" \
  || fail "speed_vs_torch.py on a bad labels file: $(cat "$tmp/bad.log")"
[ ! -e "$tmp/bad.json" ] || fail "speed_vs_torch.py wrote a file for bad data"
echo "bench pipeline: ok"
