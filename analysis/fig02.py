"""Fig 2: the learned learning-rate schedule of each layer's weights (and, beyond the paper,
the biases' learning rates and the momentum schedules, in fig02_extra)."""
import numpy as np

import common
from common import Row, Section

NAME, NUMBER = "fig02_schedules", "fig02"
COLOURS = ("blue", "green", "red", "cyan")
# Final weight schedules: (max, mean) per layer, from the authors' results.pkl in their
# experiments/Feb_3_training_schedules/3_adam_50 (peaks at 38, –, 8, 7–8).
PAPER = {
    1: ("3.26", "1.89"), 2: ("1.23", "0.86"), 3: ("1.84", "0.94"), 4: ("6.7", "1.29")}


def render(results):
    import matplotlib.pyplot as plt
    f = common.load(results, NAME)
    alpha = np.exp(f["meta/log_alpha"][-1])       # final hyperparameters: T × 8
    gamma = 1 / (1 + np.exp(-f["meta/logit_gamma"][-1]))
    t = np.arange(alpha.shape[0])
    fig, ax = plt.subplots(figsize=(6, 2.5))
    for layer in range(4):
        ax.plot(t, alpha[:, 2 * layer], "o-", color=COLOURS[layer], markersize=2.5, linewidth=1,
                label=f"Layer {layer + 1}")
    ax.set_xlabel("Schedule index")
    ax.set_ylabel("Learning rate")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, loc="upper right")
    png = common.save(fig, results, NUMBER)

    fig, (biases, momenta) = plt.subplots(1, 2, figsize=(9, 2.5))
    for layer in range(4):
        biases.plot(t, alpha[:, 2 * layer + 1], "o-", color=COLOURS[layer], markersize=2,
                    linewidth=1, label=f"Layer {layer + 1} biases")
        momenta.plot(t, gamma[:, 2 * layer], "-", color=COLOURS[layer], linewidth=1,
                     label=f"Layer {layer + 1} weights")
        momenta.plot(t, gamma[:, 2 * layer + 1], "--", color=COLOURS[layer], linewidth=1)
    biases.set_xlabel("Schedule index")
    biases.set_ylabel("Learning rate (biases)")
    biases.set_ylim(bottom=0)
    biases.legend(frameon=False, fontsize=7)
    momenta.set_xlabel("Schedule index")
    momenta.set_ylabel("Momentum (solid: weights, dashed: biases)")
    momenta.set_ylim(0, 1)
    common.save(fig, results, NUMBER + "_extra")
    return png


def section(results):
    image = common.figure(results, NUMBER, NAME, render)
    f = common.load(results, NAME)
    alpha = np.exp(f["meta/log_alpha"][-1])
    T = alpha.shape[0]
    other = common.load_perturbed(results, NAME)
    other_alpha = None if other is None else np.exp(other["meta/log_alpha"][-1])
    rows = []
    for layer in range(1, 5):
        a = alpha[:, 2 * (layer - 1)]
        o = None if other_alpha is None else other_alpha[:, 2 * (layer - 1)]
        paper_max, paper_mean = PAPER[layer]
        rows.append(common.compare_printed(f"Layer {layer} weights: mean learning rate", f"{paper_mean}",
                                           a.mean(), None if o is None else o.mean(), digits=3))
        rows.append(common.compare_printed(f"Layer {layer} weights: largest learning rate (ours at index {int(a.argmax())})",
                                           f"{paper_max}", a.max(), None if o is None else o.max(), digits=3))
    tail = max(T // 10, 1)
    drops = [alpha[-tail:, 2 * l].mean() < alpha[:, 2 * l].mean() for l in range(4)]
    rows.append(Row(f"all layers take smaller steps in the last {tail} iterations", "yes",
                    "yes" if all(drops) else f"{sum(drops)} of 4 layers", all(drops), "qualitative"))
    first = alpha[: T // 5]
    top_first = bool(first[:, 6].mean() > first[:, 0].mean())
    rows.append(Row("early on, the top layer takes the larger steps", "yes",
                    "yes" if top_first else "no", top_first, "qualitative"))
    notes = ("Learning rates of the final hyperparameters (after the last meta-update, never "
             "trained with), as the paper plots. The biases' learning rates and the momentum "
             "schedules, which the paper omits, are in `figures/fig02_extra.png`. The run follows "
             "the authors' draws; tolerances are the reference's printed digits plus 1e-3, or "
             "three times the move of the same run with the fast buffer where larger.")
    claim = ("Large steps early only in the top layer, then in the first layer; all layers take "
             "smaller steps at the end of training.")
    return Section(NUMBER, "Fig 2: learned learning-rate schedules", image, claim, rows, notes, f)


if __name__ == "__main__":
    render(common.parse_args(__doc__).results)
