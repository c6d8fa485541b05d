"""Exact against approximate hypergradients: renders results/figures/estimators_pareto.png and
estimators_horizon.png from bench_estimators.json (written by `make bench-estimators`, the small
version inside `make bench`) and provides the report section "Exact against approximate
hypergradients" (report.py calls section()).

Reads the JSON only; it never reruns the benchmark. Every sentence of the section's conclusions
is computed from the numbers in the file.
"""
import json
import math
import os

import common
import matplotlib.pyplot as plt
import numpy as np

FILE = "bench_estimators.json"
GENERATED = "generated data of MNIST's shape"
# The kind each problem is judged by in the figures and the conclusions.
MAIN_KIND = {"fig2": "alpha", "fig6": "theta", "fig7": "theta"}
PROBLEM_TEXT = {"fig2": "Fig-2 schedules (784-50-50-50-10)", "fig6": "Fig-6 per-weight L2",
                "fig7": "Fig-7 learned data"}
MARKERS = {"exact": "*", "drmad": "s", "greedy": "v", "forward": "D", "es": "o", "pes": "P",
           "neumann": "^", "cg": "<", "truncated": ">"}


def load(bench):
    path = os.path.join(bench, FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def ok_runs(doc):
    return [r for r in doc["accuracy"] if "error" not in r]


def short_label(label):
    """"neumann terms=20" → "neumann K=20", "es samples=4 sigma=0.01" → "es N=4"."""
    parts = label.split(" ")
    out = [parts[0]]
    for p in parts[1:]:
        key, _, value = p.partition("=")
        if key in ("terms", "truncation"):
            out.append(f"K={value}")
        elif key == "samples":
            out.append(f"N={value}")
    return " ".join(out)


# Panels: (problem, kind, title).
PANELS = [("fig2", "alpha", "Fig-2 schedules: ∂f/∂α (T × 8)"),
          ("fig2", "alpha_block", "Fig-2: per-block constant α (8)"),
          ("fig6", "theta", "Fig-6 per-weight L2: ∂f/∂λ"),
          ("fig7", "theta", "Fig-7 learned data: ∂f/∂(λ, pixels)")]


def pareto_figure(doc, results):
    runs = ok_runs(doc)
    panels = [p for p in PANELS if any(r["problem"] == p[0] for r in runs)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    ratios = [r["time_ratio"] for r in runs if r["time_ratio"] > 0]
    norm = plt.matplotlib.colors.LogNorm(vmin=min(ratios), vmax=max(ratios))
    sc = None
    for ax, (problem, kind, title) in zip(axes[0], panels):
        for r in runs:
            if r["problem"] != problem:
                continue
            if r["estimator"] == "exact":
                # The reference (error 0 by definition): its memory as a line.
                ax.axvline(max(r["peak_extra_bytes"], 1), color="0.6", ls=":", lw=0.8)
                ax.annotate(f'exact T={r["iters"]}', (max(r["peak_extra_bytes"], 1), 1), fontsize=6,
                            xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right")
                continue
            if kind not in r.get("kinds", {}):
                continue
            err = max(r["kinds"][kind]["rel_error"], 1e-16)
            sc = ax.scatter(max(r["peak_extra_bytes"], 1), err, c=[r["time_ratio"]], norm=norm,
                            cmap="viridis", marker=MARKERS.get(r["estimator"], "o"), s=60,
                            edgecolors="k", linewidths=0.4)
            ax.annotate(f'{short_label(r["label"])} T={r["iters"]}', (max(r["peak_extra_bytes"], 1), err),
                        fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("peak extra memory (bytes, measured)")
        if ax is axes[0][0]:
            ax.set_ylabel("relative L2 error against the exact hypergradient")
        ax.set_title(title, fontsize=9)
    if sc is not None:
        fig.colorbar(sc, ax=axes[0].tolist(), label="time / one training run")
    return common.save(fig, results, "estimators_pareto")


def horizon_figure(doc, results):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sh = [r for r in doc.get("short_horizon", []) if "error" not in r]
    if sh:
        h = [r["horizon"] for r in sh]
        axes[0].loglog(h, [r["alpha"] for r in sh], "o-", label="chosen α")
        axes[0].set_xlabel("horizon T (steps) of the exact hypergradient")
        axes[0].set_ylabel("meta-optimised constant learning rate α")
        ax2 = axes[0].twinx()
        ax2.semilogx(h, [r["loss_after_longest"] for r in sh], "s--", color="C1",
                     label=f'loss after {sh[0]["longest"]} steps')
        ax2.set_ylabel(f'training loss after {sh[0]["longest"]} steps with that α')
        axes[0].set_title("short-horizon bias (exact hypergradients)", fontsize=9)
    runs = [r for r in ok_runs(doc) if r["problem"] == "fig2"]
    for label in sorted({r["label"] for r in runs if r["estimator"] != "exact"}):
        pts = sorted((r["iters"], r["kinds"]["alpha"]["cosine"]) for r in runs
                     if r["label"] == label and "alpha" in r.get("kinds", {}))
        if pts:
            est = label.split(" ")[0]
            axes[1].semilogx([p[0] for p in pts], [p[1] for p in pts], MARKERS.get(est, "o") + "-",
                             label=short_label(label))
    axes[1].set_xlabel("horizon T (steps)")
    axes[1].set_ylabel("cosine similarity with the exact ∂f/∂α")
    axes[1].set_title("Fig-2 schedules: agreement against horizon", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return common.save(fig, results, "estimators_horizon")


def meta_figure(doc, bench, results):
    """The learned schedules of the meta-optimisation side by side: α_t of each block (one panel
    per estimator) and the training-loss curves; None when the HDF5 file is absent."""
    path = os.path.join(bench, "bench_estimators.h5")
    meta = [m for m in doc.get("meta_optimisation", []) if "error" not in m]
    if not os.path.exists(path) or not meta:
        return None
    import h5py
    fig, axes = plt.subplots(1, len(meta) + 1, figsize=(3.2 * (len(meta) + 1), 3.2), squeeze=False)
    with h5py.File(path, "r") as f:
        for ax, m in zip(axes[0], meta):
            log_alpha = np.asarray(f[f"/meta/{m['label']}/log_alpha"])
            ax.plot(np.exp(log_alpha), lw=0.8)
            ax.set_title(short_label(m["label"]), fontsize=9)
            ax.set_xlabel("step t")
        axes[0][0].set_ylabel("learned α_t (one line per block)")
    for m in meta:
        axes[0][-1].plot(m["train_curve"], label=short_label(m["label"]))
    axes[0][-1].set_xlabel("meta-iteration")
    axes[0][-1].set_ylabel("training loss")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return common.save(fig, results, "estimators_meta")


def chosen_alpha(r):
    """The chosen α of a short-horizon row as text: "≥ e^hi" when every bisection trial said
    "not too large" (the search's upper end bounds it), "≤ e^lo" when every trial said too large."""
    signs = r.get("too_large", [])
    lo, hi = r.get("range_log_alpha", [None, None])
    if signs and all(x < 0 for x in signs) and hi is not None:
        return f"≥ {math.exp(hi - r['resolution_log_alpha']):.3g} (upper end of the search)"
    if signs and all(x > 0 for x in signs) and lo is not None:
        return f"≤ {math.exp(lo + r['resolution_log_alpha']):.3g} (lower end of the search)"
    return fmt(r["alpha"])


def fmt(x, digits=3):
    if x is None:
        return "—"
    if isinstance(x, float) and (abs(x) >= 1e4 or (abs(x) < 1e-3 and x != 0)):
        return f"{x:.2e}"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def conclusions(doc):
    """Facts computed from the file: per problem and horizon, the approximate estimator closest
    to the exact hypergradient of the main kind, and the cheapest in memory among those whose
    cosine is at least 0.9."""
    out = []
    runs = ok_runs(doc)
    exact = {(r["problem"], r["iters"]): r for r in runs if r["estimator"] == "exact"}
    for (problem, iters), ex in sorted(exact.items()):
        kind = MAIN_KIND[problem]
        cands = [r for r in runs if r["problem"] == problem and r["iters"] == iters
                 and kind in r.get("kinds", {})]
        if not cands:
            continue
        best = max(cands, key=lambda r: r["kinds"][kind]["cosine"])
        good = [r for r in cands if r["kinds"][kind]["cosine"] >= 0.9]
        line = (f"- {PROBLEM_TEXT[problem]}, T = {iters}: the exact hypergradient took "
                f"{fmt(ex['time_ratio'])} training runs and {ex['peak_extra_bytes']:,} extra bytes; "
                f"the closest approximation of ∂f/∂{kind} was {best['label']} (cosine "
                f"{fmt(best['kinds'][kind]['cosine'])}, relative error {fmt(best['kinds'][kind]['rel_error'])}, "
                f"{fmt(best['time_ratio'])} runs, {best['peak_extra_bytes']:,} bytes)")
        if good:
            cheap = min(good, key=lambda r: r["peak_extra_bytes"])
            line += (f"; of those with cosine ≥ 0.9 the least memory was {cheap['label']}'s "
                     f"({cheap['peak_extra_bytes']:,} bytes).")
        else:
            line += "; no approximation reached cosine 0.9."
        out.append(line)
    meta = [m for m in doc.get("meta_optimisation", []) if "error" not in m]
    ex = next((m for m in meta if m["estimator"] == "exact"), None)
    if ex:
        for m in meta:
            if m is ex:
                continue
            out.append(f"- Meta-optimisation driven by {m['label']}: final training loss "
                       f"{fmt(m['final_train_loss'], 5)} against exact's {fmt(ex['final_train_loss'], 5)}, "
                       f"validation {fmt(m['final_valid_loss'], 5)} against {fmt(ex['final_valid_loss'], 5)}.")
    sh = [r for r in doc.get("short_horizon", []) if "error" not in r]
    if len(sh) >= 2:
        out.append(f"- Short horizons: the learning rate chosen with exact hypergradients went from "
                   f"{chosen_alpha(sh[0])} at T = {sh[0]['horizon']} to {chosen_alpha(sh[-1])} at "
                   f"T = {sh[-1]['horizon']} (ratio {fmt(sh[-1]['alpha'] / sh[0]['alpha'])}); trained for "
                   f"{sh[0]['longest']} steps, the T = {sh[0]['horizon']} choice ends at loss "
                   f"{fmt(sh[0]['loss_after_longest'], 5)}, the T = {sh[-1]['horizon']} one at "
                   f"{fmt(sh[-1]['loss_after_longest'], 5)}.")
    return out


def headline(doc):
    """The README's headline table: per problem at its longest horizon, each estimator's cosine
    and relative error for the problem's main kind, its extra memory and its time in training
    runs (the numbers of the accuracy table, nothing else)."""
    runs = ok_runs(doc)
    lines = ["| problem, T | estimator | cosine | rel. error | extra memory | time (training runs) |",
             "|---|---|---|---|---|---|"]
    for problem, kind in MAIN_KIND.items():
        horizons = sorted({r["iters"] for r in runs if r["problem"] == problem})
        if not horizons:
            continue
        t = horizons[-1]
        for r in runs:
            if r["problem"] != problem or r["iters"] != t:
                continue
            mem = f"{r['peak_extra_bytes'] / 2**20:.3g} MiB"
            if r["estimator"] == "exact":
                lines.append(f"| {PROBLEM_TEXT[problem]}, {t} | exact | 1 | 0 | {mem} | {fmt(r['time_ratio'])} |")
            elif kind in r.get("kinds", {}) or kind + "_block" in r.get("kinds", {}):
                m = r["kinds"].get(kind) or r["kinds"][kind + "_block"]
                note = "" if kind in r["kinds"] else " (per-block sums)"
                lines.append(f"| {PROBLEM_TEXT[problem]}, {t} | {short_label(r['label'])}{note} | {fmt(m['cosine'])} | "
                             f"{fmt(m['rel_error'])} | {mem} | {fmt(r['time_ratio'])} |")
            else:
                lines.append(f"| {PROBLEM_TEXT[problem]}, {t} | {short_label(r['label'])} | not applicable | | "
                             f"{mem} | {fmt(r['time_ratio'])} |")
    return lines


def section(bench, results):
    """The report section's lines ([] when bench_estimators.json is not there)."""
    doc = load(bench)
    if doc is None:
        return []
    pareto = pareto_figure(doc, results)
    horizon = horizon_figure(doc, results)
    meta_png = meta_figure(doc, bench, results)
    ctx = doc["context"]
    size = "full (BENCH_FULL=1)" if ctx.get("full") else ("smoke" if ctx.get("smoke") else "small (make bench)")
    lines = ['<a id="estimators"></a>', "## Exact against approximate hypergradients", "",
             f"Run: {size}, {ctx.get('start_time')} → {ctx.get('end_time')}, revision "
             f"`{ctx.get('git_revision')}` (dirty: {ctx.get('git_dirty')}), {ctx.get('host')}. "
             f"Data: {ctx.get('data', GENERATED)}. Every approximate estimator "
             "except truncated trains in float64 with "
             "the fixed-point run's momentum factors (they differ from the exact run by its 2^-52 "
             "rounding). Memory: peak heap above the start of the call (measured); time: the "
             "call's seconds over one float64 training run's, timed in the same process. Truncated "
             "backpropagation reverses the exact fixed-point run for its last K steps; its memory is "
             "that run's information buffer for all T steps (float64 truncated backpropagation would "
             "store K states, K·2P doubles, instead).", "",
             f"![Pareto]({os.path.relpath(pareto, results)})", "",
             f"![Horizon]({os.path.relpath(horizon, results)})", ""]
    if meta_png:
        lines += [f"![Learned schedules]({os.path.relpath(meta_png, results)})", ""]
    lines += ["**Measured facts.**", ""]
    lines += conclusions(doc)
    lines += ["", "| problem | T | estimator | kind | cosine | rel. error | sign agreement | "
              "extra bytes | time (runs) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in doc["accuracy"]:
        if "error" in r:
            lines.append(f"| {r['problem']} | {r['iters']} | {r['label']} | — | error: {r['error'][:80]} | | | | |")
            continue
        if r["estimator"] == "exact" or not r.get("kinds"):
            lines.append(f"| {r['problem']} | {r['iters']} | {r['label']} | (reference) | | | | "
                         f"{r['peak_extra_bytes']:,} | {fmt(r['time_ratio'])} |")
            continue
        for kind, m in r["kinds"].items():
            lines.append(f"| {r['problem']} | {r['iters']} | {r['label']} | {kind} | {fmt(m['cosine'])} | "
                         f"{fmt(m['rel_error'])} | {fmt(m['sign_agreement'])} | {r['peak_extra_bytes']:,} | "
                         f"{fmt(r['time_ratio'])} |")
    lines += ["", "Kinds an estimator gives no signal for are not listed (not applicable, not an "
              "error of 100 %): the implicit methods only estimate θ; greedy gives no w_0, v_0, θ; "
              "forward mode gives the per-block reductions (alpha_block, gamma_block, log_init_scale).",
              "", "**Meta-optimisation** (Fig-2 schedules, T = "
              f"{doc.get('meta_optimisation_settings', {}).get('iters')}, "
              f"{doc.get('meta_optimisation_settings', {}).get('meta_iters')} meta-iterations, "
              "authors' Adam step 0.04; learned schedules in bench_estimators.h5 under /meta/)", "",
              "| estimator | final training loss | final validation loss | seconds |", "|---|---|---|---|"]
    for m in doc.get("meta_optimisation", []):
        if "error" in m:
            lines.append(f"| {m['label']} | error: {m['error'][:80]} | | |")
        else:
            lines.append(f"| {m['label']} | {fmt(m['final_train_loss'], 5)} | {fmt(m['final_valid_loss'], 5)} | "
                         f"{fmt(m['seconds'])} |")
    lines += ["", "**Short-horizon bias** (one constant α for every block, γ = 0.9, chosen by "
              "bisection on the sign of the exact hypergradient of the training loss after T steps, "
              "log α in the recorded range; a diverged trial counts as α too large)", "",
              "| horizon T | chosen α | loss at T | loss after the longest horizon |", "|---|---|---|---|"]
    for r in doc.get("short_horizon", []):
        if "error" in r:
            lines.append(f"| {r['horizon']} | error: {r['error'][:80]} | | |")
            continue
        lines.append(f"| {r['horizon']} | {chosen_alpha(r)} | {fmt(r['loss_at_horizon'], 5)} | "
                     f"{fmt(r['loss_after_longest'], 5)} |")
    rows = doc.get("short_horizon_schedule", [])
    if rows:
        lines += ["", "Short horizons with a schedule (one α_t per step, from the constant α chosen above, "
                  "meta-optimised by the authors' Adam, step 0.1):", "",
                  "| horizon T | mean α_t | last α_t | loss at T |", "|---|---|---|---|"]
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['horizon']} | error: {r['error'][:80]} | | |")
            else:
                lines.append(f"| {r['horizon']} | {fmt(r['mean_alpha'])} | {fmt(r['last_alpha'])} | "
                             f"{fmt(r['loss_at_horizon'], 5)} |")
    return lines


def main():
    """Renders the figures and writes the section alone to RESULTS/estimators_section.md (the
    report includes it through report.py)."""
    args = common.parse_args(__doc__, bench=True)
    bench = args.bench or os.path.join(args.results, "bench")
    if os.environ.get("HEADLINE"):
        print("\n".join(headline(load(bench))))
        return
    lines = section(bench, args.results)
    if not lines:
        raise SystemExit(f"{os.path.join(bench, FILE)} not found: run make bench-estimators first")
    path = os.path.join(args.results, "estimators_section.md")
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
