"""Fig 5: the learned initial scales of the biases (left) and weights (right) of each layer over
the meta-iterations, with reference lines at 1/√50 and 1/√784."""
import numpy as np

import common
from common import Row, Section

NAME, NUMBER = "fig02_schedules", "fig05"
COLOURS = ("blue", "green", "red", "cyan")
PAPER_WEIGHTS = (0.0441, 0.249, 0.164, 0.126)
PAPER_BIASES = (0.70, 0.056, 0.049, 0.080)


def render(results):
    import matplotlib.pyplot as plt
    f = common.load(results, NAME)
    scale = np.exp(f["meta/log_init_scale"][:])  # records × 8
    x = np.arange(scale.shape[0])
    fig, (biases, weights) = plt.subplots(1, 2, figsize=(7, 2.6), sharex=True)
    for layer in range(4):
        biases.plot(x, scale[:, 2 * layer + 1], color=COLOURS[layer], label=f"Layer {layer + 1}")
        weights.plot(x, scale[:, 2 * layer], color=COLOURS[layer], label=f"Layer {layer + 1}")
    for ax in (biases, weights):
        ax.axhline(1 / np.sqrt(50), color="black", linestyle="--", linewidth=0.8)
        ax.axhline(1 / np.sqrt(784), color="blue", linestyle="--", linewidth=0.8)
        ax.set_xlabel("Meta iteration")
    biases.set_ylabel("Initial scale")
    biases.set_title("Biases")
    weights.set_title("Weights")
    weights.legend(frameon=False, fontsize=7)
    return common.save(fig, results, NUMBER)


def section(results):
    image = common.figure(results, NUMBER, NAME, render)
    f = common.load(results, NAME)
    final = np.exp(f["meta/log_init_scale"][-1])
    other = common.load_perturbed(results, NAME)
    other_final = None if other is None else np.exp(other["meta/log_init_scale"][-1])
    rows = []
    for block, name in enumerate(("W", "b")[j % 2] + str(j // 2 + 1) for j in range(8)):
        paper = (PAPER_WEIGHTS if block % 2 == 0 else PAPER_BIASES)[block // 2]
        kind = "weight" if block % 2 == 0 else "bias"
        rows.append(common.compare_printed(f"Layer {block // 2 + 1} {kind} scale ({name}), final", f"{paper}",
                                           final[block], None if other_final is None else other_final[block]))
    rows.append(Row("first-layer weight scale near 1/√784 = 0.0357", "0.0441 (×1.24)",
                    f"{final[0]:.4f} (×{final[0] * np.sqrt(784):.2f})", 0.5 <= final[0] * np.sqrt(784) <= 2,
                    "within ×2 of 1/√784 (the paper's claim)"))
    notes = ("Scales after the last meta-update (initially e^-3 = 0.0498 for every block). The "
             "first layer's 784 inputs make 1/√784 the classic choice; the paper's claim is that "
             "the learned scale ends near it.")
    claim = "The learned first-layer weight scale approaches 1/√784; other scales move far from their start."
    return Section(NUMBER, "Fig 5: learned initial weight and bias scales", image, claim, rows,
                   notes, f)


if __name__ == "__main__":
    render(common.parse_args(__doc__).results)
