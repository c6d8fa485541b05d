#include "buffers/word_stacks.h"

#include <gtest/gtest.h>

#include <vector>

#include "random/random.h"

namespace hypergrad {
namespace {

// Random pushes and pops on many stacks, checked against one std::vector per stack.
TEST(WordStacksTest, BehavesLikeIndependentStacks) {
  const std::size_t count = 37;
  WordStacks stacks(count);
  std::vector<std::vector<std::uint16_t>> model(count);
  RandomStream rng(11);
  for (int step = 0; step < 200000; ++step) {
    const std::size_t s = rng.UniformInt(count);
    // Drift towards growth in the first half and shrinkage in the second, so chunks are both
    // allocated and recycled.
    const double push_probability = step < 100000 ? 0.6 : 0.4;
    if (rng.Uniform() < push_probability) {
      const auto word = static_cast<std::uint16_t>(rng.NextU64());
      stacks.Push(s, word);
      model[s].push_back(word);
    } else if (!model[s].empty()) {
      ASSERT_FALSE(stacks.Empty(s));
      ASSERT_EQ(stacks.Pop(s), model[s].back());
      model[s].pop_back();
    } else {
      ASSERT_TRUE(stacks.Empty(s));
    }
  }
  std::size_t total = 0;
  for (const auto& m : model) total += m.size();
  EXPECT_EQ(stacks.total_words(), total);
  for (std::size_t s = 0; s < count; ++s) {
    while (!model[s].empty()) {
      ASSERT_EQ(stacks.Pop(s), model[s].back());
      model[s].pop_back();
    }
    EXPECT_TRUE(stacks.Empty(s));
  }
  EXPECT_EQ(stacks.total_words(), 0u);
}

TEST(WordStacksTest, RecyclesFreedChunks) {
  WordStacks stacks(4);
  for (int k = 0; k < 10000; ++k) stacks.Push(0, static_cast<std::uint16_t>(k));
  const std::size_t peak = stacks.AllocatedBytes();
  for (int round = 0; round < 5; ++round) {
    for (int k = 0; k < 10000; ++k) stacks.Pop(0);
    for (int k = 0; k < 10000; ++k) stacks.Push(1 + round % 3, static_cast<std::uint16_t>(k));
    for (int k = 0; k < 10000; ++k) stacks.Pop(1 + round % 3);
    for (int k = 0; k < 10000; ++k) stacks.Push(0, static_cast<std::uint16_t>(k));
  }
  EXPECT_EQ(stacks.AllocatedBytes(), peak);
}

TEST(WordStacksTest, MemoryIsCloseToTheWordsHeld) {
  const std::size_t count = 100000;
  WordStacks stacks(count);
  for (std::size_t s = 0; s < count; ++s) {
    for (int k = 0; k < 28; ++k) stacks.Push(s, 1);
  }
  // 28 words = exactly two 32-byte chunks per stack, plus 5 bytes of head and fill and at most
  // one partly used 32 KiB page.
  const double per_stack = static_cast<double>(stacks.AllocatedBytes()) / count;
  EXPECT_LE(per_stack, 64 + 5 + 32768.0 / count + 1);
}

}  // namespace
}  // namespace hypergrad
