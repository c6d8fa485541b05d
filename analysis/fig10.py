"""Fig 10: training loss and its gradient against the log learning rate (chaos at high rates)."""
import numpy as np

import common
from common import Row, Section

NAME, NUMBER = "fig10_chaos", "fig10"


def render(results):
    f = common.load(results, NAME)
    import matplotlib.pyplot as plt
    x, loss, grad = f["log_alpha"][:], f["loss"][:], f["gradient"][:]
    diverged = f["diverged"][:].astype(bool)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 4), sharex=True)
    top.plot(x, np.where(diverged, np.nan, loss), color="blue", linewidth=1)
    top.set_ylabel("Training loss")
    top.set_ylim(0, 0.1)
    bottom.plot(x, np.where(diverged, np.nan, grad), color="black", linewidth=0.8)
    bottom.set_ylabel("Gradient")
    bottom.set_ylim(-0.5, 0.5)
    bottom.set_xlabel("Log learning rate")
    bottom.set_xticks([1.0, 1.5, 2.0])
    if diverged.any():
        top.text(0.99, 0.95, f"{diverged.sum()} diverged runs not shown", ha="right", va="top",
                 transform=top.transAxes, fontsize=7)
    return common.save(fig, results, NUMBER), f


def section(results):
    image = common.figure(results, NUMBER, NAME, render)
    f = common.load(results, NAME)
    x, loss, grad = f["log_alpha"][:], f["loss"][:], f["gradient"][:]
    ok = ~f["diverged"][:].astype(bool) & np.isfinite(loss)
    best = int(np.nanargmin(np.where(ok, loss, np.nan)))
    big = ok & (np.abs(grad) > 0.5)
    first_big = float(x[np.argmax(big)]) if big.any() else float("nan")
    spacing = (x[-1] - x[0]) / max(len(x) - 1, 1)
    rows = [
        Row("log α of the loss minimum", "1.659", f"{x[best]:.3f}",
            abs(x[best] - 1.659) <= max(0.15, spacing), "±0.15 (or one grid step)"),
        Row("minimum loss", "0.00244", f"{loss[best]:.5f}", 0.5 <= loss[best] / 0.00244 <= 2,
            "within a factor of 2"),
        Row("first log α with \\|gradient\\| > 0.5", "1.483", f"{first_big:.3f}",
            bool(np.isfinite(first_big)) and abs(first_big - 1.483) <= max(0.2, spacing),
            "±0.2 (or one grid step)"),
    ]
    for value, paper in ((0.5, 0.0288), (1.0, 0.0096), (1.5, 0.0043)):
        i = int(np.argmin(np.abs(x - value)))
        rows.append(Row(f"loss at log α ≈ {value} (ours at {x[i]:.3f})", f"{paper}", f"{loss[i]:.4f}",
                        common.close(loss[i], paper, 0.5), "±50% (another w_0 draw)"))
    shares = []
    for low, high, paper in ((0.5, 1.0, "0%"), (1.0, 1.5, "1.2%"), (1.5, 2.0, "41%"),
                             (2.0, 2.5001, "96%")):
        inside = ok & (x >= low) & (x < high)
        share = 100.0 * big[inside].sum() / max(inside.sum(), 1)
        shares.append(share)
        rows.append(Row(f"share of \\|gradient\\| > 0.5 in [{low}, {min(high, 2.5)})", paper,
                        f"{share:.1f}% of {inside.sum()}", None, "shape only"))
    rising = shares[0] <= 5 and shares[-1] >= 80 and shares[2] >= shares[1]
    for row in rows[-4:]:
        row.agree = rising
    if "seeds" in f:
        grid, seeds = f["seeds/log_alpha"][:], f["seeds/seed"][:]
        onsets, minima = [], []
        for loss_s, grad_s in zip(f["seeds/loss"][:], f["seeds/gradient"][:]):
            finite = np.isfinite(loss_s)
            wild = finite & (np.abs(grad_s) > 0.5)
            onsets.append(float(grid[np.argmax(wild)]) if wild.any() else float("nan"))
            minima.append(float(grid[np.nanargmin(np.where(finite, loss_s, np.nan))]))
        step = grid[1] - grid[0]
        rows.append(Row(f"first \\|gradient\\| > 0.5, {len(seeds)} other initial draws (grid step {step:.2f})",
                        "1.483", ", ".join(f"{v:.2f}" for v in onsets),
                        bool(min(onsets) - 0.2 <= 1.483 <= max(onsets) + 0.2), "paper within the range ±0.2"))
        rows.append(Row(f"log α of the loss minimum, {len(seeds)} other initial draws", "1.659",
                        ", ".join(f"{v:.2f}" for v in minima),
                        bool(min(minima) - 0.2 <= 1.659 <= max(minima) + 0.2), "paper within the range ±0.2"))
    onset_note = ""
    if "seeds" in f:
        onset_note = (f" Over {1 + len(onsets)} initial draws the first \\|gradient\\| > 0.5 falls at "
                      f"{min([first_big] + onsets):.2f}–{max([first_big] + onsets):.2f}, later than the "
                      "paper's 1.48 every time, so the later onset of chaos is not the draw: our runs "
                      "stay stable to somewhat higher learning rates. The loss values at moderate "
                      "rates agree closely; we have not found a setting that explains the shift.")
    notes = (f"{len(x)} learning rates ({'quick run: coarse grid' if len(x) < 1000 else 'as the paper'}); "
             f"{int((~ok).sum())} runs diverged (weights left ±2048) and are recorded as such. "
             "The share rows agree when the gradient is tame below log α = 1 (≤ 5%), chaotic above "
             "2 (≥ 80%) and rising in between. Initial weights are a different N(0,1)·e^-2 draw than "
             "the authors', so values at a given rate differ somewhat; the shape is the claim." + onset_note)
    claim = ("Loss is smooth and low up to log α ≈ 1.5, then the gradient with respect to the "
             "learning rate becomes chaotic and uninformative at higher rates.")
    return Section(NUMBER, "Fig 10: loss and gradient against the learning rate", image, claim,
                   rows, notes, f)


if __name__ == "__main__":
    args = common.parse_args(__doc__)
    render(args.results)
