// The idx reader and MNIST loader on small generated files (good, truncated, wrong magic, ...).
#include "data/mnist.h"

#include "common/mnist_source.h"
#include "data/sha256.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <string>

namespace hypergrad {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

void Put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::vector<std::uint8_t> Images(std::uint32_t count, std::uint32_t side) {
  std::vector<std::uint8_t> bytes;
  Put32(bytes, 0x803);
  Put32(bytes, count);
  Put32(bytes, side);
  Put32(bytes, side);
  for (std::uint32_t i = 0; i < count * side * side; ++i) bytes.push_back(static_cast<std::uint8_t>(i * 7));
  return bytes;
}

std::vector<std::uint8_t> Labels(std::uint32_t count) {
  std::vector<std::uint8_t> bytes;
  Put32(bytes, 0x801);
  Put32(bytes, count);
  for (std::uint32_t i = 0; i < count; ++i) bytes.push_back(static_cast<std::uint8_t>(i % 10));
  return bytes;
}

class MnistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mnist_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  void WriteAll(std::uint32_t train, std::uint32_t test) {
    Write(kMnistFiles[0], Images(train, 28));
    Write(kMnistFiles[1], Labels(train));
    Write(kMnistFiles[2], Images(test, 28));
    Write(kMnistFiles[3], Labels(test));
  }
  fs::path dir_;
};

TEST_F(MnistTest, ReadsAGoodFile) {
  const IdxFile f = ReadIdxFile(Write("a", Images(3, 4)), 0x803);
  EXPECT_EQ(f.dims, (std::vector<std::size_t>{3, 4, 4}));
  EXPECT_EQ(f.data.size(), 48u);
  EXPECT_EQ(f.data[5], 35);
}

TEST_F(MnistTest, RejectsTruncatedWrongMagicAndTrailingBytes) {
  auto bytes = Images(3, 4);
  bytes.resize(bytes.size() - 1);
  EXPECT_THAT([&] { ReadIdxFile(Write("short", bytes), 0x803); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("truncated")));
  EXPECT_THAT([&] { ReadIdxFile(Write("labels", Labels(3)), 0x803); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("wrong magic number")));
  auto longer = Labels(3);
  longer.push_back(0);
  EXPECT_THAT([&] { ReadIdxFile(Write("long", longer), 0x801); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("trailing bytes")));
  EXPECT_THAT([&] { ReadIdxFile(Write("tiny", {0, 0}), 0x801); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("truncated idx header")));
  EXPECT_THAT([&] { ReadIdxFile((dir_ / "missing").string(), 0x801); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("cannot open")));
}

TEST_F(MnistTest, LoadsAFolderAndScalesPixels) {
  WriteAll(20, 5);
  const MnistData mnist = LoadMnist(dir_.string());
  EXPECT_EQ(mnist.train.rows, 20u);
  EXPECT_EQ(mnist.test.rows, 5u);
  EXPECT_EQ(mnist.train.input_dim, 784u);
  EXPECT_EQ(mnist.train.inputs[1], 7.0 / 255.0);
  EXPECT_EQ(mnist.train.Labels()[13], 3u);
  const std::vector<double> mean = MeanInput(mnist.train);
  Dataset centred = mnist.train;
  SubtractMean(centred, mean);
  double column = 0.0;
  for (std::size_t r = 0; r < centred.rows; ++r) column += centred.inputs[r * 784 + 100];
  EXPECT_NEAR(column, 0.0, 1e-12);
}

// Reading only the first rows (in chunks of 1,000) gives LoadMnist's rows and mean bit for bit,
// with the same errors, on any number of threads.
TEST_F(MnistTest, TrainingRowsAndMeanEqualTheWholeLoad) {
  WriteAll(2500, 5);
  const MnistData all = LoadMnist(dir_.string());
  const std::vector<double> all_mean = MeanInput(all.train);
  for (const unsigned threads : {1u, 2u, 3u})
  for (std::size_t count : {0u, 1u, 999u, 1000u, 1500u, 2500u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    std::vector<double> mean;
    const Dataset rows = LoadMnistTrainingRows(dir_.string(), count, &mean, false, nullptr, threads);
    const Dataset expected = all.train.Slice(0, count);
    EXPECT_EQ(rows.rows, count);
    EXPECT_EQ(rows.inputs, expected.inputs) << count;
    EXPECT_EQ(rows.targets, expected.targets) << count;
    EXPECT_EQ(mean, all_mean) << count;
    EXPECT_EQ(LoadMnistTrainingRows(dir_.string(), count, nullptr, false, nullptr, threads).inputs,
              expected.inputs);
    // Compact: one byte per pixel, read back as the same doubles, with or without the mean.
    std::vector<double> compact_mean;
    Dataset compact = LoadMnistTrainingRows(dir_.string(), count, &compact_mean, true, nullptr, threads);
    EXPECT_EQ(compact_mean, all_mean) << count;
    EXPECT_TRUE(compact.inputs.empty());
    EXPECT_EQ(compact.pixels.size(), count * 784);
    EXPECT_EQ(compact.targets, expected.targets) << count;
    Dataset centred = expected;
    SubtractMean(centred, all_mean);
    std::vector<double> row(784);
    for (const bool with_mean : {false, true}) {
      if (with_mean) compact.pixel_offset = all_mean;
      const Dataset& dense = with_mean ? centred : expected;
      for (std::size_t r = 0; r < count; r += 97) {
        compact.CopyInputRow(r, row.data());
        EXPECT_TRUE(std::equal(row.begin(), row.end(), dense.inputs.begin() + static_cast<std::ptrdiff_t>(r * 784)))
            << "row " << r << (with_mean ? " minus the mean" : "");
      }
    }
  }
  // Errors name the file.
  EXPECT_THAT([&] { LoadMnistTrainingRows(dir_.string(), 2501, nullptr); },
              ::testing::ThrowsMessage<std::invalid_argument>(AllOf(
                  HasSubstr(kMnistFiles[0]), HasSubstr("holds 2500 images, fewer than the 2501"))));
  auto bad = Labels(2500);
  bad.back() = 11;  // beyond the rows kept: still an error, as for LoadMnist
  Write(kMnistFiles[1], bad);
  EXPECT_THAT([&] { LoadMnistTrainingRows(dir_.string(), 10, nullptr); },
              ::testing::ThrowsMessage<std::runtime_error>(AllOf(HasSubstr("label 11"), HasSubstr(kMnistFiles[1]))));
  EXPECT_THAT([&] { LoadMnist(dir_.string()); },
              ::testing::ThrowsMessage<std::runtime_error>(AllOf(HasSubstr("label 11"), HasSubstr(kMnistFiles[1]))));
  Write(kMnistFiles[1], Labels(2499));
  EXPECT_THAT([&] { LoadMnistTrainingRows(dir_.string(), 10, nullptr); },
              ::testing::ThrowsMessage<std::runtime_error>(
                  AllOf(HasSubstr("2500 images but 2499 labels"), HasSubstr(kMnistFiles[1]))));
}

// Bytes this process has read through read() so far (/proc/self/io, "rchar").
std::size_t BytesRead() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::size_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  return 0;
}

