"""Exact hypergradients of SGD with momentum and of Adam for any torch.nn.Module, on whatever
device its parameters live on, in PyTorch tensor operations only (no compiled code of ours: this
module works without hypergrad's compiled core).

    import hypergrad.torch as hgt
    r = hgt.hypergradients(model, train_loss, meta_loss, alpha, gamma, hyperparameters=(),
                           buffer="fast")
    r = hgt.adam_hypergradients(model, train_loss, meta_loss, alpha, beta1, beta2, eps=1e-8,
                                hyperparameters=(), buffer="fast")

train_loss(model, t) -> scalar tensor: the training loss of step t (the same bits every time it
is called for the same t and parameters); meta_loss(model) -> scalar tensor. alpha, gamma (beta1,
beta2): numbers, or tensors of shape (T,) or (T, B) with B = one block per parameter tensor in
model.parameters() order. `T` is needed only when every schedule is a number. hyperparameters:
float64 tensors the losses read (theta); r.d_hyper holds their hypergradients.

Arithmetic (the C++ library's): w (and SGD's velocity v) in int64 fixed point at radix 2^52,
truncation toward zero; decays applied exactly as n/d (Algorithm 3, n = floor(65536 beta) + 1,
d = 65536) with the lost digits in an information buffer; Adam's m and s in signed 128-bit fixed
point with 116 fraction bits (_torch_fixed.WIDE_FRACTION_BITS). Every other use of a decay
((1 - gamma) g, the bias corrections, all hypergradients) takes the float value. With
buffer="exact" the SGD trajectory (w_T, v_T) is bitwise the compiled module's for the same
gradients.

The parameters must be float64 leaf tensors on one device. During the call the model's
parameters are views of one flat float64 vector holding the fixed-point values; afterwards every
parameter gets back its original tensor (the model is restored to w_0 exactly as given, not to
w_T; r.w_T holds the final weights).

Determinism: torch.use_deterministic_algorithms(True) during the call (restored after). On CUDA
set CUBLAS_WORKSPACE_CONFIG=:4096:8 (or :16:8) before the first CUDA matrix product, or cuBLAS
refuses deterministic mode. Each forward gradient's fingerprint is compared with the gradient
recomputed in the reverse pass; a loss that does not give the same bits again makes
r.reversal_exact False, sets r.nonreproducible_step (the first such step met in the reverse
pass) and warns. A non-finite loss or gradient (forward, named by step), meta loss or its
gradient, or Hessian-vector product (reverse, named by step) raises ValueError.

Host synchronisation: none inside a step; every `check_every` steps (default 32) one read of a
few flags (non-finite loss or gradient, fixed-point overflow) and one per buffer (its depth),
counted in hypergrad._torch_buffers.SYNC_COUNT.
"""
import math
import warnings
from dataclasses import dataclass, field
from typing import List, Optional

import torch

from . import _torch_buffers as buffers
from . import _torch_fixed as fx

__all__ = ["hypergradients", "adam_hypergradients", "numpy_callbacks", "Result", "AdamResult"]


@dataclass
class Result:
    """What hypergradients() returns (adam_hypergradients: AdamResult)."""
    d_alpha: torch.Tensor = None          # (T, B)
    d_gamma: torch.Tensor = None          # (T, B)
    d_w0: List[torch.Tensor] = None       # shaped like the parameters
    d_v0: List[torch.Tensor] = None
    d_hyper: List[torch.Tensor] = None    # shaped like the hyperparameters
    meta_loss: float = None
    w_T: List[torch.Tensor] = None        # final weights (float64 values of the fixed point)
    v_T: List[torch.Tensor] = None
    w_T_fixed: torch.Tensor = None        # flat int64, units of 2^-52
    v_T_fixed: torch.Tensor = None
    reversal_exact: bool = None
    nonreproducible_step: int = -1
    info_bits: float = 0.0                # bits held by the buffer after training
    buffer_bytes: int = 0                 # bytes the buffer held after training
    syncs: int = 0                        # host synchronisations during the call


@dataclass
class AdamResult(Result):
    d_beta1: torch.Tensor = None
    d_beta2: torch.Tensor = None
    d_eps: float = None
    d_m0: List[torch.Tensor] = None
    d_s0: List[torch.Tensor] = None
    m_T: torch.Tensor = None              # flat float64 values of m_T, s_T
    s_T: torch.Tensor = None
    m_T_fixed: torch.Tensor = None        # (4, P) int64 limbs of the 128-bit integers
    s_T_fixed: torch.Tensor = None


