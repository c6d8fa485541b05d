#include "results/h5_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <H5Cpp.h>
#include <filesystem>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

// Nothing that is not a regular file is ever replaced, and the refusal names the path.
TEST_F(H5WriterTest, RefusesPathsThatAreNotRegularFiles) {
  fs::create_directories(dir_ / "folder");
  const fs::path fifo = dir_ / "fifo", link = dir_ / "link";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  fs::create_symlink(dir_ / "target.h5", link);
  for (const fs::path& p : {dir_ / "folder", fifo, link}) {
    EXPECT_THAT([&] { H5Writer writer(p.string()); },
                ::testing::ThrowsMessage<std::runtime_error>(::testing::HasSubstr(p.string())));
    EXPECT_THROW(CheckResultPath(p.string()), std::runtime_error);
  }
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(FilesIn(dir_), 3u);  // no temporary or probe file left behind
  EXPECT_THROW(CheckResultPath(""), std::runtime_error);
}

// The reason comes from the system, not "H5Fcreate failed".
TEST_F(H5WriterTest, AnUnwritableFolderIsReportedUpFrontWithTheReason) {
  EXPECT_THAT([] { CheckResultPath("/proc/hypergrad_test.h5"); },
              ::testing::ThrowsMessage<std::runtime_error>(::testing::AllOf(
                  ::testing::HasSubstr("/proc/hypergrad_test.h5"), ::testing::HasSubstr("cannot create a file in /proc"))));
}

TEST_F(H5WriterTest, ReplacingAFileKeepsItsMode) {
  fs::create_directories(dir_);
  const std::string path = (dir_ / "out.h5").string();
  { H5Writer w(path); w.WriteScalar("/x", 1.0); w.Commit(); }
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  { H5Writer w(path); w.WriteScalar("/x", 2.0); w.Commit(); }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(ReadH5Doubles(path, "/x"), std::vector<double>{2.0});
}

// SIGTERM (or SIGINT) while a result is being written removes the temporary file, and the
// process still dies of the signal.
TEST_F(H5WriterTest, ASignalDuringTheWriteRemovesTheTemporaryFile) {
  fs::create_directories(dir_);
  const std::string path = (dir_ / "out.h5").string();
  for (const int sig : {SIGTERM, SIGINT}) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      H5Writer w(path);
      w.Write("/x", std::vector<double>(1000, 1.0));
      raise(sig);
      _exit(0);  // not reached
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "status " << status;
    EXPECT_EQ(FilesIn(dir_), 0u) << "a temporary file was left after signal " << sig;
  }
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
