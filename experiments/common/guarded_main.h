// The common end of every experiment's main(): exceptions become "<program>: error: <what>" on
// stderr and exit code 1 (under MPI, an error of one rank alone ends every rank: AbortAllRanks);
// command-line errors are CLI11's (message and usage, its exit code). SIGINT and SIGTERM print
// "<program>: interrupted: no file written" and remove any partial result
// (InstallInterruptHandlers).
// Before the body runs, OpenBLAS is set to one thread (blas_threads.h), whatever
// OPENBLAS_NUM_THREADS says: the same bits however the program is started.
#ifndef HYPERGRAD_EXPERIMENTS_COMMON_GUARDED_MAIN_H_
#define HYPERGRAD_EXPERIMENTS_COMMON_GUARDED_MAIN_H_

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include "runtime/blas_threads.h"
#include "common/distributed.h"
#include "results/h5_writer.h"

namespace hypergrad::experiments {

// The tools' end-of-run verdict on a reverse pass (hypergrad, reversal_check, buffer_check):
// exit code 0 if it was exact, else 1 with "<program>: error: the reverse pass did not
// <failed>" on stderr.
inline int ReversalVerdict(const std::string& program, bool exact, const std::string& failed) {
  if (exact) return 0;
  std::cerr << program << ": error: the reverse pass did not " << failed << "\n";
  return 1;
}

// Parses `argv` into `app`, then runs `body()` and returns its exit code.
template <class Body>
int GuardedMain(CLI::App& app, int argc, char** argv, Body&& body) {
  InstallInterruptHandlers(app.get_name());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    SetBlasThreads(1);
    return body();
  } catch (const std::bad_alloc&) {
    std::cerr << app.get_name() << ": error: out of memory: the sizes asked for need more "
                                   "memory than this machine has" << std::endl;
    AbortAllRanks(1);
    return 1;
  } catch (const CollectiveError& e) {
    if (IsRoot()) std::cerr << app.get_name() << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << app.get_name() << ": error: "
              << (Ranks() > 1 ? "rank " + std::to_string(Rank()) + ": " : std::string()) << e.what() << std::endl;
    AbortAllRanks(1);
    return 1;
  }
}

}  // namespace hypergrad::experiments

#endif  // HYPERGRAD_EXPERIMENTS_COMMON_GUARDED_MAIN_H_
