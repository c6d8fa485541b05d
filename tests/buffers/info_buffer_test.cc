// Behaviour every information buffer must have, run on each implementation.
#include "buffers/info_buffer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/buffer_ops.h"

namespace hypergrad {
namespace {

using testing::Apply;
using testing::RandomOps;
using testing::RandomOpsOptions;
using testing::Undo;

class InfoBufferTest : public ::testing::TestWithParam<BufferKind> {
 protected:
  std::unique_ptr<InfoBuffer> Make(std::size_t size) { return MakeInfoBuffer(GetParam(), size); }
};

TEST_P(InfoBufferTest, StartsEmptyAndPopsZerosWhenEmpty) {
  auto buffer = Make(3);
  EXPECT_TRUE(buffer->Empty());
  EXPECT_EQ(buffer->InformationBits(), 0.0);
  for (std::uint32_t radix : {2u, 6u, 65536u}) EXPECT_EQ(buffer->Pop(1, radix), 0u);
  EXPECT_TRUE(buffer->Empty());
  buffer->Push(0, 0, 7);  // pushing a zero digit on an empty buffer leaves it empty (0·7 + 0)
  EXPECT_TRUE(buffer->Empty());
}

TEST_P(InfoBufferTest, RoundTripsInBaseSix) {
  auto buffer = Make(2);
  const std::vector<std::uint32_t> digits = {5, 0, 3, 1, 4, 2, 5, 5};
  for (auto d : digits) buffer->Push(1, d, 6);
  EXPECT_FALSE(buffer->Empty());
  EXPECT_GT(buffer->InformationBits(), 0.0);
  for (auto d = digits.rbegin(); d != digits.rend(); ++d) EXPECT_EQ(buffer->Pop(1, 6), *d);
  EXPECT_TRUE(buffer->Empty());
}

// The authors' buffer test (tests/test_bitstore.py, test_long_sequence): length 10, moduli 1..200,
// 75% pushes, 200 random steps, undone in reverse order.
TEST_P(InfoBufferTest, UndoesRandomInterleavingsWithSmallRadices) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    auto buffer = Make(10);
    auto ops = RandomOps({.count = 200, .elements = 10, .max_radix = 200}, seed);
    Apply(*buffer, ops);
    EXPECT_EQ(Undo(*buffer, ops), 0u) << "seed " << seed;
    EXPECT_TRUE(buffer->Empty()) << "seed " << seed;
  }
}

TEST_P(InfoBufferTest, UndoesRandomInterleavingsWithLargeRadices) {
  const std::uint32_t max = (1u << 16) + 1;
  for (const double push_fraction : {0.3, 0.5, 0.75}) {
    auto buffer = Make(5);
    auto ops = RandomOps({.count = 20000, .elements = 5, .push_fraction = push_fraction,
                          .min_radix = max - 300, .max_radix = max},
                         17);
    Apply(*buffer, ops);
    EXPECT_EQ(Undo(*buffer, ops), 0u) << "push fraction " << push_fraction;
    EXPECT_TRUE(buffer->Empty());
  }
}

TEST_P(InfoBufferTest, UndoesInterleavingsOfAllRadixSizes) {
  auto buffer = Make(4);
  auto ops = RandomOps({.count = 20000, .elements = 4, .push_fraction = 0.6, .min_radix = 1,
                        .max_radix = InfoBuffer::kMaxRadix},
                       5);
  Apply(*buffer, ops);
  EXPECT_EQ(Undo(*buffer, ops), 0u);
  EXPECT_TRUE(buffer->Empty());
}

