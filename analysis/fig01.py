"""Fig 1: three meta-iterations of training trajectories on the toy surface (3-D)."""
import numpy as np

import common
from common import Row, Section

NAME, NUMBER = "fig01_toy", "fig01"
COLOURS = ("red", "green", "blue")


def render(results):
    f = common.load(results, NAME)
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(4.5, 3.6))
    ax = fig.add_subplot(projection="3d")
    ax.set_proj_type("ortho")
    x, y, z = f["surface/x"][:], f["surface/y"][:], f["surface/loss"][:]
    grid_x, grid_y = np.meshgrid(x, y)
    ax.plot_wireframe(grid_x, grid_y, z, rstride=10, cstride=10, color="black", linewidth=0.4)
    traj, losses = f["trajectories"][:], f["losses"][:]
    for i in range(traj.shape[0]):
        # The plotted trajectory is w_0 … w_49 (the paper's end points are w_49).
        w, height = traj[i, :50], losses[i, :50]
        ax.plot(w[:, 0], w[:, 1], height, color=COLOURS[i % 3], linewidth=1.5,
                label=f"Meta-iteration {i + 1}")
        ax.scatter(w[-1, 0], w[-1, 1], height[-1], color=COLOURS[i % 3], s=30)
    ax.scatter(traj[0, 1, 0], traj[0, 1, 1], losses[0, 1], marker="*", s=120, color="black",
               label="Initial weights")
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.pane.fill = False
        axis.pane.set_edgecolor("white")
    ax.grid(False)
    ax.view_init(elev=46, azim=120)
    ax.set_ylim(4.5, 0.0)
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_zticklabels([])
    ax.legend(loc="upper left", frameon=False)
    return common.save(fig, results, NUMBER), f


def section(results):
    image = common.figure(results, NUMBER, NAME, render)
    f = common.load(results, NAME)
    final, traj, losses = f["final_loss"][:], f["trajectories"][:], f["losses"][:]
    # No random draws and no data: the only differences from the authors' runs are the
    # printed digits of the reference (fixed point is the authors' own arithmetic).
    paper_final = ("395.30", "356.57", "356.34")
    paper_end = (("-0.077", "0.723"), ("-0.382", "0.549"), ("-0.770", "0.162"))
    rows = [common.compare_printed("loss at w_0", "630.42", losses[0, 0], None, digits=6)]
    for i in range(len(final)):
        rows.append(common.compare_printed(f"loss at w_T, meta-iteration {i + 1}", paper_final[i],
                                           final[i], None, digits=6))
    for i in range(len(final)):
        end = traj[i, 49]
        for c, axis in enumerate("xy"):
            rows.append(common.compare_printed(f"end point w_49, meta-iteration {i + 1}, {axis}",
                                               paper_end[i][c], end[c], None, digits=4))
    notes = ("The authors' exact arithmetic is used (the exact buffer), so these runs follow the "
             "reference trajectories. The paper's end points are w_49, the last point plotted; "
             "the loss is taken at w_50 = w_T. Momentum 0.99 is applied as 64881/65536 in the "
             "fixed-point multiply, the float value elsewhere (as the authors' code).")
    claim = ("Meta-optimization of the 50 learning rates and 50 momenta lowers the final loss from "
             "run to run as the trajectories learn to cross the valley.")
    return Section(NUMBER, "Fig 1: toy meta-optimization trajectories", image, claim, rows,
                   notes, f)


if __name__ == "__main__":
    args = common.parse_args(__doc__)
    render(args.results)
