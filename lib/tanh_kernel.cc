#include "tanh_kernel.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <stdexcept>

// This file is compiled with -fno-trapping-math (CMakeLists.txt) so that GCC if-converts and
// vectorises the loop below; that flag changes no result of an IEEE operation.

namespace hypergrad {
namespace {

constexpr double kLog2e = 1.4426950408889634074;
// ln 2 split so that k·kLn2Hi is exact for the k used here (|k| ≤ 64): fdlibm's constants.
constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
// Adding 1.5·2^52 rounds to an integer and leaves it in the low bits of the sum.
constexpr double kShifter = 0x1.8p52;

inline double TanhPolynomial(double x) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
  const std::uint64_t sign = bits & (std::uint64_t{1} << 63);
  const double ax = std::bit_cast<double>(bits ^ sign);
  const double y = 2.0 * std::min(ax, 22.0);  // tanh(22) rounds to 1; NaN stays NaN
  const double shifted = y * kLog2e + kShifter;
  const double k = shifted - kShifter;  // round(y / ln 2), 0 … 64
  const double r = (y - k * kLn2Hi) - k * kLn2Lo;
  // expm1(r) = r + r²·(1/2! + r/3! + … + r^11/13!), by Horner.
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  const double expm1_r = r + (r * r) * p;
  // 2^k from k's bits (the shifter's own bits shift out of the word).
  const double scale = std::bit_cast<double>((std::bit_cast<std::uint64_t>(shifted) + 1023) << 52);
  const double t = scale * expm1_r + (scale - 1.0);  // expm1(y), no cancellation: y ≥ 0
  const double magnitude = t / (t + 2.0);
  return std::bit_cast<double>(std::bit_cast<std::uint64_t>(magnitude) | sign);
}

}  // namespace

std::string_view TanhKernelName(TanhKernel kernel) {
  return kernel == TanhKernel::kLibm ? "libm" : "polynomial";
}

TanhKernel ParseTanhKernel(std::string_view name) {
  if (name == "libm") return TanhKernel::kLibm;
  if (name == "polynomial") return TanhKernel::kPolynomial;
  throw std::invalid_argument("tanh kernel '" + std::string(name) +
                              "': expected libm or polynomial");
}

void TanhInPlace(std::span<double> x, TanhKernel kernel) {
  double* v = x.data();
  const std::size_t n = x.size();
  if (kernel == TanhKernel::kLibm) {
    for (std::size_t i = 0; i < n; ++i) v[i] = std::tanh(v[i]);
  } else {
    for (std::size_t i = 0; i < n; ++i) v[i] = TanhPolynomial(v[i]);
  }
}

}  // namespace hypergrad
