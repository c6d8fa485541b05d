"""Issue [Q]'s speed comparison: the `hypergrad` tool as a whole process (loading, hashing,
training, final loss, reverse pass, writing) against PyTorch float64 unrolled autograd of the
same Fig-2 run in one process (the graph of every step kept, then one backward pass), one thread
each, in the same run of this script.

The run (the tool's defaults): a 784-50-50-50-10 tanh MLP, the first 10,000 MNIST training
images with their mean subtracted, batches of 200 in order, SGD with momentum in the paper's
order (v <- gamma v - (1 - gamma) grad L, w <- w + alpha v), one alpha and one gamma per step and
parameter block (8 blocks: each layer's weights and biases), gamma = 0.9, alpha = e^-1; the
meta-objective is the training loss on the 10,000 images at w_T; PyTorch differentiates it with
respect to alpha (T x 8), gamma (T x 8) and w_0. The floating-point work per step is about the
same; the tool's arithmetic is its exact fixed-point one, PyTorch's plain float64.

Times are wall-clock seconds, the best of --repeats alternating runs: the tool's includes process
start and file writing; PyTorch's is in-process after its data are loaded (its best case). The
issue's targets: tool / PyTorch <= 1.3 at T = 100 and <= 0.9 at T = 1000.

  /usr/bin/python3 experiments/python/speed_vs_torch.py --hypergrad build/bin/hypergrad \\
      --mnist-dir build/data/mnist --T 100,1000 --out results/bench/speed_vs_torch.json
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from mnist_idx import read_idx

TARGETS = {100: 1.3, 1000: 0.9}


def time_tool(binary, mnist_dir, iters, train_size, out_dir):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = os.path.join(out_dir, f"tool_{iters}.h5")
    start = time.perf_counter()
    subprocess.run([binary, "--mnist-dir", mnist_dir, "--iters", str(iters), "--gamma", "0.9",
                    "--train-size", str(train_size), "--threads", "1", "--quiet", "--out", out],
                   check=True, env=env)
    return time.perf_counter() - start


def time_torch(torch, x, y, iters, layers=(784, 50, 50, 50, 10), batch=200):
    torch.manual_seed(0)
    params = []
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        params += [torch.randn(n_in, n_out, dtype=torch.float64) * 0.1,
                   torch.randn(n_out, dtype=torch.float64) * 0.1]
    w0 = [p.clone().requires_grad_(True) for p in params]
    alpha = torch.full((iters, len(params)), float(np.exp(-1.0)), dtype=torch.float64, requires_grad=True)
    gamma = torch.full((iters, len(params)), 0.9, dtype=torch.float64, requires_grad=True)

    def loss(ws, xb, yb):
        h = xb
        for k in range(0, len(ws) - 2, 2):
            h = torch.tanh(h @ ws[k] + ws[k + 1])
        z = h @ ws[-2] + ws[-1]
        return torch.nn.functional.cross_entropy(z, yb)

    start = time.perf_counter()
    w = list(w0)
    v = [torch.zeros_like(p) for p in params]
    n = x.shape[0]
    for t in range(iters):
        lo = (t * batch) % n
        grads = torch.autograd.grad(loss(w, x[lo:lo + batch], y[lo:lo + batch]), w, create_graph=True)
        v = [gamma[t, j] * v[j] - (1 - gamma[t, j]) * grads[j] for j in range(len(w))]
        w = [w[j] + alpha[t, j] * v[j] for j in range(len(w))]
    f = loss(w, x, y)
    d_alpha, d_gamma, *d_w0 = torch.autograd.grad(f, [alpha, gamma] + w0)
    seconds = time.perf_counter() - start
    assert torch.isfinite(d_alpha).all() and torch.isfinite(d_gamma).all()
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hypergrad", required=True, help="the hypergrad binary")
    parser.add_argument("--mnist-dir", required=True, help="folder with the MNIST idx files")
    parser.add_argument("--T", default="100,1000", help="horizons, comma-separated (default 100,1000)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per horizon; the best counts")
    parser.add_argument("--train-size", type=int, default=10000,
                        help="training images (default 10000, the tool's default; fewer for a smoke test)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("speed_vs_torch: python3-torch is not installed (apt install python3-torch)")
    if not os.access(args.hypergrad, os.X_OK):
        sys.exit(f"speed_vs_torch: --hypergrad {args.hypergrad}: not an executable")
    if args.repeats < 1:
        sys.exit("speed_vs_torch: --repeats must be at least 1")
    if not 200 <= args.train_size <= 60000:
        sys.exit("speed_vs_torch: --train-size must be in [200, 60000] (batches of 200)")
    horizons = [int(t) for t in args.T.split(",")]
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    images = os.path.join(args.mnist_dir, "train-images-idx3-ubyte")
    labels = os.path.join(args.mnist_dir, "train-labels-idx1-ubyte")
    x = read_idx(images, args.train_size).reshape(-1, 784).astype(np.float64) / 255.0
    x -= x.mean(axis=0)
    x = torch.from_numpy(x)
    y = torch.from_numpy(read_idx(labels, args.train_size).astype(np.int64))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for iters in horizons:
            tool, ours = [], []
            for r in range(args.repeats):  # alternating, so that the machine's load hits both
                tool.append(time_tool(args.hypergrad, args.mnist_dir, iters, args.train_size, tmp))
                ours.append(time_torch(torch, x, y, iters))
                print(f"T = {iters} run {r + 1}: hypergrad {tool[-1]:.2f} s, PyTorch {ours[-1]:.2f} s",
                      file=sys.stderr)
            row = {"iters": iters, "hypergrad_seconds": tool, "torch_seconds": ours,
                   "hypergrad_best": min(tool), "torch_best": min(ours),
                   "ratio_best": min(tool) / min(ours), "target": TARGETS.get(iters)}
            row["met"] = None if row["target"] is None else row["ratio_best"] <= row["target"]
            rows.append(row)
    doc = {"meta": {"torch": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_at_end": list(os.getloadavg()),
                    "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                    "hypergrad": os.path.realpath(args.hypergrad), "repeats": args.repeats,
                    "train_size": args.train_size,
                    "what": "hypergrad whole process vs PyTorch float64 unrolled autograd in-process, one thread each"},
           "cases": rows}
    tmp_out = args.out + ".partial"
    with open(tmp_out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp_out, args.out)
    for r in rows:
        print(f"T = {r['iters']}: hypergrad {r['hypergrad_best']:.2f} s, PyTorch {r['torch_best']:.2f} s, "
              f"ratio {r['ratio_best']:.2f} (target {r['target']}, {'met' if r['met'] else 'not met'})")


if __name__ == "__main__":
    main()
