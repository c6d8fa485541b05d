// Exact reversal and hypergradients of ReversibleAdam (reversible_adam.h).
#include "reversible_adam.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "fixed_point.h"
#include "mlp.h"
#include "random.h"
#include "support/conformance_problems.h"
#include "support/hypergrad_checker.h"
#include "support/quadratic_model.h"
#include "support/small_mlp_run.h"

namespace hypergrad {
namespace {

using testing::QuadraticModel;
using testing::SmallMlpRun;
using testing::Uniform;
using testing::ExpectOptimizerConforms;

AdamSetup SmallMlpAdam(const SmallMlpRun& run, std::size_t iters, double alpha, double beta1,
                       double beta2, double eps = 1e-8) {
  return {run.model, run.blocks,
          AdamSchedule::Constant(iters, run.blocks.num_blocks(), alpha, beta1, beta2, eps),
          SequentialBatches(64, 16)};
}

// The authors' quadratic test problem with Adam: per-block schedules drawn at random, ε large
// enough (0.01) that the step is far from the √ŝ ≈ 0 corner, meta loss ‖w‖² + ‖θ‖².
TEST(AdamHypergradientTest, QuadraticWithHyperparametersInsideTheLoss) {
  const auto draw = [](std::size_t t, std::size_t b, RandomStream& rng) {
    return OptimizerHyperparameters{
        t, b,
        {{"alpha", Uniform(t, rng, 0.01, 0.1)},
         {"beta1", Uniform(t, rng, 0.5, 0.9)},
         {"beta2", Uniform(t, rng, 0.8, 0.99)}},
        {{"eps", 0.01}}};
  };
  ExpectOptimizerConforms("adam", testing::QuadraticWithTheta(9, 21, draw));
}

// An MLP with per-layer schedules, a per-parameter L2 penalty as θ and random batches, meta
// loss the NLL on held-out data (the setting of the reversible-Adam experiment, small).
TEST(AdamHypergradientTest, MlpPerLayerSchedulesAndL2Penalties) {
  const auto draw = [](std::size_t t, std::size_t b, RandomStream& rng) {
    return OptimizerHyperparameters{
        t, b,
        {{"alpha", Uniform(t * b, rng, 0.02, 0.08)},
         {"beta1", Uniform(t * b, rng, 0.6, 0.9)},
         {"beta2", Uniform(t * b, rng, 0.9, 0.999)}},
        {{"eps", 1e-3}}};
  };
  ExpectOptimizerConforms("adam", testing::MlpWithL2Penalties(12, 33, draw));
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
  Hypergradients result[2];
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
