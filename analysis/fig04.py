"""Fig 4: the hypergradient of the training loss with respect to each learning rate at the
initial hyperparameters, averaged over seeds, for each layer's weights."""
import numpy as np

import common
from common import Row, Section

NAME, NUMBER = "fig04_initial_hypergradient", "fig04"
COLOURS = ("blue", "green", "red", "cyan")
PAPER_MIN = {1: (-1.72e-3, 87), 2: (-1.16e-3, 8), 3: (-1.35e-3, 27), 4: (-2.39e-3, 34)}
PAPER_SCALE = (-0.101, -2.2e-7, -0.206, -1.1e-4, -0.217, 1.2e-4, -0.191, -7.1e-4)


def render(results):
    import matplotlib.pyplot as plt
    f = common.load(results, NAME)
    d = f["mean/d_log_alpha"][:]
    fig, ax = plt.subplots(figsize=(6, 2.5))
    for layer in range(4):
        ax.plot(np.arange(d.shape[0]), d[:, 2 * layer], color=COLOURS[layer],
                label=f"Layer {layer + 1}")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_yticks([0])
    ax.set_xlabel("Schedule index")
    ax.set_ylabel("∂ loss / ∂ log learning rate")
    ax.legend(frameon=False, fontsize=7)
    return common.save(fig, results, NUMBER)


def section(results):
    image = common.figure(results, NUMBER, NAME, render)
    f = common.load(results, NAME)
    d, scale = f["mean/d_log_alpha"][:], f["mean/d_log_init_scale"][:]
    seeds = int(common.text(f.attrs["seeds"]))
    weights = d[:, 0::2]
    negative = float((weights < 0).mean())
    rows = [Row("share of weight learning-rate hypergradients < 0", "all", f"{100 * negative:.1f}%",
                negative >= 0.95, "≥ 95%"),
            Row("Layer 1..4 at t = 0", "≈ −6e-4", ", ".join(f"{v:.1e}" for v in weights[0]),
                bool(np.all((weights[0] < 0) & (np.abs(weights[0]) < 6e-3))), "negative, magnitude < 6e-3")]
    for layer in range(1, 5):
        col = weights[:, layer - 1]
        paper_value, paper_at = PAPER_MIN[layer]
        rows.append(Row(f"Layer {layer}: most negative value (at index)", f"{paper_value:.2e} ({paper_at})",
                        f"{col.min():.2e} ({int(col.argmin())})",
                        0.5 <= col.min() / paper_value <= 2, "value within ×2"))
    middle = np.abs(weights[len(weights) // 5: 4 * len(weights) // 5]).mean()
    edges = np.abs(np.concatenate([weights[:len(weights) // 10]])).mean()
    rows.append(Row("larger in magnitude mid-schedule than at the start", "yes",
                    f"{middle:.1e} vs {edges:.1e}", bool(middle > edges), "qualitative"))
    for j, name in enumerate(("W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4")):
        if j % 2 == 0:
            rows.append(Row(f"initial-scale hypergradient, {name}", f"{PAPER_SCALE[j]}",
                            f"{scale[j]:.3g}", 0.5 <= scale[j] / PAPER_SCALE[j] <= 2, "within ×2"))
    notes = (f"Averaged over {seeds} seeds (the paper's number; the authors' code used 50). The "
             "objective is the training loss (the paper's text says cross-validation loss; the "
             "code, followed here, uses the training loss). Bias curves are small (~1e-5) and "
             "not plotted, as in the paper; they are in the HDF5 file with standard errors.")
    claim = ("All learning-rate hypergradients are negative (larger rates would help), most "
             "strongly in the middle of training.")
    return Section(NUMBER, "Fig 4: averaged initial hypergradient of the learning rates", image,
                   claim, rows, notes, f)


if __name__ == "__main__":
    render(common.parse_args(__doc__).results)