class _Run:
    """What both optimizers share: validation, the flat parameter vector, gradients, checks."""

    def __init__(self, model, train_loss, meta_loss, hyperparameters, buffer, check_every):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
        if not callable(train_loss) or not callable(meta_loss):
            raise TypeError("train_loss and meta_loss must be callables "
                            "(train_loss(model, t), meta_loss(model))")
        if buffer not in ("fast", "exact"):
            raise ValueError(f"buffer must be 'fast' or 'exact', not {buffer!r}")
        if not (isinstance(check_every, int) and check_every >= 1):
            raise ValueError(f"check_every must be a positive int, not {check_every!r}")
        self.params = list(model.parameters())
        if not self.params:
            raise ValueError("the model has no parameters")
        self.device = self.params[0].device
        for k, p in enumerate(self.params):
            if p.dtype != torch.float64:
                raise TypeError(f"parameter {k} (shape {tuple(p.shape)}) is {p.dtype}; exact "
                                "reversal needs float64 parameters (model.double())")
            if p.device != self.device:
                raise ValueError(f"parameter {k} is on {p.device}, parameter 0 on {self.device}: "
                                 "all parameters must be on one device")
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(f"parameter {k} must be a leaf tensor that requires grad")
        if isinstance(hyperparameters, torch.Tensor):
            hyperparameters = (hyperparameters,)
        self.hyper = list(hyperparameters)
        for k, h in enumerate(self.hyper):
            if not isinstance(h, torch.Tensor):
                raise TypeError(f"hyperparameter {k} is a {type(h).__name__}, not a tensor")
            if h.dtype != torch.float64:
                raise TypeError(f"hyperparameter {k} is {h.dtype}; float64 needed")
            if h.device != self.device:
                raise ValueError(f"hyperparameter {k} is on {h.device}, the parameters on "
                                 f"{self.device}")
            if not h.is_leaf:
                raise ValueError(f"hyperparameter {k} must be a leaf tensor (not computed from "
                                 "others)")
        # after the hyperparameters: a hyperparameter on another device is named first
        if self.device.type == "meta":
            raise ValueError("the model's parameters are on the 'meta' device (shapes without "
                             "values): move the model to a real device (model.to('cpu') or "
                             "'cuda') first")
        self.model, self.train_loss, self.meta_loss = model, train_loss, meta_loss
        self.buffer_kind, self.check_every = buffer, check_every
        self.sizes = [p.numel() for p in self.params]
        self.P, self.B = sum(self.sizes), len(self.params)
        self.block_of = torch.repeat_interleave(
            torch.arange(self.B), torch.tensor(self.sizes)).to(self.device)
        self.sync_start = buffers.SYNC_COUNT
        self.first_bad = None
        self.T = None
        self.constant, self.expanded = {}, {}

    # -- schedules ---------------------------------------------------------------------------
    def schedule(self, value, name, T, low=None, high=None):
        """value as a float64 (T, B) tensor on the CPU (checked), from a number, (T,) or (T, B)."""
        if isinstance(value, torch.Tensor):
            if value.dtype not in (torch.float64, torch.float32):
                raise TypeError(f"{name} is a {value.dtype} tensor; float64 (or float32) expected")
            v = value.detach().to("cpu", torch.float64)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            v = torch.tensor(float(value), dtype=torch.float64)
        else:
            raise TypeError(f"{name} must be a number or a tensor, not {type(value).__name__}")
        if v.dim() == 0:
            v = v.expand(T, self.B)
        elif v.dim() == 1:
            if v.shape[0] != T:
                raise ValueError(f"{name} has shape {tuple(v.shape)}; expected ({T},) or "
                                 f"({T}, {self.B})")
            v = v[:, None].expand(T, self.B)
        elif v.dim() != 2 or tuple(v.shape) != (T, self.B):
            raise ValueError(f"{name} has shape {tuple(v.shape)}; expected a number, ({T},) or "
                             f"({T}, {self.B}) (one column per parameter tensor)")
        v = v.contiguous().clone()
        bad = ~torch.isfinite(v)
        if low is not None:
            bad |= ~((v > low) & (v < high))
        if bad.any():
            t, j = [int(i) for i in bad.nonzero()[0]]
            rule = f" in ({low}, {high})" if low is not None else " finite"
            raise ValueError(f"{name}[{t}, {j}] = {float(v[t, j])} is not{rule}")
        return v

    @staticmethod
    def length(T, *schedules):
        lengths = {s.shape[0] for s in schedules if isinstance(s, torch.Tensor) and s.dim() > 0}
        if T is not None:
            if not isinstance(T, int) or T < 1:
                raise ValueError(f"T must be a positive int, not {T!r}")
            lengths.add(T)
        if len(lengths) > 1:
            raise ValueError(f"the schedules disagree on the number of steps: {sorted(lengths)}")
        if not lengths:
            raise ValueError("every schedule is a number: pass T, the number of steps")
        return lengths.pop()

    def expand(self, per_block):
        """(B,) values on the device -> (P,) per element. A row of a schedule whose rows are all
        equal (see constant_rows) is expanded once and the same tensor returned after."""
        key = self.constant.get(per_block.data_ptr() - per_block.storage_offset() *
                                per_block.element_size())
        if key is not None:
            if key not in self.expanded:
                self.expanded[key] = per_block[self.block_of]
            return self.expanded[key]
        return per_block[self.block_of]

    def constant_rows(self, schedule):
        """Marks a (T, B) device schedule whose rows are all equal (checked on the CPU copy
        before moving it), so that expand() reuses one expansion for every step."""
        if bool((schedule == schedule[:1]).all()):
            self.constant[schedule.data_ptr()] = len(self.constant)
        return schedule

    def block_sums(self, x):
        return torch.stack([piece.sum() for piece in torch.split(x, self.sizes)])

    # -- the flat parameter vector -----------------------------------------------------------
    def begin(self):
        self.det = (torch.are_deterministic_algorithms_enabled(),
                    torch.is_deterministic_algorithms_warn_only_enabled())
        torch.use_deterministic_algorithms(True)
        self.originals = [p.data for p in self.params]
        self.hyper_grad_flags = [h.requires_grad for h in self.hyper]
        self.flat = torch.cat([p.detach().reshape(-1) for p in self.params])
        offset = 0
        for p, n in zip(self.params, self.sizes):
            p.data = self.flat[offset:offset + n].view_as(p)
            offset += n

    def end(self):
        for p, original in zip(self.params, self.originals):
            p.data = original
        for h, flag in zip(self.hyper, self.hyper_grad_flags):
            h.requires_grad_(flag)
        torch.use_deterministic_algorithms(self.det[0], warn_only=self.det[1])

    def quantise(self, x, what):
        i, bad = fx.to_fixed(x)
        if host(bad.any()):
            k = int(bad.nonzero()[0])
            raise ValueError(f"{what}: element {k} = {float(x[k])} is not finite or |x| >= 2048 "
                             "(the fixed-point range)")
        return i

    def set_weights(self, w_fixed):
        self.flat.copy_(fx.from_fixed(w_fixed))

    def unflatten(self, x):
        return [piece.view_as(p).clone() for piece, p in zip(torch.split(x, self.sizes),
                                                            self.params)]

    # -- losses and gradients ----------------------------------------------------------------
    def loss(self, t, what):
        value = self.train_loss(self.model, t) if t is not None else self.meta_loss(self.model)
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{what} returned a {type(value).__name__}, not a tensor")
        if value.dim() != 0:
            raise ValueError(f"{what} returned a tensor of shape {tuple(value.shape)}, not a "
                             "scalar (0-dim tensor)")
        if value.dtype != torch.float64:
            raise TypeError(f"{what} returned {value.dtype}; float64 expected")
        if value.device != self.device:
            raise ValueError(f"{what} is on {value.device}, the parameters on {self.device}")
        if not value.requires_grad:
            raise ValueError(f"{what} does not depend on the model's parameters")
        return value

    def flat_grad(self, outputs, inputs, create_graph=False):
        if not outputs.requires_grad:  # e.g. the Hessian term of a loss linear in w
            return [torch.zeros_like(x) for x in inputs]
        grads = torch.autograd.grad(outputs, inputs, allow_unused=True, create_graph=create_graph)
        return [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]

    def gradient(self, t, create_graph=False):
        """(loss, flat g, list g) of step t at the current weights."""
        loss = self.loss(t, f"train_loss(model, {t})")
        g = self.flat_grad(loss, self.params, create_graph)
        return loss, torch.cat([x.reshape(-1) for x in g]), g

    def fingerprint(self, g):
        """Two int64 sums of the gradient's bits (wrapping): equal bits give equal sums."""
        bits = g.detach().view(torch.int64)
        if getattr(self, "weights", None) is None:
            self.weights = torch.arange(1, 2 * bits.numel(), 2, device=bits.device,
                                        dtype=torch.int64)
        return torch.stack([bits.sum(), (bits * self.weights).sum()])

    def mark_reverse(self, marks, t, g, prints, hvp):
        """marks = [the first reverse step whose gradient's fingerprint differs from the forward
        one, the first reverse step whose Hessian-vector product is not finite] (-1: none), as a
        device tensor (no synchronisation; _finish_reverse reads it once)."""
        found = torch.stack([(self.fingerprint(g) != prints[t]).any(),
                             ~torch.isfinite(hvp.abs().amax())])
        return torch.where((marks < 0) & found, self.step_numbers[t], marks)

    def meta_gradient(self, result):
        """meta_loss at the current weights into result.meta_loss; returns its gradient (flat)
        and its direct gradients with respect to the hyperparameters (the reverse pass's start)."""
        for h in self.hyper:
            h.requires_grad_(True)
        f = self.loss(None, "meta_loss(model)")
        grads = self.flat_grad(f, self.params + self.hyper)
        d_w = torch.cat([x.reshape(-1) for x in grads[:self.B]]).detach()
        # the value and the gradients' finiteness in one synchronisation
        finite = torch.stack([torch.isfinite(x).all() for x in [d_w] + grads[self.B:]]).all()
        value, finite = host(torch.stack([f.detach(), finite.to(f.dtype)]))
        result.meta_loss = value
        if not math.isfinite(value):
            raise ValueError("meta_loss(model) is not finite")
        if not finite:
            raise ValueError("the gradient of meta_loss(model) is not finite")
        return d_w, [x.detach().clone() for x in grads[self.B:]]

    # -- amortised checks --------------------------------------------------------------------
    def flag(self, t, loss, g_max, peak):
        """Records the first step with a non-finite loss (code 1), gradient (2, from its largest
        |g|) or a fixed-point overflow (3: `peak`, the largest magnitude met, not below 2048
        (1 - 2^-20), or NaN), as device tensors (no synchronisation)."""
        code = torch.where(~torch.isfinite(loss), 1,
                           torch.where(~torch.isfinite(g_max), 2,
                                       torch.where(~(peak < fx.LIMIT * (1 - 2.0 ** -20)), 3, 0)))
        if self.first_bad is None:
            self.first_bad = torch.tensor([-1, 0], device=self.device)
            self.step_numbers = torch.arange(self.T, device=self.device)
        marker = torch.stack([self.step_numbers[t], code.to(torch.int64)])
        self.first_bad = torch.where((self.first_bad[1] == 0) & (code != 0), marker,
                                     self.first_bad)

    def check(self, buffers_):
        for b in buffers_:
            b.maintain()
        if self.first_bad is None:
            return
        t, code = host(self.first_bad)
        if code == 1:
            raise ValueError(f"train_loss(model, {t}) is not finite")
        if code == 2:
            raise ValueError(f"the gradient of train_loss(model, {t}) is not finite")
        if code == 3:
            raise OverflowError(f"step {t}: the weights or moments left the fixed-point range "
                                f"(|x| < {fx.LIMIT}): training diverged; lower alpha")


