// Recovery error (paper §2.2): reversing float64 SGD with momentum by dividing by γ, without an
// information buffer, against the exact reversible method, on the Fig-2 network (784-50-50-50-10,
// batch 200; generated inputs of MNIST's shape, so no download). Counters: the error of the
// recovered w_0, and the relative error of the hypergradients ∂f/∂w_0 and ∂f/∂α against the exact
// (stored-trajectory) ones; the exact method's own recovery error is checked to be zero. The
// naive run is plain float SGD with the float γ, so part of its hypergradient difference comes
// from the exact method applying n/d (≤ 2^-16 larger than γ) and quantising, not from reversal.
// At γ = 0.5 naive reversal happens to be exact: halving and doubling are exact in binary.
//
//   bench_recovery --benchmark_format=json --benchmark_out=results/bench/bench_recovery.json
#include <benchmark/benchmark.h>

#include "runtime/blas_threads.h"

#include <cmath>

#include "bench_size.h"
#include "fig2_network.h"

namespace hypergrad {
namespace {

const bench::Fig2Network& Fig2() {
  static const bench::Fig2Network network(2000);
  return network;
}

// ‖a − b‖ / ‖b‖ (infinite if a is not finite).
double RelativeError(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return std::sqrt(diff / norm);
}

Hypergradients Run(std::size_t iters, double gamma, ReversalMethod method) {
  const bench::Fig2Network& p = Fig2();
  ReversibleSgd sgd(p.Setup(iters, gamma), {.method = method, .buffer = BufferKind::kFast});
  sgd.Train(p.w0(), p.v0());
  std::vector<double> d_w(p.w0().size());
  p.model().Evaluate(sgd.weights(), p.model().data(), d_w);
  return sgd.Reverse(d_w);
}

}  // namespace

void BM_RecoveryError(benchmark::State& state) {
  const auto iters = static_cast<std::size_t>(state.range(0));
  const double gamma = static_cast<double>(state.range(1)) / 1000.0;
  Fig2();
  Hypergradients naive, exact, stored;
  for (auto _ : state) {
    naive = Run(iters, gamma, ReversalMethod::kNaiveFloat);
    exact = Run(iters, gamma, ReversalMethod::kReversible);
  }
  stored = Run(iters, gamma, ReversalMethod::kStoredTrajectory);  // after the timed loop
  if (!exact.reversal.exact || exact.d_w0 != stored.d_w0 || exact.d_alpha != stored.d_alpha) {
    state.SkipWithError("the exact method did not match the stored trajectory bit for bit");
  }
  state.counters["iters"] = static_cast<double>(iters);
  state.counters["gamma"] = gamma;
  state.counters["naive_w0_max_error"] = naive.reversal.max_w0_error;
  state.counters["exact_w0_max_error"] = exact.reversal.max_w0_error;
  state.counters["naive_d_w0_rel_error"] = RelativeError(naive.d_w0, stored.d_w0);
  state.counters["naive_d_alpha_rel_error"] = RelativeError(naive.d_alpha, stored.d_alpha);
}
BENCHMARK(BM_RecoveryError)
    ->ArgNames({"iters", "gamma_milli"})
    ->ArgsProduct({{10, 30, 100, 300}, {600, 900, 950, 990}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace hypergrad

int main(int argc, char** argv) {
  hypergrad::SetBlasThreads(1);  // the same products in every run, whatever the environment says
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (hypergrad::bench::FullSize()) {  // T = 1000 stores 0.7 GB for the reference
    benchmark::RegisterBenchmark("BM_RecoveryError", hypergrad::BM_RecoveryError)
        ->ArgNames({"iters", "gamma_milli"})
        ->ArgsProduct({{1000}, {600, 900, 950, 990}})
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
