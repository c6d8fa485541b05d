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
# --gamma takes the optimizer registry's range [1e-6, 0.999999], as in hypergrad and
# reversal_check (before: buffer_check's own (0, 2)); outside, or not a number, is a
# command-line error naming --gamma (before that: a std::stod abort).
for bad in 1.5 0 abc; do
  if "$bin/buffer_check" --gamma $bad --quiet 2> "$tmp/err"; then fail "buffer_check accepted --gamma $bad"; fi
  grep -q -- "--gamma: expected a number in \[1e-06, 0.999999\], got '$bad'" "$tmp/err" || fail "--gamma $bad: $(cat "$tmp/err")"
done

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
# With α = 10^5 the MLP's own arithmetic overflows to NaN at weights still inside the range.
grep -Eq "training diverged at iteration|iteration [0-9]+: the model's gradient for parameter .* because training diverged" "$tmp/err" \
  || fail "divergence message: $(cat "$tmp/err")"
grep -q "warning: the run diverged (training left the fixed-point range.*lower --alpha (now 100000)" "$tmp/err" \
  || fail "no divergence warning: $(cat "$tmp/err")"
# A run that diverges inside the range (α = 20: the final loss twice the loss at w_0 and more)
# still reverses exactly (exit 0), with a warning that says what to lower.
"$bin/reversal_check" --problem synthetic --iters 50 --alpha 20 --json --quiet > "$tmp/r20.json" 2> "$tmp/err" \
  || fail "reversal_check --alpha 20 failed: $(cat "$tmp/err")"
grep -q '"bitwise_equal": true' "$tmp/r20.json" || fail "reversal_check --alpha 20 not exact"
grep -q "reversal_check: warning: the run diverged (final training loss .* at w_0, largest |w_T| .*): lower --alpha (now 20)" "$tmp/err" \
  || fail "no warning for a diverging run: $(cat "$tmp/err")"
"$bin/reversal_check" --problem synthetic --iters 50 --json --quiet > /dev/null 2> "$tmp/err"
[ ! -s "$tmp/err" ] || fail "a converging run warned: $(cat "$tmp/err")"
# --alpha defaults to the optimizer's (the registry's default_alpha): sgd 0.1, adam and rmsprop
# 0.01 (Adam at SGD's 0.1 takes steps of 0.1 per parameter).
for pair in sgd:0.1 adam:0.01 rmsprop:0.01; do
  "$bin/reversal_check" --problem synthetic --optimizer "${pair%%:*}" --iters 20 --json --quiet > "$tmp/ra.json" 2> "$tmp/err"
  grep -q "\"alpha\": ${pair#*:}," "$tmp/ra.json" || fail "default alpha of ${pair%%:*}: $(grep alpha "$tmp/ra.json")"
  [ ! -s "$tmp/err" ] || fail "${pair%%:*} at its default alpha warned: $(cat "$tmp/err")"
done
"$bin/reversal_check" --help | tr -s ' \n' ' ' | grep -q "default: the optimizer's, sgd 0.1, adam 0.01, rmsprop 0.01" \
  || fail "reversal_check --help does not give the default alphas"

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
# The objective in the model's own words (ToolModel::objective_text).
assert f.attrs["objective"] == ("mean cross-entropy (negative log-likelihood) of the MLP's softmax "
                                "outputs over all 400 training rows at w_T, no L2 penalty"), f.attrs["objective"]
PY
# --model (models/registry.h): the MLP is the default and recorded with its flags; the second
# registered model runs with no tool of its own, reverses exactly, and is recorded with its flag;
# an unknown model, or another model's flag, is a command-line error that writes no file.
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 12 \
  --model logistic --l2 0.001 --log-alpha -3 --out "$tmp/logistic.h5" --quiet
$py - "$tmp/h.h5" "$tmp/logistic.h5" <<'PY'
import sys, h5py, numpy as np
mlp, f = (h5py.File(p, "r") for p in sys.argv[1:3])
assert mlp.attrs["model"] == "mlp" and mlp.attrs["layers"] == "784,20,10" and mlp.attrs["tanh"] == "libm"
assert f.attrs["model"] == "logistic" and f.attrs["l2"] == "0.001" and "layers" not in f.attrs
assert bool(f.attrs["reversal_exact"]) is True and f.attrs["block_names"] == "W,b"
assert f["w_T"].shape == f["d_w0"].shape == (784 * 10 + 10,) and f["d_alpha"].shape == (12, 2)
assert np.isfinite(f["d_w0"][()]).all() and np.abs(f["d_alpha"][()]).max() > 0
assert "softmax regression over all 400 training rows at w_T" in f.attrs["objective"], f.attrs["objective"]
assert "MLP" not in f.attrs["objective"]
PY
"$bin/reversal_check" --model logistic --iters 500 --json --quiet > "$tmp/rl.json"
grep -q '"bitwise_equal": true' "$tmp/rl.json" && grep -q '"model": "logistic"' "$tmp/rl.json" \
  || fail "reversal_check --model logistic: $(cat "$tmp/rl.json")"
for args in "--model nosuch" "--model logistic --tanh polynomial" "--model mlp --l2 0.1"; do
  # shellcheck disable=SC2086
  if "$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 2 $args \
       --out "$tmp/nomodel.h5" --quiet 2> "$tmp/err"; then fail "hypergrad accepted $args"; fi
  [ ! -e "$tmp/nomodel.h5" ] || fail "hypergrad $args wrote a file"
done
grep -q -- "--model: nosuch not in {.*mlp.*logistic" <("$bin/hypergrad" --model nosuch --out "$tmp/nomodel.h5" 2>&1) \
  || fail "--model nosuch: the message does not list the models"
grep -q -- "--tanh: applies to --model mlp only, not to --model logistic" \
  <("$bin/reversal_check" --model logistic --tanh polynomial 2>&1) || fail "--tanh with --model logistic"
# The same with Adam: its datasets, exact reversal, and its flags checked.
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 12 \
  --layers 784,20,10 --optimizer adam --log-alpha -6 --beta1 0.8 --beta2 0.99 --eps 1e-6 \
  --out "$tmp/adam.h5" --quiet
