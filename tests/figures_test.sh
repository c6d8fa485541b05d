#!/usr/bin/env bash
# Smoke test of the figure pipeline: each figure target in quick mode (fake MNIST where MNIST is
# needed) writes its HDF5 file with the promised datasets and provenance; the analysis renders
# the figures and REPORT.md from them. Usage: figures_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
source "$(dirname "$0")/support/script_common.sh"

$py "$src/tests/support/make_fake_mnist.py" "$tmp/mnist" 1000 100
"$bin/fig01_toy" --quick --quiet --out "$tmp/res/fig01_toy.h5"
"$bin/fig10_chaos" --quick --quiet --points 3 --mnist-dir "$tmp/mnist" --out "$tmp/res/fig10_chaos.h5"
$py "$src/tests/support/make_fake_mnist.py" "$tmp/mnist30k" 30000 1000
"$bin/fig02_schedules" --quick --quiet --mnist-dir "$tmp/mnist30k" --out "$tmp/res/fig02_schedules.h5"
"$bin/fig04_initial_hypergradient" --quick --quiet --seeds 2 --mnist-dir "$tmp/mnist30k" \
  --out "$tmp/res/fig04_initial_hypergradient.h5"
"$bin/fig06_l2_penalties" --quick --quiet --mnist-dir "$tmp/mnist30k" --out "$tmp/res/fig06_l2_penalties.h5"
"$bin/fig07_learned_data" --quick --quiet --mnist-dir "$tmp/mnist30k" --out "$tmp/res/fig07_learned_data.h5"
"$bin/adam_schedules" --quick --quiet --mnist-dir "$tmp/mnist30k" --out "$tmp/res/adam_schedules.h5"
$py "$src/tests/support/make_fake_omniglot.py" "$tmp/omniglot.zip" 3
"$bin/fig08_09_omniglot" --quick --quiet --omniglot-zip "$tmp/omniglot.zip" --out "$tmp/res/fig08_09_omniglot.h5"

$py - "$tmp/res" <<'PY'
import sys, h5py, numpy as np
res = sys.argv[1]
provenance = ("git_revision", "git_dirty", "command_line", "start_time", "end_time", "host",
              "compiler", "library_versions", "build_type", "instruction_set", "quick", "seed",
              "experiment")
expected = {
    "fig01_toy": {"trajectories": (3, 51, 2), "losses": (3, 51), "final_loss": (3,),
                  "surface/loss": (90, 68), "reversal_exact": (3,)},
    "fig10_chaos": {"log_alpha": (3,), "loss": (3,), "gradient": (3,), "diverged": (3,),
                    "reversal_exact": (3,)},
    "fig02_schedules": {"meta/log_alpha": (4, 20, 8), "meta/logit_gamma": (4, 20, 8),
                        "meta/log_init_scale": (4, 8), "meta/train_loss": (4,),
                        "meta/test_error": (4,), "meta/batch_loss_curve": (3, 20),
                        "curves/initial": (20,), "curves/final": (20,), "meta/reversal_exact": (3,),
                        "search/test_error": (3,), "comparison/learned_test_error": ()},
    "fig06_l2_penalties": {"l2": (3, 7850), "meta/valid_loss": (3,), "meta/reversal_exact": (3,)},
    "fig07_learned_data": {"images": (3, 10, 28, 28), "meta/valid_loss": (3,), "meta/l2": (3,),
                           "meta/reversal_exact": (3,)},
    "fig08_09_omniglot": {"examples": (10, 15, 28, 28), "meta/sharing": (3, 3, 10, 10),
                          "meta/valid_loss": (2,), "comparison/sharing": (3, 3, 10, 10),
                          "comparison/test_loss": (3,), "meta/reversal_exact": (2,)},
    "fig04_initial_hypergradient": {"mean/d_log_alpha": (20, 8), "mean/d_log_init_scale": (8,),
                                    "per_seed/gradient": (2, 20 * 8 * 2 + 8)},
    "adam_schedules": {"meta/log_alpha": (4, 20, 8), "meta/logit_beta1": (4, 20, 8),
                       "meta/valid_loss": (3,), "meta/reversal_exact": (3,),
                       "meta/info_bits_per_param_per_step": (3,), "meta/buffer_bytes": (3,),
                       "initial/d_beta2": (20, 8), "initial/d_eps": (), "search/valid_loss": (3,),
                       "comparison/learned_test_error": (), "comparison/constant_test_error": (),
                       "memory/store_all_bytes": ()},
}
for name, datasets in expected.items():
    f = h5py.File(f"{res}/{name}.h5", "r")
    for key, shape in datasets.items():
        assert f[key].shape == shape, (name, key, f[key].shape)
    for key in provenance:
        assert key in f.attrs, (name, key)
    assert bool(f.attrs["quick"]), name
    if "reversal_exact" in f and name != "fig10_chaos":
        assert f["reversal_exact"][:].all(), name
    if "meta/reversal_exact" in f:  # what each reverse pass reported, not a constant
        assert f["meta/reversal_exact"][:].all(), name
f = h5py.File(f"{res}/fig10_chaos.h5", "r")
ok = ~f["diverged"][:].astype(bool)
assert f["reversal_exact"][:][ok].all() and np.isfinite(f["loss"][:][ok]).all()

