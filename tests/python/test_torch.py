"""hypergrad.torch against float64 unrolled autograd of the textbook rules, bitwise reversal,
the bitwise cross-check with the compiled module, the buffer's size and synchronisations, and
bad inputs. Skipped only where PyTorch is absent. HYPERGRAD_TEST_DEVICE=cuda runs them on CUDA.
"""
import math
import os
import warnings

import pytest

torch = pytest.importorskip("torch")
import hypergrad  # noqa: E402
import hypergrad.torch as hgt  # noqa: E402
from hypergrad import _torch_buffers, _torch_fixed  # noqa: E402

DEVICE = os.environ.get("HYPERGRAD_TEST_DEVICE", "cpu")
if DEVICE == "cuda" and not torch.cuda.is_available():
    pytest.skip("HYPERGRAD_TEST_DEVICE=cuda but CUDA is not available", allow_module_level=True)
F = torch.nn.functional


def functional_call(module, params, x):
    call = getattr(getattr(torch, "func", None), "functional_call", None)
    if call is None:
        from torch.nn.utils.stateless import functional_call as call
    return call(module, params, (x,))


class Problem:
    """A small classification task: batches of step t = t mod 4, an L2 penalty exp(log_l2) (theta)
    on every parameter, meta loss = cross-entropy on a validation batch. Some inputs are scaled by
    1e-6 and 1e-9 so that many gradients are tiny (as MNIST's border pixels)."""

    def __init__(self, kind, seed=0, device=DEVICE):
        g = torch.Generator().manual_seed(seed)
        if kind == "mlp":
            x = torch.randn(5, 16, 6, generator=g, dtype=torch.float64)
            x[..., 4] *= 1e-6
            x[..., 5] *= 1e-9
            torch.manual_seed(seed)
            self.net = torch.nn.Sequential(torch.nn.Linear(6, 7), torch.nn.Tanh(),
                                           torch.nn.Linear(7, 3))
        else:
            x = torch.randn(5, 8, 1, 6, 6, generator=g, dtype=torch.float64)
            x[..., 0, :] *= 1e-6
            torch.manual_seed(seed)
            self.net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Tanh(),
                                           torch.nn.Flatten(), torch.nn.Linear(32, 3))
        self.net = self.net.double().to(device)
        self.x = x.to(device)
        self.y = torch.randint(0, 3, x.shape[:2], generator=g).to(device)
        self.log_l2 = torch.tensor(math.log(1e-3), dtype=torch.float64, device=device)
        self.names = [n for n, _ in self.net.named_parameters()]
        self.B = len(self.names)

    def loss_at(self, out, t, log_l2, params):
        return F.cross_entropy(out, self.y[t % 4]) + \
            torch.exp(log_l2) * sum((p * p).sum() for p in params)

    def train_loss(self, model, t):
        return self.loss_at(model(self.x[t % 4]), t, self.log_l2, list(model.parameters()))

    def meta_loss(self, model):
        return F.cross_entropy(model(self.x[4]), self.y[4])

    def unrolled(self, optimizer, T, schedules, eps=None):
        """f and its gradients with respect to the schedules, w0 and theta, by float64 autograd
        through the whole textbook run (decays used as given, not as n/d)."""
        w0 = [p.detach().clone().requires_grad_(True) for p in self.net.parameters()]
        sched = [s.detach().clone().requires_grad_(True) for s in schedules]
        log_l2 = self.log_l2.detach().clone().requires_grad_(True)
        e = torch.tensor(eps if eps else 0.0, dtype=torch.float64, requires_grad=True)
        w = list(w0)
        u = [torch.zeros_like(p) for p in w]
        s = [torch.zeros_like(p) for p in w]
        p1 = [1.0] * self.B
        p2 = [1.0] * self.B
        for t in range(T):
            out = functional_call(self.net, dict(zip(self.names, w)), self.x[t % 4])
            g = torch.autograd.grad(self.loss_at(out, t, log_l2, w), w, create_graph=True)
            new = []
            for j in range(self.B):
                if optimizer == "sgd":
                    alpha, gamma = sched[0][t, j], sched[1][t, j]
                    u[j] = gamma * u[j] - (1 - gamma) * g[j]
                    new.append(w[j] + alpha * u[j])
                else:
                    alpha, b1, b2 = sched[0][t, j], sched[1][t, j], sched[2][t, j]
                    u[j] = b1 * u[j] + (1 - b1) * g[j]
                    s[j] = b2 * s[j] + (1 - b2) * g[j] * g[j]
                    p1[j] = p1[j] * b1
                    p2[j] = p2[j] * b2
                    root = torch.sqrt(s[j] / (1 - p2[j]) + 1e-300)
                    new.append(w[j] - alpha * (u[j] / (1 - p1[j])) / (root + e))
            w = new
        f = F.cross_entropy(functional_call(self.net, dict(zip(self.names, w)), self.x[4]),
                            self.y[4])
        grads = torch.autograd.grad(f, sched + [log_l2, e] + w0, allow_unused=True)
        return f, grads[:len(sched)], grads[len(sched)], grads[len(sched) + 1], grads[len(sched) + 2:]


