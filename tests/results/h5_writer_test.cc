#include "results/h5_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <H5Cpp.h>
#include <filesystem>
#include <fstream>

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

// Errors say what is wrong with the file, not which HDF5 call failed (issue [P] 13).
TEST_F(H5WriterTest, ErrorsSayWhatIsWrong) {
  const std::string path = (dir_ / "e.h5").string();
  H5Writer writer(path);
  writer.Write("/x", std::vector<double>{1.0});
  EXPECT_THAT([&] { writer.Write("/x", std::vector<double>{2.0}); },
              ::testing::ThrowsMessage<std::runtime_error>(::testing::HasSubstr("/x exists already")));
  EXPECT_THAT([&] { writer.Write("/x/y", std::vector<double>{2.0}); },
              ::testing::ThrowsMessage<std::runtime_error>(::testing::HasSubstr("/x is a dataset, not a group")));
  EXPECT_THAT([&] { writer.SetAttribute("/nothing", "a", 1.0); },
              ::testing::ThrowsMessage<std::runtime_error>(::testing::HasSubstr("no object /nothing")));
  writer.Commit();
  {
    H5::H5File file(path, H5F_ACC_RDWR);
    file.createGroup("/w0");
    const hsize_t n = 3;
    file.createDataSet("/f32", H5::PredType::NATIVE_FLOAT, H5::DataSpace(1, &n));
    H5::FloatType half(H5::PredType::IEEE_F32LE);  // IEEE binary16, as h5py stores numpy's float16
    half.setFields(15, 10, 5, 0, 10);
    half.setOffset(0);
    half.setPrecision(16);
    half.setSize(2);
    half.setEbias(15);
    file.createDataSet("/f16", half, H5::DataSpace(1, &n));
    file.createDataSet("/i64", H5::PredType::NATIVE_INT64, H5::DataSpace(1, &n));
    file.createDataSet("/f64be", H5::PredType::IEEE_F64BE, H5::DataSpace(1, &n));
  }
  const auto throws = [&](const std::string& name, const std::string& message) {
    EXPECT_THAT([&] { ReadH5Doubles(path, name); },
                ::testing::ThrowsMessage<std::runtime_error>(::testing::AllOf(
                    ::testing::HasSubstr(path), ::testing::HasSubstr(message))))
        << name;
  };
  throws("/w0", "/w0 is a group, not a dataset");
  // float32 and float16 would be widened exactly, but the file is not what the user meant to
  // give: refused rather than converted.
  throws("/f32", "/f32 holds float32 values, not float64");
  throws("/f16", "/f16 holds float16 values, not float64");
  throws("/i64", "/i64 holds integer values, not float64");
  EXPECT_EQ(ReadH5Doubles(path, "/f64be").size(), 3u);  // float64 in either byte order
  const std::string text = (dir_ / "text.h5").string();
  { std::ofstream(text) << "not HDF5"; }
  EXPECT_THAT([&] { ReadH5Doubles(text, "/x"); },
              ::testing::ThrowsMessage<std::runtime_error>(::testing::HasSubstr(text + ": not an HDF5 file")));
}

// A run killed by SIGKILL leaves its temporary file; the next run writing to that folder removes
// the temporaries (and probe files) of this host's processes that no longer exist, and nothing
// else: not a live process's, not another host's, not the user's own files (issue [P] 12).
TEST_F(H5WriterTest, TemporariesOfDeadProcessesAreRemovedByTheNextRun) {
  fs::create_directories(dir_);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // `child` is now a process that no longer exists
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string dead = std::to_string(child), live = std::to_string(getppid());
  const std::vector<std::string> stale = {".a.h5.tmp-" + std::string(host) + "-" + dead,
                                          ".b.h5.tmp-" + dead,  // the name before hosts were added
                                          ".c.h5.probe-" + std::string(host) + "-" + dead};
  const std::vector<std::string> kept = {".d.h5.tmp-" + std::string(host) + "-" + live,
                                         ".e.h5.tmp-elsewhere.example-" + dead, "notes.tmp-" + dead,
                                         ".f.h5.tmp-" + std::string(host) + "-12x"};
  for (const auto& name : stale) std::ofstream(dir_ / name) << "partial";
  for (const auto& name : kept) std::ofstream(dir_ / name) << "keep";
  {
    H5Writer w((dir_ / "out.h5").string());
    w.WriteScalar("/x", 1.0);
    w.Commit();
  }
  for (const auto& name : stale) EXPECT_FALSE(fs::exists(dir_ / name)) << name;
  for (const auto& name : kept) EXPECT_TRUE(fs::exists(dir_ / name)) << name;
}

// With the handlers installed (every program's main does it), SIGINT says that nothing was
// written, removes the temporary file and still ends the process by the signal (exit 130).
TEST_F(H5WriterTest, AnInterruptSaysNoFileWasWritten) {
  fs::create_directories(dir_);
  const std::string path = (dir_ / "out.h5").string();
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    dup2(pipe_fds[1], 2);
    InstallInterruptHandlers("prog");
    H5Writer w(path);
    w.Write("/x", std::vector<double>(1000, 1.0));
    raise(SIGINT);
    _exit(0);  // not reached
  }
  close(pipe_fds[1]);
  char text[256] = {};
  std::string said;
  for (ssize_t got; (got = read(pipe_fds[0], text, sizeof text)) > 0;) said.append(text, static_cast<std::size_t>(got));
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status;
  EXPECT_EQ(said, "prog: interrupted: no file written\n");
  EXPECT_EQ(FilesIn(dir_), 0u);
}

}  // namespace
}  // namespace hypergrad
