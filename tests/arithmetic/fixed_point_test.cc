#include "arithmetic/fixed_point.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "random/random.h"

namespace hypergrad {
namespace {

TEST(ToFixedTest, TruncatesTowardZero) {
  // 2^-53 is half a unit: truncation drops it for both signs (floor would not for negatives).
  EXPECT_EQ(ToFixed(0x1.0p-53), 0);
  EXPECT_EQ(ToFixed(-0x1.0p-53), 0);
  EXPECT_EQ(ToFixed(3 * 0x1.0p-53), 1);
  EXPECT_EQ(ToFixed(-3 * 0x1.0p-53), -1);
  EXPECT_EQ(ToFixed(1.0), std::int64_t{1} << 52);
  EXPECT_EQ(ToFixed(-1.5), -(std::int64_t{3} << 51));
  // trunc(-y) = -trunc(y): what makes add then subtract exact.
  RandomStream rng(7);
  for (int k = 0; k < 1000; ++k) {
    const double y = 100.0 * rng.Normal();
    EXPECT_EQ(ToFixed(-y), -ToFixed(y));
  }
}

TEST(ToFixedTest, RoundTripsRepresentableValues) {
  for (double x : {0.0, 1.0, -2.5, 2047.75, -2047.0, 0x1.0p-52, -0x1.0p-52}) {
    EXPECT_EQ(ToDouble(ToFixed(x)), x);
  }
}

TEST(ToFixedTest, RejectsOutOfRangeAndNonFinite) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double x : {2048.0, -2048.0, 1e300, nan, inf, -inf}) {
    EXPECT_THROW(ToFixed(x, 5), FixedPointOverflow) << x;
  }
  EXPECT_NO_THROW(ToFixed(std::nextafter(2048.0, 0.0)));
  try {
    ToFixed(2113.5, 3071);
    FAIL() << "no exception";
  } catch (const FixedPointOverflow& e) {
    EXPECT_EQ(e.index(), 3071u);
    EXPECT_EQ(e.value(), 2113.5);
    EXPECT_NE(std::string(e.what()).find("element 3071"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2113.5"), std::string::npos) << e.what();
    const FixedPointOverflow with = e.WithContext("step 412");
    EXPECT_EQ(std::string(with.what()).rfind("step 412: fixed-point overflow", 0), 0u);
    EXPECT_EQ(with.index(), 3071u);
  }
}

TEST(CheckedAddTest, DetectsOverflowInBothDirections) {
  const std::int64_t big = ToFixed(2000.0);
  EXPECT_EQ(CheckedAdd(big, ToFixed(40.0), 0), ToFixed(2040.0));
  EXPECT_THROW(CheckedAdd(big, big, 9), FixedPointOverflow);
  EXPECT_THROW(CheckedAdd(-big, -big, 9), FixedPointOverflow);
  // -2048 exactly is INT64_MIN: outside |x| < 2048.
  EXPECT_THROW(CheckedAdd(ToFixed(-1024.0), ToFixed(-1024.0), 0), FixedPointOverflow);
}

// The authors' exact-representation test (tests/test_exact_rep.py, test_add_sub): adding then
// subtracting 500·N(0,1) to N(0,1) restores the exact bits, where plain floats fail for most
// entries.
TEST(FixedPointVectorTest, AddThenSubRestoresExactBits) {
  RandomStream rng(1);
  const std::size_t n = 100;  // 500·N(0,1) stays inside ±2048 (the 4σ tail would not over 1000)
  std::vector<double> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = rng.Normal();
    b[i] = 500.0 * rng.Normal();
  }
  FixedPointVector x = FixedPointVector::FromDoubles(a);
  const FixedPointVector original = x;
  x.Add(b);
  EXPECT_NE(x, original);
  x.Sub(b);
  EXPECT_EQ(x, original);

  std::size_t float_wrong = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double y = (a[i] + b[i]) - b[i];
    float_wrong += (y != a[i]);
  }
  EXPECT_GE(float_wrong, n / 2) << "plain floating point should lose bits here";
}

