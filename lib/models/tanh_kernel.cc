#include "models/tanh_kernel.h"
#include "runtime/step_profile.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

// This file is compiled with -fno-trapping-math (CMakeLists.txt) so that GCC if-converts and
// vectorises the loops below; that flag changes no result of an IEEE operation.

namespace hypergrad {
namespace {

constexpr double kLog2e = 1.4426950408889634074;
// ln 2 split so that k·kLn2Hi is exact for the k used here (|k| ≤ 64): fdlibm's constants.
constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
// Adding 1.5·2^52 rounds to an integer and leaves it in the low bits of the sum.
constexpr double kShifter = 0x1.8p52;

// ---- glibc's tanh, element by element without branches -------------------------------------
// glibc's double tanh (sysdeps/ieee754/dbl-64/s_tanh.c) and the expm1 it calls (s_expm1.c) are
// fdlibm's: "Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved. Developed at
// SunPro, a Sun Microsystems, Inc. business. Permission to use, copy, modify, and distribute
// this software is freely granted, provided that this notice is preserved." What follows does
// their operations in their order on every element, computes every case and keeps the one
// glibc's branches would take. tanh calls expm1 only at y = 2|x| ∈ [2, 44) (for 1 ≤ |x| < 22)
// and at y = −2|x| ∈ (−2, −2^-54] (for 2^-55 ≤ |x| < 1), so only the cases of expm1 met there
// are kept: k = 0, k = −1, k ∈ {−3, −2} and k ∈ [3, 63].

// fdlibm's constants (their bits are in the comments of s_expm1.c).
constexpr double kInvLn2 = 1.44269504088896338700e+00;
constexpr double kExpm1Q1 = -3.33333333333331316428e-02, kExpm1Q2 = 1.58730158725481460165e-03,
                 kExpm1Q3 = -7.93650757867487942473e-05, kExpm1Q4 = 4.00821782732936239552e-06,
                 kExpm1Q5 = -2.01099218183624371326e-07;
// expm1 compares the high 32 bits of |y|: ≤ 0x3fd62e42 (about ln2/2) means k = 0, and
// < 0x3ff0a2b2 (about 1.5·ln2) means k = ±1. As comparisons of doubles:
constexpr double kKZeroBelow = std::bit_cast<double>(std::uint64_t{0x3fd62e43} << 32);
constexpr double kKOneBelow = std::bit_cast<double>(std::uint64_t{0x3ff0a2b2} << 32);
constexpr double kTwoToMinus55 = 0x1p-55;  // tanh's high word 0x3c800000

// a·b + c: rounded once where glibc's FMA build (sysdeps/x86_64/fpu/multiarch/s_expm1-fma.c,
// compiled with -mfma -mavx2 and GCC's default contraction) fuses it — read off its machine
// code in Debian's libm 2.36 — and twice (product, then sum) in the SSE2 build.
template <bool kFused>
[[gnu::always_inline]] inline double MulAdd(double a, double b, double c) {
  if constexpr (kFused) {
    return __builtin_fma(a, b, c);
  } else {
    return a * b + c;  // the file is compiled with -ffp-contract=off: two roundings
  }
}

template <bool kFused>
[[gnu::always_inline]] inline double GlibcTanh(double x) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
  const std::uint64_t sign = bits & (std::uint64_t{1} << 63);
  const double ax = std::bit_cast<double>(bits ^ sign);
  // tanh: t = expm1(2|x|) for |x| ≥ 1, t = expm1(−2|x|) below.
  const bool at_least_one = ax >= 1.0;
  const double y = at_least_one ? 2.0 * ax : -2.0 * ax;
  const double ay = 2.0 * ax;

  // expm1, argument reduction y = k·ln2 + r (+ c, the rounding error of r).
  const bool k_zero = ay < kKZeroBelow;
  const bool k_minus_one = !k_zero && ay < kKOneBelow;  // y < 0 here: y ≥ 2 above
  // k = (int)(invln2·y ± 0.5), truncated; product and sum rounded apart in both builds.
  const double k_unrounded = kInvLn2 * y + (y >= 0.0 ? 0.5 : -0.5);
  // Truncated toward zero without SSE4.1's roundpd: the nearest integer (by the shifter), then
  // one step back toward zero if that overshot.
  const double k_nearest = (k_unrounded + kShifter) - kShifter;
  double k = k_unrounded >= 0.0 ? (k_nearest > k_unrounded ? k_nearest - 1.0 : k_nearest)
                                : (k_nearest < k_unrounded ? k_nearest + 1.0 : k_nearest);
  k = k_zero ? 0.0 : (k_minus_one ? -1.0 : k);
  // hi = y − k·ln2_hi (k·ln2_hi is exact, so fused or not gives the same bits; k = −1 is
  // glibc's y + ln2_hi, k = 0 leaves y), lo = k·ln2_lo.
  const double hi = MulAdd<kFused>(-k, kLn2Hi, y);
  const double lo = k * kLn2Lo;
  const double r = hi - lo;
  const double c = (hi - r) - lo;

