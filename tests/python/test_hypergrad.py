"""The Python module against finite differences, the C++ tool, and bad callbacks.

Run by ctest (python_test) with PYTHONPATH=<build>/python and HYPERGRAD_BIN=<build>/bin.
"""
import math
import os
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

import hypergrad

HERE = os.path.dirname(os.path.abspath(__file__))


def quadratic_problem(seed=0, P=5, T=9):
    """The authors' test problem: loss_t = w'A_b'A_b w with batch b = t mod 3 of a 12x5 A."""
    rs = np.random.RandomState(seed)
    A = rs.randn(12, P)
    batches = [A[4 * b:4 * b + 4] for b in range(3)]

    def gradient(w, t):
        B = batches[t % 3]
        return float(w @ B.T @ B @ w), 2.0 * B.T @ (B @ w)

    def hvp(w, u, t):
        B = batches[t % 3]
        return 2.0 * B.T @ (B @ u)

    def meta_gradient(w):
        return float(w @ w), 2.0 * w

    w0 = rs.randn(P)
    alpha = 0.1 * rs.rand(T)
    gamma = 0.5 + 0.2 * rs.rand(T)
    return gradient, hvp, meta_gradient, w0, alpha, gamma


def f_of(problem, **changes):
    gradient, hvp, meta, w0, alpha, gamma = problem
    args = dict(w0=w0, alpha=alpha, gamma=gamma)
    args.update(changes)
    return hypergrad.hypergradients(gradient, hvp, meta, args["w0"], args["alpha"], args["gamma"],
                                    buffer="exact").f


def central(problem, name, index, step=1e-2):
    base = {"w0": problem[3], "alpha": problem[4], "gamma": problem[5]}[name]
    up, down = base.copy(), base.copy()
    up[index] += step
    down[index] -= step
    return (f_of(problem, **{name: up}) - f_of(problem, **{name: down})) / (2 * step)


