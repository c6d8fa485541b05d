// The shared training run (reversible_training.h), for every registered optimizer: the reverse
// loop's truncation (ReverseOptions::first_step), its thread split and its argument checks, and
// the conformance test (support/hypergrad_checker.h) at the registry's default hyperparameters;
// the registry itself (optimizers/registry.h).
#include "optimizers/reversible_training.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "models/mlp.h"
#include "optimizers/registry.h"
#include "support/conformance_problems.h"
#include "support/hypergrad_checker.h"
#include "random/random.h"
#include "optimizers/reversible_rmsprop.h"
#include "optimizers/reversible_sgd.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad {
namespace {

struct MlpRun {
  std::shared_ptr<const Mlp> model;
  ParameterBlocks blocks;
  std::vector<double> w0;
};

MlpRun MakeRun(std::size_t hidden, unsigned threads) {
  auto data = std::make_shared<const Dataset>(MakeSyntheticDataset(32, 6, 3, 3));
  MlpRun r;
  r.model = std::make_shared<const Mlp>(MlpOptions{{6, hidden, 3}, {}, false, false, threads}, data);
  r.blocks = r.model->layout().LayerParamBlocks();
  RandomStream rng(4);
  r.w0.resize(r.model->num_params());
  for (double& w : r.w0) w = 0.3 * rng.Normal();
  return r;
}

// Trains `optimizer` for `iters` steps and reverses from the full-data loss down to first_step.
Hypergradients TrainAndReverseTo(const std::string& optimizer, const MlpRun& r, std::size_t iters,
                                 std::size_t first_step, unsigned threads = 1) {
  const OptimizerInfo& info = FindOptimizer(optimizer);
  const double alpha = optimizer == "sgd" ? 0.1 : 0.003;
  auto run = info.make(r.model, r.blocks, SequentialBatches(32, 8),
                       info.Constant(iters, r.blocks.num_blocks(), alpha), {.threads = threads});
  const std::vector<double> u0(run->optimizer().num_moments() * r.w0.size(), 0.0);
  const Objective f{[&](std::span<const double> w, std::span<double> d_w, std::span<double>) {
    return r.model->Evaluate(w, r.model->data(), d_w).nll;
  }};
  return TrainAndReverse(*run, r.w0, u0, f, {.reverse = {first_step}}).hypergradients;
}

class EveryOptimizerTest : public ::testing::TestWithParam<std::string> {};

// A pass down to step T − K gives the full pass's rows of steps ≥ T − K bit for bit (each row
// is formed when its step is visited, from the adjoints of later steps only), zeros before,
// and zeros for d_w0 and d_u0; K = T is the full pass.
TEST_P(EveryOptimizerTest, TruncatedReverseGivesTheLastRowsOfTheFullPass) {
  const MlpRun r = MakeRun(5, 1);
  const std::size_t iters = 12, first = 8, b = r.blocks.num_blocks();
  const Hypergradients full = TrainAndReverseTo(GetParam(), r, iters, 0);
  const Hypergradients also_full = TrainAndReverseTo(GetParam(), r, iters, 0);
  EXPECT_TRUE(BitwiseEqual(full, also_full));
  EXPECT_TRUE(full.reversal.exact);
  const Hypergradients truncated = TrainAndReverseTo(GetParam(), r, iters, first);
  EXPECT_EQ(truncated.first_step, first);
  EXPECT_FALSE(truncated.reversal.exact);  // not checked: the pass stopped at step 8
  std::vector<std::string> names = {"alpha"};
  for (const NamedValues& d : full.d_schedules) names.push_back(d.name);
  for (const std::string& name : names) {
    const std::vector<double>& a = full.schedule(name);
    const std::vector<double>& t = truncated.schedule(name);
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (i / b >= first) {
        EXPECT_EQ(t[i], a[i]) << name << "[" << i / b << "][" << i % b << "]";
      } else {
        EXPECT_EQ(t[i], 0.0) << name << "[" << i / b << "][" << i % b << "]";
      }
    }
  }
  for (double d : truncated.d_w0) ASSERT_EQ(d, 0.0);
  for (const NamedValues& m : truncated.d_u0) {
    for (double d : m.values) ASSERT_EQ(d, 0.0) << m.name;
  }
  // first_step = T: no step reversed.
  const Hypergradients none = TrainAndReverseTo(GetParam(), r, iters, iters);
  for (double d : none.d_alpha) ASSERT_EQ(d, 0.0);
}

