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

// Every pixel value's conversion against its definition, p/255 (the division, correctly rounded)
// minus the offset, or without one: all 256 values, then runs of every length up to 140 (past
// two 64-element blocks of the AVX-512 loop, its 32- and 8-element steps and the scalar tail)
// from 8 starts: the product-and-correction form must give each quotient's bits.
TEST(DatasetTest, PixelsToDoublesIsTheDivisionAtEveryPixelValue) {
  std::vector<std::uint8_t> pixels(256 + 148);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 7 % 256);
  std::vector<double> offset(pixels.size());
  for (std::size_t i = 0; i < offset.size(); ++i) offset[i] = 0.001 * static_cast<double>(i) - 0.13;
  volatile double divisor = 255.0;  // the quotient by division at run time, not folded
  const auto expected = [&](std::size_t i, bool with_offset) {
    return static_cast<double>(pixels[i]) / divisor - (with_offset ? offset[i] : 0.0);
  };
  for (const bool with_offset : {false, true}) {
    const double* off = with_offset ? offset.data() : nullptr;
    std::vector<double> out(pixels.size());
    PixelsToDoubles(pixels.data(), off, pixels.size(), out.data());
    for (std::size_t i = 0; i < pixels.size(); ++i) {
      ASSERT_EQ(out[i], expected(i, with_offset)) << "pixel " << int{pixels[i]} << ", offset " << with_offset;
    }
    for (std::size_t start = 0; start < 8; ++start) {
      for (std::size_t n = 0; n <= 140; ++n) {
        std::vector<double> got(n + 1, -7.0);
        PixelsToDoubles(pixels.data() + start, off ? off + start : nullptr, n, got.data());
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_EQ(got[i], expected(start + i, with_offset))
              << "start " << start << ", length " << n << ", element " << i << ", offset " << with_offset;
        }
        ASSERT_EQ(got[n], -7.0) << "written past the end: start " << start << ", length " << n;
      }
    }
  }
}

}  // namespace
}  // namespace hypergrad
