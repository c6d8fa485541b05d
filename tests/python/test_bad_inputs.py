"""The Python module under a hostile review: kept arrays, non-finite and wrong-type callback
results, arrays it cannot modify in place, block indices, the decay range, silent conversions;
and θ (hyperparameters inside the loss) through the mixed-product callback.

Run by ctest (python_test) with PYTHONPATH=<build>/python.
"""
import time

import numpy as np
import pytest

import hypergrad
from test_hypergrad import quadratic_problem


# --- kept arrays ------------------------------------------------------------------------------

def test_a_callback_may_keep_the_arrays_it_is_given():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    kept, copies = [], []

    def keeping_gradient(w, t):
        kept.append(w)
        copies.append(np.array(w))
        return gradient(w, t)

    def keeping_hvp(w, u, t):
        kept.extend((w, u))
        copies.extend((np.array(w), np.array(u)))
        return hvp(w, u, t)

    def keeping_meta(w):
        kept.append(w)
        copies.append(np.array(w))
        return meta(w)

    r = hypergrad.hypergradients(keeping_gradient, keeping_hvp, keeping_meta, w0, alpha, gamma)
    assert r.reversal_exact
    # Every kept array still holds what the callback was given (before: views of memory the run
    # had changed or freed since).
    assert len(kept) == 9 + 3 * 9 + 1
    for mine, copy in zip(kept, copies):
        assert np.array_equal(mine, copy)
    assert np.array_equal(kept[0], w0) or np.abs(kept[0] - w0).max() < 2.0 ** -51


def test_kept_arrays_of_a_large_model_are_safe():
    P, T = 200_000, 3
    rs = np.random.RandomState(0)
    w0, diag = rs.randn(P) * 0.1, rs.rand(P)
    history = []

    def gradient(w, t):
        history.append(w)
        return float(0.5 * w @ (diag * w)), diag * w

    r = hypergrad.hypergradients(gradient, lambda w, u, t: diag * u, lambda w: (float(w @ w), 2 * w),
                                 w0, np.full(T, 0.1), np.full(T, 0.9))
    assert r.reversal_exact
    # Forward and reverse passes meet the same positions: w_t of the reverse pass is the w_t kept
    # from the forward pass, bit for bit.
    for t in range(T):
        assert np.array_equal(history[t], history[2 * T - 1 - t])


# --- non-finite callback results ---------------------------------------------------------------

def nan_at(step, values, bad=np.nan):
    values = np.array(values, dtype=float)
    values[step] = bad
    return values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_callback_results_are_errors_naming_the_callback_and_the_step(bad):
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    run = lambda g=gradient, h=hvp, m=meta: hypergrad.hypergradients(g, h, m, w0, alpha, gamma)
    with pytest.raises(ValueError, match=r"gradient\(w, t=4\) returned g\[2\] = .*not finite"):
        run(g=lambda w, t: (gradient(w, t)[0], nan_at(2, gradient(w, t)[1], bad) if t == 4 else gradient(w, t)[1]))
    with pytest.raises(ValueError, match=r"gradient\(w, t=6\) returned loss = .*not finite"):
        run(g=lambda w, t: (bad if t == 6 else gradient(w, t)[0], gradient(w, t)[1]))
    with pytest.raises(ValueError, match=r"hvp\(w, u, t=8\) returned H\(w\)u\[0\] = .*not finite"):
        run(h=lambda w, u, t: nan_at(0, hvp(w, u, t), bad))
    with pytest.raises(ValueError, match=r"meta_gradient\(w_T\) returned df_dw\[1\] = .*not finite"):
        run(m=lambda w: (meta(w)[0], nan_at(1, meta(w)[1], bad)))
    with pytest.raises(ValueError, match=r"meta_gradient\(w_T\) returned f = .*not finite"):
        run(m=lambda w: (bad, meta(w)[1]))
    adam = lambda g=gradient, h=hvp, m=meta: hypergrad.adam_hypergradients(
        g, h, m, w0, alpha, np.full(9, 0.9), np.full(9, 0.99))
    with pytest.raises(ValueError, match=r"hvp\(w, u, t=8\) returned H\(w\)u\[3\] = .*not finite"):
        adam(h=lambda w, u, t: nan_at(3, hvp(w, u, t), bad))
    with pytest.raises(ValueError, match=r"meta_gradient\(w_T\) returned f = .*not finite"):
        adam(m=lambda w: (bad, meta(w)[1]))


