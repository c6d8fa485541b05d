"""Fig 3: learning curves with the initial and the final hyperparameters (left) and the meta
learning curve, final training loss per meta-iteration (right)."""
import numpy as np

import common
from common import Row, Section

NAME, NUMBER = "fig02_schedules", "fig03"


def render(results):
    import matplotlib.pyplot as plt
    f = common.load(results, NAME)
    initial, final = f["curves/initial"][:], f["curves/final"][:]
    meta = f["meta/train_loss"][:]
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.6))
    x = np.arange(1, len(initial) + 1)
    left.plot(x, initial, color="blue", label="Initial hypers")
    left.plot(x, final, color="green", label="Final hypers")
    left.set_xlabel("Training iteration")
    left.set_ylabel("Training loss")
    left.legend(frameon=False)
    right.plot(np.arange(len(meta)), meta, "o-", color="black", markersize=2.5, linewidth=1)
    right.set_xlabel("Meta iteration")
    right.set_ylabel("Final training loss")
    return common.save(fig, results, NUMBER)


def value_at(curve, step):
    """The curve's value at training iteration `step` (1-based), if the run was that long."""
    return curve[step - 1] if step <= len(curve) else float("nan")


def section(results):
    image = common.figure(results, NUMBER, NAME, render)
    f = common.load(results, NAME)
    meta, initial, final = f["meta/train_loss"][:], f["curves/initial"][:], f["curves/final"][:]
    K = len(meta) - 1
    other = common.load_perturbed(results, NAME)
    def perturbed(key, i):
        return None if other is None else other[key][:][i] if i < len(other[key]) else None
    rows = []
    # The authors' meta curve (their experiments/Feb_3_training_schedules/3_adam_50/results.pkl):
    # record k = run k's final loss; record 50 = the final hyperparameters with run 49's losses.
    for k, paper in ((0, "0.531"), (1, "0.458"), (2, "0.393"), (5, "0.295"), (10, "0.256"),
                     (20, "0.211"), (30, "0.167"), (40, "0.133"), (49, "0.1235"), (50, "0.1235")):
        if k <= K:
            rows.append(common.compare_printed(f"meta curve: final training loss of record {k}", paper,
                                               meta[k], perturbed("meta/train_loss", k)))
    for step, paper in ((1, "2.302"), (20, "2.209"), (50, "1.027"), (100, "0.534")):
        if step <= len(initial):
            rows.append(common.compare_printed(f"initial hypers (run 0): loss at iteration {step}", paper,
                                               value_at(initial, step),
                                               None if other is None else value_at(other["curves/initial"][:], step)))
    for step, paper in ((1, "2.378"), (10, "0.531"), (20, "0.433"), (50, "0.219"), (100, "0.125")):
        if step <= len(final):
            rows.append(common.compare_printed(f"final hypers (run {K - 1}): loss at iteration {step}", paper,
                                               value_at(final, step),
                                               None if other is None else value_at(other["curves/final"][:], step)))
    c = "comparison"
    learned, best = f[f"{c}/learned_test_error"][()], f[f"{c}/search_best_test_error"][()]
    best_log_alpha = f[f"{c}/search_best_log_alpha"][()]
    winner = "learned schedule" if learned < best else "best constant rate"
    rows.append(Row("beyond the paper: test error, learned schedule vs best constant α "
                    f"(1-D search over log α, {len(f['search/log_alpha'])} runs, chosen on validation loss)",
                    "BO chose α = 2.4 (not reproducible)",
                    f"{100 * learned:.2f}% vs {100 * best:.2f}% (α = {np.exp(best_log_alpha):.2f}): "
                    f"{winner} wins by {100 * abs(learned - best):.2f} points", None, "—"))
    notes = ("With the authors' draws (w_0 = scale ⊙ RandomState((0, k)).randn, batches "
             "RandomState((0, k, t)).randint(10000, 200)) and the exact buffer, each run follows "
             "theirs. Tolerances: the reference's printed digits plus 1e-3, or three times the "
             "move that the same run with the fast buffer (other exact digits) shows, where that "
             "is larger (results/sensitivity/). "
             "The meta-objective is the training loss, as in the authors' code (the paper's "
             "caption speaks of each elementary iteration; the plot is per meta-iteration). "
             "Learning curves are the loss on all 10,000 training images at w_t before update t, "
             "for run 0 (initial hyperparameters) and the last run; the right panel has one "
             "point per record, the last two equal (the final hyperparameters were not trained "
             "with). The comparison trains the final learned hyperparameters once more on fresh "
             "random numbers.")
    claim = "Meta-optimization cuts the final training loss from 0.53 to 0.12 over 50 meta-iterations."
    return Section(NUMBER, "Fig 3: learning curves and the meta learning curve", image, claim,
                   rows, notes, f)


if __name__ == "__main__":
    render(common.parse_args(__doc__).results)
