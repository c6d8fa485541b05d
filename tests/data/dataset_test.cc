#include "data/dataset.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

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

// The compact form reads back pixel/255 − offset, by rows and by columns, through Slice too,
// and Validate checks its sizes.
TEST(DatasetTest, CompactFormReadsBackTheConvertedPixels) {
  const std::vector<std::uint8_t> pixels = {0, 255, 17, 3, 128, 64};  // 3 rows × 2
  const std::vector<double> offset = {0.25, -0.5};
  Dataset data = MakeCompactDataset(pixels, offset, 2, {0, 1, 1}, 2);
  EXPECT_TRUE(data.compact());
  double row[2];
  data.CopyInputRow(2, row);
  EXPECT_EQ(row[0], 128 / 255.0 - 0.25);
  EXPECT_EQ(row[1], 64 / 255.0 + 0.5);
  std::vector<double> column(3);
  data.CopyInputColumns(1, 2, column.data());
  EXPECT_EQ(column, (std::vector<double>{255 / 255.0 + 0.5, 3 / 255.0 + 0.5, 64 / 255.0 + 0.5}));
  const Dataset tail = data.Slice(1, 3);
  EXPECT_TRUE(tail.compact());
  tail.CopyInputRow(0, row);
  EXPECT_EQ(row[0], 17 / 255.0 - 0.25);
  data.pixel_offset = {1.0};  // one offset for two inputs
  EXPECT_THROW(data.Validate(), std::invalid_argument);
  EXPECT_THROW(MakeCompactDataset({1, 2, 3}, {}, 2, {0, 1}, 2), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
