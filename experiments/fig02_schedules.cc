// Figs 2, 3 and 5 (one run): 1,608 hyperparameters of a 784-50-50-50-10 network (a learning
// rate and a momentum per iteration and per parameter block, and an initial scale per block)
// optimized by their exact hypergradient (the authors' experiments/Feb_3_training_schedules/
// 3_adam_50/experiment.py).
//
// Settings                 paper                        authors' code (followed)
//   network                "4 layers, 784, 50, 50, 50"  [784, 50, 50, 50, 10], tanh
//   data                   10,000 MNIST examples        first 10,000 training images, mean
//                                                       image of the 60,000 subtracted
//   iterations, batch      100, —                       T = 100, 200 drawn with replacement
//   initial α, γ, scale    —                            e^-1, 0.5, e^-3 for every block
//   meta-objective         training loss (Fig 3)        mean NLL on the 10,000 training images
//   meta-optimizer         Adam, step 0.04, 50 its.     the authors' Adam variant, step 0.04
// Beyond the paper: the best single learning rate from a 1-D search over log α with as many
// training runs (the paper quotes Bayesian optimization choosing 2.4), compared on test error.
// Quick mode: T = 20, 3 meta-iterations, 3 search runs.
#include <cmath>
#include <iostream>

#include "common/experiment.h"
#include "common/fig2_problem.h"
#include "common/learning_rate_search.h"
#include "common/meta_curves.h"
#include "common/mnist_source.h"
#include "common/progress.h"
#include "meta/meta_optimizers.h"