  // expm1(r) by fdlibm's rational form; the contractions as in the FMA build.
  const double hfx = 0.5 * r;
  const double hxs = r * hfx;
  const double big_r1 = MulAdd<kFused>(hxs, kExpm1Q1, 1.0);
  const double h2 = hxs * hxs;
  const double big_r2 = MulAdd<kFused>(hxs, kExpm1Q3, kExpm1Q2);
  const double h4 = h2 * h2;
  const double big_r3 = MulAdd<kFused>(hxs, kExpm1Q5, kExpm1Q4);
  const double r1 = MulAdd<kFused>(h4, big_r3, MulAdd<kFused>(h2, big_r2, big_r1));
  const double t3 = MulAdd<kFused>(-r1, hfx, 3.0);
  const double e = hxs * ((r1 - t3) / MulAdd<kFused>(-r, t3, 6.0));

  // The cases of the scaling back.
  const double expm1_k_zero = r - MulAdd<kFused>(r, e, -hxs);
  const double e2 = MulAdd<kFused>(r, e - c, -c) - hxs;
  const double expm1_k_minus_one = MulAdd<kFused>(0.5, r - e2, -0.5);
  // k's integer value in the low bits of k + 1.5·2^52; shifted by 52 it is what glibc adds to
  // the exponent field (the shifter's own bits shift out; negative k wraps as glibc's add).
  const std::uint64_t k_exponent = std::bit_cast<std::uint64_t>(k + kShifter) << 52;
  const double two_to_minus_k =
      std::bit_cast<double>((std::uint64_t{0x3ff} << 52) - k_exponent);  // 2^-k
  const double far_k = 1.0 - (e2 - r);                                  // k ≤ −2 or k > 56
  const double mid_k = (r - (e2 + two_to_minus_k)) + 1.0;               // 20 ≤ k ≤ 56
  const double near_k = (1.0 - two_to_minus_k) - (e2 - r);              // k < 20 (exact 1 − 2^-k)
  // k ≤ −2 or k > 56 for integral k, as one comparison (GCC vectorises the select on it).
  const bool is_far = std::fabs(k - 27.5) > 29.0;
  const double scaled_base = is_far ? far_k : (k >= 20.0 ? mid_k : near_k);
  // glibc adds k to the exponent field; scaled_base is in [0.5, 1.5] here, so multiplying by
  // 2^k (−3 ≤ k ≤ 63) is exact and gives the same bits.
  const double two_to_k = std::bit_cast<double>((std::uint64_t{0x3ff} << 52) + k_exponent);
  const double scaled = scaled_base * two_to_k;
  const double expm1_general = is_far ? scaled - 1.0 : scaled;
  const double t = k_zero ? expm1_k_zero : (k_minus_one ? expm1_k_minus_one : expm1_general);

  // tanh from t: 1 − 2/(t + 2) for |x| ≥ 1, −t/(t + 2) below (one division either way).
  const double quotient = (at_least_one ? 2.0 : -t) / (t + 2.0);
  const double z = at_least_one ? 1.0 - quotient : quotient;  // z > 0
  const double signed_z = std::bit_cast<double>(std::bit_cast<std::uint64_t>(z) | sign);
  // The other branches: NaN → x + x (x quieted, as glibc's 1/x ± 1), |x| ≥ 22 and ±inf → ±1,
  // ±0 → itself, |x| < 2^-55 → x·(1 + x).
  const double one_signed = std::bit_cast<double>(std::bit_cast<std::uint64_t>(1.0) | sign);
  const double tiny = x * (1.0 + x);
  double result = ax < kTwoToMinus55 ? (ax == 0.0 ? x : tiny) : signed_z;
  result = ax >= 22.0 ? one_signed : result;
  return x != x ? x + x : result;
}


// ---- our polynomial ------------------------------------------------------------------------

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

// The two builds over an array. GCC vectorises both loops (8 lanes with AVX-512, 4 with AVX2, 2
// with SSE2); each element's result depends only on that element.
[[gnu::target("avx2,fma")]] void GlibcTanhFmaLoopAvx2(double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] = GlibcTanh<true>(v[i]);
}