def relative(x, y):
    return float((x - y).norm() / y.norm())


def sgd_schedules(T, B, device=DEVICE):
    g = torch.Generator().manual_seed(1)
    alpha = 0.2 + 0.2 * torch.rand(T, B, generator=g, dtype=torch.float64)
    gamma = 0.8 + 0.15 * torch.rand(T, B, generator=g, dtype=torch.float64)
    return alpha.to(device), gamma.to(device)


@pytest.mark.parametrize("kind", ["mlp", "conv"])
@pytest.mark.parametrize("buffer", ["fast", "exact"])
def test_sgd_matches_unrolled_autograd(kind, buffer):
    p = Problem(kind)
    T = 12
    alpha, gamma = sgd_schedules(T, p.B)
    before = [q.detach().clone() for q in p.net.parameters()]
    deterministic = torch.are_deterministic_algorithms_enabled()
    r = hgt.hypergradients(p.net, p.train_loss, p.meta_loss, alpha, gamma,
                           hyperparameters=[p.log_l2], buffer=buffer)
    assert r.reversal_exact and r.nonreproducible_step == -1
    # the model is given back its initial parameters, bit for bit, and the flag as it was
    assert all(torch.equal(a, b) for a, b in zip(before, p.net.parameters()))
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    f, (d_alpha, d_gamma), d_l2, _, d_w0 = p.unrolled("sgd", T, [alpha, gamma])
    # gamma applied as n/d (above gamma by < 2^-16) moves everything by ~1e-5..1e-4 relative
    assert abs(r.meta_loss - float(f)) < 1e-4 * abs(float(f))
    assert relative(r.d_alpha, d_alpha) < 1e-3
    assert relative(r.d_gamma, d_gamma) < 1e-3
    assert relative(r.d_hyper[0], d_l2) < 1e-3
    assert relative(torch.cat([x.flatten() for x in r.d_w0]),
                    torch.cat([x.flatten() for x in d_w0])) < 1e-3
    assert r.d_alpha.shape == (T, p.B) and [x.shape for x in r.d_v0] == [x.shape for x in before]


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_adam_matches_unrolled_textbook_adam_at_eps_1e8(kind):
    p = Problem(kind, seed=2)
    T = 10
    g = torch.Generator().manual_seed(3)
    alpha = (0.005 + 0.01 * torch.rand(T, p.B, generator=g, dtype=torch.float64)).to(DEVICE)
    beta1 = torch.full((T, p.B), 0.9, dtype=torch.float64, device=DEVICE)
    beta2 = torch.full((T, p.B), 0.999, dtype=torch.float64, device=DEVICE)
    r = hgt.adam_hypergradients(p.net, p.train_loss, p.meta_loss, alpha, beta1, beta2, eps=1e-8,
                                hyperparameters=[p.log_l2])
    assert r.reversal_exact and r.nonreproducible_step == -1
    f, (d_alpha, d_b1, d_b2), d_l2, d_eps, d_w0 = p.unrolled("adam", T, [alpha, beta1, beta2],
                                                            eps=1e-8)
    assert abs(r.meta_loss - float(f)) < 1e-4 * abs(float(f))
    for mine, ref in ((r.d_alpha, d_alpha), (r.d_beta1, d_b1), (r.d_beta2, d_b2),
                      (r.d_hyper[0], d_l2)):
        assert relative(mine, ref) < 1e-3
    assert abs(r.d_eps - float(d_eps)) < 1e-3 * abs(float(d_eps))
    assert relative(torch.cat([x.flatten() for x in r.d_w0]),
                    torch.cat([x.flatten() for x in d_w0])) < 1e-3


