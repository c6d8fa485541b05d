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
    other = common.load_perturbed(results, NAME)
    fake_key = "fake_training_loss" if "fake_training_loss" in m else "fake_loss"
    rows = []
    for key, label, paper in (("valid_loss", "validation loss", ("2.3", "0.43")),
                              ("test_loss", "test loss", ("2.3", "0.51")),
                              (fake_key, "training loss on the learned images (NLL + λ‖w‖²)", ("2.25", "0.75")),
                              ("fake_to_real_std", "std of learned / real pixels", ("0.02", "0.22")),
                              ("l2", "L2 penalty λ", ("0.01", "0.01"))):
        v = m[key][:]
        o = None if other is None or key not in other["meta"] else other["meta"][key][:]
        for end, ref in ((0, paper[0]), (-1, paper[1])):
            rows.append(common.compare_printed(f"{label}, {'first' if end == 0 else 'last'} meta-iteration",
                                               ref, v[end], None if o is None else o[end]))
    l2 = m["l2"][:]
    images = f["images"][-1]
    rows.append(Row("some learned pixel values are negative", "yes", f"min {images.min():.2f}",
                    bool(images.min() < 0), "qualitative"))
    other_images = None if other is None else other["images"][-1]
    for what, ref, ours, o in (("smallest", "-0.30", images.min(), None if other_images is None else other_images.min()),
                               ("largest", "0.33", images.max(), None if other_images is None else other_images.max())):
        rows.append(common.compare_printed(f"{what} learned pixel value (colour bar)", ref, ours, o, digits=3))
    g0 = float(np.log(l2[0]) - np.log(l2[1])) if len(l2) > 1 else float("nan")
    sensitivity = ""
    if other is not None:
        move = abs(other["meta"]["valid_loss"][-1] - m["valid_loss"][-1]) / m["valid_loss"][-1]
        sensitivity = (f" The same run with the other buffer (other exact digits) ends within "
                       f"{move:.0e} of this one, so the remaining differences from the reference are "
                       "not rounding.")
    notes = (f"{len(l2)} meta-iterations of gradient descent (step 1) on the 7,840 pixels and log λ; "
             "the images start as N(0, 0.01²) noise from npr.seed(0) and w_0 is the authors' "
             "(npr.seed(0) before every run, a discarded v_0 draw, then randn·e^-4), the exact "
             "buffer; the paper says blank images, the authors' code uses noise. The first "
             "values agree with the reference (validation 2.32 vs ≈2.3, training loss on the "
             "images 2.249 vs 2.25). The last ones do not: λ drifts from 0.01 to "
             f"{l2[-1]:.4f} where the reference says it stays ≈0.01, and the losses end lower. "
             f"Our first hypergradient with respect to log λ ({g0:.6e}) equals an independent "
             "float64 finite difference of the whole training run (analysis/checks/"
             "fig07_lambda_fd.py: −3.2481e-3, agreeing to 2e-6; the check runs plain float64 with γ = "
             "0.9 rather than 58983/65536), and gradient descent on it must move λ. The "
             "reference's first std ratio (≈0.02) cannot be what the authors' script computes "
             "from its own draws: the noise has std 0.01 and the normalized validation images "
             "0.259, so the first ratio is about 0.01/0.259 = 0.039 by construction (ours: "
             f"{m['fake_to_real_std'][0]:.4f}). The reference values for "
             "this figure are therefore not all from the run the script describes; we keep "
             "them and mark the disagreement." + sensitivity)
    claim = ("Ten images learned by gradient descent train a logistic regression to validation "
             "loss 0.43; the optimal pixel values include negative ones.")
    return Section(NUMBER, "Fig 7: a learned training set", image, claim, rows, notes, f)


if __name__ == "__main__":
    render(common.parse_args(__doc__).results)