# The MNIST targets follow the authors' random draws by default (numpy's RandomState): their
# first draws equal numpy's, computed here by Debian's numpy.
import hashlib, math
def authors_rs(obj):
    return np.random.RandomState(int(hashlib.md5(str(obj).encode()).hexdigest()[:8], 16))
def seeded_w0(n, log_scale):  # npr.seed(0); v_0 = randn(n)*0; w_0 = randn(n)*e^log_scale
    rs = np.random.RandomState(0)
    rs.randn(n)
    return rs.randn(8) * math.exp(log_scale)  # the C library's exp, as numpy's of 2015
for name in ("fig02_schedules", "fig04_initial_hypergradient", "fig06_l2_penalties",
             "fig07_learned_data", "fig10_chaos", "adam_schedules"):
    a = h5py.File(f"{res}/{name}.h5", "r").attrs
    assert a["rng"] == "authors" and a["buffer"] == "exact", (name, a["rng"], a["buffer"])
assert h5py.File(f"{res}/fig08_09_omniglot.h5", "r").attrs["rng"] == "native"
assert h5py.File(f"{res}/fig01_toy.h5", "r").attrs["rng"] == "none"
def same(expected, actual, what):
    assert np.array_equal(np.asarray(expected), np.asarray(actual)), (what, expected, actual)
same(seeded_w0(167560, -2.0), f["streams/w0_first"][:], "fig10 w_0")
g = h5py.File(f"{res}/fig02_schedules.h5", "r")
same(authors_rs((0, 0)).randn(8), g["streams/epsilon_first"][:], "fig02 run 0 epsilon")
same(authors_rs((0, 0, 0)).randint(10000, size=200)[:8], g["streams/batch_first"][:], "fig02 batch 0")
same(seeded_w0(7850, -4.0), h5py.File(f"{res}/fig06_l2_penalties.h5", "r")["streams/w0_first"][:], "fig06 w_0")
h = h5py.File(f"{res}/fig07_learned_data.h5", "r")
same(seeded_w0(7850, -4.0), h["streams/w0_first"][:], "fig07 w_0")
same(np.random.RandomState(0).randn(8) * 0.01, h["images"][0].ravel()[:8], "fig07 initial images")
PY
# Same bits whatever OPENBLAS_NUM_THREADS says: each program sets OpenBLAS's thread count itself.
OPENBLAS_NUM_THREADS=2 "$bin/fig10_chaos" --quick --quiet --points 3 --mnist-dir "$tmp/mnist" --out "$tmp/blas2.h5"
$py - "$tmp/blas2.h5" "$tmp/res/fig10_chaos.h5" <<'PY'
import sys, h5py, numpy as np
two, one = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert two.attrs["blas_threads"] == 1 and one.attrs["blas_threads"] == 1
for key in ("loss", "gradient", "diverged", "reversal_exact", "streams/w0_first"):
    assert np.array_equal(two[key][:], one[key][:], equal_nan=True), key
PY
# --rng native: this suite's own streams, recorded as such.
"$bin/fig10_chaos" --quick --quiet --points 2 --rng native --buffer fast --mnist-dir "$tmp/mnist" --out "$tmp/native.h5"
$py - "$tmp/native.h5" "$tmp/res/fig10_chaos.h5" <<'PY'
import sys, h5py, numpy as np
native, authors = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert native.attrs["rng"] == "native" and native.attrs["buffer"] == "fast"
assert not np.array_equal(native["streams/w0_first"][:], authors["streams/w0_first"][:])
PY
if "$bin/fig10_chaos" --quick --quiet --rng numpy --mnist-dir "$tmp/mnist" --out "$tmp/bad.h5" 2> "$tmp/err"; then
  fail "fig10_chaos accepted --rng numpy"
fi
grep -q -- "--rng" "$tmp/err" || fail "unclear --rng error: $(cat "$tmp/err")"
mkdir -p "$tmp/quick" && mv "$tmp/res"/* "$tmp/quick/"
(cd "$src" && $py analysis/report.py --results "$tmp/quick") > /dev/null
for f in figures/fig01.png figures/fig01.pdf figures/fig10.png figures/fig10.pdf REPORT.md \
         figures/fig02.png figures/fig02_extra.png figures/fig03.png figures/fig04.png figures/fig05.png \
         figures/fig06.png figures/fig07.png figures/fig08.png figures/fig09.png figures/adam.png; do
  [ -s "$tmp/quick/$f" ] || fail "missing $f"
done
grep -q "Quick run" "$tmp/quick/REPORT.md" || fail "REPORT.md does not say it is a quick run"
grep -q "## Fig 10" "$tmp/quick/REPORT.md" || fail "REPORT.md has no Fig 10 section"
grep -q "## Beyond the paper: reversible Adam" "$tmp/quick/REPORT.md" || fail "REPORT.md has no Adam section"
# Bad input: no data → clear error, non-zero exit, no result file.
if "$bin/fig10_chaos" --quick --quiet --mnist-dir "$tmp/none" --out "$tmp/bad.h5" 2> "$tmp/err"; then
  fail "fig10_chaos ran without data"
fi
grep -q "not found" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"
[ ! -e "$tmp/bad.h5" ] || fail "a failed run left a result file"
echo "figures_test: all passed"
