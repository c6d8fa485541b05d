// The portable Gemm kernel, every instruction-set variant this CPU runs, against an independent
// naive triple loop summing in increasing k (one rounding per product and per sum), bit for bit:
// on small and edge shapes and on the MLP's (batch 50..1000 × 784/50/10 widths), all four
// transposes, beta 0, 1 and another, strided views, and C's rows split into pieces.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "models/gemm.h"
#include "models/gemm_portable.h"

namespace hypergrad {
namespace {

struct Shape { std::size_t m, k, n; };

// Restores the default kernel and variant when a test ends, passed or not.
struct KernelGuard {
  ~KernelGuard() {
    SetGemmKernel(GemmKernel::kPortable);
    ForcePortableGemmVariant(PortableGemmVariant::kAuto);
  }
};

// Operands of one case: op(A) m × k, op(B) k × n, C m × n, each stored with a stride above its
// column count (a view into a wider matrix).
struct Case {
  Shape s;
  bool ta, tb;
  double beta;
  std::size_t ar, ac, br, bc, as, bs, cs;
  std::vector<double> a, b, c0;
  Case(Shape shape, bool ta_, bool tb_, double beta_, std::mt19937_64& rng)
      : s(shape), ta(ta_), tb(tb_), beta(beta_) {
    ar = ta ? s.k : s.m; ac = ta ? s.m : s.k; br = tb ? s.n : s.k; bc = tb ? s.k : s.n;
    as = ac + 3; bs = bc + 2; cs = s.n + 1;
    std::normal_distribution<double> normal;
    a.resize(ar * as + 1); b.resize(br * bs + 1); c0.resize(s.m * cs + 1);
    for (double& x : a) x = normal(rng);
    for (double& x : b) x = normal(rng);
    for (double& x : c0) x = normal(rng);
  }
  // The definition, written out independently of the library.
  std::vector<double> Want() const {
    std::vector<double> want = c0;
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
    return want;
  }
  // Gemm on C's rows split at `splits` (each piece one call on the matching rows of op(A)).
  std::vector<double> Got(const std::vector<std::size_t>& splits) const {
    std::vector<double> got = c0;
    std::size_t begin = 0;
    std::vector<std::size_t> ends = splits;
    ends.push_back(s.m);
    for (std::size_t end : ends) {
      const std::size_t rows = end - begin;
      const ConstMatrixRef av = ta ? ConstMatrixRef{a.data() + begin, ar, rows, as}
                                   : ConstMatrixRef{a.data() + begin * as, rows, ac, as};
      Gemm(av, ta, {b.data(), br, bc, bs}, tb, {got.data() + begin * cs, rows, s.n, cs}, beta);
      begin = end;
    }
    return got;
  }
  std::string Name() const {
    return std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n) +
           " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) + " beta=" + std::to_string(beta);
  }
};

// The first element (row-major over all of C's storage, padding included: it must stay
// untouched) where `got` and `want` differ in bits, or −1.
long FirstDifference(const std::vector<double>& want, const std::vector<double>& got) {
  for (std::size_t i = 0; i < want.size(); ++i)
    if (std::memcmp(&want[i], &got[i], sizeof(double)) != 0) return static_cast<long>(i);
  return -1;
}

std::vector<PortableGemmVariant> SupportedVariants() {
  std::vector<PortableGemmVariant> out;
  for (PortableGemmVariant v : {PortableGemmVariant::kAuto, PortableGemmVariant::kScalar,
                                PortableGemmVariant::kSse2, PortableGemmVariant::kAvx2,
                                PortableGemmVariant::kAvx512}) {
    if (PortableGemmVariantSupported(v)) out.push_back(v);
    else std::printf("[ SKIPPED  ] variant %s: this CPU lacks its instructions\n", PortableGemmVariantName(v));
  }
  return out;
}


TEST(GemmPortable, EveryVariantEqualsTheKOrderLoopBitForBit) {
  KernelGuard guard;
  SetGemmKernel(GemmKernel::kPortable);
  std::mt19937_64 rng(7);
  const std::vector<Shape> shapes = {
      {1, 1, 1}, {7, 13, 5}, {3, 0, 4}, {1, 784, 1}, {17, 9, 33}, {13, 3, 17},
      // The MLP's products (lib/mlp.cc): layers 784-50-50-10, batches of 50 … 1000 rows.
      {50, 784, 50}, {50, 50, 50}, {50, 50, 10}, {50, 10, 50}, {50, 50, 784},
      {784, 50, 50}, {50, 50, 50}, {10, 50, 50}, {200, 784, 50}, {1000, 50, 10},
      {784, 1000, 50}, {50, 1000, 10}, {1000, 50, 784}, {333, 784, 50},
      // Every width of a last column panel (the kernels' 2- and 4-column tiles and padded ones).
      {6, 21, 1}, {6, 21, 2}, {6, 21, 3}, {6, 21, 4}, {13, 21, 5}, {13, 21, 9}, {12, 21, 10},
      {25, 21, 11}, {12, 21, 12}, {25, 9, 13}, {7, 21, 14}, {7, 21, 15}, {7, 21, 18}};
  // And random small shapes: every remainder of the tiles' rows and columns.
  std::vector<Shape> all = shapes;
  std::uniform_int_distribution<std::size_t> size(1, 40);
  for (int i = 0; i < 24; ++i) all.push_back({size(rng), size(rng), size(rng)});
  const std::vector<PortableGemmVariant> variants = SupportedVariants();
  for (Shape s : all) {
    // Large shapes: one transpose pattern and beta each, chosen in turn, to keep the test short.
    const bool large = s.m * s.k * s.n > 2000000;
    for (int ta = 0; ta < 2; ++ta) for (int tb = 0; tb < 2; ++tb) for (double beta : {0.0, 1.0, -0.75}) {
      if (large && (ta * 2 + tb) != static_cast<int>((s.m + s.n) % 4)) continue;
      if (large && beta != (s.k % 2 ? 1.0 : -0.75)) continue;
      const Case c(s, ta, tb, beta, rng);
      const std::vector<double> want = c.Want();
      std::vector<std::vector<std::size_t>> splits = {{}};
      if (s.m >= 4) splits.push_back({1, s.m / 2 + 1});  // odd boundaries, unequal pieces
      for (PortableGemmVariant v : variants) {
        ForcePortableGemmVariant(v);
        for (const auto& split : splits) {
          const long at = FirstDifference(want, c.Got(split));
          ASSERT_EQ(-1, at) << c.Name() << " variant " << PortableGemmVariantName(v) << " split "
                            << split.size() << " pieces: first difference at storage index " << at;
        }
      }
    }
  }
}

// op(A)·[B1 | B2] (B1 and B2 random, k × out, side by side) against op(A)·B1 and op(A)·B2, bit
// for bit; A stored a_rows × a_cols, op(A) = Aᵀ if ta.
template <class Random>
void SideBySide(const std::vector<double>& a, std::size_t a_rows, std::size_t a_cols, bool ta,
                std::size_t out, Random& random, const std::string& what) {
  const std::size_t m = ta ? a_cols : a_rows, k = ta ? a_rows : a_cols;
  const std::vector<double> b1 = random(k * out), b2 = random(k * out);
  std::vector<double> both(k * 2 * out), c1(m * out), c2(m * out), wide(m * 2 * out);
  for (std::size_t p = 0; p < k; ++p) {
    std::copy_n(b1.data() + p * out, out, both.data() + p * 2 * out);
    std::copy_n(b2.data() + p * out, out, both.data() + p * 2 * out + out);
  }
  const ConstMatrixRef av{a.data(), a_rows, a_cols, a_cols};
  Gemm(av, ta, {b1.data(), k, out, out}, false, {c1.data(), m, out, out});
  Gemm(av, ta, {b2.data(), k, out, out}, false, {c2.data(), m, out, out});
  Gemm(av, ta, {both.data(), k, 2 * out, 2 * out}, false, {wide.data(), m, 2 * out, 2 * out});
  for (std::size_t i = 0; i < m; ++i) {
    ASSERT_EQ(0, std::memcmp(c1.data() + i * out, wide.data() + i * 2 * out, out * sizeof(double))) << what << ", row " << i;
    ASSERT_EQ(0, std::memcmp(c2.data() + i * out, wide.data() + i * 2 * out + out, out * sizeof(double))) << what << ", row " << i;
  }
}

// Issue [Q] item 2 (bench_gemm's BM_WiderProducts): two products that share an operand give the
// same bits as one twice as wide, its other operand's halves side by side (columns of B) or one
// above the other (rows of A), on every variant: the MLP's three kinds at batch 200, layers
// (784, 50), (50, 50) and (50, 10).
TEST(GemmPortable, OneWideProductEqualsTheTwoItJoins) {
  KernelGuard guard;
  SetGemmKernel(GemmKernel::kPortable);
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  const auto random = [&](std::size_t count) {
    std::vector<double> v(count);
    for (double& x : v) x = normal(rng);
    return v;
  };
  const std::size_t rows = 200;
  for (PortableGemmVariant variant : SupportedVariants()) {
    ForcePortableGemmVariant(variant);
    for (const auto& [in, out] : {std::pair<std::size_t, std::size_t>{784, 50}, {50, 50}, {50, 10}}) {
      const std::string where = std::string(PortableGemmVariantName(variant)) + " layer " +
                                std::to_string(in) + "x" + std::to_string(out);
      // a·W and a·U: a (rows × in) times [W | U] (in × 2out); aᵀ·δ and aᵀ·R{δ}: aᵀ (in × rows)
      // times [δ | R{δ}] (rows × 2out).
      const std::vector<double> a = random(rows * in);
      SideBySide(a, rows, in, false, out, random, where + " a·W, a·U");
      SideBySide(a, rows, in, true, out, random, where + " aᵀ·δ, aᵀ·R{δ}");
      {  // δ·Wᵀ and R{δ}·Wᵀ: [δ; R{δ}] (2rows × out) times Wᵀ (out × in)
        const std::vector<double> stacked = random(2 * rows * out), w = random(in * out);
        std::vector<double> back(rows * in), rback(rows * in), wide(2 * rows * in);
        Gemm({stacked.data(), rows, out, out}, false, {w.data(), in, out, out}, true, {back.data(), rows, in, in});
        Gemm({stacked.data() + rows * out, rows, out, out}, false, {w.data(), in, out, out}, true, {rback.data(), rows, in, in});
        Gemm({stacked.data(), 2 * rows, out, out}, false, {w.data(), in, out, out}, true, {wide.data(), 2 * rows, in, in});
        ASSERT_EQ(0, std::memcmp(back.data(), wide.data(), rows * in * sizeof(double))) << where << " δ·Wᵀ";
        ASSERT_EQ(0, std::memcmp(rback.data(), wide.data() + rows * in, rows * in * sizeof(double))) << where << " R{δ}·Wᵀ";
      }
    }
  }
}

// GemmPair (two products sharing op(A), issued by the portable kernel as one twice as wide and
// split where C1 and C2 lie): each C against the definition written out here, bit for bit, with
// the padding of their strided storage untouched; every variant, op(A) and Aᵀ, betas mixed
// (the MLP's Hessian-vector product adds to its C, the gradient stores), widths that put the
// split inside a tile and past a column block (k = 784 blocks 80 columns), and the MLP's pairs.
// With kOpenBlas, the pair equals its two Gemm calls.
TEST(GemmPortable, GemmPairGivesEachProductTheDefinitionsBits) {
  KernelGuard guard;
  std::mt19937_64 rng(13);
  std::normal_distribution<double> normal;
  struct PairShape { std::size_t m, k, n1, n2; };
  std::vector<PairShape> shapes = {{200, 784, 50, 50}, {784, 200, 50, 50}, {50, 200, 50, 50},
                                   {200, 50, 10, 10},  {24, 784, 50, 50},  {13, 784, 47, 45},
                                   {7, 9, 1, 1},       {12, 5, 8, 8},      {9, 3, 3, 13}};
  std::uniform_int_distribution<std::size_t> size(1, 30);
  for (int i = 0; i < 16; ++i) shapes.push_back({size(rng), size(rng), size(rng), size(rng)});
  const double betas[][2] = {{0.0, 1.0}, {1.0, 0.0}, {0.0, 0.0}, {-0.75, 1.0}};
  std::size_t case_index = 0;
  for (const PairShape s : shapes) for (int ta = 0; ta < 2; ++ta) for (const auto& beta : betas) {
    if (s.m * s.k > 100000 && (case_index++ % 4) != 0) continue;  // large: a quarter of the cases
    const std::size_t ar = ta ? s.k : s.m, ac = ta ? s.m : s.k, as = ac + 3;
    const std::size_t n[2] = {s.n1, s.n2}, bs[2] = {s.n1 + 2, s.n2 + 5}, cs[2] = {s.n1 + 1, s.n2 + 4};
    std::vector<double> a(ar * as), b[2], c0[2], want[2];
    for (double& x : a) x = normal(rng);
    for (int q = 0; q < 2; ++q) {
      b[q].resize(s.k * bs[q]);
      c0[q].resize(s.m * cs[q]);
      for (double& x : b[q]) x = normal(rng);
      for (double& x : c0[q]) x = normal(rng);
      want[q] = c0[q];
      for (std::size_t i = 0; i < s.m; ++i) for (std::size_t j = 0; j < n[q]; ++j) {
        double sum = 0.0;
        for (std::size_t p = 0; p < s.k; ++p) sum = sum + (ta ? a[p * as + i] : a[i * as + p]) * b[q][p * bs[q] + j];
        want[q][i * cs[q] + j] = (beta[q] == 0.0 ? 0.0 : beta[q] * want[q][i * cs[q] + j]) + sum;
      }
    }
    const ConstMatrixRef av{a.data(), ar, ac, as};
    const auto run = [&](std::vector<double> (&got)[2]) {
      got[0] = c0[0];
      got[1] = c0[1];
      GemmPair(av, ta, {b[0].data(), s.k, n[0], bs[0]}, {got[0].data(), s.m, n[0], cs[0]}, beta[0],
               {b[1].data(), s.k, n[1], bs[1]}, {got[1].data(), s.m, n[1], cs[1]}, beta[1]);
    };
    const std::string name = std::to_string(s.m) + "x" + std::to_string(s.k) + "x(" +
                             std::to_string(s.n1) + "+" + std::to_string(s.n2) + ") ta=" +
                             std::to_string(ta) + " betas " + std::to_string(beta[0]) + "," +
                             std::to_string(beta[1]);
    SetGemmKernel(GemmKernel::kPortable);
    for (PortableGemmVariant v : SupportedVariants()) {
      ForcePortableGemmVariant(v);
      std::vector<double> got[2];
      run(got);
      for (int q = 0; q < 2; ++q) {
        const long at = FirstDifference(want[q], got[q]);
        ASSERT_EQ(-1, at) << name << " variant " << PortableGemmVariantName(v) << ": C" << q + 1
                          << " first differs at storage index " << at;
      }
    }
    SetGemmKernel(GemmKernel::kOpenBlas);
    std::vector<double> got[2], two[2] = {c0[0], c0[1]};
    run(got);
    for (int q = 0; q < 2; ++q) {
      Gemm(av, ta, {b[q].data(), s.k, n[q], bs[q]}, false, {two[q].data(), s.m, n[q], cs[q]}, beta[q]);
      ASSERT_EQ(-1, FirstDifference(two[q], got[q])) << name << " openblas: C" << q + 1;
    }
  }
}

// A stride below a matrix's columns (rows that overlap) is refused by name, by both kernels,
// with C untouched (OpenBLAS alone would print a complaint and return).
TEST(GemmPortable, OverlappingRowsAreRefused) {
  KernelGuard guard;
  std::vector<double> a(4, 1.0), b(4, 1.0), c(4, 7.0);
  for (GemmKernel kernel : {GemmKernel::kPortable, GemmKernel::kOpenBlas}) {
    SetGemmKernel(kernel);
    try {
      Gemm({a.data(), 2, 2, 2}, false, {b.data(), 2, 2, 2}, false, {c.data(), 2, 2, 1});
      FAIL() << "no error for C of 2 columns with row stride 1";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("C is stored 2 x 2 with row stride 1"), std::string::npos) << e.what();
    }
    EXPECT_EQ(c, std::vector<double>(4, 7.0));
    EXPECT_THROW(GemmPair({a.data(), 2, 2, 1}, false, {b.data(), 2, 1, 1}, {c.data(), 2, 1, 1}, 0.0,
                          {b.data(), 2, 1, 1}, {c.data() + 2, 2, 1, 1}, 0.0),
                 std::invalid_argument);
  }
  // Even one row (OpenBLAS refuses it too); an empty matrix's stride is never read.
  SetGemmKernel(GemmKernel::kPortable);
  EXPECT_THROW(Gemm({a.data(), 1, 2, 0}, false, {b.data(), 2, 2, 2}, false, {c.data(), 1, 2, 2}),
               std::invalid_argument);
  EXPECT_NO_THROW(Gemm({a.data(), 0, 2, 0}, false, {b.data(), 2, 2, 2}, false, {c.data(), 0, 2, 0}));
}

