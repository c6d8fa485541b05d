// Algorithm 3 on fixed-point vectors, with both information buffers (the authors'
// tests/test_exact_rep.py: mul then div restores the exact bits).
#include "reversible/algorithm3.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "buffers/ans_buffer.h"
#include "buffers/exact_buffer.h"

#include "random/random.h"

namespace hypergrad {
namespace {

std::vector<double> NormalVector(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  RandomStream rng(seed);
  std::vector<double> x(n);
  for (double& v : x) v = scale * rng.Normal();
  return x;
}

// The fast buffer against Algorithm 3's definition, element by element: c ← ⌊c/d⌋·n + the digit
// popped (radix n) after pushing c mod d (radix d), push and pop separately. The same values
// and the same buffer state (coder states, stack words, chunk pool) after every step. 203
// elements (not a multiple of 8: vector blocks and a tail); ratios with d a power of two (the
// forward pass's form) or n one (the reverse pass's), which CPUs with AVX-512 code 8 elements
// at a time, and others, growing the
// stacks past full chunks (about 1 bit per multiply at 0.5) and shrinking them again (×1.5
// pops more than it pushes, so chunks go back to the pool and are taken again), values of
// both signs.
TEST(Algorithm3Definition, FastBufferFollowsTheDefinitionElementByElement) {
  const std::size_t n = 203;
  const std::vector<double> start = NormalVector(n, 31, 0.5);
  FixedPointVector v = FixedPointVector::FromDoubles(start), reference = v, threaded_v = v;
  AnsBuffer buffer(n), definition(n), threaded(n);
  auto by_definition = [&](DecayRatio ratio) {
    const AnsBuffer::Radix radix_d(ratio.d), radix_n(ratio.n);
    for (std::size_t i = 0; i < n; ++i) {
      __extension__ using Wide = __int128;
      const std::int64_t c = reference.raw()[i];
      std::int64_t q = c / static_cast<std::int64_t>(ratio.d);
      if (q * static_cast<std::int64_t>(ratio.d) > c) --q;  // floor
      const auto r = static_cast<std::uint32_t>(c - q * static_cast<std::int64_t>(ratio.d));
      definition.PushUnchecked(i, r, radix_d);
      const std::uint32_t digit = definition.PopUnchecked(i, radix_n);
      const Wide result = static_cast<Wide>(q) * ratio.n + digit;
      ASSERT_LT(result, static_cast<Wide>(std::numeric_limits<std::int64_t>::max()) + 1);
      reference.raw()[i] = static_cast<std::int64_t>(result);
    }
  };
  struct Phase {
    DecayRatio ratio;
    int steps;
  };
  const Phase phases[] = {{{32768, 65535}, 400},     {{65536, 32769}, 300},
                          {DecayToRatio(0.5), 400},  {{49153, 32768}, 150},
                          {DecayToRatio(0.5), 300},  {DecayToRatio(0.9), 200},
                          {{65536, 58983}, 250},     {{32768, 49153}, 200},
                          {{3, 7}, 100},             {{49153, 32768}, 300},
                          {{65536, 65536}, 10},      {{5, 8}, 100},
                          {{16, 17}, 100},           {{65536, 32769}, 300}};
  std::size_t step = 0;
  for (const Phase& phase : phases) {
    for (int t = 0; t < phase.steps; ++t, ++step) {
      MultiplyByRatio(v, {&phase.ratio, 1}, buffer);
      // And on 3 threads (pieces of 13 elements, worked out apart, the pool's users deferred).
      MultiplyByRatio(threaded_v, {&phase.ratio, 1}, threaded, RatioSplit{.threads = 3, .min_piece = 1});
      by_definition(phase.ratio);
      ASSERT_EQ(v, reference) << "step " << step << ", ratio " << phase.ratio.n << "/" << phase.ratio.d;
      // Every step: the pool's free list shows a chunk set aside by a push and pop that kept
      // their word in a register (WordStacks::PushPopInPlace) only until a push takes it.
      ASSERT_TRUE(buffer.SameState(definition)) << "step " << step;
      ASSERT_EQ(threaded_v, reference) << "step " << step << " on 3 threads";
      ASSERT_TRUE(threaded.SameState(definition)) << "step " << step << " on 3 threads";
      // Keep the values of order 1 (×1.5 phases would overflow): subtract what the step added.
      const std::vector<double> now = v.Values();
      std::vector<double> pull(n);
      for (std::size_t i = 0; i < n; ++i) pull[i] = std::fabs(now[i]) > 4.0 ? now[i] * 0.5 : 0.0;
      v.Sub(pull);
      reference.Sub(pull);
      threaded_v.Sub(pull);
    }
  }
}

// Found by review: an element worked out on its own thread whose push and pop keep their word
// in a register with its top chunk full must not count on a free chunk, which an element before
// it, deferred to the pool's turn, may take first (then the one-thread order hands it a new
// chunk). Elements 0 and 1 with full top chunks, one free chunk: element 0 takes it (its word
// stays on the stack), element 1's word comes straight back.
TEST(Algorithm3Definition, ThreadsLeaveTheSamePoolAsOneThread) {
  FixedPointVector v(3);
  AnsBuffer buffer(3);
  const DecayRatio grow{1, 65536}, none{1, 1};
  auto refill = [&] {
    for (auto& x : v.raw()) x = std::int64_t{0x7fffffff} << 20 | 0x5a5a5;
  };
  auto multiply = [&](std::vector<DecayRatio> r) { MultiplyByRatio(v, r, buffer, 1u); };
  while (buffer.stacks().Empty(0) || buffer.stacks().fills()[0] != WordStacks::kCapacity) {
    refill();
    multiply({grow, none, none});
  }
  while (buffer.stacks().Empty(1) || buffer.stacks().fills()[1] != WordStacks::kCapacity) {
    refill();
    multiply({none, grow, none});
  }
  while (buffer.stacks().total_words() < 2 * WordStacks::kCapacity + WordStacks::kCapacity + 1) {
    refill();
    multiply({none, none, grow});
  }
  const std::vector<DecayRatio> back{none, none, grow};
  DivideByRatio(v, back, buffer, 1u);  // element 2 gives a chunk back
  ASSERT_TRUE(buffer.stacks().HasFreeChunk());
  FixedPointVector v1 = v, v2 = v;
  AnsBuffer one(buffer), two(buffer);
  const std::vector<DecayRatio> ratios{grow, {65535, 65536}, none};
  MultiplyByRatio(v1, ratios, one, RatioSplit{.threads = 1, .min_piece = 1});
  MultiplyByRatio(v2, ratios, two, RatioSplit{.threads = 2, .min_piece = 1});
  EXPECT_EQ(v1, v2);
  EXPECT_TRUE(one.SameState(two));
  EXPECT_EQ(one.AllocatedBytes(), two.AllocatedBytes());
}

// An overflow on several threads after elements whose push and pop kept their word in a
// register over a full or absent top chunk (their pool bookkeeping kept for the pass on one
// thread, AnsBuffer::TryPushPopInRegisters' in_place): those elements get their values and
// coder states back, and v and the buffer end as one thread leaves them. After ~270 steps at
// 0.9 (the momentum's ratio) most elements' pushes send a word out over a stack still empty and
// their pops take it back (2,811 such elements in the overflowing call, counted when this test
// was written); element `hot` (ratio 1 meanwhile) then overflows.
TEST(Algorithm3Definition, OverflowOnThreadsPutsBackElementsWhoseBookkeepingWaited) {
  const std::size_t n = 3000, hot = 2500;
  std::vector<double> start = NormalVector(n, 12, 0.5);
  start[hot] = 2040.0;
  FixedPointVector v = FixedPointVector::FromDoubles(start);
  AnsBuffer buffer(n);
  std::vector<DecayRatio> warm(n, DecayToRatio(0.9));
  warm[hot] = DecayRatio{1, 1};
  for (int t = 0; t < 300; ++t) {
    MultiplyByRatio(v, warm, buffer, RatioSplit{.threads = 3, .min_piece = 1});
    if (t % 40 == 0) {  // keep the values of order 1: a ×1/2 a step would leave only zeros
      const std::vector<double> now = v.Values();
      std::vector<double> push(n, 0.0);
      for (std::size_t i = 0; i < n; ++i) push[i] = i == hot ? 0.0 : start[i] - now[i];
      v.Add(push);
    }
  }
  std::vector<DecayRatio> grow = warm;
  grow[hot] = DecayToRatio(1.01);
  const FixedPointVector before = v;
  FixedPointVector v1 = v;
  AnsBuffer one(buffer);
  for (const unsigned threads : {1u, 3u}) {
    FixedPointVector& u = threads == 1 ? v1 : v;
    AnsBuffer& b = threads == 1 ? one : buffer;
    try {
      MultiplyByRatio(u, grow, b, RatioSplit{.threads = threads, .min_piece = 1});
      FAIL() << "2040 · 1.01 should overflow";
    } catch (const FixedPointOverflow& e) {
      EXPECT_EQ(e.index(), hot) << threads << " threads";
    }
  }
  EXPECT_EQ(v1, before);
  EXPECT_EQ(v, before);
  EXPECT_TRUE(buffer.SameState(one));
}

// The AVX-512 loops form floors of quotients in doubles (a rounded quotient, then its floor),
// where a floor is most easily off by one: values exactly at a multiple of the divisor and one
// either side, of both signs, from small to the format's largest, for divisors from 3 to 65535
// on the reverse pass's path (n/d with n = 2^16: ⌊c/d⌋, then the coder's x/freq) and, for the
// digits (slot/q, slot/(q + 1)), numerators n from 3 to 65535 on the forward pass's path
// (d = 2^16). Each step against the definition, element by element, coder states and pool
// included; 8 steps each, so that later steps meet coder states the earlier ones built.
TEST(Algorithm3Definition, VectorDivisionsAreExactAtMultiplesOfTheDivisor) {
  // (A product by 1/m, rounded, would fall below the quotient at exact multiples of 49153 and
  // 65521: a division without a correction fails this test there.)
  for (const std::uint32_t m : {3u, 17u, 255u, 32768u + 1, 40000u, 49153u, 58983u, 65521u, 65535u}) {
    for (const bool reverse_path : {true, false}) {
      const DecayRatio ratio = reverse_path ? DecayRatio{65536, m} : DecayRatio{m, 65536};
      std::vector<std::int64_t> raw;
      for (const std::int64_t k : {std::int64_t{0}, std::int64_t{1}, std::int64_t{2}, std::int64_t{1000003},
                                   std::int64_t{1} << 40, (std::int64_t{1} << 46) / m * 3,
                                   (std::int64_t{1} << 62) / 65536 / m}) {
        for (const std::int64_t delta : {-1, 0, 1}) {
          raw.push_back(k * m + delta);
          raw.push_back(-(k * m + delta));
        }
      }
      const std::size_t n = raw.size();
      FixedPointVector v(n), reference(n);
      std::copy(raw.begin(), raw.end(), v.raw().begin());
      std::copy(raw.begin(), raw.end(), reference.raw().begin());
      AnsBuffer buffer(n), definition(n);
      const AnsBuffer::Radix radix_d(ratio.d), radix_n(ratio.n);
      for (int step = 0; step < 8; ++step) {
        MultiplyByRatio(v, {&ratio, 1}, buffer);
        for (std::size_t i = 0; i < n; ++i) {
          const std::int64_t c = reference.raw()[i];
          std::int64_t q = c / static_cast<std::int64_t>(ratio.d);
          if (q * static_cast<std::int64_t>(ratio.d) > c) --q;  // floor
          definition.PushUnchecked(i, static_cast<std::uint32_t>(c - q * static_cast<std::int64_t>(ratio.d)), radix_d);
          reference.raw()[i] = q * ratio.n + definition.PopUnchecked(i, radix_n);
        }
        ASSERT_EQ(v, reference) << ratio.n << "/" << ratio.d << ", step " << step;
        ASSERT_TRUE(buffer.SameState(definition)) << ratio.n << "/" << ratio.d << ", step " << step;
        // Back to the same boundary values for the next step (the coder states carry on).
        std::copy(raw.begin(), raw.end(), v.raw().begin());
        std::copy(raw.begin(), raw.end(), reference.raw().begin());
      }
    }
  }
}

class Algorithm3Test : public ::testing::TestWithParam<BufferKind> {
 protected:
  std::unique_ptr<InfoBuffer> Make(std::size_t size) { return MakeInfoBuffer(GetParam(), size); }
};

// The authors' test: after mul, val ≈ A·b (rtol 1e-3, atol 1e-4: loose because the applied
// factor is n/d ≠ b and popped digits enter the low bits); after div, bit-exact.
TEST_P(Algorithm3Test, MultiplyThenDivideIsExact) {
  const std::vector<double> a = NormalVector(100, 1);
  for (const double b : {0.95, 0.9, 0.5, 0.3, 1.01}) {
    FixedPointVector v = FixedPointVector::FromDoubles(a);
    const FixedPointVector original = v;
    auto buffer = Make(v.size());
    const DecayRatio ratio = DecayToRatio(b);
    MultiplyByRatio(v, {&ratio, 1}, *buffer);
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(v.Value(i), a[i] * b, 1e-4 + 1e-3 * std::fabs(a[i] * b)) << "b " << b;
    }
    DivideByRatio(v, {&ratio, 1}, *buffer);
    EXPECT_EQ(v, original) << "b " << b;
    EXPECT_TRUE(buffer->Empty()) << "b " << b;
  }
}

// 200 successive multiplications by random factors, then divisions in reverse order: exact,
// where the same in floating point is wrong for most entries.
TEST_P(Algorithm3Test, TwoHundredMultipliesThenDividesAreExact) {
  const std::size_t n = 100;
  const std::vector<double> a = NormalVector(n, 2);
  RandomStream rng(3);
  std::vector<DecayRatio> ratios;
  std::vector<double> factors;
  for (int k = 0; k < 200; ++k) {
    factors.push_back(0.5 + 0.49 * rng.Uniform());
    ratios.push_back(DecayToRatio(factors.back()));
  }
  FixedPointVector v = FixedPointVector::FromDoubles(a);
  const FixedPointVector original = v;
  auto buffer = Make(n);
  for (const DecayRatio& r : ratios) MultiplyByRatio(v, {&r, 1}, *buffer);
  for (auto r = ratios.rbegin(); r != ratios.rend(); ++r) DivideByRatio(v, {&*r, 1}, *buffer);
  EXPECT_EQ(v, original);
  EXPECT_TRUE(buffer->Empty());

  std::size_t float_wrong = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double x = a[i];
    for (double f : factors) x *= f;
    for (auto f = factors.rbegin(); f != factors.rend(); ++f) x /= *f;
    float_wrong += (x != a[i]);
  }
  EXPECT_GE(float_wrong, n * 8 / 10) << "floating-point reversal should fail for >= 80%";
}

