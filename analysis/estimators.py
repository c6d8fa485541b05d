"""Exact against approximate hypergradients: renders results/figures/estimators_pareto.png,
estimators_horizon.png and estimators_meta.png from bench_estimators.json (written by `make
bench-estimators`, the small version inside `make bench`) and provides the report section "Exact
against approximate hypergradients" (report.py calls section()).

Reads the JSON files only (bench_estimators.json; bench_estimators_repeat.json, written by
estimators_compare.py, when present; bench_hypergrad.json for the README's memory numbers when
present); it never reruns the benchmark. Every sentence of the section's facts is computed from
the numbers in those files.
"""
import json
import math
import os

import common
import matplotlib.pyplot as plt
import numpy as np

FILE = "bench_estimators.json"
REPEAT_FILE = "bench_estimators_repeat.json"
GENERATED = "generated data of MNIST's shape"
# The kind each problem is judged by in the figures and the facts.
MAIN_KIND = {"fig2": "alpha", "fig6": "theta", "fig7": "theta"}
PROBLEM_TEXT = {"fig2": "Fig-2 schedules (784-50-50-50-10)", "fig6": "Fig-6 per-weight L2",
                "fig7": "Fig-7 learned data"}
OBJECTIVE_TEXT = {"fig2": "the training loss (mean NLL on the 1,000 training rows at w_T, as Fig 2)",
                  "fig6": "the validation loss (mean NLL on the 1,000 validation rows at w_T, no penalty)",
                  "fig7": "the validation loss (mean NLL on the 1,000 validation rows at w_T, no penalty)"}
MARKERS = {"exact": "*", "drmad": "s", "greedy": "v", "forward": "D", "es": "o", "pes": "P",
           "neumann": "^", "cg": "<", "truncated": ">"}
# A kind is "negligible" when changing every hyperparameter of it by its own size changes f, to
# first order, by less than f's float64 resolution: ‖∂f/∂x‖₂·‖x‖₂ < 2^-52·|f| (Cauchy–Schwarz
# bounds |Σ ∂f/∂x_i·x_i| by the product). Its relative metrics would measure noise.
EPS = 2.0 ** -52
# The Pareto figure's y axis ends here; larger errors and non-finite estimates are drawn at the
# edge with their own markers and values.
CLIP = 1e3


def load(bench, name=FILE):
    path = os.path.join(bench, name)
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


def fmt(x, digits=3):
    if x is None:
        return "—"
    if isinstance(x, float) and not math.isfinite(x):
        return "non-finite"
    if isinstance(x, float) and (abs(x) >= 1e4 or (abs(x) < 1e-3 and x != 0)):
        return f"{x:.2e}"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def mib(b):
    return f"{b / 2**20:.3g} MiB"


def exact_norms(doc):
    """(problem, T) → {kind: ‖∂f/∂x‖·‖x‖ bound, "f": f} from the exact rows."""
    out = {}
    for r in ok_runs(doc):
        if r["estimator"] == "exact" and "f" in r:
            case = {k: m["exact_norm"] * m["hyper_norm"] for k, m in r.get("kinds", {}).items() if "hyper_norm" in m}
            case["f"] = r["f"]
            out[(r["problem"], r["iters"])] = case
    return out


def negligible(norms, problem, iters, kind):
    case = norms.get((problem, iters), {})
    if kind not in case:
        return False
    return case[kind] < EPS * abs(case["f"])


def fmt_cos(m):
    """A cosine: "+1 (1 value)" for a one-value vector (±1 trivially); "1 − 3.2e-05" for cosines
    within 1e-3 of ±1 (three digits would show 1)."""
    c = m["cosine"]
    if c is None:  # NaN in the file (0/0)
        return "—"
    if m.get("values") == 1:
        return f"{'+' if c > 0 else '−'}1 (1 value: sign only)" if c != 0 else "0 (1 value)"
    if abs(c) >= 0.999:
        gap = 1 - abs(c)
        sign = "" if c > 0 else "−"
        return f"{sign}1" + (f" − {gap:.1e}" if gap > 0 else " (to 16 digits)")
    return fmt(c)


def metric_cells(m, neg):
    """cosine, relative error, sign agreement cells of one kind."""
    if m.get("nonfinite"):
        return [f"non-finite ({m['nonfinite']:,} of {m['values']:,} values)", "", ""]
    if neg:
        return ["negligible (‖exact‖ " + fmt(m["exact_norm"]) + ")", "", ""]
    sign = f"{fmt(m['sign_agreement'])} of {m['sign_counted']:,}"
    return [fmt_cos(m), fmt(m["rel_error"]), sign]


