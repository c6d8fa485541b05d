#include "models/gemm_portable.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace hypergrad {
namespace {

PortableGemmVariant g_forced = PortableGemmVariant::kAuto;

// Element (r, c) of op(X).
inline double At(ConstMatrixRef x, bool t, std::size_t r, std::size_t col) {
  return t ? x.data[col * x.stride + r] : x.data[r * x.stride + col];
}

// What c_ij's old value contributes (gemm.h: C ignored for beta 0, taken as is for beta 1).
inline double Prior(double beta, double old) {
  return beta == 0.0 ? 0.0 : (beta == 1.0 ? old : beta * old);
}

// The definition, one element at a time: s = 0; s = s + a_ik·b_kj in increasing k.
void ScalarGemm(ConstMatrixRef a, bool ta, ConstMatrixRef b, bool tb, MatrixRef c, std::size_t k,
                double beta) {
  for (std::size_t i = 0; i < c.rows; ++i) {
    double* row = c.data + i * c.stride;
    for (std::size_t j = 0; j < c.cols; ++j) {
      double s = 0.0;
      for (std::size_t p = 0; p < k; ++p) s = s + At(a, ta, i, p) * At(b, tb, p, j);
      row[j] = Prior(beta, row[j]) + s;
    }
  }
}

// One MR × NR tile of sums (NR = L·NV) over all k: ap holds op(A)'s MR rows packed k-major
// (ap[p·MR + r]), bp op(B)'s NR columns packed k-major (bp[p·NR + j]). Each lane of each
// accumulator is one output element, and gets acc = acc + a·b for p = 0, 1, … in turn: GCC's
// vector extensions round the product and the sum separately (the project compiles with
// -ffp-contract=off), exactly as the scalar definition does, at any lane count L.
template <int L, int MR, int NV>
[[gnu::always_inline]] inline void MicroKernel(const double* ap, const double* bp, std::size_t k,
                                               double* tile) {
  typedef double V __attribute__((vector_size(L * sizeof(double))));
  constexpr int NR = L * NV;
  V acc[MR][NV];
#pragma GCC unroll 64
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  }
  for (std::size_t p = 0; p < k; ++p) {
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) std::memcpy(&bv[v], bp + p * NR + v * L, sizeof(V));
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r) {
      const double s = ap[p * MR + r];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = acc[r][v] + s * bv[v];
    }
  }
#pragma GCC unroll 64
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) std::memcpy(tile + r * NR + v * L, &acc[r][v], sizeof(V));
  }
}

// The blocked product: op(B) packed by column blocks of about 512 KiB (all of k: the k loop is
// never split), op(A) packed MR rows at a time, padded with zeros to whole tiles (the padded
// lanes are computed and thrown away; they never meet a real element's sum).
template <int L, int MR, int NV>
[[gnu::always_inline]] inline void BlockedGemm(ConstMatrixRef a, bool ta, ConstMatrixRef b,
                                               bool tb, MatrixRef c, std::size_t k, double beta) {
  constexpr std::size_t NR = static_cast<std::size_t>(L) * NV, kMr = MR;
  const std::size_t m = c.rows, n = c.cols;
  const std::size_t n_padded = (n + NR - 1) / NR * NR;
  const std::size_t nc = std::min(n_padded, std::max(NR, 65536 / std::max<std::size_t>(k, 1) / NR * NR));
  thread_local std::vector<double> bpack, apack;
  bpack.assign(k * nc, 0.0);
  apack.assign(k * kMr, 0.0);
  alignas(64) double tile[MR * NR];
  for (std::size_t j0 = 0; j0 < n; j0 += nc) {
    const std::size_t jn = std::min(nc, n - j0), panels = (jn + NR - 1) / NR;
    for (std::size_t q = 0; q < panels; ++q) {
      double* bp = bpack.data() + q * k * NR;
      const std::size_t cols = std::min(NR, jn - q * NR), first = j0 + q * NR;
      if (tb) {  // op(B)(p, j) = b[j][p]: read each row of b along p
        for (std::size_t jj = 0; jj < NR; ++jj)
          for (std::size_t p = 0; p < k; ++p) bp[p * NR + jj] = jj < cols ? At(b, tb, p, first + jj) : 0.0;
      } else {
        for (std::size_t p = 0; p < k; ++p)
          for (std::size_t jj = 0; jj < NR; ++jj) bp[p * NR + jj] = jj < cols ? At(b, tb, p, first + jj) : 0.0;
      }
    }
    for (std::size_t i0 = 0; i0 < m; i0 += kMr) {
      const std::size_t rows = std::min(kMr, m - i0);
      if (ta) {  // op(A)(i, p) = a[p][i]: read each row of a along i
        for (std::size_t p = 0; p < k; ++p)
          for (std::size_t r = 0; r < kMr; ++r) apack[p * kMr + r] = r < rows ? At(a, ta, i0 + r, p) : 0.0;
      } else {
        for (std::size_t r = 0; r < kMr; ++r)
          for (std::size_t p = 0; p < k; ++p) apack[p * kMr + r] = r < rows ? At(a, ta, i0 + r, p) : 0.0;
      }
      for (std::size_t q = 0; q < panels; ++q) {
        MicroKernel<L, MR, NV>(apack.data(), bpack.data() + q * k * NR, k, tile);
        const std::size_t cols = std::min(NR, jn - q * NR), first = j0 + q * NR;
        for (std::size_t r = 0; r < rows; ++r) {
          double* out = c.data + (i0 + r) * c.stride + first;
          for (std::size_t jj = 0; jj < cols; ++jj) out[jj] = Prior(beta, out[jj]) + tile[r * NR + jj];
        }
      }
    }
  }
}

