// Seeded, counter-style random streams. Every stream is named by a seed and a path of integers
// (e.g. {meta_iteration, iteration}), so the reverse pass and every rerun can regenerate exactly
// the numbers the forward pass used without storing them. (The authors' numpy draws are
// numpy_random.h's.)
#ifndef HYPERGRAD_RANDOM_RANDOM_H_
#define HYPERGRAD_RANDOM_RANDOM_H_

#include <cstdint>
#include <initializer_list>

namespace hypergrad {

class RandomStream {
 public:
  // The stream named (seed, path...). Distinct names give statistically independent streams.
  explicit RandomStream(std::uint64_t seed, std::initializer_list<std::uint64_t> path = {});

  // Uniform 64-bit integers (SplitMix64 over a counter).
  std::uint64_t NextU64();
  // Uniform on [0, 1) with 53 random bits.
  double Uniform();
  // Uniform integer in [0, n) without bias; n ≥ 1.
  std::uint64_t UniformInt(std::uint64_t n);
  // Standard normal (Box–Muller). Deterministic for a given build and libm.
  double Normal();

 private:
  std::uint64_t state_;
  double spare_normal_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace hypergrad

#endif  // HYPERGRAD_RANDOM_RANDOM_H_
