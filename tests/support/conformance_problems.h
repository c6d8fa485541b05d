// Training problems for the conformance test (hypergrad_checker.h) that any optimizer runs on.
#ifndef HYPERGRAD_TESTS_SUPPORT_CONFORMANCE_PROBLEMS_H_
#define HYPERGRAD_TESTS_SUPPORT_CONFORMANCE_PROBLEMS_H_

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include "models/mlp.h"
#include "random/random.h"
#include "support/hypergrad_checker.h"
#include "support/quadratic_model.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::testing {

inline std::vector<double> Uniform(std::size_t n, RandomStream& rng, double low, double high) {
  std::vector<double> x(n);
  for (double& v : x) v = low + (high - low) * rng.Uniform();
  return x;
}

// The authors' quadratic test problem (QuadraticModel, batches of 4 rows in order) with θ inside
// the loss and meta loss ‖w‖² + ‖θ‖². From `rng` in this order: the optimizer's schedules
// (`hyperparameters(iters, 1, rng)`), w_0 ~ U(−1, 1), the initial moments (`moments(rng)`, may
// return none: zeros), θ ~ U(−1, 1).
inline ConformanceProblem QuadraticWithTheta(
    std::size_t iters, std::uint64_t seed,
    const std::function<OptimizerHyperparameters(std::size_t, std::size_t, RandomStream&)>&
        hyperparameters,
    const std::function<std::vector<double>(RandomStream&)>& moments = {}) {
  RandomStream rng(seed);
  ConformanceProblem p;
  p.blocks = ParameterBlocks::Single(QuadraticModel::kDim);
  p.hyperparameters = hyperparameters(iters, 1, rng);
  p.batches = SequentialBatches(QuadraticModel::kRows, 4);
  p.w0 = Uniform(QuadraticModel::kDim, rng, -1.0, 1.0);
  if (moments) p.u0 = moments(rng);
  p.theta = Uniform(10, rng, -1.0, 1.0);
  p.make_model = [](std::span<const double> theta) {
    return std::make_shared<const QuadraticModel>(7, std::vector<double>(theta.begin(), theta.end()));
  };
  p.objective = [](std::span<const double> w, std::span<const double> theta,
                   std::span<double> d_w, std::span<double> d_theta) {
    double f = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) f += w[i] * w[i], d_w[i] = 2 * w[i];
    for (std::size_t i = 0; i < theta.size(); ++i) f += theta[i] * theta[i], d_theta[i] = 2 * theta[i];
    return f;
  };
  return p;
}

// A 3-4-2 tanh MLP on 8 generated rows with per-layer schedules, a per-parameter L2 penalty as
// θ and random batches of 4; the meta loss is the NLL on 20 held-out rows (the setting of the
// reversible-Adam experiment, small). `hyperparameters(iters, blocks, rng)` draws the
// optimizer's schedules first; w_0 ~ U(−0.5, 0.5) and θ ~ U(0.001, 0.05) follow from `rng`.
inline ConformanceProblem MlpWithL2Penalties(
    std::size_t iters, std::uint64_t seed,
    const std::function<OptimizerHyperparameters(std::size_t, std::size_t, RandomStream&)>&
        hyperparameters) {
  const MlpOptions shape{{3, 4, 2}, {}, true, false};
  const std::size_t params = MlpLayout(shape.layer_sizes).num_params();
  const auto train = std::make_shared<const Dataset>(MakeSyntheticDataset(8, 3, 2, 31));
  const auto valid = std::make_shared<const Dataset>(MakeSyntheticDataset(20, 3, 2, 32));
  RandomStream rng(seed);
  ConformanceProblem p;
  p.blocks = MlpLayout(shape.layer_sizes).LayerParamBlocks();
  p.hyperparameters = hyperparameters(iters, p.blocks.num_blocks(), rng);
  p.batches = RandomBatches(train->rows, 4, 5);
  p.w0 = Uniform(params, rng, -0.5, 0.5);
  p.theta = Uniform(params, rng, 0.001, 0.05);
  auto make = [=](std::span<const double> theta) {
    MlpOptions options = shape;
    options.l2.assign(theta.begin(), theta.end());
    return std::make_shared<const Mlp>(options, train);
  };
  p.make_model = make;
  p.objective = [=](std::span<const double> w, std::span<const double> theta,
                    std::span<double> d_w, std::span<double> d_theta) {
    std::fill(d_theta.begin(), d_theta.end(), 0.0);
    return make(theta)->Evaluate(w, *valid, d_w).nll;
  };
  return p;
}

}  // namespace hypergrad::testing

#endif  // HYPERGRAD_TESTS_SUPPORT_CONFORMANCE_PROBLEMS_H_
