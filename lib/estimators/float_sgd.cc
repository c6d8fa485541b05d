#include "estimators/float_sgd.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "arithmetic/rational.h"

namespace hypergrad {

void AppliedMomentum(const SgdSchedule& schedule, std::size_t t, std::span<double> ratio) {
  for (std::size_t j = 0; j < schedule.blocks; ++j) {
    const DecayRatio r = DecayToRatio(schedule.Gamma(t, j));
    ratio[j] = static_cast<double>(r.n) / static_cast<double>(r.d);
  }
}

double FloatSgdStep(const Model& model, const ParameterBlocks& blocks, const SgdSchedule& schedule,
                    std::size_t t, const Batch& batch, std::span<double> w, std::span<double> v,
                    std::span<double> grad) {
  const double loss = model.Gradient(w, batch, grad);
  std::vector<double> ratio(schedule.blocks);
  AppliedMomentum(schedule, t, ratio);
  for (std::size_t k = 0; k < w.size(); ++k) {
    const std::size_t j = blocks.block_of[k];
    const double gamma = schedule.Gamma(t, j);
    v[k] = ratio[j] * v[k] - (1.0 - gamma) * grad[k];
    w[k] += schedule.Alpha(t, j) * v[k];
  }
  return loss;
}

void FloatSgdTrain(const Model& model, const ParameterBlocks& blocks, const SgdSchedule& schedule,
                   const BatchSchedule& batches, std::size_t first, std::size_t last,
                   std::span<double> w, std::span<double> v) {
  std::vector<double> grad(w.size());
  for (std::size_t t = first; t < last; ++t) {
    const double loss = FloatSgdStep(model, blocks, schedule, t, batches(t), w, v, grad);
    if (!std::isfinite(loss)) {
      throw std::runtime_error("float64 training diverged at iteration " + std::to_string(t) +
                               ": the batch loss is " + std::to_string(loss));
    }
  }
}

}  // namespace hypergrad
