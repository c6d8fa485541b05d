#include "runtime/blas_threads.h"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace hypergrad {

void SetBlasThreads(int threads) {
  if (threads < 1) throw std::invalid_argument("BLAS threads: " + std::to_string(threads) + " is not ≥ 1");
  openblas_set_num_threads(threads);
}

int BlasThreads() { return openblas_get_num_threads(); }

BlasDescription DescribeBlas() {
  BlasDescription d;
  d.config = openblas_get_config();
  d.core = openblas_get_corename();
  d.threads = openblas_get_num_threads();
  // The config starts with "OpenBLAS <version>".
  const std::size_t first = d.config.find(' ');
  const std::size_t second = first == std::string::npos ? first : d.config.find(' ', first + 1);
  d.library = d.config.substr(0, second);
  Dl_info info{};
  d.path = dladdr(reinterpret_cast<void*>(&openblas_get_config), &info) != 0 && info.dli_fname
               ? info.dli_fname
               : "unknown";
  return d;
}

}  // namespace hypergrad