def host(tensor):
    return buffers.host(tensor)


def _finish_reverse(run, result, marks):
    """Reads the reverse pass's marks (Run.mark_reverse) in one synchronisation: a non-finite
    Hessian-vector product raises; a non-reproducible gradient makes the reversal inexact."""
    step, bad_hvp = host(marks)
    # The reverse pass meets steps from T-1 down: a non-reproducible gradient at step >= bad_hvp
    # came first and put the reverse pass on another trajectory, which explains the bad product.
    if step >= 0 and bad_hvp >= 0 and step >= bad_hvp:
        raise ValueError(f"train_loss(model, {step}) gave other bits in the reverse pass than in "
                         "training (the loss is not bit-reproducible); the reverse pass then left "
                         f"the trajectory and the Hessian-vector product of train_loss(model, "
                         f"{bad_hvp}) is not finite. Make train_loss a deterministic function of "
                         "(model, t)")
    if bad_hvp >= 0:
        raise ValueError(f"the Hessian-vector product of train_loss(model, {bad_hvp}) is not "
                         "finite (reverse pass): its second derivative overflowed or is NaN")
    result.nonreproducible_step = step
    if step >= 0:
        result.reversal_exact = False
        warnings.warn(f"hypergrad.torch: train_loss(model, {step}) gave other bits in the reverse "
                      "pass than in the forward pass; the reversal is not exact (make the loss "
                      "deterministic: fixed batches, no dropout without a fixed generator, "
                      "CUBLAS_WORKSPACE_CONFIG on CUDA)", RuntimeWarning, stacklevel=3)


