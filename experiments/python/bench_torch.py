"""Benchmark: exact hypergradients by reversal (hypergrad.torch) against unrolled autograd
(store the whole graph) and torch.utils.checkpoint (segments of ceil(sqrt(T)) steps recomputed),
and, on the CPU, the compiled module (hypergrad._core) with the same torch model as callbacks.

Each case computes the hypergradients of the validation loss with respect to alpha (T x B),
gamma (T x B) and w_0 for SGD with momentum (alpha = 0.05, gamma = 0.9) on a tanh MLP with
float64 parameters, batches in order from a fixed synthetic data set (timing and memory do not
depend on the pixels):
  fig2: 784-50-50-50-10 (P = 44,860, the paper's Fig-2 network), batch 100
  wide: 784-2000-2000-2000-10 (P = 9,590,010), batch 200
Every case runs in its own process (peak memory: CUDA max_memory_allocated, CPU peak RSS minus
the RSS before the run) under a time limit; cases that fail, run out of memory or time out are
recorded as such. Output: one JSON file.

  PYTHONPATH=build/python /usr/bin/python3 experiments/python/bench_torch.py --device cpu \\
      --nets fig2 --T 100,1000 --out results/bench/torch_cpu.json
"""
import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time

NETS = {"fig2": ([784, 50, 50, 50, 10], 100), "wide": ([784, 2000, 2000, 2000, 10], 200)}
METHODS = ["exact", "unrolled", "checkpoint", "compiled"]


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_case(net_name, T, method, device, buffer):
    import torch
    import hypergrad.torch as hgt
    torch.set_num_threads(1 if device == "cpu" else torch.get_num_threads())
    dev = torch.device(device)
    layers, batch = NETS[net_name]
    torch.manual_seed(0)
    mods = []
    for a, b in zip(layers[:-1], layers[1:]):
        mods += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    net = torch.nn.Sequential(*mods[:-1]).double().to(dev)
    g = torch.Generator().manual_seed(1)
    nb = 10
    X = torch.randn(nb + 1, batch, layers[0], generator=g, dtype=torch.float64).to(dev)
    Y = torch.randint(0, layers[-1], (nb + 1, batch), generator=g).to(dev)
    F = torch.nn.functional
    params = list(net.parameters())
    B, P = len(params), sum(p.numel() for p in params)
    alpha = torch.full((T, B), 0.05, dtype=torch.float64, device=dev)
    gamma = torch.full((T, B), 0.9, dtype=torch.float64, device=dev)

    def train_loss(model, t):
        return F.cross_entropy(model(X[t % nb]), Y[t % nb])

    def meta_loss(model):
        return F.cross_entropy(model(X[nb]), Y[nb])

    names = [n for n, _ in net.named_parameters()]
    call = getattr(getattr(torch, "func", None), "functional_call", None)
    if call is None:
        from torch.nn.utils.stateless import functional_call as call

    def steps(ws, vs, a, c, t0, t1):
        for t in range(t0, t1):
            out = call(net, dict(zip(names, ws)), (X[t % nb],))
            gr = torch.autograd.grad(F.cross_entropy(out, Y[t % nb]), ws, create_graph=True)
            vs = [c[t, j] * v - (1 - c[t, j]) * gg for j, (v, gg) in enumerate(zip(vs, gr))]
            ws = [w + a[t, j] * v for j, (w, v) in enumerate(zip(ws, vs))]
        return ws, vs

    if device != "cpu":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = rss_mb()
    info = {}
    start = time.perf_counter()
    if method == "exact":
        r = hgt.hypergradients(net, train_loss, meta_loss, alpha, gamma, buffer=buffer)
        info = {"reversal_exact": r.reversal_exact, "meta_loss": r.meta_loss,
                "buffer_bytes": r.buffer_bytes, "info_bits_per_param_per_step": r.info_bits / (P * T),
                "syncs": r.syncs, "buffer": buffer}
        check = float(r.d_alpha.abs().sum())
    elif method in ("unrolled", "checkpoint"):
        w0 = [p.detach().clone().requires_grad_(True) for p in params]
        a = alpha.clone().requires_grad_(True)
        c = gamma.clone().requires_grad_(True)
        ws, vs = list(w0), [torch.zeros_like(p) for p in w0]
        if method == "unrolled":
            ws, vs = steps(ws, vs, a, c, 0, T)
        else:
            k = math.ceil(math.sqrt(T))
            info["segment"] = k
            try:
                from torch.utils.checkpoint import checkpoint
                for t0 in range(0, T, k):
                    def segment(*state, t0=t0, t1=min(T, t0 + k)):
                        w_, v_ = steps(list(state[:B]), list(state[B:2 * B]), state[-2], state[-1], t0, t1)
                        return tuple(w_) + tuple(v_)
                    out = checkpoint(segment, *ws, *vs, a, c, use_reentrant=False)
                    ws, vs = list(out[:B]), list(out[B:])
                f = F.cross_entropy(call(net, dict(zip(names, ws)), (X[nb],)), Y[nb])
                grads = torch.autograd.grad(f, [a, c] + w0)
                info["implementation"] = "torch.utils.checkpoint(use_reentrant=False)"
            except RuntimeError as e:
                # torch 1.13's checkpoint cannot differentiate a segment that calls
                # autograd.grad itself ("backwards on a tensor that is never exposed"): the
                # same schedule by hand: keep (w, v) at segment starts, recompute each segment
                # with its graph in the backward sweep.
                info["implementation"] = ("segments recomputed by hand (torch.utils.checkpoint "
                                          f"failed: {str(e).splitlines()[0][:80]})")
                a.grad = c.grad = None
                starts = []
                ws = [p.detach() for p in params]
                vs = [torch.zeros_like(p) for p in ws]
                for t0 in range(0, T, k):
                    starts.append((ws, vs))
                    ws = [x.detach().requires_grad_(True) for x in ws]
                    for t in range(t0, min(T, t0 + k)):
                        out = call(net, dict(zip(names, ws)), (X[t % nb],))
                        gr = torch.autograd.grad(F.cross_entropy(out, Y[t % nb]), ws)
                        vs = [gamma[t, j] * v - (1 - gamma[t, j]) * gg for j, (v, gg) in enumerate(zip(vs, gr))]
                        ws = [(w + alpha[t, j] * v).detach().requires_grad_(True) for j, (w, v) in enumerate(zip(ws, vs))]
                    ws = [x.detach() for x in ws]
                    vs = [x.detach() for x in vs]
                wT = [x.requires_grad_(True) for x in ws]
                f = F.cross_entropy(call(net, dict(zip(names, wT)), (X[nb],)), Y[nb])
                gw = list(torch.autograd.grad(f, wT))
                gv = [torch.zeros_like(x) for x in gw]
                for i in range(len(starts) - 1, -1, -1):
                    t0 = i * k
                    w_in = [x.detach().clone().requires_grad_(True) for x in starts[i][0]]
                    v_in = [x.detach().clone().requires_grad_(True) for x in starts[i][1]]
                    w_out, v_out = steps(w_in, v_in, a, c, t0, min(T, t0 + k))
                    torch.autograd.backward(w_out + v_out, gw + gv)
                    gw = [x.grad for x in w_in]
                    gv = [torch.zeros_like(x) if x.grad is None else x.grad for x in v_in]
                    del w_out, v_out
                grads = [a.grad, c.grad] + gw
        if method == "unrolled":
            f = F.cross_entropy(call(net, dict(zip(names, ws)), (X[nb],)), Y[nb])
            grads = torch.autograd.grad(f, [a, c] + w0)

        info["meta_loss"] = float(f)
        check = float(grads[0].abs().sum())
    elif method == "compiled":
        import numpy as np
        import hypergrad
        if device != "cpu" or not hypergrad.HAVE_CORE:
            raise RuntimeError("the compiled module runs on the CPU and must be built")
        gradient, hvp, meta_gradient, w0, blocks = hgt.numpy_callbacks(net, train_loss, meta_loss)
        r = hypergrad.hypergradients(gradient, hvp, meta_gradient, w0, alpha.cpu().numpy(),
                                     gamma.cpu().numpy(), blocks=blocks,
                                     buffer=buffer)
        info = {"reversal_exact": r.reversal_exact, "meta_loss": r.f, "buffer": buffer}
        check = float(np.abs(r.d_alpha).sum())
    else:
        raise ValueError(method)
    if device != "cpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if device != "cpu":
        peak = (torch.cuda.max_memory_allocated() - base) / 2 ** 20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return dict(net=net_name, P=P, T=T, method=method, device=device, status="ok",
                seconds=round(seconds, 3), peak_mb=round(peak, 1), d_alpha_abs_sum=check, **info)


