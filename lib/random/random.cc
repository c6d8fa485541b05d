#include "random/random.h"

#include <cmath>
#include <numbers>

namespace hypergrad {
namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

std::uint64_t Mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

RandomStream::RandomStream(std::uint64_t seed, std::initializer_list<std::uint64_t> path)
    : state_(Mix(seed + kGolden)) {
  for (const std::uint64_t p : path) state_ = Mix(state_ ^ Mix(p + kGolden));
}

std::uint64_t RandomStream::NextU64() {
  state_ += kGolden;
  return Mix(state_);
}

double RandomStream::Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

std::uint64_t RandomStream::UniformInt(std::uint64_t n) {
  // Lemire's multiply-and-reject.
  __extension__ using U128 = unsigned __int128;
  U128 product = static_cast<U128>(NextU64()) * n;
  auto low = static_cast<std::uint64_t>(product);
  if (low < n) {
    const std::uint64_t threshold = -n % n;
    while (low < threshold) {
      product = static_cast<U128>(NextU64()) * n;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

double RandomStream::Normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  const double u1 = 1.0 - Uniform();  // (0, 1]: log is finite
  const double u2 = Uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

}  // namespace hypergrad