// Tile shapes: MR·NV accumulators plus NV loads of B and one broadcast of A fit the registers
// (16 xmm / 16 ymm / 32 zmm).
void GemmSse2(ConstMatrixRef a, bool ta, ConstMatrixRef b, bool tb, MatrixRef c, std::size_t k,
              double beta) {
  BlockedGemm<2, 6, 2>(a, ta, b, tb, c, k, beta);
}
__attribute__((target("avx2"))) void GemmAvx2(ConstMatrixRef a, bool ta, ConstMatrixRef b,
                                              bool tb, MatrixRef c, std::size_t k, double beta) {
  BlockedGemm<4, 6, 2>(a, ta, b, tb, c, k, beta);
}
__attribute__((target("avx512f"))) void GemmAvx512(ConstMatrixRef a, bool ta, ConstMatrixRef b,
                                                   bool tb, MatrixRef c, std::size_t k,
                                                   double beta) {
  BlockedGemm<8, 8, 2>(a, ta, b, tb, c, k, beta);
}

PortableGemmVariant Resolve(PortableGemmVariant v) {
  if (v != PortableGemmVariant::kAuto) return v;
  if (PortableGemmVariantSupported(PortableGemmVariant::kAvx512)) return PortableGemmVariant::kAvx512;
  if (PortableGemmVariantSupported(PortableGemmVariant::kAvx2)) return PortableGemmVariant::kAvx2;
  return PortableGemmVariant::kSse2;
}

}  // namespace

bool PortableGemmVariantSupported(PortableGemmVariant variant) {
  switch (variant) {
    case PortableGemmVariant::kAvx2: return __builtin_cpu_supports("avx2");
    case PortableGemmVariant::kAvx512: return __builtin_cpu_supports("avx512f");
    default: return true;
  }
}

const char* PortableGemmVariantName(PortableGemmVariant variant) {
  switch (variant) {
    case PortableGemmVariant::kAuto: return "auto";
    case PortableGemmVariant::kScalar: return "scalar";
    case PortableGemmVariant::kSse2: return "sse2";
    case PortableGemmVariant::kAvx2: return "avx2";
    case PortableGemmVariant::kAvx512: return "avx512";
  }
  return "unknown";
}

PortableGemmVariant ParsePortableGemmVariant(std::string_view name) {
  for (const PortableGemmVariant v : {PortableGemmVariant::kAuto, PortableGemmVariant::kScalar,
                                      PortableGemmVariant::kSse2, PortableGemmVariant::kAvx2,
                                      PortableGemmVariant::kAvx512}) {
    if (name == PortableGemmVariantName(v)) return v;
  }
  throw std::invalid_argument("portable Gemm variant '" + std::string(name) +
                              "': expected auto, scalar, sse2, avx2 or avx512");
}

void ForcePortableGemmVariant(PortableGemmVariant variant) {
  if (!PortableGemmVariantSupported(variant)) {
    throw std::invalid_argument(std::string("ForcePortableGemmVariant: this CPU lacks the ") +
                                PortableGemmVariantName(variant) + " instructions");
  }
  g_forced = variant;
}

PortableGemmVariant ActivePortableGemmVariant() { return Resolve(g_forced); }

void PortableGemm(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b, bool transpose_b,
                  MatrixRef c, std::size_t k, double beta) {
  switch (ActivePortableGemmVariant()) {
    case PortableGemmVariant::kScalar: return ScalarGemm(a, transpose_a, b, transpose_b, c, k, beta);
    case PortableGemmVariant::kAvx2: return GemmAvx2(a, transpose_a, b, transpose_b, c, k, beta);
    case PortableGemmVariant::kAvx512: return GemmAvx512(a, transpose_a, b, transpose_b, c, k, beta);
    default: return GemmSse2(a, transpose_a, b, transpose_b, c, k, beta);
  }
}

}  // namespace hypergrad