TEST_P(InfoBufferTest, InformationGrowsByLogRadixPerPush) {
  auto buffer = Make(1);
  RandomStream rng(9);
  const int pushes = 2000;
  for (int k = 0; k < pushes; ++k) {
    buffer->Push(0, static_cast<std::uint32_t>(1 + rng.UniformInt(999)), 1000);
  }
  // Non-zero leading digits: log2(B) lies in [(pushes − 1)·log2(1000), pushes·log2(1000)).
  // The fast buffer may hold more: its first digit sits in a coder state of up to 24 bits (the
  // coding total), and quantising 1/1000 to ⌊2^24/1000⌋/2^24 costs at most
  // log2(1 + 1/16777) < 1e-4 bits per push.
  const double per_push = std::log2(1000.0);
  const double bits = buffer->InformationBits();
  EXPECT_GE(bits, (pushes - 1) * per_push);
  EXPECT_LE(bits, pushes * per_push + 24.0 + pushes * 1e-4);
}

TEST_P(InfoBufferTest, RejectsBadArgumentsWithClearErrors) {
  auto buffer = Make(3);
  EXPECT_THROW(buffer->Push(3, 0, 2), std::invalid_argument);
  EXPECT_THROW(buffer->Push(0, 2, 2), std::invalid_argument);
  EXPECT_THROW(buffer->Push(0, 0, 0), std::invalid_argument);
  EXPECT_THROW(buffer->Push(0, 0, InfoBuffer::kMaxRadix + 1), std::invalid_argument);
  EXPECT_THROW(buffer->Pop(7, 2), std::invalid_argument);
  EXPECT_THROW(buffer->Pop(0, 0), std::invalid_argument);
  try {
    buffer->Push(1, 9, 5);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("digit 9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("element 1"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(buffer->Empty());
}

TEST_P(InfoBufferTest, ReportsAllocatedBytes) {
  auto buffer = Make(100);
  const std::size_t empty_bytes = buffer->AllocatedBytes();
  EXPECT_GT(empty_bytes, 0u);
  for (std::size_t i = 0; i < 100; ++i) {
    for (int k = 0; k < 100; ++k) buffer->Push(i, 65535, 65536);
  }
  // 100 elements × 1,600 bits = 20,000 bytes of information must be held somewhere.
  EXPECT_GE(buffer->AllocatedBytes(), empty_bytes + 20000);
}

TEST(BufferKindTest, ParsesNames) {
  EXPECT_EQ(ParseBufferKind("exact"), BufferKind::kExact);
  EXPECT_EQ(ParseBufferKind("fast"), BufferKind::kFast);
  EXPECT_THROW(ParseBufferKind("bogus"), std::invalid_argument);
  EXPECT_EQ(BufferKindName(BufferKind::kFast), "fast");
  EXPECT_EQ(MakeInfoBuffer(BufferKind::kExact, 1)->name(), "exact");
  EXPECT_EQ(MakeInfoBuffer(BufferKind::kFast, 1)->name(), "fast");
}

INSTANTIATE_TEST_SUITE_P(Buffers, InfoBufferTest,
                         ::testing::Values(BufferKind::kExact, BufferKind::kFast),
                         [](const auto& p) { return std::string(BufferKindName(p.param)); });

}  // namespace
}  // namespace hypergrad

namespace hypergrad {
namespace {

class InfoBufferCloneTest : public ::testing::TestWithParam<BufferKind> {};

// A clone holds the same information and is independent of the original.
TEST_P(InfoBufferCloneTest, CloneGivesBackTheSameDigitsIndependently) {
  auto buffer = MakeInfoBuffer(GetParam(), 3);
  auto ops = testing::RandomOps({.count = 3000, .elements = 3, .max_radix = 70000}, 4);
  testing::Apply(*buffer, ops);
  auto copy = buffer->Clone();
  EXPECT_EQ(copy->InformationBits(), buffer->InformationBits());
  EXPECT_EQ(testing::Undo(*copy, ops), 0u);
  EXPECT_TRUE(copy->Empty());
  EXPECT_FALSE(buffer->Empty());  // the original is untouched
  EXPECT_EQ(testing::Undo(*buffer, ops), 0u);
}

INSTANTIATE_TEST_SUITE_P(Buffers, InfoBufferCloneTest,
                         ::testing::Values(BufferKind::kExact, BufferKind::kFast),
                         [](const auto& p) { return std::string(BufferKindName(p.param)); });

}  // namespace
}  // namespace hypergrad