def hypergradients(model, train_loss, meta_loss, alpha, gamma, hyperparameters=(), buffer="fast",
                   T=None, v0=None, check_every=32) -> Result:
    """Exact hypergradients of SGD with momentum (module docstring): forward
    v <- (n/d) v - (1 - gamma) g_t;  w <- w + alpha v   (fixed point, Algorithm 3),
    then the reverse pass of Maclaurin et al. (2015), Algorithm 2. Returns a Result with d_alpha,
    d_gamma (T, B), d_w0, d_v0, d_hyper, meta_loss, w_T, v_T, reversal_exact, info_bits,
    buffer_bytes, nonreproducible_step. The model is left at w_0 exactly as given (each
    parameter gets its original tensor back, also when the call raises), not at w_T (r.w_T)."""
    run = _Run(model, train_loss, meta_loss, hyperparameters, buffer, check_every)
    T = run.T = run.length(T, alpha, gamma)
    alpha_s = run.schedule(alpha, "alpha", T)
    gamma_s = run.schedule(gamma, "gamma", T, 0.0, 1.0)
    n_s, d_s = fx.momentum_ratio(gamma_s)
    dev = run.device
    c = lambda x, dtype=torch.float64: run.constant_rows(x.to(dev, dtype).contiguous())  # noqa: E731
    alpha_d, gamma_d = c(alpha_s), c(gamma_s)
    increment_d = c(-(1.0 - gamma_s))  # the C++ increment -(1 - gamma), multiplied by g
    n_d, d_d = c(n_s, torch.int64), c(d_s, torch.int64)
    bounds = _ratio_bounds(n_s, d_s)
    d_bits = fx.RATIO_DENOMINATOR.bit_length() - 1 if bool((d_s == fx.RATIO_DENOMINATOR).all()) \
        else None  # every d is 2^16 (decays below 1): Algorithm 3 by shifts
    start_syncs = buffers.SYNC_COUNT
    run.begin()
    try:
        w = run.quantise(run.flat, "w0")
        if v0 is None:
            v = torch.zeros(run.P, dtype=torch.int64, device=dev)
        else:
            v0 = _flat_like(run, v0, "v0")
            v = run.quantise(v0, "v0")
        w0_fixed, v0_fixed = w.clone(), v.clone()
        run.set_weights(w)
        buf = buffers.make_buffer(buffer, run.P, dev)
        prints = torch.zeros((T, 2), dtype=torch.int64, device=dev)
        for t in range(T):
            loss, g, _ = run.gradient(t)
            prints[t] = run.fingerprint(g)
            v = fx.multiply_by_ratio(v, run.expand(n_d[t]), run.expand(d_d[t]), buf, d_bits,
                                     bounds[0][t])
            increment = run.expand(increment_d[t]) * g
            v = v + fx.to_fixed_unchecked(increment)
            v_values = fx.from_fixed(v)
            step = run.expand(alpha_d[t]) * v_values
            w = w + fx.to_fixed_unchecked(step)
            run.set_weights(w)
            # Range and finiteness by four maxima (NaN propagates through amax): an increment,
            # step, velocity or weight at or beyond 2048 (1 - 2^-20) marks the step.
            run.flag(t, loss.detach(), g.abs().amax(),
                     torch.stack([increment.abs().amax(), step.abs().amax(),
                                  v_values.abs().amax(), run.flat.abs().amax()]).amax())
            if (t + 1) % check_every == 0 or t == T - 1:
                run.check([buf])
        result = Result()
        result.w_T_fixed, result.v_T_fixed = w.clone(), v.clone()
        result.w_T = run.unflatten(fx.from_fixed(w))
        result.v_T = run.unflatten(fx.from_fixed(v))
        result.info_bits = buf.info_bits()
        result.buffer_bytes = buf.nbytes()
        d_w, d_hyper = run.meta_gradient(result)
        d_v = torch.zeros_like(d_w)
        d_alpha = torch.zeros((T, run.B), dtype=torch.float64, device=dev)
        d_gamma = torch.zeros_like(d_alpha)
        marks = torch.tensor([-1, -1], device=dev)
        for t in range(T - 1, -1, -1):
            a, c = run.expand(alpha_d[t]), run.expand(gamma_d[t])
            v_next = fx.from_fixed(v)
            d_alpha[t] = run.block_sums(d_w * v_next)
            dw = fx.to_fixed_unchecked(a * v_next)
            w = w - dw
            run.set_weights(w)
            d_v = d_v + a * d_w
            u = -run.expand(increment_d[t]) * d_v  # (1 - gamma) d_v
            loss, g, g_list = run.gradient(t, create_graph=True)
            g = g.detach()
            dot = sum((gi * ui.view_as(gi)).sum() for gi, ui in zip(g_list, torch.split(u, run.sizes)))
            second = run.flat_grad(dot, run.params + run.hyper)
            hvp = torch.cat([x.reshape(-1) for x in second[:run.B]]).detach()
            marks = run.mark_reverse(marks, t, g, prints, hvp)
            dv = fx.to_fixed_unchecked(run.expand(increment_d[t]) * g)
            v = v - dv
            v = fx.divide_by_ratio(v, run.expand(n_d[t]), run.expand(d_d[t]), buf, d_bits,
                                   bounds[1][t])
            d_gamma[t] = run.block_sums(d_v * (fx.from_fixed(v) + g))
            d_w = d_w - hvp
            d_v = d_v * c
            for k, x in enumerate(second[run.B:]):
                d_hyper[k] = d_hyper[k] - x.detach()
            if t % check_every == 0:
                buf.maintain()
        result.reversal_exact = bool(host((w == w0_fixed).all() & (v == v0_fixed).all())) \
            and buf.empty()
        _finish_reverse(run, result, marks)
        result.d_alpha, result.d_gamma = d_alpha, d_gamma
        result.d_w0, result.d_v0 = run.unflatten(d_w), run.unflatten(d_v)
        result.d_hyper = d_hyper
        result.syncs = buffers.SYNC_COUNT - start_syncs
        return result
    finally:
        run.end()