// The experiments' loaders hash every file they load (its SHA-256 is recorded and checked): from
// the bytes they parse, so each file is read once, not once to hash and once to parse.
TEST_F(MnistTest, LoadersHashWhatTheyReadAndReadEachFileOnce) {
  WriteAll(2500, 300);
  std::size_t all_bytes = 0;
  std::vector<std::string> want;
  for (const char* name : kMnistFiles) {
    all_bytes += fs::file_size(dir_ / name);
    want.push_back(Sha256OfFile((dir_ / name).string()));
  }
  const std::size_t train_bytes =
      fs::file_size(dir_ / kMnistFiles[0]) + fs::file_size(dir_ / kMnistFiles[1]);
  std::vector<std::string> got;
  std::vector<double> got_mean;
  LoadMnist(dir_.string(), &got);
  EXPECT_EQ(got, want);
  for (const unsigned threads : {1u, 2u})
  for (const std::size_t count : {0u, 10u, 2500u}) {
    for (std::vector<double>* mean : {static_cast<std::vector<double>*>(nullptr), &got_mean}) {
      LoadMnistTrainingRows(dir_.string(), count, mean, count == 10, &got, threads);
      EXPECT_EQ(got, (std::vector<std::string>{want[0], want[1]}))  // the whole files
          << count << " rows, threads " << threads << (mean ? ", with the mean" : "");
    }
  }
  std::size_t before = BytesRead();
  const MnistData all = experiments::LoadMnistFrom(dir_.string());
  EXPECT_LT(BytesRead() - before, all_bytes * 3 / 2) << "each file read once";
  before = BytesRead();
  std::vector<double> mean;
  const Dataset rows = experiments::LoadMnistTrainingRowsFrom(dir_.string(), 100, &mean);
  EXPECT_LT(BytesRead() - before, train_bytes * 3 / 2) << "each file read once";
  EXPECT_EQ(rows.inputs, all.train.Slice(0, 100).inputs);
  // The hashes recorded for the result files are the files' own.
  const std::vector<experiments::DataFileRecord> records = experiments::DataFilesRead();
  ASSERT_EQ(records.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(records[i].sha256, want[i < 4 ? i : i - 4]) << i;
}

TEST_F(MnistTest, CountMismatchAndBadLabelsAreErrors) {
  WriteAll(20, 5);
  Write(kMnistFiles[1], Labels(19));
  EXPECT_THAT([&] { LoadMnist(dir_.string()); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("20 images but 19 labels")));
  auto bad = Labels(20);
  bad.back() = 11;
  Write(kMnistFiles[1], bad);
  EXPECT_THAT([&] { LoadMnist(dir_.string()); },
              ::testing::ThrowsMessage<std::runtime_error>(HasSubstr("label 11")));
}

}  // namespace
}  // namespace hypergrad

namespace hypergrad {
namespace {

TEST(ConsecutiveSplitsTest, SlicesTrainThenTestWithoutShuffling) {
  MnistData m;
  m.train = MakeDataset({0, 1, 2, 3, 4}, 1, {0, 1, 2, 3, 4}, 10);
  m.test = MakeDataset({10, 11, 12}, 1, {5, 6, 7}, 10);
  const auto splits = ConsecutiveSplits(m, {2, 2, 3});
  EXPECT_EQ(splits[0].inputs, (std::vector<double>{0, 1}));
  EXPECT_EQ(splits[1].inputs, (std::vector<double>{2, 3}));
  EXPECT_EQ(splits[2].inputs, (std::vector<double>{4, 10, 11}));  // straddles the two files
  EXPECT_EQ(splits[2].Labels(), (std::vector<std::size_t>{4, 5, 6}));
  EXPECT_THROW(ConsecutiveSplits(m, {5, 4}), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
