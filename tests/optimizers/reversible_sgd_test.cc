// Exact reversal and hypergradients of ReversibleSgd, against central finite differences on the
// authors' quadratic test problem (their tests/test_grads.py).
#include "optimizers/reversible_sgd.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "arithmetic/fixed_point.h"
#include "models/mlp.h"
#include "random/random.h"
#include "support/hypergrad_checker.h"
#include "support/quadratic_model.h"
#include "support/small_mlp_run.h"
#include "optimizers/batch_schedule.h"

namespace hypergrad {
namespace {

using testing::ExpectSgdHypergradMatchesFiniteDifferences;
using testing::SgdHypergradProblem;
using testing::QuadraticModel;
using testing::SmallMlpRun;

std::vector<double> Uniform(std::size_t n, RandomStream& rng, double low, double high) {
  std::vector<double> x(n);
  for (double& v : x) v = low + (high - low) * rng.Uniform();
  return x;
}
std::vector<double> Normal(std::size_t n, RandomStream& rng, double scale = 1.0) {
  std::vector<double> x(n);
  for (double& v : x) v = scale * rng.Normal();
  return x;
}

double SquaredNorm(std::span<const double> x, std::span<double> d_x) {
  double s = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    s += x[i] * x[i];
    d_x[i] = 2.0 * x[i];
  }
  return s;
}

// Batch t = rows of batch t mod 3 of the quadratic problem.
BatchSchedule QuadraticBatches() { return SequentialBatches(QuadraticModel::kRows, 4); }

// The authors' quadratic test: 9 iterations, α = 0.1·U, γ = 0.5 + 0.2·U, random w_0 and v_0.
SgdHypergradProblem QuadraticProblem(bool with_theta, ParameterBlocks blocks, std::size_t iters) {
  RandomStream rng(0);
  SgdHypergradProblem p;
  p.blocks = std::move(blocks);
  const std::size_t b = p.blocks.num_blocks();
  p.schedule = {iters, b, Uniform(iters * b, rng, 0.0, 0.1), Uniform(iters * b, rng, 0.5, 0.7)};
  p.batches = QuadraticBatches();
  p.w0 = Normal(QuadraticModel::kDim, rng);
  p.v0 = Normal(QuadraticModel::kDim, rng);
  if (with_theta) p.theta = Normal(10, rng);
  p.make_model = [](std::span<const double> theta) {
    return std::make_shared<const QuadraticModel>(7, std::vector<double>(theta.begin(), theta.end()));
  };
  // Meta loss ‖w‖² (+ ‖θ‖² when there is a θ).
  p.objective = [](std::span<const double> w, std::span<const double> theta,
                   std::span<double> d_w, std::span<double> d_theta) {
    return SquaredNorm(w, d_w) + SquaredNorm(theta, d_theta);
  };
  return p;
}

TEST(HypergradientTest, QuadraticWithRespectToInitialStateAndSchedules) {
  ExpectSgdHypergradMatchesFiniteDifferences(
      QuadraticProblem(false, ParameterBlocks::Single(QuadraticModel::kDim), 9));
}

TEST(HypergradientTest, QuadraticWithHyperparametersInsideTheLoss) {
  ExpectSgdHypergradMatchesFiniteDifferences(
      QuadraticProblem(true, ParameterBlocks::Single(QuadraticModel::kDim), 9));
}

TEST(HypergradientTest, PerBlockSchedules) {
  // Parameters in blocks of sizes 2, 1 and 2, 12 iterations, a 12 × 3 schedule.
  ExpectSgdHypergradMatchesFiniteDifferences(
      QuadraticProblem(true, ParameterBlocks{{0, 0, 1, 2, 2}, {"a", "b", "c"}}, 12));
}

TEST(HypergradientTest, PerParameterSchedules) {
  ExpectSgdHypergradMatchesFiniteDifferences(
      QuadraticProblem(false, ParameterBlocks::PerParameter(QuadraticModel::kDim), 10));
}

// An MLP whose θ is a per-parameter L2 penalty followed by its training inputs: ∂f/∂λ and
// ∂f/∂X (Figs 6 and 7), with random batches drawn with replacement.
TEST(HypergradientTest, MlpL2PenaltiesAndTrainingInputs) {
  const MlpOptions shape{{3, 4, 2}, {}, true, true};
  const std::size_t params = MlpLayout(shape.layer_sizes).num_params();
  const Dataset train = MakeSyntheticDataset(8, 3, 2, 11);
  const auto valid = std::make_shared<const Dataset>(MakeSyntheticDataset(20, 3, 2, 12));
  RandomStream rng(13);
  SgdHypergradProblem p;
  p.blocks = MlpLayout(shape.layer_sizes).LayerParamBlocks();
  p.schedule = {12, p.blocks.num_blocks(), Uniform(12 * p.blocks.num_blocks(), rng, 0.2, 0.5),
                Uniform(12 * p.blocks.num_blocks(), rng, 0.5, 0.9)};
  p.batches = RandomBatches(train.rows, 4, 5);
  p.w0 = Normal(params, rng, 0.5);
  p.v0 = Normal(params, rng, 0.1);
  p.theta = Uniform(params, rng, 0.001, 0.05);
  p.theta.insert(p.theta.end(), train.inputs.begin(), train.inputs.end());
  auto make = [=](std::span<const double> theta) {
    MlpOptions options = shape;
    options.l2.assign(theta.begin(), theta.begin() + static_cast<std::ptrdiff_t>(params));
    Dataset data = train;
    data.inputs.assign(theta.begin() + static_cast<std::ptrdiff_t>(params), theta.end());
    return std::make_shared<const Mlp>(options, std::make_shared<const Dataset>(data));
  };
  p.make_model = make;
  // Validation NLL + 0.01·Σλ² (Fig 6's meta objective).
  p.objective = [=](std::span<const double> w, std::span<const double> theta,
                    std::span<double> d_w, std::span<double> d_theta) {
    const double nll = make(theta)->Evaluate(w, *valid, d_w).nll;
    double penalty = 0.0;
    std::fill(d_theta.begin(), d_theta.end(), 0.0);
    for (std::size_t k = 0; k < params; ++k) {
      penalty += 0.01 * theta[k] * theta[k];
      d_theta[k] = 0.02 * theta[k];
    }
    return nll + penalty;
  };
  ExpectSgdHypergradMatchesFiniteDifferences(p);
}

// A small MLP on generated data, trained with a constant schedule.
struct ReversalCase {
  std::size_t iters;
  double gamma;
  BufferKind buffer;
};

class ExactReversalTest : public ::testing::TestWithParam<ReversalCase> {};

// Training runs backwards bit for bit, and the reversible hypergradients equal the
// stored-trajectory ones bit for bit.
TEST_P(ExactReversalTest, RecoversInitialStateAndMatchesStoredTrajectory) {
  const ReversalCase c = GetParam();
  const SmallMlpRun run(3);
  Hypergradients result[2];
  for (const ReversalMethod method : {ReversalMethod::kReversible, ReversalMethod::kStoredTrajectory}) {
    ReversibleSgd sgd(run.Setup(c.iters, 0.1, c.gamma), {.method = method, .buffer = c.buffer});
    sgd.Train(run.w0, run.v0);
    std::vector<double> d_w(run.model->num_params());
    run.model->Evaluate(sgd.weights(), run.model->data(), d_w);
    result[method == ReversalMethod::kReversible ? 0 : 1] = sgd.Reverse(d_w);
  }
  EXPECT_TRUE(result[0].reversal.exact);
  EXPECT_TRUE(result[0].reversal.buffer_empty);
  EXPECT_EQ(result[0].reversal.max_w0_error, 0.0);
  EXPECT_EQ(result[0].d_w0, result[1].d_w0);
  EXPECT_EQ(result[0].moment("v"), result[1].moment("v"));
  EXPECT_EQ(result[0].d_alpha, result[1].d_alpha);
  EXPECT_EQ(result[0].schedule("gamma"), result[1].schedule("gamma"));
}

std::vector<ReversalCase> AllReversalCases() {
  std::vector<ReversalCase> cases;
  for (std::size_t iters : {10u, 100u, 1000u}) {
    for (double gamma : {0.5, 0.9, 0.99}) {
      for (BufferKind buffer : {BufferKind::kExact, BufferKind::kFast}) {
        cases.push_back({iters, gamma, buffer});
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    Grid, ExactReversalTest, ::testing::ValuesIn(AllReversalCases()), [](const auto& p) {
      return "T" + std::to_string(p.param.iters) + "_gamma" +
             std::to_string(static_cast<int>(p.param.gamma * 100)) + "_" +
             std::string(BufferKindName(p.param.buffer));
    });

// Paper §2.2: reversing float64 SGD by dividing by γ loses the initial weights (the rounding
// error of each step grows like γ^−T), while the exact method recovers them. (γ = 0.5 would
// not show it: halving and doubling are exact in binary floating point.)
TEST(NaiveFloatReversalTest, DoesNotRecoverTheInitialWeights) {
  const SmallMlpRun run(4);
  struct Expectation { double gamma; std::size_t iters; double min_error; };
  for (const Expectation e : {Expectation{0.9, 100, 0.0}, Expectation{0.6, 100, 1e-3}}) {
    ReversibleSgd sgd(run.Setup(e.iters, 0.1, e.gamma), {.method = ReversalMethod::kNaiveFloat});
    sgd.Train(run.w0, run.v0);
    std::vector<double> d_w(run.model->num_params(), 0.0);
    const Hypergradients h = sgd.Reverse(d_w);
    EXPECT_FALSE(h.reversal.exact) << "gamma " << e.gamma;
    // Non-finite (the error overflowed) counts as larger.
    EXPECT_FALSE(h.reversal.max_w0_error <= e.min_error) << "gamma " << e.gamma;
    std::cout << "naive float reversal, gamma " << e.gamma << ", T = " << e.iters
              << ": max |w0 error| = " << h.reversal.max_w0_error
              << ", max |v0 error| = " << h.reversal.max_u0_error << "\n";
  }
}

TEST(ReversibleSgdTest, DivergenceIsAClearErrorNamingIterationAndParameter) {
  const SmallMlpRun run(5);
  ReversibleSgd sgd(run.Setup(50, 1e6, 0.9));
  try {
    sgd.Train(run.w0, run.v0);
    FAIL() << "a learning rate of 1e6 should leave the fixed-point range";
  } catch (const FixedPointOverflow& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("training diverged at iteration"));
    EXPECT_THAT(e.what(), ::testing::ContainsRegex("parameter [Wb][01]\\["));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("(-2048, 2048)"));
    EXPECT_THAT(e.what(), ::testing::Not(::testing::HasSubstr("element")));
  }
}

// L = Σ_k w_k except that parameter 1's gradient is NaN from iteration 2 on (a model, e.g. a
// user's callback, returning NaN).
class NanAtTwoModel final : public Model {
 public:
  std::size_t num_params() const override { return 5; }
  double Gradient(std::span<const double> w, const Batch& batch,
                  std::span<double> grad) const override {
    std::fill(grad.begin(), grad.end(), 1.0);
    if (batch.rows.at(0) >= 2) grad[1] = std::nan("");
    return w[0];
  }
  double GradientAndHvp(std::span<const double> w, const Batch& batch, std::span<const double>,
                        std::span<double> grad, std::span<double> hvp,
                        std::span<double>) const override {
    std::fill(hvp.begin(), hvp.end(), 0.0);
    return Gradient(w, batch, grad);
  }
};

// An overflow message names one element: its parameter and which state (the velocity element
// of parameter w[1] is not "element 6" as well), and its cause: a NaN the model returned is
// named as the model's, not as training diverging.
TEST(ReversibleSgdTest, OverflowMessagesNameOneElementAndTheCause) {
  const auto model = std::make_shared<const NanAtTwoModel>();
  ReversibleSgd sgd({model, ParameterBlocks::Single(5), SgdSchedule::Constant(5, 1, 0.1, 0.9),
                     [](std::size_t t) { return Batch{{t}}; }});
  try {
    sgd.Train(std::vector<double>(5, 0.0), std::vector<double>(5, 0.0));
    FAIL() << "a NaN gradient cannot enter the velocity";
  } catch (const FixedPointOverflow& e) {
    EXPECT_STREQ(e.what(),
                 "iteration 2: the model's gradient for parameter w[1] is nan at finite weights: a "
                 "non-finite value from the model itself (a callback's NaN, or the model's own "
                 "arithmetic overflowing because training diverged), so velocity of parameter w[1] "
                 "cannot be updated: fixed-point overflow: value nan is not a finite number");
  }
  std::vector<double> v0(5, 0.0);
  v0[3] = 3000.0;
  try {
    sgd.Train(std::vector<double>(5, 0.0), v0);
    FAIL() << "v0 = 3000 is out of range";
  } catch (const FixedPointOverflow& e) {
    EXPECT_STREQ(e.what(),
                 "initial weights or moments out of range (velocity of parameter w[3]): "
                 "fixed-point overflow: value 3000 is outside the representable range "
                 "(-2048, 2048)");
  }
}

TEST(ReversibleSgdTest, SameInputsGiveBitIdenticalRuns) {
  const SmallMlpRun run(6);
  std::vector<double> first;
  for (int repeat = 0; repeat < 2; ++repeat) {
    ReversibleSgd sgd(run.Setup(30, 0.2, 0.9));
    sgd.Train(run.w0, run.v0);
    std::vector<double> w(sgd.weights().begin(), sgd.weights().end());
    if (repeat == 0) first = w; else EXPECT_EQ(w, first);
  }
}

TEST(ReversibleSgdTest, ReportsEveryStepAndTheMemoryUsed) {
  const SmallMlpRun run(7);
  std::vector<std::size_t> steps;
  std::size_t reverse_steps = 0;
  TrainingOptions options;
  options.on_step = [&](std::size_t t, std::span<const double> w, double loss) {
    steps.push_back(t);
    EXPECT_EQ(w.size(), run.model->num_params());
    EXPECT_TRUE(std::isfinite(loss));
  };
  options.on_reverse_step = [&](std::size_t done) { reverse_steps = done; };
  ReversibleSgd sgd(run.Setup(20, 0.2, 0.9), options);
  sgd.Train(run.w0, run.v0);
  EXPECT_EQ(steps.size(), 20u);
  EXPECT_EQ(steps.back(), 19u);
  EXPECT_GT(sgd.information_bits_after_train(), 0.0);
  EXPECT_GT(sgd.extra_bytes_after_train(), 0u);
  std::vector<double> d_w(run.model->num_params(), 1.0);
  sgd.Reverse(d_w);
  EXPECT_EQ(reverse_steps, 20u);
  EXPECT_THROW(sgd.Reverse(d_w), std::logic_error);  // once per Train
}

// The trajectory's replay hook refers to the optimizer: it must not be copied or moved.
static_assert(!std::is_copy_constructible_v<ReversibleSgd> && !std::is_move_constructible_v<ReversibleSgd>);

TEST(ReversibleSgdTest, ReverseAfterAFailedTrainIsRefused) {
  const SmallMlpRun run(5);
  ReversibleSgd sgd(run.Setup(50, 1e6, 0.9));
  std::vector<double> d_w(run.model->num_params(), 1.0);
  EXPECT_THROW(sgd.Train(run.w0, run.v0), FixedPointOverflow);
  EXPECT_THROW(sgd.Reverse(d_w), std::logic_error);
  // Also after a good Train then a failed one: the trajectory is half reset.
  ReversibleSgd again(run.Setup(5, 0.1, 0.9));
  again.Train(run.w0, run.v0);
  EXPECT_THROW(again.Train(std::vector<double>(3), run.v0), std::invalid_argument);
  EXPECT_THROW(again.Reverse(d_w), std::logic_error);
}

TEST(ReversibleSgdTest, AWronglySizedReverseKeepsTheTrainedState) {
  const SmallMlpRun run(6);
  ReversibleSgd sgd(run.Setup(10, 0.2, 0.9));
  sgd.Train(run.w0, run.v0);
  EXPECT_THROW(sgd.Reverse(std::vector<double>(3)), std::invalid_argument);
  const Hypergradients h = sgd.Reverse(std::vector<double>(run.model->num_params(), 1.0));
  EXPECT_TRUE(h.reversal.exact);
}

TEST(ReversibleSgdTest, RejectsInconsistentSetups) {
  const SmallMlpRun run(8);
  SgdSetup bad = run.Setup(5, 0.1, 0.9);
  bad.schedule.blocks = 3;
  EXPECT_THROW(ReversibleSgd{bad}, std::invalid_argument);
  SgdSetup bad_gamma = run.Setup(5, 0.1, 0.9);
  bad_gamma.schedule.gamma[7] = 0.0;
  EXPECT_THROW(ReversibleSgd{bad_gamma}, std::invalid_argument);
  SgdSetup bad_blocks = run.Setup(5, 0.1, 0.9);
  bad_blocks.blocks = ParameterBlocks::Single(3);
  EXPECT_THROW(ReversibleSgd{bad_blocks}, std::invalid_argument);
}

TEST(BatchScheduleTest, SequentialAndRandomBatchesAreReproducible) {
  const BatchSchedule sequential = SequentialBatches(10, 3);  // 3 batches; row 9 unused
  EXPECT_EQ(sequential(0).rows, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(sequential(4).rows, (std::vector<std::size_t>{3, 4, 5}));
  const BatchSchedule random = RandomBatches(100, 5, 42);
  EXPECT_EQ(random(3).rows, random(3).rows);
  EXPECT_NE(random(3).rows, random(4).rows);
  for (std::size_t r : random(9).rows) EXPECT_LT(r, 100u);
  EXPECT_THROW(SequentialBatches(3, 4), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
