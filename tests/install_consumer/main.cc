// Every registered optimizer trains a small MLP (6-8-3, 64 generated rows, batches of 16) for 20
// steps, then runs training backwards; prints "<optimizer> reversal_exact <0|1> d_alpha <sum>"
// per optimizer and exits 1 unless every reversal was exact.
#include <cstdio>
#include <memory>
#include <vector>

#include "models/mlp.h"
#include "optimizers/registry.h"
#include "random/random.h"
#include "optimizers/batch_schedule.h"  // SequentialBatches
#include "optimizers/reversible_training.h"

int main() {
  using namespace hypergrad;
  const auto data = std::make_shared<const Dataset>(MakeSyntheticDataset(64, 6, 3, 1));
  const auto model = std::make_shared<const Mlp>(MlpOptions{{6, 8, 3}}, data);
  const std::size_t n = model->num_params();
  std::vector<double> w0(n);
  RandomStream rng(1, {0});
  for (double& w : w0) w = 0.3 * rng.Normal();
  const Objective loss{[&](std::span<const double> w, std::span<double> d_w, std::span<double>) {
    return model->Evaluate(w, model->data(), d_w).nll;
  }};
  int inexact = 0;
  for (const OptimizerInfo& info : Optimizers()) {
    const auto run = info.make(model, ParameterBlocks::Single(n), SequentialBatches(64, 16),
                               info.Constant(20, 1, 0.01), {});
    const std::vector<double> u0(run->optimizer().num_moments() * n, 0.0);
    const RunOutcome outcome = TrainAndReverse(*run, w0, u0, loss);
    double d_alpha = 0.0;
    for (double d : outcome.hypergradients.d_alpha) d_alpha += d;
    const bool exact = outcome.hypergradients.reversal.exact;
    std::printf("%s reversal_exact %d d_alpha %.17g\n", info.name.c_str(), exact ? 1 : 0, d_alpha);
    inexact += exact ? 0 : 1;
  }
  return inexact == 0 ? 0 : 1;
}