def test_adam_step_for_tiny_gradients_is_adams():
    """One step with gradients 1e-12 .. 1e-3 at eps = 1e-8: float Adam's first step is
    -alpha g/(|g| + eps); on a 2^-52 grid for s the step of |g| = 1e-7 would be -10 alpha."""
    grads = torch.tensor([1e-12, 1e-9, 1e-7, 1e-6, 1e-5, 1e-3], dtype=torch.float64)
    model = torch.nn.Linear(len(grads), 1, bias=False).double().to(DEVICE)
    with torch.no_grad():
        model.weight.zero_()
    g_dev = grads.to(DEVICE)
    r = hgt.adam_hypergradients(model, lambda m, t: (m.weight[0] * g_dev).sum(),
                                lambda m: m.weight.sum(), 0.01, 0.9, 0.999, eps=1e-8, T=1)
    expected = -0.01 * grads / (grads.abs() + 1e-8)
    torch.testing.assert_close(r.w_T[0][0].cpu(), expected, rtol=1e-6, atol=0)
    assert r.reversal_exact


def test_trajectory_is_bitwise_the_compiled_modules():
    if not hypergrad.HAVE_CORE:
        pytest.skip("the compiled core hypergrad._core is not built here")
    if DEVICE != "cpu":
        pytest.skip("the compiled module runs on the CPU")
    import numpy as np
    p = Problem("mlp", seed=5)
    T = 15
    alpha, gamma = sgd_schedules(T, p.B)
    gradient, hvp, meta_gradient, w0, blocks, mixed, load = torch_callbacks(p)
    c = hypergrad.hypergradients(gradient, hvp, meta_gradient, w0, alpha.numpy(), gamma.numpy(),
                                 blocks=blocks, buffer="exact", mixed=mixed, num_theta=1)
    load(w0)
    r = hgt.hypergradients(p.net, p.train_loss, p.meta_loss, alpha, gamma, buffer="exact",
                           hyperparameters=[p.log_l2])
    assert c.reversal_exact and r.reversal_exact
    mine_w = torch.cat([x.flatten() for x in r.w_T]).numpy()
    mine_v = torch.cat([x.flatten() for x in r.v_T]).numpy()
    assert np.array_equal(mine_w.view(np.int64), c.w_T.view(np.int64))
    assert np.array_equal(mine_v.view(np.int64), c.v_T.view(np.int64))
    assert_close_to_1e12(r.d_alpha.numpy(), c.d_alpha)
    assert_close_to_1e12(r.d_gamma.numpy(), c.d_gamma)
    assert_close_to_1e12(torch.cat([x.flatten() for x in r.d_w0]).numpy(), c.d_w0)
    assert_close_to_1e12(torch.cat([x.flatten() for x in r.d_v0]).numpy(), c.d_v0)
    assert_close_to_1e12(r.d_hyper[0].reshape(1).numpy(), c.d_theta)  # theta = log_l2
    assert abs(r.meta_loss - c.f) <= 1e-15 * abs(c.f)


def test_fast_buffer_stores_near_the_entropy():
    """Algorithm 3 steps at gamma = 0.9 (n/d = 58983/65536): bits per element per step in the
    steady state <= 1.05 log2(d/n) as information held (words and coder states); the 16-bit
    words stored after 600 steps <= 1.05 log2(d/n) per step plus one word per element (the
    state holds up to 16 bits not yet in words; all elements grow alike, so this granularity
    does not average out)."""
    P = 4000
    buf = _torch_buffers.AnsBuffer(P, DEVICE)
    gen = torch.Generator(device=DEVICE).manual_seed(0)
    c = torch.randint(-2 ** 50, 2 ** 50, (P,), generator=gen, device=DEVICE)
    n = torch.full((P,), 58983, device=DEVICE)
    d = torch.full((P,), 65536, device=DEVICE)
    ideal = math.log2(65536 / 58983)
    marks = {}
    for t in range(600):
        c = _torch_fixed.multiply_by_ratio(c, n, d, buf)
        c = c + torch.randint(-2 ** 45, 2 ** 45, (P,), generator=gen, device=DEVICE)
        if t % 32 == 31:
            buf.maintain()
        if t + 1 in (200, 600):
            marks[t + 1] = (buf.info_bits(), 16 * buf.depth.sum().item())
    info = (marks[600][0] - marks[200][0]) / (P * 400)
    assert info <= 1.05 * ideal
    assert marks[600][1] / P <= 1.05 * ideal * 600 + 16
    assert info >= 0.95 * ideal  # the test can fail both ways


