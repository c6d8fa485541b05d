#include "models/gemm.h"

#include <cblas.h>

#include <stdexcept>
#include <string>
#include <tuple>

#include "models/gemm_portable.h"
#include "runtime/step_profile.h"

namespace hypergrad {
namespace {
GemmKernel g_kernel = GemmKernel::kPortable;
}  // namespace

void SetGemmKernel(GemmKernel kernel) { g_kernel = kernel; }
GemmKernel GetGemmKernel() { return g_kernel; }

std::string_view GemmKernelName(GemmKernel kernel) {
  return kernel == GemmKernel::kPortable ? "portable" : "openblas";
}

GemmKernel ParseGemmKernel(std::string_view name) {
  if (name == "openblas") return GemmKernel::kOpenBlas;
  if (name == "portable") return GemmKernel::kPortable;
  throw std::invalid_argument("Gemm kernel '" + std::string(name) + "': expected openblas or portable");
}

std::string DescribeGemmKernel() {
  if (g_kernel == GemmKernel::kPortable) {
    return std::string("portable (") + PortableGemmVariantName(ActivePortableGemmVariant()) +
           " variant; sums in increasing k, one rounding per product and per sum: products of "
           "the same bits on every x86-64 CPU and in every variant)";
  }
  // openblas_get_config() begins with "OpenBLAS <version>".
  return std::string("openblas (") + openblas_get_config() + ", core " + openblas_get_corename() +
         ": its summation order depends on the core)";
}

namespace {

// Throws unless op(A)·op(B) fits C and every dimension fits BLAS's int; returns k. `name`: the
// caller's, for the message.
std::size_t CheckShapes(const char* name, ConstMatrixRef a, bool transpose_a, ConstMatrixRef b,
                        bool transpose_b, MatrixRef c) {
  const std::size_t a_rows = transpose_a ? a.cols : a.rows, k = transpose_a ? a.rows : a.cols;
  const std::size_t b_rows = transpose_b ? b.cols : b.rows, b_cols = transpose_b ? b.rows : b.cols;
  if (a_rows != c.rows || b_rows != k || b_cols != c.cols) {
    throw std::invalid_argument(std::string(name) + ": op(A) is " + std::to_string(a_rows) + " x " +
                                std::to_string(k) + ", op(B) " + std::to_string(b_rows) + " x " +
                                std::to_string(b_cols) + ", C " + std::to_string(c.rows) + " x " +
                                std::to_string(c.cols));
  }
  // Rows may not overlap: OpenBLAS refuses a stride below the columns (it prints and leaves C
  // alone, even for one row) where the portable kernel would write overlapping rows.
  for (const auto& [what, rows, cols, stride] :
       {std::tuple{"A", a.rows, a.cols, a.stride}, std::tuple{"B", b.rows, b.cols, b.stride},
        std::tuple{"C", c.rows, c.cols, c.stride}}) {
    if (rows > 0 && stride < cols) {
      throw std::invalid_argument(std::string(name) + ": " + what + " is stored " + std::to_string(rows) +
                                  " x " + std::to_string(cols) + " with row stride " +
                                  std::to_string(stride) + ", below its columns");
    }
  }
  const std::size_t int_max = 2147483647;
  if (c.rows > int_max || c.cols > int_max || k > int_max || a.stride > int_max ||
      b.stride > int_max || c.stride > int_max) {
    throw std::length_error(std::string(name) + ": a dimension exceeds BLAS's 32-bit int");
  }
  return k;
}

// C = op(A)·op(B) + beta·C on the kernel in use; shapes already checked, C not empty.
void IssueGemm(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b, bool transpose_b,
               MatrixRef c, std::size_t k, double beta) {
  if (g_kernel == GemmKernel::kPortable) {
    PortableGemm(a, transpose_a, b, transpose_b, c, k, beta);
    return;
  }
  cblas_dgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
              transpose_b ? CblasTrans : CblasNoTrans, static_cast<int>(c.rows),
              static_cast<int>(c.cols), static_cast<int>(k), 1.0, a.data,
              static_cast<int>(a.stride), b.data, static_cast<int>(b.stride), beta, c.data,
              static_cast<int>(c.stride));
}

}  // namespace

void Gemm(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b, bool transpose_b, MatrixRef c,
          double beta) {
  const StepPieceTimer timer(StepPiece::kProducts);
  const std::size_t k = CheckShapes("Gemm", a, transpose_a, b, transpose_b, c);
  if (c.rows == 0 || c.cols == 0) return;
  IssueGemm(a, transpose_a, b, transpose_b, c, k, beta);
}

void GemmPair(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b1, MatrixRef c1, double beta1,
              ConstMatrixRef b2, MatrixRef c2, double beta2) {
  const StepPieceTimer timer(StepPiece::kProducts);
  const std::size_t k = CheckShapes("GemmPair (first product)", a, transpose_a, b1, false, c1);
  CheckShapes("GemmPair (second product)", a, transpose_a, b2, false, c2);
  if (c1.rows == 0) return;
  if (g_kernel == GemmKernel::kPortable && c1.cols > 0 && c2.cols > 0) {
    PortableGemmPair(a, transpose_a, b1, c1, beta1, b2, c2, beta2, k);
    return;
  }
  if (c1.cols > 0) IssueGemm(a, transpose_a, b1, false, c1, k, beta1);
  if (c2.cols > 0) IssueGemm(a, transpose_a, b2, false, c2, k, beta2);
}

}  // namespace hypergrad
