"""Benchmarks: renders results/figures/bench_bits.png, bench_recovery.png and bench_memory.png
from the Google Benchmark JSON under results/bench/ (written by `make bench`), and provides the
"Memory and exactness" section of REPORT.md (report.py calls section()).

Reads JSON only; it never reruns a benchmark.
"""
import argparse
import json
import math
import os

import common

FILES = ("bench_buffer", "bench_hypergrad", "bench_recovery", "bench_adam", "bench_speed", "bench_wider")
PAPER_BITS = {0.9: 0.152, 0.98: 0.029}   # the paper's bits per parameter per iteration
METHOD_ORDER = ["stored", "checkpointed", "revolve s=2", "revolve s=5", "revolve s=10",
                "revolve s=20", "reversible exact", "reversible fast", "naive-float"]
METHOD_TEXT = {
    "stored": "store all (w, v)", "checkpointed": "√T checkpointing",
    "reversible exact": "reversible, exact buffer", "reversible fast": "reversible, fast buffer",
    "naive-float": "naive float (not exact)",
}


def load(bench):
    """{file: [benchmark entries]} for the JSON files that exist."""
    out = {}
    for name in FILES:
        path = os.path.join(bench, name + ".json")
        if os.path.exists(path):
            data = read_json(path)
            out[name] = {"context": data.get("context", {}), "runs": data.get("benchmarks", [])}
    # experiments/python/speed_vs_torch.py (make bench-speed; its PyTorch part where python3-torch is installed).
    path = os.path.join(bench, "speed_vs_torch.json")
    if os.path.exists(path):
        data = read_json(path)
        out["speed_vs_torch"] = {"context": data.get("meta", {}), "runs": data.get("cases", []),
                                 "threads": data.get("threads_cases", [])}
    return out


def read_json(path):
    """A JSON object from `path`; SystemExit naming the file if it is not one."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"report: {path}: not a readable JSON file ({e}); rerun the benchmark that writes it")
    if not isinstance(data, dict):
        raise SystemExit(f"report: {path}: expected a JSON object, found {type(data).__name__}")
    return data


def failed_lines(data):
    """Markdown lines naming every benchmark run that ended in an error or was skipped, and why
    (their rows are left out of the tables above)."""
    failed = [(name, r) for name, d in data.items() for r in d.get("runs", []) if r.get("error_occurred")]
    if not failed:
        return []
    return ["", "**Benchmarks that did not complete** (left out of the tables above): "
            + "; ".join(f"`{r.get('name', '?')}` in {name}.json: {r.get('error_message', 'no message')}"
                        for name, r in failed) + "."]


def field(name, key):
    """The value of `key:` in a benchmark name like BM_X/iters:100/method:stored."""
    for part in name.split("/"):
        if part.startswith(key + ":"):
            return part.split(":", 1)[1]
    return None


def method_of(run):
    method, buffer = field(run["name"], "method"), field(run["name"], "buffer")
    if method == "revolve":
        return f"revolve s={field(run['name'], 'snapshots')}"
    if method == "reversible":
        return f"reversible {buffer}"
    return method


def hypergrad_runs(data):
    runs = [r for r in data.get("bench_hypergrad", {}).get("runs", [])
            if r["name"].startswith("BM_Hypergradient") and not r.get("error_occurred")]
    forward = {int(r["iters"]): r for r in data.get("bench_hypergrad", {}).get("runs", [])
               if r["name"].startswith("BM_Forward") and not r.get("error_occurred")}
    return runs, forward


def seconds(run):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[run.get("time_unit", "ns")]
    return run["real_time"] * scale


def fresh(bench, results, figure, source):
    """True if results/figures/<figure>.png exists and is newer than <source>.json."""
    png = os.path.join(results, "figures", figure + ".png")
    json_path = os.path.join(bench, source + ".json")
    return os.path.exists(png) and os.path.getmtime(png) >= os.path.getmtime(json_path)


def times(x):
    """A ratio as '354×' (or '1.4×' below 10)."""
    return f"{x:.1f}×" if x < 10 else f"{x:,.0f}×"


def mb(x):
    return f"{x / 1e6:,.1f} MB" if x >= 1e5 else f"{x / 1e3:,.0f} kB"


def binomial_forward_steps(T, s):
    """Griewank & Walther's t(T, s) (as lib/trajectories/revolve_schedule.cc)."""
    if s + 1 >= T:
        return T - 1
    r, beta = 0, 1
    while beta < T:
        r += 1
        beta = beta * (s + r) // r
    return r * T - beta * r // (s + 1)