# --- wrong-type callback results ----------------------------------------------------------------

def test_wrong_type_callback_results_are_value_errors_naming_the_callback():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    run = lambda g=gradient, h=hvp, m=meta: hypergrad.hypergradients(g, h, m, w0, alpha, gamma)
    g_of = lambda w: gradient(w, 0)[1]
    with pytest.raises(ValueError, match=r"gradient\(w, t=0\) returned loss of type NoneType, not a number"):
        run(g=lambda w, t: (None, g_of(w)))
    with pytest.raises(ValueError, match=r"gradient\(w, t=0\) returned loss of shape \(2,\), not a number"):
        run(g=lambda w, t: (np.ones(2), g_of(w)))
    with pytest.raises(ValueError, match=r"gradient\(w, t=0\) returned loss of type str, not a number"):
        run(g=lambda w, t: ("1.0", g_of(w)))
    with pytest.raises(ValueError, match=r"gradient\(w, t=0\) returned g of type NoneType, not an array of numbers"):
        run(g=lambda w, t: (1.0, None))
    with pytest.raises(ValueError, match=r"gradient\(w, t=0\) returned g of dtype <U3, not an array of numbers"):
        run(g=lambda w, t: (1.0, np.array(["1.0"] * len(w))))
    with pytest.raises(ValueError, match=r"hvp\(w, u, t=8\) returned H\(w\)u of type NoneType"):
        run(h=lambda w, u, t: None)
    with pytest.raises(ValueError, match=r"hvp\(w, u, t=8\) returned H\(w\)u of dtype complex128"):
        run(h=lambda w, u, t: hvp(w, u, t) + 0j)
    with pytest.raises(ValueError, match=r"meta_gradient\(w_T\) returned f of type NoneType, not a number"):
        run(m=lambda w: (None, meta(w)[1]))
    # Numbers of any numeric type are fine: numpy scalars, 0-d arrays, ints.
    r = run(g=lambda w, t: (np.float32(gradient(w, t)[0]), gradient(w, t)[1]),
            m=lambda w: (np.array(meta(w)[0]), meta(w)[1]))
    assert r.reversal_exact


# --- arrays the library cannot modify in place ---------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda v: v.astype(np.int32),                                 # another dtype
    lambda v: np.repeat(v, 2)[::2],                               # strided
    lambda v: np.stack([v, v], axis=1)[:, 0],                     # a column of a 2-D array
    lambda v: v.astype(">i8"),                                   # int64 of the other byte order
    lambda v: v.astype(np.float64),                               # floats
    lambda v: v.reshape(2, 5),                                    # 2-D
])
def test_multiply_by_ratio_refuses_arrays_it_cannot_modify_in_place(make):
    v = make(np.arange(10, dtype=np.int64) * 1000 + 7)
    before = v.copy()
    n, d = np.full(10, 58983), np.full(10, 65536)
    for call in (hypergrad.multiply_by_ratio, hypergrad.divide_by_ratio):
        with pytest.raises(ValueError, match="values must be a writeable, C-contiguous 1-D int64 array"):
            call(v, n, d, hypergrad.InfoBuffer("fast", 10))
        assert np.array_equal(v, before) and v.dtype == before.dtype


def test_multiply_by_ratio_refuses_read_only_arrays_and_non_integer_ratios():
    v = np.arange(10, dtype=np.int64) * 1000
    v.flags.writeable = False
    n, d = np.full(10, 58983), np.full(10, 65536)
    with pytest.raises(ValueError, match="values must be a writeable"):
        hypergrad.multiply_by_ratio(v, n, d, hypergrad.InfoBuffer("fast", 10))
    w = np.arange(10, dtype=np.int64) * 1000
    with pytest.raises(ValueError, match="n must be integers"):
        hypergrad.multiply_by_ratio(w, np.full(10, 58983.7), d, hypergrad.InfoBuffer("fast", 10))
    with pytest.raises(ValueError, match=r"d\[0\] = -1 is outside \[1, 65536\]"):
        hypergrad.multiply_by_ratio(w, n, np.full(10, -1), hypergrad.InfoBuffer("fast", 10))
    assert np.array_equal(w, np.arange(10, dtype=np.int64) * 1000)


