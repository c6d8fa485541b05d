#include "buffers/exact_buffer.h"

#include <gtest/gtest.h>

namespace hypergrad {
namespace {

using boost::multiprecision::cpp_int;

TEST(ExactBufferTest, HoldsTheAuthorsInteger) {
  ExactBuffer buffer(2);
  buffer.Push(0, 3, 10);
  buffer.Push(0, 7, 10);
  buffer.Push(0, 1, 65536);
  EXPECT_EQ(buffer.integer(0), cpp_int(37 * 65536 + 1));
  EXPECT_EQ(buffer.integer(1), cpp_int(0));
  EXPECT_EQ(buffer.Pop(0, 2), 1u);  // (37·65536 + 1) mod 2
  EXPECT_EQ(buffer.integer(0), cpp_int(37 * 32768));
}

TEST(ExactBufferTest, GrowsWithoutBound) {
  ExactBuffer buffer(1);
  for (int k = 0; k < 10000; ++k) buffer.Push(0, 65535, 65536);  // 160,000 bits
  EXPECT_EQ(boost::multiprecision::msb(buffer.integer(0)), 160000u - 1);
  EXPECT_NEAR(buffer.InformationBits(), 160000.0, 1e-6);
  for (int k = 0; k < 10000; ++k) ASSERT_EQ(buffer.Pop(0, 65536), 65535u);
  EXPECT_TRUE(buffer.Empty());
}

}  // namespace
}  // namespace hypergrad
