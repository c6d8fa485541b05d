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
    return parser.parse_args()


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
    """One line of a report table: a quantity, the paper's value, ours, and whether they agree
    within the stated tolerance."""

    def __init__(self, quantity, paper, ours, agree, tolerance):
        self.quantity, self.paper, self.ours = quantity, paper, ours
        self.agree, self.tolerance = agree, tolerance

    def markdown(self):
        verdict = "—" if self.agree is None else ("yes" if self.agree else "**no**")
        return f"| {self.quantity} | {self.paper} | {self.ours} | {verdict} | {self.tolerance} |"


class Section:
    """What a figure contributes to REPORT.md."""

    def __init__(self, number, title, image, claim, rows, notes, h5):
        self.number, self.title, self.image, self.claim = number, title, image, claim
        self.rows, self.notes = rows, notes
        self.provenance = {key: text(h5.attrs[key]) for key in (
            "command_line", "git_revision", "git_dirty", "start_time", "end_time", "host",
            "build_type", "quick", "seed") if key in h5.attrs}


def close(ours, paper, relative):
    return bool(np.isfinite(ours)) and abs(ours - paper) <= relative * abs(paper)