// Per-element factors, as per-block momentum schedules need.
TEST_P(Algorithm3Test, PerElementFactorsAreExact) {
  const std::size_t n = 100;
  const std::vector<double> a = NormalVector(n, 4);
  RandomStream rng(5);
  std::vector<std::vector<DecayRatio>> steps(200, std::vector<DecayRatio>(n));
  for (auto& step : steps) {
    for (auto& r : step) r = DecayToRatio(0.3 + 0.75 * rng.Uniform());  // some above 1
  }
  FixedPointVector v = FixedPointVector::FromDoubles(a);
  const FixedPointVector original = v;
  auto buffer = Make(n);
  for (const auto& step : steps) MultiplyByRatio(v, step, *buffer);
  for (auto step = steps.rbegin(); step != steps.rend(); ++step) {
    DivideByRatio(v, *step, *buffer);
  }
  EXPECT_EQ(v, original);
  EXPECT_TRUE(buffer->Empty());
}

// The pattern of training: multiply by γ, subtract a gradient-like vector; T steps, then back.
// Velocities change sign often, which exercises floor division on negatives.
TEST_P(Algorithm3Test, MomentumWithGradientStepsReversesBitForBit) {
  const std::size_t n = 50;
  for (const double gamma : {0.5, 0.9, 0.99}) {
    const DecayRatio ratio = DecayToRatio(gamma);
    FixedPointVector v = FixedPointVector::FromDoubles(NormalVector(n, 6));
    const FixedPointVector original = v;
    auto buffer = Make(n);
    const int steps = 1000;
    for (int t = 0; t < steps; ++t) {
      MultiplyByRatio(v, {&ratio, 1}, *buffer);
      v.Sub(NormalVector(n, 1000 + t, 1.0 - gamma));
    }
    for (int t = steps; t-- > 0;) {
      v.Add(NormalVector(n, 1000 + t, 1.0 - gamma));
      DivideByRatio(v, {&ratio, 1}, *buffer);
    }
    EXPECT_EQ(v, original) << "gamma " << gamma;
    EXPECT_TRUE(buffer->Empty()) << "gamma " << gamma;
  }
}