TEST(FixedPointVectorTest, ScaledAddIsUndoneByScaledSub) {
  RandomStream rng(2);
  const std::size_t n = 257;
  std::vector<double> a(n), scale(n), start(n);
  for (std::size_t i = 0; i < n; ++i) {
    start[i] = rng.Normal();
    a[i] = rng.Normal();
    scale[i] = std::exp(rng.Normal());
  }
  FixedPointVector x = FixedPointVector::FromDoubles(start);
  const FixedPointVector original = x;
  for (int k = 0; k < 50; ++k) x.AddScaled(scale, a);
  for (int k = 0; k < 50; ++k) x.SubScaled(scale, a);
  EXPECT_EQ(x, original);
}

TEST(FixedPointVectorTest, OverflowNamesElementAndLeavesVectorUnchanged) {
  std::vector<double> start = {1.0, -3.0, 2000.0, 4.0};
  FixedPointVector x = FixedPointVector::FromDoubles(start);
  const FixedPointVector original = x;
  const std::vector<double> step = {0.5, 0.5, 100.0, 0.5};
  try {
    x.Add(step);
    FAIL() << "no exception";
  } catch (const FixedPointOverflow& e) {
    EXPECT_EQ(e.index(), 2u);
    EXPECT_NEAR(e.value(), 2100.0, 1e-9);
  }
  EXPECT_EQ(x, original);
  const std::vector<double> nan_step = {0.0, std::nan(""), 0.0, 0.0};
  EXPECT_THROW(x.Add(nan_step), FixedPointOverflow);
  EXPECT_EQ(x, original);
}

// On several threads (a fixed split of 40,000 elements into pieces): the same sums, doubles and
// errors as on one, and an overflow in the last piece leaves every piece unchanged.
TEST(FixedPointVectorTest, ThreadsGiveTheSameBitsAndErrors) {
  const std::size_t n = 40000;
  std::vector<double> start(n), scale(n), a(n);
  for (std::size_t i = 0; i < n; ++i) {
    start[i] = std::sin(0.37 * static_cast<double>(i)) * 10.0;
    scale[i] = 0.001 * static_cast<double>(i % 7 + 1);
    a[i] = std::cos(0.11 * static_cast<double>(i)) * 3.0;
  }
  const FixedPointVector original = FixedPointVector::FromDoubles(start);
  FixedPointVector one = original;
  one.AddScaled(scale, a);
  std::vector<double> values_one(n);
  one.CopyValuesTo(values_one);
  for (const unsigned threads : {2u, 3u}) {
    FixedPointVector x = original;
    x.AddScaled(scale, a, threads);
    EXPECT_EQ(x, one) << threads << " threads";
    std::vector<double> values(n);
    x.CopyValuesTo(values, threads);
    EXPECT_EQ(values, values_one) << threads << " threads";
    x.SubScaled(scale, a, threads);
    EXPECT_EQ(x, original) << threads << " threads";
    std::vector<double> huge = a;
    huge[37000] = 1e7;  // scale 0.001·… → |term| ≥ 2048 somewhere late
    huge[39000] = std::nan("");
    try {
      x.AddScaled(scale, huge, threads);
      FAIL() << "no exception";
    } catch (const FixedPointOverflow& e) {
      EXPECT_EQ(e.index(), 37000u) << threads << " threads";
    }
    EXPECT_EQ(x, original) << threads << " threads";
  }
}

TEST(FixedPointVectorTest, SizeMismatchIsAnError) {
  FixedPointVector x(3);
  const std::vector<double> two = {1.0, 2.0};
  EXPECT_THROW(x.Add(two), std::invalid_argument);
  std::vector<double> out(2);
  EXPECT_THROW(x.CopyValuesTo(out), std::invalid_argument);
}

TEST(FixedPointVectorTest, FromDoublesQuantisesAndReportsTheElement) {
  const std::vector<double> x = {0.1, -0.1, 1.0 / 3.0};
  const FixedPointVector f = FixedPointVector::FromDoubles(x);
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(f.raw()[i], ToFixed(x[i]));
    EXPECT_LE(std::fabs(f.Value(i) - x[i]), 0x1.0p-52);
  }
  const std::vector<double> bad = {0.0, 0.0, 5000.0};
  try {
    FixedPointVector::FromDoubles(bad);
    FAIL() << "no exception";
  } catch (const FixedPointOverflow& e) {
    EXPECT_EQ(e.index(), 2u);
  }
}

