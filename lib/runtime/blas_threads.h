// OpenBLAS's thread count, and which OpenBLAS runs. OpenBLAS splits a matrix product's inner
// sums by its thread count, so the bits of every product depend on it, and exact reversal needs
// the same bits in the forward and the reverse pass. Every program therefore sets the count
// itself (1 unless told otherwise) instead of inheriting OPENBLAS_NUM_THREADS from the
// environment, and records it. The bits depend as well on the kernel set OpenBLAS picks for the
// CPU at load time (a DYNAMIC_ARCH build; OPENBLAS_CORETYPE overrides the choice), which sums in
// another order on another processor: every result file records that too (BlasDescription).
// (Declared here rather than through OpenBLAS's <cblas.h>, which clashes with xtensor-blas.)
#ifndef HYPERGRAD_RUNTIME_BLAS_THREADS_H_
#define HYPERGRAD_RUNTIME_BLAS_THREADS_H_

#include <string>

namespace hypergrad {

// Sets OpenBLAS's thread count for every later product of this process; threads ≥ 1.
void SetBlasThreads(int threads);
// The count OpenBLAS uses now.
int BlasThreads();

// The BLAS this process runs, as OpenBLAS reports it.
struct BlasDescription {
  std::string library;  // name and version, e.g. "OpenBLAS 0.3.21"
  std::string config;   // openblas_get_config(): version, build options, target, MAX_THREADS
  std::string core;     // openblas_get_corename(): the kernel set in use, e.g. "Haswell"
  std::string path;     // the shared object that provides it (Debian's alternatives pick it)
  int threads = 0;      // openblas_get_num_threads()
};
BlasDescription DescribeBlas();

}  // namespace hypergrad

#endif  // HYPERGRAD_RUNTIME_BLAS_THREADS_H_