TEST_P(Algorithm3Test, NegativeValuesUseFloorSemantics) {
  // -1 unit times 1/2: floor(-1/2) = -1 with remainder 1; truncation would give 0 remainder -1.
  FixedPointVector v(3);
  v.raw()[0] = -1;
  v.raw()[1] = -65537;
  v.raw()[2] = std::numeric_limits<std::int64_t>::min() + 1;
  const FixedPointVector original = v;
  auto buffer = Make(3);
  const DecayRatio half = DecayToRatio(0.5);
  MultiplyByRatio(v, {&half, 1}, *buffer);
  EXPECT_LT(v.raw()[1], 0);
  DivideByRatio(v, {&half, 1}, *buffer);
  EXPECT_EQ(v, original);
}

TEST_P(Algorithm3Test, OverflowNamesTheElementAndChangesNothing) {
  const std::vector<double> a = {1.0, -2.0, 2040.0, 3.0};
  FixedPointVector v = FixedPointVector::FromDoubles(a);
  auto buffer = Make(a.size());
  const FixedPointVector original = v;
  const DecayRatio grow = DecayToRatio(1.01);  // applied as 33096/32768
  try {
    MultiplyByRatio(v, {&grow, 1}, *buffer);
    FAIL() << "2040 · 1.01 should overflow";
  } catch (const FixedPointOverflow& e) {
    EXPECT_EQ(e.index(), 2u);
    EXPECT_NEAR(e.value(), 2040.0 * 33096 / 32768, 1e-9);
  }
  EXPECT_EQ(v, original);
  EXPECT_TRUE(buffer->Empty());
}

