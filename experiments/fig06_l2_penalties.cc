// Fig 6: one L2 penalty per parameter of a logistic regression on MNIST, learned by exact
// hypergradients of the validation loss (the authors' experiments/Jan_21_nn_ard/2/experiment.py).
//
// Settings                 paper                 authors' code (followed)
//   model                  logistic regression   [784, 10], 7,850 parameters
//   hyperparameters        7,840 (weights shown) 7,850 log λ (biases included), λ_0 = 0.01·e
//   data                   MNIST                 10,000 train / 10,000 valid / 1,000 test,
//                                                consecutive, mean image subtracted
//   training               —                     T = 50, α = 1, γ = 0.9, fixed batches of 200
//                                                in order, w_0 = N(0, 1)·e^-4 drawn once
//                                                (npr.seed(0), v_0 = randn·0 first)
//   meta-objective         validation loss       validation mean NLL + 0.01·Σλ²
//   meta-optimizer         —                     gradient descent on log λ, step 1000, 50 its.
// Quick mode: 3 meta-iterations.
#include <cmath>
#include <iostream>

#include "common/experiment.h"
#include "common/meta_curves.h"
#include "common/mnist_source.h"
#include "common/progress.h"
#include "meta/hyperparams.h"
#include "meta/meta_optimizers.h"
#include "models/mlp.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::experiments {
namespace {

constexpr std::size_t kIters = 50, kBatch = 200, kMetaIters = 50, kQuickMetaIters = 3;
constexpr double kAlpha = 1.0, kGamma = 0.9, kLogInitScale = -4.0;
constexpr double kInitialLogL2 = -3.605170185988091;  // log(0.01) + 1
constexpr double kMetaStep = 1000.0, kMetaPenalty = 0.01;

int Run(const ExperimentOptions& options, const std::string& mnist_dir, const Provenance& provenance) {
  const std::size_t meta_iters = options.quick ? kQuickMetaIters : kMetaIters;
  MnistData mnist = LoadMnistFrom(mnist_dir);
  const std::vector<double> mean = MeanInput(mnist.train);
  SubtractMean(mnist.train, mean);
  SubtractMean(mnist.test, mean);
  std::vector<Dataset> splits = ConsecutiveSplits(mnist, {10000, 10000, 1000});
  auto train = std::make_shared<const Dataset>(std::move(splits[0]));
  const Dataset& valid = splits[1];
  const Dataset& test = splits[2];
  const MlpLayout layout({784, 10});
  const std::size_t n = layout.num_params();
  const std::vector<double> w0 = SeededInitialWeights(n, kLogInitScale, options.seed, options.streams);
  const std::vector<double> v0(n, 0.0);

  std::vector<double> log_l2(n, kInitialLogL2);
  GradientDescent meta(kMetaStep);
  std::vector<double> train_loss, valid_loss, test_loss, test_error, meta_loss, norms, snapshots;
  std::vector<std::int64_t> exact;
  Progress progress("fig06 meta-iterations", meta_iters, !options.quiet, 0.0);
  for (std::size_t k = 0; k < meta_iters; ++k) {
    const std::vector<double> l2 = Exp(log_l2);
    auto model = std::make_shared<const Mlp>(MlpOptions{layout.sizes(), l2, true, false}, train);
    ReversibleSgd sgd({model, ParameterBlocks::Single(n), SgdSchedule::Constant(kIters, 1, kAlpha, kGamma),
                       SequentialBatches(train->rows, kBatch)},
                      TrainingOptions{.buffer = options.buffer});
    sgd.Train(w0, v0);
    // f = validation NLL + 0.01·Σλ²: ∂f/∂w_T from the validation set, ∂f/∂λ direct = 0.02·λ.
    std::vector<double> d_w(n), d_l2(n), scratch(n);
    const double valid_nll = model->Evaluate(sgd.weights(), valid, d_w).nll;
    double penalty = 0.0;
    for (std::size_t k2 = 0; k2 < n; ++k2) {
      penalty += kMetaPenalty * l2[k2] * l2[k2];
      d_l2[k2] = 2.0 * kMetaPenalty * l2[k2];
    }
    // Training loss with its penalty, on the whole training set, at w_T.
    std::vector<std::size_t> all(train->rows);
    for (std::size_t r = 0; r < all.size(); ++r) all[r] = r;
    train_loss.push_back(model->Gradient(sgd.weights(), Batch{all}, scratch));
    valid_loss.push_back(valid_nll);
    const Evaluation t = model->Evaluate(sgd.weights(), test);
    test_loss.push_back(t.nll);
    test_error.push_back(t.error);
    meta_loss.push_back(valid_nll + penalty);
    snapshots.insert(snapshots.end(), l2.begin(), l2.end());  // λ used in run k

    const Hypergradients h = sgd.Reverse(d_w, d_l2);
    if (!h.reversal.exact) throw std::runtime_error("reverse pass of meta-iteration " + std::to_string(k) + " was not exact");
    exact.push_back(h.reversal.exact);
    const std::vector<double> g = ExpChainRule(l2, h.d_theta);
    double norm = 0.0;
    for (double v : g) norm += v * v;
    norms.push_back(std::sqrt(norm));
    progress.Update(k + 1, "valid loss " + std::to_string(valid_nll) + ", test error " + std::to_string(t.error));
    meta.Step(k, g, log_l2);
  }

  WriteResult(options, "fig06_l2_penalties", provenance, [&](H5Writer& w) {
    w.Write("/l2", snapshots, {meta_iters, n});
    w.Write("/final_log_l2", log_l2);
    w.Write("/streams/w0_first", std::vector<double>(w0.begin(), w0.begin() + 8));
    WriteMetaCurves(w, {.train_loss = train_loss,
                        .valid_loss = valid_loss,
                        .test_loss = test_loss,
                        .test_error = test_error,
                        .hypergradient_norm = norms,
                        .reversal_exact = exact,
                        .train_loss_meaning = "training loss including the L2 penalty, all 10,000 images, at w_T",
                        .more = {{"meta_loss", meta_loss}}});
    w.SetAttribute("/l2", "meaning", "lambda used in run k (row k), per parameter in the layout W0 (784 x 10, row-major), b0");
    w.SetAttribute("/", "iters", kIters);
    w.SetAttribute("/", "meta_iters", meta_iters);
    w.SetAttribute("/", "alpha", kAlpha);
    w.SetAttribute("/", "gamma", kGamma);
    w.SetAttribute("/", "batch_size", kBatch);
    w.SetAttribute("/", "initial_log_l2", kInitialLogL2);
    w.SetAttribute("/", "meta_optimizer", "gradient descent on log lambda, step 1000");
    w.SetAttribute("/", "meta_objective", "validation mean NLL + 0.01 * sum lambda^2");
  });
  return 0;
}

}  // namespace
}  // namespace hypergrad::experiments

int main(int argc, char** argv) {
  using namespace hypergrad::experiments;
  return MnistExperimentMain(
      argc, argv, "fig06_l2_penalties",
      "Fig 6: learns one L2 penalty per parameter of a logistic regression on MNIST "
      "(7,850 hyperparameters) from the exact hypergradient of the validation loss.",
      Run);
}