namespace hypergrad::experiments {
namespace {

constexpr std::size_t kMetaIters = 50, kQuickMetaIters = 3, kQuickIters = 20;
constexpr double kMetaStep = 0.04;
constexpr double kSearchLow = -3.0, kSearchHigh = 1.5;  // log α grid of the 1-D search

int Run(const ExperimentOptions& options, const std::string& mnist_dir, const Provenance& provenance) {
  Fig2Settings settings;
  if (options.quick) settings.iters = kQuickIters;
  const std::size_t meta_iters = options.quick ? kQuickMetaIters : kMetaIters;
  const Fig2Problem problem(mnist_dir, settings, options);
  const std::size_t T = settings.iters, B = problem.blocks().num_blocks();

  SgdScheduleHyperparameters hypers = problem.InitialHyperparameters();
  std::vector<double> x = hypers.Flatten();
  AuthorsAdam meta(kMetaStep);
  // Records 0 … K−1: the hyperparameters of run k and its results; record K: the final
  // hyperparameters (after K updates) with run K−1's losses (as the authors' code).
  std::vector<double> rec_alpha, rec_gamma, rec_scale, norms, batch_curves;
  RunLosses losses;
  std::vector<double> initial_curve, final_curve;
  std::vector<std::int64_t> exact;
  auto record = [&](const SgdScheduleHyperparameters& h, const Fig2Run& r) {
    rec_alpha.insert(rec_alpha.end(), h.log_alpha.begin(), h.log_alpha.end());
    rec_gamma.insert(rec_gamma.end(), h.logit_gamma.begin(), h.logit_gamma.end());
    rec_scale.insert(rec_scale.end(), h.log_init_scale.begin(), h.log_init_scale.end());
    losses.Append(r);
  };
  Progress progress("fig02 meta-iterations", meta_iters, !options.quiet, 0.0);
  Fig2Run last;
  for (std::size_t k = 0; k < meta_iters; ++k) {
    const bool curve = k == 0 || k + 1 == meta_iters;  // Fig 3 plots the first and last runs
    Fig2Run run = problem.Run(hypers, k, curve, true, options.threads);
    if (run.diverged) throw std::runtime_error("meta-iteration " + std::to_string(k) + " diverged");
    if (!run.exact) throw std::runtime_error("reverse pass of meta-iteration " + std::to_string(k) + " was not exact");
    exact.push_back(run.exact);  // as the reverse pass reported it (w_0, v_0 and buffer checked)
    record(hypers, run);
    double norm = 0.0;
    for (double g : run.gradient) norm += g * g;
    norms.push_back(std::sqrt(norm));
    batch_curves.insert(batch_curves.end(), run.batch_curve.begin(), run.batch_curve.end());
    if (k == 0) initial_curve = run.full_curve;
    if (k + 1 == meta_iters) final_curve = run.full_curve;
    progress.Update(k + 1, "train loss " + std::to_string(run.train_loss) + ", test error " +
                               std::to_string(run.test_error));
    meta.Step(k, run.gradient, x);
    hypers = SgdScheduleHyperparameters::Unflatten(T, B, x);
    last = std::move(run);
  }
  record(hypers, last);

  // The learned schedule, trained once more (fresh random numbers), against the best constant
  // learning rate of a 1-D search with the same number of training runs, chosen on validation
  // loss; both judged on test error.
  const Fig2Run learned = problem.Run(hypers, meta_iters, false, false);
  const LearningRateSearch search = SearchConstantLearningRate(
      meta_iters, kSearchLow, kSearchHigh, options.threads, options.quiet,
      "fig02 1-D learning-rate search", [&](std::size_t i, double log_alpha) {
        SgdScheduleHyperparameters constant = problem.InitialHyperparameters();
        std::fill(constant.log_alpha.begin(), constant.log_alpha.end(), log_alpha);
        const Fig2Run r = problem.Run(constant, i, false, false);
        return SearchRun{r.diverged, r.train_loss, r.valid_loss, r.test_loss, r.test_error};
      });
  const std::size_t best = search.best;
  if (!options.quiet) {
    std::cerr << "fig02: learned schedule test error " << learned.test_error << " (loss "
              << learned.test_loss << "); best constant log alpha " << search.log_alpha[best]
              << " test error " << search.test_error[best] << " (loss " << search.test_loss[best] << ")\n";
  }

  const std::size_t records = meta_iters + 1;
  WriteResult(options, "fig02_schedules", provenance, [&](H5Writer& w) {
    MetaCurves curves = losses.Curves();
    curves.hypergradient_norm = norms;
    curves.reversal_exact = exact;
    curves.more = {{"log_alpha", rec_alpha, {records, T, B}},
                   {"logit_gamma", rec_gamma, {records, T, B}},
                   {"log_init_scale", rec_scale, {records, B}},
                   {"batch_loss_curve", batch_curves, {meta_iters, T}}};
    WriteMetaCurves(w, curves);
    w.Write("/curves/initial", initial_curve);
    w.Write("/curves/final", final_curve);
    search.Write(w);
    w.WriteScalar("/comparison/learned_test_error", learned.test_error);
    w.WriteScalar("/comparison/learned_test_loss", learned.test_loss);
    w.WriteScalar("/comparison/learned_valid_loss", learned.valid_loss);
    w.WriteScalar("/comparison/search_best_log_alpha", search.log_alpha[best]);
    w.WriteScalar("/comparison/search_best_test_error", search.test_error[best]);
    w.WriteScalar("/comparison/search_best_test_loss", search.test_loss[best]);
    w.SetAttribute("/", "iters", T);
    w.SetAttribute("/", "meta_iters", meta_iters);
    w.SetAttribute("/", "batch_size", settings.batch_size);
    w.SetAttribute("/", "initial_log_alpha", settings.initial_log_alpha);
    w.SetAttribute("/", "initial_gamma", settings.initial_gamma);
    w.SetAttribute("/", "initial_log_scale", settings.initial_log_scale);
    w.SetAttribute("/", "meta_optimizer", "the authors' Adam variant, step 0.04");
    w.SetAttribute("/", "meta_objective", "mean NLL on the 10,000 training images at w_T");
    w.SetAttribute("/", "block_names", "W0,b0,W1,b1,W2,b2,W3,b3");
    w.Write("/streams/epsilon_first", problem.FirstEpsilon(0, 8));
    w.WriteInts("/streams/batch_first", problem.FirstBatchRows(0, 8));
    w.SetAttribute("/streams", "meaning", "run 0's first standard normals (w_0 = scale * epsilon) and the first rows of its batch 0");
    w.SetAttribute("/curves", "meaning",
                   "loss on all 10,000 training images at w_t before update t; initial = run 0, "
                   "final = the last meta-iteration's run");
    w.SetAttribute("/search", "meaning",
                   "constant log alpha for every block and iteration, other hyperparameters at "
                   "their initial values, run i's random numbers");
  });
  return 0;
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  using namespace hypergrad::experiments;
  return MnistExperimentMain(
      argc, argv, "fig02_schedules",
      "Figs 2, 3, 5: optimizes learning-rate and momentum schedules per layer and "
      "initial weight scales (1,608 hyperparameters) by exact hypergradients, 50 "
      "meta-iterations; also a 1-D learning-rate search baseline.",
      Run);
}
