#include "random/numpy_random.h"

#include <openssl/evp.h>

#include <bit>
#include <cmath>
#include <memory>
#include <stdexcept>

namespace hypergrad {

NumpyRandomState::NumpyRandomState(std::uint32_t seed) : mt_(seed) {}

double NumpyRandomState::RandomSample() {
  const std::uint32_t a = NextUint32() >> 5, b = NextUint32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double NumpyRandomState::StandardNormal() {
  if (has_gauss_) {
    has_gauss_ = false;
    return gauss_;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * RandomSample() - 1.0;
    x2 = 2.0 * RandomSample() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  gauss_ = f * x1;
  has_gauss_ = true;
  return f * x2;
}

std::vector<double> NumpyRandomState::Randn(std::size_t n) {
  std::vector<double> out(n);
  for (double& x : out) x = StandardNormal();
  return out;
}

void NumpyRandomState::SkipNormals(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) StandardNormal();
}

std::uint64_t NumpyRandomState::Interval(std::uint64_t max) {
  if (max == 0) return 0;
  const std::uint64_t mask = (std::uint64_t{1} << std::bit_width(max)) - 1;
  std::uint64_t v;
  while ((v = NextUint32() & mask) > max) {
  }
  return v;
}

std::uint64_t NumpyRandomState::RandInt(std::uint64_t high) {
  if (high == 0 || high > (std::uint64_t{1} << 32)) {
    throw std::invalid_argument("NumpyRandomState::RandInt: high = " + std::to_string(high) +
                                " is not in [1, 2^32]");
  }
  return Interval(high - 1);
}

std::vector<std::uint64_t> NumpyRandomState::RandInt(std::uint64_t high, std::size_t n) {
  std::vector<std::uint64_t> out(n);
  for (std::uint64_t& x : out) x = RandInt(high);
  return out;
}

std::vector<std::size_t> NumpyRandomState::Permutation(std::size_t n) {
  std::vector<std::size_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = i;
  Shuffle(out);
  return out;
}

std::uint32_t AuthorsSeed(std::string_view python_str) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(python_str.data(), python_str.size(), digest, &length, EVP_md5(), nullptr) != 1 ||
      length != 16) {
    throw std::runtime_error("AuthorsSeed: OpenSSL's MD5 failed");
  }
  // The first 8 hex digits are the first 4 bytes, most significant first.
  return (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
         (std::uint32_t{digest[2]} << 8) | std::uint32_t{digest[3]};
}

std::string PythonTupleStr(std::initializer_list<std::int64_t> items) {
  std::string s = "(";
  bool first = true;
  for (const std::int64_t x : items) {
    if (!first) s += ", ";
    s += std::to_string(x);
    first = false;
  }
  if (items.size() == 1) s += ",";
  return s + ")";
}

NumpyRandomState AuthorsRandomState(std::initializer_list<std::int64_t> items) {
  return NumpyRandomState(AuthorsSeed(PythonTupleStr(items)));
}

}  // namespace hypergrad
