// The default (libm) kernel: glibc's tanh bit for bit at 10^8 inputs per build and instruction
// set, through our vectorised port of glibc's operations, for the build of glibc's expm1 this CPU
// selects and (in a child process told by GLIBC_TUNABLES to ignore FMA and AVX2) for the SSE2 build.
// The polynomial tanh: within 4 ulp of glibc's, exact where tanh is ±0 or ±1, NaN for NaN, and
// the same bits wherever an element sits in an array (the reversal recomputes activations in
// pieces of other sizes).
#include "models/tanh_kernel.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "random/random.h"

namespace hypergrad {
namespace {

// ---- glibc's tanh ---------------------------------------------------------------------------

std::uint64_t SplitMix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

double Bits(std::uint64_t b) { return std::bit_cast<double>(b); }

// Every branch of glibc's tanh and of the expm1 it calls, by |x|: ±0, subnormals, |x| < 2^-55
// (x·(1 + x)), 2^-55 ≤ |x| < 1 (expm1(−2|x|) with k = 0 below |x| ≈ ln2/4, k = −1 below
// ≈ 0.75·ln2, k ∈ {−3, −2} above), 1 ≤ |x| < 22 (expm1(2|x|) with 3 ≤ k < 20, 20 ≤ k ≤ 56 and
// k > 56), |x| ≥ 22, ±inf, NaN (quiet and signalling, both signs, payloads). Around each
// threshold the 2,000 doubles nearest it.
std::vector<double> BranchInputs() {
  std::vector<double> x;
  const double ln2 = 0.69314718055994530942;
  const double thresholds[] = {
      0x1p-55, 1.0, 22.0, Bits(std::uint64_t{0x3fd62e43} << 32) / 2,
      Bits(std::uint64_t{0x3ff0a2b2} << 32) / 2,
      Bits(std::uint64_t{0x3c900000} << 32) / 2,  // expm1's own |y| < 2^-54 (never reached)
      19.5 * ln2 / 2, 20.5 * ln2 / 2, 56.5 * ln2 / 2, 57.5 * ln2 / 2, 2.5 * ln2 / 2,
      0x1p-1022, 5e-324, 0x1p-26, 0.25, 0.5};
  for (const double t : thresholds) {
    double up = t, down = t;
    for (int i = 0; i < 1000; ++i) {
      x.push_back(up);
      x.push_back(-down);
      x.push_back(down);
      up = std::nextafter(up, INFINITY);
      down = std::nextafter(down, 0.0);
    }
  }
  const double inf = std::numeric_limits<double>::infinity();
  for (const double v : {0.0, -0.0, inf, -inf, 1e308, -1e308, 710.0, -710.0}) x.push_back(v);
  for (const std::uint64_t nan : {0x7ff8000000000000u, 0xfff8000000000000u, 0x7ff0000000000001u,
                                  0xfff4000000000123u, 0x7ffc0000deadbeefu}) {
    x.push_back(Bits(nan));
  }
  return x;
}

// Block b of the random inputs: random bit patterns (every exponent, subnormals, NaN payloads),
// uniform on (−25, 25), and log-uniform magnitudes 2^-60 … 2^5, in turn.
void RandomBlock(std::uint64_t& state, std::size_t b, std::vector<double>& x) {
  for (double& v : x) {
    const std::uint64_t r = SplitMix(state);
    const double u = static_cast<double>(r >> 11) * 0x1p-53;
    switch (b % 3) {
      case 0: v = Bits(r); break;
      case 1: v = 50.0 * u - 25.0; break;
      default: v = std::ldexp(1.0 + u, -60 + static_cast<int>(r % 65)) * ((r >> 7) & 1 ? -1 : 1);
    }
  }
}

// Compares `port` (x ← tanh(x) in place), named `name`, with the system's tanh at the branch
// inputs and `random_inputs` random ones; returns the number of inputs whose bits differ and
// prints the first few.
template <typename Port>
std::size_t CountDifferences(const std::string& name, Port port, std::size_t random_inputs) {
  // Through a pointer the compiler cannot see through: GCC folds tanh of constants.
  double (*volatile system_tanh)(double) = &::tanh;
  std::size_t differences = 0;
  const auto compare = [&](const std::vector<double>& x) {
    std::vector<double> got = x;
    port(got);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double want = system_tanh(x[i]);
      if (std::bit_cast<std::uint64_t>(got[i]) != std::bit_cast<std::uint64_t>(want)) {
        if (++differences <= 5) {
          std::printf("tanh(%a): system %a, %s port %a\n", x[i], want, name.c_str(), got[i]);
        }
      }
    }
  };
  compare(BranchInputs());
  std::uint64_t state = 20260101;
  std::vector<double> block(1 << 20);
  for (std::size_t b = 0; b * block.size() < random_inputs; ++b) {
    RandomBlock(state, b, block);
    compare(block);
  }
  return differences;
}

// The build glibc selects here: FMA where the CPU has FMA and AVX2 (glibc 2.36's test), unless
// the parent test forced the SSE2 build through GLIBC_TUNABLES and says so in this variable.
GlibcTanhVariant ExpectedVariant() {
  const char* forced = std::getenv("HYPERGRAD_TEST_GLIBC_TANH_VARIANT");
  if (forced != nullptr && std::string(forced) == "sse2") return GlibcTanhVariant::kSse2;
  return __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2") ? GlibcTanhVariant::kFma
                                                                         : GlibcTanhVariant::kSse2;
}

bool CpuRuns(VectorIsa isa) {
  if (isa == VectorIsa::kSse41) return __builtin_cpu_supports("sse4.1");
  if (isa == VectorIsa::kAvx2) return __builtin_cpu_supports("avx2");
  return true;  // SSE2: every x86-64 CPU
}

std::size_t InputCount() {
  const char* count = std::getenv("HYPERGRAD_TEST_GLIBC_TANH_INPUTS");
  return count != nullptr ? std::strtoull(count, nullptr, 10) : 100'000'000;
}

TEST(TanhKernelTest, LibmKernelIsGlibcsTanhBitForBit) {
  const GlibcTanhVariant expected = ExpectedVariant();
  // The port itself, not the fallback that calls the system's tanh: fails if glibc's algorithm
  // or its choice of build differs from what the port reproduces.
  EXPECT_EQ(GlibcTanhVariantName(ActiveGlibcTanhVariant()), GlibcTanhVariantName(expected));
  EXPECT_EQ(CountDifferences(
                std::string(GlibcTanhVariantName(expected)),
                [expected](std::vector<double>& x) { GlibcTanhInPlace(x, expected); },
                InputCount()),
            0u);
  // Where glibc runs its SSE2 build: the port of that build compiled for each instruction set
  // this CPU runs (the default one, BestVectorIsa, is checked above through GlibcTanhInPlace).
  if (expected == GlibcTanhVariant::kSse2) {
    for (const VectorIsa isa : {VectorIsa::kSse2, VectorIsa::kSse41, VectorIsa::kAvx2}) {
      if (isa == BestVectorIsa() || !CpuRuns(isa)) continue;
      EXPECT_EQ(CountDifferences(
                    "sse2 build for " + std::string(VectorIsaName(isa)),
                    [isa](std::vector<double>& x) { GlibcTanhSse2BuildInPlace(x, isa); },
                    InputCount()),
                0u)
          << VectorIsaName(isa);
    }
  }
  // Where glibc runs its FMA build on a CPU with AVX-512: the 4-lane port as well (the 8-lane
  // one, which GlibcTanhInPlace picks there, is checked above).
  if (expected == GlibcTanhVariant::kFma && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    EXPECT_EQ(CountDifferences(
                  "fma build on avx2",
                  [](std::vector<double>& x) { GlibcTanhFmaBuildInPlace(x, /*avx512=*/false); },
                  InputCount()),
              0u);
  }
  // And through the kernel the MLP calls.
  std::vector<double> x = BranchInputs(), want = x;
  TanhInPlace(x, TanhKernel::kLibm);
  GlibcTanhInPlace(want, expected);
  EXPECT_EQ(std::memcmp(x.data(), want.data(), x.size() * sizeof(double)), 0);
}

// glibc's SSE2 build of expm1, forced in a child process (GLIBC_TUNABLES is read at start-up).
TEST(TanhKernelTest, LibmKernelIsGlibcsSse2BuildWhereGlibcPicksIt) {
  if (std::getenv("HYPERGRAD_TEST_GLIBC_TANH_VARIANT") != nullptr) GTEST_SKIP() << "in the child";
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const std::string command =
      std::string("GLIBC_TUNABLES='") + (tunables ? std::string(tunables) + ":" : "") +
      "glibc.cpu.hwcaps=-AVX2,-FMA' HYPERGRAD_TEST_GLIBC_TANH_VARIANT=sse2 '" +
      std::filesystem::read_symlink("/proc/self/exe").string() +
      "' --gtest_filter=TanhKernelTest.LibmKernelIsGlibcsTanhBitForBit > /dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

// The two builds do differ (the FMA one rounds its multiply-adds once): at an input found by
// comparing glibc's two builds, the ports give glibc's two results.
TEST(TanhKernelTest, FmaAndSse2BuildsDiffer) {
  if (!__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx2")) {
    GTEST_SKIP() << "no FMA and AVX2 here";
  }
  std::vector<double> fma = {Bits(0x3fed76eaf64a9a0du)}, sse2 = fma;
  GlibcTanhInPlace(fma, GlibcTanhVariant::kFma);
  GlibcTanhInPlace(sse2, GlibcTanhVariant::kSse2);
  // glibc 2.36's tanh at that input: the FMA build, then the SSE2 build (GLIBC_TUNABLES).
  EXPECT_EQ(std::bit_cast<std::uint64_t>(fma[0]), 0x3fe73d85141698a0u);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(sse2[0]), 0x3fe73d85141698a2u);
}

// ---- the polynomial --------------------------------------------------------------------------

double Ulps(double got, double want) {
  if (got == want) return 0.0;
  const double ulp = std::nextafter(std::fabs(want), INFINITY) - std::fabs(want);
  return std::fabs(got - want) / ulp;
}

std::vector<double> Sample() {
  RandomStream rng(5);
  std::vector<double> x;
  for (int i = 0; i < 600000; ++i) x.push_back(50.0 * rng.Uniform() - 25.0);
  for (int i = 0; i < 200000; ++i) {
    const double m = std::pow(10.0, -40.0 + 42.0 * rng.Uniform());  // 1e-40 … 100
    x.push_back(i % 2 ? m : -m);
  }
  return x;
}

TEST(TanhKernelTest, PolynomialIsWithinFourUlpOfGlibc) {
  const std::vector<double> x = Sample();
  std::vector<double> y = x;
  TanhInPlace(y, TanhKernel::kPolynomial);
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, Ulps(y[i], std::tanh(x[i])));
  EXPECT_LE(worst, 4.0);
  EXPECT_GT(worst, 0.0);  // it is another function, not glibc's under another name
}