@pytest.mark.parametrize("buffer", ["exact", "fast"])
def test_numpy_model_matches_finite_differences_of_the_whole_run(buffer):
    problem = quadratic_problem()
    gradient, hvp, meta, w0, alpha, gamma = problem
    r = hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma, buffer=buffer)
    assert r.reversal_exact and r.nonreproducible_step == -1
    assert r.d_alpha.shape == alpha.shape and r.d_w0.shape == w0.shape
    # The authors' tests: central differences with step 1e-2 (smaller steps in gamma would see the
    # applied ratio n/d = (floor(65536 gamma) + 1)/65536 move in steps of 1.5e-5), rtol 1e-3,
    # atol 1e-4.
    for k in range(len(w0)):
        np.testing.assert_allclose(r.d_w0[k], central(problem, "w0", k), rtol=1e-3, atol=1e-4)
    for t in (0, 4, 8):
        np.testing.assert_allclose(r.d_alpha[t], central(problem, "alpha", t), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(r.d_gamma[t], central(problem, "gamma", t), rtol=1e-3, atol=1e-4)
    assert r.info_bits > 0 and r.extra_bytes > 0


def numpy_adam(gradient, meta, w0, alpha, beta1, beta2, eps):
    """Textbook Adam in float64 (an implementation independent of the C++ one): m_0 = s_0 = 0,
    bias corrections with the products of the betas, eps added to sqrt(shat)."""
    w, m, s = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    p1 = p2 = 1.0
    for t in range(len(alpha)):
        _, g = gradient(w, t)
        m = beta1[t] * m + (1 - beta1[t]) * g
        s = beta2[t] * s + (1 - beta2[t]) * g * g
        p1, p2 = p1 * beta1[t], p2 * beta2[t]
        w = w - alpha[t] * (m / (1 - p1)) / (np.sqrt(s / (1 - p2)) + eps)
    return meta(w)[0], w


@pytest.mark.parametrize("buffer", ["exact", "fast"])
def test_adam_matches_an_independent_numpy_adam_and_its_finite_differences(buffer):
    gradient, hvp, meta, w0, alpha, _ = quadratic_problem(seed=3)
    rs = np.random.RandomState(4)
    T = len(alpha)
    alpha, beta1, beta2, eps = 0.05 * rs.rand(T) + 0.01, 0.6 + 0.3 * rs.rand(T), 0.9 + 0.09 * rs.rand(T), 1e-3
    r = hypergrad.adam_hypergradients(gradient, hvp, meta, w0, alpha, beta1, beta2, eps, buffer=buffer)
    assert r.reversal_exact and r.nonreproducible_step == -1
    f, w_T = numpy_adam(gradient, meta, w0, alpha, beta1, beta2, eps)
    # Fixed point differs from float64 by quantisation (2^-52) and by the decays applied as n/d
    # (above beta by < 2^-16): 1e-4 relative covers both over 9 steps.
    np.testing.assert_allclose(r.w_T, w_T, rtol=1e-4, atol=1e-8)
    assert (r.s_T >= 0).all() and r.m_T.shape == w0.shape
    values = dict(w0=w0, alpha=alpha, beta1=beta1, beta2=beta2, eps=np.array([eps]))

    def central(name, index, step=1e-6):
        up, down = dict(values), dict(values)
        up[name], down[name] = values[name].copy(), values[name].copy()
        up[name][index] += step
        down[name][index] -= step
        run = lambda v: numpy_adam(gradient, meta, v["w0"], v["alpha"], v["beta1"], v["beta2"], v["eps"][0])[0]
        return (run(up) - run(down)) / (2 * step)

    # The same tolerance as the SGD test (rtol 1e-3, atol 1e-4): the float run differentiated here
    # uses beta itself, the exact run n/d.
    for k in range(len(w0)):
        np.testing.assert_allclose(r.d_w0[k], central("w0", k), rtol=1e-3, atol=1e-4)
    for t in range(T):
        np.testing.assert_allclose(r.d_alpha[t], central("alpha", t), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(r.d_beta1[t], central("beta1", t), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(r.d_beta2[t], central("beta2", t), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(r.d_eps, central("eps", 0, 1e-7), rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="beta2 does not have the shape of alpha"):
        hypergrad.adam_hypergradients(gradient, hvp, meta, w0, alpha, beta1, beta2[:3])
    with pytest.raises(ValueError, match="beta1 at iteration 0"):
        hypergrad.adam_hypergradients(gradient, hvp, meta, w0, alpha, np.ones(T), beta2)
    with pytest.raises(ValueError, match="adam_hypergradients"):
        hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, beta1, optimizer="adam")


def test_per_block_schedules_have_the_schedule_shape():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    blocks = np.array([0, 0, 1, 1, 1])
    a2, g2 = np.tile(alpha[:, None], (1, 2)), np.tile(gamma[:, None], (1, 2))
    r = hypergrad.hypergradients(gradient, hvp, meta, w0, a2, g2, blocks=blocks)
    assert r.d_alpha.shape == (9, 2) and r.reversal_exact
    # One block for all equals the sum over blocks.
    one = hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma)
    np.testing.assert_allclose(r.d_alpha.sum(axis=1), one.d_alpha, rtol=1e-12)


def read_idx(path, offset):
    return np.fromfile(path, dtype=np.uint8)[offset:]


@pytest.mark.parametrize("threads,tanh", [(1, "libm"), (3, "polynomial")])
def test_builtin_mlp_equals_the_cpp_tool_bit_for_bit(tmp_path, threads, tanh):
    bin_dir = os.environ["HYPERGRAD_BIN"]
    mnist = tmp_path / "mnist"
    subprocess.run([sys.executable, os.path.join(HERE, "..", "support", "make_fake_mnist.py"),
                    str(mnist), "600", "100"], check=True)
    layers, train, batch, iters, log_alpha, gamma = [784, 20, 10], 400, 100, 12, -1.0, 0.8
    n = 784 * 20 + 20 + 20 * 10 + 10
    w0 = np.random.RandomState(3).randn(n) * 0.1
    with h5py.File(tmp_path / "w0.h5", "w") as f:
        f["w0"] = w0
    out = tmp_path / "tool.h5"
    subprocess.run([os.path.join(bin_dir, "hypergrad"), "--mnist-dir", str(mnist), "--layers", "784,20,10",
                    "--train-size", str(train), "--batch-size", str(batch), "--iters", str(iters),
                    "--log-alpha", str(log_alpha), "--gamma", str(gamma), "--normalize", "none",
                    "--batch-order", "sequential", "--w0", str(tmp_path / "w0.h5"), "--out", str(out),
                    "--threads", str(threads), "--tanh", tanh, "--quiet"], check=True)
    images = read_idx(mnist / "train-images-idx3-ubyte", 16).reshape(-1, 784)[:train] / 255.0
    labels = read_idx(mnist / "train-labels-idx1-ubyte", 8)[:train].astype(np.int64)
    mlp = hypergrad.Mlp(layers, images, labels, threads=threads, tanh=tanh)
    batches = train // batch

    def rows(t):
        start = (t % batches) * batch
        return list(range(start, start + batch))

    blocks = mlp.layer_blocks()
    B = int(blocks.max()) + 1
    alpha = np.full((iters, B), math.exp(log_alpha))
    r = hypergrad.hypergradients(lambda w, t: mlp.gradient(w, rows(t)),
                                 lambda w, u, t: mlp.hvp(w, u, rows(t)),
                                 mlp.evaluate, w0, alpha, np.full((iters, B), gamma), blocks=blocks)
    tool = h5py.File(out, "r")
    assert r.reversal_exact and bool(tool.attrs["reversal_exact"])
    for ours, theirs in ((r.d_w0, "d_w0"), (r.d_v0, "d_v0"), (r.d_alpha, "d_alpha"),
                         (r.d_gamma, "d_gamma"), (r.w_T, "w_T"), (r.v_T, "v_T")):
        assert np.array_equal(ours, tool[theirs][()]), theirs
    assert r.f == tool["loss_final"][()]


def test_the_gemm_kernel_is_portable_by_default_switchable_and_in_the_provenance():
    assert hypergrad.gemm_kernel() == "portable"
    keys = {"blas_library", "blas_core", "blas_config", "blas_path", "gemm_kernel",
            "gemm_kernel_detail", "tanh_libm", "libm_build"}
    provenance = hypergrad.arithmetic_provenance()
    assert keys <= set(provenance), provenance
    assert provenance["gemm_kernel"] == "portable"
    assert provenance["libm_build"].split(" (")[0] in ("fma", "other")
    try:
        hypergrad.set_gemm_kernel("openblas")
        assert hypergrad.gemm_kernel() == "openblas"
        assert hypergrad.arithmetic_provenance()["gemm_kernel_detail"].startswith("openblas (")
    finally:
        hypergrad.set_gemm_kernel("portable")
    with pytest.raises(ValueError, match="bogus"):
        hypergrad.set_gemm_kernel("bogus")
    assert hypergrad.gemm_kernel() == "portable"


def test_a_callback_that_is_not_bit_reproducible_is_reported_with_its_step():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    calls = {}

    def flaky(w, t):
        calls[t] = calls.get(t, 0) + 1
        loss, g = gradient(w, t)
        if t == 5 and calls[t] == 2:  # the reverse pass's call at step 5
            g = g + 1e-12
        return loss, g

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = hypergrad.hypergradients(flaky, hvp, meta, w0, alpha, gamma)
    assert not r.reversal_exact and r.nonreproducible_step == 5
    assert any("step t = 5" in str(w.message) for w in caught), [str(w.message) for w in caught]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_every_optimizer_names_the_step_whose_gradient_is_not_reproducible(optimizer):
    # Every call after the forward pass's at step 5 returns other bits (Adam's and RMSprop's
    # reverse passes call gradient twice per step: neither call may replace the forward
    # fingerprint).
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    calls = {}

    def flaky(w, t):
        calls[t] = calls.get(t, 0) + 1
        loss, g = gradient(w, t)
        if t == 5 and calls[t] >= 2:
            g = g + 1e-12
        return loss, g

    run = {"sgd": lambda: hypergrad.hypergradients(flaky, hvp, meta, w0, alpha, gamma),
           "adam": lambda: hypergrad.adam_hypergradients(flaky, hvp, meta, w0, 0.01 * alpha, gamma,
                                                         0.9 + 0.05 * gamma, 1e-3),
           "rmsprop": lambda: hypergrad.rmsprop_hypergradients(flaky, hvp, meta, w0, 0.01 * alpha,
                                                               0.9 + 0.05 * gamma, gamma, 1e-3)}[optimizer]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = run()
    assert not r.reversal_exact and r.nonreproducible_step == 5
    assert any("step t = 5" in str(w.message) for w in caught), [str(w.message) for w in caught]


def numpy_rmsprop(gradient, meta, w0, alpha, rho, mu, eps):
    """RMSprop with momentum, the textbook rule in float64: s first, m from the new s, w from the new m."""
    w, s, m = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t in range(len(alpha)):
        g = gradient(w, t)[1]
        s = rho[t] * s + (1 - rho[t]) * g * g
        m = mu[t] * m + (1 - mu[t]) * g / np.sqrt(s + eps)
        w = w - alpha[t] * m
    return meta(w)[0], w


@pytest.mark.parametrize("buffer", ["exact", "fast"])
def test_rmsprop_matches_an_independent_numpy_rmsprop_and_its_finite_differences(buffer):
    gradient, hvp, meta, w0, alpha, _ = quadratic_problem(seed=5)
    rs = np.random.RandomState(6)
    T = len(alpha)
    alpha, rho, mu, eps = 0.02 * rs.rand(T) + 0.005, 0.8 + 0.15 * rs.rand(T), 0.5 + 0.4 * rs.rand(T), 1e-3
    r = hypergrad.rmsprop_hypergradients(gradient, hvp, meta, w0, alpha, rho, mu, eps, buffer=buffer)
    assert r.reversal_exact and r.nonreproducible_step == -1 and r.optimizer == "rmsprop"
    f, w_T = numpy_rmsprop(gradient, meta, w0, alpha, rho, mu, eps)
    np.testing.assert_allclose(r.w_T, w_T, rtol=1e-4, atol=1e-8)
    assert (r.s_T >= 0).all() and r.m_T.shape == w0.shape
    values = dict(w0=w0, alpha=alpha, rho=rho, mu=mu, eps=np.array([eps]))

    def central(name, index, step=1e-6):
        up, down = dict(values), dict(values)
        up[name], down[name] = values[name].copy(), values[name].copy()
        up[name][index] += step
        down[name][index] -= step
        run = lambda v: numpy_rmsprop(gradient, meta, v["w0"], v["alpha"], v["rho"], v["mu"], v["eps"][0])[0]
        return (run(up) - run(down)) / (2 * step)

    for k in range(len(w0)):
        np.testing.assert_allclose(r.d_w0[k], central("w0", k), rtol=1e-3, atol=1e-4)
    for t in range(T):
        np.testing.assert_allclose(r.d_alpha[t], central("alpha", t), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(r.d_rho[t], central("rho", t), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(r.d_mu[t], central("mu", t), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(r.d_eps, central("eps", 0, 1e-7), rtol=1e-3, atol=1e-4)


def test_optimizers_lists_the_registry_with_ranges_and_defaults():
    table = hypergrad.optimizers()
    # The registry's order (an optimizer added later comes after these three).
    assert list(table)[:3] == ["sgd", "adam", "rmsprop"]
    assert [table[n]["moments"] for n in ("sgd", "adam", "rmsprop")] == [["v"], ["m", "s"], ["s", "m"]]
    assert [table[n]["default_alpha"] for n in ("sgd", "adam", "rmsprop")] == [0.1, 0.01, 0.01]
    # Every decay: the one range of rational.h; its default.
    for name, flag, default in (("sgd", "gamma", 0.9), ("adam", "beta1", 0.9), ("adam", "beta2", 0.999),
                                ("rmsprop", "rho", 0.999), ("rmsprop", "mu", 0.9)):
        h = table[name]["hyperparameters"][flag]
        assert (h["per_step"], h["min"], h["max"], h["default"]) == (True, 1e-6, 0.999999, default), (name, flag)
    eps = {n: table[n]["hyperparameters"]["eps"] for n in ("adam", "rmsprop")}
    assert (eps["adam"]["per_step"], eps["adam"]["min"], eps["adam"]["max"]) == (False, 1e-12, 1.0)
    assert (eps["rmsprop"]["per_step"], eps["rmsprop"]["min"], eps["rmsprop"]["max"]) == (False, 1e-300, 1.0)
    assert list(table["sgd"]["hyperparameters"]) == ["gamma"]
    assert all(isinstance(table[n]["summary"], str) and table[n]["summary"] for n in table)


def same_results(a, b):
    """Every array and number of two results, bit for bit."""
    names = [n for n in dir(a) if n.startswith("d_") or n.endswith("_T") or n in ("f", "info_bits")]
    assert names == [n for n in dir(b) if n.startswith("d_") or n.endswith("_T") or n in ("f", "info_bits")]
    for n in names:
        assert np.asarray(getattr(a, n)).tobytes() == np.asarray(getattr(b, n)).tobytes(), n


def test_optimizer_hypergradients_by_name_gives_the_fixed_argument_calls_bits():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    T = len(alpha)
    v0 = 0.1 * np.arange(len(w0))
    same_results(hypergrad.optimizer_hypergradients("sgd", gradient, hvp, meta, w0, alpha, gamma=gamma, u0=v0),
                 hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma, v0=v0))
    small = 0.05 * alpha
    beta1, beta2 = np.linspace(0.6, 0.9, T), np.linspace(0.9, 0.99, T)
    same_results(hypergrad.optimizer_hypergradients("adam", gradient, hvp, meta, w0, small, beta1=beta1,
                                                    beta2=beta2, eps=1e-3),
                 hypergrad.adam_hypergradients(gradient, hvp, meta, w0, small, beta1, beta2, eps=1e-3))
    # Not given: the registry's defaults (beta1 0.9, beta2 0.999, eps 1e-8); a number is every
    # step's value.
    same_results(hypergrad.optimizer_hypergradients("adam", gradient, hvp, meta, w0, small),
                 hypergrad.adam_hypergradients(gradient, hvp, meta, w0, small, np.full(T, 0.9), np.full(T, 0.999)))
    r = hypergrad.optimizer_hypergradients("rmsprop", gradient, hvp, meta, w0, small, rho=0.95, mu=beta1, eps=1e-4)
    same_results(r, hypergrad.rmsprop_hypergradients(gradient, hvp, meta, w0, small, np.full(T, 0.95), beta1, 1e-4))
    assert r.reversal_exact and r.optimizer == "rmsprop" and r.d_rho.shape == (T,)
    # Per-block schedules: numbers take alpha's shape (T, B).
    blocks = np.array([0, 0, 1, 1, 1])
    a2 = np.tile(small[:, None], (1, 2))
    r2 = hypergrad.optimizer_hypergradients("rmsprop", gradient, hvp, meta, w0, a2, blocks=blocks, rho=0.95)
    assert r2.d_rho.shape == r2.d_mu.shape == (T, 2) and r2.reversal_exact


def test_optimizer_hypergradients_refuses_unknown_names_and_values_outside_the_registrys_range():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    small = 0.05 * alpha
    run = lambda name, **h: hypergrad.optimizer_hypergradients(name, gradient, hvp, meta, w0, small, **h)
    with pytest.raises(ValueError, match=r"unknown optimizer 'lion' \(expected one of sgd, adam, rmsprop"):
        run("lion")
    with pytest.raises(ValueError, match=r"optimizer 'adam' takes no hyperparameter 'gamma' \(it takes beta1, beta2, eps"):
        run("adam", gamma=0.9)
    with pytest.raises(ValueError, match=r"eps = 1e-13 is outside \[1e-12, 1\]"):
        run("adam", eps=1e-13)
    # RMSprop's epsilon: the one range [1e-300, 1] (its ends inside), here as in the tools.
    for bad, text in ((0.0, "0"), (1e-301, r"1\.0*1e-301"), (1.5, "1.5")):
        with pytest.raises(ValueError, match=rf"eps = {text} is outside \[1e-300, 1\]"):
            run("rmsprop", eps=bad)
        with pytest.raises(ValueError, match=rf"eps = {text} is outside \[1e-300, 1\]"):
            hypergrad.rmsprop_hypergradients(gradient, hvp, meta, w0, small, np.full(9, 0.9), np.full(9, 0.9), eps=bad)
    for good in (1e-300, 1.0):
        assert run("rmsprop", eps=good).reversal_exact
    mu = np.full(9, 0.9)
    mu[2] = 1.0
    with pytest.raises(ValueError, match=r"mu at iteration 2, block 0 = 1 is outside \[1e-06, 0.999999\]"):
        run("rmsprop", mu=mu)
    with pytest.raises(ValueError, match=r"gamma at iteration 0, block 0 = 0 is outside"):
        run("sgd", gamma=0.0)
    with pytest.raises(ValueError, match="eps must be a number"):
        run("rmsprop", eps="small")
    with pytest.raises(ValueError, match="eps must be a number"):
        run("rmsprop", eps=np.array([1e-8, 1e-8]))
    with pytest.raises(ValueError, match="rho does not have the shape of alpha"):
        run("rmsprop", rho=np.full(3, 0.9))


def test_errors_arrive_as_python_exceptions_with_the_cpp_messages():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    with pytest.raises(ValueError, match=r"gradient\(w, t=0\) returned 3 values"):
        hypergrad.hypergradients(lambda w, t: (0.0, np.zeros(3)), hvp, meta, w0, alpha, gamma)
    with pytest.raises(ValueError, match=r"gradient\(w, t=0\) must return \(loss, g\)"):
        hypergrad.hypergradients(lambda w, t: 1.0, hvp, meta, w0, alpha, gamma)
    with pytest.raises(ValueError, match=r"meta_gradient\(w_T\) must return \(f, df_dw\)"):
        hypergrad.hypergradients(gradient, hvp, lambda w: w, w0, alpha, gamma)
    with pytest.raises(ValueError, match="gamma does not have the shape of alpha"):
        hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma[:5])
    with pytest.raises(ValueError, match=r"hypergradients\(\) is SGD with momentum"):
        hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma, optimizer="rmsprop")
    with pytest.raises(ValueError, match="information buffer|exact|fast"):
        hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma, buffer="slow")
    with pytest.raises(OverflowError, match="training diverged at iteration"):
        hypergrad.hypergradients(gradient, hvp, meta, w0, np.full(9, 1e6), gamma)
    with pytest.raises(ZeroDivisionError):  # a Python error inside a callback comes back as itself
        hypergrad.hypergradients(lambda w, t: 1 / 0, hvp, meta, w0, alpha, gamma)


def test_thin_wrappers():
    x = np.array([1.5, -2.25, 2.0 ** -40])  # exactly representable in units of 2^-52
    assert np.array_equal(hypergrad.from_fixed(hypergrad.to_fixed(x)), x)
    with pytest.raises(OverflowError):
        hypergrad.to_fixed(np.array([3000.0]))
    assert hypergrad.momentum_ratio(0.9) == (58983, 65536)
    b = hypergrad.InfoBuffer("exact", 2)
    b.push(1, 5, 6)
    assert b.pop(1, 6) == 5 and b.empty
    v = hypergrad.to_fixed(np.random.RandomState(1).randn(10))
    before = v.copy()
    buf = hypergrad.InfoBuffer("fast", 10)
    n, d = np.full(10, 58983), np.full(10, 65536)
    hypergrad.multiply_by_ratio(v, n, d, buf)
    assert not np.array_equal(v, before) and buf.information_bits > 0
    hypergrad.divide_by_ratio(v, n, d, buf)
    assert np.array_equal(v, before) and buf.empty


def test_torch_example_runs_with_exact_reversal_when_torch_is_installed():
    pytest.importorskip("torch")  # Debian's python3-torch; not installed by make test
    example = os.path.join(HERE, "..", "..", "experiments", "python", "torch_module.py")
    out = subprocess.run([sys.executable, example], check=True, capture_output=True, text=True).stdout
    assert "exact reversal True" in out, out
