#include "model.h"

#include <gtest/gtest.h>

namespace hypergrad {
namespace {

TEST(ParameterBlocksTest, ExpandsAndAccumulatesByBlock) {
  ParameterBlocks blocks{{0, 1, 0, 2, 1}, {"a", "b", "c"}};
  EXPECT_NO_THROW(blocks.Validate());
  const std::vector<double> per_block = {1.5, -2.0, 7.0};
  std::vector<double> per_param(5);
  blocks.Expand(per_block, per_param);
  EXPECT_EQ(per_param, (std::vector<double>{1.5, -2.0, 1.5, 7.0, -2.0}));
  std::vector<double> sums(3, 1.0);
  blocks.AccumulateSum(std::vector<double>{1, 2, 3, 4, 5}, sums);
  EXPECT_EQ(sums, (std::vector<double>{5.0, 8.0, 5.0}));
}

TEST(ParameterBlocksTest, SingleAndPerParameter) {
  EXPECT_EQ(ParameterBlocks::Single(4).num_blocks(), 1u);
  const ParameterBlocks each = ParameterBlocks::PerParameter(3);
  EXPECT_EQ(each.num_blocks(), 3u);
  EXPECT_EQ(each.block_of[2], 2u);
}

TEST(ParameterBlocksTest, ValidateRejectsBadPartitions) {
  EXPECT_THROW((ParameterBlocks{{0, 3}, {"a", "b"}}.Validate()), std::invalid_argument);
  EXPECT_THROW((ParameterBlocks{{0, 0}, {"a", "empty"}}.Validate()), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
