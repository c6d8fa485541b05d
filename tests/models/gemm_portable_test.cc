// The portable Gemm kernel against an independent naive triple loop summing in increasing k.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "models/gemm.h"

namespace hypergrad {
namespace {

struct Shape { std::size_t m, k, n; };

TEST(GemmPortable, EqualsNaiveKOrderLoopBitForBit) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  for (Shape s : {Shape{1, 1, 1}, Shape{7, 13, 5}, Shape{200, 784, 50}, Shape{3, 0, 4}}) {
    for (int ta = 0; ta < 2; ++ta) for (int tb = 0; tb < 2; ++tb) for (double beta : {0.0, 1.0, 0.5}) {
      const std::size_t ar = ta ? s.k : s.m, ac = ta ? s.m : s.k, br = tb ? s.n : s.k, bc = tb ? s.k : s.n;
      const std::size_t as = ac + 3, bs = bc + 2, cs = s.n + 1;  // strides > cols
      std::vector<double> a(ar * as + 1), b(br * bs + 1), c0(s.m * cs);
      for (double& x : a) x = normal(rng);
      for (double& x : b) x = normal(rng);
      for (double& x : c0) x = normal(rng);
      std::vector<double> want = c0, got = c0;
      for (std::size_t i = 0; i < s.m; ++i) for (std::size_t j = 0; j < s.n; ++j) {
        double sum = 0.0;
        for (std::size_t p = 0; p < s.k; ++p) {
          const double x = ta ? a[p * as + i] : a[i * as + p];
          const double y = tb ? b[j * bs + p] : b[p * bs + j];
          sum = sum + x * y;
        }
        const double prior = beta == 0.0 ? 0.0 : beta * want[i * cs + j];
        want[i * cs + j] = prior + sum;
      }
      SetGemmKernel(GemmKernel::kPortable);
      Gemm({a.data(), ar, ac, as}, ta, {b.data(), br, bc, bs}, tb, {got.data(), s.m, s.n, cs}, beta);
      SetGemmKernel(GemmKernel::kOpenBlas);
      for (std::size_t i = 0; i < s.m; ++i) for (std::size_t j = 0; j < s.n; ++j)
        ASSERT_EQ(0, std::memcmp(&want[i * cs + j], &got[i * cs + j], sizeof(double)))
            << s.m << "x" << s.k << "x" << s.n << " ta=" << ta << " tb=" << tb << " beta=" << beta
            << " at (" << i << "," << j << ")";
    }
  }
}

}  // namespace
}  // namespace hypergrad