# --- block indices -----------------------------------------------------------------------------

def test_block_indices_are_checked_for_type_and_range_before_anything_is_built():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    run = lambda blocks: hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma, blocks=blocks)
    for huge in (2 ** 32, 2 ** 40, 2 ** 63 - 1):
        started = time.perf_counter()
        with pytest.raises(ValueError, match=rf"blocks\[1\] = {huge} is not below 5"):
            run(np.array([0, huge, 0, 0, 0], dtype=np.int64))
        assert time.perf_counter() - started < 1.0  # before: seconds of names, then MemoryError
    with pytest.raises(ValueError, match=r"blocks\[1\] = 18446744073709551615 is too large"):
        run(np.array([0, 2 ** 64 - 1, 0, 0, 0], dtype=np.uint64))
    with pytest.raises(ValueError, match="blocks must be integers, got float64"):
        run(np.array([0.7, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="blocks must be integers, got float64"):
        run([0, 0.0, 0, 0, 0])
    with pytest.raises(ValueError, match="blocks must be integers, got bool"):
        run(np.zeros(5, dtype=bool))
    with pytest.raises(ValueError, match=r"blocks\[2\] = -1 is negative"):
        run([0, 0, -1, 0, 0])
    assert run([0, 0, 0, 0, 0]).reversal_exact  # a list of ints is fine


# --- the decay range ---------------------------------------------------------------------------

def test_decays_outside_the_one_range_rule_are_refused_everywhere():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    for bad in (1.0, 1.5, 0.0, -0.1, 1e-7, 0.9999995, np.nan, np.inf):
        g = gamma.copy()
        g[3] = bad
        with pytest.raises(ValueError, match=r"gamma at iteration 3, block 0 = .* is outside \[1e-06, 0.999999\]"):
            hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, g)
        for name in ("beta1", "beta2"):
            betas = {"beta1": np.full(9, 0.9), "beta2": np.full(9, 0.99)}
            betas[name][3] = bad
            with pytest.raises(ValueError, match=rf"{name} at iteration 3, block 0 = .* is outside"):
                hypergrad.adam_hypergradients(gradient, hvp, meta, w0, alpha, betas["beta1"], betas["beta2"])
        with pytest.raises(ValueError, match=r"gamma = .* is outside \[1e-06, 0.999999\]"):
            hypergrad.momentum_ratio(bad)
    with pytest.raises(ValueError, match=r"gamma = 2.5 is outside \[1e-06, 0.999999\]"):
        hypergrad.momentum_ratio(2.5)
    # The ends are inside: 0.999999 is applied as 65536/65536, 1e-6 as 1/65536.
    assert hypergrad.momentum_ratio(0.999999) == (65536, 65536)
    assert hypergrad.momentum_ratio(1e-6) == (1, 65536)
    g = gamma.copy()
    g[0], g[1] = 0.999999, 1e-6
    assert hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, g).reversal_exact


# --- silent conversions ------------------------------------------------------------------------

def test_strings_and_other_non_numbers_are_not_converted():
    gradient, hvp, meta, w0, alpha, gamma = quadratic_problem()
    with pytest.raises(ValueError, match="w0 must be an array of numbers, got dtype <U"):
        hypergrad.hypergradients(gradient, hvp, meta, w0.astype(str), alpha, gamma)
    with pytest.raises(ValueError, match="w0 must be an array of numbers, got dtype <U"):
        hypergrad.hypergradients(gradient, hvp, meta, [str(x) for x in w0], alpha, gamma)
    with pytest.raises(ValueError, match="alpha must be an array of numbers"):
        hypergrad.hypergradients(gradient, hvp, meta, w0, alpha.astype(str), gamma)
    with pytest.raises(ValueError, match="gamma must be an array of numbers, got dtype complex128"):
        hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma + 0j)
    with pytest.raises(ValueError, match="v0 must be an array of numbers"):
        hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma, v0=w0.astype(str))
    with pytest.raises(ValueError, match="w0 must be an array of numbers, got dtype object"):
        hypergrad.hypergradients(gradient, hvp, meta, [None] * 5, alpha, gamma)
    # Integer and float32 arrays are numbers: converted exactly to float64.
    assert hypergrad.hypergradients(gradient, hvp, meta, w0.astype(np.float32), alpha, gamma).reversal_exact


