#include "dataset.h"

#include <gtest/gtest.h>

namespace hypergrad {
namespace {

TEST(DatasetTest, MakeDatasetBuildsOneHotTargets) {
  const Dataset d = MakeDataset({1, 2, 3, 4, 5, 6}, 2, {2, 0, 1}, 3);
  EXPECT_EQ(d.rows, 3u);
  EXPECT_EQ(d.targets, (std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(d.Labels(), (std::vector<std::size_t>{2, 0, 1}));
  const Dataset s = d.Slice(1, 3);
  EXPECT_EQ(s.rows, 2u);
  EXPECT_EQ(s.inputs, (std::vector<double>{3, 4, 5, 6}));
  EXPECT_EQ(s.Labels(), (std::vector<std::size_t>{0, 1}));
  EXPECT_THROW(d.Slice(2, 4), std::out_of_range);
  EXPECT_THROW(MakeDataset({1, 2}, 2, {3}, 3), std::invalid_argument);
  EXPECT_THROW(MakeDataset({1, 2, 3}, 2, {0}, 3), std::invalid_argument);
}

TEST(DatasetTest, SyntheticDataAreDeterministicAndUseEveryClass) {
  const Dataset a = MakeSyntheticDataset(300, 6, 4, 7), b = MakeSyntheticDataset(300, 6, 4, 7);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.targets, b.targets);
  std::vector<int> counts(4, 0);
  for (auto label : a.Labels()) ++counts[label];
  for (int c : counts) EXPECT_GT(c, 20);
}

}  // namespace
}  // namespace hypergrad
