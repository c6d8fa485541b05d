#include "results/h5_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <H5Cpp.h>
#include <filesystem>

namespace hypergrad {
namespace {

namespace fs = std::filesystem;

class H5WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("h5_writer_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::size_t FilesIn(const fs::path& dir) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
  }
  fs::path dir_;
};

TEST_F(H5WriterTest, RoundTripsDatasetsAndAttributes) {
  const std::string path = (dir_ / "sub" / "out.h5").string();
  {
    H5Writer writer(path);
    writer.Write("/matrix", std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
    writer.Write("/group/vector", std::vector<double>{0.5, -0.25});
    writer.WriteScalar("/loss", 0.125);
    writer.WriteInts("/seeds", std::vector<std::int64_t>{3, 4});
    writer.SetAttribute("/", "command", "hypergrad --iters 3");
    writer.SetAttribute("/", "reversal_exact", true);
    writer.SetAttribute("/", "iters", std::int64_t{3});
    writer.SetAttribute("/matrix", "unit", "nats");
    writer.SetAttribute("/group", "alpha", 0.5);
    writer.SetAttribute("/", "grid", std::vector<double>{1.0, 2.0});
    EXPECT_FALSE(fs::exists(path)) << "only the temporary file exists before Commit";
    writer.Commit();
  }
  std::vector<std::size_t> shape;
  EXPECT_EQ(ReadH5Doubles(path, "/matrix", &shape), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(ReadH5Doubles(path, "/group/vector"), (std::vector<double>{0.5, -0.25}));
  EXPECT_EQ(ReadH5Doubles(path, "/loss"), (std::vector<double>{0.125}));

  H5::H5File file(path, H5F_ACC_RDONLY);
  std::string command;
  H5::Attribute a = file.openAttribute("command");
  a.read(a.getStrType(), command);
  EXPECT_EQ(command, "hypergrad --iters 3");
  std::int8_t exact = 0;
  H5::Attribute b = file.openAttribute("reversal_exact");
  EXPECT_EQ(b.getTypeClass(), H5T_ENUM);
  b.read(H5::PredType::NATIVE_INT8, &exact);
  EXPECT_EQ(exact, 1);
  EXPECT_EQ(FilesIn(dir_ / "sub"), 1u) << "no temporary file left";
}

TEST_F(H5WriterTest, AnAbandonedWriterLeavesNoFile) {
  const std::string path = (dir_ / "abandoned.h5").string();
  try {
    H5Writer writer(path);
    writer.Write("/x", std::vector<double>{1.0});
    throw std::runtime_error("the experiment failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(FilesIn(dir_), 0u);
}

TEST_F(H5WriterTest, ErrorsNameTheFileAndObject) {
  const std::string path = (dir_ / "e.h5").string();
  H5Writer writer(path);
  writer.Write("/x", std::vector<double>{1.0});
  EXPECT_THAT([&] { writer.Write("/x", std::vector<double>{2.0}); },
              ::testing::ThrowsMessage<std::runtime_error>(::testing::HasSubstr("dataset /x")));
  EXPECT_THROW(writer.Write("/y", std::vector<double>{1, 2, 3}, {2, 2}), std::invalid_argument);
  writer.Commit();
  EXPECT_THAT([&] { ReadH5Doubles(path, "/missing"); },
              ::testing::ThrowsMessage<std::runtime_error>(::testing::HasSubstr("no dataset '/missing'")));
  EXPECT_THAT([&] { ReadH5Doubles((dir_ / "none.h5").string(), "/x"); },
              ::testing::ThrowsMessage<std::runtime_error>(::testing::HasSubstr("no such file")));
}

}  // namespace
}  // namespace hypergrad
