"""Fig 7: a training set of ten images learned by gradient (one per digit)."""
import numpy as np

import common
from common import Row, Section

NAME, NUMBER = "fig07_learned_data", "fig07"


def render(results):
    import matplotlib.pyplot as plt
    f = common.load(results, NAME)
    images = f["images"][-1]
    low, high = float(np.min(images)), float(np.max(images))
    fig, ax = plt.subplots(figsize=(5, 2.4))
    shown = ax.imshow(common.mosaic(images, 2, 5), cmap="binary", vmin=low, vmax=high)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    bar = fig.colorbar(shown, ax=ax, ticks=[low, 0, high], fraction=0.03)
    bar.ax.set_yticklabels([f"{low:.2f}", "0", f"{high:.2f}"])
    return common.save(fig, results, NUMBER)


def section(results):
    image = common.figure(results, NUMBER, NAME, render)
    f = common.load(results, NAME)
    m = f["meta"]
    rows = []
    for key, label, paper, tol in (("valid_loss", "validation loss", (2.3, 0.43), 0.15),
                                   ("test_loss", "test loss", (2.3, 0.51), 0.15),
                                   ("fake_loss", "loss on the learned images", (2.25, 0.75), 0.25),
                                   ("fake_to_real_std", "std of learned / real pixels", (0.02, 0.22), 0.25)):
        v = m[key][:]
        rows.append(Row(f"{label}: first → last meta-iteration", f"{paper[0]} → {paper[1]}",
                        f"{v[0]:.3f} → {v[-1]:.3f}",
                        common.close(v[-1], paper[1], tol), f"last within ±{int(tol * 100)}%"))
    l2 = m["l2"][:]
    rows.append(Row("L2 penalty λ: first → last", "≈0.01 → ≈0.01", f"{l2[0]:.4f} → {l2[-1]:.4f}",
                    0.5 <= l2[-1] / 0.01 <= 2, "within ×2 of 0.01"))
    images = f["images"][-1]
    rows.append(Row("some learned pixel values are negative", "yes", f"min {images.min():.2f}",
                    bool(images.min() < 0), "qualitative"))
    rows.append(Row("pixel range of the learned images", "−0.30 … 0.33",
                    f"{images.min():.2f} … {images.max():.2f}",
                    0.5 <= images.max() / 0.33 <= 2 and 0.5 <= images.min() / -0.30 <= 2, "within ×2"))
    notes = (f"{len(l2)} meta-iterations of gradient descent (step 1) on the 7,840 pixels and log λ; "
             "the images start as N(0, 0.01²) noise (the paper says blank images; the authors' code "
             "uses noise). Pixels are in the mean-subtracted space of the normalized data, so "
             "negative values are darker than the average digit. The std ratio's first value "
             "depends on how the real pixels' spread is measured (ours: the normalized validation "
             "images). " + (f"Our learned images end with a lower loss on themselves "
             f"({m['fake_loss'][-1]:.2f} against the authors' 0.75) and λ at {l2[-1]:.4f}: the network "
             "fits them more closely at the same validation loss." if m['fake_loss'][-1] < 0.6 else ""))
    claim = ("Ten images learned by gradient descent train a logistic regression to validation "
             "loss 0.43; the optimal pixel values include negative ones.")
    return Section(NUMBER, "Fig 7: a learned training set", image, claim, rows, notes, f)


if __name__ == "__main__":
    render(common.parse_args(__doc__).results)