// Near the bottom of int64 ⌊c/d⌋·n leaves int64 before the popped digit brings it back: the
// exact inverse of a multiply by 1/3 from INT64_MIN + 1 must not throw.
FixedPointVector FromRaw(const std::vector<std::int64_t>& raw) {
  FixedPointVector v(raw.size());
  std::copy(raw.begin(), raw.end(), v.raw().begin());
  return v;
}

TEST_P(Algorithm3Test, InverseNearTheLowerLimitWithANonPowerOfTwoDivisor) {
  FixedPointVector v = FromRaw({std::numeric_limits<std::int64_t>::min() + 1});
  const FixedPointVector original = v;
  auto buffer = Make(1);
  const DecayRatio third{1, 3};
  MultiplyByRatio(v, {&third, 1}, *buffer);
  DivideByRatio(v, {&third, 1}, *buffer);
  EXPECT_EQ(v, original);
  EXPECT_TRUE(buffer->Empty());
}

// An overflow at element 1 rolls element 0 back through that same inverse: v and the buffer
// are unchanged afterwards.
TEST_P(Algorithm3Test, RollbackThroughTheLowerLimitRestoresEverything) {
  FixedPointVector v = FromRaw({std::numeric_limits<std::int64_t>::min() + 1, std::int64_t{1} << 62});
  const FixedPointVector original = v;
  auto buffer = Make(2);
  const std::vector<DecayRatio> ratios = {{1, 3}, {2, 1}};
  EXPECT_THROW(MultiplyByRatio(v, ratios, *buffer), FixedPointOverflow);
  EXPECT_EQ(v, original);
  EXPECT_TRUE(buffer->Empty());
}

