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

// op(B) and C of one blocked product: one matrix each, or two side by side (GemmPair): columns
// [0, split) of the product are part 0's, [split, cols) part 1's, at column j − split there.
// B's parts are never transposed when there are two.
struct SplitB {
  ConstMatrixRef part[2];
  std::size_t split;
};
struct SplitC {
  MatrixRef part[2];
  double beta[2];
  std::size_t split, cols;
};

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

// One MR × NR tile of sums (NR = L·NV) over all k: op(A)(r, p) = ap[p·a_step + r·a_row],
// op(B)(p, j) = bp[p·b_step + j]; packed (a_step = MR, a_row = 1, b_step = NR) or read where
// they lie (the operands' strides). Each lane of each accumulator is one output element, and gets acc = acc + a·b for p = 0, 1, … in turn: GCC's
// vector extensions round the product and the sum separately (the project compiles with
// -ffp-contract=off), exactly as the scalar definition does, at any lane count L.
template <int L, int MR, int NV>
[[gnu::always_inline]] inline void MicroKernel(const double* ap, std::size_t a_step, std::size_t a_row,
                                               const double* bp, std::size_t b_step, std::size_t k,
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
    for (int v = 0; v < NV; ++v) std::memcpy(&bv[v], bp + p * b_step + v * L, sizeof(V));
#pragma GCC unroll 64
    for (int r = 0; r < MR; ++r) {
      const double s = ap[p * a_step + r * a_row];
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

// The width of column panel q of a block of jn columns: NR, except that a last panel of at most
// 2 or 4 columns is packed 2 or 4 wide and computed by a narrower tile (the MLP's 50- and
// 10-wide products leave 2 columns over), not padded to NR.
template <std::size_t NR>
inline std::size_t PanelWidth(std::size_t jn, std::size_t q) {
  const std::size_t cols = std::min(NR, jn - q * NR);
  if (cols == NR) return NR;
  if (cols <= 2 && NR > 2) return 2;
  if (cols <= 4 && NR > 4) return 4;
  return NR;
}

using TileFn = void (*)(const double* ap, std::size_t a_step, std::size_t a_row, const double* bp,
                        std::size_t b_step, std::size_t k, double* tile);
// The tiles of one row count: NR columns, and the 2- and 4-column forms (PanelWidth).
template <TileFn kFull, TileFn kTwo, TileFn kFour>
struct Tiles {
  static TileFn For(std::size_t w, std::size_t nr) { return w == nr ? kFull : w == 2 ? kTwo : kFour; }
};

// Tiles: MicroKernel<L, MR, NV> (NR = L·NV columns) and its 2- and 4-column forms, each compiled
// alone (a variant's own non-inlined functions) so that no tile's accumulators compete with the
// blocking loop's values for registers: inlined together, GCC kept two of AVX2's 12
// accumulators on the stack and the products took 1.7× as long.

// Packs columns [first, first + cols) of op(B), all of k, into bp, k-major with stride w ≥ cols
// (bp[p·w + j]; columns cols … w−1 zero). Whole panels copy straight along the stored rows; the
// general loop (the last panel) tests each column.
template <std::size_t NR>
void PackB(ConstMatrixRef b, bool tb, double* bp, std::size_t w, std::size_t k, std::size_t cols,
           std::size_t first) {
  if (cols == NR && w == NR && !tb) {  // op(B)(p, first + j) = b[p][first + j]: NR contiguous
    for (std::size_t p = 0; p < k; ++p) std::memcpy(bp + p * NR, b.data + p * b.stride + first, NR * sizeof(double));
  } else if (cols == NR && w == NR) {  // op(B)(p, first + j) = b[first + j][p]: NR rows along p
    const double* row = b.data + first * b.stride;
    const std::size_t stride = b.stride;
    for (std::size_t p = 0; p < k; ++p) {
#pragma GCC unroll 16
      for (std::size_t jj = 0; jj < NR; ++jj) bp[p * NR + jj] = row[jj * stride + p];
    }
  } else if (tb) {
    for (std::size_t jj = 0; jj < w; ++jj)
      for (std::size_t p = 0; p < k; ++p) bp[p * w + jj] = jj < cols ? At(b, tb, p, first + jj) : 0.0;
  } else {
    for (std::size_t p = 0; p < k; ++p)
      for (std::size_t jj = 0; jj < w; ++jj) bp[p * w + jj] = jj < cols ? At(b, tb, p, first + jj) : 0.0;
  }
}

// Packs rows [i0, i0 + rows) of op(A), all of k, into ap, k-major with stride MR ≥ rows
// (ap[p·MR + r]; rows rows … MR−1 zero): the rows of op(A) are the columns of op(A)ᵀ, which is
// A transposed the other way, so PackB packs them (a whole block of a transposed A copies MR
// contiguous doubles per p; of an untransposed one reads its MR rows side by side).
template <std::size_t MR>
void PackA(ConstMatrixRef a, bool ta, double* ap, std::size_t k, std::size_t rows, std::size_t i0) {
  PackB<MR>(a, !ta, ap, MR, k, rows, i0);
}

// The blocked product: op(B) by column blocks of about 512 KiB (all of k: the k loop is never
// split), panel q packed at q·k·NR, k-major with its width's stride; op(A) MR rows at a time,
// packed with zeros to whole tiles (the padded lanes are computed and thrown away; they never
// meet a real element's sum). kInPlaceA: whole row blocks of A are read where they lie, never
// packed; kInPlaceB: so are B's whole panels when B is not transposed (a row of a panel is then
// NR contiguous doubles). Packing matters here because the MLP's products are narrow: each
// element of its 784 × 50 weights meets a 50-row piece of the batch per call, each input
// element 50 columns; packing took about a fifth of `hypergrad`'s time (perf, T = 300). Read
// in place, the AVX-512 tile ran `hypergrad` T = 500 in 2.84 s of CPU against 3.04 s packed
// (fastest of 5); the AVX2 tile took 3.42 s with B in place against 3.11 s packed and 3.12 s
// with A in place (cause not measured), so AVX2 and SSE2 pack.
// Few4 and Few8: the tiles of 4 and 8 rows that a last row block of at most 4 or 8 rows
// runs instead of the MR-row tile (whose padded rows cost as much as real ones): the MLP's
// 50-row pieces of a batch leave 2 rows after four blocks of 12, so the 12-row tile computed 60
// rows for 50. Each row's sums are the same whatever the tile's height.
// Two products side by side (SplitB, SplitC) run as one: B's panels are packed from either part
// (a panel that straddles the split from both), a panel within one part is read in place as
// above, and each tile's columns are stored to the part, and with the beta, they belong to.
template <int L, int MR, int NV, class Full, class Few4, class Few8, bool kInPlaceA, bool kInPlaceB>
[[gnu::always_inline]] inline void BlockedGemm(ConstMatrixRef a, bool ta, const SplitB& b,
                                               bool tb, const SplitC& c, std::size_t k) {
  constexpr std::size_t NR = static_cast<std::size_t>(L) * NV, kMr = MR;
  const std::size_t m = c.part[0].rows, n = c.cols, split = c.split;
  // The part holding product columns [first, first + cols), or 2 if they straddle the split.
  const auto part_of = [split](std::size_t first, std::size_t cols) -> std::size_t {
    return first + cols <= split ? 0 : first >= split ? 1 : 2;
  };
  const auto local = [split](std::size_t part, std::size_t first) { return part == 0 ? first : first - split; };
  const std::size_t n_padded = (n + NR - 1) / NR * NR;
  const std::size_t nc = std::min(n_padded, std::max(NR, 65536 / std::max<std::size_t>(k, 1) / NR * NR));
  thread_local std::vector<double> bpack, apack;
  // Grown, never shrunk: every element a tile reads is written below, and resize() would zero
  // what it adds back after a smaller product (a 784-deep product after a 50-deep one: 3.7% of
  // hypergrad's time went to that memset, perf, T = 1000).
  if (bpack.size() < k * nc) bpack.resize(k * nc);
  if (apack.size() < k * kMr) apack.resize(k * kMr);
  alignas(64) double tile[MR * NR];
  for (std::size_t j0 = 0; j0 < n; j0 += nc) {
    const std::size_t jn = std::min(nc, n - j0), panels = (jn + NR - 1) / NR;
    const auto in_place_b = [&](std::size_t q) {
      const std::size_t cols = std::min(NR, jn - q * NR);
      return kInPlaceB && !tb && cols == PanelWidth<NR>(jn, q) && part_of(j0 + q * NR, cols) < 2;
    };
    for (std::size_t q = 0; q < panels; ++q) {
      if (in_place_b(q)) continue;
      double* bp = bpack.data() + q * k * NR;
      const std::size_t w = PanelWidth<NR>(jn, q);
      const std::size_t cols = std::min(NR, jn - q * NR), first = j0 + q * NR;
      const std::size_t part = part_of(first, cols);
      if (part < 2) {
        PackB<NR>(b.part[part], tb, bp, w, k, cols, local(part, first));
        continue;
      }
      // Straddling: `left` columns from part 0, the rest from part 1 (B not transposed).
      const std::size_t left = split - first;
      const double* b0 = b.part[0].data + first;
      const double* b1 = b.part[1].data;
      for (std::size_t p = 0; p < k; ++p) {
        double* dst = bp + p * w;
        const double* s0 = b0 + p * b.part[0].stride;
        const double* s1 = b1 + p * b.part[1].stride;
        for (std::size_t jj = 0; jj < left; ++jj) dst[jj] = s0[jj];
        for (std::size_t jj = left; jj < cols; ++jj) dst[jj] = s1[jj - left];
        for (std::size_t jj = cols; jj < w; ++jj) dst[jj] = 0.0;
      }
    }
    for (std::size_t i0 = 0; i0 < m; i0 += kMr) {
      const std::size_t rows = std::min(kMr, m - i0);
      const bool in_place_a = kInPlaceA && rows == kMr;
      if (!in_place_a) PackA<kMr>(a, ta, apack.data(), k, rows, i0);
      const double* ap = !in_place_a ? apack.data() : ta ? a.data + i0 : a.data + i0 * a.stride;
      const std::size_t a_step = !in_place_a ? kMr : ta ? a.stride : 1;
      const std::size_t a_row = !in_place_a ? 1 : ta ? 1 : a.stride;
      for (std::size_t q = 0; q < panels; ++q) {
        const std::size_t w = PanelWidth<NR>(jn, q);
        const std::size_t cols = std::min(NR, jn - q * NR), first = j0 + q * NR;
        const bool direct = in_place_b(q);
        const std::size_t b_part = direct ? std::min<std::size_t>(part_of(first, cols), 1) : 0;
        const double* bp = direct ? b.part[b_part].data + local(b_part, first) : bpack.data() + q * k * NR;
        const TileFn tile_fn = rows <= 4 ? Few4::For(w, NR) : rows <= 8 ? Few8::For(w, NR) : Full::For(w, NR);
        tile_fn(ap, a_step, a_row, bp, direct ? b.part[b_part].stride : w, k, tile);
        // The tile's columns [first, first + cols), in at most two runs, one per part of C.
        for (std::size_t part = 0; part < 2; ++part) {
          const std::size_t begin = part == 0 ? first : std::max(first, split);
          const std::size_t end = part == 0 ? std::min(first + cols, split) : first + cols;
          if (begin >= end) continue;
          const MatrixRef& cp = c.part[part];
          const double beta = c.beta[part];
          const std::size_t run = end - begin;
          // Prior(beta, ·) with the test on beta out of the loops (0.0 + s keeps Prior's bits:
          // it turns −0 into +0).
          for (std::size_t r = 0; r < rows; ++r) {
            double* out = cp.data + (i0 + r) * cp.stride + local(part, begin);
            const double* t = tile + r * w + (begin - first);
            if (beta == 0.0) {
              for (std::size_t jj = 0; jj < run; ++jj) out[jj] = 0.0 + t[jj];
            } else if (beta == 1.0) {
              for (std::size_t jj = 0; jj < run; ++jj) out[jj] = out[jj] + t[jj];
            } else {
              for (std::size_t jj = 0; jj < run; ++jj) out[jj] = beta * out[jj] + t[jj];
            }
          }
        }
      }
    }
  }
}

#define HYPERGRAD_TILE(name, target_isa, L, MR, NV)                                                \
  [[gnu::noinline]] __attribute__((target(target_isa))) void name(                                \
      const double* ap, std::size_t a_step, std::size_t a_row, const double* bp, std::size_t b_step, std::size_t k,  \
      double* tile) {                                                                             \
    MicroKernel<L, MR, NV>(ap, a_step, a_row, bp, b_step, k, tile);                                      \
  }
HYPERGRAD_TILE(TileSse2, "sse2", 2, 6, 2)
HYPERGRAD_TILE(TileSse2Two, "sse2", 2, 6, 1)
HYPERGRAD_TILE(TileAvx2, "avx2", 4, 6, 2)
HYPERGRAD_TILE(TileAvx2Two, "avx2", 2, 6, 1)
HYPERGRAD_TILE(TileAvx2Four, "avx2", 4, 6, 1)
HYPERGRAD_TILE(TileAvx512, "avx512f", 8, 12, 1)
HYPERGRAD_TILE(TileAvx512Two, "avx512f", 2, 12, 1)
HYPERGRAD_TILE(TileAvx512Four, "avx512f", 4, 12, 1)
HYPERGRAD_TILE(TileAvx512Rows8, "avx512f", 8, 8, 1)
HYPERGRAD_TILE(TileAvx512Rows8Two, "avx512f", 2, 8, 1)
HYPERGRAD_TILE(TileAvx512Rows8Four, "avx512f", 4, 8, 1)
HYPERGRAD_TILE(TileAvx512Rows4, "avx512f", 8, 4, 1)
HYPERGRAD_TILE(TileAvx512Rows4Two, "avx512f", 2, 4, 1)
HYPERGRAD_TILE(TileAvx512Rows4Four, "avx512f", 4, 4, 1)
#undef HYPERGRAD_TILE

void GemmSse2(ConstMatrixRef a, bool ta, const SplitB& b, bool tb, const SplitC& c, std::size_t k) {
  using Full = Tiles<TileSse2, TileSse2Two, TileSse2>;
  BlockedGemm<2, 6, 2, Full, Full, Full, false, false>(a, ta, b, tb, c, k);
}
__attribute__((target("avx2"))) void GemmAvx2(ConstMatrixRef a, bool ta, const SplitB& b, bool tb,
                                              const SplitC& c, std::size_t k) {
  using Full = Tiles<TileAvx2, TileAvx2Two, TileAvx2Four>;
  BlockedGemm<4, 6, 2, Full, Full, Full, false, false>(a, ta, b, tb, c, k);
}
__attribute__((target("avx512f"))) void GemmAvx512(ConstMatrixRef a, bool ta, const SplitB& b,
                                                   bool tb, const SplitC& c, std::size_t k) {
  using Full = Tiles<TileAvx512, TileAvx512Two, TileAvx512Four>;
  using Few8 = Tiles<TileAvx512Rows8, TileAvx512Rows8Two, TileAvx512Rows8Four>;
  using Few4 = Tiles<TileAvx512Rows4, TileAvx512Rows4Two, TileAvx512Rows4Four>;
  BlockedGemm<8, 12, 1, Full, Few4, Few8, true, true>(a, ta, b, tb, c, k);
}

// The blocked variant in use on B and C split as above; false for kScalar (which has none).
bool BlockedVariant(ConstMatrixRef a, bool ta, const SplitB& b, bool tb, const SplitC& c, std::size_t k) {
  switch (ActivePortableGemmVariant()) {
    case PortableGemmVariant::kScalar: return false;
    case PortableGemmVariant::kAvx2: GemmAvx2(a, ta, b, tb, c, k); return true;
    case PortableGemmVariant::kAvx512: GemmAvx512(a, ta, b, tb, c, k); return true;
    default: GemmSse2(a, ta, b, tb, c, k); return true;
  }
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
  const SplitB parts_b{{b, {}}, c.cols};
  const SplitC parts_c{{c, {}}, {beta, 0.0}, c.cols, c.cols};
  if (!BlockedVariant(a, transpose_a, parts_b, transpose_b, parts_c, k)) {
    ScalarGemm(a, transpose_a, b, transpose_b, c, k, beta);
  }
}

void PortableGemmPair(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b1, MatrixRef c1,
                      double beta1, ConstMatrixRef b2, MatrixRef c2, double beta2, std::size_t k) {
  const SplitB parts_b{{b1, b2}, c1.cols};
  const SplitC parts_c{{c1, c2}, {beta1, beta2}, c1.cols, c1.cols + c2.cols};
  if (!BlockedVariant(a, transpose_a, parts_b, false, parts_c, k)) {
    ScalarGemm(a, transpose_a, b1, false, c1, k, beta1);
    ScalarGemm(a, transpose_a, b2, false, c2, k, beta2);
  }
}

}  // namespace hypergrad