def test_synchronisations_are_bounded_and_amortised(monkeypatch):
    """Count every value read on the host (item, tolist, bool, float, int, cpu, numpy) during
    whole runs: their number grows by at most 3 per 32 steps (flags and buffer depth forward,
    buffer depth in reverse), independent of P."""
    counter = {"n": 0}
    for name in ("item", "tolist", "__bool__", "__float__", "__int__", "cpu", "numpy"):
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            counter["n"] += 1
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counted)
    p = Problem("mlp")
    counts = {}
    for T in (64, 128):
        alpha, gamma = sgd_schedules(T, p.B, device="cpu")
        counter["n"] = 0
        r = hgt.hypergradients(p.net, p.train_loss, p.meta_loss, alpha.to(DEVICE),
                               gamma.to(DEVICE), buffer="fast")
        counts[T] = counter["n"]
        assert r.reversal_exact
    assert counts[128] - counts[64] <= 3 * 64 // 32
    assert counts[64] <= 40


@pytest.mark.skipif(DEVICE != "cuda", reason="CUDA's synchronisation debug mode")
def test_cuda_synchronisations_seen_by_cuda_are_bounded():
    """The same bound, counted by CUDA itself (torch.cuda.set_sync_debug_mode warns at every
    synchronising call, including implicit ones such as pageable host-to-device copies)."""
    p = Problem("mlp")
    counts = {}
    for T in (64, 128):
        alpha, gamma = sgd_schedules(T, p.B, device="cpu")
        alpha, gamma = alpha.to(DEVICE), gamma.to(DEVICE)
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                r = hgt.hypergradients(p.net, p.train_loss, p.meta_loss, alpha, gamma)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        counts[T] = sum("synchroniz" in str(w.message) for w in seen)
        assert r.reversal_exact
    print("CUDA synchronisations:", counts)
    assert counts[128] - counts[64] <= 3 * 64 // 32


def test_nonreproducible_loss_is_reported():
    p = Problem("mlp")
    calls = {}

    def flaky(model, t):
        calls[t] = calls.get(t, 0) + 1
        extra = 1e-9 if (t == 3 and calls[t] == 2) else 0.0
        return p.train_loss(model, t) * (1 + extra)

    alpha, gamma = sgd_schedules(6, p.B)
    with pytest.warns(RuntimeWarning, match="train_loss\\(model, 3\\)"):
        r = hgt.hypergradients(p.net, flaky, p.meta_loss, alpha, gamma)
    assert not r.reversal_exact and r.nonreproducible_step == 3


class NanGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.sum()

    @staticmethod
    def backward(ctx, grad):
        return torch.full((3,), float("nan"), dtype=torch.float64, device=grad.device)


def test_bad_inputs_give_clear_errors():
    p = Problem("mlp")
    alpha, gamma = sgd_schedules(4, p.B)
    call = lambda **kw: hgt.hypergradients(**{**dict(model=p.net, train_loss=p.train_loss,
                                                     meta_loss=p.meta_loss, alpha=alpha,
                                                     gamma=gamma), **kw})
    with pytest.raises(ValueError, match=r"alpha has shape \(4, 3\)"):
        call(alpha=alpha[:, :3])
    with pytest.raises(ValueError, match="disagree on the number of steps"):
        call(gamma=gamma[:3])
    with pytest.raises(ValueError, match=r"gamma\[0, 0\] = 1.0 is not in \(0.0, 1.0\)"):
        call(gamma=1.0)
    with pytest.raises(ValueError, match="pass T"):
        call(alpha=0.1, gamma=0.9)
    with pytest.raises(TypeError, match="parameter 0 .* is torch.float32"):
        call(model=torch.nn.Linear(3, 2).to(DEVICE))
    with pytest.raises(ValueError, match="hyperparameter 0 is on meta"):
        call(hyperparameters=[torch.zeros(2, dtype=torch.float64, device="meta")])
    with pytest.raises(TypeError, match="hyperparameter 0 is torch.float32"):
        call(hyperparameters=[torch.zeros(2, device=DEVICE)])
    with pytest.raises(ValueError, match=r"train_loss\(model, 0\) returned a tensor of shape \(16,\)"):
        call(train_loss=lambda m, t: m(p.x[0]).sum(dim=1))
    with pytest.raises(TypeError, match="returned a float"):
        call(train_loss=lambda m, t: 1.0)
    with pytest.raises(ValueError, match=r"train_loss\(model, 2\) is not finite"):
        call(train_loss=lambda m, t: p.train_loss(m, t) * (float("nan") if t == 2 else 1.0))
    with pytest.raises(ValueError, match=r"the gradient of train_loss\(model, 1\) is not finite"):
        call(train_loss=lambda m, t: p.train_loss(m, t) +
             (NanGradient.apply(m[2].bias) * 0 if t == 1 else 0))
    with pytest.raises(OverflowError, match="step 0: the weights or moments left the fixed-point range"):
        call(alpha=1e7)
    with pytest.raises(ValueError, match="buffer must be"):
        call(buffer="slow")
    with pytest.raises(ValueError, match="eps"):
        hgt.adam_hypergradients(p.net, p.train_loss, p.meta_loss, alpha, 0.9, 0.999, eps=1e-20)
    # nothing of the user's is changed by a refused call
    before = [q.detach().clone() for q in p.net.parameters()]
    with pytest.raises(ValueError):
        call(train_loss=lambda m, t: p.train_loss(m, t) * (float("nan") if t == 2 else 1.0))
    assert all(torch.equal(a, b) for a, b in zip(before, p.net.parameters()))
    assert not torch.are_deterministic_algorithms_enabled()