TEST_P(Algorithm3Test, RejectsMismatchedSizesAndBadRatios) {
  FixedPointVector v(4);
  auto buffer = Make(3);
  const DecayRatio r = DecayToRatio(0.9);
  EXPECT_THROW(MultiplyByRatio(v, {&r, 1}, *buffer), std::invalid_argument);
  auto right = Make(4);
  const std::vector<DecayRatio> two = {r, r};
  EXPECT_THROW(MultiplyByRatio(v, two, *right), std::invalid_argument);
  const DecayRatio zero{1, 0};
  EXPECT_THROW(DivideByRatio(v, {&zero, 1}, *right), std::invalid_argument);
}

// Everything a buffer holds, comparable: the fast buffer's coder states, the exact buffer's
// integers, the information and (if `bytes`) the bytes allocated.
std::vector<std::string> Contents(const InfoBuffer& buffer, bool bytes = true) {
  std::vector<std::string> out = {std::to_string(buffer.InformationBits()),
                                  bytes ? std::to_string(buffer.AllocatedBytes()) : ""};
  for (std::size_t i = 0; i < buffer.size(); ++i) {
    if (const auto* fast = dynamic_cast<const AnsBuffer*>(&buffer)) {
      out.push_back(std::to_string(fast->state(i)));
    } else {
      out.push_back(dynamic_cast<const ExactBuffer&>(buffer).integer(i).str());
    }
  }
  return out;
}

