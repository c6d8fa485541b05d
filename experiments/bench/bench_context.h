// The benchmarks' JSON output records what decides the last bits of their products, as the
// result files do (provenance.h): call after SetBlasThreads and before running the benchmarks.
#ifndef HYPERGRAD_EXPERIMENTS_BENCH_BENCH_CONTEXT_H_
#define HYPERGRAD_EXPERIMENTS_BENCH_BENCH_CONTEXT_H_

#include <benchmark/benchmark.h>

#include "results/provenance.h"

namespace hypergrad::bench {

// Adds ArithmeticProvenance() (BLAS library, core and config, Gemm kernel, glibc's tanh) to the
// "context" object of Google Benchmark's output.
inline void RecordArithmeticContext() {
  for (const auto& [name, value] : ArithmeticProvenance()) benchmark::AddCustomContext(name, value);
}

// A benchmark program's main after its own set-up: records the arithmetic, then runs the
// benchmarks asked for on the command line; 1 for an argument it does not know.
inline int RunBenchmarks(int argc, char** argv) {
  RecordArithmeticContext();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace hypergrad::bench

#endif  // HYPERGRAD_EXPERIMENTS_BENCH_BENCH_CONTEXT_H_
