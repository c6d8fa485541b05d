// Time of the reverse pass against training alone, on the Fig-2 network (784-50-50-50-10,
// batch 200, T = 100; generated inputs of MNIST's shape, so no download is needed). The paper's
// reverse pass costs two Hessian-vector products per step; target: forward + reverse ≤ 3 ×
// forward.
//
//   bench_hypergrad --benchmark_format=json --benchmark_out=results/bench/bench_hypergrad.json
#include <benchmark/benchmark.h>

#include <cmath>

#include "fig2_network.h"

namespace hypergrad {
namespace {

const bench::Fig2Network& Problem() {
  static const bench::Fig2Network network(10000);
  return network;
}

void BM_Forward(benchmark::State& state) {
  const auto iters = static_cast<std::size_t>(state.range(0));
  Problem();  // build the data outside the timed loop
  for (auto _ : state) {
    ReversibleSgd sgd(Problem().Setup(iters, 0.5), {.buffer = BufferKind::kFast});
    sgd.Train(Problem().w0(), Problem().v0());
    benchmark::DoNotOptimize(sgd.weights().data());
  }
  state.counters["gradients_per_run"] = static_cast<double>(iters);
}
BENCHMARK(BM_Forward)->Arg(100)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// Forward + reverse with each strategy; `method` as in ReversalMethod.
void BM_ForwardReverse(benchmark::State& state) {
  const auto iters = static_cast<std::size_t>(state.range(0));
  const auto method = static_cast<ReversalMethod>(state.range(1));
  const auto buffer = static_cast<BufferKind>(state.range(2));
  bool exact = true;
  std::size_t extra_bytes = 0, recomputed = 0;
  Problem();
  for (auto _ : state) {
    ReversibleSgd sgd(Problem().Setup(iters, 0.5), {.method = method, .buffer = buffer});
    sgd.Train(Problem().w0(), Problem().v0());
    std::vector<double> d_w(Problem().w0().size());
    state.PauseTiming();  // the meta-objective's own cost is not the method's
    Problem().model().Evaluate(sgd.weights(), Problem().model().data(), d_w);
    state.ResumeTiming();
    exact = sgd.Reverse(d_w).reversal.exact && exact;
    extra_bytes = sgd.extra_bytes_after_train();
    recomputed = sgd.recomputed_steps();
  }
  if (method != ReversalMethod::kNaiveFloat && !exact) state.SkipWithError("reversal not exact");
  state.counters["gradients_per_run"] = static_cast<double>(2 * iters + recomputed);
  state.counters["hvps_per_run"] = static_cast<double>(iters);
  state.counters["extra_bytes"] = static_cast<double>(extra_bytes);
  state.counters["recomputed_steps"] = static_cast<double>(recomputed);
  state.SetLabel(std::string(ReversalMethodName(method)) + "/" + std::string(BufferKindName(buffer)));
}
BENCHMARK(BM_ForwardReverse)
    ->ArgNames({"iters", "method", "buffer"})
    ->Args({100, static_cast<int>(ReversalMethod::kReversible), static_cast<int>(BufferKind::kFast)})
    ->Args({100, static_cast<int>(ReversalMethod::kReversible), static_cast<int>(BufferKind::kExact)})
    ->Args({100, static_cast<int>(ReversalMethod::kStoredTrajectory), static_cast<int>(BufferKind::kFast)})
    ->Args({100, static_cast<int>(ReversalMethod::kCheckpointed), static_cast<int>(BufferKind::kFast)})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
}  // namespace hypergrad

BENCHMARK_MAIN();
