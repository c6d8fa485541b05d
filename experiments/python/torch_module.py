"""Exact hypergradients of a PyTorch model's learning-rate schedule (float64, CPU).

The model is any torch.nn.Module; its parameters are flattened into w, the gradient comes from
autograd and the Hessian-vector product from double backward. Written for Debian's torch 1.13
(torch.nn.utils.stateless.functional_call; torch.func.functional_call in torch 2).
Deterministic on the CPU in float64 with one thread, as exact reversal needs.

  apt-get install python3-torch        # not needed by make test
  PYTHONPATH=build/python /usr/bin/python3 experiments/python/torch_module.py
"""
import numpy as np
import torch

import hypergrad

torch.set_num_threads(1)                    # the same bits in the forward and the reverse pass
torch.use_deterministic_algorithms(True)
torch.manual_seed(0)
X = torch.randn(256, 10, dtype=torch.float64)
y = (X[:, 0] - X[:, 1] > 0).long()
net = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)).double()
shapes = [p.shape for p in net.parameters()]
sizes = [p.numel() for p in net.parameters()]


def loss_of(w, rows):
    params = torch.split(w, sizes)
    call = getattr(getattr(torch, "func", None), "functional_call", None) or \
        torch.nn.utils.stateless.functional_call
    out = call(net, {n: p.view(s) for (n, _), p, s in zip(net.named_parameters(), params, shapes)},
               (X[rows],))
    return torch.nn.functional.cross_entropy(out, y[rows])


def rows_of(t):
    return slice((t % 4) * 48, (t % 4) * 48 + 48)  # rows 0-191 train, 192-255 validation


def gradient(w, t):
    w = torch.tensor(w, requires_grad=True)
    loss = loss_of(w, rows_of(t))
    (g,) = torch.autograd.grad(loss, w)
    return loss.item(), g.numpy()


def hvp(w, u, t):
    w = torch.tensor(w, requires_grad=True)
    (g,) = torch.autograd.grad(loss_of(w, rows_of(t)), w, create_graph=True)
    (hu,) = torch.autograd.grad(g @ torch.tensor(u), w)
    return hu.numpy()


def meta_gradient(w):
    w = torch.tensor(w, requires_grad=True)
    loss = loss_of(w, slice(192, 256))
    (g,) = torch.autograd.grad(loss, w)
    return loss.item(), g.numpy()


w0 = torch.cat([p.detach().flatten() for p in net.parameters()]).numpy()
T = 40
r = hypergrad.hypergradients(gradient, hvp, meta_gradient, w0, np.full(T, 0.5), np.full(T, 0.9))
print(f"validation loss {r.f:.4f}, exact reversal {r.reversal_exact}, "
      f"{r.info_bits / w0.size / T:.3f} bits per parameter per step")
print("d loss / d alpha_t, first 5 steps:", np.round(r.d_alpha[:5], 5))