def test_to_fixed_and_from_fixed_refuse_what_they_would_flatten_or_convert():
    with pytest.raises(ValueError, match=r"x must be a 1-D array, got shape \(2, 2\)"):
        hypergrad.to_fixed(np.ones((2, 2)))
    with pytest.raises(ValueError, match="x must be an array of numbers"):
        hypergrad.to_fixed(np.array(["1.5"]))
    with pytest.raises(ValueError, match=r"i must be a 1-D array, got shape \(2, 2\)"):
        hypergrad.from_fixed(np.ones((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="i must be integers, got float64"):
        hypergrad.from_fixed(np.array([1.5]))
    assert np.array_equal(hypergrad.from_fixed(hypergrad.to_fixed([1.5, -2.0])), [1.5, -2.0])


def test_mlp_refuses_non_finite_data_and_penalties_and_absurd_thread_counts():
    rs = np.random.RandomState(0)
    X, y = rs.rand(10, 4), np.arange(10) % 3
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 2] = bad
        with pytest.raises(ValueError, match=r"inputs\[3, 2\] = .* is not finite"):
            hypergrad.Mlp([4, 3], Xb, y)
        with pytest.raises(ValueError, match=r"l2\[0\] = .* is not finite"):
            hypergrad.Mlp([4, 3], X, y, l2=[bad])
    with pytest.raises(ValueError, match=r"threads = 100000 is outside \[1, 256\]"):
        hypergrad.Mlp([4, 3], X, y, threads=100000)
    with pytest.raises(ValueError, match=r"threads = 0 is outside \[1, 256\]"):
        hypergrad.Mlp([4, 3], X, y, threads=0)
    with pytest.raises(ValueError, match="labels must be integers, got float64"):
        hypergrad.Mlp([4, 3], X, y + 0.7)
    with pytest.raises(ValueError, match="inputs must be an array of numbers"):
        hypergrad.Mlp([4, 3], X.astype(str), y)
    assert hypergrad.Mlp([4, 3], X, y, threads=2).num_params == 15


# --- θ through the mixed product ---------------------------------------------------------------

def penalised_problem(seed=5, P=6, T=8):
    """loss_t = |B_t w|² + Σ_k θ_{block(k)} w_k² with two blocks of L2 penalties θ (a float64
    problem small enough for central differences of a whole run)."""
    rs = np.random.RandomState(seed)
    A = rs.randn(12, P)
    batches = [A[4 * b:4 * b + 4] for b in range(3)]
    block = np.array([0, 0, 0, 1, 1, 1])
    state = {"theta": np.array([0.3, 0.05])}

    def gradient(w, t):
        B, lam = batches[t % 3], state["theta"][block]
        return float(w @ B.T @ B @ w + lam @ (w * w)), 2.0 * B.T @ (B @ w) + 2.0 * lam * w

    def hvp(w, u, t):
        return 2.0 * batches[t % 3].T @ (batches[t % 3] @ u) + 2.0 * state["theta"][block] * u

    def mixed(w, u, t):  # ∇_θ <∇_w L, u> = per block Σ 2 w_k u_k
        return np.bincount(block, weights=2.0 * w * u, minlength=2)

    w0 = rs.randn(P)
    alpha, gamma = 0.05 + 0.05 * rs.rand(T), 0.5 + 0.3 * rs.rand(T)
    return state, gradient, hvp, mixed, w0, alpha, gamma


def float_sgd(gradient, w0, alpha, gamma):
    """SGD with momentum in float64, the textbook rule: v ← γv − (1−γ)g, w ← w + αv."""
    w, v = w0.copy(), np.zeros_like(w0)
    for t in range(len(alpha)):
        v = gamma[t] * v - (1 - gamma[t]) * gradient(w, t)[1]
        w = w + alpha[t] * v
    return w


def float_adam(gradient, w0, alpha, beta1, beta2, eps):
    w, m, s, p1, p2 = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), 1.0, 1.0
    for t in range(len(alpha)):
        g = gradient(w, t)[1]
        m, s = beta1[t] * m + (1 - beta1[t]) * g, beta2[t] * s + (1 - beta2[t]) * g * g
        p1, p2 = p1 * beta1[t], p2 * beta2[t]
        w = w - alpha[t] * (m / (1 - p1)) / (np.sqrt(s / (1 - p2)) + eps)
    return w


