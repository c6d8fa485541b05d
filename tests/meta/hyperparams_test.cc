#include "meta/hyperparams.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hypergrad {
namespace {

TEST(HyperparamsTest, LogisticAndLogitAreInverses) {
  for (double u : {-5.0, -0.3, 0.0, 0.7, 4.0}) EXPECT_NEAR(Logit(Logistic(u)), u, 1e-12);
  EXPECT_EQ(Logistic(0.0), 0.5);
}

TEST(HyperparamsTest, ChainRulesMatchFiniteDifferences) {
  const double h = 1e-6;
  // f(α) = α², α = exp(a): df/da = 2α² = α·(2α).
  const double a = 0.3, alpha = std::exp(a);
  const double d_a = ExpChainRule(std::vector<double>{alpha}, std::vector<double>{2 * alpha})[0];
  EXPECT_NEAR(d_a, (std::exp(2 * (a + h)) - std::exp(2 * (a - h))) / (2 * h), 1e-8);
  // f(γ) = γ³, γ = σ(u).
  const double u = -0.4, gamma = Logistic(u);
  const double d_u = LogisticChainRule(std::vector<double>{gamma},
                                       std::vector<double>{3 * gamma * gamma})[0];
  EXPECT_NEAR(d_u, (std::pow(Logistic(u + h), 3) - std::pow(Logistic(u - h), 3)) / (2 * h), 1e-8);
}

TEST(HyperparamsTest, InitialScalesAndTheirGradient) {
  const ParameterBlocks blocks{{0, 1, 0}, {"W", "b"}};
  const std::vector<double> log_scales = {std::log(2.0), std::log(0.5)}, eps = {1.0, -4.0, 3.0};
  const std::vector<double> w0 = ScaledInitialWeights(blocks, log_scales, eps);
  EXPECT_EQ(w0, (std::vector<double>{2.0, -2.0, 6.0}));
  // f = Σ c_k w0_k: ∂f/∂log s_j = Σ_{k∈j} c_k w0_k.
  const std::vector<double> c = {1.0, 2.0, -1.0};
  const std::vector<double> d = InitScaleChainRule(blocks, w0, c);
  EXPECT_EQ(d, (std::vector<double>{2.0 - 6.0, -4.0}));
}

}  // namespace
}  // namespace hypergrad

namespace hypergrad {
namespace {

TEST(ScheduleHyperparametersTest, FlattensAndConvertsToASchedule) {
  auto h = SgdScheduleHyperparameters::Constant(3, 2, -1.0, 0.5, -3.0);
  EXPECT_EQ(h.size(), 14u);
  h.log_alpha[4] = 0.25;
  const std::vector<double> flat = h.Flatten();
  const auto back = SgdScheduleHyperparameters::Unflatten(3, 2, flat);
  EXPECT_EQ(back.Flatten(), flat);
  const SgdSchedule s = h.ToSchedule();
  EXPECT_DOUBLE_EQ(s.Alpha(2, 0), std::exp(0.25));
  EXPECT_DOUBLE_EQ(s.Gamma(1, 1), 0.5);
  EXPECT_THROW(SgdScheduleHyperparameters::Unflatten(3, 2, std::vector<double>(13)),
               std::invalid_argument);
}

TEST(ScheduleHyperparametersTest, FlatGradientAppliesEachChainRule) {
  const auto h = SgdScheduleHyperparameters::Constant(1, 2, std::log(2.0), 0.25, 0.0);
  const ParameterBlocks blocks{{0, 1, 1}, {"a", "b"}};
  Hypergradients g;
  g.d_alpha = {1.0, 3.0};
  g.d_schedules = {{"gamma", {4.0, 8.0}}};
  g.d_w0 = {1.0, 2.0, -1.0};
  const std::vector<double> w0 = {0.5, 1.0, 2.0};
  const std::vector<double> flat = h.FlatGradient(g, blocks, w0);
  // α·dα = 2·(1, 3); γ(1−γ)·dγ = 0.1875·(4, 8); Σ d_w0·w0 per block = (0.5, 2 − 2).
  EXPECT_EQ(flat, (std::vector<double>{2.0, 6.0, 0.75, 1.5, 0.5, 0.0}));
}

}  // namespace
}  // namespace hypergrad