def test_adam_trajectory_is_bitwise_the_compiled_modules():
    """The same check for Adam (m and s in 128-bit fixed point with 116 fraction bits). Skipped
    while the compiled Adam keeps s on the 2^-52 grid (detected by one step with g = 1e-7 at
    eps = 1e-8: float Adam moves by -0.909 alpha, the 2^-52 grid by about -10 alpha)."""
    if not hypergrad.HAVE_CORE or DEVICE != "cpu":
        pytest.skip("needs the compiled core, on the CPU")
    import numpy as np
    probe = hypergrad.adam_hypergradients(
        lambda w, t: (float(w[0] * 1e-7), np.array([1e-7])), lambda w, u, t: np.zeros(1),
        lambda w: (float(w[0]), np.ones(1)), np.zeros(1), np.array([0.01]), np.array([0.9]),
        np.array([0.999]), eps=1e-8)
    if not abs(probe.w_T[0] / -0.01 - 1 / (1 + 0.1)) < 1e-3:
        pytest.skip(f"the compiled Adam's first step for g = 1e-7 is {probe.w_T[0] / 0.01:.3f} "
                    "alpha: its s is not on the 2^-116 grid")
    p = Problem("mlp", seed=5)
    T = 15
    g = torch.Generator().manual_seed(3)
    alpha = 0.005 + 0.01 * torch.rand(T, p.B, generator=g, dtype=torch.float64)
    beta1 = 0.85 + 0.1 * torch.rand(T, p.B, generator=g, dtype=torch.float64)
    beta2 = 0.99 + 0.009 * torch.rand(T, p.B, generator=g, dtype=torch.float64)
    gradient, hvp, meta_gradient, w0, blocks, mixed, load = torch_callbacks(p)
    c = hypergrad.adam_hypergradients(gradient, hvp, meta_gradient, w0, alpha.numpy(),
                                      beta1.numpy(), beta2.numpy(), eps=1e-8, blocks=blocks,
                                      buffer="exact", mixed=mixed, num_theta=1)
    load(w0)
    r = hgt.adam_hypergradients(p.net, p.train_loss, p.meta_loss, alpha, beta1, beta2, eps=1e-8,
                                buffer="exact", hyperparameters=[p.log_l2])
    assert c.reversal_exact and r.reversal_exact
    same = lambda a, b: np.array_equal(np.asarray(a).view(np.int64), np.asarray(b).view(np.int64))
    assert same(torch.cat([x.flatten() for x in r.w_T]).numpy(), c.w_T)
    assert same(r.m_T.numpy(), c.m_T) and same(r.s_T.numpy(), c.s_T)
    for mine, theirs in ((r.d_alpha, c.d_alpha), (r.d_beta1, c.d_beta1), (r.d_beta2, c.d_beta2)):
        assert_close_to_1e12(mine.numpy(), theirs)
    assert_close_to_1e12(torch.cat([x.flatten() for x in r.d_w0]).numpy(), c.d_w0)
    assert abs(r.d_eps - c.d_eps) <= 1e-12 * abs(c.d_eps)
    assert_close_to_1e12(r.d_hyper[0].reshape(1).numpy(), c.d_theta)  # theta = log_l2


def assert_close_to_1e12(mine, theirs):
    """|mine - theirs| <= 1e-12 max |theirs| elementwise (the issue's ~1e-12; measured ~3e-16:
    the same arithmetic in another summation order)."""
    import numpy as np
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    assert mine.shape == theirs.shape
    error = float(np.abs(mine - theirs).max())
    assert error <= 1e-12 * float(np.abs(theirs).max()), (error, float(np.abs(theirs).max()))


def torch_callbacks(p):
    """hypergrad.torch.numpy_callbacks for Problem p with theta = log_l2 (gradient, hvp,
    meta_gradient, w0, blocks, mixed), and a function loading w into the model."""
    callbacks = hgt.numpy_callbacks(p.net, p.train_loss, p.meta_loss, [p.log_l2])
    assert not p.log_l2.requires_grad  # given back as it was
    return callbacks + (lambda w: callbacks[2](w),)