/usr/bin/python3 - "$tmp/adam.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
n = 784 * 20 + 20 + 20 * 10 + 10
for key in ("d_alpha", "d_beta1", "d_beta2"):
    assert f[key].shape == (12, 4), (key, f[key].shape)
for key in ("w_T", "m_T", "s_T", "d_w0", "d_m0", "d_s0"):
    assert f[key].shape == (n,), (key, f[key].shape)
assert np.isfinite(f["d_eps"][()]) and f["d_eps"].shape == ()
assert (f["s_T"][()] >= 0).all()
assert "d_gamma" not in f and "v_T" not in f
assert bool(f.attrs["reversal_exact"]) is True
assert f.attrs["optimizer"] == "adam" and f.attrs["beta1"] == 0.8 and f.attrs["eps"] == 1e-6
PY
"$bin/reversal_check" --problem synthetic --optimizer adam --alpha 0.001 --iters 300 \
  --method checkpointed --json --quiet > "$tmp/ra.json"
grep -q '"bitwise_equal": true' "$tmp/ra.json" || fail "reversal_check --optimizer adam"
# RMSprop with momentum through the same tools: its datasets by the registry's names, exact.
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 12 \
  --layers 784,20,10 --optimizer rmsprop --log-alpha -7 --rho 0.99 --mu 0.8 --eps 1e-6 \
  --out "$tmp/rmsprop.h5" --quiet
/usr/bin/python3 - "$tmp/rmsprop.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
n = 784 * 20 + 20 + 20 * 10 + 10
for key in ("d_alpha", "d_rho", "d_mu"):
    assert f[key].shape == (12, 4), (key, f[key].shape)
for key in ("w_T", "s_T", "m_T", "d_w0", "d_s0", "d_m0"):
    assert f[key].shape == (n,), (key, f[key].shape)
assert np.isfinite(f["d_eps"][()]) and (f["s_T"][()] >= 0).all()
assert bool(f.attrs["reversal_exact"]) is True
assert f.attrs["optimizer"] == "rmsprop" and f.attrs["rho"] == 0.99 and f.attrs["mu"] == 0.8
PY
"$bin/reversal_check" --problem synthetic --optimizer rmsprop --alpha 0.001 --iters 300 \
  --method revolve --buffer exact --json --quiet > "$tmp/rr.json"
grep -q '"bitwise_equal": true' "$tmp/rr.json" || fail "reversal_check --optimizer rmsprop"
"$bin/buffer_check" --optimizer adam --steps 2000 --params 20 --json --quiet > "$tmp/ba.json"
grep -q '"bitwise_equal": true' "$tmp/ba.json" || fail "buffer_check --optimizer adam"
/usr/bin/python3 -c "
import json, math; j = json.load(open('$tmp/ba.json'))
bound = math.log2(65536 / 58983) + math.log2(65536 / 65471)
assert abs(j['entropy_bits_per_param_per_step'] - bound) < 1e-12, j
assert set(j['moments']) == {'m', 's'}, j"
# RMSprop's two moments through buffer_check (s decayed by rho, m by mu from g/sqrt(s + eps)):
# exact, and the bits of each moment near its entropy log2(d/n).
"$bin/buffer_check" --optimizer rmsprop --rho 0.99 --mu 0.8 --steps 4000 --params 20 --json --quiet > "$tmp/br.json"
/usr/bin/python3 -c "
import json, math; j = json.load(open('$tmp/br.json'))
assert j['bitwise_equal'] and j['buffer_empty_after_reverse'], j
assert (j['optimizer'], j['rho'], j['mu'], j['eps']) == ('rmsprop', 0.99, 0.8, 1e-8), j
assert list(j['moments']) == ['s', 'm'], j
for name, n in (('s', 64881), ('m', 52429)):
    m = j['moments'][name]
    assert (m['n'], m['d']) == (n, 65536), m
    assert abs(m['entropy_bits_per_param_per_step'] - math.log2(65536 / n)) < 1e-12, m
    assert abs(m['steady_info_bits_per_param_per_step'] / math.log2(65536 / n) - 1) < 0.01, m"

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
# --mnist-dir naming a file, or nothing: said so.
for dir in "$tmp/mnist/train-images-idx3-ubyte" ""; do
  if "$bin/hypergrad" --mnist-dir "$dir" --out "$tmp/bad.h5" --quiet 2> "$tmp/err"; then
    fail "hypergrad ran with --mnist-dir '$dir'"
  fi
  grep -q "not a folder\|an empty path" "$tmp/err" || fail "--mnist-dir '$dir' message: $(cat "$tmp/err")"
  [ ! -e "$tmp/bad.h5" ] || fail "hypergrad wrote a file with --mnist-dir '$dir'"
done
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --layers 784,20,10 --w0 "$tmp/w0.h5" --iters 5 \
  --train-size 400 --batch-size 100 --log-alpha 9 --out "$tmp/bad.h5" --quiet 2> "$tmp/err" \
  && fail "hypergrad did not fail on divergence"
