"""Writes REPORT.md: for each figure whose results exist, the picture, the paper's claim and
numbers, ours, whether they agree (with the tolerance), and how the run was made.

Each analysis/figNN.py contributes a section through its section(results) function; adding a
figure needs no change here. Sections beyond the paper (BEYOND: analysis/adam.py) follow the
figures. The benchmarks' "Memory and exactness" section (analysis/bench.py)
follows when their JSON exists (make bench), then "Exact against approximate
hypergradients" (analysis/estimators.py) when bench_estimators.json exists.
"""
import glob
import importlib
import os
import sys

import bench
import estimators
import common

BEYOND = ("adam",)  # analysis modules of experiments beyond the paper, after the figures


def arithmetic_summary(sections):
    """One paragraph on what decides the results' last bits, from the files' own attributes:
    the matrix product kernel, OpenBLAS's core and glibc's build of exp/log."""
    if not sections:
        return ("**Arithmetic.** No result files were found, so nothing here says which matrix "
                "product, OpenBLAS core or exp/log build made them.")

    def values(key):
        return sorted({s.provenance.get(key, "not recorded") for s in sections})
    gemm, cores = values("gemm_kernel"), values("blas_core")
    libm = sorted({v.split(" (")[0] for v in values("libm_build")})
    text = (f"**Arithmetic.** Matrix products: {', '.join(f'`{g}`' for g in gemm)}; OpenBLAS core: "
            f"{', '.join(cores)}; glibc's exp/log build: {', '.join(libm)} "
            f"(the files' `gemm_kernel`, `blas_core` and `libm_build` attributes). ")
    if gemm == ["portable"] and libm == ["fma"]:
        text += ("Every result here comes from the portable matrix product (each entry summed in "
                 "increasing k, no fused multiply-add), which gives the same bits under every "
                 "OpenBLAS core, and from glibc's FMA build of exp and log, which glibc picks on "
                 "every x86-64 CPU with FMA and AVX2: so these files are the same bits on any such "
                 "CPU (`tests/gemm_cross_kernel_test.sh` checks two OpenBLAS cores).")
    else:
        text += ("Not every result comes from the portable product and glibc's FMA build: their "
                 "last bits depend on the CPU that made them.")
    return text


def main():
    args = common.parse_args(__doc__, bench=True)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    sections, missing = [], []
    names = [os.path.splitext(os.path.basename(p))[0]
             for p in sorted(glob.glob(os.path.join(here, "fig[0-9][0-9].py")))] + list(BEYOND)
    for name in names:
        module = importlib.import_module(name)
        if not os.path.exists(common.result_path(args.results, module.NAME)):
            missing.append(module.NUMBER)
            continue
        sections.append(module.section(args.results))

    quick = os.path.basename(os.path.normpath(args.results)) == "quick"
    lines = ["# Reproduction report", ""]
    lines.append("*Gradient-based Hyperparameter Optimization through Reversible Learning* "
                 "(Maclaurin, Duvenaud & Adams, ICML 2015): the paper's numbers next to ours.")
    if quick:
        lines.append("")
        lines.append("**Quick run** (`make reproduce QUICK=1`): small grids and few "
                     "meta-iterations; numbers are for checking the pipeline, not the paper.")
    lines += ["", arithmetic_summary(sections)]
    lines += ["", "| figure | quantities agreeing |", "|---|---|"]
    for s in sections:
        judged = [r for r in s.rows if r.agree is not None]
        lines.append(f"| [{s.title}](#{s.number}) | {sum(bool(r.agree) for r in judged)} of {len(judged)} |")
    bench_lines = bench.section(args.bench or os.path.join(args.results, "bench"), args.results)
    if bench_lines:
        lines.append("| [Memory and exactness (benchmarks)](#bench) | see its targets table |")
    estimator_lines = estimators.section(args.bench or os.path.join(args.results, "bench"), args.results)
    if estimator_lines:
        lines.append("| [Exact against approximate hypergradients](#estimators) | measured facts |")
    if missing:
        lines.append("")
        lines.append("Not yet run or not yet implemented: " + ", ".join(missing) + ".")
    for s in sections:
        rel = os.path.relpath(s.image, args.results)
        lines += ["", f'<a id="{s.number}"></a>', f"## {s.title}", "", f"![{s.number}]({rel})", "",
                  f"**Paper's claim.** {s.claim}", "",
                  "| quantity | reference | ours | rel. diff | agree | tolerance |",
                  "|---|---|---|---|---|---|"]
        lines += [r.markdown() for r in s.rows]
        lines += ["", s.notes, "", "<details><summary>How this was made</summary>", ""]
        lines += [f"- {key}: `{value}`" for key, value in s.provenance.items()]
        lines += ["", "</details>"]
    if bench_lines:
        lines += [""] + bench_lines
    if estimator_lines:
        lines += [""] + estimator_lines
    path = os.path.join(args.results, "REPORT.md")
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