@pytest.mark.parametrize("n", [65535, 32769])
def test_fast_buffer_reverses_exactly_when_decoding_loses_more_than_the_ratio_adds(n):
    """n/d close to 1 (65535/65536 adds 2.2e-5 bits a step, while decoding a base-n digit with
    the quantised frequencies can take up to 0.006 bits more than log2 n): an element's coder
    state may drift below its starting point with nothing on its word stack, and must not read
    a word that is not there. 300 steps forward and back, bit for bit."""
    P = 3000
    buf = _torch_buffers.AnsBuffer(P, DEVICE)
    gen = torch.Generator(device=DEVICE).manual_seed(n)
    c0 = torch.randint(-2 ** 50, 2 ** 50, (P,), generator=gen, device=DEVICE)
    nn = torch.full((P,), n, device=DEVICE)
    d = torch.full((P,), 65536, device=DEVICE)
    adds = [torch.randint(-2 ** 45, 2 ** 45, (P,), generator=gen, device=DEVICE) for _ in range(300)]
    c = c0
    for t in range(300):
        c = _torch_fixed.multiply_by_ratio(c, nn, d, buf, 16 if t % 2 else None) + adds[t]
        if t % 32 == 31:
            buf.maintain()
    for t in range(299, -1, -1):
        c = _torch_fixed.divide_by_ratio(c - adds[t], nn, d, buf, 16 if t % 2 else None)
        if t % 32 == 0:
            buf.maintain()
    assert torch.equal(c, c0) and buf.empty()


def test_schedule_forms_give_the_same_bits():
    """alpha, gamma as numbers (with T), as (T,) and as (T, B) tensors: one run, bit for bit."""
    p = Problem("conv", seed=4)
    T = 6
    results = [
        hgt.hypergradients(p.net, p.train_loss, p.meta_loss, 0.3, 0.85, T=T),
        hgt.hypergradients(p.net, p.train_loss, p.meta_loss,
                           torch.full((T,), 0.3, dtype=torch.float64, device=DEVICE),
                           torch.full((T,), 0.85, dtype=torch.float64, device=DEVICE)),
        hgt.hypergradients(p.net, p.train_loss, p.meta_loss,
                           torch.full((T, p.B), 0.3, dtype=torch.float64, device=DEVICE), 0.85),
    ]
    first = results[0]
    assert first.reversal_exact and first.d_alpha.shape == (T, p.B)
    for r in results[1:]:
        assert torch.equal(r.d_alpha, first.d_alpha) and torch.equal(r.d_gamma, first.d_gamma)
        assert all(torch.equal(a, b) for a, b in zip(r.w_T, first.w_T))
    # a different column changes that block only (B columns = model.parameters() order)
    alpha = torch.full((T, p.B), 0.3, dtype=torch.float64, device=DEVICE)
    alpha[:, p.B - 1] = 0.1
    r = hgt.hypergradients(p.net, p.train_loss, p.meta_loss, alpha, 0.85)
    assert not torch.equal(r.w_T[p.B - 1], first.w_T[p.B - 1])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("before", [(False, False), (True, True)])
