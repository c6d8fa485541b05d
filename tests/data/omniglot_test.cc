// The Omniglot loader on a small generated zip, and the downsampling and rotation rules.
#include "data/omniglot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <png.h>
#include <zip.h>

#include <filesystem>
#include <fstream>

namespace hypergrad {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A 105×105 gray PNG: white (255) background with a black square [r0, r0+size)².
std::vector<std::uint8_t> SquarePng(std::size_t r0, std::size_t size) {
  std::vector<std::uint8_t> gray(105 * 105, 255);
  for (std::size_t r = r0; r < r0 + size; ++r) {
    for (std::size_t c = r0; c < r0 + size; ++c) gray[r * 105 + c] = 0;
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = image.height = 105;
  image.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size_bytes = 0;
  png_image_write_to_memory(&image, nullptr, &size_bytes, 0, gray.data(), 0, nullptr);
  std::vector<std::uint8_t> png(size_bytes);
  EXPECT_TRUE(png_image_write_to_memory(&image, png.data(), &size_bytes, 0, gray.data(), 0, nullptr));
  png.resize(size_bytes);
  return png;
}

class OmniglotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("omniglot_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Writes a zip whose entries are (name, bytes).
  std::string Zip(const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& entries) {
    const std::string path = (dir_ / "test.zip").string();
    int error = 0;
    zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
    for (const auto& [name, bytes] : entries) {
      zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
      zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE);
    }
    EXPECT_EQ(zip_close(archive), 0);
    return path;
  }
  fs::path dir_;
};

TEST_F(OmniglotTest, LoadsSortsAndDownsamplesImages) {
  const auto a = SquarePng(0, 15), b = SquarePng(30, 45);
  const std::string path = Zip({{"images_background_small1/Latin/character02/0400_03.png", a},
                                {"images_background_small1/Latin/character01/0399_17.png", b},
                                {"images_background_small1/Greek/character01/0300_01.png", a},
                                {"images_background_small1/README.txt", {1, 2, 3}}});
  const std::vector<OmniglotImage> images = LoadOmniglotZip(path);
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(images[0].alphabet, "Greek");
  EXPECT_EQ(images[1].alphabet, "Latin");
  EXPECT_EQ(images[1].character, 1);
  EXPECT_EQ(images[1].drawer, 17);
  EXPECT_EQ(images[2].character, 2);
  EXPECT_EQ(images[2].drawer, 3);
  // A 15×15 ink square in the corner: 15 = 4 × 3.75, so output pixels (0..3, 0..3) are fully
  // inked and the rest blank.
  const auto& p = images[0].pixels;
  ASSERT_EQ(p.size(), 784u);
  EXPECT_DOUBLE_EQ(p[0], 1.0);
  EXPECT_DOUBLE_EQ(p[3 * 28 + 3], 1.0);
  EXPECT_DOUBLE_EQ(p[4 * 28 + 4], 0.0);
  double ink = 0.0;
  for (double v : p) ink += v;
  EXPECT_NEAR(ink, 16.0, 1e-12);  // area is preserved: 225 / 3.75² = 16
}

TEST_F(OmniglotTest, CorruptEntriesAndFilesAreErrors) {
  const std::string path = Zip({{"s/Latin/character01/0001_01.png", {0x89, 'P', 'N', 'G', 1, 2}}});
  EXPECT_THAT([&] { LoadOmniglotZip(path); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("character01/0001_01.png")));
  const std::string bad = (dir_ / "not.zip").string();
  std::ofstream(bad) << "not a zip";
  EXPECT_THAT([&] { LoadOmniglotZip(bad); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("cannot open as a zip")));
}

// A stored (uncompressed) entry with one byte flipped: libzip's CRC check fails, and the
// message says so and names the entry (before: "(No error)").
TEST_F(OmniglotTest, ACrcMismatchNamesTheEntryAndTheReason) {
  const std::string path = (dir_ / "crc.zip").string();
  const auto png = SquarePng(0, 15);
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  const zip_int64_t index = zip_file_add(archive, "s/Latin/character01/0001_01.png",
                                         zip_source_buffer(archive, png.data(), png.size(), 0), 0);
  zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  ASSERT_EQ(zip_close(archive), 0);
  std::fstream zip(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(zip)), std::istreambuf_iterator<char>());
  const std::size_t at = bytes.find("IHDR");
  ASSERT_NE(at, std::string::npos);
  zip.seekp(static_cast<std::streamoff>(at + 20));
  zip.put(static_cast<char>(bytes[at + 20] ^ 0x55));
  zip.close();
  EXPECT_THAT([&] { LoadOmniglotZip(path); },
              ::testing::ThrowsMessage<std::runtime_error>(::testing::AllOf(
                  HasSubstr("character01/0001_01.png"), HasSubstr("CRC"))));
}

