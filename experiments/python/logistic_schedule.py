"""Meta-learn a learning-rate schedule for numpy logistic regression, by exact hypergradients,
with SGD with momentum (default) or Adam as the training optimizer.

  PYTHONPATH=build/python /usr/bin/python3 experiments/python/logistic_schedule.py [sgd|adam]
"""
import sys

import numpy as np

import hypergrad

rs = np.random.RandomState(0)
X = rs.randn(400, 20)                                   # synthetic data: a linear teacher
y = (X @ rs.randn(20) + 0.3 * rs.randn(400) > 0).astype(float)
train, valid, T, batch = slice(0, 300), slice(300, 400), 60, 50


def loss_grad(w, rows):                                 # mean logistic loss and its gradient
    p = 1 / (1 + np.exp(-X[rows] @ w))
    loss = -np.mean(y[rows] * np.log(p) + (1 - y[rows]) * np.log(1 - p))
    return loss, X[rows].T @ (p - y[rows]) / len(p)


def hvp(w, u, t):                                       # exact Hessian-vector product
    rows = np.arange(t % 6 * batch, t % 6 * batch + batch)
    p = 1 / (1 + np.exp(-X[rows] @ w))
    return X[rows].T @ (p * (1 - p) * (X[rows] @ u)) / batch


gradient = lambda w, t: loss_grad(w, np.arange(t % 6 * batch, t % 6 * batch + batch))
meta = lambda w: loss_grad(w, np.arange(300, 400))      # validation loss at w_T
adam = sys.argv[1:] == ["adam"]
log_alpha = np.full(T, -3.0 if adam else -1.0)
for step in range(20):                                  # gradient descent on the log schedule
    alpha = np.exp(log_alpha)
    if adam:                                            # beta1, beta2 per step; eps
        r = hypergrad.adam_hypergradients(gradient, hvp, meta, np.zeros(20), alpha,
                                          np.full(T, 0.9), np.full(T, 0.999), eps=1e-8)
    else:
        r = hypergrad.hypergradients(gradient, hvp, meta, np.zeros(20), alpha, np.full(T, 0.9))
    assert r.reversal_exact, "the reverse pass did not recover the initial state"
    log_alpha -= 2.0 * alpha * r.d_alpha                # d f / d log alpha = alpha * d f / d alpha
    print(f"meta-iteration {step:2d}: validation loss {r.f:.4f} (exact reversal: {r.reversal_exact})")
print("learned learning rates, first and last 5 steps:", np.round(np.exp(log_alpha[:5]), 3),
      np.round(np.exp(log_alpha[-5:]), 3))
