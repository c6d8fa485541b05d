// Benchmark sizes: `make bench` runs the default sizes in a few minutes; BENCH_FULL=1 in the
// environment (make bench BENCH_FULL=1) adds the largest ones (T = 10000), which take longer.
#ifndef HYPERGRAD_EXPERIMENTS_BENCH_BENCH_SIZE_H_
#define HYPERGRAD_EXPERIMENTS_BENCH_BENCH_SIZE_H_

#include <cstdlib>
#include <string_view>

namespace hypergrad::bench {

inline bool FullSize() {
  const char* full = std::getenv("BENCH_FULL");
  return full != nullptr && std::string_view(full) == "1";
}

}  // namespace hypergrad::bench

#endif  // HYPERGRAD_EXPERIMENTS_BENCH_BENCH_SIZE_H_
