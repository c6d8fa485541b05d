// Gemm (models/gemm.h) with its default OpenBLAS kernel: against an independent float64 triple
// loop within the rounding bound of a k-term dot product, for every transpose pair and beta
// 0 / 1 / other on strided views; C's elements outside its view untouched; the shape errors.
// (Row splits: OpenBLAS gives no split-invariance on every CPU, gemm.h; the portable kernel's
// splits are tested in gemm_portable_test, the MLP's thread-independence in mlp_test.)
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "models/gemm.h"

namespace hypergrad {
namespace {

struct Shape {
  std::size_t m, k, n;
};

// Operands of op(A) (m × k), op(B) (k × n) and C (m × n), each stored with a stride wider than
// its columns, filled with normal values (the padding too, so a read or write outside a view
// shows).
struct Operands {
  Operands(Shape s, bool transpose_a, bool transpose_b, std::uint64_t seed)
      : shape(s), ta(transpose_a), tb(transpose_b),
        a_rows(ta ? s.k : s.m), a_cols(ta ? s.m : s.k), b_rows(tb ? s.n : s.k),
        b_cols(tb ? s.k : s.n),
        a_stride(a_cols + 3), b_stride(b_cols + 2), c_stride(s.n + 5),
        a(a_rows * a_stride), b(b_rows * b_stride), c(s.m * c_stride) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    for (double& x : a) x = normal(rng);
    for (double& x : b) x = normal(rng);
    for (double& x : c) x = normal(rng);
  }
  double A(std::size_t i, std::size_t p) const { return ta ? a[p * a_stride + i] : a[i * a_stride + p]; }
  double B(std::size_t p, std::size_t j) const { return tb ? b[j * b_stride + p] : b[p * b_stride + j]; }
  ConstMatrixRef a_ref() const { return {a.data(), a_rows, a_cols, a_stride}; }
  ConstMatrixRef b_ref() const { return {b.data(), b_rows, b_cols, b_stride}; }

  Shape shape;
  bool ta, tb;
  std::size_t a_rows, a_cols, b_rows, b_cols, a_stride, b_stride, c_stride;
  std::vector<double> a, b, c;
};

// The committed results come from the portable kernel: the same bits on every x86-64 CPU.
TEST(Gemm, DefaultKernelIsPortable) { EXPECT_EQ(GetGemmKernel(), GemmKernel::kPortable); }

TEST(Gemm, MatchesFloat64LoopWithinRoundingForEveryTransposeAndBeta) {
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  std::uint64_t seed = 1;
  for (const Shape s : {Shape{1, 1, 1}, Shape{7, 13, 5}, Shape{33, 64, 17}, Shape{100, 784, 50}}) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const double beta : {0.0, 1.0, -0.75}) {
          SCOPED_TRACE(testing::Message() << s.m << "x" << s.k << "x" << s.n << " ta " << ta
                                          << " tb " << tb << " beta " << beta);
          const Operands o(s, ta, tb, seed++);
          std::vector<double> got = o.c;
          Gemm(o.a_ref(), ta, o.b_ref(), tb, {got.data(), s.m, s.n, o.c_stride}, beta);
          for (std::size_t i = 0; i < s.m; ++i) {
            for (std::size_t j = 0; j < o.c_stride; ++j) {
              const double old = o.c[i * o.c_stride + j];
              if (j >= s.n) {  // padding beyond C's columns: never written
                ASSERT_EQ(got[i * o.c_stride + j], old) << "padding at " << i << "," << j;
                continue;
              }
              double sum = 0.0, magnitude = 0.0;
              for (std::size_t p = 0; p < s.k; ++p) {
                sum += o.A(i, p) * o.B(p, j);
                magnitude += std::abs(o.A(i, p) * o.B(p, j));
              }
              // beta 0: C is ignored, even were it NaN; otherwise beta·C is added.
              const double want = beta == 0.0 ? sum : sum + beta * old;
              // Any summation order: |error| ≤ γ_(k+2)·(Σ|a·b| + |beta·C|) for both results,
              // with γ_n ≈ n·ε; doubled for the two.
              const double bound =
                  2.0 * static_cast<double>(s.k + 2) * kEps * (magnitude + std::abs(beta * old));
              ASSERT_NEAR(got[i * o.c_stride + j], want, bound) << "at " << i << "," << j;
            }
          }
        }
      }
    }
  }
}

TEST(Gemm, BetaZeroIgnoresNanInC) {
  const Operands o({4, 6, 3}, false, false, 11);
  std::vector<double> c(o.c.size(), std::numeric_limits<double>::quiet_NaN());
  Gemm(o.a_ref(), false, o.b_ref(), false, {c.data(), 4, 3, o.c_stride});
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = 0; j < 3; ++j) EXPECT_FALSE(std::isnan(c[i * o.c_stride + j])) << i << "," << j;
  }
}

TEST(Gemm, MismatchedShapesThrowNamingThem) {
  std::vector<double> a(6 * 4), b(4 * 5), c(6 * 5);
  const ConstMatrixRef A{a.data(), 6, 4, 4}, B{b.data(), 4, 5, 5};
  EXPECT_NO_THROW(Gemm(A, false, B, false, {c.data(), 6, 5, 5}));
  // Inner dimensions differ (op(B) has 5 rows).
  EXPECT_THROW(Gemm(A, false, B, true, {c.data(), 6, 4, 4}), std::invalid_argument);
  // C's rows, then C's columns, wrong.
  EXPECT_THROW(Gemm(A, false, B, false, {c.data(), 5, 5, 5}), std::invalid_argument);
  EXPECT_THROW(Gemm(A, false, B, false, {c.data(), 6, 4, 5}), std::invalid_argument);
  // Aᵀ is 4 × 6: does not fit B's 4 rows.
  EXPECT_THROW(Gemm(A, true, B, false, {c.data(), 4, 5, 5}), std::invalid_argument);
  try {
    Gemm(A, false, B, false, {c.data(), 6, 4, 4});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "Gemm: op(A) is 6 x 4, op(B) 4 x 5, C 6 x 4");
  }
}

TEST(Gemm, StrideBeyondBlasIntThrowsBeforeTouchingMemory) {
  const std::size_t huge = std::size_t{1} << 31;  // 2^31 > INT_MAX; no memory behind it
  std::vector<double> a(4), b(4), c(4);
  EXPECT_THROW(Gemm({a.data(), 2, 2, huge}, false, {b.data(), 2, 2, 2}, false, {c.data(), 2, 2, 2}),
               std::length_error);
  EXPECT_THROW(Gemm({a.data(), 2, 2, 2}, false, {b.data(), 2, 2, 2}, false, {c.data(), 2, 2, huge}),
               std::length_error);
}

TEST(Gemm, EmptyCIsLeftAlone) {
  std::vector<double> a(3), b(3), c = {42.0};
  Gemm({a.data(), 0, 3, 3}, false, {b.data(), 3, 1, 1}, false, {c.data(), 0, 1, 1});
  EXPECT_EQ(c[0], 42.0);
}

}  // namespace
}  // namespace hypergrad