def test_deterministic_algorithms_and_the_model_are_restored(optimizer, before):
    """The flag (and warn_only) as it was before, after a run and after a refused run; on
    during every call of train_loss and meta_loss. The model is left at w_0 (its own tensors,
    the same bits), not at w_T, after both."""
    p = Problem("mlp")
    seen = []
    w0 = [q.detach().clone() for q in p.net.parameters()]
    storage = [q.data_ptr() for q in p.net.parameters()]

    def same_model():
        return all(torch.equal(a, b) for a, b in zip(w0, p.net.parameters())) and \
            storage == [q.data_ptr() for q in p.net.parameters()]

    def train_loss(model, t):
        seen.append(torch.are_deterministic_algorithms_enabled() and
                    not torch.is_deterministic_algorithms_warn_only_enabled())
        return p.train_loss(model, t)

    def meta_loss(model):
        seen.append(torch.are_deterministic_algorithms_enabled())
        return p.meta_loss(model)

    def run(loss):
        if optimizer == "sgd":
            return hgt.hypergradients(p.net, loss, meta_loss, 0.2, 0.9, T=5)
        return hgt.adam_hypergradients(p.net, loss, meta_loss, 0.01, 0.9, 0.999, T=5)

    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    try:
        r = run(train_loss)
        assert r.reversal_exact and same_model()
        assert not all(torch.equal(a, b) for a, b in zip(w0, r.w_T))
        assert seen and all(seen)
        assert (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled()) == before
        with pytest.raises(ValueError, match="not finite"):
            run(lambda m, t: train_loss(m, t) * (float("nan") if t == 3 else 1.0))
        assert same_model()
        assert (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled()) == before
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_whole_runs_store_near_the_entropy(optimizer):
    """info_bits of a whole run (fast buffer) per parameter per step against the ideal
    log2(d/n) summed over the decays (SGD: gamma = 0.9; Adam: beta1 = 0.9, beta2 = 0.999, two
    buffers): within 1.05x, and not below 0.95x (the test can fail both ways). Measured (CPU,
    torch 1.13): SGD 0.15200 bits, ideal 0.15199 (1.0001x); Adam 0.15352, ideal 0.15342
    (1.0007x)."""
    p = Problem("mlp")
    T = 200
    P = sum(q.numel() for q in p.net.parameters())
    ratio = lambda b: math.log2(65536 / (math.floor(b * 65536) + 1))  # noqa: E731
    if optimizer == "sgd":
        r = hgt.hypergradients(p.net, p.train_loss, p.meta_loss, 0.2, 0.9, T=T)
        ideal = ratio(0.9)
    else:
        r = hgt.adam_hypergradients(p.net, p.train_loss, p.meta_loss, 0.01, 0.9, 0.999, T=T)
        ideal = ratio(0.9) + ratio(0.999)
    assert r.reversal_exact
    # the storage holds at least the information; the hypergradients come shaped as documented
    assert isinstance(r.buffer_bytes, int) and 8 * r.buffer_bytes >= r.info_bits > 0
    assert r.d_alpha.shape == (T, p.B) and r.d_hyper == []
    assert [x.shape for x in r.d_w0] == [q.shape for q in p.net.parameters()]
    per_step = r.info_bits / (P * T)
    print(f"{optimizer}: {per_step:.5f} bits per parameter per step, ideal {ideal:.5f} "
          f"({per_step / ideal:.4f}x)")
    assert 0.95 * ideal <= per_step <= 1.05 * ideal


def test_adam_synchronisations_are_bounded_and_amortised():
    """hypergrad._torch_buffers.SYNC_COUNT (every host read of hypergrad.torch goes through
    host()): at most 5 per 32 steps for Adam (flags and two buffer depths forward, two depths in
    reverse), the same count whatever the model's size."""
    counts = {}
    for kind in ("mlp", "conv"):
        p = Problem(kind)
        for T in (64, 128):
            r = hgt.adam_hypergradients(p.net, p.train_loss, p.meta_loss, 0.01, 0.9, 0.999, T=T)
            assert r.reversal_exact
            counts[kind, T] = r.syncs
    assert counts["mlp", 128] - counts["mlp", 64] <= 5 * 64 // 32
    assert counts["mlp", 64] == counts["conv", 64] and counts["mlp", 128] == counts["conv", 128]


def test_adam_nonreproducible_loss_is_reported():
    p = Problem("conv")
    calls = {}

    def flaky(model, t):
        calls[t] = calls.get(t, 0) + 1
        return p.train_loss(model, t) * (1 + (1e-9 if (t == 2 and calls[t] == 2) else 0.0))

    with pytest.warns(RuntimeWarning, match="train_loss\\(model, 2\\)"):
        r = hgt.adam_hypergradients(p.net, flaky, p.meta_loss, 0.01, 0.9, 0.999, T=5)
    assert not r.reversal_exact and r.nonreproducible_step == 2


def test_adam_noisy_loss_names_the_nonreproducible_step_not_an_overflow():
    # A loss with fresh noise at every call: the reverse pass leaves the trajectory at step
    # T-1 and Adam's reverse pass then meets a non-finite Hessian product; the error must name
    # the non-reproducible loss (seen by a fresh reader: it blamed an overflow).
    torch.manual_seed(0)
    T = 20
    m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    X = torch.randn(T, 5, 4, dtype=torch.float64)
    Y = torch.randint(0, 3, (T, 5))

    def tl(model, t):
        return torch.nn.functional.cross_entropy(model(X[t]), Y[t])

    def noisy(model, t):
        return tl(model, t) + 1e-3 * (model[0].weight * torch.randn(8, 4, dtype=torch.float64)).sum()

    for seed in (1, 2):
        torch.manual_seed(seed)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = hgt.adam_hypergradients(m, noisy, lambda model: tl(model, 0), 0.01, 0.9, 0.999, T=T)
        except ValueError as e:
            assert "not bit-reproducible" in str(e), str(e)
        else:
            assert not r.reversal_exact and r.nonreproducible_step >= 0


