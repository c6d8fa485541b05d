// L(w) = Σ_k g_k·w_k: the gradient is g whatever w (the Hessian is zero), so each parameter sees
// a constant gradient chosen by the test. The optimizers' step tests (one exact step against
// the textbook rule in float64) run on it.
#ifndef HYPERGRAD_TESTS_SUPPORT_LINEAR_MODEL_H_
#define HYPERGRAD_TESTS_SUPPORT_LINEAR_MODEL_H_

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "model.h"

namespace hypergrad::testing {

class LinearModel final : public Model {
 public:
  explicit LinearModel(std::vector<double> g) : g_(std::move(g)) {}
  std::size_t num_params() const override { return g_.size(); }
  double Gradient(std::span<const double> w, const Batch&, std::span<double> grad) const override {
    double loss = 0.0;
    for (std::size_t k = 0; k < g_.size(); ++k) loss += g_[k] * w[k], grad[k] = g_[k];
    return loss;
  }
  double GradientAndHvp(std::span<const double> w, const Batch& batch, std::span<const double>,
                        std::span<double> grad, std::span<double> hvp,
                        std::span<double>) const override {
    std::fill(hvp.begin(), hvp.end(), 0.0);
    return Gradient(w, batch, grad);
  }

 private:
  std::vector<double> g_;
};

}  // namespace hypergrad::testing

#endif  // HYPERGRAD_TESTS_SUPPORT_LINEAR_MODEL_H_
