// numpy's legacy `RandomState`, bit for bit, and the authors' `util.RandomState(obj)` seeding
// (hypergrad/util.py; the seed is AuthorsSeed below). With these draws the figure targets start
// from the authors' initial weights and train on the authors' minibatches, so their runs can be
// followed digit for digit.
//
// What numpy computes (numpy/random/_mt19937.pyx, legacy-distributions.c, distributions.c; the
// legacy stream has been frozen since numpy 1.17 and is unchanged from the numpy of 2015 for the
// calls below):
//   * seed s < 2^32: MT19937 `init_genrand(s)`, the same state as `std::mt19937(s)`; no cached
//     normal.
//   * `random_sample()`: a, b = two 32-bit outputs; ((a >> 5)·2^26 + (b >> 6)) / 2^53.
//   * `randn()` / `standard_normal()`: the polar method. If a value is cached, return it and
//     clear the cache; else repeat x1 = 2u1 − 1, x2 = 2u2 − 1 (u from random_sample) until
//     0 < r2 = x1² + x2² < 1; f = sqrt(−2·log(r2)/r2); cache f·x1, return f·x2. The cache is
//     part of the state: an odd-length draw leaves one value for the next call.
//   * `randint(high)` (default int64 dtype, 1 ≤ high ≤ 2^32): rng = high − 1; mask = rng with
//     every lower bit set; repeat v = next32() & mask until v ≤ rng (no 32-bit output is used
//     when high = 1).
//   * `permutation(n)` / `shuffle`: for i = n−1 down to 1, j = the same masked rejection on
//     [0, i], swap a[i], a[j].
// `log` and `sqrt` are the C library's, as numpy's; the same glibc gives the same bits.
#ifndef HYPERGRAD_RANDOM_NUMPY_RANDOM_H_
#define HYPERGRAD_RANDOM_NUMPY_RANDOM_H_

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace hypergrad {

class NumpyRandomState {
 public:
  // numpy.random.RandomState(seed) for an integer seed in [0, 2^32).
  explicit NumpyRandomState(std::uint32_t seed);

  // The next raw 32-bit MT19937 output.
  std::uint32_t NextUint32() { return static_cast<std::uint32_t>(mt_()); }
  // random_sample(): uniform on [0, 1) with 53 bits.
  double RandomSample();
  // One standard normal (legacy gauss, with its cache).
  double StandardNormal();
  // randn(n): n standard normals in order.
  std::vector<double> Randn(std::size_t n);
  // Discards the next n standard normals exactly as randn(n) would draw them.
  void SkipNormals(std::size_t n);
  // randint(high) for the default int64 dtype: uniform on [0, high). Throws
  // std::invalid_argument unless 1 ≤ high ≤ 2^32 (numpy takes a 64-bit path above 2^32).
  std::uint64_t RandInt(std::uint64_t high);
  // randint(high, size=n).
  std::vector<std::uint64_t> RandInt(std::uint64_t high, std::size_t n);
  // permutation(n): a shuffled arange(n).
  std::vector<std::size_t> Permutation(std::size_t n);
  // shuffle(x) of a 1-D array, in place.
  template <typename T>
  void Shuffle(std::vector<T>& x) {
    for (std::size_t i = x.size(); i-- > 1;) std::swap(x[i], x[Interval(i)]);
  }

 private:
  // Uniform on [0, max] by masked rejection (numpy's random_interval, max < 2^32).
  std::uint64_t Interval(std::uint64_t max);

  std::mt19937 mt_;
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

// The authors' util.RandomState(obj) seed: int(md5(str(obj)).hexdigest()[:8], 16), where
// `python_str` is Python's str(obj), e.g. "(0, 0, 0)", "(0, 'top_rs')", "final_training".
// MD5 from OpenSSL.
std::uint32_t AuthorsSeed(std::string_view python_str);

// Python's str() of a tuple of integers: {0} → "(0,)", {0, 3} → "(0, 3)".
std::string PythonTupleStr(std::initializer_list<std::int64_t> items);

// util.RandomState((items...)) of the authors' code.
NumpyRandomState AuthorsRandomState(std::initializer_list<std::int64_t> items);

}  // namespace hypergrad

#endif  // HYPERGRAD_RANDOM_NUMPY_RANDOM_H_
