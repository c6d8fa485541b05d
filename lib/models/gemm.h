// Row-major matrix products on raw memory, through OpenBLAS (its <cblas.h> stays in gemm.cc:
// it clashes with xtensor-blas in one translation unit).
#ifndef HYPERGRAD_MODELS_GEMM_H_
#define HYPERGRAD_MODELS_GEMM_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace hypergrad {

// A row-major matrix in memory we do not own: element (r, c) at data[r·stride + c].
struct MatrixRef {
  double* data = nullptr;
  std::size_t rows = 0, cols = 0, stride = 0;
};
struct ConstMatrixRef {
  const double* data = nullptr;
  std::size_t rows = 0, cols = 0, stride = 0;
};

// C = op(A)·op(B) + beta·C, op(X) = Xᵀ if transpose_x. Shapes must agree (op(A): C.rows × k,
// op(B): k × C.cols) and no matrix may have a stride below its columns (rows that overlap);
// std::invalid_argument otherwise. BLAS runs on the calling thread's
// OpenBLAS setting (one thread in every program of the suite, blas_threads.h). With kOpenBlas,
// a call on some of C's rows need not give the bits those rows get in one call: OpenBLAS
// 0.3.21's SkylakeX/Cooperlake kernels compute products with M·N·K ≤ 10^6 in a small-matrix
// kernel that sums in another order (measured: rows 0-23 of a 200×784×50 product alone differ,
// rows 0-31 do not). Callers that split keep the split fixed by the shapes (mlp.cc).
// Which kernel Gemm uses, process-wide (default kPortable: the committed results come from it,
// and its bits are the same on every x86-64 CPU; kOpenBlas is faster on some, CPU-dependent).
// kPortable sums each c_ij = Σ_k a_ik·b_kj in increasing k, one rounding per multiply and per
// add (the project compiles with -ffp-contract=off), then adds beta·C as OpenBLAS does (C scaled
// first unless beta is 1, C ignored when beta is 0): its bits depend on no CPU, vector width,
// blocking or row split (up to which NaN comes out where two NaNs meet: x86 keeps one operand's
// payload and sign, and which one depends on how the compiler ordered the operands). Not safe to
// change while another thread is in Gemm.
// kPortable runs blocked and vectorised across C's columns (gemm_portable.h: SSE2, AVX2 or
// AVX-512, the widest the CPU runs), every variant the same bits as that definition.
enum class GemmKernel { kOpenBlas, kPortable };
void SetGemmKernel(GemmKernel kernel);
GemmKernel GetGemmKernel();
std::string_view GemmKernelName(GemmKernel kernel);  // "openblas", "portable"
// The kernel named `name`; std::invalid_argument quoting it and listing the names otherwise.
GemmKernel ParseGemmKernel(std::string_view name);
// The kernel in use now and what decides its bits, for provenance: "openblas (<OpenBLAS's
// config, e.g. OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH …>, core Haswell: its summation order
// depends on the core)" or "portable (avx512 variant; sums in increasing k, …)".
std::string DescribeGemmKernel();

void Gemm(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b, bool transpose_b, MatrixRef c,
          double beta = 0.0);

// Two products that share op(A): C1 = op(A)·B1 + beta1·C1 and C2 = op(A)·B2 + beta2·C2, B1 and B2
// not transposed, with the same rows (k), C1 and C2 op(A)'s rows; shapes checked as Gemm checks
// each (std::invalid_argument). C1 and C2 must not overlap each other or an operand (not
// checked). Each gets the bits Gemm gives it alone, with either kernel (up to NaN payloads, as
// above). kPortable issues them as one product twice as wide, op(A)·[B1 | B2], reading and
// writing each half where it lies (a 50-wide product leaves a 2-column tile over, two of them
// one 4-column tile: the MLP's aᵀ·δ with aᵀ·R{δ} took 0.82–0.91× the two products' time,
// bench_gemm BM_WiderProducts); kOpenBlas as the two products.
void GemmPair(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b1, MatrixRef c1, double beta1,
              ConstMatrixRef b2, MatrixRef c2, double beta2);

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_GEMM_H_