// Every optimizer's reverse loops run on a fixed split of the parameters (ElementLoop): the
// same bits on 1 and 3 threads, with enough parameters (> 2 · 8,192) for several pieces.
TEST_P(EveryOptimizerTest, ThreadsGiveTheSameBits) {
  const MlpRun one = MakeRun(2400, 1), three = MakeRun(2400, 3);
  ASSERT_GT(one.w0.size(), 2u * 8192u);
  const Hypergradients a = TrainAndReverseTo(GetParam(), one, 4, 0, 1);
  const Hypergradients b = TrainAndReverseTo(GetParam(), three, 4, 0, 3);
  EXPECT_TRUE(a.reversal.exact);
  EXPECT_TRUE(BitwiseEqual(a, b));
}

TEST_P(EveryOptimizerTest, RefusesAFirstStepBeyondTheRun) {
  const MlpRun r = MakeRun(5, 1);
  const OptimizerInfo& info = FindOptimizer(GetParam());
  auto run = info.make(r.model, r.blocks, SequentialBatches(32, 8),
                       info.Constant(4, r.blocks.num_blocks(), 0.01), {});
  run->Train(r.w0, std::vector<double>(run->optimizer().num_moments() * r.w0.size(), 0.0));
  const std::vector<double> d_w(r.w0.size(), 1.0);
  EXPECT_THROW(run->Reverse(d_w, {}, {.first_step = 5}), std::invalid_argument);
  EXPECT_TRUE(run->Reverse(d_w).reversal.exact);  // the bad call left the trained state
}

// Every optimizer at its registry defaults (every flag's default, α = default_alpha) on the
// small MLP with per-layer blocks and L2 penalties (conformance_problems.h): the conformance
// test, its finite-difference steps kept inside each hyperparameter's range. Step 1e-5: from
// m_0 = 0 at ε = 1e-8 Adam's first step α·m̂/(√ŝ + ε) moves by about 10α·Δm_0/|g|, beyond the
// linear range for Δm_0 = 1e-4 where |g| is small (measured d_m0[9]: 32.28 exact, 27.38 by
// central differences of 1e-4, within 1e-3 at 1e-5; at 1e-6 ε's step, 1e-14, is lost to
// rounding). RMSprop's ε: its own tolerance, 1 %, measured 0.32 % (hypergrad_checker.h says why).
TEST_P(EveryOptimizerTest, ConformsAtTheRegistrysDefaults) {
  const OptimizerInfo& info = FindOptimizer(GetParam());
  const auto defaults = [&](std::size_t iters, std::size_t blocks, RandomStream&) {
    return info.Constant(iters, blocks, info.default_alpha);
  };
  testing::FiniteDifferenceOptions options{.step = 1e-5};
  if (GetParam() == "rmsprop") options.tolerance_of["d_eps"] = 0.01;
  testing::ExpectOptimizerConforms(GetParam(), testing::MlpWithL2Penalties(12, 47, defaults),
                                   options);
}

std::vector<std::string> RegisteredNames() {
  std::vector<std::string> names;
  for (const OptimizerInfo& info : Optimizers()) names.push_back(info.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Registered, EveryOptimizerTest, ::testing::ValuesIn(RegisteredNames()),
                         [](const auto& p) { return p.param; });

// The checker's step: at most 1/100 of the distance to the nearer end of the range, so that
// x ± step stays inside it; α (no registry range) keeps the step given.
TEST(FiniteDifferenceStepTest, StaysInsideTheRange) {
  const OptimizerFlag& rho = FindOptimizer("rmsprop").flags.at(0);
  ASSERT_EQ(rho.name, "rho");
  EXPECT_DOUBLE_EQ(testing::FiniteDifferenceStep(0.999, 1e-4, &rho), 0.01 * (0.999999 - 0.999));
  EXPECT_DOUBLE_EQ(testing::FiniteDifferenceStep(0.5, 1e-4, &rho), 1e-4);
  EXPECT_DOUBLE_EQ(testing::FiniteDifferenceStep(2e-6, 1e-4, &rho), 0.01 * (2e-6 - 1e-6));
  EXPECT_EQ(testing::FiniteDifferenceStep(0.999999, 1e-4, &rho), 0.0);
  for (double x : {1e-6 + 1e-9, 0.3, 0.999999 - 1e-9}) {
    const double step = testing::FiniteDifferenceStep(x, 1e-4, &rho);
    EXPECT_GE(x - step, rho.min) << x;
    EXPECT_LE(x + step, rho.max) << x;
  }
  const OptimizerFlag& eps = FindOptimizer("adam").flags.at(2);
  ASSERT_EQ(eps.name, "eps");
  EXPECT_DOUBLE_EQ(testing::FiniteDifferenceStep(1e-8, 1e-4 * 1e-8, &eps), 1e-12);
  EXPECT_DOUBLE_EQ(testing::FiniteDifferenceStep(1.001e-12, 1e-4 * 1.001e-12, &eps),
                   0.01 * (1.001e-12 - 1e-12));
  EXPECT_EQ(testing::FiniteDifferenceStep(100.0, 1e-4, nullptr), 1e-4);
}

TEST(OptimizerRegistryTest, NamesAndFlags) {
  // The first three entries (an optimizer added later goes after them; this test needs no edit).
  const std::vector<std::string> names = RegisteredNames();
  ASSERT_GE(names.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 3),
            (std::vector<std::string>{"sgd", "adam", "rmsprop"}));
  EXPECT_THROW(FindOptimizer("lion"), std::invalid_argument);
  EXPECT_THROW(FindOptimizer("sgd").Constant(3, 1, 0.1, {{"beta1", 0.9}}), std::invalid_argument);
  const OptimizerHyperparameters h = FindOptimizer("adam").Constant(3, 2, 0.1, {{"beta2", 0.99}});
  EXPECT_EQ(h.schedules.at("beta2"), std::vector<double>(6, 0.99));
  EXPECT_EQ(h.schedules.at("beta1"), std::vector<double>(6, 0.9));
  EXPECT_EQ(h.scalars.at("eps"), 1e-8);
}

