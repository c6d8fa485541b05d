// Exact reversal and hypergradients of ReversibleRmsprop (reversible_rmsprop.h).
#include "optimizers/reversible_rmsprop.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "arithmetic/fixed_point.h"
#include "models/mlp.h"
#include "random/random.h"
#include "arithmetic/rational.h"
#include "support/conformance_problems.h"
#include "support/hypergrad_checker.h"
#include "support/step_test.h"
#include "support/quadratic_model.h"
#include "support/small_mlp_run.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad {
namespace {

using testing::ExpectOptimizerConforms;
using testing::LinearModel;
using testing::StepRecorder;
using testing::StepTestGradients;
using testing::QuadraticModel;
using testing::SmallMlpRun;
using testing::Uniform;

// The authors' quadratic test problem: per-step ρ, μ, α drawn at random, nonzero initial
// moments (so ∂f/∂s_0 and ∂f/∂m_0 are differenced too), θ inside the loss.
TEST(RmspropConformanceTest, QuadraticWithHyperparametersInsideTheLoss) {
  const auto draw = [](std::size_t t, std::size_t b, RandomStream& rng) {
    return OptimizerHyperparameters{
        t, b,
        {{"alpha", Uniform(t, rng, 0.01, 0.05)},
         {"rho", Uniform(t, rng, 0.8, 0.99)},
         {"mu", Uniform(t, rng, 0.5, 0.9)}},
        {{"eps", 0.01}}};
  };
  const auto moments = [](RandomStream& rng) {
    std::vector<double> u0 = Uniform(QuadraticModel::kDim, rng, 0.5, 1.0);  // s_0 > 0
    const std::vector<double> m0 = Uniform(QuadraticModel::kDim, rng, -0.3, 0.3);
    u0.insert(u0.end(), m0.begin(), m0.end());
    return u0;
  };
  ExpectOptimizerConforms("rmsprop", testing::QuadraticWithTheta(9, 41, draw, moments));
}

// An MLP with per-layer schedules, L2 penalties as θ, ε = 1e-8 from s_0 = m_0 = 0. ρ reaches
// 0.999, where s_1 = (1−ρ)·g² moves by 10% for a step of 1e-4 in ρ and the central difference's
// truncation error is ~0.2% (measured: d_rho[0] off by 0.25% with 1e-4, within 1e-3 with 1e-5).
TEST(RmspropConformanceTest, MlpPerLayerSchedulesAndL2Penalties) {
  const auto draw = [](std::size_t t, std::size_t b, RandomStream& rng) {
    return OptimizerHyperparameters{
        t, b,
        {{"alpha", Uniform(t * b, rng, 0.002, 0.01)},
         {"rho", Uniform(t * b, rng, 0.9, 0.999)},
         {"mu", Uniform(t * b, rng, 0.6, 0.9)}},
        {{"eps", 1e-8}}};
  };
  ExpectOptimizerConforms("rmsprop", testing::MlpWithL2Penalties(12, 43, draw), {.step = 1e-5});
}

// Why RMSprop's ∂f/∂ε agrees with the float64 run's central differences only to 0.32 % at the
// registry's defaults (EveryOptimizerTest.ConformsAtTheRegistrysDefaults, the same problem): the
// forward run decays by the ratios n/d = (⌊65536·ρ⌋ + 1)/65536 (rational.h), the float run and
// the adjoints by ρ, μ themselves. With ρ and μ 1e-12 below their ratios, so that both decay
// alike, ∂f/∂ε agrees to 1e-5 (measured 4.0e-7 with the checker's step, 1e-4·ε).
TEST(RmspropConformanceTest, EpsMatchesWhenTheDecaysAreTheirRatios) {
  const auto just_below_ratio = [](double decay) {
    const DecayRatio r = DecayToRatio(decay);
    return static_cast<double>(r.n) / r.d - 1e-12;
  };
  const double rho = just_below_ratio(0.999), mu = just_below_ratio(0.9);
  ASSERT_EQ(DecayToRatio(rho).n, DecayToRatio(0.999).n);
  const auto draw = [&](std::size_t t, std::size_t b, RandomStream&) {
    return FindOptimizer("rmsprop").Constant(t, b, 0.01, {{"rho", rho}, {"mu", mu}});
  };
  ExpectOptimizerConforms("rmsprop", testing::MlpWithL2Penalties(12, 47, draw),
                          {.tolerance_of = {{"d_eps", 1e-5}}});
}

// Textbook RMSprop with momentum in float64 on a constant gradient g (s first, m from the new
// s, w from the new m), the steps w_{t+1} − w_t for t = 0 … T−1. The decays of s and m are the
// ratios applied exactly (DecayToRatio, exceeding ρ and μ by < 2^-16); the increments
// (1−ρ)·g² and (1−μ)·q use the float ρ and μ, as the library does.
std::vector<double> TextbookRmspropSteps(double g, std::size_t iters, double alpha, double rho,
                                         double mu, double eps) {
  const DecayRatio r_rho = DecayToRatio(rho), r_mu = DecayToRatio(mu);
  const double decay_s = double(r_rho.n) / r_rho.d, decay_m = double(r_mu.n) / r_mu.d;
  double s = 0.0, m = 0.0;
  std::vector<double> steps;
  for (std::size_t t = 0; t < iters; ++t) {
    s = decay_s * s + (1.0 - rho) * (g * g);
    m = decay_m * m + (1.0 - mu) * (g / std::sqrt(s + eps));
    steps.push_back(-alpha * m);
  }
  return steps;
}

// One, five and 2000 steps of the exact optimizer agree with float64 RMSprop with momentum to
// 1e-6 relative for gradients from 1e-12 to 1e3 (both signs; five steps of 1e3 would take
// s = 5e-3·g² past its range 2048, so those run up to 300, and 2000 steps up to 30, where
// s → g²) at ρ = 0.999, μ = 0.9, ε = 1e-8, with both buffers. The step is read off w, whose
// grid truncates it by less than one quantum 2^-52 = 2.2e-16 (added to the tolerance: at
// |g| = 1e-12, q = g/√(s + ε) ≈ 1e-8 and the first step is α·(1−μ)·q = 1e-9·α). On w's grid
// for the moments (2^-52, before they moved to kFineMomentFormat) this fails: Algorithm 3 leaves
// each decayed moment off by up to n ≈ 2^16 quanta, 1.5e-11, against m ≈ 1e-8 and s ≈ 1e-24.
TEST(RmspropStepTest, AgreesWithFloatRmspropForTinyAndLargeGradients) {
  const double rho = 0.999, mu = 0.9, eps = 1e-8;
  struct Case {
    std::size_t iters;
    double alpha, largest_gradient;
  };
  // 2000 steps: s settles near g², the buffer holds ~300 bits per element, so the digits
  // popped are random; α = 0.25 keeps |w| < 2048 (|w_T| ≈ 815 at |g| = 30).
  const Case cases[] = {{1, 1.0, 1e3}, {5, 1.0, 300.0}, {2000, 0.25, 30.0}};
  StepRecorder recorder;
  for (const BufferKind buffer : {BufferKind::kExact, BufferKind::kFast}) {
    for (const Case& step_case : cases) {
      const std::vector<double> used = StepTestGradients(step_case.largest_gradient);
      const std::size_t n = used.size(), iters = step_case.iters;
      const auto constant = [&](double x) { return std::vector<double>(iters, x); };
      ReversibleRmsprop rmsprop(
          {std::make_shared<const LinearModel>(used), ParameterBlocks::Single(n),
           {iters, 1, constant(step_case.alpha), constant(rho), constant(mu), eps},
           SequentialBatches(1, 1)},
          recorder.Options(buffer));
      rmsprop.Train(std::vector<double>(n, 0.0));
      recorder.ExpectSteps(
          rmsprop, used,
          [&](double g) { return TextbookRmspropSteps(g, iters, step_case.alpha, rho, mu, eps); },
          kPositionFormat.Resolution());
    }
  }
}

RmspropSetup SmallMlpRmsprop(const SmallMlpRun& run, std::size_t iters, double alpha, double rho,
                             double mu, double eps = 1e-8) {
  const std::size_t n = iters * run.blocks.num_blocks();
  return {run.model, run.blocks,
          {iters, run.blocks.num_blocks(), std::vector<double>(n, alpha),
           std::vector<double>(n, rho), std::vector<double>(n, mu), eps},
          SequentialBatches(64, 16)};
}

// The textbook rule written out here in float64 (s first, then m from the new s, then w with
// the new m), with the decays the fixed-point run applies (n/d: Algorithm 3's ratios), agrees
// with the exactly reversible run to rounding: the fixed point truncates each increment of w to
// 2^-52 (~2e-16) and of s and m to 2^-116, a few hundred of them per value over 200 steps.
TEST(ReversibleRmspropTest, FollowsTheTextbookRule) {
  const SmallMlpRun run(11);
  const std::size_t iters = 200, n = run.model->num_params();
  const double alpha = 0.003, rho = 0.99, mu = 0.9, eps = 1e-8;
  ReversibleRmsprop rmsprop(SmallMlpRmsprop(run, iters, alpha, rho, mu, eps));
  rmsprop.Train(run.w0);
  const DecayRatio r_rho = DecayToRatio(rho), r_mu = DecayToRatio(mu);
  const double applied_rho = double(r_rho.n) / r_rho.d, applied_mu = double(r_mu.n) / r_mu.d;
  std::vector<double> w = run.w0, s(n, 0.0), m(n, 0.0), g(n);
  const BatchSchedule batches = SequentialBatches(64, 16);
  for (std::size_t t = 0; t < iters; ++t) {
    run.model->Gradient(w, batches(t), g);
    for (std::size_t k = 0; k < n; ++k) {
      s[k] = applied_rho * s[k] + (1.0 - rho) * g[k] * g[k];
      m[k] = applied_mu * m[k] + (1.0 - mu) * g[k] / std::sqrt(s[k] + eps);
      w[k] -= alpha * m[k];
    }
  }
  double largest = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    largest = std::max(largest, std::fabs(rmsprop.weights()[k] - w[k]));
    EXPECT_NEAR(rmsprop.moments()[k], s[k], 1e-12 + 1e-9 * s[k]) << "s[" << k << "]";
    EXPECT_NEAR(rmsprop.moments()[n + k], m[k], 1e-9) << "m[" << k << "]";
  }
  EXPECT_LT(largest, 1e-9);
  // And the run goes back bit for bit.
  std::vector<double> d_w(n, 1.0);
  EXPECT_TRUE(rmsprop.Reverse(d_w).reversal.exact);
}

