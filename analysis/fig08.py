"""Fig 8: example characters of each alphabet (top five rows) and of its quarter turn (bottom
five rows); each rotated row shows the same characters as its original."""
import numpy as np

import common
from common import Row, Section

NAME, NUMBER = "fig08_09_omniglot", "fig08"


def render(results):
    import matplotlib.pyplot as plt
    f = common.load(results, NAME)
    examples = f["examples"][:]  # tasks × 15 × 28 × 28, ink in [0, 1]
    tasks = examples.shape[0]
    picture = common.mosaic(examples.reshape(-1, 28, 28), tasks, examples.shape[1], padding=2)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.imshow(np.nan_to_num(picture, nan=0.0), cmap="binary", vmin=0, vmax=1)
    middle = (tasks // 2) * 30 - 1.5
    ax.axhline(middle, color="black", linestyle="--", linewidth=1)
    ax.set_xticks([])
    ax.set_yticks([(i * 30) + 13.5 for i in range(tasks)])
    ax.set_yticklabels([name.replace("_", " ") for name in common.text(f.attrs["tasks"]).split(",")],
                       fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    return common.save(fig, results, NUMBER)


def section(results):
    image = common.figure(results, NUMBER, NAME, render)
    f = common.load(results, NAME)
    examples = f["examples"][:]
    half = examples.shape[0] // 2
    # Rotating the originals' examples must give the rotated rows (same characters and drawers).
    turned = np.rot90(examples[:half], k=-1, axes=(2, 3))
    same = bool(np.allclose(turned, examples[half:]))
    rows = [Row("rotated rows show the same characters as their originals", "yes", "yes" if same else "no",
                same, "exact")]
    notes = ("Project data: the five alphabets of images_background_small1.zip (Balinese, "
             "Early_Aramaic, Greek, Korean, Latin), drawers 1-15, 105 × 105 → 28 × 28 by area "
             "averaging; the authors used five other alphabets from a 28 × 28 file. Shown without "
             "mean subtraction, drawer 1 of 15 random characters per alphabet.")
    claim = "Ten tasks: five alphabets and the same alphabets turned a quarter."
    return Section(NUMBER, "Fig 8: Omniglot alphabets and their rotations", image, claim, rows, notes, f)


if __name__ == "__main__":
    render(common.parse_args(__doc__).results)
