"""Meta-learns a per-layer learning-rate schedule of a small convolutional net on MNIST with exact
hypergradients (hypergrad.torch) through the whole training run.

Default (a test-sized run): T = 60 steps, 2 meta-iterations. --full: T = 1000 exact steps,
20 meta-iterations. Each meta-iteration trains from the same w_0 with SGD + momentum (gamma = 0.9)
on batches of 50 of the first 1,000 training images (in order), measures the cross-entropy of
the next 1,000 images (the meta loss), and takes the exact hypergradient with respect to the
schedule log alpha[t, layer] (T x 6: conv1 W, b, conv2 W, b, linear W, b) back through all T
steps; the schedule moves by plain gradient descent on log alpha with a normalised step.

  PYTHONPATH=build/python /usr/bin/python3 experiments/python/torch_lr_schedule.py \\
      --data build/data/mnist [--full] [--device cuda] [--out result.json]

MNIST: the four raw idx files (`make data` puts them into build/data/mnist). Without them the
short run uses a synthetic stand-in of the same shape and says so; --full refuses to.
Exit status 77 (skipped) when PyTorch is absent.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

try:
    import torch
except ImportError:
    print("PyTorch is not installed: skipped")
    sys.exit(77)

import hypergrad.torch as hgt
from mnist_idx import read_idx


def load(data_dir, rows, full):
    images = os.path.join(data_dir, "train-images-idx3-ubyte")
    labels = os.path.join(data_dir, "train-labels-idx1-ubyte")
    if os.path.exists(images) and os.path.exists(labels):
        x = torch.from_numpy(read_idx(images, rows).astype(np.float64)) / 255.0
        y = torch.from_numpy(read_idx(labels, rows).astype(np.int64))
        return x - x.mean(dim=0), y, "MNIST (first %d training images)" % rows
    if full:
        sys.exit(f"error: MNIST not found in {data_dir} (run `make data`); --full needs it")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 28, 28, generator=g, dtype=torch.float64)
    y = (x.reshape(rows, -1) @ torch.randn(784, 10, generator=g, dtype=torch.float64)).argmax(1)
    return x, y, f"a synthetic stand-in (MNIST not found in {data_dir})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="build/data/mnist")
    parser.add_argument("--full", action="store_true", help="T = 1000, 20 meta-iterations")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--buffer", default="fast", choices=["fast", "exact"])
    parser.add_argument("--out", help="write the schedule and meta losses as JSON here")
    args = parser.parse_args()
    T, meta_iters = (1000, 20) if args.full else (60, 2)
    batch = 50
    torch.set_num_threads(1)  # the same bits in the forward and the reverse pass
    x, y, source = load(args.data, 2000, args.full)
    dev = torch.device(args.device)
    x = x.reshape(-1, 1, 28, 28).to(dev)
    y = y.to(dev)
    train_x, train_y, valid_x, valid_y = x[:1000], y[:1000], x[1000:], y[1000:]
    batches = 1000 // batch
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 5, stride=2), torch.nn.Tanh(),
        torch.nn.Conv2d(4, 8, 5, stride=2), torch.nn.Tanh(),
        torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 10)).double().to(dev)
    F = torch.nn.functional

    def train_loss(model, t):
        b = t % batches
        return F.cross_entropy(model(train_x[b * batch:(b + 1) * batch]),
                               train_y[b * batch:(b + 1) * batch])

    def meta_loss(model):
        return F.cross_entropy(model(valid_x), valid_y)

    blocks = len(list(net.parameters()))
    log_alpha = torch.full((T, blocks), math.log(0.05), dtype=torch.float64)
    gamma = 0.9
    print(f"data: {source}; P = {sum(p.numel() for p in net.parameters())} parameters, "
          f"T = {T}, {meta_iters} meta-iterations, device {dev}, buffer {args.buffer}")
    history = []
    for i in range(meta_iters):
        start = time.perf_counter()
        r = hgt.hypergradients(net, train_loss, meta_loss, torch.exp(log_alpha).to(dev), gamma,
                               buffer=args.buffer)
        seconds = time.perf_counter() - start
        if not r.reversal_exact:
            sys.exit(f"error: the reversal was not exact (step {r.nonreproducible_step})")
        grad = r.d_alpha.cpu() * torch.exp(log_alpha)  # d f / d log alpha
        log_alpha -= 0.5 * grad / (grad.norm() + 1e-12) * math.sqrt(grad.numel()) * 0.05
        history.append({"meta_iteration": i, "meta_loss": r.meta_loss, "seconds": seconds,
                        "info_bits_per_param_per_step": r.info_bits / (sum(
                            p.numel() for p in net.parameters()) * T)})
        print(f"meta-iteration {i}: validation loss {r.meta_loss:.6f}, exact reversal, "
              f"{seconds:.2f} s, buffer {r.buffer_bytes / 1e6:.2f} MB", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"data": source, "T": T, "gamma": gamma, "history": history,
                       "log_alpha_mean_per_layer": log_alpha.mean(0).tolist(),
                       "log_alpha": log_alpha.tolist()}, f)
    if meta_iters > 1 and not history[-1]["meta_loss"] < history[0]["meta_loss"]:
        sys.exit("error: the meta loss did not decrease")


if __name__ == "__main__":
    main()