class NanSecondDerivative(torch.autograd.Function):
    """x.sum(): its gradient (ones) is finite, the gradient's own derivative (the Hessian
    product) NaN."""
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sum()

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * OnesWithNanDerivative.apply(x)


class OnesWithNanDerivative(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.ones_like(x)

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


def test_more_bad_inputs_give_clear_errors():
    p = Problem("mlp")
    alpha, gamma = sgd_schedules(4, p.B)
    call = lambda **kw: hgt.hypergradients(**{**dict(model=p.net, train_loss=p.train_loss,  # noqa: E731
                                                     meta_loss=p.meta_loss, alpha=alpha,
                                                     gamma=gamma), **kw})
    adam = lambda **kw: hgt.adam_hypergradients(**{**dict(  # noqa: E731
        model=p.net, train_loss=p.train_loss, meta_loss=p.meta_loss, alpha=alpha, beta1=0.9,
        beta2=0.999), **kw})
    meta_model = torch.nn.Linear(3, 2).double().to("meta")
    with pytest.raises(ValueError, match="'meta' device"):
        call(model=meta_model, alpha=0.2, gamma=0.9, T=4)
    with pytest.raises(ValueError, match="hyperparameter 0 is on cpu, the parameters on meta"):
        call(model=meta_model, alpha=0.2, gamma=0.9, T=4,
             hyperparameters=[torch.zeros((), dtype=torch.float64)])
    with pytest.raises(ValueError, match="hyperparameter 0 is on meta, the parameters on "
                       f"{p.net[0].weight.device}"):
        call(hyperparameters=torch.zeros((), dtype=torch.float64, device="meta"))
    with pytest.raises(ValueError, match=r"train_loss\(model, 0\) is on meta"):
        call(train_loss=lambda m, t: torch.zeros((), dtype=torch.float64, device="meta"))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        call(model=[p.net])
    with pytest.raises(TypeError, match="hyperparameter 0 is a float"):
        call(hyperparameters=[0.5])
    with pytest.raises(TypeError, match="alpha is a torch.int64 tensor"):
        call(alpha=torch.ones((4, p.B), dtype=torch.int64))
    with pytest.raises(ValueError, match=r"alpha\[2, 1\] = nan is not finite"):
        bad = alpha.clone()
        bad[2, 1] = float("nan")
        call(alpha=bad)
    with pytest.raises(TypeError, match=r"train_loss\(model, 0\) returned torch.float32"):
        call(train_loss=lambda m, t: p.train_loss(m, t).float())
    with pytest.raises(ValueError, match=r"meta_loss\(model\) returned a tensor of shape \(3,\)"):
        call(meta_loss=lambda m: m(p.x[4]).sum(dim=0))
    with pytest.raises(ValueError, match=r"meta_loss\(model\) is not finite"):
        call(meta_loss=lambda m: p.meta_loss(m) * float("inf"))
    with pytest.raises(ValueError, match=r"the gradient of meta_loss\(model\) is not finite"):
        call(meta_loss=lambda m: p.meta_loss(m) + NanGradient.apply(m[2].bias) * 0)
    with pytest.raises(ValueError, match=r"Hessian-vector product of train_loss\(model, 3\)"):
        call(train_loss=lambda m, t: p.train_loss(m, t) +
             (NanSecondDerivative.apply(m[2].bias) if t == 3 else 0))
    with pytest.raises(ValueError, match="does not depend on the model's parameters"):
        call(train_loss=lambda m, t: torch.zeros((), dtype=torch.float64, device=DEVICE))
    with pytest.raises(ValueError, match=r"v0\[1\] must be a float64 tensor of shape \(7,\)"):
        call(v0=[torch.zeros_like(q) for q in p.net.parameters()][:1] +
             [torch.zeros(8, dtype=torch.float64)] + [torch.zeros_like(q) for q in p.net.parameters()][2:])
    with pytest.raises(ValueError, match=r"beta2\[0, 0\] = 1.0 is not in \(0.0, 1.0\)"):
        adam(beta2=1.0)
    with pytest.raises(ValueError, match=r"beta1 has shape \(4, 2\)"):
        adam(beta1=torch.full((4, 2), 0.9, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"the gradient of train_loss\(model, 1\) is not finite"):
        adam(train_loss=lambda m, t: p.train_loss(m, t) +
             (NanGradient.apply(m[2].bias) * 0 if t == 1 else 0))
    with pytest.raises(OverflowError, match="left the fixed-point range"):
        adam(alpha=1e4, T=4)
    # the model keeps its parameters after every refusal
    assert all(q.device.type == DEVICE for q in p.net.parameters())