def time_cell(r):
    if "time_ratio" not in r:
        return ""
    if r.get("repeats", 1) > 1:
        return f"{fmt(r['time_ratio'])} ({fmt(r['time_ratio_min'])}–{fmt(r['time_ratio_max'])}, n={r['repeats']})"
    return f"{fmt(r['time_ratio'])} (1 sample)"


# Panels: (problem, kind, title).
PANELS = [("fig2", "alpha", "Fig-2 schedules: ∂f/∂α (T × 8)"),
          ("fig2", "alpha_block", "Fig-2: per-block constant α (8)"),
          ("fig6", "theta", "Fig-6 per-weight L2: ∂f/∂λ"),
          ("fig7", "theta", "Fig-7 learned data: ∂f/∂(λ, pixels)")]


def pareto_figure(doc, results):
    runs = ok_runs(doc)
    norms = exact_norms(doc)
    panels = [p for p in PANELS if any(r["problem"] == p[0] for r in runs)]
    # Two panels per row, large enough for the labels of estimators that share a memory size.
    cols = min(2, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, grid = plt.subplots(rows, cols, figsize=(7.2 * cols, 5.6 * rows), squeeze=False)
    for extra in grid.flat[len(panels):]:
        extra.set_visible(False)
    axes = [list(grid.flat[:len(panels)])]
    ratios = [r["time_ratio"] for r in runs if r.get("time_ratio", 0) > 0]
    norm = plt.matplotlib.colors.LogNorm(vmin=min(ratios), vmax=max(ratios))
    sc = None
    for ax, (problem, kind, title) in zip(axes[0], panels):
        clipped = False
        used = {}  # label positions (rounded, log scale) already taken: the next one goes below
        for r in runs:
            if r["problem"] != problem:
                continue
            mem = max(r["peak_extra_bytes"], 1)
            if r["estimator"] == "exact":
                # The reference (error 0 by definition): its memory as a line.
                ax.axvline(mem, color="0.6", ls=":", lw=0.8)
                ax.annotate(f'exact T={r["iters"]}', (mem, 0.02), fontsize=6,
                            xycoords=("data", "axes fraction"), rotation=90, va="bottom", ha="right")
                continue
            m = r.get("kinds", {}).get(kind)
            if m is None or negligible(norms, problem, r["iters"], kind):
                continue
            label = f'{short_label(r["label"])} T={r["iters"]}'
            if m.get("nonfinite"):
                err, marker, label = CLIP, "X", label + " (non-finite)"
                clipped = True
            elif m["rel_error"] > CLIP:
                err, marker, label = CLIP, MARKERS.get(r["estimator"], "o"), label + f" ({m['rel_error']:.1e})"
                clipped = True
                ax.annotate("", (mem, CLIP * 1.6), (mem, CLIP), arrowprops={"arrowstyle": "->", "lw": 0.6})
            else:
                err, marker = max(m["rel_error"], 1e-16), MARKERS.get(r["estimator"], "o")
            sc = ax.scatter(mem, err, c=[r["time_ratio"]], norm=norm, cmap="viridis", marker=marker, s=60,
                            edgecolors="k", linewidths=0.4, zorder=3)
            if err == CLIP:
                # Clipped estimates share one height: their labels go up at an angle, above the line.
                ax.annotate(label, (mem, err), fontsize=6, xytext=(0, 12), textcoords="offset points",
                            rotation=55, va="bottom", ha="left")
            else:
                spot = (round(math.log10(mem), 1), round(math.log10(err) * 4))
                n = used.get(spot, 0)
                used[spot] = n + 1
                ax.annotate(label, (mem, err), fontsize=6, xytext=(4, 2 - 7 * n), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_yscale("log")
        if clipped:
            # Room above the line for the clipped estimates' slanted labels: 0.6 of the decades
            # below it, so the labels stay inside the panel whatever its range.
            bottom = ax.get_ylim()[0]
            ax.set_ylim(top=10 ** (math.log10(CLIP) + 0.6 * (math.log10(CLIP) - math.log10(bottom))))
        if clipped:
            ax.axhline(CLIP, color="C3", lw=0.6, ls="--")
            title += f"\n(red line: error > {CLIP:g} or non-finite, value in the label)"
        ax.set_xlabel("peak extra heap memory (bytes, measured)")
        if ax is axes[0][0]:
            ax.set_ylabel("relative L2 error against the exact hypergradient")
        ax.set_title(title, fontsize=9)
    if sc is not None:
        fig.colorbar(sc, ax=grid.ravel().tolist(), label="time / one training run (median)")
    return common.save(fig, results, "estimators_pareto")


def horizon_figure(doc, results):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sh = [r for r in doc.get("short_horizon", []) if "error" not in r]
    if sh:
        h = [r["horizon"] for r in sh]
        axes[0].loglog(h, [r["alpha"] for r in sh], "o-", label="best constant α")
        sched = {r["horizon"]: r for r in doc.get("short_horizon_schedule", []) if "error" not in r}
        hs = [x for x in h if x in sched]
        if hs:
            axes[0].loglog(hs, [sched[x]["mean_alpha"] for x in hs], "d--", color="C2",
                           label="learned schedule: mean α_t")
        axes[0].set_xlabel("horizon T (steps) of the meta-objective")
        axes[0].set_ylabel("learning rate α")
        axes[0].legend(fontsize=7, loc="upper left")
        ax2 = axes[0].twinx()
        ax2.semilogx(h, [r["loss_after_longest"] for r in sh], "s:", color="C1")
        ax2.set_ylabel(f'training loss after {sh[0]["longest"]} steps with that α (orange)')
        axes[0].set_title("short-horizon bias (grid + exact-hypergradient refinement)", fontsize=9)
    runs = ok_runs(doc)
    norms = exact_norms(doc)
    for label in sorted({r["label"] for r in runs if r["estimator"] != "exact" and r["problem"] == "fig2"}):
        pts = sorted((r["iters"], r["kinds"]["alpha"]["cosine"]) for r in runs
                     if r["problem"] == "fig2" and r["label"] == label and "cosine" in r.get("kinds", {}).get("alpha", {})
                     and not negligible(norms, "fig2", r["iters"], "alpha"))
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


def case_facts(doc):
    """Per problem and horizon: the exact hypergradient's cost and the closest approximation of
    the main kind (estimates with non-finite values or of a negligible kind are left out)."""
    out = []
    runs = ok_runs(doc)
    norms = exact_norms(doc)
    exact = {(r["problem"], r["iters"]): r for r in runs if r["estimator"] == "exact"}
    for (problem, iters), ex in sorted(exact.items()):
        kind = MAIN_KIND[problem]
        cands = [r for r in runs if r["problem"] == problem and r["iters"] == iters and r["estimator"] != "exact"
                 and "cosine" in r.get("kinds", {}).get(kind, {})]
        bad = [r for r in runs if r["problem"] == problem and r["iters"] == iters
               and r.get("kinds", {}).get(kind, {}).get("nonfinite")]
        line = (f"- {PROBLEM_TEXT[problem]}, T = {iters}: the exact hypergradient took "
                f"{time_cell(ex)} training runs and {ex['peak_extra_bytes']:,} extra bytes")
        if cands:
            # Closest by relative error (it sees scale as well as direction); the highest cosine
            # is named too where another estimator has it.
            best = min(cands, key=lambda r: r["kinds"][kind]["rel_error"])
            m = best["kinds"][kind]
            line += (f"; the smallest relative error in ∂f/∂{kind} was {best['label']}'s "
                     f"({fmt(m['rel_error'])}, cosine {fmt_cos(m)}, {fmt(best['time_ratio'])} runs, "
                     f"{best['peak_extra_bytes']:,} bytes)")
            top = max(cands, key=lambda r: r["kinds"][kind]["cosine"])
            if top is not best:
                t = top["kinds"][kind]
                line += (f"; the highest cosine {top['label']}'s ({fmt_cos(t)}, relative error "
                         f"{fmt(t['rel_error'])})")
            good = [r for r in cands if r["kinds"][kind]["cosine"] >= 0.9]
            if good:
                # Equal memory (neumann and cg share a workspace): the smaller error first.
                cheap = min(good, key=lambda r: (r["peak_extra_bytes"], r["kinds"][kind]["rel_error"]))
                line += (f"; of those with cosine ≥ 0.9 the least memory was {cheap['label']}'s "
                         f"({cheap['peak_extra_bytes']:,} bytes, relative error "
                         f"{fmt(cheap['kinds'][kind]['rel_error'])})")
            else:
                line += "; no approximation reached cosine 0.9"
        if bad:
            line += "; non-finite estimates: " + ", ".join(
                f"{r['label']} ({r['kinds'][kind]['nonfinite']:,} of {r['kinds'][kind]['values']:,} values)" for r in bad)
        out.append(line + ".")
    return out


def forward_fact(doc):
    rows = [r for r in ok_runs(doc) if r["estimator"] == "forward"]
    errs = [(m["rel_error"], r["iters"], k) for r in rows for k, m in r.get("kinds", {}).items() if "rel_error" in m]
    if not errs:
        return []
    worst = max(errs)
    ts = sorted({r["iters"] for r in rows})
    times = ", ".join(f"{fmt(r['time_ratio'])} training runs at T = {r['iters']}"
                      for r in sorted(rows, key=lambda r: r["iters"]))
    return [f"- Forward mode (per-block constant α, γ and log initial scale: 3 × 8 directions on the "
            f"Fig-2 network, T = {', '.join(map(str, ts))}) agreed with the exact per-block sums to a "
            f"relative error of at most {worst[0]:.2e} (∂f/∂{worst[2]}, T = {worst[1]}; it differentiates "
            f"the float64 run, the exact pass the fixed-point one); it took {times}, and "
            f"{max(r['peak_extra_bytes'] for r in rows):,} extra bytes at most."]


def nonfinite_facts(doc):
    out = []
    for r in ok_runs(doc):
        bad = {k: m["nonfinite"] for k, m in r.get("kinds", {}).items() if m.get("nonfinite")}
        if bad:
            total = sum(bad.values())
            out.append(f"- {r['label']} on {PROBLEM_TEXT[r['problem']]}, T = {r['iters']}: {total:,} non-finite "
                       f"values (NaN or ±inf) in " + ", ".join(f"{k} ({v:,})" for k, v in bad.items()) +
                       "; its metrics for those kinds are not computed (table: non-finite).")
    return out


def cg_facts(doc):
    rows = [r for r in ok_runs(doc) if r["estimator"] == "cg" and r.get("diagnostics")]
    if not rows:
        return []
    parts = []
    for r in rows:
        d = r["diagnostics"]
        parts.append(f"{r['problem']} T = {r['iters']} K = {r['label'].split('terms=')[1]}: "
                     f"{int(d['cg_iterations'])} iterations, ‖r‖/‖b‖ = {d['cg_relative_residual']:.1e}")
    return ["- CG stops when ‖r‖ ≤ 1e-12·‖∇_w f‖ (its default --tolerance) or after K iterations: "
            + "; ".join(parts) + "."]


def timing_facts(doc):
    rows = [r for r in ok_runs(doc) if r.get("repeats", 1) > 1 and r["time_ratio_min"] > 0]
    single = sorted({(r["problem"], r["iters"]) for r in ok_runs(doc) if r.get("repeats", 1) == 1})
    if not rows:
        return []
    spread = max(rows, key=lambda r: r["time_ratio_max"] / r["time_ratio_min"])
    unequal = [r["label"] + f" ({r['problem']} T = {r['iters']})" for r in ok_runs(doc)
               if not r.get("repeat_bitwise_equal", True)]
    line = (f"- Times are the median of {rows[0]['repeats']} calls in one process over the median of 3 "
            f"training runs; the widest spread (max/min of a row's calls) was "
            f"{spread['time_ratio_max'] / spread['time_ratio_min']:.2f}× ({spread['label']}, "
            f"{spread['problem']} T = {spread['iters']})")
    if single:
        line += "; single samples (too costly to repeat): " + ", ".join(f"{p} T = {t}" for p, t in single)
    line += ". Repeated calls gave the same bits" + (
        "" if not unequal else " except " + ", ".join(unequal)) + "."
    return [line]


def stages_of(case):
    st = {x["stage"]: x for x in case.get("exact_stages", [])}
    return st if "reverse" in st else None


def memory_lines(doc, bench):
    """The exact estimator's extra memory, stage by stage (measured), and the README's numbers."""
    exact = {(r["problem"], r["iters"]): r for r in ok_runs(doc) if r["estimator"] == "exact"}
    rows = [(c, stages_of(c), exact[(c["problem"], c["iters"])]) for c in doc.get("cases", [])
            if stages_of(c) and (c["problem"], c["iters"]) in exact]
    if not rows:
        return []
    lines = ["", "**What the exact estimator's extra memory is made of** (bytes on the heap above the call's "
             "start, measured stage by stage on the same problem: construct the fixed-point run, train it, evaluate "
             "f and ∂f/∂w_T, reverse; *held* is what stays allocated after a stage, *peak* the most during it; the "
             "information buffer's size is the trajectory's own count; the workspaces of one meta-objective "
             "evaluation and of one minibatch gradient + Hessian-vector product are also measured alone)", "",
             "| problem | T | P | call's peak | held: fixed-point state | held after training (of it: information buffer) | "
             "peak while training | held after f | peak while reversing (= held + reverse-step workspace) | "
             "f's workspace alone | minibatch HVP workspace alone |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c, st, r in rows:
        buf = next((x["bytes"] for x in c["exact_stages"] if x["stage"] == "buffer_computed"), 0)
        rev = st["reverse"]
        lines.append(f"| {c['problem']} | {c['iters']} | {c['params']:,} | {r['peak_extra_bytes']:,} | "
                     f"{st['construct']['live_after']:,} | {st['train']['live_after']:,} ({buf:,}) | "
                     f"{st['train']['peak']:,} | {st['objective']['live_after']:,} | {rev['peak']:,} = "
                     f"{rev['live_before']:,} + {rev['peak'] - rev['live_before']:,} | {c['objective_peak_bytes']:,} | "
                     f"{c['hvp_peak_bytes']:,} |")
    worst = [(c, st, r) for c, st, r in rows]
    at_reverse = sum(1 for c, st, r in worst if st["reverse"]["peak"] >= max(st["train"]["peak"], st["objective"]["peak"]))
    lines += ["", f"In {at_reverse} of {len(worst)} cases the peak is reached while reversing: the fixed-point run's "
              "state (w and v as fixed-point integers and as float64 views), the information buffer, ∂f/∂w_T and the "
              "adjoints and hypergradient accumulators are held, and each reverse step adds the model's workspace "
              "for a gradient and a Hessian-vector product on its minibatch (the Fig-2 network runs its passes on "
              "two threads, each with its own workspace)."]
    hg = load(bench, "bench_hypergrad.json")
    fig2 = [(c, st, r) for c, st, r in rows if c["problem"] == "fig2"]
    if hg and fig2:
        readme = {}
        for b in hg.get("benchmarks", []):
            name = b["name"]
            if name.startswith("BM_Hypergradient/") and "method:reversible/buffer:fast" in name:
                t = int(name.split("iters:")[1].split("/")[0])
                readme[t] = (b["computed_peak_extra_bytes"], b["measured_peak_extra_bytes"])
        facts = []
        for c, st, r in fig2:
            if c["iters"] in readme:
                comp, meas = readme[c["iters"]]
                buf = next((x["bytes"] for x in c["exact_stages"] if x["stage"] == "buffer_computed"), 0)
                facts.append(f"T = {c['iters']}: README {comp / 1e6:.2f} MB buffer and {meas / 1e6:.2f} MB heap above a "
                             f"naive-float run; here {buf / 1e6:.2f} MB buffer and {r['peak_extra_bytes'] / 1e6:.2f} MB "
                             "peak above the call's start")
        if facts:
            lines += ["", "The README's memory headline (bench_hypergrad, `make bench`) counts the information buffer "
                      "(computed) and the heap above a naive-float run of the same steps, which holds the same "
                      "model workspaces, state and adjoints, so they cancel and the difference is the buffer and the "
                      "fixed-point run's float64 views of w and v; the numbers here count everything the call "
                      "allocates. The buffers differ a little because the runs do (bench_hypergrad: generated "
                      "inputs, α = e^-1; here MNIST, α = 0.2: the bits per step depend on the values). "
                      + "; ".join(facts) + "."]
    imp = [r for r in ok_runs(doc) if r["estimator"] in ("neumann", "cg")]
    if imp:
        lines += ["", "The implicit methods (neumann, cg) apply the Hessian of the last 10 minibatches one minibatch at "
                  f"a time; their extra memory here is {min(r['peak_extra_bytes'] for r in imp):,}–"
                  f"{max(r['peak_extra_bytes'] for r in imp):,} bytes. With the 10 minibatches' 2,000 rows as one "
                  "batch (as before revision b306455) the MLP gathered 2,000·784·8 = 12.5 MB of float64 inputs per "
                  "Hessian-vector product: 14,336,304 bytes were measured on Fig 6 in the run of revision e92c1c7."]
    return lines


def compare_lines(bench):
    """Bits of this run against other runs (estimators_compare.py), when measured."""
    doc = load(bench, REPEAT_FILE)
    if not doc:
        return []
    out = ["", "**The same bits on the same machine, other bits elsewhere** (`analysis/estimators_compare.py`, "
           f"{doc.get('date', '')}): datasets of the same name and shape in two result files, compared bit for bit."]
    for p in doc["pairs"]:
        line = (f"- {p['name']}: {p['a']['description']} against {p['b']['description']}: "
                f"{p['equal']} of {p['compared']} datasets equal bit for bit")
        if p["differ"]:
            line += (f", {p['differ']} differ (largest relative difference {p['max_relative']:.1e}, "
                     f"smallest {p['min_relative']:.1e})")
        out.append(line + ".")
    same = [p for p in doc["pairs"] if p["a"]["blas_core"] == p["b"]["blas_core"]
            and p["a"]["git_revision"] == p["b"]["git_revision"]]
    other = [p for p in doc["pairs"] if p["a"]["blas_core"] != p["b"]["blas_core"]
             and p["a"]["git_revision"] == p["b"]["git_revision"]]
    if same and other:
        same_equal = all(p["differ"] == 0 for p in same)
        out.append("- So: " + ("runs of the same code on the same OpenBLAS core gave the same bits in every "
                               "comparable dataset" if same_equal else "even runs of the same code on the same "
                               "OpenBLAS core differed") +
                   "; the same code on another core (" + ", ".join(
                       f"{p['a']['blas_core']} against {p['b']['blas_core']}: {p['differ']} of {p['compared']}"
                       for p in other) + ") gave other bits. OpenBLAS picks its kernels, and with them the "
                   "summation order of the matrix products, by CPU (issue [Q]); the files record the core "
                   "(attribute blas_core) and this section's run line names it.")
    return out


def short_horizon_facts(doc):
    sh = [r for r in doc.get("short_horizon", []) if "error" not in r]
    if len(sh) < 2:
        return []
    first, last = sh[0], sh[-1]
    ratio = first["alpha"] / last["alpha"]
    direction = "larger" if ratio > 1 else ("smaller" if ratio < 1 else "the same")
    alphas = ", ".join(f"{fmt(r['alpha'])} (T = {r['horizon']})" for r in sh)
    line = (f"- Short horizons (meta-objective: the training loss after T steps; one α for every block, "
            f"γ = 0.9): the constant α with the lowest loss over the grid and its exact-hypergradient "
            f"refinement was {alphas}: at T = {first['horizon']} "
            + (f"{fmt(ratio if ratio > 1 else 1 / ratio)}× {direction} than" if ratio != 1 else "the same as")
            + f" at T = {last['horizon']}. Wu et al. (ICLR 2018) report short horizons choosing rates too "
            f"small; in this run the shortest horizon's rate was {direction}"
            + (" as the longest's" if ratio == 1 else "") + ". Trained for "
            f"{first['longest']} steps, the T = {first['horizon']} choice ends at loss "
            f"{fmt(first['loss_after_longest'], 5)}, the T = {last['horizon']} one at "
            f"{fmt(last['loss_after_longest'], 5)} (untrained: {fmt(first['untrained_loss'], 5)}).")
    better = [r for r in sh[:-1] if r["loss_after_longest"] < last["loss_after_longest"]]
    if better:
        line += (f" The search at T = {last['horizon']} did not find the best constant rate for {last['horizon']} "
                 "steps among those tried: " + ", ".join(
                     f"the T = {r['horizon']} choice (α = {fmt(r['alpha'])}) ends {last['horizon']} steps at "
                     f"{fmt(r['loss_after_longest'], 5)}" for r in better) +
                 f", below the T = {last['horizon']} choice's {fmt(last['loss_after_longest'], 5)} (the loss after "
                 "many steps is rugged near the largest stable α, and the grid and its one-sided refinement see "
                 "only the points they try).")
    sched = [r for r in doc.get("short_horizon_schedule", []) if "error" not in r]
    if sched:
        line += (" With a learned schedule (from each constant α): mean α_t " +
                 ", ".join(f"{fmt(r['mean_alpha'])} (T = {r['horizon']}, loss {fmt(r['loss_at_horizon'], 5)})"
                           for r in sched) + ".")
        stopped = [r for r in sched if r.get("diverged_at_meta_iteration") is not None]
        if stopped:
            line += " Stopped early: " + "; ".join(
                f"T = {r['horizon']} at meta-iteration {r['diverged_at_meta_iteration']} "
                f"({r.get('diverged_message', '')[:90]})" for r in stopped) + "."
    return [line]


def conclusions(doc, bench=None):
    out = case_facts(doc) + forward_fact(doc) + nonfinite_facts(doc) + cg_facts(doc) + timing_facts(doc)
    meta = [m for m in doc.get("meta_optimisation", []) if "error" not in m]
    ex = next((m for m in meta if m["estimator"] == "exact"), None)
    if ex:
        for m in meta:
            if m is ex:
                continue
            out.append(f"- Meta-optimisation driven by {m['label']}: final training loss "
                       f"{fmt(m['final_train_loss'], 5)} against exact's {fmt(ex['final_train_loss'], 5)}, "
                       f"validation {fmt(m['final_valid_loss'], 5)} against {fmt(ex['final_valid_loss'], 5)}.")
    out += short_horizon_facts(doc)
    return out


def headline(doc):
    """The README's headline table: per problem at its longest horizon, each estimator's cosine
    and relative error for the problem's main kind, its extra memory and its time in training
    runs (the numbers of the accuracy table, nothing else); forward mode at its longest horizon."""
    runs = ok_runs(doc)
    norms = exact_norms(doc)
    lines = ["| problem, T | estimator | cosine | rel. error | extra memory | time (training runs, median) |",
             "|---|---|---|---|---|---|"]

    def row(r, kind, t, problem):
        mem = mib(r["peak_extra_bytes"])
        tm = fmt(r["time_ratio"]) + ("" if r.get("repeats", 1) > 1 else " (1 sample)")
        name = f"{PROBLEM_TEXT[problem]}, {t}"
        if r["estimator"] == "exact":
            return f"| {name} | exact | 1 | 0 | {mem} | {tm} |"
        k = kind if kind in r.get("kinds", {}) else kind + "_block"
        if k in r.get("kinds", {}):
            m = r["kinds"][k]
            note = "" if k == kind else " (per-block sums)"
            cos, err, _ = metric_cells(m, negligible(norms, problem, t, k))
            return f"| {name} | {short_label(r['label'])}{note} | {cos} | {err} | {mem} | {tm} |"
        return f"| {name} | {short_label(r['label'])} | not applicable | | {mem} | {tm} |"

    for problem, kind in MAIN_KIND.items():
        horizons = sorted({r["iters"] for r in runs if r["problem"] == problem})
        if not horizons:
            continue
        t = horizons[-1]
        for r in runs:
            if r["problem"] == problem and r["iters"] == t:
                lines.append(row(r, kind, t, problem))
        fwd = [r for r in runs if r["problem"] == problem and r["estimator"] == "forward" and r["iters"] < t]
        if fwd:
            f = max(fwd, key=lambda r: r["iters"])
            lines.append(row(f, kind, f["iters"], problem))
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
    norms = exact_norms(doc)
    size = "full (BENCH_FULL=1)" if ctx.get("full") else ("smoke" if ctx.get("smoke") else "small (make bench)")
    problems = sorted({r["problem"] for r in doc["accuracy"]})
    objectives = "; ".join(f"{PROBLEM_TEXT[p]}: {OBJECTIVE_TEXT[p]}" for p in problems)
    lines = ['<a id="estimators"></a>', "## Exact against approximate hypergradients", "",
             f"The meta-objective f each hypergradient is taken of: {objectives}. "
             "The short-horizon runs use the Fig-2 network's training loss after T steps.", "",
             f"Run: {size}, {ctx.get('start_time')} → {ctx.get('end_time')}, revision "
             f"`{ctx.get('git_revision')}` (dirty: {ctx.get('git_dirty')}), {ctx.get('host')}, OpenBLAS core "
             f"{ctx.get('blas_core', '?')}. Data: {ctx.get('data', GENERATED)}. Every approximate estimator "
             "except truncated trains in float64 with "
             "the fixed-point run's momentum factors (they differ from the exact run by its 2^-52 "
             "rounding). Memory: peak heap above the start of the call (measured, first call). Time: "
             f"{ctx.get('timing', 'one call')}; the table gives the median and, in brackets, the fastest "
             "and slowest call. Truncated "
             "backpropagation reverses the exact fixed-point run for its last K steps; its memory is "
             "that run's information buffer for all T steps (float64 truncated backpropagation would "
             "store K states, K·2P doubles, instead).", "",
             f"![Pareto]({os.path.relpath(pareto, results)})", "",
             f"![Horizon]({os.path.relpath(horizon, results)})", ""]
    if meta_png:
        lines += [f"![Learned schedules]({os.path.relpath(meta_png, results)})", ""]
    lines += ["**Measured facts.**", ""]
    lines += conclusions(doc, bench)
    lines += memory_lines(doc, bench)
    lines += compare_lines(bench)
    lines += ["", "Table: per estimator and kind. *values*: the kind's length; *‖exact‖*: the exact "
              "hypergradient's L2 norm; a kind is marked negligible when ‖exact‖·‖x‖ < 2^-52·|f| (x: the "
              "hyperparameters' own values; w_0's for v_0, which is 0; 1 per block for the log initial scales): "
              "changing all of them by their own size would change f by less than its float64 resolution, so "
              "relative metrics would measure noise. Cosines of a one-value vector are "
              "±1 whatever the value (marked: sign only); cosines within 1e-3 of ±1 are written 1 − gap. "
              "*sign agreement*: the share of the entries where the exact value is not 0 (their count after "
              "\"of\") at which the estimate has the same sign (an estimate of 0 there disagrees). Non-finite: the "
              "estimate holds NaN or ±inf (count), no metric computed.", "",
              "| problem | T | estimator | kind | values | ‖exact‖ | cosine | rel. error | sign agreement "
              "(exact ≠ 0) | extra bytes | time (runs: median (min–max, n)) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["accuracy"]:
        if "error" in r:
            lines.append(f"| {r['problem']} | {r['iters']} | {r['label']} | — | | | error: {r['error'][:80]} | | | | |")
            continue
        if r["estimator"] == "exact":
            lines.append(f"| {r['problem']} | {r['iters']} | {r['label']} | (reference) | | | | | | "
                         f"{r['peak_extra_bytes']:,} | {time_cell(r)} |")
            continue
        for kind, m in r.get("kinds", {}).items():
            cells = metric_cells(m, negligible(norms, r["problem"], r["iters"], kind))
            lines.append(f"| {r['problem']} | {r['iters']} | {r['label']} | {kind} | {m['values']:,} | "
                         f"{fmt(m['exact_norm'])} | " + " | ".join(cells) +
                         f" | {r['peak_extra_bytes']:,} | {time_cell(r)} |")
    lines += ["", "Kinds an estimator gives no signal for are not listed (not applicable, not an "
              "error of 100 %): the implicit methods only estimate θ; greedy gives no w_0, v_0, θ; "
              "forward mode gives the per-block reductions (alpha_block, gamma_block, log_init_scale).",
              "", "**Meta-optimisation** (Fig-2 schedules, training loss, T = "
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
    settings = doc.get("short_horizon_settings", {})
    lo, hi = settings.get("range_log_alpha", [None, None])
    lines += ["", "**Short-horizon bias** (meta-objective: the training loss after T steps, Fig-2 network; one "
              f"constant α for every block, γ = 0.9). The loss after T steps for log α on a grid from {lo} to {hi} "
              f"(step {settings.get('grid_step')}, float64 runs; a diverged run counts as +inf), then "
              f"{settings.get('refine_steps')} bisection steps on the sign of the exact hypergradient ∂f/∂log α "
              "between the best grid point and its neighbour downhill, each point's loss measured; the chosen α "
              "is the lowest loss of all points tried (column: from grid or refinement).", "",
              "| horizon T | chosen α (from) | loss at T | untrained loss | best grid α, its loss | grid points "
              "diverged | loss after the longest horizon |", "|---|---|---|---|---|---|---|"]
    for r in doc.get("short_horizon", []):
        if "error" in r:
            lines.append(f"| {r['horizon']} | error: {r['error'][:80]} | | | | | |")
            continue
        lines.append(f"| {r['horizon']} | {fmt(r['alpha'])} ({r['chosen_from']}) | {fmt(r['loss_at_horizon'], 5)} | "
                     f"{fmt(r['untrained_loss'], 5)} | {fmt(math.exp(r['best_grid_log_alpha']))}, "
                     f"{fmt(r['best_grid_loss'], 5)} | {r['grid_diverged']} of {len(r['grid_log_alpha'])} | "
                     f"{fmt(r['loss_after_longest'], 5)} |")
    rows = doc.get("short_horizon_schedule", [])
    if rows:
        lines += ["", "Short horizons with a schedule (one α_t per step, from the constant α chosen above, "
                  f"{settings.get('schedule_meta_iters')} meta-iterations of the authors' Adam, step 0.1, on exact "
                  "hypergradients; the visited schedule with the lowest loss is kept, the first being the constant; "
                  "a schedule whose run left the fixed-point range, or whose exact hypergradient was not finite, "
                  "ends the search):", "",
                  "| horizon T | mean α_t | first, last α_t | min–max α_t | loss at T | kept meta-iteration | "
                  "stopped at |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['horizon']} | error: {r['error'][:80]} | | | | | |")
            else:
                div = r.get("diverged_at_meta_iteration")
                lines.append(f"| {r['horizon']} | {fmt(r['mean_alpha'])} | {fmt(r['first_alpha'])}, "
                             f"{fmt(r['last_alpha'])} | {fmt(r['min_alpha'])}–{fmt(r['max_alpha'])} | "
                             f"{fmt(r['loss_at_horizon'], 5)} | {r['best_meta_iteration']} of {r['meta_iterations']} | "
                             f"{'—' if div is None else str(div) + ': ' + r.get('diverged_message', '')} |")
    return lines


def main():
    """Renders the figures and writes the section alone to RESULTS/estimators_section.md (the
    report includes it through report.py). HEADLINE=1 prints the README's headline table."""
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