// 128-bit fixed point with 116 fraction bits (Adam's moments): trunc(x · 2^116) toward zero,
// conversion back correctly rounded, range |x| < 2^11 = 2048, resolution 2^-116.
TEST(WideFixedPointVectorTest, QuantisesTruncatesAndConvertsBack) {
  const FixedPointFormat format{116, 128};
  EXPECT_EQ(format.Limit(), 2048.0);
  EXPECT_EQ(format.Resolution(), std::ldexp(1.0, -116));
  const std::vector<double> x = {1e-27, -1e-27, 3.0 * std::ldexp(1.0, -117), 2047.5, -1e-35,
                                 0.1};
  const WideFixedPointVector v = WideFixedPointVector::FromDoubles(x, 116);
  EXPECT_EQ(v.raw()[2], 1);   // 1.5 quanta truncate to 1
  EXPECT_EQ(v.raw()[4], 0);   // below one quantum: 0
  EXPECT_EQ(v.raw()[0], -v.raw()[1]);
  for (std::size_t i : {0u, 1u, 3u, 5u}) {
    EXPECT_NEAR(v.Value(i), x[i], format.Resolution()) << i;  // truncation: < one quantum
  }
  EXPECT_EQ(v.Value(3), 2047.5);
  // Correct rounding of int128 → double: 2^60 + 2^7 + 1 quanta is nearer 2^60 + 2^8 than 2^60.
  WideFixedPointVector w(1, 116);
  w.raw()[0] = (Int128{1} << 60) + (Int128{1} << 7) + 1;
  EXPECT_EQ(w.Value(0), std::ldexp(std::ldexp(1.0, 60) + 256.0, -116));
  EXPECT_THROW(WideFixedPointVector(1, 127), std::invalid_argument);
  EXPECT_THROW(FixedPointFormat({60, 64}).Validate(), std::invalid_argument);
}

TEST(WideFixedPointVectorTest, ScaledAddIsUndoneAndOverflowChangesNothing) {
  std::vector<double> x = {1e-30, -5.0, 1000.0, 0.0};
  WideFixedPointVector v = WideFixedPointVector::FromDoubles(x, 116);
  const WideFixedPointVector original = v;
  const std::vector<double> scale = {1e-3, 0.5, 0.001, 3.0}, a = {1e-24, 3.0, 7.0, -1e-12};
  v.AddScaled(scale, a, 2);
  EXPECT_NEAR(v.Value(0), 1e-30 + 1e-27, std::ldexp(2.0, -116));
  v.SubScaled(scale, a);
  EXPECT_EQ(v, original);
  const std::vector<double> big = {0.0, 0.0, 1100.0, 0.0};
  try {
    v.AddScaled({}, big);
    FAIL() << "1000 + 1100 is outside (-2048, 2048)";
  } catch (const FixedPointOverflow& e) {
    EXPECT_EQ(e.index(), 2u);
    EXPECT_EQ(e.value(), 2100.0);
    EXPECT_NE(std::string(e.what()).find("(-2048, 2048)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(v, original);
  const std::vector<double> nan = {0.0, std::nan(""), 0.0, 0.0};
  EXPECT_THROW(v.AddScaled({}, nan), FixedPointOverflow);
  EXPECT_EQ(v, original);
  EXPECT_THROW(WideFixedPointVector::FromDoubles(std::vector<double>{2048.0}, 116),
               FixedPointOverflow);
}

// WithContext names the element through its context only: no second index in the message, and
// the cause says whether the value was too large or not a number.
TEST(FixedPointOverflowTest, ContextReplacesTheElementIndex) {
  const FixedPointOverflow big(6, 3000.5), nan(6, std::nan(""));
  const std::string with = big.WithContext("training diverged at iteration 3, velocity of "
                                           "parameter w[1]").what();
  EXPECT_EQ(with, "training diverged at iteration 3, velocity of parameter w[1]: fixed-point "
                  "overflow: value 3000.5 is outside the representable range (-2048, 2048)");
  EXPECT_EQ(std::string(nan.WithContext("x").what()),
            "x: fixed-point overflow: value nan is not a finite number");
}

}  // namespace
}  // namespace hypergrad
