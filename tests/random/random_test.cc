#include "random/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace hypergrad {
namespace {

TEST(RandomStreamTest, SameNameGivesTheSameNumbers) {
  RandomStream a(42, {3, 7}), b(42, {3, 7});
  for (int k = 0; k < 100; ++k) EXPECT_EQ(a.NextU64(), b.NextU64());
  RandomStream c(42, {3, 7}), d(42, {3, 7});
  for (int k = 0; k < 101; ++k) EXPECT_EQ(c.Normal(), d.Normal());
}

TEST(RandomStreamTest, DifferentNamesGiveDifferentStreams) {
  RandomStream a(42, {3, 7}), b(42, {7, 3}), c(43, {3, 7}), d(42, {3});
  const std::uint64_t x = a.NextU64();
  EXPECT_NE(x, b.NextU64());
  EXPECT_NE(x, c.NextU64());
  EXPECT_NE(x, d.NextU64());
}

TEST(RandomStreamTest, MomentsAreRight) {
  RandomStream rng(1);
  const int n = 200000;
  double sum = 0, sum_sq = 0, uniform_sum = 0;
  for (int k = 0; k < n; ++k) {
    const double z = rng.Normal();
    sum += z;
    sum_sq += z * z;
    uniform_sum += rng.Uniform();
  }
  // Standard errors: 1/√n ≈ 0.0022 for the mean, √(2/n) ≈ 0.0032 for the variance,
  // 0.29/√n ≈ 0.00065 for the uniform mean; 5 standard errors.
  EXPECT_NEAR(sum / n, 0.0, 0.011);
  EXPECT_NEAR(sum_sq / n, 1.0, 0.016);
  EXPECT_NEAR(uniform_sum / n, 0.5, 0.0033);
}

TEST(RandomStreamTest, UniformIntCoversItsRangeWithoutBias) {
  RandomStream rng(3);
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int k = 0; k < n; ++k) {
    const std::uint64_t v = rng.UniformInt(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  // Each count is Binomial(70000, 1/7): mean 10000, sd ≈ 92.6; 5 sd.
  for (int c : counts) EXPECT_NEAR(c, 10000, 463);
  EXPECT_EQ(rng.UniformInt(1), 0u);
}

}  // namespace
}  // namespace hypergrad