def _flat_like(run, values, name):
    if isinstance(values, torch.Tensor):
        values = [values]
    values = list(values)
    if len(values) != run.B:
        raise ValueError(f"{name} has {len(values)} tensors, the model {run.B} parameters")
    for k, (x, p) in enumerate(zip(values, run.params)):
        if not isinstance(x, torch.Tensor) or x.shape != p.shape or x.dtype != torch.float64 \
                or x.device != run.device:
            raise ValueError(f"{name}[{k}] must be a float64 tensor of shape {tuple(p.shape)} on "
                             f"{run.device}")
    return torch.cat([x.detach().reshape(-1) for x in values])


def _ratio_bounds(n, d):
    """Per step, as Python ints from the (T, B) CPU tensors of n and d: (least n, largest d)
    for the multiply and (least d, largest n) for its inverse; the buffer sizes its storage
    from them without reading the device."""
    n_min, n_max = n.amin(dim=1).tolist(), n.amax(dim=1).tolist()
    d_min, d_max = d.amin(dim=1).tolist(), d.amax(dim=1).tolist()
    uniform = [int(a) if a == b else None for a, b in zip(n_min, n_max)]
    return list(zip(n_min, d_max, uniform)), list(zip(d_min, n_max))


def _running_products(beta):
    """prod_{tau <= t} beta_tau per block, multiplied in order (the C++ RunningProducts)."""
    out = torch.empty_like(beta)
    p = [1.0] * beta.shape[1]
    for t, row in enumerate(beta.tolist()):
        p = [a * b for a, b in zip(p, row)]
        out[t] = torch.tensor(p, dtype=torch.float64)
    return out


