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
namespace {

// OpenBLAS's pthread build starts its worker threads when it is loaded, and an idle worker spins
// (sched_yield) for 2^28 TSC ticks, about 0.13 s at 2.1 GHz, before it sleeps (THREAD_TIMEOUT,
// driver/others/blas_server.c, 0.3.21): at the start of every process it takes a core the
// program's own threads want (perf: 5% of a two-thread hypergrad run's samples). With one BLAS
// thread no product hands work to a worker, so they are stopped; OpenBLAS starts them again by
// itself when a count above 1 is set (goto_set_num_threads re-initialises a stopped server).
// Looked up at run time: other BLAS builds (serial, OpenMP) do not export it.
void StopIdleBlasThreads() {
  using Shutdown = int (*)();
  static const auto shutdown = reinterpret_cast<Shutdown>(dlsym(RTLD_DEFAULT, "blas_thread_shutdown_"));
  if (shutdown != nullptr) shutdown();
}

}  // namespace

void SetBlasThreads(int threads) {
  if (threads < 1) throw std::invalid_argument("BLAS threads: " + std::to_string(threads) + " is not ≥ 1");
  openblas_set_num_threads(threads);
  if (threads == 1) StopIdleBlasThreads();
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
