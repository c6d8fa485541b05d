// The two-dimensional toy loss of Fig 1 (the authors' experiments/Jan_25_Figure_1/2/experiment.py),
// with exact derivatives:
// r(w) = 100(w₁ − w₀²)² + (1 − w₀)² + 200·w₀ (a tilted Rosenbrock function),
// L(w) = 800·σ(r/500), which flattens its far walls so momentum can carry the weights across.
#ifndef HYPERGRAD_MODELS_TOY_SURFACE_H_
#define HYPERGRAD_MODELS_TOY_SURFACE_H_

#include "models/model.h"

namespace hypergrad {

class ToySurface final : public Model {
 public:
  std::size_t num_params() const override { return 2; }
  // The loss at a point (batches are ignored: the loss is deterministic).
  static double Loss(double w0, double w1);
  double Gradient(std::span<const double> w, const Batch& batch,
                  std::span<double> grad) const override;
  double GradientAndHvp(std::span<const double> w, const Batch& batch, std::span<const double> u,
                        std::span<double> grad, std::span<double> hvp,
                        std::span<double> mixed) const override;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_TOY_SURFACE_H_