def adam_hypergradients(model, train_loss, meta_loss, alpha, beta1, beta2, eps=1e-8,
                        hyperparameters=(), buffer="fast", T=None, check_every=32) -> AdamResult:
    """Exact hypergradients of Adam (module docstring), m_0 = s_0 = 0:
    m <- (n1/d1) m + (1 - beta1) g;  s <- (n2/d2) s + (1 - beta2) g^2   (128-bit fixed point)
    w <- w - alpha (m / c1) / (sqrt(s / c2) + eps),  c_i = 1 - prod_{tau<=t} beta_i,tau (float)
    Returns an AdamResult: d_alpha, d_beta1, d_beta2 (T, B), d_eps, d_w0, d_m0, d_s0, d_hyper,
    meta_loss, w_T, m_T, s_T, reversal_exact, info_bits, buffer_bytes, nonreproducible_step.
    The model is left at w_0 exactly as given, not at w_T (r.w_T), as hypergradients(). eps must
    lie in [1e-12, 1] (the range the 2^-116 grid serves)."""
    run = _Run(model, train_loss, meta_loss, hyperparameters, buffer, check_every)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (1e-12 <= eps <= 1.0):
        raise ValueError(f"eps = {eps!r}: must be a number in [1e-12, 1]")
    eps = float(eps)
    T = run.T = run.length(T, alpha, beta1, beta2)
    alpha_s = run.schedule(alpha, "alpha", T)
    b1_s = run.schedule(beta1, "beta1", T, 0.0, 1.0)
    b2_s = run.schedule(beta2, "beta2", T, 0.0, 1.0)
    p1_s, p2_s = _running_products(b1_s), _running_products(b2_s)
    dev = run.device
    c = lambda x, dtype=torch.float64: run.constant_rows(x.to(dev, dtype).contiguous())  # noqa: E731
    alpha_d, b1_d, b2_d = c(alpha_s), c(b1_s), c(b2_s)
    c1_d, c2_d = (1.0 - p1_s).to(dev), (1.0 - p2_s).to(dev)
    inc1_d, inc2_d = c(1.0 - b1_s), c(1.0 - b2_s)
    n1, d1 = [c(x, torch.int64) for x in fx.momentum_ratio(b1_s)]
    n2, d2 = [c(x, torch.int64) for x in fx.momentum_ratio(b2_s)]
    bounds1 = _ratio_bounds(*fx.momentum_ratio(b1_s))
    bounds2 = _ratio_bounds(*fx.momentum_ratio(b2_s))
    start_syncs = buffers.SYNC_COUNT
    run.begin()
    try:
        w = run.quantise(run.flat, "w0")
        w0_fixed = w.clone()
        run.set_weights(w)
        m = fx.wide_zeros(run.P, dev)
        s = fx.wide_zeros(run.P, dev)
        buf_m = buffers.make_buffer(buffer, run.P, dev)
        buf_s = buffers.make_buffer(buffer, run.P, dev)
        prints = torch.zeros((T, 2), dtype=torch.int64, device=dev)

        def direction(t, m_val, s_val):
            c1, c2 = run.expand(c1_d[t]), run.expand(c2_d[t])
            return -(m_val / c1) / (torch.sqrt(s_val / c2) + eps)

        for t in range(T):
            loss, g, _ = run.gradient(t)
            prints[t] = run.fingerprint(g)
            m, o1 = fx.wide_multiply_by_ratio(m, run.expand(n1[t]), run.expand(d1[t]), buf_m,
                                              bounds1[0][t])
            s, o2 = fx.wide_multiply_by_ratio(s, run.expand(n2[t]), run.expand(d2[t]), buf_s,
                                              bounds2[0][t])
            add_m, o3 = fx.wide_from_scaled(run.expand(inc1_d[t]) * g * fx.WIDE_RADIX)
            add_s, o4 = fx.wide_from_scaled(run.expand(inc2_d[t]) * (g * g) * fx.WIDE_RADIX)
            m, o5 = fx.wide_add(m, add_m)
            s, o6 = fx.wide_add(s, add_s)
            dw, o7 = fx.to_fixed(run.expand(alpha_d[t]) *
                                 direction(t, fx.wide_to_double(m), fx.wide_to_double(s)))
            w = w + dw
            run.set_weights(w)
            overflow = o1 | o2 | o3 | o4 | o5 | o6 | o7
            peak = torch.where(overflow.any(), math.inf, run.flat.abs().amax())
            run.flag(t, loss.detach(), g.abs().amax(), peak)
            if (t + 1) % check_every == 0 or t == T - 1:
                run.check([buf_m, buf_s])
        result = AdamResult()
        result.w_T_fixed = w.clone()
        result.m_T_fixed, result.s_T_fixed = m.clone(), s.clone()
        result.w_T = run.unflatten(fx.from_fixed(w))
        result.m_T, result.s_T = fx.wide_to_double(m), fx.wide_to_double(s)
        result.info_bits = buf_m.info_bits() + buf_s.info_bits()
        result.buffer_bytes = buf_m.nbytes() + buf_s.nbytes()
        d_w, d_hyper = run.meta_gradient(result)
        d_m, d_s = torch.zeros_like(d_w), torch.zeros_like(d_w)
        d_alpha = torch.zeros((T, run.B), dtype=torch.float64, device=dev)
        d_b1, d_b2 = torch.zeros_like(d_alpha), torch.zeros_like(d_alpha)
        d_c1, d_c2 = torch.zeros_like(d_alpha), torch.zeros_like(d_alpha)
        d_eps = torch.zeros((), dtype=torch.float64, device=dev)
        marks = torch.tensor([-1, -1], device=dev)
        for t in range(T - 1, -1, -1):
            a = run.expand(alpha_d[t])
            c1, c2 = run.expand(c1_d[t]), run.expand(c2_d[t])
            m_val, s_val = fx.wide_to_double(m), fx.wide_to_double(s)
            m_hat, root = m_val / c1, torch.sqrt(s_val / c2)
            D = root + eps
            delta = -m_hat / D
            d_alpha[t] = run.block_sums(d_w * delta)
            aw = a * d_w
            d_m = d_m - aw / (c1 * D)
            d_s = d_s + torch.where(root > 0, aw * m_hat / (2 * root * c2 * D * D),
                                    torch.zeros_like(aw))
            d_eps = d_eps + (aw * m_hat / (D * D)).sum()
            d_c1[t] = run.block_sums(aw * m_hat / (c1 * D))
            d_c2[t] = run.block_sums(-aw * m_hat * root / (2 * c2 * D * D))
            dw, _ = fx.to_fixed(a * delta)
            w = w - dw
            run.set_weights(w)
            loss, g, g_list = run.gradient(t, create_graph=True)
            g = g.detach()
            g_bar = run.expand(inc1_d[t]) * d_m + 2 * run.expand(inc2_d[t]) * g * d_s
            dot = sum((gi * ui.view_as(gi)).sum()
                      for gi, ui in zip(g_list, torch.split(g_bar, run.sizes)))
            second = run.flat_grad(dot, run.params + run.hyper)
            hvp = torch.cat([x.reshape(-1) for x in second[:run.B]]).detach()
            marks = run.mark_reverse(marks, t, g, prints, hvp)
            sub_m, _ = fx.wide_from_scaled(run.expand(inc1_d[t]) * g * fx.WIDE_RADIX)
            sub_s, _ = fx.wide_from_scaled(run.expand(inc2_d[t]) * (g * g) * fx.WIDE_RADIX)
            m, _ = fx.wide_sub(m, sub_m)
            s, _ = fx.wide_sub(s, sub_s)
            m, _ = fx.wide_divide_by_ratio(m, run.expand(n1[t]), run.expand(d1[t]), buf_m,
                                           bounds1[1][t])
            s, _ = fx.wide_divide_by_ratio(s, run.expand(n2[t]), run.expand(d2[t]), buf_s,
                                           bounds2[1][t])
            d_b1[t] = run.block_sums(d_m * (fx.wide_to_double(m) - g))
            d_b2[t] = run.block_sums(d_s * (fx.wide_to_double(s) - g * g))
            d_w = d_w + hvp
            d_m = d_m * run.expand(b1_d[t])
            d_s = d_s * run.expand(b2_d[t])
            for k, x in enumerate(second[run.B:]):
                d_hyper[k] = d_hyper[k] + x.detach()
            if t % check_every == 0:
                buf_m.maintain()
                buf_s.maintain()
        # c_i,t = 1 - prod_{tau<=t} beta_i,tau: d beta_tau += -sum_{t>=tau} dc_t prod_t / beta_tau
        # (on the CPU: T x B numbers, and CUDA's floating-point cumsum is not deterministic in
        # every PyTorch version)
        for d_b, d_c, p, b in ((d_b1, d_c1, p1_s, b1_s), (d_b2, d_c2, p2_s, b2_s)):
            weighted = (d_c.cpu() * p).flip(0).cumsum(0).flip(0)
            d_b -= (weighted / b).to(dev)
        zero = torch.zeros_like(m)
        result.reversal_exact = bool(host((w == w0_fixed).all() & (m == zero).all() &
                                          (s == zero).all())) and buf_m.empty() and buf_s.empty()
        _finish_reverse(run, result, marks)
        result.d_alpha, result.d_beta1, result.d_beta2 = d_alpha, d_b1, d_b2
        result.d_eps = float(host(d_eps))
        result.d_w0, result.d_m0, result.d_s0 = (run.unflatten(d_w), run.unflatten(d_m),
                                                 run.unflatten(d_s))
        result.d_hyper = d_hyper
        result.syncs = buffers.SYNC_COUNT - start_syncs
        return result
    finally:
        run.end()


