// The portable matrix product (GemmKernel::kPortable, gemm.h) and, for tests and benchmarks, a
// way to force each of its instruction-set variants. Internal to the library: programs choose
// the kernel through SetGemmKernel only.
#ifndef HYPERGRAD_MODELS_GEMM_PORTABLE_H_
#define HYPERGRAD_MODELS_GEMM_PORTABLE_H_

#include <cstddef>
#include <string_view>

#include "models/gemm.h"

namespace hypergrad {

// The code paths of the portable product. Every one computes each c_ij as
//   s = 0; s = s + a_ik·b_kj for k = 0, 1, …, k−1 (each product and each sum rounded once)
//   c_ij = prior + s, prior = 0 (beta 0), c_ij (beta 1), beta·c_ij (other beta)
// and differs only in how many output elements it computes side by side (vector lanes across
// j; the k loop of one element is never split or reordered, and no fused multiply-add is
// emitted), so all give the same bits (up to which NaN comes out where two NaNs meet, gemm.h).
// kScalar: one element at a time, the definition. kSse2: 2 lanes (the x86-64 baseline).
// kAvx2: 4 lanes. kAvx512: 8 lanes.
enum class PortableGemmVariant { kAuto, kScalar, kSse2, kAvx2, kAvx512 };

// Which variant later portable products use, process-wide (kAuto: the widest this CPU runs,
// the default). Throws std::invalid_argument naming the variant if this CPU lacks its
// instructions. For tests and benchmarks; not safe while another thread is in Gemm.
void ForcePortableGemmVariant(PortableGemmVariant variant);
// Whether this CPU runs `variant` (kAuto, kScalar and kSse2 always on x86-64).
bool PortableGemmVariantSupported(PortableGemmVariant variant);
// The variant kAuto resolves to on this CPU, or the forced one.
PortableGemmVariant ActivePortableGemmVariant();
// "scalar", "sse2", "avx2", "avx512" ("auto" for kAuto).
const char* PortableGemmVariantName(PortableGemmVariant variant);
// The variant named `name` (one of the names above); std::invalid_argument quoting it otherwise.
PortableGemmVariant ParsePortableGemmVariant(std::string_view name);

// C = op(A)·op(B) + beta·C as above; shapes already checked by Gemm (k = op(A)'s columns).
void PortableGemm(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b, bool transpose_b,
                  MatrixRef c, std::size_t k, double beta);

// GemmPair's C1 = op(A)·B1 + beta1·C1 and C2 = op(A)·B2 + beta2·C2 as above, as one product
// op(A)·[B1 | B2] split where it is stored; shapes already checked by GemmPair.
void PortableGemmPair(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b1, MatrixRef c1,
                      double beta1, ConstMatrixRef b2, MatrixRef c2, double beta2, std::size_t k);

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_GEMM_PORTABLE_H_