TEST(GemmPortable, GemmPairRefusesShapesThatDoNotFit) {
  std::vector<double> a(6 * 4), b1(4 * 3), b2(5 * 2), c1(6 * 3), c2(6 * 2);
  try {
    GemmPair({a.data(), 6, 4, 4}, false, {b1.data(), 4, 3, 3}, {c1.data(), 6, 3, 3}, 0.0,
             {b2.data(), 5, 2, 2}, {c2.data(), 6, 2, 2}, 0.0);
    FAIL() << "no error for a second B of 5 rows against k = 4";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("second product"), std::string::npos) << e.what();
  }
}

// Zeros of either sign, infinities and subnormals: the variants follow the definition there too.
TEST(GemmPortable, SpecialValuesFollowTheDefinition) {
  KernelGuard guard;
  SetGemmKernel(GemmKernel::kPortable);
  std::mt19937_64 rng(11);
  Case c({9, 6, 19}, false, true, 1.0, rng);
  const double specials[] = {0.0, -0.0, 1e-310, -1e-310, 1e308, -1e308, 2.0};
  std::uniform_int_distribution<std::size_t> pick(0, std::size(specials) - 1);
  for (double& x : c.a) x = specials[pick(rng)];
  for (double& x : c.b) x = specials[pick(rng)];
  for (double& x : c.c0) x = specials[pick(rng)];
  const std::vector<double> want = c.Want();
  for (PortableGemmVariant v : SupportedVariants()) {
    ForcePortableGemmVariant(v);
    EXPECT_EQ(-1, FirstDifference(want, c.Got({}))) << PortableGemmVariantName(v);
  }
}

TEST(GemmPortable, ForcingAVariantTheCpuLacksIsRefusedByName) {
  for (PortableGemmVariant v : {PortableGemmVariant::kAvx2, PortableGemmVariant::kAvx512}) {
    if (PortableGemmVariantSupported(v)) continue;
    try {
      ForcePortableGemmVariant(v);
      FAIL() << "no error for " << PortableGemmVariantName(v);
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(PortableGemmVariantName(v)), std::string::npos) << e.what();
    }
  }
  EXPECT_NE(ActivePortableGemmVariant(), PortableGemmVariant::kAuto);
}

}  // namespace
}  // namespace hypergrad
