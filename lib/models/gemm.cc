#include "models/gemm.h"

#include <cblas.h>

#include <stdexcept>
#include <string>
#include <vector>
#include <algorithm>

namespace hypergrad {
namespace {
GemmKernel g_kernel = GemmKernel::kOpenBlas;

// Element (r, c) of op(X).
inline double At(ConstMatrixRef x, bool t, std::size_t r, std::size_t col) {
  return t ? x.data[col * x.stride + r] : x.data[r * x.stride + col];
}

// Straight loops, k outermost per row so GCC vectorises over j, never over k: each c_ij gets
// s = 0; s = s + a_ik·b_kj for k = 0, 1, … (first term exact: 0 + x = x).
void PortableGemm(ConstMatrixRef a, bool ta, ConstMatrixRef b, bool tb, MatrixRef c,
                  std::size_t k, double beta) {
  std::vector<double> acc(c.cols);
  for (std::size_t i = 0; i < c.rows; ++i) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (std::size_t p = 0; p < k; ++p) {
      const double aip = At(a, ta, i, p);
      for (std::size_t j = 0; j < c.cols; ++j) acc[j] = acc[j] + aip * At(b, tb, p, j);
    }
    double* row = c.data + i * c.stride;
    for (std::size_t j = 0; j < c.cols; ++j) {
      const double prior = beta == 0.0 ? 0.0 : (beta == 1.0 ? row[j] : beta * row[j]);
      row[j] = prior + acc[j];
    }
  }
}
}  // namespace

void SetGemmKernel(GemmKernel kernel) { g_kernel = kernel; }
GemmKernel GetGemmKernel() { return g_kernel; }

void Gemm(ConstMatrixRef a, bool transpose_a, ConstMatrixRef b, bool transpose_b, MatrixRef c,
          double beta) {
  const std::size_t a_rows = transpose_a ? a.cols : a.rows, k = transpose_a ? a.rows : a.cols;
  const std::size_t b_rows = transpose_b ? b.cols : b.rows, b_cols = transpose_b ? b.rows : b.cols;
  if (a_rows != c.rows || b_rows != k || b_cols != c.cols) {
    throw std::invalid_argument("Gemm: op(A) is " + std::to_string(a_rows) + " x " +
                                std::to_string(k) + ", op(B) " + std::to_string(b_rows) + " x " +
                                std::to_string(b_cols) + ", C " + std::to_string(c.rows) + " x " +
                                std::to_string(c.cols));
  }
  const std::size_t int_max = 2147483647;
  if (c.rows > int_max || c.cols > int_max || k > int_max || a.stride > int_max ||
      b.stride > int_max || c.stride > int_max) {
    throw std::length_error("Gemm: a dimension exceeds BLAS's 32-bit int");
  }
  if (c.rows == 0 || c.cols == 0) return;
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

}  // namespace hypergrad