TEST(TanhKernelTest, SpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> x = {0.0, -0.0, inf, -inf, 19.5, -30.0, 1e300, 5e-324, std::nan("")};
  TanhInPlace(x, TanhKernel::kPolynomial);
  EXPECT_EQ(x[0], 0.0);
  EXPECT_FALSE(std::signbit(x[0]));
  EXPECT_TRUE(std::signbit(x[1]));
  EXPECT_EQ(x[2], 1.0);
  EXPECT_EQ(x[3], -1.0);
  EXPECT_EQ(x[4], 1.0);
  EXPECT_EQ(x[5], -1.0);
  EXPECT_EQ(x[6], 1.0);
  EXPECT_EQ(x[7], 5e-324);
  EXPECT_TRUE(std::isnan(x[8]));
}

TEST(TanhKernelTest, SameBitsAtAnyPositionForBothKernels) {
  std::vector<double> x = Sample();
  x.resize(1003);  // not a multiple of the vector width
  for (const TanhKernel kernel : {TanhKernel::kLibm, TanhKernel::kPolynomial}) {
    std::vector<double> whole = x, one_by_one = x, shifted(x.size() + 1);
    TanhInPlace(whole, kernel);
    for (double& v : one_by_one) TanhInPlace({&v, 1}, kernel);
    std::copy(x.begin(), x.end(), shifted.begin() + 1);
    TanhInPlace(shifted, kernel);
    EXPECT_EQ(std::memcmp(whole.data(), one_by_one.data(), whole.size() * sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(whole.data(), shifted.data() + 1, whole.size() * sizeof(double)), 0);
  }
}

TEST(TanhKernelTest, NamesRoundTrip) {
  EXPECT_EQ(ParseTanhKernel(TanhKernelName(TanhKernel::kPolynomial)), TanhKernel::kPolynomial);
  EXPECT_EQ(ParseTanhKernel("libm"), TanhKernel::kLibm);
  EXPECT_THROW(ParseTanhKernel("fast"), std::invalid_argument);
}

}  // namespace
}  // namespace hypergrad