[ ! -e "$tmp/bad.h5" ] || fail "a failed run left $tmp/bad.h5"
ls -a "$tmp" | grep -q "tmp-" && fail "a failed run left a temporary file"
# Flags: strict, and every message names the flag (issue [H] 5-7).
expect_error() {  # expect_error PATTERN COMMAND...: non-zero exit and PATTERN on stderr
  local pattern=$1; shift
  if "$@" > /dev/null 2> "$tmp/err"; then fail "accepted: $*"; fi
  grep -q -- "$pattern" "$tmp/err" || fail "$*: unclear message: $(cat "$tmp/err")"
}
h=("$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 2 --quiet --out "$tmp/bad.h5")
expect_error "--seed: expected a whole number in \[0, 4294967295\], got '-1'" "${h[@]}" --seed -1
expect_error "--seed: expected" "${h[@]}" --seed 99999999999999999999999
expect_error "--batch-size: expected a whole number in \[1, 60000\], got '0'" "${h[@]}" --batch-size 0
expect_error "--layers: .*at least two sizes" "${h[@]}" --layers 784
expect_error "--layers: .*an empty size" "${h[@]}" --layers 784,30,10,
expect_error "--layers: .*an empty size" "${h[@]}" --layers ,784,30,10
expect_error "--layers: .*parameter count beyond" "${h[@]}" --layers 784,23203451665043462,10
expect_error "--layers: .*parameter count beyond" "${h[@]}" --layers 784,4294967297,10
expect_error "--beta2: expected a number in" "${h[@]}" --optimizer adam --beta2 1
expect_error "--eps: expected a number in" "${h[@]}" --optimizer adam --eps 0
expect_error "--optimizer: .*lion" "${h[@]}" --optimizer lion
expect_error "--eps: expected a number in \\[1e-12, 1\\]" "${h[@]}" --optimizer adam --eps 1e-13
# Each optimizer's own range from the registry (one --eps, two ranges): Adam's [1e-12, 1],
# RMSprop's [1e-300, 1], here and in reversal_check and buffer_check alike.
expect_error "--eps: expected a number in \\[1e-12, 1\\] for --optimizer adam, got '1e-20'" "${h[@]}" --optimizer adam --eps 1e-20
expect_error "--eps: expected a number in \\[1e-12, 1\\] for --optimizer adam, got '1e-20'" "$bin/reversal_check" --optimizer adam --eps 1e-20 --quiet
expect_error "--eps: expected a number in \\[1e-300, 1\\], got '0'" "$bin/buffer_check" --optimizer rmsprop --eps 0 --quiet
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 2 --layers 784,20,10 \
  --optimizer rmsprop --log-alpha -7 --eps 1e-20 --out "$tmp/rms_eps.h5" --quiet || fail "hypergrad --optimizer rmsprop --eps 1e-20"
"$bin/reversal_check" --problem synthetic --optimizer rmsprop --eps 1e-300 --iters 20 --json --quiet > "$tmp/re.json"
grep -q '"eps": 1e-300' "$tmp/re.json" && grep -q '"bitwise_equal": true' "$tmp/re.json" || fail "reversal_check --optimizer rmsprop --eps 1e-300"
"$bin/buffer_check" --optimizer rmsprop --eps 1e-200 --steps 300 --params 5 --json --quiet > "$tmp/be.json"
grep -q '"eps": 1e-200' "$tmp/be.json" && grep -q '"bitwise_equal": true' "$tmp/be.json" || fail "buffer_check --optimizer rmsprop --eps 1e-200"
expect_error "--train-size 1000000000: .*GiB of memory" "$bin/reversal_check" --train-size 1000000000 --quiet
/usr/bin/python3 -c "
import h5py, numpy as np
h5py.File('$tmp/w0_2d.h5', 'w')['w0'] = np.full((1, 784 * 20 + 20 + 20 * 10 + 10), 0.01)"
expect_error "/w0 must be one-dimensional" "${h[@]}" --layers 784,20,10 --w0 "$tmp/w0_2d.h5"
# --w0 (issue [P] 10): only float64 is taken (float32/float16 refused, not widened), and the
# errors say what is wrong with the file, not which HDF5 call failed (issue [P] 13).
/usr/bin/python3 -c "
import h5py, numpy as np
n = 784 * 20 + 20 + 20 * 10 + 10
h5py.File('$tmp/w0_f32.h5', 'w')['w0'] = np.full(n, 0.01, dtype=np.float32)
h5py.File('$tmp/w0_f16.h5', 'w')['w0'] = np.full(n, 0.01, dtype=np.float16)
h5py.File('$tmp/w0_int.h5', 'w')['w0'] = np.zeros(n, dtype=np.int64)
h5py.File('$tmp/w0_short.h5', 'w')['w0'] = np.zeros(10)
h5py.File('$tmp/w0_group.h5', 'w').create_group('w0')
open('$tmp/w0_text.h5', 'w').write('not HDF5')"
expect_error "w0_f32.h5: /w0 holds float32 values, not float64" "${h[@]}" --layers 784,20,10 --w0 "$tmp/w0_f32.h5"
expect_error "w0_f16.h5: /w0 holds float16 values, not float64" "${h[@]}" --layers 784,20,10 --w0 "$tmp/w0_f16.h5"
expect_error "w0_int.h5: /w0 holds integer values, not float64" "${h[@]}" --layers 784,20,10 --w0 "$tmp/w0_int.h5"
expect_error "w0_short.h5: /w0 has 10 values, the network has 15910 parameters" "${h[@]}" --layers 784,20,10 --w0 "$tmp/w0_short.h5"
expect_error "w0_group.h5: /w0 is a group, not a dataset" "${h[@]}" --layers 784,20,10 --w0 "$tmp/w0_group.h5"
expect_error "w0_text.h5: not an HDF5 file" "${h[@]}" --layers 784,20,10 --w0 "$tmp/w0_text.h5"
[ ! -e "$tmp/bad.h5" ] || fail "a refused --w0 left a result file"
# Its provenance: the absolute path (given relative here) and the file's SHA-256.
(cd "$tmp" && "$bin/hypergrad" --mnist-dir mnist --train-size 400 --batch-size 100 --iters 2 --layers 784,20,10 \
  --w0 ./w0.h5 --out h_w0.h5 --quiet)
/usr/bin/python3 - "$tmp/h_w0.h5" "$tmp/w0.h5" "$(sha256sum "$tmp/w0.h5" | cut -d' ' -f1)" "$tmp/h.h5" <<'PY'
import sys, h5py
a = h5py.File(sys.argv[1], "r").attrs
assert a["w0_file"] == sys.argv[2], a["w0_file"]
assert a["w0_sha256"] == sys.argv[3], a["w0_sha256"]
b = h5py.File(sys.argv[4], "r").attrs
assert b["w0_file"] == "" and b["w0_sha256"] == ""  # drawn from --seed
PY
# Flags of the optimizer not chosen are errors, not ignored (issue [P] 13).
expect_error "--gamma: applies to --optimizer sgd only, not to --optimizer adam" "${h[@]}" --optimizer adam --gamma 0.7
expect_error "--beta1: applies to --optimizer adam only, not to --optimizer sgd" "${h[@]}" --optimizer sgd --beta1 0.8
expect_error "--eps: applies to --optimizer adam or rmsprop only, not to --optimizer sgd" "${h[@]}" --eps 1e-6
expect_error "--gamma: applies to --optimizer sgd only, not to --optimizer rmsprop" "${h[@]}" --optimizer rmsprop --gamma 0.7
expect_error "--gamma: applies to --optimizer sgd only" "$bin/reversal_check" --optimizer adam --gamma 0.7 --quiet
expect_error "--beta2: applies to --optimizer adam only" "$bin/buffer_check" --beta2 0.9 --quiet
expect_error "--gamma: applies to --optimizer sgd only" "$bin/buffer_check" --optimizer adam --gamma 0.7 --quiet
expect_error "--beta1: applies to --optimizer adam only, not to --optimizer rmsprop" "$bin/buffer_check" --optimizer rmsprop --beta1 0.9 --quiet
expect_error "--eps does not enter the moments of --optimizer adam" "$bin/buffer_check" --optimizer adam --eps 1e-6 --quiet
# --estimator NAME (issue [M]): the registry's estimators on the same run, the same dataset
# names. The default is exact; --estimator exact and truncated with K = T give its bits.
e=("$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 12 --layers 784,20,10 --quiet)
"${e[@]}" --estimator exact --out "$tmp/e_exact.h5"
"${e[@]}" --estimator truncated --truncation 12 --out "$tmp/e_t12.h5"
"${e[@]}" --estimator truncated --truncation 4 --out "$tmp/e_t4.h5"
"${e[@]}" --estimator truncated --truncation 0 --out "$tmp/e_t0.h5"
"${e[@]}" --optimizer adam --log-alpha -6 --beta1 0.8 --beta2 0.99 --eps 1e-6 --estimator exact --out "$tmp/e_adam.h5"
for f in e_exact e_t12; do $py "$here/support/same_datasets.py" "$tmp/h.h5" "$tmp/$f.h5" > /dev/null || fail "$f differs from the default run"; done
$py "$here/support/same_datasets.py" "$tmp/adam.h5" "$tmp/e_adam.h5" > /dev/null || fail "adam --estimator exact differs"
$py - "$tmp/h.h5" "$tmp/e_t4.h5" "$tmp/e_t0.h5" "$tmp/e_t12.h5" <<'PY'
import sys, h5py, numpy as np
exact, t4, t0, t12 = (h5py.File(p, "r") for p in sys.argv[1:])
# Provenance: the estimator and the settings it ran with; not_applicable empty for these.
assert exact.attrs["estimator"] == "exact" and exact.attrs["not_applicable"] == ""
assert "estimator_truncation" not in exact.attrs and "log_l2" not in exact.attrs and "d_log_l2" not in exact
assert t4.attrs["estimator"] == "truncated" and t4.attrs["estimator_truncation"] == 4, dict(t4.attrs)
assert t4.attrs["not_applicable"] == "" and "reversal_exact" not in t4.attrs
# K = 4 of T = 12: rows 8-11 are the exact pass's bits, rows 0-7 zero; d_w0, d_v0 zero (no
# path through step 0); the trained state is the same run's.
for key in ("d_alpha", "d_gamma"):
    assert t4[key].shape == (12, 4), (key, t4[key].shape)
    assert t4[key][8:].tobytes() == exact[key][8:].tobytes(), key
    assert not t4[key][:8].any() and exact[key][:8].all(), key
for key in ("d_w0", "d_v0"):
    assert not t4[key][()].any() and exact[key][()].any(), key
for key in ("w_T", "v_T", "loss_final"):
    assert t4[key][()].tobytes() == exact[key][()].tobytes(), key
# K = 0: every hypergradient written and zero.
for key in ("d_alpha", "d_gamma", "d_w0", "d_v0"):
    assert key in t0 and not t0[key][()].any(), key
PY
# --estimator forward writes what it computes: per-block constants /d_alpha_block,
# /d_gamma_block and /d_log_init_scale (B = 4 values each), checked against the exact pass's
# /d_alpha and /d_gamma summed over the steps and Σ_{k in block} d_w0[k]·w0[k] (blocks W0, b0,
# W1, b1 in parameter order: 15680, 20, 200, 10), from the same --w0. Forward mode differentiates
# the float64 run, the exact pass the fixed-point run (2^-52 rounding per step): agreement to
# 1e-10 of each vector's norm (measured here: ~1e-13).
$py -c "
import h5py, numpy as np
h5py.File('$tmp/w0_fwd.h5', 'w')['w0'] = 0.05 * np.random.default_rng(4).standard_normal(784 * 20 + 20 + 20 * 10 + 10)"
"${e[@]}" --w0 "$tmp/w0_fwd.h5" --out "$tmp/fwd_exact.h5"
"${e[@]}" --w0 "$tmp/w0_fwd.h5" --estimator forward --out "$tmp/fwd.h5"
$py - "$tmp/fwd_exact.h5" "$tmp/fwd.h5" "$tmp/w0_fwd.h5" <<'PY'
import sys, h5py, numpy as np
exact, fwd, w0 = (h5py.File(p, "r") for p in sys.argv[1:])
w0 = w0["w0"][()]
sizes = [784 * 20, 20, 20 * 10, 10]
ends = np.cumsum(sizes)
truth = {"d_alpha_block": exact["d_alpha"][()].sum(axis=0), "d_gamma_block": exact["d_gamma"][()].sum(axis=0),
         "d_log_init_scale": np.array([(exact["d_w0"][()] * w0)[e - s:e].sum() for s, e in zip(sizes, ends)])}
for key, want in truth.items():
    got = fwd[key][()]
    assert got.shape == (4,), (key, got.shape)
    err = np.abs(got - want).max() / np.linalg.norm(want)
    assert err <= 1e-10, (key, err, got, want)
    print(f"forward {key}: max error / norm {err:.1e}")
assert fwd.attrs["not_applicable"] == "d_w0,d_alpha,d_v0,d_gamma", fwd.attrs["not_applicable"]
for key in ("d_alpha", "d_gamma", "d_w0", "d_v0"):
    assert key not in fwd, key
assert fwd.attrs["nonfinite_values"] == 0 and exact.attrs["nonfinite_values"] == 0
PY
# DrMAD's reverse pass on the line w_0 → w_T grows its adjoints geometrically (here log α = 2.5,
# γ = 0.9: |d_w0| reaches 2e254 at T = 3000) and overflows by T = 4000: the file says so
# (attributes nonfinite_values, nonfinite_datasets) and stderr warns naming the estimator and the
# datasets; the run itself succeeds (the values are what the rule computes).
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 4000 --layers 784,20,10 \
  --quiet --estimator drmad --gamma 0.9 --log-alpha 2.5 --out "$tmp/drmad_long.h5" 2> "$tmp/err" || fail "drmad T = 4000"
grep -q "hypergrad: warning: --estimator drmad wrote [0-9]* non-finite values (NaN or ±inf): /d_w0 [0-9]*, /d_alpha" "$tmp/err" \
  || fail "drmad non-finite warning: $(cat "$tmp/err")"
$py - "$tmp/drmad_long.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
counted = {k: int((~np.isfinite(f[k][()])).sum()) for k in ("d_w0", "d_v0", "d_alpha", "d_gamma")}
assert f.attrs["nonfinite_values"] == sum(counted.values()) > 0, (f.attrs["nonfinite_values"], counted)
listed = dict(x.rsplit(" ", 1) for x in f.attrs["nonfinite_datasets"].split(", "))
assert {k: int(v) for k, v in listed.items()} == {"/" + k: v for k, v in counted.items() if v}, (listed, counted)
PY
# A flag the estimator does not take, an unknown estimator, a non-SGD optimizer, K > T, a bad
# value: errors naming both, no result file.
expect_error "estimator 'drmad' takes no --terms" "${h[@]}" --estimator drmad --terms 3
expect_error "estimator 'exact' takes no --samples" "${h[@]}" --samples 3
expect_error "estimator 'neumann' takes no --truncation" "${h[@]}" --estimator neumann --truncation 3
expect_error "--estimator: unknown estimator 'newton' (known: exact, truncated, drmad, neumann, cg, forward, greedy, es, pes)" "${h[@]}" --estimator newton
expect_error "--estimator drmad differentiates --optimizer sgd only, not --optimizer adam" "${h[@]}" --optimizer adam --estimator drmad
expect_error "--estimator truncated differentiates --optimizer sgd only, not --optimizer rmsprop" "${h[@]}" --optimizer rmsprop --estimator truncated
expect_error "--truncation 3 exceeds the run's T = 2" "${h[@]}" --estimator truncated --truncation 3
expect_error "--estimator pes: --truncation 3 exceeds the run's T = 2 (--iters)" "${h[@]}" --estimator pes --truncation 3
expect_error "--terms: expected a whole number, got '2.5'" "${h[@]}" --estimator cg --terms 2.5 --log-l2 -4
# Ranges, named with the flag, the estimator and the range.
expect_error "--terms: expected a whole number in \[1, 100000\] for --estimator cg, got 0" "${h[@]}" --estimator cg --terms 0 --log-l2 -4
expect_error "--terms: expected a whole number in \[1, 100000\] for --estimator cg, got 999999999" "${h[@]}" --estimator cg --terms 999999999 --log-l2 -4
expect_error "--terms: expected a whole number in \[0, 100000\] for --estimator neumann, got 100001" "${h[@]}" --estimator neumann --terms 100001 --log-l2 -4
expect_error "--tolerance: expected a number in \[1e-16, 0.1\], got '0'" "${h[@]}" --estimator cg --tolerance 0 --log-l2 -4
expect_error "estimator 'neumann' takes no --tolerance" "${h[@]}" --estimator neumann --tolerance 1e-6 --log-l2 -4
for bad in nan 0 -0.01 inf 1e300 4e-320 2; do
  expect_error "--sigma: expected a number in \[1e-10, 1\], got '$bad'" "${h[@]}" --estimator es --sigma=$bad
  expect_error "--sigma: expected a number in \[1e-10, 1\], got '$bad'" "${h[@]}" --estimator pes --truncation 1 --sigma=$bad
done
expect_error "--samples: expected a whole number in \[1, 100000\] for --estimator es, got 0" "${h[@]}" --estimator es --samples 0
# neumann and cg estimate θ only: without --log-l2, or with a model that has no per-parameter
# penalty, the error names both.
expect_error "--estimator neumann estimates only the hyperparameters the training loss depends on explicitly (θ: --log-l2's per-parameter L2 penalties): give --log-l2 X" "${h[@]}" --estimator neumann
expect_error "--estimator cg estimates only .*, and --model logistic has none (it takes no --log-l2" "${h[@]}" --model logistic --estimator cg
expect_error "--log-l2: expected a number in \[-50, 10\], got 'inf'" "${h[@]}" --log-l2 inf
expect_error "--log-l2: expected a number in \[-50, 10\], got 'nan'" "${h[@]}" --log-l2 nan
[ ! -e "$tmp/bad.h5" ] || fail "a refused --estimator left a result file"
# Missing folders on --out are created; a run that then fails removes them again (they are
# empty), a run that succeeds keeps them with its file.
expect_error "--estimator cg estimates only" "${e[@]}" --estimator cg --out "$tmp/new1/a/b/x.h5"
[ ! -e "$tmp/new1" ] || fail "a failed run left the folders it created: $(find "$tmp/new1")"
"${e[@]}" --estimator drmad --out "$tmp/new2/a/x.h5"
[ -f "$tmp/new2/a/x.h5" ] || fail "a run into a new folder wrote no file"
# --log-l2 X: λ = exp(X) on every parameter, /d_log_l2 one value per block. exact and truncated
# with K = T give the same bits. Their sum (one X for all blocks) against a central difference of
# the final loss in X, h = 1e-4 (three runs), at γ = 0.50001525878: the run applies the momentum
# factor r = (⌊γ·2^16⌋ + 1)/2^16 (rational.h), and the reverse pass carries ∂f/∂v by γ itself
# (measured against a float64 autodiff of the run: exact to 1e-13 when the adjoint uses γ, off by
# 2e-5 at γ = 0.5, where r − γ = 2^-16); this γ is r − 9e-12. Measured: 1.7e-9 relative.
"${e[@]}" --log-l2 -4 --out "$tmp/l2_exact.h5"
"${e[@]}" --log-l2 -4 --estimator truncated --truncation 12 --out "$tmp/l2_t12.h5"
$py "$here/support/same_datasets.py" "$tmp/l2_exact.h5" "$tmp/l2_t12.h5" > /dev/null || fail "--log-l2: truncated K = T differs from exact"
for x in -4.0001 -4 -3.9999; do "${e[@]}" --gamma 0.50001525878 --log-l2=$x --out "$tmp/l2_fd$x.h5"; done
"${e[@]}" --log-l2 -4 --estimator neumann --out "$tmp/l2_neumann.h5"
"${e[@]}" --log-l2 -4 --estimator neumann --terms 5 --out "$tmp/l2_neumann5.h5"
"${e[@]}" --log-l2 -4 --blocks single --out "$tmp/l2_single.h5"
"${e[@]}" --log-l2 -4 --blocks single --estimator cg --out "$tmp/l2_cg.h5"
# cg stopped above its tolerance says so on stderr and in the file (estimator_warning).
"${e[@]}" --log-l2 -4 --estimator cg --terms 2 --out "$tmp/l2_cg2.h5" 2> "$tmp/cg2.err"
grep -q "hypergrad: warning: cg stopped above its tolerance: relative residual .* after 2 of 2 iterations (tolerance 1e-12)" "$tmp/cg2.err" \
  || fail "cg with 2 iterations: no warning ($(cat "$tmp/cg2.err"))"
"${e[@]}" --log-l2 -4 --estimator es --samples 2 --sigma 0.05 --seed 3 --out "$tmp/l2_es.h5"
"${e[@]}" --estimator greedy --log-l2 -4 --out "$tmp/l2_greedy.h5"
# Without --quiet an estimator's long loop reports its progress (es: samples), with the same bits.
loud=(); for a in "${e[@]}"; do [ "$a" = --quiet ] || loud+=("$a"); done
"${loud[@]}" --log-l2 -4 --estimator es --samples 2 --sigma 0.05 --seed 3 --out "$tmp/l2_es_loud.h5" 2> "$tmp/es.err"
grep -q "^es: 100% (2/2)" "$tmp/es.err" || fail "es: no progress line ($(cat "$tmp/es.err"))"
$py "$here/support/same_datasets.py" "$tmp/l2_es.h5" "$tmp/l2_es_loud.h5" > /dev/null || fail "es: progress changed the result"
$py - "$tmp" <<'PY'
import sys, h5py, numpy as np
t = sys.argv[1]
f = lambda name: h5py.File(f"{t}/{name}.h5", "r")
exact, nm, nm5 = f("l2_exact"), f("l2_neumann"), f("l2_neumann5")
assert exact["d_log_l2"].shape == (4,) and exact.attrs["log_l2"] == -4.0
lo, mid, hi = (f(f"l2_fd{x}") for x in ("-4.0001", "-4", "-3.9999"))
fd = (hi["loss_final"][()] - lo["loss_final"][()]) / 2e-4
total = mid["d_log_l2"][()].sum()
assert abs(total - fd) <= 1e-7 * abs(fd), (total, fd)
# The penalty changes the run: not the unpenalised bits.
assert exact["w_T"][()].tobytes() != f("h")["w_T"][()].tobytes()
# neumann: d_log_l2 only, the others left out and listed, never zeros; its settings recorded.
assert nm.attrs["not_applicable"] == "d_w0,d_alpha,d_v0,d_gamma", nm.attrs["not_applicable"]
for key in ("d_alpha", "d_gamma", "d_w0", "d_v0"):
    assert key not in nm, key
assert nm["d_log_l2"].shape == (4,) and np.isfinite(nm["d_log_l2"][()]).all()
# The state written is the float64 run neumann trained (attribute final_state_run), not the
# fixed-point one: the two differ by rounding only (~1e-11 per step), never by more than 1e-9.
assert nm.attrs["final_state_run"] == "float64" and exact.attrs["final_state_run"] == "fixed point"
assert np.allclose(nm["w_T"][()], exact["w_T"][()], rtol=0, atol=1e-9)
assert abs(nm["loss_final"][()] - exact["loss_final"][()]) <= 1e-9 * abs(exact["loss_final"][()])
assert f("l2_es").attrs["final_state_run"] == "fixed point"  # es trains perturbed runs only
assert nm.attrs["estimator"] == "neumann" and nm.attrs["estimator_terms"] == 20  # the default
assert nm5.attrs["estimator_terms"] == 5 and nm5["d_log_l2"][()].tobytes() != nm["d_log_l2"][()].tobytes()
# cg (implicit function at w_T) has the exact value's sign on this run (one block).
single, cg = f("l2_single")["d_log_l2"][()], f("l2_cg")["d_log_l2"][()]
assert single.shape == cg.shape == (1,) and np.sign(single[0]) == np.sign(cg[0]) != 0, (single, cg)
# The warning is there exactly when the residual is above the tolerance, and names it.
for name in ("l2_cg", "l2_cg2"):
    a = f(name).attrs
    above = a["cg_relative_residual"] > a["estimator_tolerance"]
    assert bool(a["estimator_warning"]) == above, (name, dict(a))
    assert not above or f"relative residual {a['cg_relative_residual']:.3g}" in a["estimator_warning"], dict(a)
assert f("l2_cg2").attrs["cg_iterations"] == 2 and f("l2_cg2").attrs["estimator_warning"]
assert f("l2_t12").attrs["estimator_warning"] == ""  # an estimator that noticed nothing
# The buffer's size under the same name with and without --estimator (K = T: the same run).
assert f("l2_t12").attrs["info_bits"] == f("l2_exact").attrs["info_bits"] > 0
# es: its samples, sigma and seed recorded; greedy gives no θ signal: d_log_l2 listed.
es = f("l2_es").attrs
assert (es["estimator"], es["estimator_samples"], es["estimator_sigma"], es["estimator_seed"]) == ("es", 2, 0.05, 3), dict(es)
assert "estimator_terms" not in es and "estimator_truncation" not in es
greedy = f("l2_greedy")
assert "d_log_l2" not in greedy and greedy.attrs["not_applicable"] == "d_w0,d_v0,d_log_l2", greedy.attrs["not_applicable"]
PY
# --help lists the estimators with the flags each takes (from the registry).
"$bin/hypergrad" --help | tr -s ' \n' ' ' > "$tmp/help"
grep -q "exact (no flags); truncated (--truncation 10); drmad (no flags); neumann (--terms 20); cg (--terms 20 --tolerance 1e-12); forward (no flags); greedy (no flags); es (--samples 16 --sigma 0.01); pes (--truncation 10 --samples 16 --sigma 0.01)" "$tmp/help" \
  || fail "hypergrad --help does not list the estimators and their flags"
grep -q "neumann and cg estimate only the hyperparameters the training loss depends on explicitly: they need --log-l2" "$tmp/help" \
  || fail "hypergrad --help does not say that neumann and cg need --log-l2"
grep -q "forward writes the per-block constants /d_alpha_block, /d_gamma_block and /d_log_init_scale" "$tmp/help" \
  || fail "hypergrad --help does not say what forward writes"
grep -q -- "--sigma (relative to each hyperparameter's scale) \[1e-10, 1\]" "$tmp/help" || fail "hypergrad --help: --sigma range"
grep -q -- "--terms TEXT setting of --estimator neumann, cg" "$tmp/help" || fail "hypergrad --help: --terms"
# --help says what --threads means here and in the figure targets, and where results go.
"$bin/hypergrad" --help | tr -s ' \n' ' ' | grep -q "splitting each training and reverse step of the one run.*unlike the figure targets" \
  || fail "hypergrad --help does not say what --threads means"
"$bin/fig01_toy" --help | tr -s ' \n' ' ' > "$tmp/help"
grep -q "relative to the current folder, not to the project" "$tmp/help" || fail "fig01_toy --help: where results go"
grep -q "unlike hypergrad and reversal_check, whose --threads splits" "$tmp/help" || fail "fig01_toy --help: --threads"
# A killed run (SIGKILL: no handler runs) leaves its temporary file; the next run writing to that
# folder removes the temporaries of this host's processes that no longer exist (issue [P] 12).
dead=$(bash -c 'echo $$')  # a process that has exited
mkdir -p "$tmp/stale"
touch "$tmp/stale/.h.h5.tmp-$(hostname)-$dead" "$tmp/stale/.old.h5.tmp-$dead" "$tmp/stale/.x.h5.tmp-$(hostname)-$$"
"$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 2 --layers 784,20,10 \
  --out "$tmp/stale/h.h5" --quiet 2> "$tmp/err"
[ ! -e "$tmp/stale/.h.h5.tmp-$(hostname)-$dead" ] && [ ! -e "$tmp/stale/.old.h5.tmp-$dead" ] \
  || fail "stale temporaries were left: $(ls -a "$tmp/stale")"
[ -e "$tmp/stale/.x.h5.tmp-$(hostname)-$$" ] || fail "a live process's temporary file was removed"
grep -q "removed .*/.h.h5.tmp-$(hostname)-$dead, left by process $dead, which no longer exists" "$tmp/err" \
  || fail "the removal was not reported: $(cat "$tmp/err")"
touch "$tmp/stale/.fig.h5.tmp-$(hostname)-$dead"
"$bin/fig01_toy" --quick --quiet --out "$tmp/stale/fig01.h5"
[ ! -e "$tmp/stale/.fig.h5.tmp-$(hostname)-$dead" ] || fail "a figure target left a stale temporary"
# SIGINT: a word, exit 130 (the signal), no file and no temporary, in hypergrad (its writer is
# open during training) and in a figure target (before its writer opens).
interrupt() {  # interrupt OUT COMMAND...: SIGINT after 3 s
  local out=$1; shift
  local rc=0
  timeout --preserve-status -s INT 3 "$@" --out "$out" 2> "$tmp/err" || rc=$?
  [ "$rc" -eq 130 ] || fail "$1 after SIGINT: exit $rc, not 130: $(cat "$tmp/err")"
  grep -q "^$(basename "$1"): interrupted: no file written$" "$tmp/err" || fail "$1 after SIGINT said: $(cat "$tmp/err")"
  [ ! -e "$out" ] || fail "$1 after SIGINT left $out"
  if ls -a "$(dirname "$out")" | grep -q "tmp-"; then fail "$1 after SIGINT left a temporary file"; fi
}
mkdir -p "$tmp/int"
interrupt "$tmp/int/h.h5" "$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 \
  --iters 1000000 --layers 784,20,10 --quiet
/usr/bin/python3 "$here/support/make_fake_mnist.py" "$tmp/mnist1k" 1000 100
interrupt "$tmp/int/f.h5" "$bin/fig10_chaos" --mnist-dir "$tmp/mnist1k" --quiet --points 1000 --threads 1
mkdir -p "$tmp/mnist_folder" && cp "$tmp/mnist"/* "$tmp/mnist_folder/" && rm "$tmp/mnist_folder/train-labels-idx1-ubyte" \
  && mkdir "$tmp/mnist_folder/train-labels-idx1-ubyte"
expect_error "train-labels-idx1-ubyte: is not a regular file" "$bin/hypergrad" --mnist-dir "$tmp/mnist_folder" \
  --train-size 400 --batch-size 100 --iters 2 --quiet --out "$tmp/bad.h5"
# Output paths: refused before the run, never replaced (a FIFO, a symlink, a folder), with the
# reason; "" is an error.
mkfifo "$tmp/fifo" && ln -s "$tmp/h.h5" "$tmp/link" && mkdir "$tmp/outdir"
for out in "$tmp/fifo" "$tmp/link" "$tmp/outdir"; do
  expect_error "result file '$out'" "${h[@]::${#h[@]}-2}" --out "$out"
done
[ -p "$tmp/fifo" ] && [ -L "$tmp/link" ] && [ -d "$tmp/outdir" ] || fail "an output path was replaced"
expect_error "--out: the path is empty" "${h[@]::${#h[@]}-2}" --out ""
expect_error "cannot create a file in /proc" "${h[@]::${#h[@]}-2}" --out /proc/hypergrad_test.h5
# The result records the data files' SHA-256 (a corrupt copy is named as not the pinned file).
/usr/bin/python3 - "$tmp/h.h5" <<'PY'
import sys, h5py
lines = h5py.File(sys.argv[1], "r").attrs["data_files"].strip().splitlines()
# hypergrad reads the two training files only (the rows it uses and the mean of all 60,000).
assert len(lines) == 2 and all(" sha256:" in l for l in lines), lines
assert "train-images-idx3-ubyte" in lines[0] and "train-labels-idx1-ubyte" in lines[1], lines
PY
# Same bits whatever OPENBLAS_NUM_THREADS says.
OPENBLAS_NUM_THREADS=2 "$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 12 \
  --layers 784,20,10 --out "$tmp/h_blas2.h5" --quiet
/usr/bin/python3 - "$tmp/h.h5" "$tmp/h_blas2.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for key in ("d_w0", "d_v0", "d_alpha", "d_gamma", "w_T", "loss_final"):
    assert np.array_equal(a[key][()], b[key][()]), key
assert b.attrs["blas_threads"] == 1
PY
# --threads N splits each pass in a fixed way: the same bits for N = 1, 2, 3 (400 images in
# batches of 100 and a 784-wide first layer: every pass is split into several pieces).
for n in 1 2 3; do
  "$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 12 \
    --layers 784,20,10 --threads $n --out "$tmp/h_threads$n.h5" --quiet
done
/usr/bin/python3 - "$tmp/h_threads1.h5" "$tmp/h_threads2.h5" "$tmp/h_threads3.h5" "$tmp/h.h5" <<'PY'
import sys, h5py, numpy as np
files = [h5py.File(p, "r") for p in sys.argv[1:]]
for f in files[1:]:
    for key in ("d_w0", "d_v0", "d_alpha", "d_gamma", "w_T", "v_T", "loss_final"):
        assert files[0][key][()].tobytes() == f[key][()].tobytes(), (f.filename, key)
assert [int(f.attrs["threads"]) for f in files] == [1, 2, 3, 1]
# What ran: at most the CPUs the process may use.
import os
cpus = len(os.sched_getaffinity(0))
assert [int(f.attrs["threads_used"]) for f in files] == [min(n, cpus) for n in (1, 2, 3, 1)]
PY
# Under an affinity mask of one CPU, --threads 3 runs on one thread: same bits, recorded.
taskset -c "$(cut -d, -f1 <<< "$(taskset -pc $$ | sed 's/.*: //; s/-.*//')")" "$bin/hypergrad" \
  --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 12 --layers 784,20,10 \
  --threads 3 --out "$tmp/h_one_cpu.h5" --quiet
/usr/bin/python3 - "$tmp/h_threads1.h5" "$tmp/h_one_cpu.h5" <<'PY'
import sys, h5py
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
for key in ("d_w0", "d_v0", "d_alpha", "d_gamma", "w_T", "v_T", "loss_final"):
    assert a[key][()].tobytes() == b[key][()].tobytes(), key
assert int(b.attrs["threads"]) == 3 and int(b.attrs["threads_used"]) == 1
PY
# --tanh polynomial (tanh_kernel.h): exact reversal, the same bits on 1 and 3 threads, other
# bits than glibc's tanh, recorded.
for n in 1 3; do
  "$bin/hypergrad" --mnist-dir "$tmp/mnist" --train-size 400 --batch-size 100 --iters 12 \
    --layers 784,20,10 --threads $n --tanh polynomial --out "$tmp/h_poly$n.h5" --quiet
done
/usr/bin/python3 - "$tmp/h_poly1.h5" "$tmp/h_poly3.h5" "$tmp/h_threads1.h5" <<'PY'
import sys, h5py
a, b, libm = (h5py.File(p, "r") for p in sys.argv[1:])
for key in ("d_w0", "d_v0", "d_alpha", "w_T", "loss_final"):
    assert a[key][()].tobytes() == b[key][()].tobytes(), key
assert a.attrs["reversal_exact"] and a.attrs["tanh"] == "polynomial" and libm.attrs["tanh"] == "libm"
assert a["d_w0"][()].tobytes() != libm["d_w0"][()].tobytes()
PY
if "$bin/hypergrad" --tanh fast --iters 1 --out "$tmp/t0.h5" 2> "$tmp/err"; then
  echo "--tanh fast accepted"; exit 1
fi
grep -q -- "--tanh" "$tmp/err"
if "$bin/hypergrad" --threads 0 --iters 1 --out "$tmp/t0.h5" 2> "$tmp/err"; then
  echo "--threads 0 accepted"; exit 1
fi
grep -q -- "--threads" "$tmp/err"
# Provenance records the sources' git state at build time (build_info.h), not the folder's
# state when the program runs; outside a git checkout it says "unknown", never clean.
info="$bin/../lib/generated/build_info.h"
if [ -f "$info" ]; then
  $py - "$tmp/h.h5" "$info" <<'PY'
import re, sys, h5py
a = h5py.File(sys.argv[1], "r").attrs
header = open(sys.argv[2]).read()
assert a["git_revision"] == re.search(r'REVISION "([^"]*)"', header).group(1)
assert a["git_dirty"] == re.search(r'DIRTY "([^"]*)"', header).group(1)
PY
fi
mkdir -p "$tmp/not_a_checkout"
cmake -DSOURCE_DIR="$tmp/not_a_checkout" -DOUTPUT="$tmp/info.h" -P "$here/../lib/results/build_info.cmake"
grep -q 'REVISION "unknown"' "$tmp/info.h" && grep -q 'DIRTY "unknown"' "$tmp/info.h" \
  || fail "no git: $(cat "$tmp/info.h")"
echo "tools_test: all passed"
