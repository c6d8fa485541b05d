// Information-buffer benchmarks: Algorithm 3 throughput of both buffers, and bits stored per
// value per step against the entropy bound log2(d/n) for a range of γ and T (counters).
//
//   bench_buffer --benchmark_format=json --benchmark_out=results/bench/bench_buffer.json
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "bench_context.h"
#include "reversible/algorithm3.h"
#include "random/random.h"

namespace hypergrad {
namespace {

FixedPointVector RandomValues(std::size_t n, std::uint64_t seed) {
  RandomStream rng(seed);
  std::vector<double> x(n);
  for (double& v : x) v = rng.Normal();
  return FixedPointVector::FromDoubles(x);
}

// One iteration = T momentum multiplies forward and T divides back on P values (so the exact
// buffer's integers stay bounded and iterations are comparable).
void BM_MultiplyDivide(benchmark::State& state) {
  const auto kind = static_cast<BufferKind>(state.range(0));
  const std::size_t p = 10000, steps = static_cast<std::size_t>(state.range(1));
  const DecayRatio ratio = DecayToRatio(0.9);
  FixedPointVector v = RandomValues(p, 1);
  auto buffer = MakeInfoBuffer(kind, p);
  for (auto _ : state) {
    for (std::size_t t = 0; t < steps; ++t) MultiplyByRatio(v, {&ratio, 1}, *buffer);
    for (std::size_t t = 0; t < steps; ++t) DivideByRatio(v, {&ratio, 1}, *buffer);
    benchmark::DoNotOptimize(v.raw().data());
  }
  if (!buffer->Empty()) state.SkipWithError("buffer not empty after the reverse steps");
  const double ops = static_cast<double>(state.iterations() * 2 * p * steps);
  state.counters["element_ops_per_second"] = benchmark::Counter(ops, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(BufferKindName(kind)));
}
BENCHMARK(BM_MultiplyDivide)
    ->ArgNames({"buffer", "steps"})
    ->ArgsProduct({{static_cast<int>(BufferKind::kExact), static_cast<int>(BufferKind::kFast)},
                   {10, 100}})
    ->Unit(benchmark::kMillisecond);

// The fast buffer in its steady state, as a long run sees it: each coder's state starts at 0
// and grows by log2(d/n) = 0.15 bits per multiply at γ = 0.9, so for its first ~320 steps no
// word moves between coder and stack (BM_MultiplyDivide's 10 and 100 steps measure only that
// start-up). Here 1,000 multiplies fill the buffer first (untimed); then one iteration = T
// multiplies and T divides on P values, each moving a 16-bit word to the stack and back.
void BM_MultiplyDivideSteady(benchmark::State& state) {
  const std::size_t p = 10000, steps = static_cast<std::size_t>(state.range(0));
  const DecayRatio ratio = DecayToRatio(0.9);
  FixedPointVector v = RandomValues(p, 1);
  auto buffer = MakeInfoBuffer(BufferKind::kFast, p);
  for (int t = 0; t < 1000; ++t) MultiplyByRatio(v, {&ratio, 1}, *buffer);
  const double bits_before = buffer->InformationBits();
  for (auto _ : state) {
    for (std::size_t t = 0; t < steps; ++t) MultiplyByRatio(v, {&ratio, 1}, *buffer);
    for (std::size_t t = 0; t < steps; ++t) DivideByRatio(v, {&ratio, 1}, *buffer);
    benchmark::DoNotOptimize(v.raw().data());
  }
  if (buffer->InformationBits() != bits_before) state.SkipWithError("the buffer changed over an iteration");
  const double ops = static_cast<double>(state.iterations() * 2 * p * steps);
  state.counters["element_ops_per_second"] = benchmark::Counter(ops, benchmark::Counter::kIsRate);
  state.counters["seconds_per_element_op"] =
      benchmark::Counter(ops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("fast, steady state");
}
BENCHMARK(BM_MultiplyDivideSteady)->ArgName("steps")->Arg(100)->Unit(benchmark::kMillisecond);

// Bits per value per step after T steps of v ← v·n/d − (1−γ)·g at γ = range(1)/1000.
void BM_BitsPerStep(benchmark::State& state) {
  const auto kind = static_cast<BufferKind>(state.range(0));
  const double gamma = static_cast<double>(state.range(1)) / 1000.0;
  const std::size_t steps = static_cast<std::size_t>(state.range(2)), p = 100;
  const DecayRatio ratio = DecayToRatio(gamma);
  double bits = 0.0, steady = 0.0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    FixedPointVector v = RandomValues(p, 2);
    auto buffer = MakeInfoBuffer(kind, p);
    std::vector<double> g(p);
    double bits_at_half = 0.0;
    for (std::size_t t = 0; t < steps; ++t) {
      if (t == steps / 2) bits_at_half = buffer->InformationBits();
      MultiplyByRatio(v, {&ratio, 1}, *buffer);
      RandomStream rng(3, {t});
      for (double& x : g) x = (1.0 - gamma) * rng.Normal();
      v.Sub(g);
    }
    bits = buffer->InformationBits();
    steady = (bits - bits_at_half) / static_cast<double>(p * (steps - steps / 2));
    bytes = buffer->AllocatedBytes();
  }
  const double entropy = std::log2(static_cast<double>(ratio.d) / ratio.n);
  const double per_step = bits / static_cast<double>(p * steps);
  state.counters["gamma"] = gamma;
  state.counters["steps"] = static_cast<double>(steps);
  state.counters["bits_per_step"] = per_step;
  state.counters["steady_bits_per_step"] = steady;
  state.counters["entropy_bits_per_step"] = entropy;
  state.counters["ratio_to_entropy"] = per_step / entropy;
  state.counters["steady_ratio_to_entropy"] = steady / entropy;
  state.counters["allocated_bytes_per_value"] = static_cast<double>(bytes) / p;
  // What storing the trajectory would cost instead (bits per value per step), and when a plain
  // 64-bit buffer would overflow (it needs log2(d) bits of headroom for the push).
  state.counters["store_float32_bits_per_step"] = 32.0;
  state.counters["store_float64_bits_per_step"] = 64.0;
  state.counters["uint64_overflow_step"] = std::floor((64.0 - std::log2(ratio.d)) / entropy);
  state.SetLabel(std::string(BufferKindName(kind)));
}
BENCHMARK(BM_BitsPerStep)
    ->ArgNames({"buffer", "gamma_milli", "steps"})
    ->ArgsProduct({{static_cast<int>(BufferKind::kExact), static_cast<int>(BufferKind::kFast)},
                   {500, 600, 700, 800, 900, 950, 980, 990, 999},
                   {100, 1000, 10000}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hypergrad

int main(int argc, char** argv) {
  // No matrix products here, but the same record as the other benchmarks' files (the information
  // counts call glibc's log2, whose build the record names).
  return hypergrad::bench::RunBenchmarks(argc, argv);
}