// Each optimizer's moments by name, default α, and which flags move the moments (buffer_check
// takes those only).
TEST(OptimizerRegistryTest, MomentsDefaultsAndWhatEntersTheMoments) {
  EXPECT_EQ(FindOptimizer("sgd").MomentNames(), (std::vector<std::string>{"v"}));
  EXPECT_EQ(FindOptimizer("adam").MomentNames(), (std::vector<std::string>{"m", "s"}));
  EXPECT_EQ(FindOptimizer("rmsprop").MomentNames(), (std::vector<std::string>{"s", "m"}));
  EXPECT_EQ(FindOptimizer("sgd").default_alpha, 0.1);
  EXPECT_EQ(FindOptimizer("adam").default_alpha, 0.01);
  EXPECT_EQ(FindOptimizer("rmsprop").default_alpha, 0.01);
  for (const std::string name : {"sgd", "adam", "rmsprop"}) {
    for (const OptimizerFlag& flag : FindOptimizer(name).flags) {
      const bool expected = flag.per_step || (name == "rmsprop" && flag.name == "eps");
      EXPECT_EQ(flag.enters_moments, expected) << name << " " << flag.name;
    }
  }
  // Every registered optimizer's defaults lie inside their ranges.
  for (const OptimizerInfo& info : Optimizers()) {
    for (const OptimizerFlag& flag : info.flags) {
      EXPECT_NO_THROW(flag.Check(flag.default_value, flag.name)) << info.name;
    }
  }
}

// One range per hyperparameter: CheckRanges names the entry; RMSprop's ε is [1e-300, 1] in the
// registry and in RmspropSchedule::Validate alike.
TEST(OptimizerRegistryTest, CheckRangesNamesTheEntry) {
  const OptimizerInfo& adam = FindOptimizer("adam");
  OptimizerHyperparameters h = adam.Constant(3, 2, 0.1);
  EXPECT_NO_THROW(adam.CheckRanges(h));
  h.schedules["beta2"][5] = 1.0;
  EXPECT_THAT([&] { adam.CheckRanges(h); },
              ::testing::ThrowsMessage<std::invalid_argument>(
                  ::testing::HasSubstr("beta2 at iteration 2, block 1 = 1 is outside [1e-06, 0.999999]")));
  const OptimizerInfo& rmsprop = FindOptimizer("rmsprop");
  for (double eps : {1e-300, 1e-200, 1.0}) {
    EXPECT_NO_THROW(rmsprop.CheckRanges(rmsprop.Constant(2, 1, 0.1, {{"eps", eps}}))) << eps;
  }
  for (double eps : {0.0, 1e-301, 1.5}) {
    EXPECT_THROW(rmsprop.CheckRanges(rmsprop.Constant(2, 1, 0.1, {{"eps", eps}})),
                 std::invalid_argument) << eps;
    RmspropSchedule s{2, 1, {0.1, 0.1}, {0.9, 0.9}, {0.9, 0.9}, eps};
    EXPECT_THROW(s.Validate(), std::invalid_argument) << eps;
  }
  RmspropSchedule tiny{2, 1, {0.1, 0.1}, {0.9, 0.9}, {0.9, 0.9}, 1e-300};
  EXPECT_NO_THROW(tiny.Validate());
}

}  // namespace
}  // namespace hypergrad