// 20,000 elements (five pieces of the parallel split), three ratio runs, 120 momentum steps
// with gradient increments, then all undone: v and the buffer are the same bits after every
// step on 1, 2 and 3 threads (stacks grow and shrink across chunks, so pool operations happen
// between the local ones), and the start comes back exactly.
TEST_P(Algorithm3Test, ThreadsGiveTheSameBitsAsOneThread) {
  const std::size_t n = 20000, steps = 120;
  const std::vector<double> a = NormalVector(n, 21);
  std::vector<DecayRatio> ratios(n, DecayToRatio(0.9));
  std::fill(ratios.begin() + 7000, ratios.begin() + 13000, DecayToRatio(0.5));
  std::fill(ratios.begin() + 13000, ratios.end(), DecayToRatio(0.99));
  std::vector<std::vector<double>> increments;
  for (std::size_t t = 0; t < steps; ++t) increments.push_back(NormalVector(n, 100 + t, 0.01));
  struct Run {
    FixedPointVector v;
    std::unique_ptr<InfoBuffer> buffer;
  };
  std::vector<Run> runs;
  for (int k = 0; k < 3; ++k) runs.push_back({FixedPointVector::FromDoubles(a), Make(n)});
  const FixedPointVector original = runs[0].v;
  for (std::size_t t = 0; t < steps; ++t) {
    for (unsigned k = 0; k < 3; ++k) {
      MultiplyByRatio(runs[k].v, ratios, *runs[k].buffer, k + 1);
      runs[k].v.Add(increments[t]);
    }
    ASSERT_EQ(runs[1].v, runs[0].v) << "step " << t;
    ASSERT_EQ(runs[2].v, runs[0].v) << "step " << t;
  }
  EXPECT_EQ(Contents(*runs[1].buffer), Contents(*runs[0].buffer));
  EXPECT_EQ(Contents(*runs[2].buffer), Contents(*runs[0].buffer));
  for (std::size_t t = steps; t-- > 0;) {
    for (unsigned k = 0; k < 3; ++k) {
      runs[k].v.Sub(increments[t]);
      DivideByRatio(runs[k].v, ratios, *runs[k].buffer, k + 1);
    }
  }
  for (const Run& run : runs) {
    EXPECT_EQ(run.v, original);
    EXPECT_TRUE(run.buffer->Empty());
  }
}