def numpy_callbacks(model, train_loss, meta_loss, hyperparameters=()):
    """The same model as callbacks for the compiled module's numpy API (hypergrad.hypergradients
    and adam_hypergradients, on the CPU): returns (gradient, hvp, meta_gradient, w0, blocks)
    with gradient(w, t) -> (loss, g), hvp(w, u, t) -> H(w) u (double backward),
    meta_gradient(w) -> (f, df/dw), w0 the flat float64 parameters and blocks the block index
    (parameter tensor) of every element. Each callback loads w into the model's parameters.
    With hyperparameters (float64 tensors the losses read, theta): returns (gradient, hvp,
    meta_gradient, w0, blocks, mixed) with meta_gradient(w) -> (f, df/dw, df/dtheta) and
    mixed(w, u, t) -> d/dtheta <g_t(w, theta), u>, theta flattened in the given order (for
    mixed= and num_theta = the total size); each call makes the hyperparameters require grad
    and gives back their flags."""
    import numpy as np
    params = list(model.parameters())
    sizes = [p.numel() for p in params]
    hyper = [hyperparameters] if isinstance(hyperparameters, torch.Tensor) else \
        list(hyperparameters)

    def load(w):
        with torch.no_grad():
            for p, piece in zip(params, torch.split(torch.from_numpy(np.array(w)), sizes)):
                p.copy_(piece.view_as(p))

    def flat(tensors, like):
        return torch.cat([torch.zeros_like(x).reshape(-1) if g is None else g.reshape(-1)
                          for g, x in zip(tensors, like)]).detach().numpy()

    def with_hyper(function):
        def call(*args):
            flags = [h.requires_grad for h in hyper]
            for h in hyper:
                h.requires_grad_(True)
            try:
                return function(*args)
            finally:
                for h, flag in zip(hyper, flags):
                    h.requires_grad_(flag)
        return call

    def gradient(w, t):
        load(w)
        loss = train_loss(model, t)
        return float(loss), flat(torch.autograd.grad(loss, params), params)

    def inner(w, u, t, wrt):
        load(w)
        g = torch.autograd.grad(train_loss(model, t), params, create_graph=True)
        u = torch.split(torch.from_numpy(np.array(u)), sizes)
        dot = sum((x * y.view_as(x)).sum() for x, y in zip(g, u))
        return flat(torch.autograd.grad(dot, wrt, allow_unused=True), wrt)

    def hvp(w, u, t):
        return inner(w, u, t, params)

    def mixed(w, u, t):
        return inner(w, u, t, hyper)

    def meta_gradient(w):
        load(w)
        f = meta_loss(model)
        if not hyper:
            return float(f), flat(torch.autograd.grad(f, params), params)
        grads = torch.autograd.grad(f, params + hyper, allow_unused=True)
        return float(f), flat(grads[:len(params)], params), flat(grads[len(params):], hyper)

    w0 = flat(params, params).copy()
    blocks = np.repeat(np.arange(len(params)), sizes)
    if not hyper:
        return gradient, hvp, meta_gradient, w0, blocks
    return (with_hyper(gradient), with_hyper(hvp), with_hyper(meta_gradient), w0, blocks,
            with_hyper(mixed))
