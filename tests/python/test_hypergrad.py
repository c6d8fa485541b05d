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