// An overflow late in the vector, after 40 steps have filled the buffer: on any number of
// threads the same element is named and v and the buffer are left exactly as they were.
TEST_P(Algorithm3Test, OverflowOnSeveralThreadsNamesTheSameElementAndChangesNothing) {
  const std::size_t n = 20000, hot = 15000;
  std::vector<double> a = NormalVector(n, 22);
  a[hot] = 2040.0;
  std::vector<DecayRatio> warm(n, DecayToRatio(0.9));
  warm[hot] = DecayRatio{1, 1};
  std::vector<DecayRatio> grow = warm;
  grow[hot] = DecayToRatio(1.01);
  for (const unsigned threads : {1u, 2u, 3u}) {
    FixedPointVector v = FixedPointVector::FromDoubles(a);
    auto buffer = Make(n);
    for (int t = 0; t < 40; ++t) MultiplyByRatio(v, warm, *buffer, threads);
    const FixedPointVector before = v;
    // After an overflow the exact buffer's integers may keep more limbs (algorithm3.h).
    const bool bytes = GetParam() == BufferKind::kFast;
    const std::vector<std::string> contents = Contents(*buffer, bytes);
    try {
      MultiplyByRatio(v, grow, *buffer, threads);
      FAIL() << "2040 · 1.01 should overflow";
    } catch (const FixedPointOverflow& e) {
      EXPECT_EQ(e.index(), hot) << threads << " threads";
    }
    EXPECT_EQ(v, before) << threads << " threads";
    EXPECT_EQ(Contents(*buffer, bytes), contents) << threads << " threads";
  }
}

