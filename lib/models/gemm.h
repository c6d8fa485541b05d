// Row-major matrix products on raw memory, through OpenBLAS (its <cblas.h> stays in gemm.cc:
// it clashes with xtensor-blas in one translation unit).
#ifndef HYPERGRAD_MODELS_GEMM_H_
#define HYPERGRAD_MODELS_GEMM_H_

#include <cstddef>

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
// op(B): k × C.cols); std::invalid_argument otherwise. BLAS runs on the calling thread's
// OpenBLAS setting (one thread in every program of the suite, blas_threads.h). Splitting C's
// rows into pieces that start on even rows gives the same bits as one call (measured on
// OpenBLAS 0.3.21's Haswell kernels; the MLP's fixed splits keep to it).
// Which kernel Gemm uses, process-wide (default kOpenBlas: committed results come from it).
// kPortable sums each c_ij = Σ_k a_ik·b_kj in increasing k, one rounding per multiply and per
// add (the project compiles with -ffp-contract=off), then adds beta·C as OpenBLAS does (C scaled
// first unless beta is 1, C ignored when beta is 0): its bits depend on no CPU, vector width,
// blocking or row split. Not safe to change while another thread is in Gemm.
enum class GemmKernel { kOpenBlas, kPortable };
void SetGemmKernel(GemmKernel kernel);
GemmKernel GetGemmKernel();

void Gemm(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b, bool transpose_b, MatrixRef c,
          double beta = 0.0);

}  // namespace hypergrad

#endif  // HYPERGRAD_MODELS_GEMM_H_
