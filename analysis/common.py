"""Shared helpers for the analysis scripts: where results are, reading HDF5, paper-like style,
saving figures as PNG and PDF, and the comparison rows of REPORT.md.

Run with Debian's /usr/bin/python3 (h5py, matplotlib, numpy). Analysis never recomputes an
experiment: it only reads the HDF5 files the targets wrote.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# A quiet style close to the paper's figures.
plt.rcParams.update({
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
})


def parse_args(description, bench=False):
    """--results DIR (default results): where the HDF5 files are; figures go to DIR/figures.
    With bench=True also --bench DIR: the benchmark JSON (default RESULTS/bench)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--results", default="results",
                        help="results folder (results, or results/quick for QUICK=1 runs)")
    if bench:
        parser.add_argument("--bench", default=None,
                            help="benchmark JSON folder (default RESULTS/bench, from make bench)")
    args = parser.parse_args()
    if not os.path.isdir(args.results):
        parser.error(f"--results {args.results}: not a folder")
    if bench and args.bench is not None and not os.path.isdir(args.bench):
        parser.error(f"--bench {args.bench}: not a folder")
    return args


def result_path(results, name):
    return os.path.join(results, name + ".h5")


def load(results, name):
    """The HDF5 file of experiment `name`; a clear error if the target has not been run."""
    path = result_path(results, name)
    if not os.path.exists(path):
        raise SystemExit(f"{path} not found: run the experiment first (make {name.split('_')[0]})")
    return h5py.File(path, "r")


def save(fig, results, number):
    """Writes results/figures/figNN.png and .pdf and returns the PNG path."""
    folder = os.path.join(results, "figures")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, number)
    fig.savefig(stem + ".png", dpi=150)
    fig.savefig(stem + ".pdf")
    plt.close(fig)
    print(f"wrote {stem}.png and .pdf")
    return stem + ".png"


def figure(results, number, name, render):
    """The figure's PNG, rendered again only if missing or older than its HDF5 file."""
    png = os.path.join(results, "figures", number + ".png")
    if not os.path.exists(png) or os.path.getmtime(png) < os.path.getmtime(result_path(results, name)):
        render(results)
    return png


def mosaic(images, rows, cols, padding=2):
    """Tiles images (N × h × w) into one rows × cols picture with `padding` NaN pixels between
    them (drawn as background)."""
    n, h, w = images.shape
    out = np.full((rows * h + (rows - 1) * padding, cols * w + (cols - 1) * padding), np.nan)
    for i in range(min(n, rows * cols)):
        r, c = divmod(i, cols)
        out[r * (h + padding):r * (h + padding) + h, c * (w + padding):c * (w + padding) + w] = images[i]
    return out


def text(value):
    """An HDF5 attribute as a Python value (bytes → str, numpy scalars → Python)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


class Row:
    """One line of a report table: a quantity, the reference value, ours, their relative
    difference, and whether they agree within the stated (justified) tolerance."""

    def __init__(self, quantity, paper, ours, agree, tolerance, diff="—"):
        self.quantity, self.paper, self.ours = quantity, paper, ours
        self.agree, self.tolerance, self.diff = agree, tolerance, diff

    def markdown(self):
        verdict = "—" if self.agree is None else ("yes" if self.agree else "**no**")
        return (f"| {self.quantity} | {self.paper} | {self.ours} | {self.diff} | {verdict} "
                f"| {self.tolerance} |")


def relative(ours, reference):
    """|ours − reference| / |reference| (inf when ours is not finite)."""
    if not np.isfinite(ours):
        return float("inf")
    return abs(ours - reference) / abs(reference)


def compare(quantity, reference, ours, rtol, why, digits=4, reference_text=None):
    """A row comparing a number with its reference: agrees when the relative difference is at
    most `rtol`; `why` says what justifies that tolerance."""
    rel = relative(ours, reference)
    fmt = f"{{:.{digits}g}}"
    return Row(quantity, reference_text or fmt.format(reference),
               fmt.format(ours) if np.isfinite(ours) else str(ours), rel <= rtol,
               f"{rtol:.0e} rel.: {why}", f"{rel:.1e}")


def justified_rtol(ours, perturbed, base_rtol, base_why):
    """The tolerance of a comparison with the authors' value: `base_rtol` (what fixed point and
    another summation order can move; `base_why` says so), or, where the quantity is sensitive,
    three times how far the same run with the other information buffer moved it. That run pops
    other exact digits, a change of v below 1.5e-11 per step: a perturbation of the size of the
    differences from the authors' float64 runs, measured rather than guessed."""
    if perturbed is None or not np.isfinite(perturbed) or not np.isfinite(ours) or ours == 0:
        return base_rtol, base_why
    move = abs(perturbed - ours) / abs(ours)
    if 3 * move <= base_rtol:
        return base_rtol, base_why
    return 3 * move, f"sensitive: the other buffer moves it {move:.0e}; 3×"


def compare_sensitive(quantity, reference, ours, perturbed, base_rtol, base_why, digits=4,
                      reference_text=None):
    """compare() with the tolerance of justified_rtol()."""
    rtol, why = justified_rtol(ours, perturbed, base_rtol, base_why)
    return compare(quantity, reference, ours, rtol, why, digits, reference_text)


def printed_rtol(text):
    """Half a unit of the last printed digit of a reference value, relative ("0.531" → 9.4e-4):
    the reference itself is known no better."""
    mantissa = text.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    value = abs(float(text))
    scale = 10.0 ** int(text.lower().split("e")[1]) if "e" in text.lower() else 1.0
    return 0.5 * 10.0 ** (-decimals) * scale / value


def compare_printed(quantity, reference_text, ours, perturbed, digits=4):
    """A comparison with a reference printed to a few digits: the tolerance is its rounding plus
    1e-3 (fixed point vs float64, summation order), or the measured sensitivity if larger."""
    base = printed_rtol(reference_text) + 1e-3
    return compare_sensitive(quantity, float(reference_text), ours, perturbed, base,
                             "reference's printed digits + 1e-3", digits, reference_text)


def load_perturbed(results, name):
    """The same target run with the other buffer (make reproduce writes it under
    RESULTS/sensitivity/), or None."""
    path = os.path.join(results, "sensitivity", name + ".h5")
    return h5py.File(path, "r") if os.path.exists(path) else None


class Section:
    """What a figure contributes to REPORT.md."""

    def __init__(self, number, title, image, claim, rows, notes, h5):
        self.number, self.title, self.image, self.claim = number, title, image, claim
        self.rows, self.notes = rows, notes
        self.provenance = {key: text(h5.attrs[key]) for key in (
            "command_line", "git_revision", "git_dirty", "start_time", "end_time", "host",
            "build_type", "quick", "seed", "rng", "buffer", "blas_threads", "gemm_kernel",
            "blas_core", "libm_build", "tanh_libm")
            if key in h5.attrs}


def close(ours, paper, relative):
    return bool(np.isfinite(ours)) and abs(ours - paper) <= relative * abs(paper)
