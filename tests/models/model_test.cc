#include "models/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

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

// Sums run by run give the bits of adding element by element in index order, also when a
// block's parameters are not contiguous (the hypergradients per block depend on that order).
TEST(ParameterBlocksTest, AccumulatesInIndexOrderWhateverTheLayout) {
  ParameterBlocks blocks;
  std::vector<double> values;
  for (std::size_t k = 0; k < 5000; ++k) {
    blocks.block_of.push_back(static_cast<std::uint32_t>((k / 37 + k / 101) % 4));  // runs of 1 to 37
    values.push_back(std::sin(static_cast<double>(k)) * std::exp(static_cast<double>(k % 50) / 5.0));
  }
  blocks.names = {"a", "b", "c", "d"};
  std::vector<double> expected = {0.5, -1.0, 2.0, 0.0}, got = expected;
  for (std::size_t k = 0; k < values.size(); ++k) expected[blocks.block_of[k]] += values[k];
  blocks.AccumulateSum(values, got);
  for (std::size_t b = 0; b < 4; ++b) {
    EXPECT_EQ(std::memcmp(&got[b], &expected[b], sizeof(double)), 0) << "block " << b;
  }
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
