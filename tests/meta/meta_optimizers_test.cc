// The meta-optimizers on the authors' test function (‖x − x*‖²)^1.1 in 5-D, and the exact
// update rules of the authors' Adam.
#include "meta/meta_optimizers.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hypergrad {
namespace {

const std::vector<double> kTarget = {1.0, -2.0, 0.5, 3.0, -1.5};

// f(x) = (‖x − x*‖²)^1.1 and its gradient.
double Objective(std::span<const double> x, std::vector<double>& g) {
  double s = 0.0;
  for (std::size_t k = 0; k < x.size(); ++k) s += (x[k] - kTarget[k]) * (x[k] - kTarget[k]);
  for (std::size_t k = 0; k < x.size(); ++k) {
    g[k] = s > 0 ? 1.1 * std::pow(s, 0.1) * 2.0 * (x[k] - kTarget[k]) : 0.0;
  }
  return std::pow(s, 1.1);
}

TEST(MetaOptimizersTest, EachOneMinimisesTheTestFunction) {
  struct Case { const char* name; double step; std::size_t steps; };
  for (const Case c : {Case{"gd", 0.02, 2000}, Case{"momentum", 0.05, 3000},
                       Case{"authors-adam", 0.05, 2000}, Case{"adam", 0.05, 2000}}) {
    auto optimizer = MakeMetaOptimizer(c.name, c.step);
    std::vector<double> x(5, 0.0), g(5);
    const double start = Objective(x, g);
    for (std::size_t i = 0; i < c.steps; ++i) {
      Objective(x, g);
      optimizer->Step(i, g, x);
    }
    EXPECT_LT(Objective(x, g), 1e-3 * start) << c.name;
    for (std::size_t k = 0; k < 5; ++k) EXPECT_NEAR(x[k], kTarget[k], 0.05) << c.name;
  }
}

TEST(MetaOptimizersTest, AuthorsAdamFollowsItsOwnRule) {
  // One coordinate, g = 1 at every step: m̂ = m/(1 − 0.9^(i+1)), v̂ = v/(1 − 0.99^(i+1)).
  AuthorsAdam adam(1.0);
  std::vector<double> x = {0.0};
  const std::vector<double> g = {1.0};
  adam.Step(0, g, x);  // b1t = 0.1: m = 0.1, v = 0.01; m̂ = 1, v̂ = 1 → step 1/(1 + 1e-4)
  EXPECT_NEAR(x[0], -1.0 / (1.0 + 1e-4), 1e-15);
  adam.Step(1, g, x);  // b1t = 1 − 0.9e-4: m ≈ 1; m̂ = m/0.19 ≈ 5.26; v = 0.0199, v̂ = 1
  const double b1t = 1.0 - 0.9e-4, m = b1t + (1.0 - b1t) * 0.1, v = 0.01 + 0.99 * 0.01;
  const double expected = -1.0 / (1.0 + 1e-4) - (m / 0.19) / (std::sqrt(v / (1.0 - 0.9801)) + 1e-4);
  EXPECT_NEAR(x[0], expected, 1e-12);
  // Textbook Adam has m = 0.19 here and m̂ = 1; the authors' b1t makes m ≈ 1, so their bias
  // correction inflates the step 5.26× at i = 1.
  EXPECT_NEAR(m / 0.19, 5.26, 0.01);
}

TEST(MetaOptimizersTest, MomentumAndGradientDescentRules) {
  MomentumSgd momentum(0.01, 0.9);
  std::vector<double> x = {1.0};
  momentum.Step(0, std::vector<double>{2.0}, x);  // u = −0.2, x = 1 − 0.002
  EXPECT_NEAR(x[0], 0.998, 1e-15);
  momentum.Step(1, std::vector<double>{2.0}, x);  // u = −0.18 − 0.2 = −0.38
  EXPECT_NEAR(x[0], 0.998 - 0.0038, 1e-15);
  GradientDescent gd(1000.0);
  std::vector<double> y = {1.0};
  gd.Step(0, std::vector<double>{1e-3}, y);
  EXPECT_DOUBLE_EQ(y[0], 0.0);
  EXPECT_THROW(MakeMetaOptimizer("sgd?", 1.0), std::invalid_argument);
  EXPECT_THROW(gd.Step(1, std::vector<double>{1.0, 2.0}, y), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
