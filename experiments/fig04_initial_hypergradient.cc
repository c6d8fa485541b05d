// Fig 4: the hypergradient of the training loss at the *initial* hyperparameters of Fig 2 with
// respect to each learning rate (per iteration and weight block), averaged over random seeds
// (reference notes §Fig 4). Also the momentum and initial-scale hypergradients.
//
// Settings                 paper                        authors' code
//   seeds                  100                          50 (we follow the paper: 100)
//   objective              "cross-validation loss"      training loss (followed)
//   everything else        as Fig 2                     as Fig 2
// Quick mode: T = 20 and 4 seeds.
#include <atomic>
#include <cmath>

#include "common/experiment.h"
#include "common/fig2_problem.h"
#include "common/mnist_source.h"
#include "common/progress.h"

namespace hypergrad::experiments {
namespace {

constexpr std::size_t kSeeds = 100, kQuickSeeds = 4, kQuickIters = 20;

int Run(const ExperimentOptions& options, const std::string& mnist_dir, std::size_t seeds_flag,
        const Provenance& provenance) {
  Fig2Settings settings;
  if (options.quick) settings.iters = kQuickIters;
  const std::size_t seeds = seeds_flag ? seeds_flag : (options.quick ? kQuickSeeds : kSeeds);
  const Fig2Problem problem(mnist_dir, settings, options);
  const ScheduleHyperparameters hypers = problem.InitialHyperparameters();
  const std::size_t T = settings.iters, B = problem.blocks().num_blocks();

  std::vector<std::vector<double>> gradients(seeds);
  std::vector<double> train_loss(seeds);
  Progress progress("fig04 seeds", seeds, !options.quiet, 5.0);
  std::atomic<std::size_t> done{0};
  ParallelFor(seeds, options.threads, [&](std::size_t k) {
    Fig2Run run = problem.Run(hypers, k, false);
    if (run.diverged || !run.exact) {
      throw std::runtime_error("seed " + std::to_string(k) + (run.diverged ? " diverged" : ": reverse pass not exact"));
    }
    gradients[k] = std::move(run.gradient);
    train_loss[k] = run.train_loss;
    progress.Update(++done);
  });
  // Mean and standard error over seeds of every flattened entry.
  const std::size_t size = hypers.size();
  std::vector<double> mean(size, 0.0), sem(size, 0.0), all;
  for (const auto& g : gradients) {
    for (std::size_t i = 0; i < size; ++i) mean[i] += g[i] / static_cast<double>(seeds);
    all.insert(all.end(), g.begin(), g.end());
  }
  for (const auto& g : gradients) {
    for (std::size_t i = 0; i < size; ++i) sem[i] += (g[i] - mean[i]) * (g[i] - mean[i]);
  }
  for (double& s : sem) s = seeds > 1 ? std::sqrt(s / static_cast<double>(seeds - 1) / static_cast<double>(seeds)) : 0.0;
  const auto unflat = [&](const std::vector<double>& v) { return ScheduleHyperparameters::Unflatten(T, B, v); };
  const ScheduleHyperparameters m = unflat(mean), e = unflat(sem);

  WriteResult(options, "fig04_initial_hypergradient", provenance, [&](H5Writer& w) {
    w.Write("/mean/d_log_alpha", m.log_alpha, {T, B});
    w.Write("/mean/d_logit_gamma", m.logit_gamma, {T, B});
    w.Write("/mean/d_log_init_scale", m.log_init_scale);
    w.Write("/stderr/d_log_alpha", e.log_alpha, {T, B});
    w.Write("/stderr/d_logit_gamma", e.logit_gamma, {T, B});
    w.Write("/stderr/d_log_init_scale", e.log_init_scale);
    w.Write("/per_seed/gradient", all, {seeds, size});
    w.Write("/per_seed/train_loss", train_loss);
    w.SetAttribute("/", "seeds", seeds);
    w.SetAttribute("/", "iters", T);
    w.SetAttribute("/", "block_names", "W0,b0,W1,b1,W2,b2,W3,b3");
    w.SetAttribute("/", "objective", "mean NLL on the 10,000 training images at w_T");
    w.SetAttribute("/per_seed/gradient", "layout", "flattened: log alpha (T x B), logit gamma (T x B), log scale (B)");
  });
  return 0;
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  using namespace hypergrad::experiments;
  std::size_t seeds = 0;
  return MnistExperimentMain(
      argc, argv, "fig04_initial_hypergradient",
      "Fig 4: the hypergradient at the initial hyperparameters of Fig 2 (learning rates per "
      "iteration and block, momenta, initial scales), averaged over seeds.",
      [&](const auto& o, const std::string& mnist_dir, const auto& p) {
        return Run(o, mnist_dir, seeds, p);
      },
      [&](CLI::App& app) {
        app.add_option("--seeds", seeds, "number of seeds (default 100 as the paper; quick 4)")
            ->check(CLI::Range(1, 100000));
      });
}
