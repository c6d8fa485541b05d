// The authors' test problem (tests/test_grads.py): L_b(w, θ) = (w + θ[:5] + θ[5:])ᵀ A_bᵀ A_b w
// with A (12 × 5) split into 3 batches of 4 rows (batch b = rows 4b … 4b+3). Without θ, the
// loss is wᵀ A_bᵀ A_b w. Derivatives in closed form, with M = A_bᵀ A_b and s = θ[:5] + θ[5:]:
// ∇_w L = 2Mw + Ms, ∇²_w L·u = 2Mu, ∇_θ⟨∇_w L, u⟩ = (Mu, Mu).
#ifndef HYPERGRAD_TESTS_SUPPORT_QUADRATIC_MODEL_H_
#define HYPERGRAD_TESTS_SUPPORT_QUADRATIC_MODEL_H_

#include <vector>

#include "models/model.h"
#include "random/random.h"

namespace hypergrad::testing {

class QuadraticModel final : public Model {
 public:
  static constexpr std::size_t kDim = 5, kRows = 12;

  // `theta` empty: no hyperparameters; else 10 values.
  QuadraticModel(std::uint64_t seed, std::vector<double> theta) : theta_(std::move(theta)) {
    RandomStream rng(seed);
    a_.resize(kRows * kDim);
    for (double& v : a_) v = rng.Normal();
  }

  std::size_t num_params() const override { return kDim; }
  std::size_t num_hyper() const override { return theta_.size(); }

  double Gradient(std::span<const double> w, const Batch& batch,
                  std::span<double> grad) const override {
    std::vector<double> hvp(kDim);
    return GradientAndHvp(w, batch, {}, grad, hvp, {});
  }

  double GradientAndHvp(std::span<const double> w, const Batch& batch, std::span<const double> u,
                        std::span<double> grad, std::span<double> hvp,
                        std::span<double> mixed) const override {
    std::vector<double> s(kDim, 0.0);
    if (!theta_.empty()) {
      for (std::size_t i = 0; i < kDim; ++i) s[i] = theta_[i] + theta_[kDim + i];
    }
    const std::vector<double> mw = Apply(batch, w), ms = Apply(batch, s);
    double loss = 0.0;
    for (std::size_t i = 0; i < kDim; ++i) {
      loss += (w[i] + s[i]) * mw[i];
      grad[i] = 2.0 * mw[i] + ms[i];
    }
    if (!u.empty()) {
      const std::vector<double> mu = Apply(batch, u);
      for (std::size_t i = 0; i < kDim; ++i) hvp[i] = 2.0 * mu[i];
      if (!mixed.empty()) {
        for (std::size_t i = 0; i < kDim; ++i) mixed[i] = mixed[kDim + i] = mu[i];
      }
    }
    return loss;
  }

 private:
  // M·x = A_bᵀ (A_b x) over the batch's rows.
  std::vector<double> Apply(const Batch& batch, std::span<const double> x) const {
    std::vector<double> out(kDim, 0.0);
    for (std::size_t r : batch.rows) {
      double ax = 0.0;
      for (std::size_t i = 0; i < kDim; ++i) ax += a_[r * kDim + i] * x[i];
      for (std::size_t i = 0; i < kDim; ++i) out[i] += a_[r * kDim + i] * ax;
    }
    return out;
  }

  std::vector<double> a_;
  std::vector<double> theta_;
};

}  // namespace hypergrad::testing

#endif  // HYPERGRAD_TESTS_SUPPORT_QUADRATIC_MODEL_H_
