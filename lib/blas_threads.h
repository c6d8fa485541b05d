// OpenBLAS's thread count. OpenBLAS splits a matrix product's inner sums by its thread count,
// so the bits of every product depend on it, and exact reversal needs the same bits in the
// forward and the reverse pass. Every program therefore sets the count itself (1 unless told
// otherwise) instead of inheriting OPENBLAS_NUM_THREADS from the environment, and records it.
// (Declared here rather than through OpenBLAS's <cblas.h>, which clashes with xtensor-blas.)
#ifndef HYPERGRAD_BLAS_THREADS_H_
#define HYPERGRAD_BLAS_THREADS_H_

namespace hypergrad {

// Sets OpenBLAS's thread count for every later product of this process; threads ≥ 1.
void SetBlasThreads(int threads);
// The count OpenBLAS uses now.
int BlasThreads();

}  // namespace hypergrad

#endif  // HYPERGRAD_BLAS_THREADS_H_