// The FMA build's port on 8 lanes: the same operations (a fused multiply-add is one rounding in
// any register width), so the same bits; 6% of a hypergradient run on 4 lanes (perf).
[[gnu::target("avx512f,avx512dq,avx512vl,fma")]] void GlibcTanhFmaLoopAvx512(double* v,
                                                                             std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] = GlibcTanh<true>(v[i]);
}

bool CpuHasAvx512() {
  static const bool avx512 = __builtin_cpu_supports("avx512f") &&
                             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return avx512;
}

void RunFmaBuildPort(double* v, std::size_t n, bool avx512) {
  if (avx512) {
    GlibcTanhFmaLoopAvx512(v, n);
  } else {
    GlibcTanhFmaLoopAvx2(v, n);
  }
}

// The FMA build's port on the widest registers this CPU has.
void GlibcTanhFmaLoop(double* v, std::size_t n) { RunFmaBuildPort(v, n, CpuHasAvx512()); }

// The SSE2 build's port compiled for three instruction sets: the same IEEE operations in the
// same order (no FMA in any of these targets, and -ffp-contract=off), so the same bits; SSE4.1
// adds blend instructions for the selects and AVX2 four lanes. Measured here (bench_tanh's
// array): 14.5, 10.3 and 5.0 ns per element, against 11.5-12 ns for glibc's scalar tanh on its
// SSE2 build: plain SSE2 alone is slower than calling glibc.
void GlibcTanhSse2Loop(double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] = GlibcTanh<false>(v[i]);
}

[[gnu::target("sse4.1")]] void GlibcTanhSse2LoopSse41(double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] = GlibcTanh<false>(v[i]);
}

[[gnu::target("avx2")]] void GlibcTanhSse2LoopAvx2(double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] = GlibcTanh<false>(v[i]);
}

bool CpuRuns(VectorIsa isa) {
  switch (isa) {
    case VectorIsa::kSse2: return true;  // every x86-64 CPU
    case VectorIsa::kSse41: return __builtin_cpu_supports("sse4.1");
    case VectorIsa::kAvx2: return __builtin_cpu_supports("avx2");
  }
  return false;
}

void RunSse2BuildPort(double* v, std::size_t n, VectorIsa isa) {
  switch (isa) {
    case VectorIsa::kSse2: GlibcTanhSse2Loop(v, n); return;
    case VectorIsa::kSse41: GlibcTanhSse2LoopSse41(v, n); return;
    case VectorIsa::kAvx2: GlibcTanhSse2LoopAvx2(v, n); return;
  }
}

void SystemTanhLoop(double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] = std::tanh(v[i]);
}

bool CpuHasFmaAndAvx2() {
  return __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
}

// Inputs at which the active variant must equal the system's tanh: every branch of tanh and
// expm1 (±0, subnormals, |x| < 2^-55, the thresholds at ln2/4, 0.75·ln2, 1 and 22, ±inf, NaN),
// a spread of magnitudes, and inputs where glibc 2.36's FMA and SSE2 builds differ (by 1–3 ulp;
// found by comparing the two on 3·10^6 random inputs: about 1 in 2,600 below |x| = 4).
std::vector<double> ProbeInputs() {
  std::vector<double> x = {0.0, -0.0, 5e-324, -5e-324, 0x1p-1022, 0x1.8p-56, -0x1.fffffffffffffp-56,
                           0x1p-55, 0.17328679513998632, 0.5198603854199589, 1.0,
                           std::nextafter(1.0, 0.0), -1.0, 21.999999999999996, 22.0, -22.0, 30.0,
                           19.4, -1e300, std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN(),
                           -std::numeric_limits<double>::quiet_NaN()};
  for (const std::uint64_t b : {0x3fed76eaf64a9a0du, 0x3faedf01e8cbec40u, 0x3fcd7ed3a93f3a2cu,
                                0xbfebbbc3a54bf3a3u, 0xbfc2f4f849b3cb24u, 0xbff8bb2dc44ca774u,
                                0x3ffedf99e014e848u, 0x3ff2c360cf3d60a2u, 0xbff2846cc2594aa1u}) {
    x.push_back(std::bit_cast<double>(b));
  }
  for (int e = -58; e <= 5; ++e) {
    for (const double m : {1.0, 1.2345678901234567, 1.7320508075688772}) {
      x.push_back(std::ldexp(m, e));
      x.push_back(-std::ldexp(m, e) * 1.0000000000000002);
    }
  }
  return x;
}