# ---------------------------------------------------------------------------------------------
def render_bits(data, results):
    import matplotlib.pyplot as plt
    runs = [r for r in data["bench_buffer"]["runs"] if r["name"].startswith("BM_BitsPerStep")]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(11, 3.3))
    colours = {100: "0.6", 1000: "tab:blue", 10000: "black"}
    for buffer, marker in (("exact", "o"), ("fast", "x")):
        for T in (100, 1000, 10000):
            rs = sorted((r for r in runs if r["label"] == buffer and int(r["steps"]) == T),
                        key=lambda r: r["gamma"])
            if not rs:
                continue
            g = [r["gamma"] for r in rs]
            left.plot(g, [r["bits_per_step"] for r in rs], marker=marker, linestyle="none",
                      color=colours[T], markersize=4, label=f"{buffer}, T={T}")
            middle.plot(g, [8 * r["allocated_bytes_per_value"] / T for r in rs], marker=marker,
                        color=colours[T], markersize=4, linewidth=0.8, label=f"{buffer}, T={T}")
    rs = sorted((r for r in runs if r["label"] == "fast" and int(r["steps"]) == 1000),
                key=lambda r: r["gamma"])
    g = [r["gamma"] for r in rs]
    for ax in (left, middle):
        ax.plot(g, [r["entropy_bits_per_step"] for r in rs], color="red", linewidth=1,
                label="log2(d/n)")
        ax.axhline(32, color="0.4", linestyle=":", linewidth=1)
        ax.axhline(64, color="0.4", linestyle="--", linewidth=1)
        ax.text(0.5, 36, "store float32", fontsize=7)
        ax.text(0.5, 72, "store float64", fontsize=7)
        ax.set_yscale("log")
        ax.set_xlabel("momentum decay γ")
    left.plot(list(PAPER_BITS), list(PAPER_BITS.values()), "s", color="red", fillstyle="none",
              markersize=8, label="paper")
    left.set_ylabel("information bits / parameter / step")
    left.set_title("information stored")
    middle.set_ylabel("allocated bits / parameter / step")
    middle.set_title("memory allocated (start-up included)")
    left.legend(fontsize=6, ncol=2)
    right.plot(g, [r["uint64_overflow_step"] for r in rs], "o-", color="black", markersize=3)
    right.set_yscale("log")
    right.set_xlabel("momentum decay γ")
    right.set_ylabel("step")
    right.set_title("a fixed 64-bit buffer overflows at")
    path = common.save(fig, results, "bench_bits")
    return path


