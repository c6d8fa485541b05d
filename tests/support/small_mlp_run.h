// A small MLP training run (6-8-3 tanh, 64 generated rows, batches of 16) for tests that compare
// reversal strategies: cheap enough to train for hundreds of steps.
#ifndef HYPERGRAD_TESTS_SUPPORT_SMALL_MLP_RUN_H_
#define HYPERGRAD_TESTS_SUPPORT_SMALL_MLP_RUN_H_

#include <memory>
#include <vector>

#include "models/mlp.h"
#include "random/random.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad::testing {

struct SmallMlpRun {
  std::shared_ptr<const Mlp> model;
  ParameterBlocks blocks;
  std::vector<double> w0, v0;

  explicit SmallMlpRun(std::uint64_t seed) {
    auto data = std::make_shared<const Dataset>(MakeSyntheticDataset(64, 6, 3, seed));
    model = std::make_shared<const Mlp>(MlpOptions{{6, 8, 3}, {1e-3}, false, false}, data);
    blocks = model->layout().LayerParamBlocks();
    RandomStream rng(seed, {1});
    w0.resize(model->num_params());
    for (double& w : w0) w = 0.3 * rng.Normal();
    v0.assign(model->num_params(), 0.0);
  }
  SgdSetup Setup(std::size_t iters, double alpha, double gamma) const {
    return {model, blocks, SgdSchedule::Constant(iters, blocks.num_blocks(), alpha, gamma),
            SequentialBatches(64, 16)};
  }
  struct Result {
    Hypergradients hypergradients;
    std::size_t recomputed_steps = 0, extra_bytes_after_train = 0, peak_extra_bytes = 0;
  };
  // Trains with `options` and reverses from the gradient of the full-data loss.
  Result Run(std::size_t iters, double alpha, double gamma, const TrainingOptions& options) const {
    ReversibleSgd sgd(Setup(iters, alpha, gamma), options);
    sgd.Train(w0, v0);
    std::vector<double> d_w(model->num_params());
    model->Evaluate(sgd.weights(), model->data(), d_w);
    Result r{sgd.Reverse(d_w)};
    r.recomputed_steps = sgd.recomputed_steps();
    r.extra_bytes_after_train = sgd.extra_bytes_after_train();
    r.peak_extra_bytes = sgd.peak_extra_bytes();
    return r;
  }
};

}  // namespace hypergrad::testing

#endif  // HYPERGRAD_TESTS_SUPPORT_SMALL_MLP_RUN_H_
