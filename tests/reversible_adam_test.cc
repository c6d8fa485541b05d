// Exact reversal and hypergradients of ReversibleAdam (reversible_adam.h).
#include "reversible_adam.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "rational.h"

#include "fixed_point.h"
#include "mlp.h"
#include "random.h"
#include "support/hypergrad_checker.h"
#include "support/quadratic_model.h"
#include "support/small_mlp_run.h"

namespace hypergrad {
namespace {

using testing::AdamHypergradProblem;
using testing::ExpectAdamHypergradMatchesFiniteDifferences;
using testing::QuadraticModel;
using testing::SmallMlpRun;

std::vector<double> Uniform(std::size_t n, RandomStream& rng, double low, double high) {
  std::vector<double> x(n);
  for (double& v : x) v = low + (high - low) * rng.Uniform();
  return x;
}

AdamSetup SmallMlpAdam(const SmallMlpRun& run, std::size_t iters, double alpha, double beta1,
                       double beta2, double eps = 1e-8) {
  return {run.model, run.blocks,
          AdamSchedule::Constant(iters, run.blocks.num_blocks(), alpha, beta1, beta2, eps),
          SequentialBatches(64, 16)};
}

// L(w) = Σ_k g_k·w_k: the gradient is g whatever w, so each parameter sees a gradient chosen by
// the test.
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

// Textbook Adam (Kingma & Ba, Algorithm 1) in float64 on a constant gradient g, the steps
// w_{t+1} − w_t for t = 0 … T−1. The one reading of β = n/d this library follows: the decay
// of m and s is the ratio applied exactly (MomentumToRatio(β), exceeding β by < 2^-16); the
// increments (1−β)·g, (1−β)·g² and the bias corrections 1 − β^(t+1) use the float β.
std::vector<double> TextbookAdamSteps(double g, std::size_t iters, double alpha, double beta1,
                                      double beta2, double eps) {
  const MomentumRatio r1 = MomentumToRatio(beta1), r2 = MomentumToRatio(beta2);
  const double decay1 = double(r1.n) / r1.d, decay2 = double(r2.n) / r2.d;
  double m = 0.0, s = 0.0, p1 = 1.0, p2 = 1.0;
  std::vector<double> steps;
  for (std::size_t t = 0; t < iters; ++t) {
    m = decay1 * m + (1.0 - beta1) * g;
    s = decay2 * s + (1.0 - beta2) * g * g;
    p1 *= beta1;
    p2 *= beta2;
    const double m_hat = m / (1.0 - p1), s_hat = s / (1.0 - p2);
    steps.push_back(-alpha * m_hat / (std::sqrt(s_hat) + eps));
  }
  return steps;
}

// One step and five steps of the exact optimizer agree with float64 Adam to 1e-6 relative for
// gradients from 1e-12 to 1e3 (both signs; five steps of 1e3 would take s = 5e-3·g² past its
// range 2048, so those run up to 300) and ε from 1e-12 to 1e-3, with both buffers. The
// step is read off w (α = 1, w_0 = 0, so the 2^-52 grid of w costs < 2.2e-16 absolute, < 1e-6
// relative for steps above 2.2e-10; the smallest here, 3e-13/1e-3 = 3e-10, is off by up to
// 7.4e-7 for that reason alone).
TEST(AdamStepTest, AgreesWithFloatAdamForTinyAndLargeGradients) {
  std::vector<double> gradients;
  for (int e = -12; e <= 3; ++e) {
    gradients.push_back(std::pow(10.0, e));
    gradients.push_back(-3.0 * std::pow(10.0, e - 1));
  }
  double worst = 0.0;
  std::string worst_at;
  for (const BufferKind buffer : {BufferKind::kExact, BufferKind::kFast}) {
    for (const double eps : {1e-12, 1e-8, 1e-3}) {
      for (const std::size_t iters : {std::size_t{1}, std::size_t{5}}) {
        if (iters > 1) std::erase_if(gradients, [](double g) { return std::fabs(g) > 300.0; });
        const std::size_t n = gradients.size();
        const auto model = std::make_shared<const LinearModel>(gradients);
        std::vector<std::vector<double>> w;  // w_0 … w_T
        ReversibleAdam adam({model, ParameterBlocks::Single(n),
                             AdamSchedule::Constant(iters, 1, 1.0, 0.9, 0.999, eps),
                             SequentialBatches(1, 1)},
                            {.buffer = buffer,
                             .on_step = [&](std::size_t, std::span<const double> wt, double) {
                               w.emplace_back(wt.begin(), wt.end());
                             }});
        adam.Train(std::vector<double>(n, 0.0));
        w.emplace_back(adam.weights().begin(), adam.weights().end());
        for (std::size_t k = 0; k < n; ++k) {
          const std::vector<double> expected =
              TextbookAdamSteps(gradients[k], iters, 1.0, 0.9, 0.999, eps);
          for (std::size_t t = 0; t < iters; ++t) {
            const double step = w[t + 1][k] - w[t][k];
            const double error = std::fabs(step - expected[t]) / std::fabs(expected[t]);
            if (error > worst) {
              worst = error;
              worst_at = "g = " + std::to_string(gradients[k]) + ", eps = " +
                         std::to_string(eps) + ", step " + std::to_string(t) + ", " +
                         std::string(BufferKindName(buffer)) + " buffer";
            }
            EXPECT_NEAR(step, expected[t], 1e-6 * std::fabs(expected[t]))
                << "g = " << gradients[k] << ", eps = " << eps << ", step " << t << " of "
                << iters << ", " << BufferKindName(buffer) << " buffer";
          }
        }
      }
    }
  }
  std::cout << "largest relative step error: " << worst << " (" << worst_at << ")\n";
}

// The authors' quadratic test problem with Adam: per-block schedules drawn at random, ε large
// enough (0.01) that the step is far from the √ŝ ≈ 0 corner, meta loss ‖w‖² + ‖θ‖².
TEST(AdamHypergradientTest, QuadraticWithHyperparametersInsideTheLoss) {
  RandomStream rng(21);
  AdamHypergradProblem p;
  p.blocks = ParameterBlocks::Single(QuadraticModel::kDim);
  const std::size_t iters = 9;
  p.schedule = {iters, 1, Uniform(iters, rng, 0.01, 0.1), Uniform(iters, rng, 0.5, 0.9),
                Uniform(iters, rng, 0.8, 0.99), 0.01};
  p.batches = SequentialBatches(QuadraticModel::kRows, 4);
  p.w0 = Uniform(QuadraticModel::kDim, rng, -1.0, 1.0);
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
  ExpectAdamHypergradMatchesFiniteDifferences(p);
}

// An MLP with per-layer schedules, a per-parameter L2 penalty as θ and random batches, meta
// loss the NLL on held-out data (the setting of the reversible-Adam experiment, small).
TEST(AdamHypergradientTest, MlpPerLayerSchedulesAndL2Penalties) {
  const MlpOptions shape{{3, 4, 2}, {}, true, false};
  const std::size_t params = MlpLayout(shape.layer_sizes).num_params();
  const auto train = std::make_shared<const Dataset>(MakeSyntheticDataset(8, 3, 2, 31));
  const auto valid = std::make_shared<const Dataset>(MakeSyntheticDataset(20, 3, 2, 32));
  RandomStream rng(33);
  AdamHypergradProblem p;
  p.blocks = MlpLayout(shape.layer_sizes).LayerParamBlocks();
  const std::size_t iters = 12, b = p.blocks.num_blocks();
  p.schedule = {iters, b, Uniform(iters * b, rng, 0.02, 0.08), Uniform(iters * b, rng, 0.6, 0.9),
                Uniform(iters * b, rng, 0.9, 0.999), 1e-3};
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
  ExpectAdamHypergradMatchesFiniteDifferences(p);
}

struct AdamReversalCase {
  std::size_t iters;
  BufferKind buffer;
};

class AdamExactReversalTest : public ::testing::TestWithParam<AdamReversalCase> {};

// Adam runs backwards bit for bit for long runs, with both buffers; the buffer holds about
// log2(d/n) bits per parameter per step for each moment.
TEST_P(AdamExactReversalTest, RecoversInitialStateAndMatchesStoredTrajectory) {
  const AdamReversalCase c = GetParam();
  const SmallMlpRun run(7);
  AdamHypergradients result[2];
  double bits_per_step = 0.0;
  for (const ReversalMethod method :
       {ReversalMethod::kReversible, ReversalMethod::kStoredTrajectory}) {
    ReversibleAdam adam(SmallMlpAdam(run, c.iters, 0.01, 0.9, 0.999),
                        {.method = method, .buffer = c.buffer});
    adam.Train(run.w0);
    if (method == ReversalMethod::kReversible) {
      bits_per_step = adam.information_bits_after_train() /
                      (double(c.iters) * double(run.model->num_params()));
    }
    std::vector<double> d_w(run.model->num_params());
    run.model->Evaluate(adam.weights(), run.model->data(), d_w);
    result[method == ReversalMethod::kReversible ? 0 : 1] = adam.Reverse(d_w);
  }
  EXPECT_TRUE(result[0].reversal.exact);
  EXPECT_TRUE(result[0].reversal.buffer_empty);
  EXPECT_EQ(result[0].reversal.max_w0_error, 0.0);
  testing::ExpectAllBitwiseEqual(result[0], result[1], "reversible vs stored");
  // log2(65536/58983) + log2(65536/65471) = 0.15199 + 0.00143 bits. Short runs differ by the
  // one-off cost per element: the fast coder's start-up state lifts them above it, while the
  // exact integer's first digits, pushed onto zero, cost less than log2(d) (T = 10: 0.049).
  const double steady = std::log2(65536.0 / 58983.0) + std::log2(65536.0 / 65471.0);
  if (c.iters >= 10000) {
    EXPECT_NEAR(bits_per_step, steady, 0.01 * steady);
  }
  if (c.buffer == BufferKind::kFast) {
    EXPECT_GE(bits_per_step, 0.99 * steady);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Lengths, AdamExactReversalTest,
    ::testing::Values(AdamReversalCase{10, BufferKind::kExact}, AdamReversalCase{10, BufferKind::kFast},
                      AdamReversalCase{1000, BufferKind::kExact},
                      AdamReversalCase{1000, BufferKind::kFast},
                      AdamReversalCase{10000, BufferKind::kExact},
                      AdamReversalCase{10000, BufferKind::kFast}),
    [](const auto& p) {
      return "T" + std::to_string(p.param.iters) + "_" +
             std::string(BufferKindName(p.param.buffer));
    });

TEST(ReversibleAdamTest, DivergenceNamesIterationAndParameter) {
  const SmallMlpRun run(5);
  ReversibleAdam adam(SmallMlpAdam(run, 50, 1e5, 0.9, 0.999));
  try {
    adam.Train(run.w0);
    FAIL() << "a learning rate of 1e5 should leave the fixed-point range";
  } catch (const FixedPointOverflow& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("training diverged at iteration"));
    EXPECT_THAT(e.what(), ::testing::ContainsRegex("parameter [Wb][01]\\["));
  }
}

TEST(ReversibleAdamTest, AnOutOfRangeSecondMomentIsNamed) {
  const SmallMlpRun run(5);
  std::vector<double> m0(run.model->num_params(), 0.0), s0(run.model->num_params(), 0.0);
  s0[3] = 5000.0;
  ReversibleAdam adam(SmallMlpAdam(run, 5, 0.01, 0.9, 0.999));
  try {
    adam.Train(run.w0, m0, s0);
    FAIL() << "s0 = 5000 is outside the fixed-point range";
  } catch (const FixedPointOverflow& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("s of parameter"));
  }
  s0[3] = -1.0;
  EXPECT_THROW(adam.Train(run.w0, m0, s0), std::invalid_argument);
}

TEST(ReversibleAdamTest, RejectsInvalidSchedules) {
  const SmallMlpRun run(5);
  for (const auto& [beta1, beta2, eps] : {std::tuple{1.0, 0.999, 1e-8}, std::tuple{0.9, 0.0, 1e-8},
                                          std::tuple{0.9, 0.999, 0.0},
                                          std::tuple{0.9, 0.999, std::nan("")}}) {
    EXPECT_THROW(ReversibleAdam(SmallMlpAdam(run, 5, 0.01, beta1, beta2, eps)),
                 std::invalid_argument)
        << beta1 << " " << beta2 << " " << eps;
  }
  AdamSetup wrong = SmallMlpAdam(run, 5, 0.01, 0.9, 0.999);
  wrong.schedule.beta2.pop_back();
  EXPECT_THROW(ReversibleAdam(std::move(wrong)), std::invalid_argument);
}

TEST(ReversibleAdamTest, ReverseNeedsATrainAndRightSizes) {
  const SmallMlpRun run(8);
  ReversibleAdam adam(SmallMlpAdam(run, 5, 0.01, 0.9, 0.999));
  std::vector<double> d_w(run.model->num_params(), 1.0);
  EXPECT_THROW(adam.Reverse(d_w), std::logic_error);
  adam.Train(run.w0);
  EXPECT_THROW(adam.Reverse(std::vector<double>(3)), std::invalid_argument);
  EXPECT_TRUE(adam.Reverse(d_w).reversal.exact);  // the trained state survived the bad call
}

}  // namespace
}  // namespace hypergrad
