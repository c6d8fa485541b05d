// blas_threads.h: SetBlasThreads sets the count BlasThreads reports (≥ 1, else
// std::invalid_argument and no change); DescribeBlas names the OpenBLAS in use, its build
// configuration, kernel set, thread count and shared object. With one thread no idle OpenBLAS
// worker is left running (they spin for about 0.13 s before sleeping, taking a core).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <iterator>

#include "runtime/blas_threads.h"

namespace hypergrad {
namespace {

TEST(BlasThreads, SetCountIsTheOneReported) {
  SetBlasThreads(2);
  EXPECT_EQ(BlasThreads(), 2);
  EXPECT_EQ(DescribeBlas().threads, 2);
  SetBlasThreads(1);
  EXPECT_EQ(BlasThreads(), 1);
  EXPECT_EQ(DescribeBlas().threads, 1);
}

// The threads of this process (this test starts none of its own).
std::ptrdiff_t ProcessThreads() {
  return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                       std::filesystem::directory_iterator());
}

TEST(BlasThreads, OneThreadStopsOpenBlasWorkersAndMoreStartsThemAgain) {
  SetBlasThreads(2);
  EXPECT_GE(ProcessThreads(), 2);  // OpenBLAS's worker
  SetBlasThreads(1);
  EXPECT_EQ(ProcessThreads(), 1);
  SetBlasThreads(2);
  EXPECT_GE(ProcessThreads(), 2);
  EXPECT_EQ(BlasThreads(), 2);
  SetBlasThreads(1);
  EXPECT_EQ(ProcessThreads(), 1);
}

TEST(BlasThreads, CountBelowOneThrowsAndChangesNothing) {
  SetBlasThreads(1);
  for (const int bad : {0, -1, -64}) {
    try {
      SetBlasThreads(bad);
      FAIL() << bad << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
    EXPECT_EQ(BlasThreads(), 1);
  }
}

TEST(BlasThreads, DescriptionNamesTheOpenBlasInUse) {
  const BlasDescription d = DescribeBlas();
  // "OpenBLAS <version>": the first two words of the configuration string.
  ASSERT_EQ(d.library.rfind("OpenBLAS ", 0), 0u) << d.library;
  EXPECT_EQ(std::count(d.library.begin(), d.library.end(), ' '), 1) << d.library;
  EXPECT_GT(d.library.size(), std::string("OpenBLAS ").size()) << "no version: " << d.library;
  EXPECT_EQ(d.config.rfind(d.library + " ", 0), 0u) << d.config;
  EXPECT_FALSE(d.core.empty());
  EXPECT_EQ(d.threads, BlasThreads());
  // The shared object providing it: a real file, not the fallback "unknown".
  EXPECT_NE(d.path, "unknown");
  EXPECT_TRUE(std::filesystem::is_regular_file(d.path)) << d.path;
  EXPECT_NE(d.path.find("blas"), std::string::npos) << d.path;
}

}  // namespace
}  // namespace hypergrad