TEST(OmniglotTransformsTest, DownsamplingAveragesAreas) {
  std::vector<double> half(105 * 105, 0.0);
  for (std::size_t r = 0; r < 105; ++r) {
    for (std::size_t c = 0; c < 105; ++c) half[r * 105 + c] = c < 52 ? 1.0 : 0.0;
  }
  const std::vector<double> small = Downsample105To28(half);
  // Column 13 spans [48.75, 52.5): 3.25 of 3.75 inked.
  EXPECT_NEAR(small[13], 3.25 / 3.75, 1e-12);
  EXPECT_DOUBLE_EQ(small[12], 1.0);
  EXPECT_DOUBLE_EQ(small[14], 0.0);
}

TEST(OmniglotTransformsTest, QuarterTurnFollowsTheAuthorsIndexing) {
  std::vector<double> img(784, 0.0);
  img[0 * 28 + 5] = 1.0;  // row 0, column 5
  const std::vector<double> turned = RotateQuarter(img);
  // new[r][c] = old[27 − c][r]: old (0, 5) lands at r = 5, c = 27.
  EXPECT_EQ(turned[5 * 28 + 27], 1.0);
  std::vector<double> back = img;
  for (int k = 0; k < 4; ++k) back = RotateQuarter(back);
  EXPECT_EQ(back, img);
}

}  // namespace
}  // namespace hypergrad

namespace hypergrad {
namespace {

std::vector<OmniglotImage> FakeImages() {
  std::vector<OmniglotImage> images;
  for (const char* alphabet : {"Greek", "Latin"}) {
    for (int character = 1; character <= 3; ++character) {
      for (int drawer = 1; drawer <= 4; ++drawer) {
        std::vector<double> pixels(784, 0.0);
        pixels[static_cast<std::size_t>(character * 28 + drawer)] = 1.0;
        images.push_back({alphabet, character, drawer, pixels});
      }
    }
  }
  return images;
}

TEST(OmniglotTasksTest, AlphabetsAndRotationsShareLabelPermutations) {
  const OmniglotTasks tasks = MakeOmniglotTasks(FakeImages(), {"Latin", "Greek"}, 3, 5, 7);
  ASSERT_EQ(tasks.names.size(), 4u);
  EXPECT_EQ(tasks.names[2], "Latin (rotated)");
  EXPECT_EQ(tasks.images[0].size(), 3u);     // characters
  EXPECT_EQ(tasks.images[0][0].size(), 3u);  // drawers 1-3 of 4
  EXPECT_EQ(tasks.labels[0], tasks.labels[2]);
  EXPECT_EQ(tasks.labels[1], tasks.labels[3]);
  for (auto label : tasks.labels[0]) EXPECT_LT(label, 5u);
  EXPECT_EQ(tasks.images[2][1][2], RotateQuarter(tasks.images[0][1][2]));
  EXPECT_THROW(MakeOmniglotTasks(FakeImages(), {"Korean"}, 3, 5, 7), std::invalid_argument);
  EXPECT_THROW(MakeOmniglotTasks(FakeImages(), {"Latin"}, 5, 5, 7), std::invalid_argument);
  EXPECT_THROW(MakeOmniglotTasks(FakeImages(), {"Latin"}, 3, 2, 7), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
