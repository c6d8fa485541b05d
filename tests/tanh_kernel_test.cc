// The polynomial tanh: within 4 ulp of glibc's, exact where tanh is ±0 or ±1, NaN for NaN, and
// the same bits wherever an element sits in an array (the reversal recomputes activations in
// pieces of other sizes).
#include "tanh_kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "random.h"

namespace hypergrad {
namespace {

double Ulps(double got, double want) {
  if (got == want) return 0.0;
  const double ulp = std::nextafter(std::fabs(want), INFINITY) - std::fabs(want);
  return std::fabs(got - want) / ulp;
}

std::vector<double> Sample() {
  RandomStream rng(5);
  std::vector<double> x;
  for (int i = 0; i < 600000; ++i) x.push_back(50.0 * rng.Uniform() - 25.0);
  for (int i = 0; i < 200000; ++i) {
    const double m = std::pow(10.0, -40.0 + 42.0 * rng.Uniform());  // 1e-40 … 100
    x.push_back(i % 2 ? m : -m);
  }
  return x;
}

TEST(TanhKernelTest, PolynomialIsWithinFourUlpOfGlibc) {
  const std::vector<double> x = Sample();
  std::vector<double> y = x;
  TanhInPlace(y, TanhKernel::kPolynomial);
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, Ulps(y[i], std::tanh(x[i])));
  EXPECT_LE(worst, 4.0);
  EXPECT_GT(worst, 0.0);  // it is another function, not glibc's under another name
}

TEST(TanhKernelTest, SpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> x = {0.0, -0.0, inf, -inf, 19.5, -30.0, 1e300, 5e-324, std::nan("")};
  TanhInPlace(x, TanhKernel::kPolynomial);
  EXPECT_EQ(x[0], 0.0);
  EXPECT_FALSE(std::signbit(x[0]));
  EXPECT_TRUE(std::signbit(x[1]));
  EXPECT_EQ(x[2], 1.0);
  EXPECT_EQ(x[3], -1.0);
  EXPECT_EQ(x[4], 1.0);
  EXPECT_EQ(x[5], -1.0);
  EXPECT_EQ(x[6], 1.0);
  EXPECT_EQ(x[7], 5e-324);
  EXPECT_TRUE(std::isnan(x[8]));
}

TEST(TanhKernelTest, SameBitsAtAnyPositionForBothKernels) {
  std::vector<double> x = Sample();
  x.resize(1003);  // not a multiple of the vector width
  for (const TanhKernel kernel : {TanhKernel::kLibm, TanhKernel::kPolynomial}) {
    std::vector<double> whole = x, one_by_one = x, shifted(x.size() + 1);
    TanhInPlace(whole, kernel);
    for (double& v : one_by_one) TanhInPlace({&v, 1}, kernel);
    std::copy(x.begin(), x.end(), shifted.begin() + 1);
    TanhInPlace(shifted, kernel);
    EXPECT_EQ(std::memcmp(whole.data(), one_by_one.data(), whole.size() * sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(whole.data(), shifted.data() + 1, whole.size() * sizeof(double)), 0);
  }
}

TEST(TanhKernelTest, NamesRoundTrip) {
  EXPECT_EQ(ParseTanhKernel(TanhKernelName(TanhKernel::kPolynomial)), TanhKernel::kPolynomial);
  EXPECT_EQ(ParseTanhKernel("libm"), TanhKernel::kLibm);
  EXPECT_THROW(ParseTanhKernel("fast"), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
