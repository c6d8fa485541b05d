// The thread pool's loop (each item once, errors, nesting, concurrent callers) and the fixed
// splits that make results independent of the thread count.
#include "runtime/parallel.h"

#include <gtest/gtest.h>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace hypergrad {
namespace {

TEST(ParallelForTest, RunsEveryItemExactlyOnceOnAnyNumberOfThreads) {
  for (const unsigned threads : {1u, 2u, 3u, 8u}) {
    for (const std::size_t count : {0u, 1u, 5u, 1000u}) {
      std::vector<std::atomic<int>> seen(count);
      ParallelFor(count, threads, [&](std::size_t i) { ++seen[i]; });
      for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(seen[i], 1) << i << ", " << threads << " threads";
    }
  }
}

TEST(ParallelForTest, RethrowsTheFirstErrorAfterAllThreadsStop) {
  std::atomic<int> running{0};
  EXPECT_THROW(ParallelFor(100, 3,
                           [&](std::size_t i) {
                             ++running;
                             if (i == 17) throw std::runtime_error("item 17");
                             --running;
                           }),
               std::runtime_error);
  EXPECT_EQ(running, 1);  // only the failed item is left counted: nothing still runs
  // The pool is usable afterwards.
  std::atomic<int> sum{0};
  ParallelFor(10, 3, [&](std::size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum, 45);
}

// More threads than the process's CPUs would only wait for each other: a loop runs on at most
// as many threads as its affinity mask allows.
// The threads a loop of 256 items of 200 µs asked for `threads` runs on.
std::size_t ThreadsUsed(unsigned threads) {
  std::mutex mutex;
  std::set<std::thread::id> ids;
  ParallelFor(256, threads, [&](std::size_t) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ids.insert(std::this_thread::get_id());
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    while (std::chrono::steady_clock::now() < until) {
    }
  });
  return ids.size();
}

TEST(ParallelForTest, NeverRunsOnMoreThreadsThanTheProcessHasCpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const auto cpus = static_cast<std::size_t>(CPU_COUNT(&set));
  EXPECT_EQ(UsableCpus(), cpus);
  AllowThreadsBeyondCpus(false);  // the default outside the tests
  const std::size_t capped = ThreadsUsed(64);
  AllowThreadsBeyondCpus(true);  // as every test binary runs (support/threads_beyond_cpus.cc)
  EXPECT_GE(capped, 1u);
  EXPECT_LE(capped, cpus);
  // Allowed, a loop asked for more threads than CPUs gets them (a worker that finds no items
  // left never records itself, so at least two of the four).
  EXPECT_GE(ThreadsUsed(4), 2u);
}

TEST(ParallelForTest, NestedAndConcurrentLoopsFinish) {
  std::atomic<int> inner{0};
  ParallelFor(4, 2, [&](std::size_t) { ParallelFor(5, 2, [&](std::size_t) { ++inner; }); });
  EXPECT_EQ(inner, 20);
  // Two threads each running loops: one holds the pool, the other starts threads of its own.
  std::atomic<int> total{0};
  auto many = [&] {
    for (int r = 0; r < 50; ++r) ParallelFor(8, 2, [&](std::size_t) { ++total; });
  };
  std::thread a(many), b(many);
  a.join();
  b.join();
  EXPECT_EQ(total, 800);
}

TEST(FixedChunksTest, CoversTheRangeWithAlignedBoundaries) {
  for (const std::size_t count : {1u, 2u, 15u, 16u, 149u, 200u, 784u, 10000u}) {
    const std::vector<Chunk> chunks = FixedChunks(count, 4, 16, 2);
    ASSERT_FALSE(chunks.empty());
    EXPECT_LE(chunks.size(), 4u);
    EXPECT_EQ(chunks.front().begin, 0u);
    EXPECT_EQ(chunks.back().end, count);
    for (std::size_t j = 0; j < chunks.size(); ++j) {
      EXPECT_EQ(chunks[j].begin % 2, 0u);
      EXPECT_GT(chunks[j].size(), 0u);
      if (j > 0) {
        EXPECT_EQ(chunks[j].begin, chunks[j - 1].end);
      }
      if (j + 1 < chunks.size()) {
        EXPECT_GE(chunks[j].size(), 16u);
      }
    }
  }
  EXPECT_EQ(FixedChunks(200, 4, 16, 2).size(), 4u);  // the Fig-2 batch: 50 rows each
  EXPECT_EQ(FixedChunks(200, 4, 16, 2)[1].begin, 50u);
  EXPECT_TRUE(FixedChunks(0, 4, 16, 2).empty());
  EXPECT_THROW(FixedChunks(10, 0, 16, 2), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