// Algorithm 3 on 128-bit fixed point (Adam's moments: 116 fraction bits, |x| < 2048), checked
// against the definition computed independently with GCC's truncating 128-bit / and %: after a
// multiply by n/d each element is ⌊c/d⌋·n + digit with 0 ≤ digit < n; values from 1e-30 to
// ±2000, ratios with d = 2^16 or a prime d and their inverses (divisor n),
// 30 steps on 1 and 3 threads (pieces of 3 elements: the parallel path) with the same bits,
// and all undone exactly.
TEST_P(Algorithm3Test, WideMultiplyFollowsTheDefinitionAndReversesOnThreads) {
  const int bits = 116;
  std::vector<double> a;
  RandomStream rng(41);
  for (int e = -30; e <= 2; ++e) {
    for (const double m : {1.0, -2.0, 0.7}) a.push_back(m * std::pow(10.0, e) * (1 + rng.Uniform()));
  }
  a.insert(a.end(), {0.0, 2000.0, -2000.0});
  const std::size_t n = a.size();
  std::vector<DecayRatio> ratios(n, DecayToRatio(0.999));
  for (std::size_t i = 0; i < n; i += 3) ratios[i] = DecayToRatio(0.9);
  for (std::size_t i = 1; i < n; i += 3) ratios[i] = DecayRatio{40000, 65521};  // d prime
  const auto floor_div = [](Int128 c, Int128 m) {
    Int128 q = c / m;
    if (c % m < 0) --q;
    return q;
  };
  struct Run {
    WideFixedPointVector v;
    std::unique_ptr<InfoBuffer> buffer;
  };
  std::vector<Run> runs;
  for (int k = 0; k < 2; ++k) runs.push_back({WideFixedPointVector::FromDoubles(a, bits), Make(n)});
  const WideFixedPointVector original = runs[0].v;
  const std::size_t steps = 30;
  for (std::size_t t = 0; t < steps; ++t) {
    const WideFixedPointVector before = runs[0].v;
    for (unsigned k = 0; k < 2; ++k) {
      MultiplyByRatio(runs[k].v, ratios, *runs[k].buffer,
                      RatioSplit{.threads = 1 + 2 * k, .min_piece = 3});
    }
    ASSERT_EQ(runs[1].v, runs[0].v) << "step " << t;
    for (std::size_t i = 0; i < n; ++i) {
      const Int128 low = floor_div(before.raw()[i], ratios[i].d) * ratios[i].n;
      const Int128 got = runs[0].v.raw()[i];
      ASSERT_TRUE(got >= low && got < low + ratios[i].n) << "element " << i << ", step " << t;
    }
  }
  EXPECT_EQ(Contents(*runs[1].buffer), Contents(*runs[0].buffer));
  for (std::size_t t = steps; t-- > 0;) {
    for (unsigned k = 0; k < 2; ++k) {
      DivideByRatio(runs[k].v, ratios, *runs[k].buffer,
                    RatioSplit{.threads = 1 + 2 * k, .min_piece = 3});
    }
  }
  for (const Run& run : runs) {
    EXPECT_EQ(run.v, original);
    EXPECT_TRUE(run.buffer->Empty());
  }
}

// A 128-bit value near the limit 2048 that a factor above 1 pushes out: the element is named
// with the format's limit, and v and the buffer are unchanged; the most negative values divide
// back exactly.
TEST_P(Algorithm3Test, WideOverflowNamesTheElementAndChangesNothing) {
  std::vector<double> a = {1.0, -2047.9, 2040.0, -1e-20};
  WideFixedPointVector v = WideFixedPointVector::FromDoubles(a, 116);
  auto buffer = Make(a.size());
  const DecayRatio ratio = DecayToRatio(0.9);
  MultiplyByRatio(v, {&ratio, 1}, *buffer, RatioSplit{});
  const WideFixedPointVector before = v;
  const std::vector<std::string> contents = Contents(*buffer);
  const DecayRatio grow = DecayToRatio(1.2);
  try {
    MultiplyByRatio(v, {&grow, 1}, *buffer, RatioSplit{});
    FAIL() << "-2047.9 · 0.9 · 1.2 should overflow";
  } catch (const FixedPointOverflow& e) {
    EXPECT_EQ(e.index(), 1u);
    EXPECT_EQ(e.limit(), 2048.0);
    EXPECT_NE(std::string(e.what()).find("(-2048, 2048)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(v, before);
  EXPECT_EQ(Contents(*buffer), contents);
  DivideByRatio(v, {&ratio, 1}, *buffer, RatioSplit{});
  EXPECT_EQ(v, WideFixedPointVector::FromDoubles(a, 116));
  EXPECT_TRUE(buffer->Empty());
}

INSTANTIATE_TEST_SUITE_P(Buffers, Algorithm3Test,
                         ::testing::Values(BufferKind::kExact, BufferKind::kFast),
                         [](const auto& p) { return std::string(BufferKindName(p.param)); });

}  // namespace
}  // namespace hypergrad
