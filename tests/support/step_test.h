// The optimizers' step tests: exact runs on a linear loss, each parameter with its own constant
// gradient, whose steps w_{t+1} − w_t are compared with the textbook rule in float64.
#ifndef HYPERGRAD_TESTS_SUPPORT_STEP_TEST_H_
#define HYPERGRAD_TESTS_SUPPORT_STEP_TEST_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <sstream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "buffers/info_buffer.h"
#include "models/model.h"
#include "optimizers/reversible_training.h"

namespace hypergrad::testing {

// L(w) = Σ_k g_k·w_k: the gradient is g whatever w (the Hessian is zero), so each parameter sees
// a constant gradient chosen by the test.
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

// The step tests' gradients: 10^e and −3·10^e for e = −12 … 2, and 10^3, those of magnitude up
// to `largest`.
inline std::vector<double> StepTestGradients(double largest) {
  std::vector<double> gradients;
  for (int e = -12; e <= 3; ++e) {
    gradients.push_back(std::pow(10.0, e));
    if (e < 3) gradients.push_back(-3.0 * std::pow(10.0, e));
  }
  std::erase_if(gradients, [&](double g) { return std::fabs(g) > largest; });
  return gradients;
}

// Records a run's weights w_0 … w_T (Options() for its constructor) and expects its steps to
// match the textbook's to 1e-6 relative plus `slack`; keeps the largest relative error seen.
class StepRecorder {
 public:
  TrainingOptions Options(BufferKind buffer) {
    w_.clear();
    buffer_ = buffer;
    return {.buffer = buffer, .on_step = [this](std::size_t, std::span<const double> w, double) {
              w_.emplace_back(w.begin(), w.end());
            }};
  }

  // After run.Train: parameter k's steps against textbook(gradients[k]) (its T steps). `label`
  // is added to each failure's description (", eps = 1e-08").
  void ExpectSteps(const ReversibleTraining& run, const std::vector<double>& gradients,
                   const std::function<std::vector<double>(double g)>& textbook, double slack,
                   const std::string& label = "") {
    w_.emplace_back(run.weights().begin(), run.weights().end());
    for (std::size_t k = 0; k < gradients.size(); ++k) {
      const std::vector<double> expected = textbook(gradients[k]);
      for (std::size_t t = 0; t < expected.size(); ++t) {
        const double step = w_[t + 1][k] - w_[t][k];
        const double error = std::fabs(step - expected[t]) / std::fabs(expected[t]);
        std::ostringstream where;
        where << "g = " << gradients[k] << label << ", step " << t << " of " << expected.size()
              << ", " << BufferKindName(buffer_) << " buffer";
        if (error > worst_) worst_ = error, worst_at_ = where.str();
        EXPECT_NEAR(step, expected[t], 1e-6 * std::fabs(expected[t]) + slack) << where.str();
      }
    }
  }

  ~StepRecorder() {
    std::cout << "largest relative step error: " << worst_ << " (" << worst_at_ << ")\n";
  }

 private:
  std::vector<std::vector<double>> w_;  // w_0 … w_T of the last run
  BufferKind buffer_ = BufferKind::kExact;
  double worst_ = 0.0;
  std::string worst_at_;
};

}  // namespace hypergrad::testing

#endif  // HYPERGRAD_TESTS_SUPPORT_STEP_TEST_H_