def render_recovery(data, results):
    import matplotlib.pyplot as plt
    runs = [r for r in data["bench_recovery"]["runs"] if not r.get("error_occurred")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    for gamma in sorted({r["gamma"] for r in runs}):
        rs = sorted((r for r in runs if r["gamma"] == gamma), key=lambda r: r["iters"])
        T = [r["iters"] for r in rs]
        # Non-finite errors (overflow) are drawn at the top of the axis.
        w0 = [r["naive_w0_max_error"] if math.isfinite(r["naive_w0_max_error"]) else 1e300 for r in rs]
        left.plot(T, w0, "o-", markersize=3, label=f"naive float, γ={gamma:g}")
        right.plot(T, [r["naive_d_alpha_rel_error"] if math.isfinite(r["naive_d_alpha_rel_error"])
                       else 1e300 for r in rs], "o-", markersize=3, label=f"γ={gamma:g}")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training steps T")
        ax.set_ylim(1e-17, 1e20)
    left.set_ylabel("max |recovered w_0 − w_0|")
    left.set_title("recovery of w_0 (exact method: 0)")
    right.set_ylabel("relative error of ∂f/∂α")
    right.set_title("hypergradient error (exact method: 0)")
    left.legend(fontsize=6)
    return common.save(fig, results, "bench_recovery")


def render_memory(data, results):
    import matplotlib.pyplot as plt
    runs, forward = hypergrad_runs(data)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for k, method in enumerate(METHOD_ORDER):
        rs = sorted((r for r in runs if method_of(r) == method), key=lambda r: r["iters"])
        if not rs:
            continue
        T = [r["iters"] for r in rs]
        colour = f"C{k}"
        label = METHOD_TEXT.get(method, method)
        if method != "naive-float":
            left.plot(T, [max(r["measured_peak_extra_bytes"], 1) for r in rs], "o-", color=colour,
                      markersize=4, label=label)
            left.plot(T, [r["computed_peak_extra_bytes"] for r in rs], "x:", color=colour,
                      markersize=4)
        right.plot(T, [seconds(r) for r in rs], "o-", color=colour, markersize=4, label=label)
    if forward:
        T = sorted(forward)
        right.plot(T, [seconds(forward[t]) for t in T], "k--", label="training alone")
    left.set_ylabel("peak memory beyond the model (bytes)")
    left.set_title("memory (o measured heap, x computed)")
    right.set_ylabel("training + reverse pass (s)")
    right.set_title("time")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training steps T")
    right.legend(fontsize=6, loc="upper left")
    return common.save(fig, results, "bench_memory")


# ---------------------------------------------------------------------------------------------
def headline(data):
    """The README's headline numbers as a dict (None where the run is missing)."""
    out = {}
    bits = [r for r in data.get("bench_buffer", {}).get("runs", [])
            if r["name"].startswith("BM_BitsPerStep") and r.get("label") == "fast"
            and int(r["steps"]) == 1000 and abs(r["gamma"] - 0.9) < 1e-9]
    if bits:
        out["bits_0.9"] = bits[0]["bits_per_step"]
        out["steady_bits_0.9"] = bits[0]["steady_bits_per_step"]
        out["entropy_0.9"] = bits[0]["entropy_bits_per_step"]
    runs, forward = hypergrad_runs(data)
    at = {method_of(r): r for r in runs if r["iters"] == 1000}
    if "reversible fast" in at:
        rev = at["reversible fast"]
        store64 = 1000 * 16 * rev["params"]   # (w, v) per step in 64 bits
        out["store_bytes"] = store64
        out["state_bytes"] = 16 * rev["params"]
        out["reversible_bytes"] = rev["computed_peak_extra_bytes"]
        out["reversible_measured_bytes"] = rev["measured_peak_extra_bytes"]
        out["memory_ratio"] = store64 / rev["computed_peak_extra_bytes"]
        out["memory_ratio_measured"] = store64 / max(rev["measured_peak_extra_bytes"], 1)
        if 1000 in forward:
            out["time_ratio"] = seconds(rev) / seconds(forward[1000])
    return out


def section(bench, results):
    """Markdown lines of the "Memory and exactness" section, or [] if no benchmark JSON; a
    benchmark run that lacks a counter its table needs stops the report, naming it."""
    data = load(bench)
    if not data:
        return []
    try:
        return section_lines(data, bench, results)
    except KeyError as e:
        raise SystemExit(f"report: a benchmark run in {bench} lacks the counter {e} that its table needs "
                         "(a run of an older build, or an edited file): rerun make bench / make bench-speed")


def section_lines(data, bench, results):
    lines = ['<a id="bench"></a>', "## Memory and exactness (benchmarks)", ""]
    lines.append(f"From `make bench` and `make bench-speed` (Google Benchmark JSON in `{bench}`; "
                 "`make bench BENCH_FULL=1` adds T = 10000).")
    ctx = data.get("bench_hypergrad", data[next(iter(data))])["context"]
    lines.append(f"Machine: {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
                 f"one OpenBLAS thread (every program sets it). Runs: "
                 + "; ".join(f"{name} {d['context'].get('date', d['context'].get('time', '?'))}"
                             for name, d in data.items()) + ".")
    def recorded(key):  # every value the benchmark files record for `key`, each with its files
        files = {}
        for name, d in data.items():
            if name != "speed_vs_torch":
                files.setdefault(str(d["context"].get(key, "not recorded")).split(" (")[0], []).append(name)
        if len(files) == 1:
            return f"{next(iter(files))} (every file)"
        return ", ".join(f"{value} ({', '.join(sorted(names))})" for value, names in sorted(files.items()))
    lines.append(f"Arithmetic of the runs (their JSON context): products {recorded('gemm_kernel')}; "
                 f"OpenBLAS core {recorded('blas_core')}; glibc's exp/log build {recorded('libm_build')}.")
    rel = lambda name: os.path.relpath(os.path.join(results, "figures", name + ".png"), results)
    h = headline(data)

    if "bench_buffer" in data:
        if not fresh(bench, results, "bench_bits", "bench_buffer"):
            render_bits(data, results)
        lines += ["", "### Bits per iteration against γ", "", f"![bench_bits]({rel('bench_bits')})", "",
                  "Fast buffer, 100 values, T steps of v ← v·n/d − (1−γ)·g. *Total* counts "
                  "everything stored after T steps (including the start-up cost of each "
                  "element's coder, ≈ 7 bits); *steady* is the rate over the second half of the "
                  "run. Target: ≤ 1.01 × log2(d/n) at T ≥ 1000.", "",
                  "| γ | log2(d/n) | paper | fast, T=1000 total | steady | fast, T=10000 total "
                  "| steady | ≤ 1.01× (T=10000 total / steady) | exact, T=1000 | 64-bit buffer overflows at step |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        runs = [r for r in data["bench_buffer"]["runs"] if r["name"].startswith("BM_BitsPerStep")]
        for gamma in sorted({r["gamma"] for r in runs}):
            pick = lambda label, T: next((r for r in runs if r["label"] == label and
                                          int(r["steps"]) == T and r["gamma"] == gamma), None)
            f1, f4, e1 = pick("fast", 1000), pick("fast", 10000), pick("exact", 1000)
            if not (f1 and f4 and e1):
                continue
            ent = f1["entropy_bits_per_step"]
            ok_total = f4["bits_per_step"] <= 1.01 * ent
            ok_steady = f4["steady_bits_per_step"] <= 1.01 * ent
            paper = PAPER_BITS.get(round(gamma, 3))
            lines.append(
                f"| {gamma:g} | {ent:.4f} | {paper if paper else '—'} | {f1['bits_per_step']:.4f} "
                f"| {f1['steady_bits_per_step']:.4f} | {f4['bits_per_step']:.4f} "
                f"| {f4['steady_bits_per_step']:.4f} | {'yes' if ok_total else 'no'} / "
                f"{'yes' if ok_steady else 'no'} | {e1['bits_per_step']:.4f} "
                f"| {f1['uint64_overflow_step']:,.0f} |")

    if "bench_recovery" in data:
        if not fresh(bench, results, "bench_recovery", "bench_recovery"):
            render_recovery(data, results)
        lines += ["", "### Recovery error of naive floating-point reversal", "",
                  f"![bench_recovery]({rel('bench_recovery')})", "",
                  "Fig-2 network: float64 SGD with momentum reversed by dividing by γ (no buffer) "
                  "against the exact method, which recovers w_0 bit for bit (error 0, checked in "
                  "every run). Hypergradient errors are relative to the stored trajectory's; "
                  "they include the exact method's n/d and quantisation (≈ 1e-5), so values near "
                  "that are agreement, not a reversal failure.", "",
                  "| T | γ | max \\|w_0 error\\| naive | exact | rel. error ∂f/∂w_0 | rel. error ∂f/∂α |",
                  "|---|---|---|---|---|---|"]
        for r in sorted((r for r in data["bench_recovery"]["runs"] if not r.get("error_occurred")),
                        key=lambda r: (r["iters"], r["gamma"])):
            lines.append(f"| {r['iters']:.0f} | {r['gamma']:g} | {r['naive_w0_max_error']:.3g} "
                         f"| {r['exact_w0_max_error']:.0f} | {r['naive_d_w0_rel_error']:.3g} "
                         f"| {r['naive_d_alpha_rel_error']:.3g} |")

    if "bench_hypergrad" in data:
        if not fresh(bench, results, "bench_memory", "bench_hypergrad"):
            render_memory(data, results)
        runs, forward = hypergrad_runs(data)
        lines += ["", "### Memory and time of hypergradients", "",
                  f"![bench_memory]({rel('bench_memory')})", "",
                  "Fig-2 network (784-50-50-50-10, batch 200, α = e^-1, γ = 0.9). *Computed*: "
                  "what the method holds (buffer, states, snapshots with their buffer copies, "
                  "recomputed segments), at its peak. *Measured*: peak heap of the whole "
                  "training + reverse run minus that of the naive-float run (which stores "
                  "nothing), via counting operator new; it can be below the computed value when "
                  "the method's peak falls while the HVP's work arrays are not allocated. "
                  "*States only*: what the same method would hold in float64 without buffer "
                  "copies. Every exact method's hypergradients equal the stored trajectory's bit "
                  "for bit (column 'bitwise').", ""]
        lines += ["| T | method | computed | measured | states only | time | × training | "
                  "gradients | HVPs | recomputed steps | forward steps (t(T,s)) | bitwise |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        order = {m: i for i, m in enumerate(METHOD_ORDER)}
        for r in sorted(runs, key=lambda r: (r["iters"], order.get(method_of(r), 99))):
            m = method_of(r)
            T = int(r["iters"])
            ratio = seconds(r) / seconds(forward[T]) if T in forward else float("nan")
            closed = (f"{r['forward_steps']:,.0f} ({r['closed_form_forward_steps']:,.0f})"
                      if m.startswith("revolve") else f"{r['forward_steps']:,.0f}")
            bitwise = "—" if m == "naive-float" else ("yes" if r["bitwise_equal_to_stored"] else "**no**")
            lines.append(
                f"| {T} | {METHOD_TEXT.get(m, m)} | {mb(r['computed_peak_extra_bytes'])} "
                f"| {mb(r['measured_peak_extra_bytes'])} | {mb(r['states_only_bytes'])} "
                f"| {seconds(r):.2f} s | {ratio:.2f} | {r['gradients']:,.0f} | {r['hvps']:,.0f} "
                f"| {r['recomputed_steps']:,.0f} | {closed} | {bitwise} |")
        skipped = []
        for T in sorted({int(r["iters"]) for r in runs}):
            for s in (2, 5, 10, 20):
                if not any(method_of(r) == f"revolve s={s}" and r["iters"] == T for r in runs):
                    skipped.append(f"T={T}, s={s}: t(T,s) = {binomial_forward_steps(T, s):,}")
        if skipped:
            lines += ["", "Revolve runs left out for time (forward steps from the closed form, "
                      "which the unit tests check against ADOL-C's schedule): " + "; ".join(skipped) + "."]
        lines += revolve_headline(runs)
        lines += adam_table(data)

    lines += speed_lines(data)
    lines += failed_lines(data)

    lines += ["", "### Targets", "", "| target | measured | met |", "|---|---|---|"]
    if "bits_0.9" in h:
        lines.append(f"| bits at γ = 0.9, T = 1000 (paper 0.152) | {h['bits_0.9']:.4f} total, "
                     f"{h['steady_bits_0.9']:.4f} steady; log2(d/n) = {h['entropy_0.9']:.4f} | "
                     f"{'yes' if h['steady_bits_0.9'] <= 1.01 * h['entropy_0.9'] else 'no'} (steady ≤ 1.01×), "
                     f"{'yes' if h['bits_0.9'] <= 1.01 * h['entropy_0.9'] else 'no'} (total ≤ 1.01×) |")
    if "memory_ratio" in h:
        lines.append(f"| extra memory ≥ 300× below storing (w, v) in 64 bits, γ = 0.9, T = 1000 "
                     f"| {mb(h['store_bytes'])} vs {mb(h['reversible_bytes'])} computed "
                     f"({h['memory_ratio']:.0f}×), {mb(h['reversible_measured_bytes'])} measured "
                     f"({h['memory_ratio_measured']:.0f}×) "
                     f"| {'yes' if h['memory_ratio'] >= 300 else 'no'} (buffer bytes), "
                     f"{'yes' if h['memory_ratio_measured'] >= 300 else 'no'} (heap: it also counts "
                     f"the fixed-point trajectory's float64 view of w and v, one state, "
                     f"{mb(h['state_bytes'])}, constant in T) |")
    for r in floor_runs(data):
        T, tanh = int(r["iters"]), "polynomial tanh" if r["polynomial_tanh"] else "glibc tanh"
        layout = FLOOR_DATA[bool(r.get("tool_layout"))]
        lines.append(f"| training ≤ 1.2 × its matrix products alone, T = {T}, one thread, {tanh}, {layout} "
                     f"| {r['training_over_gemm']:.2f}× | {'yes' if r['training_over_gemm'] <= 1.2 else 'no'} |")
        lines.append(f"| training + final loss + reverse ≤ 1.25 × their products, T = {T}, {tanh}, {layout} "
                     f"| {r['hypergradient_over_gemm']:.2f}× | {'yes' if r['hypergradient_over_gemm'] <= 1.25 else 'no'} |")
        if not r["polynomial_tanh"]:  # issue [Q]'s target, for the default (glibc's tanh)
            rounds = (f" (fastest of {r['rounds']:.0f} against fastest of {r['rounds']:.0f}; each round's own: "
                      f"median {r['hypergradient_over_gemm_paired_median']:.3f}×, "
                      f"{r['hypergradient_over_gemm_paired_min']:.3f}–{r['hypergradient_over_gemm_paired_max']:.3f}×)"
                      if "rounds" in r else "")
            lines.append(f"| training + final loss + reverse ≤ 1.5 × their products (issue [Q]), T = {T}, {tanh}, {layout} "
                         f"| {r['hypergradient_over_gemm']:.3f}×{rounds} | {'yes' if r['hypergradient_over_gemm'] <= 1.5 else 'no'} |")
    for r in data.get("speed_vs_torch", {}).get("runs", []):
        if r.get("target") is not None:
            lines.append(f"| whole process ≤ {r['target']} × PyTorch's in-process time, T = {r['iters']}, one "
                         f"thread each (issue [Q]) | {r['ratio_best']:.2f}× | {'yes' if r['met'] else 'no'} |")
    for r in data.get("speed_vs_torch", {}).get("threads", []):
        if r.get("target") is not None:
            equal = {True: "bitwise equal", False: "**differs**"}.get(r.get("bitwise_equal"), "not compared")
            lines.append(f"| whole process ≥ {r['target']}× on {r['threads']} threads, T = {r['iters']} "
                         f"({r['cores']} cores), bitwise equal to 1 thread (issue [Q]) "
                         f"| {r['speedup_best']:.2f}× (paired median {r['speedup_paired_median']:.2f}×), {equal} "
                         f"| {'yes' if r['met'] and r.get('bitwise_equal') else 'no'} |")
    for r in thread_runs(data):
        if int(r["iters"]) == 1000 and int(r["threads"]) == 2:
            lines.append(f"| ≥ 1.6× on 2 threads, T = 1000 ({r['cores']:.0f} cores), bitwise equal to 1 thread "
                         f"| {r['speedup']:.2f}×, {'bitwise equal' if r['bitwise_equal_to_one_thread'] else '**differs**'} "
                         f"| {'yes' if r['speedup'] >= 1.6 and r['bitwise_equal_to_one_thread'] else 'no'} |")
    if "time_ratio" in h:
        lines.append(f"| hypergradient time ≤ 3 × training, T = 1000 (fast buffer) "
                     f"| {h['time_ratio']:.2f}× | {'yes' if h['time_ratio'] <= 3 else 'no'} |")
    return lines


def speed_source(data):
    """make bench writes the speed runs to bench_speed; a direct bench_hypergrad run has them too
    (a benchmark that bench_speed has is taken from it alone)."""
    speed = data.get("bench_speed", {}).get("runs", [])
    families = {r["name"].split("/")[0] for r in speed}
    return speed + [r for r in data.get("bench_hypergrad", {}).get("runs", [])
                    if r["name"].split("/")[0] not in families]


# BM_MatrixProductFloor's data (its tool_layout counter; runs before it have doubles only).
FLOOR_DATA = {False: "doubles, random batches", True: "8-bit, in order (the tool's)"}


def floor_runs(data):
    return sorted((r for r in speed_source(data)
                   if r["name"].startswith("BM_MatrixProductFloor") and not r.get("error_occurred")),
                  key=lambda r: (r["iters"], r.get("tool_layout", 0), r.get("polynomial_tanh", 0)))


def thread_runs(data):
    return sorted((r for r in speed_source(data)
                   if r["name"].startswith("BM_Threads") and not r.get("error_occurred")),
                  key=lambda r: (r["iters"], r["threads"]))


def target_cells(row, relation):
    """The target and met cells of a speed_vs_torch.py row (empty where it has no target)."""
    if row.get("target") is None:
        return "", ""
    return f"{relation} {row['target']}", "yes" if row["met"] else "**no**"


WIDER_PAIRS = {1: "(a) a·W and a·U", 2: "(b) aᵀ·δ and aᵀ·R{δ}", 3: "(a) and (b)",
               4: "(c) δ·Wᵀ and R{δ}·Wᵀ", 7: "all three"}


def wider_lines(data):
    """Markdown lines: issue [Q] item 2, a reverse step's products that share an operand issued
    as two products or as one twice as wide (bench_gemm's BM_WiderProducts)."""
    runs = sorted((r for r in data.get("bench_wider", {}).get("runs", [])
                   if r["name"].startswith("BM_WiderProducts") and not r.get("error_occurred")),
                  key=lambda r: int(field(r["name"], "pairs")))
    if not runs:
        return []
    pair_built = any("us_gemm_pair" in r for r in runs)
    out = ["", "**Fewer, wider products** (`bench_gemm`'s `BM_WiderProducts`, portable kernel, one thread; "
           "issue [Q] item 2): the products of a reverse step that share an operand, per layer of "
           "the Fig-2 network, issued as two products or as one twice as wide (the same bits: each "
           "element's sum is unchanged, `gemm_portable_test` OneWideProductEqualsTheTwoItJoins); "
           "best of 20 alternating repeats each, with the reverse step's products as issued in the "
           "same run. *Copies*: putting the wide product's doubled operand together from its halves "
           "and splitting its result, which a plain wide product needs where the halves are stored "
           "apart." + (" *GemmPair*: the two products as one wide product with the halves read "
                       "and written where they lie, no copies (`GemmPair`, gemm.h; "
                       "`gemm_portable_test` GemmPairGivesEachProductTheDefinitionsBits). The MLP "
                       "issues (b) so; not (a), which made the `hypergrad` tool slower (1.024× "
                       "the time of (b) alone at T = 500, one thread), nor (c)." if pair_built else ""), "",
           "| pairs | two products | one wide | ratio | copies | reverse step's products "
           "| saved | saved after copies |" + (" GemmPair | saved by GemmPair |" if pair_built else ""),
           "|---|---|---|---|---|---|---|---|" + ("---|---|" if pair_built else "")]
    for r in runs:
        pairs = WIDER_PAIRS.get(int(field(r["name"], "pairs")), field(r["name"], "pairs"))
        line = (f"| {pairs} | {r['us_separate']:.0f} µs | {r['us_fused']:.0f} µs | {r['fused_over_separate']:.2f} "
                f"| {r['us_copies']:.0f} µs | {r['us_reverse_step_products']:.0f} µs "
                f"| {100 * r['saving_share_of_reverse_products']:.1f}% "
                f"| {100 * r['saving_with_copies_share']:.1f}% |")
        if pair_built:
            line += (f" {r['us_gemm_pair']:.0f} µs | {100 * r['saving_gemm_pair_share']:.1f}% |"
                     if "us_gemm_pair" in r else " — | — |")
        out.append(line)
    return out


def speed_lines(data):
    """Markdown lines: our run against its own matrix products, and on several threads."""
    out = []
    floor = floor_runs(data)
    if floor:
        out += ["", "`BM_MatrixProductFloor`: the products one training step, one reverse step and "
                "the final 10,000-row loss issue, recorded by whole shape (a product split over "
                "threads counts once) and replayed alone T times in the same benchmark run: the "
                "floor our run is measured against (one thread). With glibc's tanh (every "
                "committed result) and with the polynomial kernel (`--tanh polynomial`). Data: "
                "generated inputs of MNIST's shape, 10,000 rows, either stored as doubles (63 MB) "
                "in batches drawn with replacement, so that every pass gathers its rows from "
                "memory, or as the `hypergrad` tool stores MNIST for Fig 2: 8-bit pixels (8 MB) "
                "converted to doubles when read, in batches taken in order. The replayed products "
                "read operands already in cache.", "",
                "| T | tanh | data | training | its products | ratio | final loss | reverse | training + loss + reverse "
                "| their products | ratio | MFLOP per training / reverse step |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in floor:
            out.append(f"| {r['iters']:.0f} | {'polynomial' if r.get('polynomial_tanh') else 'glibc'} "
                       f"| {FLOOR_DATA[bool(r.get('tool_layout'))]} "
                       f"| {r['seconds_training']:.2f} s | {r['gemm_seconds_training']:.2f} s "
                       f"| {r['training_over_gemm']:.2f}× | {r.get('seconds_final_loss', float('nan')):.2f} s "
                       f"| {r.get('seconds_reverse', float('nan')):.2f} s | {r['seconds_hypergradient']:.2f} s "
                       f"| {r['gemm_seconds_hypergradient']:.2f} s | {r['hypergradient_over_gemm']:.2f}× "
                       f"| {r['flops_per_training_step'] / 1e6:.2f} / {r['flops_per_reverse_step'] / 1e6:.2f} |")
    shared = [r for r in floor if "ms_per_training_step" in r]
    if shared:
        pieces = [("products", "products"), ("algorithm3", "Algorithm 3"), ("tanh", "tanh"),
                  ("fixed_point_adds", "fixed-point adds"), ("fixed_point_to_double", "fixed point → double"),
                  ("input_conversion", "input conversion"), ("rest", "rest")]
        out += ["", "Each piece's share of a step (`BM_MatrixProductFloor`: the same run once more, "
                "one thread, its pieces timed by `runtime/step_profile.h`: the products (Gemm), "
                "Algorithm 3 (multiply/divide by the ratios), tanh, the fixed-point adds and "
                "conversions back to double, the inputs gathered or converted for a pass; rest: "
                "everything else — the softmax, bias sums, the per-block hypergradient sums, the "
                "optimizer's own arithmetic, allocation). With doubles in random batches the "
                "input conversion is a gather of rows; with 8-bit pixels, their conversion. "
                "*Products alone*: the same step's products replayed on operands in cache, per "
                "step (above the products' share times the step's time, the difference is what "
                "the step's own cache misses cost them; the two come from different runs, and "
                "single runs here vary by about ±10%).", "",
                "| T | tanh | data | step | ms per step | products alone (ms) | "
                + " | ".join(name for _, name in pieces) + " |",
                "|---|---|---|---|---|---|" + "---|" * len(pieces)]
        for r in shared:
            for phase in ("training", "reverse"):
                alone = r.get(f"ms_gemm_per_{phase}_step")
                out.append(f"| {r['iters']:.0f} | {'polynomial' if r.get('polynomial_tanh') else 'glibc'} "
                           f"| {FLOOR_DATA[bool(r.get('tool_layout'))]} "
                           f"| {phase} | {r[f'ms_per_{phase}_step']:.2f} "
                           f"| {'—' if alone is None else f'{alone:.2f}'} | "
                           + " | ".join(f"{100 * r[f'share_{phase}_{key}']:.0f}%" for key, _ in pieces) + " |")
    out += wider_lines(data)
    torch_runs = data.get("speed_vs_torch", {}).get("runs", [])
    if "speed_vs_torch" in data and data["speed_vs_torch"]["context"].get("torch") is None:
        meta = data["speed_vs_torch"]["context"]
        out += ["", f"**Against PyTorch**: left out: python3-torch was not installed when "
                f"`experiments/python/speed_vs_torch.py` ran ({meta.get('time', '?')})."]
    if torch_runs:
        meta = data["speed_vs_torch"]["context"]
        out += ["", f"**Against PyTorch** (`experiments/python/speed_vs_torch.py`, {meta.get('time', '?')}, "
                f"torch {meta.get('torch', '?')}): the `hypergrad` tool as a whole process (Fig-2 run: "
                f"784-50-50-50-10, {meta.get('train_size', 10000):,} images, batch 200, γ = 0.9, fast buffer, one thread) against "
                "PyTorch float64 unrolled autograd of the same run in one process (one thread, "
                "deterministic algorithms), the best of "
                f"{meta.get('repeats', '?')} alternating runs each; issue [Q]'s targets.", "",
                "| T | hypergrad | PyTorch | ratio | target | met |", "|---|---|---|---|---|---|"]
        for r in torch_runs:
            target, met = target_cells(r, "≤")
            out.append(f"| {r['iters']} | {r['hypergrad_best']:.2f} s | {r['torch_best']:.2f} s "
                       f"| {r['ratio_best']:.2f} | {target} | {met} |")
    whole = data.get("speed_vs_torch", {}).get("threads", [])
    if whole:
        meta = data["speed_vs_torch"]["context"]
        out += ["", f"**On several threads, whole process** (`experiments/python/speed_vs_torch.py`, "
                f"{meta.get('time', '?')}): the same `hypergrad` run with `--threads 1` and `--threads N`, "
                f"{meta.get('threads_repeats', '?')} alternating pairs of runs; the speed-up is the best "
                "one-thread time over the best N-thread time (the median of the paired ratios beside it); "
                "the two output files compared dataset by dataset; issue [Q]'s target.", "",
                "| T | images | threads | cores | 1 thread | N threads | speed-up | paired median | target | met | bitwise equal |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in whole:
            target, met = target_cells(r, "≥")
            equal = {True: "yes", False: "**no**"}.get(r.get("bitwise_equal"), "not checked")
            out.append(f"| {r['iters']} | {r.get('train_size', meta.get('train_size', '?')):,} | {r['threads']} "
                       f"| {r['cores']} | {r['one_thread_best']:.3f} s "
                       f"| {r['threads_best']:.3f} s | {r['speedup_best']:.2f}× "
                       f"| {r['speedup_paired_median']:.2f}× | {target} | {met} | {equal} |")
    threads = thread_runs(data)
    if threads:
        out += ["", "`BM_Threads`: one run (training + final loss + reverse, reversible, fast "
                "buffer) on one thread and on N, timed in the same benchmark run (the fastest of "
                "three alternating pairs of runs: single timings here vary by about ±10%). Each pass is "
                "split in a fixed way that does not depend on N (batch rows, input units, "
                "parameter ranges), so the hypergradients are the same bits (checked in every "
                "run). *Cores*: the CPUs the process may run on; a loop uses no more threads than "
                "that.", "",
                "| T | threads | cores | 1 thread | N threads | speed-up | bitwise equal |",
                "|---|---|---|---|---|---|---|"]
        for r in threads:
            used = r.get("threads_used", r["threads"])
            shown = f"{r['threads']:.0f}" + (f" ({used:.0f} used)" if used < r["threads"] else "")
            out.append(f"| {r['iters']:.0f} | {shown} | {r['cores']:.0f} "
                       f"| {r['seconds_one_thread']:.2f} s | {r['seconds_threads']:.2f} s "
                       f"| {r['speedup']:.2f}× | {'yes' if r['bitwise_equal_to_one_thread'] else '**no**'} |")
    out += cross_core_lines(data)
    if out:
        out = ["", "### Time against the matrix products, and on several threads"] + out
    return out


def cross_core_lines(data):
    """Markdown lines: BM_CrossCore, what the two cores cost each other."""
    out = []
    cross = [r for r in speed_source(data) if r["name"].startswith("BM_CrossCore") and not r.get("error_occurred")]
    if not cross:
        return out
    r = cross[0]
    a, b = f"CPU {r['cpu_a']:.0f}", f"CPU {r['cpu_b']:.0f}"
    text = (f"**What the two cores cost each other** (`BM_CrossCore`, {a} and {b}, best of several "
            f"repeats each): a cache line passed from one core to the other and back takes "
            f"{r['round_trip_ns']:.0f} ns; 512 KB that the other core has just written read at "
            f"{r['read_other_core_gb_per_s']:.0f} GB/s, against {r['read_own_gb_per_s']:.0f} GB/s after "
            f"writing it oneself ({r['read_own_gb_per_s'] / r['read_other_core_gb_per_s']:.1f}× slower). ")
    if "products_both_busy_ms_per_step_cpu_b" in r:
        text += (f"One reverse step's products take {r['products_alone_ms_per_step']:.2f} ms on {a} alone "
                 f"and {r['products_alone_ms_per_step_cpu_b']:.2f} ms on {b} alone; on both at once, "
                 f"{r['products_both_busy_ms_per_step']:.2f} and {r['products_both_busy_ms_per_step_cpu_b']:.2f} ms "
                 f"(the slower core at {100 * r['products_both_busy_speed']:.0f}% of its speed alone). ")
    if "steps_ms_cpu_a" in r:
        fast, slow = sorted((r["steps_ms_cpu_a"], r["steps_ms_cpu_b"]))
        text += (f"50 training steps with their reversal (one thread) take {r['steps_ms_cpu_a']:.2f} ms per "
                 f"step on {a} and {r['steps_ms_cpu_b']:.2f} ms on {b}"
                 + (f": here {b if r['steps_ms_cpu_b'] > r['steps_ms_cpu_a'] else a} is "
                    f"{100 * (slow / fast - 1):.0f}% slower, and two threads wait for it at every loop's end. "
                    if slow > 1.05 * fast else " (within 5% of each other). "))
    text += ("Every value one thread of a pass reads from the other's part (the weights each step "
             "writes, the rows of the activations and deltas the weight gradients sum over) comes at "
             "the slower rate.")
    return out + ["", text]


def adam_table(data):
    """Markdown lines for the reversible-Adam runs of bench_hypergrad (BM_AdamHypergradient)."""
    source = "bench_adam" if "bench_adam" in data else "bench_hypergrad"  # make bench writes the former
    runs = [r for r in data.get(source, {}).get("runs", [])
            if r["name"].startswith("BM_AdamHypergradient") and not r.get("error_occurred")]
    if not runs:
        return []
    date = data.get(source, {}).get("context", {}).get("date", "?")
    lines = ["", f"**Reversible Adam** (beyond the paper; `{source}.json`, run {date}; same network and batches, α = 0.002, "
             "β1 = 0.9, β2 = 0.999, ε = 1e-8): extra memory against storing (w, m, s) in float64 "
             "every step, bits per parameter per step (bound log2(d/n) summed over both moments "
             "= 0.1534), time; hypergradients equal the stored trajectory's bit for bit.", "",
             "| T | buffer | bits/param/step | extra memory | store (w, m, s) | ratio | forward "
             "| reverse | reverse / forward | bitwise |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["iters"], field(r["name"], "buffer"))):
        lines.append(
            f"| {r['iters']:.0f} | {field(r['name'], 'buffer')} "
            f"| {r['info_bits_per_param_per_step']:.4f} | {mb(r['computed_peak_extra_bytes'])} "
            f"| {mb(r['store_all_bytes'])} "
            f"| {times(r['store_all_bytes'] / r['computed_peak_extra_bytes'])} "
            f"| {r['seconds_forward']:.2f} s | {r['seconds_reverse']:.2f} s "
            f"| {r['seconds_reverse'] / r['seconds_forward']:.2f} "
            f"| {'yes' if r['bitwise_equal_to_stored'] else '**no**'} |")
    return lines


def revolve_headline(runs):
    """At the reversible method's memory, Revolve's recomputations; at Revolve's, memory."""
    out = []
    for T in sorted({int(r["iters"]) for r in runs}):
        at = {method_of(r): r for r in runs if r["iters"] == T}
        rev = at.get("reversible fast")
        if rev is None:
            continue
        state = 16 * rev["params"]
        memory = rev["computed_peak_extra_bytes"]
        fit = int(memory // state) - 1   # snapshots that fit next to Revolve's working state
        lines = [f"- **T = {T}.** The reversible method (fast buffer) holds {mb(memory)} "
                 f"({memory / state:.2f} states of {mb(state)}) and recomputes nothing. "]
        if fit >= 1:
            t = binomial_forward_steps(T, fit)
            noun = "snapshot" if fit == 1 else "snapshots"
            lines[0] += (f"In that memory Revolve fits s = {fit} float64 {noun} plus its working "
                         f"state and needs t(T, {fit}) = {t:,} forward steps: {t - (T - 1):,} "
                         f"recomputed, {t / T:.1f}× the training run. ")
        else:
            t = T * (T - 1) // 2
            lines[0] += (f"That is less than two float64 states: Revolve cannot run in it at all "
                         f"(one snapshot plus the working state already need {mb(2 * state)}; even "
                         f"then, T(T−1)/2 = {t:,} forward steps). ")
        revolves = [r for m, r in at.items() if m.startswith("revolve")]
        if revolves:
            r = min(revolves, key=lambda r: r["recomputed_steps"])
            s = int(r["snapshots"])
            lines[0] += (f"Conversely, Revolve's fewest recomputations measured here "
                         f"({r['recomputed_steps']:,.0f}, s = {s}) cost {mb(r['states_only_bytes'])} "
                         f"in float64 states ({times(r['states_only_bytes'] / memory)} the reversible "
                         f"method's memory; {mb(r['measured_peak_extra_bytes'])} measured here with "
                         f"buffer copies), and to recompute nothing, as the reversible method does, "
                         f"Revolve needs T − 1 snapshots: store-all memory, {mb((T - 1) * state)} "
                         f"({times((T - 1) * state / memory)}).")
        out += lines
    return ["", "**Reversible learning against Revolve:**", ""] + out if out else []


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bench", default="results/bench", help="folder of the benchmark JSON")
    parser.add_argument("--results", default="results", help="figures go to RESULTS/figures")
    args = parser.parse_args()
    data = load(args.bench)
    if not data:
        raise SystemExit(f"no benchmark JSON in {args.bench}: run `make bench` first")
    if "bench_buffer" in data:
        render_bits(data, args.results)
    if "bench_recovery" in data:
        render_recovery(data, args.results)
    if "bench_hypergrad" in data:
        render_memory(data, args.results)
    for key, value in headline(data).items():
        print(f"{key}: {value:.6g}")


if __name__ == "__main__":
    main()
