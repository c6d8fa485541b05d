// Fig 4: the hypergradient of the training loss at the *initial* hyperparameters of Fig 2 with
// respect to each learning rate (per iteration and weight block), averaged over random seeds (the
// authors' experiments/Feb_3_training_schedules/5_initial_gradient/experiment.py). Also the
// momentum and initial-scale hypergradients.
//
// Settings                 paper                        authors' code
//   seeds                  100                          50: runs k = 0 … 49, RandomState((0, k))
//                                                       and RandomState((0, k, t)) as Fig 2
//   objective              "cross-validation loss"      training loss (followed)
//   everything else        as Fig 2                     as Fig 2
// Both averages are written: /mean over the authors' 50 seeds (the reference) and /mean_all over
// all --seeds (default 100, the paper's text). Quick mode: T = 20 and 4 seeds (/mean: the first 2).
#include <cmath>

#include "common/distributed.h"
#include "common/experiment.h"
#include "common/fig2_problem.h"
#include "common/mnist_source.h"
#include "common/progress.h"

namespace hypergrad::experiments {
namespace {

constexpr std::size_t kSeeds = 100, kAuthorsSeeds = 50, kQuickSeeds = 4, kQuickIters = 20;

// Mean and standard error over the first `count` seeds of every flattened entry, summed in seed
// order (a fixed order: the same bits for any thread count).
struct Average {
  std::vector<double> mean, sem;
};
Average AverageOf(const std::vector<std::vector<double>>& gradients, std::size_t count) {
  const std::size_t size = gradients.front().size();
  Average a{std::vector<double>(size, 0.0), std::vector<double>(size, 0.0)};
  for (std::size_t k = 0; k < count; ++k) {
    for (std::size_t i = 0; i < size; ++i) a.mean[i] += gradients[k][i];
  }
  for (double& m : a.mean) m /= static_cast<double>(count);
  for (std::size_t k = 0; k < count; ++k) {
    for (std::size_t i = 0; i < size; ++i) {
      const double d = gradients[k][i] - a.mean[i];
      a.sem[i] += d * d;
    }
  }
  for (double& e : a.sem) {
    e = count > 1 ? std::sqrt(e / static_cast<double>(count - 1) / static_cast<double>(count)) : 0.0;
  }
  return a;
}

int Run(const ExperimentOptions& options, const std::string& mnist_dir, std::size_t seeds_flag,
        const Provenance& provenance) {
  Fig2Settings settings;
  if (options.quick) settings.iters = kQuickIters;
  const std::size_t seeds = seeds_flag ? seeds_flag : (options.quick ? kQuickSeeds : kSeeds);
  const Fig2Problem problem(mnist_dir, settings, options);
  const SgdScheduleHyperparameters hypers = problem.InitialHyperparameters();
  const std::size_t T = settings.iters, B = problem.blocks().num_blocks();

  // Seeds split over MPI ranks (if any) and threads; each result is [gradient..., train loss].
  Progress progress("fig04 seeds", seeds, !options.quiet, 5.0);
  std::vector<std::vector<double>> gradients = DistributedMap(seeds, options.threads, [&](std::size_t k) {
    Fig2Run run = problem.Run(hypers, k, false);
    if (run.diverged || !run.exact) {
      throw std::runtime_error("seed " + std::to_string(k) + (run.diverged ? " diverged" : ": reverse pass not exact"));
    }
    run.gradient.push_back(run.train_loss);
    return std::move(run.gradient);
  }, [&](std::size_t done) { progress.Update(done); });
  progress.Finish();
  std::vector<double> train_loss(seeds);
  for (std::size_t k = 0; k < seeds; ++k) {
    train_loss[k] = gradients[k].back();
    gradients[k].pop_back();
  }
  std::vector<double> all;
  for (const auto& g : gradients) all.insert(all.end(), g.begin(), g.end());
  const std::size_t authors_seeds = std::min(seeds, options.quick ? seeds / 2 : kAuthorsSeeds);
  const auto unflat = [&](const std::vector<double>& v) { return SgdScheduleHyperparameters::Unflatten(T, B, v); };
  const auto write_average = [&](H5Writer& w, const std::string& group, std::size_t count) {
    const Average a = AverageOf(gradients, count);
    const SgdScheduleHyperparameters m = unflat(a.mean), e = unflat(a.sem);
    w.Write(group + "/d_log_alpha", m.log_alpha, {T, B});
    w.Write(group + "/d_logit_gamma", m.logit_gamma, {T, B});
    w.Write(group + "/d_log_init_scale", m.log_init_scale);
    w.Write(group + "/stderr_d_log_alpha", e.log_alpha, {T, B});
    w.Write(group + "/stderr_d_logit_gamma", e.logit_gamma, {T, B});
    w.Write(group + "/stderr_d_log_init_scale", e.log_init_scale);
    w.SetAttribute(group, "seeds", count);
  };

  WriteResult(options, "fig04_initial_hypergradient", provenance, [&](H5Writer& w) {
    write_average(w, "/mean", std::max<std::size_t>(authors_seeds, 1));
    write_average(w, "/mean_all", seeds);
    w.SetAttribute("/mean", "meaning", "average over the authors' seeds k = 0 ... 49 (their code)");
    w.SetAttribute("/mean_all", "meaning", "average over every seed run (the paper's text: 100)");
    w.Write("/per_seed/gradient", all, {seeds, hypers.size()});
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
        app.add_option("--seeds", seeds,
                       "number of seeds (default 100 as the paper's text; /mean averages the "
                       "first 50 as the authors' code; quick 4)")
            ->check(CLI::Range(1, 100000));
      });
}