def theta_central(state, run, meta_f, step=1e-5):
    base, out = state["theta"].copy(), []
    for j in range(len(base)):
        values = []
        for sign in (1, -1):
            state["theta"] = base.copy()
            state["theta"][j] += sign * step
            values.append(meta_f(run(), state["theta"]))
        out.append((values[0] - values[1]) / (2 * step))
    state["theta"] = base
    return np.array(out)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_theta_hypergradients_through_the_mixed_product_match_a_float64_run(optimizer):
    state, gradient, hvp, mixed, w0, alpha, gamma = penalised_problem()
    # f = |w_T|² + 0.5 |θ|²: a direct term too, returned as the third value of meta_gradient.
    meta_f = lambda w, theta: float(w @ w + 0.5 * theta @ theta)
    meta = lambda w: (meta_f(w, state["theta"]), 2.0 * w, state["theta"].copy())
    beta1, beta2 = np.full(len(alpha), 0.8), np.full(len(alpha), 0.95)
    if optimizer == "sgd":
        r = hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma, mixed=mixed, num_theta=2)
        run = lambda: float_sgd(gradient, w0, alpha, gamma)
    else:
        alpha = alpha * 0.2
        r = hypergrad.adam_hypergradients(gradient, hvp, meta, w0, alpha, beta1, beta2, eps=1e-3,
                                          mixed=mixed, num_theta=2)
        run = lambda: float_adam(gradient, w0, alpha, beta1, beta2, 1e-3)
    assert r.reversal_exact and r.d_theta.shape == (2,)
    expected = theta_central(state, run, meta_f)
    # The float run uses γ (β) itself, the exact run n/d (above it by < 2^-16): 1e-3 relative.
    np.testing.assert_allclose(r.d_theta, expected, rtol=1e-3, atol=1e-6)
    assert np.all(np.abs(expected) > 1e-3)  # the check is not vacuous
    # Without mixed, d_theta is empty.
    plain = hypergrad.hypergradients(gradient, hvp, lambda w: (meta_f(w, state["theta"]), 2 * w),
                                     w0, alpha, gamma)
    assert plain.d_theta.shape == (0,)


def test_mixed_product_misuse_is_a_clear_error():
    state, gradient, hvp, mixed, w0, alpha, gamma = penalised_problem()
    meta = lambda w: (float(w @ w), 2.0 * w)
    run = lambda **kw: hypergrad.hypergradients(gradient, hvp, meta, w0, alpha, gamma, **kw)
    with pytest.raises(ValueError, match="mixed needs num_theta"):
        run(mixed=mixed)
    with pytest.raises(ValueError, match="num_theta needs mixed"):
        run(num_theta=2)
    with pytest.raises(ValueError, match=r"mixed\(w, u, t=7\) returned 2 values in 1 dimensions.*expected a 1-D array of 3"):
        run(mixed=mixed, num_theta=3)
    with pytest.raises(ValueError, match=r"mixed\(w, u, t=7\) returned mixed\[1\] = nan"):
        run(mixed=lambda w, u, t: nan_at(1, mixed(w, u, t)), num_theta=2)
    with pytest.raises(ValueError, match=r"meta_gradient\(w_T\) returned 3 values in 1 dimensions for df_dtheta, expected a 1-D array of 2"):
        hypergrad.hypergradients(gradient, hvp, lambda w: (1.0, 2 * w, np.zeros(3)), w0, alpha, gamma,
                                 mixed=mixed, num_theta=2)
