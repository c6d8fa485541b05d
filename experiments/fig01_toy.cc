// Fig 1: three meta-iterations of learning a learning-rate and momentum schedule on a 2-D toy
// surface (the authors' experiments/Jan_25_Figure_1/2/experiment.py). Each elementary run is 50
// steps of SGD with momentum from w_0 = (1.4, 3.9); the meta-objective is the toy loss at w_T; its
// hypergradient with respect to the 50 log learning rates and 50 logit momenta drives momentum SGD
// (step 0.01, mass 0.9).
//
// Settings                paper            authors' code (followed)
//   iterations T          50               50
//   initial α, γ          —                e^-4.5, 0.99 (applied exactly as 64881/65536)
//   meta-optimizer        —                momentum SGD, step 0.01, mass 0.9
//   meta-iterations       3                3
#include <cmath>

#include "common/experiment.h"
#include "meta/hyperparams.h"
#include "meta/meta_optimizers.h"
#include "optimizers/reversible_sgd.h"
#include "models/toy_surface.h"

namespace hypergrad::experiments {
namespace {

constexpr std::size_t kIters = 50;
constexpr std::size_t kMetaIters = 3;
constexpr double kInitialLogAlpha = -4.5, kInitialGamma = 0.99;
constexpr double kMetaStep = 0.01, kMetaMass = 0.9;
const std::vector<double> kW0 = {1.4, 3.9};

int Run(const ExperimentOptions& options, const Provenance& provenance) {
  auto model = std::make_shared<const ToySurface>();
  // Hyperparameters: [log α_0 … log α_49, logit γ_0 … logit γ_49].
  std::vector<double> x(2 * kIters);
  std::fill(x.begin(), x.begin() + kIters, kInitialLogAlpha);
  std::fill(x.begin() + kIters, x.end(), Logit(kInitialGamma));
  MomentumSgd meta(kMetaStep, kMetaMass);

  std::vector<double> trajectories, losses, final_losses, log_alphas, logit_gammas, norms;
  std::vector<std::int64_t> exact;
  for (std::size_t i = 0; i < kMetaIters; ++i) {
    const std::vector<double> log_alpha(x.begin(), x.begin() + kIters);
    const std::vector<double> logit_gamma(x.begin() + kIters, x.end());
    SgdSchedule schedule{kIters, 1, Exp(log_alpha), LogisticOf(logit_gamma)};
    TrainingOptions sgd_options;
    sgd_options.buffer = options.buffer;  // exact by default: the authors' arithmetic, bit for bit
    sgd_options.on_step = [&](std::size_t, std::span<const double> w, double loss) {
      trajectories.insert(trajectories.end(), w.begin(), w.end());
      losses.push_back(loss);
    };
    ReversibleSgd sgd({model, ParameterBlocks::Single(2), schedule, [](std::size_t) { return Batch{}; }},
                      sgd_options);
    sgd.Train(kW0, std::vector<double>(2, 0.0));
    std::vector<double> d_w(2);
    const double loss = model->Gradient(sgd.weights(), {}, d_w);
    const std::vector<double> w_T(sgd.weights().begin(), sgd.weights().end());
    trajectories.insert(trajectories.end(), w_T.begin(), w_T.end());
    losses.push_back(loss);
    const Hypergradients h = sgd.Reverse(d_w);  // runs training backwards to w_0

    std::vector<double> g = ExpChainRule(schedule.alpha, h.d_alpha);
    const std::vector<double> g_gamma = LogisticChainRule(schedule.gamma, h.schedule("gamma"));
    g.insert(g.end(), g_gamma.begin(), g_gamma.end());
    double norm = 0.0;
    for (double v : g) norm += v * v;
    final_losses.push_back(loss);
    log_alphas.insert(log_alphas.end(), log_alpha.begin(), log_alpha.end());
    logit_gammas.insert(logit_gammas.end(), logit_gamma.begin(), logit_gamma.end());
    norms.push_back(std::sqrt(norm));
    exact.push_back(h.reversal.exact ? 1 : 0);
    if (!options.quiet) {
      std::cerr << "fig01: meta-iteration " << i + 1 << "/" << kMetaIters << ", loss at w_T "
                << loss << ", end point (" << w_T[0] << ", " << w_T[1]
                << "), |hypergradient| " << norms.back() << "\n";
    }
    if (!h.reversal.exact) throw std::runtime_error("reverse pass was not exact");
    meta.Step(i, g, x);
  }

  // The loss surface for the figure: x ∈ [−1, 2.4), y ∈ [0, 4.5), spacing 0.05.
  std::vector<double> grid_x, grid_y, surface;
  for (int k = 0; k < 68; ++k) grid_x.push_back(-1.0 + 0.05 * k);
  for (int k = 0; k < 90; ++k) grid_y.push_back(0.05 * k);
  for (double yv : grid_y) {
    for (double xv : grid_x) surface.push_back(ToySurface::Loss(xv, yv));
  }

  WriteResult(options, "fig01_toy", provenance, [&](H5Writer& w) {
    w.Write("/trajectories", trajectories, {kMetaIters, kIters + 1, 2});
    w.Write("/losses", losses, {kMetaIters, kIters + 1});
    w.Write("/final_loss", final_losses);
    w.Write("/log_alpha", log_alphas, {kMetaIters, kIters});
    w.Write("/logit_gamma", logit_gammas, {kMetaIters, kIters});
    w.Write("/hypergradient_norm", norms);
    w.WriteInts("/reversal_exact", exact);
    w.Write("/surface/x", grid_x);
    w.Write("/surface/y", grid_y);
    w.Write("/surface/loss", surface, {grid_y.size(), grid_x.size()});
    w.SetAttribute("/", "iters", kIters);
    w.SetAttribute("/", "meta_iters", kMetaIters);
    w.SetAttribute("/", "initial_log_alpha", kInitialLogAlpha);
    w.SetAttribute("/", "initial_gamma", kInitialGamma);
    w.SetAttribute("/", "meta_optimizer", "momentum SGD, step 0.01, mass 0.9");
    w.SetAttribute("/", "w0", kW0);
  });
  return 0;
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  using namespace hypergrad::experiments;
  return ExperimentMain(
      argc, argv, "fig01_toy",
      "Fig 1: meta-optimization of a learning-rate and momentum schedule on a 2-D toy "
      "surface; three meta-iterations of trajectories. (--quick runs the same: it takes "
      "well under a second.)",
      [](CLI::App&) {},
      [&](const auto& o, const auto& p) { return Run(o, p); });
}