TEST(ReversibleRmspropTest, RefusesNegativeMeanSquaresAndBadSchedules) {
  const SmallMlpRun run(5);
  ReversibleRmsprop rmsprop(SmallMlpRmsprop(run, 5, 0.01, 0.99, 0.9));
  std::vector<double> u0(2 * run.model->num_params(), 0.0);
  u0[3] = -1.0;
  try {
    rmsprop.Train(run.w0, u0);
    FAIL() << "s0 < 0 must be refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("s0 of parameter"));
  }
  for (const auto& [rho, mu, eps] : {std::tuple{1.0, 0.9, 1e-8}, std::tuple{0.99, 0.0, 1e-8},
                                     std::tuple{0.99, 0.9, 0.0}}) {
    EXPECT_THROW(ReversibleRmsprop(SmallMlpRmsprop(run, 5, 0.01, rho, mu, eps)),
                 std::invalid_argument);
  }
}

TEST(ReversibleRmspropTest, DivergenceNamesIterationAndMoment) {
  const SmallMlpRun run(5);
  ReversibleRmsprop rmsprop(SmallMlpRmsprop(run, 50, 1e5, 0.99, 0.9));
  try {
    rmsprop.Train(run.w0);
    FAIL() << "a learning rate of 1e5 should leave the fixed-point range";
  } catch (const FixedPointOverflow& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("training diverged at iteration"));
  }
}

}  // namespace
}  // namespace hypergrad