def table(files, unmeasured=()):
    """Markdown rows: network, T, device, then time and peak memory of each method; a row per
    network and T = 100, 1000 for each device in `unmeasured` that no file has, marked "not measured (no GPU
    available)"; then, per device, the issue's CPU target (the Fig-2 network at T = 1000 within
    1.5x the time of the compiled module with the same torch callbacks) as measured."""
    methods = ["exact", "compiled", "unrolled", "checkpoint"]
    lines = ["| network | T | device | " + " | ".join(methods) + " |",
             "|---|---|---|" + "---|" * len(methods)]
    cells, seconds = {}, {}
    for name in files:
        with open(name) as f:
            data = json.load(f)
        # runs started with glibc's mmap off (see the README) get their own rows
        heap = data["meta"].get("environment", {}).get("MALLOC_MMAP_MAX_") == "0"
        for c in data["cases"]:
            key = (c["net"], c["T"], c["device"] + (", no mmap" if heap else ""))
            if c["status"] == "ok":
                text = f"{c['seconds']:.1f} s, {c['peak_mb']:.0f} MB"
                if c.get("reversal_exact") is False:
                    text += " (not exact)"
                seconds[key + (c["method"],)] = c["seconds"]
            elif c["status"] == "skipped":
                text = "not run"
            else:
                text = c["status"]
            cells.setdefault(key, {})[c["method"]] = text
    measured = {device for _, _, device in cells}
    for device in unmeasured:
        if device in measured:
            continue
        for net, T in ((net, T) for net in NETS for T in (100, 1000)):  # the cases
            cells[net, T, device] = {m: "not measured (no GPU available)" for m in methods
                                     if m != "compiled"}  # the compiled module is CPU only
    for (net, T, device), row in cells.items():
        lines.append(f"| {net} | {T} | {device} | " +
                     " | ".join(row.get(m, "–") for m in methods) + " |")
    for device in sorted(measured):
        exact = seconds.get(("fig2", 1000, device, "exact"))
        compiled = seconds.get(("fig2", 1000, device, "compiled"))
        if exact is not None and compiled is not None:
            ratio = exact / compiled
            lines.append(f"\nTarget (fig2, T = 1000, {device}): exact {exact:.1f} s / compiled "
                         f"{compiled:.1f} s = {ratio:.2f}x (at most 1.5x: "
                         f"{'met' if ratio <= 1.5 else 'NOT met'})")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--nets", default="fig2,wide")
    p.add_argument("--T", default="100,1000")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--buffer", default="fast")
    p.add_argument("--case-timeout", type=float, default=600)
    p.add_argument("--skip", default="", help="net:T:method,... cases to record as skipped "
                                              "(a field may be *), with --skip-reason")
    p.add_argument("--skip-reason", default="does not fit this machine")
    p.add_argument("--out", required=False)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--table", nargs="+", metavar="JSON",
                   help="print a Markdown table of these result files and exit")
    p.add_argument("--unmeasured", default="",
                   help="with --table: devices (comma-separated) to list as not measured")
    args = p.parse_args()
    if args.table:
        print(table(args.table, [d for d in args.unmeasured.split(",") if d]))
        return
    if args.case:
        net, T, method = args.case.split(":")
        try:
            print("RESULT " + json.dumps(run_case(net, int(T), method, args.device, args.buffer)))
        except Exception as e:  # recorded by the parent
            status = "out of memory" if "out of memory" in str(e).lower() else "failed"
            print("RESULT " + json.dumps(dict(net=net, T=int(T), method=method, device=args.device,
                                              status=status, error=f"{type(e).__name__}: {e}"[:400])))
        return
    import torch
    skips = [s.split(":") for s in args.skip.split(",") if s]
    meta = dict(torch=torch.__version__, python=platform.python_version(),
                machine=platform.machine(), cpus=os.cpu_count(), device=args.device,
                cuda=(torch.cuda.get_device_name(0) if args.device != "cpu" else None),
                torch_threads=1 if args.device == "cpu" else None, buffer=args.buffer,
                gamma=0.9, alpha=0.05, data="synthetic N(0,1) inputs, 10 batches in order",
                time=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                load_average_at_start=os.getloadavg(),
                environment={k: v for k, v in os.environ.items()
                             if k.startswith("MALLOC_") or k in ("OPENBLAS_NUM_THREADS",
                                                                 "CUBLAS_WORKSPACE_CONFIG")},
                peak_memory=("torch.cuda.max_memory_allocated above the start" if args.device != "cpu"
                             else "peak RSS minus the RSS before the run (same process)"))
    rows = []
    # method-major order: the exact runs first (a time limit on the whole run cuts the others)
    for method in args.methods.split(","):
        for net in args.nets.split(","):
            for T in [int(t) for t in args.T.split(",")]:
                if method == "compiled" and args.device != "cpu":
                    continue
                if any(all(x in ("*", y) for x, y in zip(s, (net, str(T), method))) for s in skips):
                    rows.append(dict(net=net, T=T, method=method, device=args.device,
                                     status="skipped", reason=args.skip_reason))
                else:
                    cmd = [sys.executable, os.path.abspath(__file__), "--case",
                           f"{net}:{T}:{method}", "--device", args.device, "--buffer", args.buffer]
                    try:
                        out = subprocess.run(cmd, capture_output=True, text=True,
                                             timeout=args.case_timeout)
                        line = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
                        row = json.loads(line[-1][7:]) if line else dict(
                            net=net, T=T, method=method, device=args.device, status="crashed",
                            error=(out.stderr or "")[-400:])
                    except subprocess.TimeoutExpired:
                        row = dict(net=net, T=T, method=method, device=args.device,
                                   status=f"timed out after {args.case_timeout:.0f} s")
                    rows.append(row)
                print(json.dumps(rows[-1]), flush=True)
                if args.out:  # after every case, so that a cut run keeps what it measured
                    with open(args.out, "w") as f:
                        json.dump({"meta": meta, "cases": rows}, f, indent=1)


if __name__ == "__main__":
    main()