bool SameBits(const std::vector<double>& a, const std::vector<double>& b) {
  return std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

GlibcTanhVariant SelectVariant() {
  const std::vector<double> x = ProbeInputs();
  // The system's tanh through a pointer the compiler cannot see through, so that no call is
  // folded into a constant at compile time (GCC folds tanh of constants correctly rounded).
  double (*volatile system_tanh)(double) = &::tanh;
  std::vector<double> want(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) want[i] = system_tanh(x[i]);
  std::vector<double> got = x;
  if (CpuHasFmaAndAvx2()) {
    GlibcTanhFmaLoop(got.data(), got.size());
    if (SameBits(got, want)) return GlibcTanhVariant::kFma;
  }
  got = x;
  RunSse2BuildPort(got.data(), got.size(), BestVectorIsa());
  if (SameBits(got, want)) return GlibcTanhVariant::kSse2;
  return GlibcTanhVariant::kSystem;
}

}  // namespace

std::string_view GlibcTanhVariantName(GlibcTanhVariant variant) {
  switch (variant) {
    case GlibcTanhVariant::kFma: return "fma";
    case GlibcTanhVariant::kSse2: return "sse2";
    case GlibcTanhVariant::kSystem: return "system";
  }
  return "?";
}

GlibcTanhVariant ActiveGlibcTanhVariant() {
  static const GlibcTanhVariant variant = SelectVariant();
  return variant;
}

void GlibcTanhInPlace(std::span<double> x, GlibcTanhVariant variant) {
  switch (variant) {
    case GlibcTanhVariant::kFma:
      if (!CpuHasFmaAndAvx2()) {
        throw std::runtime_error("glibc tanh, FMA build: this CPU lacks FMA or AVX2");
      }
      GlibcTanhFmaLoop(x.data(), x.size());
      return;
    case GlibcTanhVariant::kSse2: RunSse2BuildPort(x.data(), x.size(), BestVectorIsa()); return;
    case GlibcTanhVariant::kSystem: SystemTanhLoop(x.data(), x.size()); return;
  }
}

std::string_view VectorIsaName(VectorIsa isa) {
  switch (isa) {
    case VectorIsa::kSse2: return "sse2";
    case VectorIsa::kSse41: return "sse4.1";
    case VectorIsa::kAvx2: return "avx2";
  }
  return "?";
}

VectorIsa BestVectorIsa() {
  static const VectorIsa isa = CpuRuns(VectorIsa::kAvx2)    ? VectorIsa::kAvx2
                               : CpuRuns(VectorIsa::kSse41) ? VectorIsa::kSse41
                                                            : VectorIsa::kSse2;
  return isa;
}

void GlibcTanhFmaBuildInPlace(std::span<double> x, bool avx512) {
  if (!CpuHasFmaAndAvx2() || (avx512 && !CpuHasAvx512())) {
    throw std::runtime_error(std::string("glibc tanh, FMA build's port on ") +
                             (avx512 ? "AVX-512" : "AVX2") + ": this CPU lacks it");
  }
  RunFmaBuildPort(x.data(), x.size(), avx512);
}

void GlibcTanhSse2BuildInPlace(std::span<double> x, VectorIsa isa) {
  if (!CpuRuns(isa)) {
    throw std::runtime_error("glibc tanh, SSE2 build's port compiled for " +
                             std::string(VectorIsaName(isa)) + ": this CPU lacks it");
  }
  RunSse2BuildPort(x.data(), x.size(), isa);
}

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
  const StepPieceTimer timer(StepPiece::kTanh);
  double* v = x.data();
  const std::size_t n = x.size();
  if (kernel == TanhKernel::kLibm) {
    GlibcTanhInPlace(x, ActiveGlibcTanhVariant());
  } else {
    for (std::size_t i = 0; i < n; ++i) v[i] = TanhPolynomial(v[i]);
  }
}

}  // namespace hypergrad
