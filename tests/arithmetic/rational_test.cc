#include "arithmetic/rational.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace hypergrad {
namespace {

TEST(FloorDivModTest, MatchesPythonSemanticsOnNegatives) {
  struct Case { std::int64_t c, m, q, r; };
  for (const Case& k : {Case{7, 3, 2, 1}, Case{-7, 3, -3, 2}, Case{-6, 3, -2, 0},
                        Case{-1, 65536, -1, 65535}, Case{0, 5, 0, 0}, Case{6, 3, 2, 0},
                        Case{-65536, 65536, -1, 0}, Case{-65537, 65536, -2, 65535}}) {
    const auto [q, r] = FloorDivMod(k.c, k.m);
    EXPECT_EQ(q, k.q) << k.c << " div " << k.m;
    EXPECT_EQ(r, k.r) << k.c << " mod " << k.m;
  }
}

TEST(FloorDivModTest, InvariantsHoldOverAWideRange) {
  const std::int64_t extreme = std::numeric_limits<std::int64_t>::max();
  for (std::int64_t m : {1, 2, 3, 7, 58983, 65536, 65537}) {
    for (std::int64_t c : std::initializer_list<std::int64_t>{-extreme, -extreme / 3, -123456789,
                                                              -1, 0, 1, 987654321, extreme}) {
      const auto [q, r] = FloorDivMod(c, m);
      EXPECT_GE(r, 0);
      EXPECT_LT(r, m);
      // q·m alone can leave int64 (e.g. c = −(2^63 − 1), m = 3); the identity is checked wider.
      __extension__ using Wide = __int128;
      EXPECT_TRUE(static_cast<Wide>(q) * m + r == static_cast<Wide>(c)) << c << " " << m;
    }
  }
}

// The prepared-reciprocal divisions equal the division instruction for every divisor kind
// (powers of two, 1, the coder's q and q + 1, the momentum numerators, up to 2^32 − 1) on edge
// and random dividends.
TEST(UnsignedDivisorTest, EqualsDivisionOnEdgesAndRandomValues) {
  const std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t state = 88172645463325252ull;  // xorshift64
  auto next = [&] { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; };
  std::vector<std::uint64_t> divisors = {1, 2, 3, 5, 7, 255, 256, 284, 285, 32769, 58983, 65471,
                                         65535, 65536, 65537, (1ull << 24) + 1, (1ull << 31) + 1,
                                         (1ull << 32) - 1};
  for (int i = 0; i < 200; ++i) divisors.push_back(1 + next() % ((1ull << 32) - 1));
  for (std::uint64_t d : divisors) {
    const UnsignedDivisor divisor(d);
    std::vector<std::uint64_t> xs = {0, 1, d - 1, d, d + 1, 2 * d - 1, top, top - 1, top / d * d,
                                     top / d * d - 1, 1ull << 63, (1ull << 48) - 1};
    for (int i = 0; i < 2000; ++i) xs.push_back(next() >> (next() % 64));
    for (std::uint64_t x : xs) ASSERT_EQ(divisor.Divide(x), x / d) << x << " / " << d;
  }
}

// Blend picks either divisor's division, branch-free, for the coder's neighbouring frequencies
// q and q + 1 (one of them a power of two, or 1, among them).
TEST(UnsignedDivisorTest, BlendDividesByTheDivisorItPicks) {
  std::uint64_t state = 1181783497276652981ull;
  auto next = [&] { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; };
  const std::pair<std::uint64_t, std::uint64_t> pairs[] = {
      {1, 2}, {2, 3}, {255, 256}, {256, 257}, {284, 285}, {3, 1}, {65536, 65537}, {7, 1ull << 31}};
  for (const auto& [a, b] : pairs) {
    const UnsignedDivisor by_a(a), by_b(b);
    for (int i = 0; i < 5000; ++i) {
      const std::uint64_t x = next() >> (next() % 64);
      ASSERT_EQ(UnsignedDivisor::Blend(by_a, by_b, false).Divide(x), x / a) << x << " / " << a;
      ASSERT_EQ(UnsignedDivisor::Blend(by_a, by_b, true).Divide(x), x / b) << x << " / " << b;
    }
  }
}

TEST(FixedDivisorTest, EqualsFloorDivModOverTheWholeInt64Range) {
  const std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
  const std::int64_t highest = std::numeric_limits<std::int64_t>::max();
  std::uint64_t state = 2463534242ull;
  auto next = [&] { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; };
  for (std::int64_t m : {1, 2, 3, 7, 284, 58983, 65471, 65536, 65537}) {
    const FixedDivisor divisor(m);
    std::vector<std::int64_t> cs = {lowest, lowest + 1, -m - 1, -m, -m + 1, -1, 0, 1, m - 1, m,
                                    highest, highest - 1};
    for (int i = 0; i < 5000; ++i) cs.push_back(static_cast<std::int64_t>(next()) >> (next() % 64));
    for (std::int64_t c : cs) {
      __extension__ using Wide = __int128;
      const auto [q, r] = divisor.FloorDivMod(c);
      ASSERT_TRUE(r >= 0 && r < m && static_cast<Wide>(q) * m + r == static_cast<Wide>(c))
          << c << " floor-div " << m << ": " << q << ", " << r;
    }
  }
}

// The n/d that the authors' float_to_rational (hypergrad/exact_rep.py) gives for these γ.
TEST(DecayToRatioTest, ReproducesTheAuthorsTable) {
  struct Case { double gamma; std::uint32_t n, d; };
  for (const Case& k : {Case{0.5, 32769, 65536}, Case{0.9, 58983, 65536},
                        Case{0.95, 62260, 65536}, Case{0.98, 64226, 65536},
                        Case{0.99, 64881, 65536}, Case{0.3, 19661, 65536},
                        Case{1.01, 33096, 32768}, Case{65535.0 / 65536.0, 65536, 65536},
                        Case{0.99999999, 65536, 65536}}) {
    const DecayRatio r = DecayToRatio(k.gamma);
    EXPECT_EQ(r.n, k.n) << "gamma " << k.gamma;
    EXPECT_EQ(r.d, k.d) << "gamma " << k.gamma;
  }
}

TEST(DecayToRatioTest, AppliedRatioIsSlightlyLargerThanGamma) {
  for (double gamma = 0.01; gamma < 0.9999; gamma += 0.0137) {
    const DecayRatio r = DecayToRatio(gamma);
    const double applied = static_cast<double>(r.n) / r.d;
    EXPECT_GT(applied, gamma);
    EXPECT_LE(applied - gamma, 1.0 / 65536.0);
  }
}

TEST(DecayToRatioTest, RejectsNonPositiveAndNonFinite) {
  for (double gamma : {0.0, -0.5, std::nan(""), 70000.0,
                       std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(DecayToRatio(gamma), std::invalid_argument) << gamma;
  }
}

// The training range of a decay, one rule for the tools and the Python module: [1e-6, 0.999999].
TEST(CheckDecayTest, AcceptsTheRangeAndNamesTheEntryOutsideIt) {
  for (double decay : {1e-6, 0.5, 0.9, 0.999999}) EXPECT_NO_THROW(CheckDecay(decay, "gamma")) << decay;
  for (double decay : {0.0, 9.9e-7, -0.5, 0.9999991, 1.0, 1.5, 2.5, std::nan(""),
                       std::numeric_limits<double>::infinity()}) {
    EXPECT_THROW(CheckDecay(decay, "gamma"), std::invalid_argument) << decay;
  }
  try {
    CheckDecay(2.5, "beta1 at iteration 3, block 0");
    FAIL() << "2.5 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "beta1 at iteration 3, block 0 = 2.5 is outside [1e-06, 0.999999]");
  }
  // The ends have ratios n/d ≤ 1.
  EXPECT_EQ(DecayToRatio(kMinDecay), (DecayRatio{1, 65536}));
  EXPECT_EQ(DecayToRatio(kMaxDecay), (DecayRatio{65536, 65536}));
}

}  // namespace
}  // namespace hypergrad
