#include "blas_threads.h"

#include <stdexcept>
#include <string>

extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}

namespace hypergrad {

void SetBlasThreads(int threads) {
  if (threads < 1) throw std::invalid_argument("BLAS threads: " + std::to_string(threads) + " is not ≥ 1");
  openblas_set_num_threads(threads);
}

int BlasThreads() { return openblas_get_num_threads(); }

}  // namespace hypergrad
